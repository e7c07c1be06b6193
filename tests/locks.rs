//! Row locks: `for_update`, `for_share`, `skip_locked` and `nowait` on both
//! halves of every backend, inside transactions and out.
//!
//! - Workers on both halves claim jobs concurrently, each claim a
//!   transaction reading the next job `FOR UPDATE SKIP LOCKED`: every job is
//!   claimed exactly once (on SQLite the transactions' write lock does the
//!   same).
//! - With a row held by another transaction, `skip_locked` reads past it
//!   and `nowait` fails at once with the server's code; a shared lock lets
//!   another shared lock in and keeps an exclusive one out. SQLite has no
//!   row locks: the same reads there return the rows (its transactions
//!   already hold the database's write lock).
//!
//! Locking reads go to the primary, never a replica: tests/replication.rs.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{HALVES, Half, isolated_all};
use dualdb::{BackendKind, Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "lock_jobs")]
struct Job {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    done_by: Option<i64>,
}

const JOBS: i64 = 24;
const WORKERS: i64 = 4;

async fn fresh(db: &Database, jobs: i64) {
    db.aio().drop_table::<Job>().await.unwrap();
    db.aio().create_table::<Job>().await.unwrap();
    let rows = (1..=jobs)
        .map(|i| Job {
            id: 0,
            name: format!("job {i}"),
            done_by: None,
        })
        .collect();
    db.aio()
        .execute_query(Job::insert_many(rows).without_returning())
        .await
        .unwrap();
}

/// The next unclaimed job, skipping those another worker holds.
fn next_job() -> dualdb::Select<Job> {
    Job::select()
        .filter(Job::DONE_BY.is_null())
        .order_by(Job::ID.asc())
        .skip_locked()
}

/// One worker on the async half: claims jobs until none is left.
async fn async_worker(db: Database, me: i64) -> Vec<i64> {
    let mut claimed = Vec::new();
    loop {
        let got = db
            .aio()
            .atomic(async |tx| -> dualdb::Result<Option<i64>> {
                let Some(mut job) = tx.get_or_none(next_job()).await? else {
                    return Ok(None);
                };
                // Held a while, so that the other workers meet the lock.
                tokio::time::sleep(Duration::from_millis(2)).await;
                job.done_by = Some(me);
                tx.update(&job).await?;
                Ok(Some(job.id))
            })
            .await
            .unwrap();
        match got {
            Some(id) => claimed.push(id),
            None => return claimed,
        }
    }
}

/// One worker on the blocking half.
fn sync_worker(db: Database, me: i64) -> Vec<i64> {
    let mut claimed = Vec::new();
    loop {
        let got = db
            .sync()
            .atomic(|tx| -> dualdb::Result<Option<i64>> {
                let Some(mut job) = tx.get_or_none(next_job())? else {
                    return Ok(None);
                };
                std::thread::sleep(Duration::from_millis(2));
                job.done_by = Some(me);
                tx.update(&job)?;
                Ok(Some(job.id))
            })
            .unwrap();
        match got {
            Some(id) => claimed.push(id),
            None => return claimed,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_claim_every_job_once() {
    for db in isolated_all("locks_queue") {
        for half in HALVES {
            fresh(&db, JOBS).await;
            let mut claims: Vec<Vec<i64>> = Vec::new();
            match half {
                Half::Async => {
                    let tasks: Vec<_> = (0..WORKERS)
                        .map(|w| tokio::spawn(async_worker(db.clone(), w)))
                        .collect();
                    for t in tasks {
                        claims.push(t.await.unwrap());
                    }
                }
                Half::Sync => {
                    let threads: Vec<_> = (0..WORKERS)
                        .map(|w| {
                            let db = db.clone();
                            std::thread::spawn(move || sync_worker(db, w))
                        })
                        .collect();
                    for t in threads {
                        claims.push(t.join().unwrap());
                    }
                }
            }
            let all: Vec<i64> = claims.iter().flatten().copied().collect();
            let distinct: BTreeSet<i64> = all.iter().copied().collect();
            let what = format!("{:?} {half:?}", db.backend());
            assert_eq!(all.len(), JOBS as usize, "{what}: a job claimed twice");
            assert_eq!(distinct, (1..=JOBS).collect(), "{what}");
            // Each stored job names the worker that claimed it.
            for (w, ids) in claims.iter().enumerate() {
                for &id in ids {
                    let job = db.aio().get(Job::by_id(id)).await.unwrap();
                    assert_eq!(job.done_by, Some(w as i64), "{what}: job {id}");
                }
            }
            assert_eq!(db.sync().status().in_use() + db.aio().status().in_use(), 0);
        }
    }
}

/// What another transaction (on `half`, in a task or thread of its own)
/// sees while job 1 is locked: the first job it can skip to, and the error
/// of an exclusive `NOWAIT` read of job 1.
async fn other_transaction(db: &Database, half: Half) -> (i64, dualdb::Error) {
    let nowait = || Job::by_id(1).for_update().nowait();
    match half {
        Half::Async => {
            let db = db.clone();
            tokio::spawn(async move {
                let tx = db.aio().begin().await.unwrap();
                let skipped = tx.get(Job::select().order_by(Job::ID.asc()).skip_locked());
                let skipped = skipped.await.unwrap().id;
                let err = tx.get(nowait()).await.unwrap_err();
                tx.rollback().await.unwrap();
                (skipped, err)
            })
            .await
            .unwrap()
        }
        Half::Sync => {
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                let tx = db.sync().begin().unwrap();
                let skipped = tx.get(Job::select().order_by(Job::ID.asc()).skip_locked());
                let skipped = skipped.unwrap().id;
                let err = tx.get(nowait()).unwrap_err();
                tx.rollback().unwrap();
                (skipped, err)
            })
            .await
            .unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_rows_are_skipped_or_refused_at_once() {
    for db in isolated_all("locks_held") {
        fresh(&db, 3).await;
        let kind = db.backend();
        for half in HALVES {
            if kind == BackendKind::Sqlite {
                // No row locks: inside a transaction (which holds the write
                // lock) and outside, the same reads return the rows.
                let q = Job::by_id(1).for_update().nowait();
                assert_eq!(call!(half, db, get(q)).unwrap().id, 1);
                let tx = db.aio().begin().await.unwrap();
                let first = tx.get(next_job()).await.unwrap();
                assert_eq!(first.id, 1);
                let shared = tx.get(Job::by_id(2).for_share().nowait()).await.unwrap();
                assert_eq!(shared.id, 2);
                tx.rollback().await.unwrap();
                continue;
            }
            for exclusive in [true, false] {
                // Job 1 locked by a transaction of the other half.
                let holder = db.aio().begin().await.unwrap();
                let lock = if exclusive {
                    Job::by_id(1).for_update()
                } else {
                    Job::by_id(1).for_share()
                };
                assert_eq!(holder.get(lock).await.unwrap().id, 1);
                // Another transaction skips it, and an exclusive NOWAIT read
                // of it fails at once with the server's lock error.
                let started = std::time::Instant::now();
                let (skipped, err) = other_transaction(&db, half).await;
                let what = format!("{kind:?} {half:?} exclusive={exclusive}");
                assert!(started.elapsed() < Duration::from_secs(5), "{what}: waited");
                if exclusive {
                    assert_eq!(skipped, 2, "{what}: the held job was not skipped");
                }
                assert_eq!(err.kind(), ErrorKind::Query, "{what}: {err}");
                let code = if kind == BackendKind::Postgres {
                    "55P03" // lock_not_available
                } else {
                    "1205" // ER_LOCK_WAIT_TIMEOUT, MariaDB's NOWAIT error
                };
                assert_eq!(err.code(), Some(code), "{what}: {err}");
                if !exclusive {
                    // A shared lock lets another shared lock in.
                    let db2 = db.clone();
                    let shared = tokio::spawn(async move {
                        let tx = db2.aio().begin().await.unwrap();
                        let job = tx.get(Job::by_id(1).for_share().nowait()).await;
                        tx.rollback().await.unwrap();
                        job
                    });
                    assert_eq!(shared.await.unwrap().unwrap().id, 1, "{what}");
                }
                holder.rollback().await.unwrap();
            }
            // Outside a transaction the lock ends with the statement.
            let job = call!(half, db, get(Job::by_id(1).for_update().nowait())).unwrap();
            assert_eq!(job.id, 1);
        }
        assert_eq!(db.sync().status().in_use() + db.aio().status().in_use(), 0);
    }
}
