//! A short soak: 60 seconds of mixed load on PostgreSQL and MariaDB at once
//! (transactions, plain writes, reads, counts; both halves), futures dropped
//! at random points, and one restart of each server. Afterwards every write
//! the load saw committed is there, none it saw rolled back is, and every
//! transaction is all or nothing. Alone in its binary: it restarts the
//! servers. `DUALDB_SOAK_SECONDS` shortens it for local runs.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DropAfterPolls, Lcg, isolated, mysql_url, pg_url, server_url};
use dualdb::{BackendKind, Database, Error, ErrorKind};

const PAIR: i64 = 1 << 40;

#[derive(Default)]
struct Ledger {
    committed: HashSet<i64>,
    rolled_back: HashSet<i64>,
    /// Transactions whose outcome the load could not see (dropped, or the
    /// connection died around COMMIT): both rows or neither.
    unknown_pairs: HashSet<i64>,
    calls: u64,
    failures: u64,
}

fn sql(db: &Database, n: usize) -> String {
    let p = match db.backend() {
        BackendKind::Postgres => format!("${n}"),
        _ => "?".into(),
    };
    format!("INSERT INTO soak (id) VALUES ({p})")
}

async fn worker(db: Database, seed: u64, until: Instant, ledger: Arc<Mutex<Ledger>>) {
    let mut rng = Lcg(seed);
    let mut next_id = (seed as i64) << 24;
    let insert = sql(&db, 1);
    while Instant::now() < until {
        next_id += 1;
        let id = next_id;
        let op = rng.next() % 5;
        let polls = 1 + (rng.next() % 60) as u32;
        let (db2, insert2) = (db.clone(), insert.clone());
        let fut = async move {
            match op {
                // a transaction of two rows, committed
                0 => {
                    db2.aio()
                        .atomic(async |tx| {
                            tx.execute(&insert2, &[&id]).await?;
                            tx.execute(&insert2, &[&(id + PAIR)]).await?;
                            Ok(())
                        })
                        .await
                }
                // a transaction of two rows, rolled back on purpose
                1 => {
                    let r = db2
                        .aio()
                        .atomic(async |tx| {
                            tx.execute(&insert2, &[&id]).await?;
                            tx.execute(&insert2, &[&(id + PAIR)]).await?;
                            Err::<(), _>(Error::new(ErrorKind::Usage, "on purpose"))
                        })
                        .await;
                    match r {
                        Err(e) if e.message() == "on purpose" => Err(e),
                        Err(e) => Err(Error::new(ErrorKind::Query, e.to_string())),
                        Ok(()) => panic!("a rolled-back scope committed"),
                    }
                }
                // a plain write
                2 => db2.aio().execute(&insert2, &[&id]).await.map(drop),
                // reads
                3 => db2
                    .aio()
                    .query_one("SELECT COUNT(*) FROM soak", &[])
                    .await
                    .map(drop),
                _ => db2
                    .aio()
                    .query_opt("SELECT id FROM soak WHERE id = 1", &[])
                    .await
                    .map(drop),
            }
        };
        let outcome = DropAfterPolls {
            fut: Box::pin(fut),
            polls,
        }
        .await;
        record(&ledger, op, id, outcome);
        if rng.next().is_multiple_of(50) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn record(ledger: &Mutex<Ledger>, op: u64, id: i64, outcome: Option<dualdb::Result<()>>) {
    let mut l = ledger.lock().unwrap();
    l.calls += 1;
    match (op, outcome) {
        (0, Some(Ok(()))) => {
            l.committed.insert(id);
            l.committed.insert(id + PAIR);
        }
        (1, Some(Err(e))) if e.kind() == ErrorKind::Usage => {
            l.rolled_back.insert(id);
            l.rolled_back.insert(id + PAIR);
        }
        (0 | 1, _) => {
            l.unknown_pairs.insert(id);
        }
        (2, Some(Ok(()))) => {
            l.committed.insert(id);
        }
        (_, Some(Err(e))) => {
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Query | ErrorKind::Connect | ErrorKind::PoolTimeout
                ),
                "untyped failure {e:?}"
            );
            l.failures += 1;
        }
        _ => {}
    }
}

fn blocking_worker(db: Database, until: Instant, ledger: Arc<Mutex<Ledger>>) {
    let insert = sql(&db, 1);
    let mut id = 7i64 << 50;
    while Instant::now() < until {
        id += 1;
        let r = db.sync().atomic(|tx| {
            tx.execute(&insert, &[&id])?;
            tx.execute(&insert, &[&(id + PAIR)])?;
            Ok::<_, dualdb::Error>(())
        });
        let mut l = ledger.lock().unwrap();
        l.calls += 1;
        match r {
            Ok(()) => {
                l.committed.insert(id);
                l.committed.insert(id + PAIR);
            }
            Err(_) => {
                l.unknown_pairs.insert(id);
                l.failures += 1;
                drop(l);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

async fn soak(url: String, restart: String, seconds: u64) {
    let db = isolated(&url, "soak");
    db.aio()
        .execute("CREATE TABLE soak (id BIGINT PRIMARY KEY)", &[])
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(seconds);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        tasks.push(tokio::spawn(worker(
            db.clone(),
            w + 1,
            until,
            ledger.clone(),
        )));
    }
    let (bdb, bledger) = (db.clone(), ledger.clone());
    let blocking = std::thread::spawn(move || blocking_worker(bdb, until, bledger));
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    tokio::task::spawn_blocking(move || {
        assert!(
            std::process::Command::new(&restart)
                .status()
                .unwrap()
                .success()
        );
    })
    .await
    .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    blocking.join().unwrap();

    // Let spawned rollbacks finish, then compare.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let present = common::ids(&db, "soak").await;
    let l = ledger.lock().unwrap();
    let lost: Vec<_> = l.committed.difference(&present).take(5).collect();
    assert!(
        lost.is_empty(),
        "{:?}: committed rows lost: {lost:?}",
        db.backend()
    );
    let phantom: Vec<_> = l.rolled_back.intersection(&present).take(5).collect();
    assert!(
        phantom.is_empty(),
        "{:?}: rolled-back rows present: {phantom:?}",
        db.backend()
    );
    for id in &l.unknown_pairs {
        assert_eq!(
            present.contains(id),
            present.contains(&(id + PAIR)),
            "{:?}: transaction {id} half committed",
            db.backend()
        );
    }
    assert!(
        l.committed.len() > 100 && l.rolled_back.len() > 20,
        "too little load"
    );
    eprintln!(
        "{:?}: {} s, {} calls, {} rows committed, {} rolled back, {} transactions of unknown outcome, {} typed failures",
        db.backend(),
        seconds,
        l.calls,
        l.committed.len(),
        l.rolled_back.len(),
        l.unknown_pairs.len(),
        l.failures
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_seconds_of_mixed_load_with_cancellations_and_a_restart() {
    let seconds = std::env::var("DUALDB_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut runs = Vec::new();
    for (url, script) in [
        (pg_url(), server_url("DUALDB_PG_RESTART")),
        (mysql_url(), server_url("DUALDB_MYSQL_RESTART")),
    ] {
        if let (Some(url), Some(script)) = (url, script) {
            runs.push(tokio::spawn(soak(url, script, seconds)));
        }
    }
    for r in runs {
        r.await.unwrap();
    }
}
