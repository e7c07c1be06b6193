//! `get_or_create` and `create_or_get` raced by 16 callers, each inside a
//! transaction of its own and outside any, on both halves of every backend:
//! exactly one creates the row, every other gets that same row. Inside a
//! MariaDB/MySQL transaction (REPEATABLE READ) the look-up after the lost
//! insert reads the latest committed row, not the transaction's snapshot;
//! outside one too on MariaDB ([`rounds`]).

mod common;

use std::sync::Arc;

use common::models::{User, user};
use common::{isolated_url, urls};
use dualdb::{BackendKind, Database, Model};

const CALLERS: usize = 16;

fn open(url: &str) -> Database {
    let db = Database::builder(&isolated_url(url, "races"))
        .sync_pool_size(CALLERS)
        .async_pool_size(CALLERS)
        .build()
        .unwrap();
    db.sync().create_table::<User>().unwrap();
    db
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    GetOrCreate,
    CreateOrGet,
}

/// Every caller's result: exactly one created, all the same row.
fn check(db: &Database, what: &str, results: Vec<dualdb::Result<(User, bool)>>) {
    let results: Vec<(User, bool)> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{:?} {what}: a caller failed: {e}", db.backend())))
        .collect();
    let created = results.iter().filter(|(_, c)| *c).count();
    assert_eq!(created, 1, "{:?} {what}: exactly one creator", db.backend());
    let first = &results[0].0;
    assert!(
        results.iter().all(|(u, _)| u == first),
        "{:?} {what}: every caller got the same row",
        db.backend()
    );
    let stored = db
        .sync()
        .count(
            User::select().filter(User::USERNAME.eq(first.username.as_str())),
            false,
        )
        .unwrap();
    assert_eq!(stored, 1);
}

/// Inside a transaction, every caller first reads the table (MySQL's
/// snapshot is taken at the first read) and waits for the others, so the
/// look-ups all miss and the inserts all race. SQLite's transactions take
/// the write lock at BEGIN and run one at a time: no barrier there.
fn barrier(db: &Database, in_tx: bool) -> usize {
    if in_tx && db.backend() != BackendKind::Sqlite {
        CALLERS
    } else {
        1
    }
}

async fn race_async(db: &Database, op: Op, in_tx: bool, name: &str) {
    let gate = Arc::new(tokio::sync::Barrier::new(barrier(db, in_tx)));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (db, gate, name) = (db.clone(), gate.clone(), name.to_string());
            tokio::spawn(async move {
                let mine = user(&name, i as i32);
                let lookup = User::USERNAME.eq(name.as_str());
                if !in_tx {
                    return match op {
                        Op::GetOrCreate => db.aio().get_or_create(lookup, move || mine).await,
                        Op::CreateOrGet => db.aio().create_or_get(mine).await,
                    };
                }
                db.aio()
                    .atomic(async |tx| {
                        tx.count(User::select(), false).await?;
                        gate.wait().await;
                        match op {
                            Op::GetOrCreate => tx.get_or_create(lookup, move || mine).await,
                            Op::CreateOrGet => tx.create_or_get(mine).await,
                        }
                    })
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    check(db, &format!("async {op:?} in_tx={in_tx}"), results);
}

fn race_blocking(db: &Database, op: Op, in_tx: bool, name: &str) {
    let gate = std::sync::Barrier::new(barrier(db, in_tx));
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|i| {
                let gate = &gate;
                s.spawn(move || {
                    let mine = user(name, i as i32);
                    let lookup = User::USERNAME.eq(name);
                    if !in_tx {
                        return match op {
                            Op::GetOrCreate => db.sync().get_or_create(lookup, move || mine),
                            Op::CreateOrGet => db.sync().create_or_get(mine),
                        };
                    }
                    db.sync().atomic(|tx| {
                        tx.count(User::select(), false)?;
                        gate.wait();
                        match op {
                            Op::GetOrCreate => tx.get_or_create(lookup, move || mine),
                            Op::CreateOrGet => tx.create_or_get(mine),
                        }
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    check(db, &format!("blocking {op:?} in_tx={in_tx}"), results);
}

/// Rounds of every race, by backend. MariaDB, outside a transaction, once
/// in some thousands of races let the loser's insert see the winner's
/// committed row while a plain read right after it did not (shown by a
/// stress of these rounds, with the server's general log showing only
/// autocommit statements): the look-up there is a locking read
/// (`Select::build_locking`, and its unit test in src/model/query.rs). Many
/// rounds there give that window chances to show again.
fn rounds(db: &Database) -> usize {
    match db.backend() {
        BackendKind::Mysql => 100,
        _ => 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_callers_race_in_and_out_of_transactions() {
    for url in urls() {
        let db = open(&url);
        for round in 0..rounds(&db) {
            for op in [Op::GetOrCreate, Op::CreateOrGet] {
                for in_tx in [true, false] {
                    race_async(&db, op, in_tx, &format!("a-{op:?}-{in_tx}-{round}")).await;
                    let blocking = db.clone();
                    let name = format!("b-{op:?}-{in_tx}-{round}");
                    tokio::task::spawn_blocking(move || race_blocking(&blocking, op, in_tx, &name))
                        .await
                        .unwrap();
                }
            }
        }
    }
}
