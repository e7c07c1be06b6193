//! The pools' hooks and lifetimes on every backend and both halves:
//! `after_connect` statements on every new connection (and again after a
//! session's reset), `max_lifetime` (a connection replaced when it comes
//! back, never in the middle of a transaction), `idle_timeout` down to
//! `min_idle`, and `min_idle` kept open.

mod common;

use std::time::{Duration, Instant};

use common::{HALVES, Half, isolated_url, urls};
use dualdb::{BackendKind, Database, Error, ErrorKind, SyncExecutor};

/// A number that tells a connection from another: the server's session id,
/// or on SQLite a random number kept in a temporary table (one per
/// connection), made by the first statement given here.
fn id_sql(kind: BackendKind) -> (Option<&'static str>, &'static str) {
    match kind {
        BackendKind::Postgres => (None, "SELECT CAST(pg_backend_pid() AS BIGINT)"),
        BackendKind::Mysql => (None, "SELECT CAST(CONNECTION_ID() AS SIGNED)"),
        _ => (
            Some("CREATE TEMP TABLE IF NOT EXISTS conn_id AS SELECT abs(random()) AS id"),
            "SELECT id FROM conn_id",
        ),
    }
}

async fn conn_id_async(db: &impl dualdb::AsyncExecutor, kind: BackendKind) -> i64 {
    let (setup, sql) = id_sql(kind);
    if let Some(setup) = setup {
        db.execute(setup, &[]).await.unwrap();
    }
    db.query_one(sql, &[]).await.unwrap().get(0).unwrap()
}

fn conn_id_sync(db: &impl SyncExecutor, kind: BackendKind) -> i64 {
    let (setup, sql) = id_sql(kind);
    if let Some(setup) = setup {
        db.execute(setup, &[]).unwrap();
    }
    db.query_one(sql, &[]).unwrap().get(0).unwrap()
}

/// One connection a half (and one shared PostgreSQL connection), so that
/// every call outside a transaction lands on the same one.
fn single(url: &str, name: &str) -> dualdb::Builder {
    Database::builder(&isolated_url(url, name))
        .sync_pool_size(1)
        .async_pool_size(1)
        .shared_connections(1)
}

async fn id(db: &Database, half: Half) -> i64 {
    match half {
        Half::Sync => conn_id_sync(db.sync(), db.backend()),
        Half::Async => conn_id_async(db.aio(), db.backend()).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_its_lifetime_is_replaced_when_it_comes_back_never_mid_transaction() {
    let life = Duration::from_millis(400);
    for url in urls() {
        let db = single(&url, "lifetime").max_lifetime(life).build().unwrap();
        let b = db.backend();
        for half in HALVES {
            let first = id(&db, half).await;
            assert_eq!(
                id(&db, half).await,
                first,
                "{b:?} {half:?}: reused while young"
            );
            tokio::time::sleep(life + Duration::from_millis(100)).await;
            let second = id(&db, half).await;
            assert_ne!(second, first, "{b:?} {half:?}: kept past its lifetime");

            // In a transaction: the same connection past its lifetime, then
            // a new one once the transaction is over.
            let (in_tx, later) = match half {
                Half::Sync => {
                    let tx = db.sync().begin().unwrap();
                    let a = conn_id_sync(&tx, b);
                    std::thread::sleep(life + Duration::from_millis(100));
                    let later = conn_id_sync(&tx, b);
                    tx.commit().unwrap();
                    (a, later)
                }
                Half::Async => {
                    let tx = db.aio().begin().await.unwrap();
                    let a = conn_id_async(&tx, b).await;
                    tokio::time::sleep(life + Duration::from_millis(100)).await;
                    let later = conn_id_async(&tx, b).await;
                    tx.commit().await.unwrap();
                    (a, later)
                }
            };
            assert_eq!(in_tx, later, "{b:?} {half:?}: replaced mid-transaction");
            let after = match half {
                Half::Sync => {
                    let tx = db.sync().begin().unwrap();
                    conn_id_sync(&tx, b)
                }
                Half::Async => {
                    let tx = db.aio().begin().await.unwrap();
                    conn_id_async(&tx, b).await
                }
            };
            assert_ne!(after, in_tx, "{b:?} {half:?}: kept after the transaction");
        }
    }
}

/// A session setting each backend keeps per connection, and how to read it.
fn setting(kind: BackendKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        BackendKind::Postgres => (
            "SET application_name = 'dualdb_setup'",
            "SELECT current_setting('application_name')",
            "dualdb_setup",
        ),
        BackendKind::Mysql => (
            "SET @dualdb_setup = 'dualdb_setup'",
            "SELECT CAST(@dualdb_setup AS CHAR)",
            "dualdb_setup",
        ),
        _ => ("PRAGMA cache_size = -1234", "PRAGMA cache_size", "-1234"),
    }
}

fn text(row: &dualdb::Row) -> String {
    row.get::<String>(0)
        .or_else(|_| row.get::<i64>(0).map(|n| n.to_string()))
        .unwrap()
}

fn read_sync(db: &impl SyncExecutor, sql: &str) -> String {
    text(&db.query_one(sql, &[]).unwrap())
}

/// The setting read by a row iterator (a cursor of the set-up connection,
/// where the backend has cursors).
fn fetch_sync(db: &impl SyncExecutor, sql: &str) -> Vec<String> {
    db.fetch_rows(sql, &[]).map(|r| text(&r.unwrap())).collect()
}

/// The setting read by a row stream.
async fn fetch_async(db: &impl dualdb::AsyncExecutor, sql: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let rows: Vec<dualdb::Row> = db.fetch_rows(sql, &[]).try_collect().await.unwrap();
    rows.iter().map(text).collect()
}

async fn read_async(db: &impl dualdb::AsyncExecutor, sql: &str) -> String {
    text(&db.query_one(sql, &[]).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_connect_runs_on_every_new_connection_of_both_halves() {
    for url in urls() {
        let probe = Database::open(&url).unwrap();
        let (set, read, want) = setting(probe.backend());
        let db = Database::builder(&isolated_url(&url, "setup"))
            .sync_pool_size(2)
            .async_pool_size(2)
            .after_connect("SELECT 1")
            .after_connect(set)
            .build()
            .unwrap();
        let b = db.backend();
        // Outside and inside transactions, on both halves (the async half's
        // plain calls on PostgreSQL go to its shared connections).
        assert_eq!(read_sync(db.sync(), read), want, "{b:?}");
        assert_eq!(read_async(db.aio(), read).await, want, "{b:?}");
        assert_eq!(fetch_sync(db.sync(), read), [want], "{b:?}");
        assert_eq!(fetch_async(db.aio(), read).await, [want], "{b:?}");
        let tx = db.sync().begin().unwrap();
        assert_eq!(read_sync(&tx, read), want);
        assert_eq!(fetch_sync(&tx, read), [want], "{b:?}");
        // A second connection while the first is in a transaction (another
        // thread: this one's plain calls join the transaction).
        std::thread::scope(|scope| {
            scope.spawn(|| assert_eq!(read_sync(db.sync(), read), want));
        });
        tx.commit().unwrap();
        let tx = db.aio().begin().await.unwrap();
        assert_eq!(read_async(&tx, read).await, want);
        assert_eq!(fetch_async(&tx, read).await, [want], "{b:?}");
        tx.commit().await.unwrap();

        // A session resets its connection (clearing session settings on the
        // servers), and the setup runs again before the connection is lent.
        db.sync()
            .session(|s| {
                assert_eq!(read_sync(s, read), want);
                Ok::<_, Error>(())
            })
            .unwrap();
        db.aio()
            .session(async |s| {
                assert_eq!(read_async(s, read).await, want);
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        for _ in 0..3 {
            let tx = db.sync().begin().unwrap();
            assert_eq!(read_sync(&tx, read), want, "{b:?}: after a session");
            tx.commit().unwrap();
            let tx = db.aio().begin().await.unwrap();
            assert_eq!(read_async(&tx, read).await, want, "{b:?}: after a session");
            tx.commit().await.unwrap();
        }

        // A failing statement fails the connect, naming its number; no
        // connection is kept.
        let bad = Database::builder(&url)
            .after_connect("SELECT 1")
            .after_connect("SELECT * FROM dualdb_no_such_table")
            .build()
            .unwrap();
        let err = bad.sync().query("SELECT 1", &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{b:?}: {err}");
        assert!(
            err.to_string().contains("after_connect statement 2"),
            "{err}"
        );
        assert_eq!(bad.sync().status().size, 0);
        let err = bad.aio().query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{b:?}: {err}");
        assert_eq!(bad.aio().status().size, 0);
        assert!(!format!("{:?}", bad.config()).contains("dualdb_no_such_table"));
    }
}

/// Waits until `f` holds, for at most 5 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < until, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_time_out_down_to_min_idle_which_is_kept_open() {
    for url in urls() {
        let url = isolated_url(&url, "idle");
        let is_pg = url.starts_with("postgres");
        // Counted on the server by its application name (PostgreSQL), or
        // its database (MariaDB: a database of its own).
        let db = Database::builder(&url)
            .sync_pool_size(4)
            .async_pool_size(4)
            .shared_connections(0)
            .idle_timeout(Duration::from_millis(300))
            .min_idle(1)
            .after_connect(if is_pg {
                "SET application_name = 'dualdb_idle_test'"
            } else {
                "SELECT 1"
            })
            .build()
            .unwrap();
        let b = db.backend();
        // min_idle: the blocking half opens one in the background at once.
        eventually("a blocking connection opened for min_idle", || {
            db.sync().status().idle == 1
        })
        .await;

        // Three connections at once on each half (sessions: a connection
        // each, no lock on SQLite), then idle.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    db.sync()
                        .session(|s| {
                            s.query("SELECT 1", &[])?;
                            barrier.wait();
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(
            db.sync().status().size >= 3,
            "{b:?}: {:?}",
            db.sync().status()
        );
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (db, barrier) = (db.clone(), barrier.clone());
                tokio::spawn(async move {
                    db.aio()
                        .session(async |s| {
                            s.query("SELECT 1", &[]).await?;
                            barrier.wait().await;
                            Ok::<_, Error>(())
                        })
                        .await
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(
            db.aio().status().size >= 3,
            "{b:?}: {:?}",
            db.aio().status()
        );

        // A light load (a call every 50 ms, each half) does not keep every
        // connection alive: the pools lend their newest idle connection, so
        // the others time out while it runs. The blocking calls come from
        // one thread of their own: the blocking pool lends from the calling
        // thread's shard first, and a Tokio task's calls move between the
        // runtime's threads (each `block_in_place` may hand the worker to
        // another), which is a load from several threads.
        let until = Instant::now() + Duration::from_millis(1200);
        let light = {
            let db = db.clone();
            std::thread::spawn(move || {
                while Instant::now() < until {
                    db.sync().query("SELECT 1", &[]).unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        while Instant::now() < until {
            db.aio().query("SELECT 1", &[]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        light.join().unwrap();
        assert!(
            db.sync().status().size <= 2,
            "{b:?}: {:?}",
            db.sync().status()
        );
        assert!(
            db.aio().status().size <= 2,
            "{b:?}: {:?}",
            db.aio().status()
        );

        // Past the idle timeout: down to min_idle on each half.
        eventually("blocking idle connections closed down to min_idle", || {
            db.sync().status().size == 1
        })
        .await;
        eventually("async idle connections closed down to min_idle", || {
            let st = db.aio().status();
            st.size == 1 && st.idle == 1
        })
        .await;
        // The server agrees (its sessions of this database).
        let live = match b {
            BackendKind::Postgres => Some(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE application_name = 'dualdb_idle_test' AND pid <> pg_backend_pid()",
            ),
            BackendKind::Mysql => Some(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
            ),
            _ => None,
        };
        if let Some(sql) = live {
            // From a database of its own, which does not count itself. The
            // server ends a closed connection's session a moment after the
            // client lets go of it (a CI run once counted 3 at the first
            // look), so the count is waited for.
            let probe = Database::open(&url).unwrap();
            let mut n = 0;
            eventually(&format!("{b:?}: the server's sessions down to 2"), || {
                n = probe.sync().query_one(sql, &[]).unwrap().get(0).unwrap();
                n == 2
            })
            .await;
            // The blocking and the async min_idle ones.
            assert_eq!(n, 2, "{b:?}: sessions still open");
        }
    }
}
