//! A transaction begun with `begin()` (a guard) and calls through the plain
//! handle in the same task (async) or thread (blocking): the plain calls
//! join the guard's transaction, as they join a closure scope's, on every
//! backend. Before, they ran on another connection outside it (PostgreSQL,
//! MariaDB) or waited for SQLite's lock until "database is locked".

mod common;

use std::time::{Duration, Instant};

use common::{isolated_url, urls};
use dualdb::{Database, ErrorKind};

fn open(url: &str) -> Database {
    // A short acquire (and SQLite busy) timeout, so that a plain call that
    // waited for SQLite's lock (the defect) fails the time checks below.
    let db = Database::builder(&isolated_url(url, "guard_scope"))
        .acquire_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    db.sync()
        .execute("CREATE TABLE t (x INTEGER NOT NULL)", &[])
        .unwrap();
    db
}

fn count(db: &Database) -> i64 {
    let other = db.clone();
    // From another thread: outside any transaction of this one.
    std::thread::spawn(move || {
        other
            .sync()
            .query_one("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .get(0)
            .unwrap()
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_async_calls_join_a_guard_begun_in_the_same_task() {
    for url in urls() {
        let db = open(&url);
        let started = Instant::now();
        let tx = db.aio().begin().await.unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        // The plain handle, same task: inside the guard's transaction.
        db.aio()
            .execute("INSERT INTO t VALUES (2)", &[])
            .await
            .unwrap();
        let seen: i64 = db
            .aio()
            .query_one("SELECT COUNT(*) FROM t", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(seen, 2, "{:?}: sees the guard's own writes", db.backend());
        // A spawned task is another task: outside.
        let other = db.clone();
        let outside: i64 = tokio::spawn(async move {
            other
                .aio()
                .query_one("SELECT COUNT(*) FROM t", &[])
                .await
                .unwrap()
                .get(0)
                .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(outside, 0, "{:?}", db.backend());
        // A closure block through the plain handle is a savepoint in it.
        let inner = db
            .aio()
            .atomic(async |sp| {
                assert_eq!(sp.level(), 2);
                sp.execute("INSERT INTO t VALUES (3)", &[]).await?;
                Err::<(), _>(dualdb::Error::new(ErrorKind::Usage, "no"))
            })
            .await;
        assert!(inner.is_err());
        tx.rollback().await.unwrap();
        assert_eq!(
            count(&db),
            0,
            "{:?}: the plain writes rolled back with it",
            db.backend()
        );

        // Committed, the plain writes stay.
        let tx = db.aio().begin().await.unwrap();
        db.aio()
            .execute("INSERT INTO t VALUES (4)", &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&db), 1);
        // After the guard, plain calls run outside transactions again.
        db.aio()
            .execute("INSERT INTO t VALUES (5)", &[])
            .await
            .unwrap();
        assert_eq!(count(&db), 2);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no call waited for a lock"
        );
        assert_eq!(db.aio().status().in_use(), 0);
    }
}

#[test]
fn plain_blocking_calls_join_a_guard_begun_on_the_same_thread() {
    for url in urls() {
        let db = open(&url);
        let started = Instant::now();
        let tx = db.sync().begin().unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        db.sync().execute("INSERT INTO t VALUES (2)", &[]).unwrap();
        let seen: i64 = db
            .sync()
            .query_one("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(seen, 2, "{:?}", db.backend());
        assert_eq!(
            count(&db),
            0,
            "{:?}: another thread is outside",
            db.backend()
        );
        let inner = db.sync().atomic(|sp| {
            assert_eq!(sp.level(), 2);
            sp.execute("INSERT INTO t VALUES (3)", &[])?;
            Err::<(), _>(dualdb::Error::new(ErrorKind::Usage, "no"))
        });
        assert!(inner.is_err());
        tx.rollback().unwrap();
        assert_eq!(count(&db), 0, "{:?}", db.backend());

        let tx = db.sync().begin().unwrap();
        db.sync().execute("INSERT INTO t VALUES (4)", &[]).unwrap();
        tx.commit().unwrap();
        db.sync().execute("INSERT INTO t VALUES (5)", &[]).unwrap();
        assert_eq!(count(&db), 2);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no call waited for a lock"
        );
        assert_eq!(db.sync().status().in_use(), 0);
    }
}

/// Inside a closure block, a savepoint guard begun through the plain handle
/// takes in the plain calls; the block's own handle, an outer level, is
/// refused at once while the guard is open (its statement would run inside
/// the savepoint), and works again once the guard is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outer_handle_is_refused_while_a_savepoint_guard_is_open() {
    for url in urls() {
        let db = open(&url);
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                let sp = db.aio().begin().await?;
                assert_eq!(sp.level(), 2);
                db.aio().execute("INSERT INTO t VALUES (1)", &[]).await?;
                let err = tx
                    .execute("INSERT INTO t VALUES (2)", &[])
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
                assert!(err.message().contains("savepoint guard"), "{err}");
                sp.rollback().await?;
                tx.execute("INSERT INTO t VALUES (3)", &[]).await?;
                Ok(())
            })
            .await
            .unwrap();
        let rows: Vec<i64> = db
            .aio()
            .query("SELECT x FROM t", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        assert_eq!(rows, vec![3], "{:?}", db.backend());

        db.sync()
            .atomic(|tx| {
                let sp = db.sync().begin()?;
                db.sync().execute("INSERT INTO t VALUES (4)", &[])?;
                let err = tx.execute("INSERT INTO t VALUES (5)", &[]).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
                sp.commit()?;
                tx.execute("INSERT INTO t VALUES (6)", &[])?;
                Ok::<_, dualdb::Error>(())
            })
            .unwrap();
        assert_eq!(count(&db), 3, "{:?}", db.backend());
    }
}
