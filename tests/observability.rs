//! Observability: one `tracing` span per statement with its SQL, rows and
//! duration (never its bound values), and pool statistics read at runtime.
//! The span test installs the process's global subscriber: it is the only
//! test here that logs.

mod common;

use std::time::Duration;

use common::{Capture, HALVES, isolated_all, ph};
use dualdb::{Database, PoolStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_statement_has_a_span_with_sql_rows_and_duration_but_no_values() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer({
            let capture = capture.clone();
            move || capture.clone()
        })
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    const SECRET: &str = "s3cr3t-bound-value";
    for db in isolated_all("spans") {
        for half in HALVES {
            let t = common::table("spans");
            let create = format!("CREATE TABLE {t} (id INT, note TEXT)");
            half.execute(&db, &create, &[]).await.unwrap();
            let insert = format!("INSERT INTO {t} VALUES ({}, {})", ph(&db, 1), ph(&db, 2));
            for id in 0..3 {
                half.execute(&db, &insert, &[&id, &SECRET]).await.unwrap();
            }
            let select = format!("SELECT id FROM {t} WHERE note = {}", ph(&db, 1));
            capture.0.lock().unwrap().clear();
            let rows = half.query(&db, &select, &[&SECRET]).await.unwrap();
            assert_eq!(rows.len(), 3);

            let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
            let line = out
                .lines()
                .find(|l| l.contains(&format!("sql={select:?}")) && l.contains("close"))
                .unwrap_or_else(|| panic!("no span closed for the statement in:\n{out}"));
            assert!(line.contains("statement{"), "{line}");
            assert!(line.contains("rows=3"), "{line}");
            assert!(line.contains("elapsed_us="), "{line}");
            assert!(line.contains("dualdb::sql"), "{line}");
            assert!(!out.contains(SECRET), "a bound value was logged:\n{out}");
        }
    }
}

/// Polls until `f` holds, for at most five seconds.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never true: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_statistics_show_size_idle_in_use_and_waiters() {
    // One connection per half: SQLite allows one writing transaction at a
    // time, and one held connection is enough to make a caller wait.
    for url in common::urls() {
        let db = Database::builder(&url)
            .sync_pool_size(1)
            .async_pool_size(1)
            .acquire_timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let s = db.sync();
        assert_eq!((s.status().size, s.status().max_size), (0, 1), "lazy");

        // Blocking half: a thread holds a transaction, another call waits.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let db = db.clone();
            std::thread::spawn(move || {
                let tx = db.sync().begin().unwrap();
                held.recv().unwrap();
                tx.commit().unwrap();
            })
        };
        eventually("one lent", || s.status().in_use() == 1).await;
        let waiter = {
            let db = db.clone();
            std::thread::spawn(move || db.sync().query_one("SELECT 1", &[]).map(drop))
        };
        eventually("one waiter", || s.status().waiting == 1).await;
        let status: PoolStatus = s.status();
        assert_eq!((status.size, status.idle, status.in_use()), (1, 0, 1));
        release.send(()).unwrap();
        holder.join().unwrap();
        waiter.join().unwrap().unwrap();
        eventually("back", || s.status().idle == 1).await;
        assert_eq!((s.status().in_use(), s.status().waiting), (0, 0));

        // Async half: a transaction holds the pooled connection.
        let a = db.aio();
        let first = a.begin().await.unwrap();
        assert_eq!(a.status().in_use(), 1, "{:?}", a.status());
        let second = tokio::spawn({
            let db = db.clone();
            async move { db.aio().begin().await.unwrap().commit().await.unwrap() }
        });
        eventually("an async waiter", || a.status().waiting == 1).await;
        first.commit().await.unwrap();
        second.await.unwrap();
        eventually("async back", || a.status().in_use() == 0).await;
        assert_eq!(a.status().waiting, 0);
        assert!(a.status().size >= 1, "{:?}", a.status());
    }
}
