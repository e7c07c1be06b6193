//! Pinned sessions: `session(|s| …)` runs every call inside on one
//! connection of its own, outside any transaction unless it opens one, so
//! session state (`SET`, user variables, temporary tables, advisory locks)
//! holds from call to call; before the connection goes back to the pool the
//! session is reset, so nothing reaches another caller. Every backend, both
//! halves. Outside a session, PostgreSQL's async statements go to shared
//! connections, where such state would leak between tasks.

mod common;

use common::{isolated_url, urls};
use dualdb::{BackendKind, Database, ErrorKind};

fn open(url: &str) -> Database {
    // One connection a half: whatever the session leaves, the next caller
    // gets that very connection.
    let db = Database::builder(&isolated_url(url, "sessions"))
        .sync_pool_size(1)
        .async_pool_size(1)
        .build()
        .unwrap();
    db.sync()
        .execute("CREATE TABLE t (x INTEGER NOT NULL)", &[])
        .unwrap();
    db
}

/// Sets a session variable to `v`.
fn set_var(db: &Database, v: i64) -> String {
    match db.backend() {
        BackendKind::Postgres => format!("SET dualdb.probe = '{v}'"),
        BackendKind::Mysql => format!("SET @probe = {v}"),
        _ => format!("PRAGMA user_version = {v}"),
    }
}

/// Reads it back: `None` when unset.
fn get_var(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Postgres => {
            "SELECT CAST(NULLIF(current_setting('dualdb.probe', true), '') AS BIGINT)"
        }
        BackendKind::Mysql => "SELECT @probe",
        _ => "PRAGMA user_version",
    }
}

fn temp_table(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Mysql => "CREATE TEMPORARY TABLE scratch (x INTEGER)",
        _ => "CREATE TEMP TABLE scratch (x INTEGER)",
    }
}

/// A session advisory lock's take and its try from elsewhere (servers only).
fn lock(db: &Database) -> Option<(&'static str, &'static str)> {
    match db.backend() {
        BackendKind::Postgres => Some((
            "SELECT pg_advisory_lock(4242)",
            "SELECT pg_try_advisory_lock(4242)",
        )),
        BackendKind::Mysql => Some((
            "SELECT GET_LOCK('dualdb_probe', 0)",
            "SELECT GET_LOCK('dualdb_probe', 0)",
        )),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_session_keeps_its_state_and_leaves_none() {
    for url in urls() {
        let db = open(&url);
        let b = db.backend();
        db.aio()
            .session(async |s| -> dualdb::Result<_> {
                assert_eq!(s.level(), 0);
                s.execute(&set_var(&db, 7), &[]).await?;
                // The plain handle, in this task: the same connection.
                let v: Option<i64> = db.aio().query_one(get_var(&db), &[]).await?.get(0)?;
                assert_eq!(v, Some(7), "{b:?}");
                // Concurrent calls in the session see it too.
                let (x, y) = tokio::join!(
                    s.query_one(get_var(&db), &[]),
                    db.aio().query_one(get_var(&db), &[])
                );
                assert_eq!(x?.get::<Option<i64>>(0)?, Some(7));
                assert_eq!(y?.get::<Option<i64>>(0)?, Some(7));
                s.execute(temp_table(&db), &[]).await?;
                s.execute("INSERT INTO scratch VALUES (1)", &[]).await?;
                let n: i64 = db
                    .aio()
                    .query_one("SELECT COUNT(*) FROM scratch", &[])
                    .await?
                    .get(0)?;
                assert_eq!(n, 1);
                if let Some((take, _)) = lock(&db) {
                    s.query_one(take, &[]).await?;
                }
                // Outside transactions: each statement commits on its own.
                s.execute("INSERT INTO t VALUES (1)", &[]).await?;
                // A transaction in the session: on its connection.
                let failed: dualdb::Result<()> = db
                    .aio()
                    .atomic(async |tx| {
                        assert_eq!(tx.level(), 1);
                        tx.execute("INSERT INTO t VALUES (2)", &[]).await?;
                        Err(dualdb::Error::new(ErrorKind::Usage, "no"))
                    })
                    .await;
                assert!(failed.is_err());
                s.atomic(async |tx| tx.execute("INSERT INTO t VALUES (3)", &[]).await.map(drop))
                    .await?;
                let n: i64 = s
                    .query_one("SELECT COUNT(*) FROM scratch", &[])
                    .await?
                    .get(0)?;
                assert_eq!(
                    n, 1,
                    "{b:?}: still the session's connection after its transactions"
                );
                Ok(())
            })
            .await
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        let rows: Vec<i64> = db
            .aio()
            .query("SELECT x FROM t ORDER BY x", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        assert_eq!(rows, [1, 3], "{b:?}");
        assert_eq!(db.aio().status().in_use(), 0);
        // The same pooled connection (the pool has one), another session:
        // nothing of the last one is left on the servers.
        db.aio()
            .session(async |s| -> dualdb::Result<_> {
                if b != BackendKind::Sqlite {
                    let v: Option<i64> = s.query_one(get_var(&db), &[]).await?.get(0)?;
                    assert_eq!(v, None, "{b:?}: the setting was reset");
                    let err = s.query("SELECT * FROM scratch", &[]).await.unwrap_err();
                    assert_eq!(
                        err.kind(),
                        ErrorKind::Query,
                        "{b:?}: the temporary table is gone"
                    );
                }
                Ok(())
            })
            .await
            .unwrap();
        if let Some((_, try_lock)) = lock(&db) {
            let other = Database::open(&url).unwrap();
            let got: i64 = other
                .aio()
                .query_one(try_lock, &[])
                .await
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(got, 1, "{b:?}: the session's lock was released");
        }
        // A session's statements and ordinary ones after it still work.
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
    }
}

#[test]
fn a_blocking_session_keeps_its_state_and_leaves_none() {
    for url in urls() {
        let db = open(&url);
        let b = db.backend();
        db.sync()
            .session(|s| -> dualdb::Result<_> {
                s.execute(&set_var(&db, 9), &[])?;
                let v: Option<i64> = db.sync().query_one(get_var(&db), &[])?.get(0)?;
                assert_eq!(v, Some(9), "{b:?}");
                s.execute(temp_table(&db), &[])?;
                db.sync().execute("INSERT INTO scratch VALUES (1)", &[])?;
                s.execute("INSERT INTO t VALUES (1)", &[])?;
                let failed: dualdb::Result<()> = s.atomic(|tx| {
                    tx.execute("INSERT INTO t VALUES (2)", &[])?;
                    Err(dualdb::Error::new(ErrorKind::Usage, "no"))
                });
                assert!(failed.is_err());
                let n: i64 = s.query_one("SELECT COUNT(*) FROM scratch", &[])?.get(0)?;
                assert_eq!(n, 1);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        let n: i64 = db
            .sync()
            .query_one("SELECT COUNT(*) FROM t", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 1, "{b:?}");
        db.sync()
            .session(|s| {
                if b != BackendKind::Sqlite {
                    let v: Option<i64> = s.query_one(get_var(&db), &[])?.get(0)?;
                    assert_eq!(v, None, "{b:?}: the setting was reset");
                    assert!(s.query("SELECT * FROM scratch", &[]).is_err());
                }
                Ok::<_, dualdb::Error>(())
            })
            .unwrap();
        assert_eq!(db.sync().status().in_use(), 0);
    }
}

/// A session whose future is dropped mid-way: its connection is closed,
/// not pooled with its state; the next caller gets a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_closes_its_connection() {
    for url in urls() {
        let db = open(&url);
        let b = db.backend();
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            db.aio().session(async |s| -> dualdb::Result<_> {
                s.execute(&set_var(&db, 5), &[]).await?;
                std::future::pending::<()>().await;
                Ok(())
            }),
        )
        .await;
        assert!(cut.is_err());
        let v: Option<i64> = db
            .aio()
            .session(async |s| s.query_one(get_var(&db), &[]).await?.get(0))
            .await
            .unwrap();
        if b != BackendKind::Sqlite {
            assert_eq!(v, None, "{b:?}");
        }
        assert_eq!(db.aio().status().in_use(), 0);
    }
}
