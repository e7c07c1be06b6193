//! The blocking pool from many threads at once: more threads than
//! connections, each taking and returning a connection many times while
//! the pool is closed under them. Every call gets a connection within the
//! acquire timeout (a waiter woken late or never would time out), the pool
//! never opens more than its size, and once all is done every open
//! connection is idle. The idle connections sit in shards (src/pool/
//! blocking.rs); this is what a lost wake-up between a return to one shard
//! and a waiter looking at the others would break.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dualdb::Database;

/// A waiter never woken would wait this long, and then find a connection:
/// the test's calls take a small part of it, and their time is checked.
const ACQUIRE: Duration = Duration::from_secs(4);

fn db(name: &str, size: usize) -> Database {
    Database::builder(&common::sqlite_file_url(name))
        .sync_pool_size(size)
        .acquire_timeout(ACQUIRE)
        .build()
        .unwrap()
}

#[test]
fn many_threads_share_a_small_pool_closed_under_them() {
    let db = db("small", 4);
    db.sync()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", &[])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut closes = 0;
            while !stop.load(Ordering::Acquire) {
                let s = db.sync().status();
                assert!(s.size <= 4, "{s:?}");
                assert!(s.idle <= s.size, "{s:?}");
                // Closed under the callers: connections lent now are closed
                // when they come back, and the next calls open new ones.
                if closes < 20 {
                    db.sync().close().unwrap();
                    closes += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let s = db.sync();
                for i in 0..200i64 {
                    let n: i64 = s
                        .query_one("SELECT ? + ?", &[&t, &i])
                        .unwrap()
                        .get(0)
                        .unwrap();
                    assert_eq!(n, t + i);
                    if i % 50 == 0 {
                        s.execute("INSERT INTO t (n) VALUES (?)", &[&t]).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let took = started.elapsed();
    assert!(took < ACQUIRE / 2, "a waiter was left asleep: {took:?}");
    stop.store(true, Ordering::Release);
    watcher.join().unwrap();
    let count: i64 = db
        .sync()
        .query_one("SELECT COUNT(*) FROM t", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, 32 * 4);
    let s = db.sync().status();
    assert!(s.size <= 4 && s.size >= 1, "{s:?}");
    assert_eq!(s.idle, s.size, "every open connection back: {s:?}");
    assert_eq!(s.waiting, 0, "{s:?}");
}

/// As many threads as connections: each thread keeps getting a connection
/// back without waiting, and all of them are in use at once.
#[test]
fn a_pool_as_large_as_the_threads_serves_each_at_once() {
    let db = db("large", 8);
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                let s = db.sync();
                for _ in 0..500 {
                    s.query_one("SELECT 1", &[]).unwrap();
                }
                // All eight hold a session (a connection each) at once.
                s.session(|s| {
                    s.query_one("SELECT 1", &[])?;
                    barrier.wait();
                    Ok::<_, dualdb::Error>(())
                })
                .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = db.sync().status();
    assert_eq!((s.size, s.idle, s.waiting), (8, 8, 0), "{s:?}");
}

/// Two threads and one connection, in rounds: each round both ask for it at
/// once, so one waits for the other's return. A return that came between
/// the waiter's look at the idle connections and its sleep, and did not wake
/// it, would leave that round waiting out the acquire timeout.
#[test]
fn a_return_wakes_the_caller_waiting_for_it() {
    let db = db("one", 1);
    db.sync().connect().unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut seed = t + 1;
                for _ in 0..3000 {
                    barrier.wait();
                    // A few microseconds at random, so that one thread's
                    // look at the pool falls at every point of the other's
                    // call, its return included.
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    for i in 0..(seed >> 33) % 8000 {
                        std::hint::black_box(i);
                    }
                    db.sync().query_one("SELECT 1", &[]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let took = started.elapsed();
    assert!(took < ACQUIRE / 2, "a waiter was left asleep: {took:?}");
    let s = db.sync().status();
    assert_eq!((s.size, s.idle, s.waiting), (1, 1, 0), "{s:?}");
}
