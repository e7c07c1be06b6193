//! A blocking call made from inside a Tokio runtime runs (the `postgres`
//! crate alone panics there), on every flavour: current-thread, multi-thread,
//! a LocalSet, and a spawn_blocking thread. Dropping the last handle inside a
//! runtime does not panic either.

mod common;

use common::databases;
use dualdb::Database;

fn blocking_roundtrip(db: &Database) {
    db.sync().connect().unwrap();
    let v: i64 = db
        .sync()
        .query_one("SELECT 1 + 1", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 2, "{:?}", db.backend());
    db.sync().close().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_calls_run_on_a_current_thread_runtime() {
    for db in databases() {
        blocking_roundtrip(&db);
        // The async half still works on the same runtime afterwards.
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_calls_run_on_a_multi_thread_runtime() {
    for db in databases() {
        blocking_roundtrip(&db);
        // and from a spawned task on a worker thread
        let db2 = db.clone();
        tokio::spawn(async move { blocking_roundtrip(&db2) })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_calls_run_in_spawn_blocking_and_local_sets() {
    for db in databases() {
        let db2 = db.clone();
        tokio::task::spawn_blocking(move || blocking_roundtrip(&db2))
            .await
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let db3 = db.clone();
        local
            .run_until(async move { blocking_roundtrip(&db3) })
            .await;
    }
}

#[test]
fn dropping_the_last_handle_inside_a_runtime_does_not_panic() {
    for flavor in ["current", "multi"] {
        let rt = match flavor {
            "current" => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            _ => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        }
        .unwrap();
        rt.block_on(async {
            for db in databases() {
                // Leave idle blocking connections in the pool, then drop it here.
                db.sync().query("SELECT 1", &[]).unwrap();
                db.aio().query("SELECT 1", &[]).await.unwrap();
                assert_eq!(db.sync().status().idle, 1);
                drop(db);
            }
        });
    }
}

#[test]
fn the_blocking_half_is_pooled_for_threaded_code() {
    for url in common::urls() {
        let db = Database::builder(&url).sync_pool_size(2).build().unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for i in 0..25i64 {
                        let row = db
                            .sync()
                            .query_one(&format!("SELECT {i} + 1"), &[])
                            .unwrap();
                        assert_eq!(row.get::<i64>(0).unwrap(), i + 1);
                    }
                });
            }
        });
        let status = db.sync().status();
        assert!(status.size <= 2 && status.size >= 1, "{status:?}");
        assert_eq!(status.in_use(), 0);
    }
}

/// A `Database` whose async half is used from one runtime, then another
/// (a test harness that builds a runtime per test, a CLI with two
/// `block_on`s): connections made on the runtime that has gone are dropped
/// and replaced, and no call of the second runtime sees an error; every
/// backend, both runtime flavours, in and out of transactions.
#[test]
fn the_async_half_outlives_the_runtime_that_made_its_connections() {
    for db in databases() {
        let t = common::table("rt");
        db.sync()
            .execute(&format!("CREATE TABLE {t} (x INTEGER)"), &[])
            .unwrap();
        let insert = format!("INSERT INTO {t} (x) VALUES (1)");
        let use_it = |db: &Database| {
            let (db, insert) = (db.clone(), insert.clone());
            async move {
                // Several connections at once, pooled and (PostgreSQL) shared.
                let calls = (0..6).map(|_| {
                    let (db, insert) = (db.clone(), insert.clone());
                    tokio::spawn(async move {
                        db.aio().execute(&insert, &[]).await?;
                        db.aio()
                            .atomic(async |tx| tx.execute(&insert, &[]).await.map(drop))
                            .await
                    })
                });
                for c in futures::future::join_all(calls).await {
                    c.unwrap()?;
                }
                Ok::<_, dualdb::Error>(())
            }
        };
        for round in 0..4 {
            let rt = if round % 2 == 0 {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            };
            rt.block_on(use_it(&db))
                .unwrap_or_else(|e| panic!("{:?} runtime {round}: {e}", db.backend()));
            drop(rt);
        }
        let n: i64 = db
            .sync()
            .query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 4 * 12, "{:?}", db.backend());
    }
}
