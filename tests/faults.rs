//! Faults on real servers: sessions killed under load, and idle sessions the
//! server drops. Calls in flight get typed errors, later calls succeed on
//! fresh connections, and no acknowledged write is lost.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{isolated, mysql_url, pg_url};
use dualdb::{BackendKind, Database, ErrorKind};

/// Kills every server session of `db`'s test database except the caller's.
async fn kill_sessions(admin: &Database, marker: &str) -> usize {
    let ids: Vec<i64> = match admin.backend() {
        BackendKind::Postgres => {
            let rows = admin
                .aio()
                .query(
                    "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    &[&marker],
                )
                .await
                .unwrap();
            return rows.len();
        }
        _ => admin
            .aio()
            .query(
                "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                &[&marker],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect(),
    };
    for id in &ids {
        // A session may end by itself meanwhile: ignore "unknown thread".
        let _ = admin.aio().execute(&format!("KILL {id}"), &[]).await;
    }
    ids.len()
}

/// The URL of a fresh schema/database, with a marker to find its sessions.
fn target(url: &str) -> (Database, String, String) {
    let db = isolated(url, "faults");
    let marker = match db.backend() {
        BackendKind::Postgres => format!("dualdb_faults_{}", std::process::id()),
        _ => db
            .sync()
            .query_one("SELECT DATABASE()", &[])
            .unwrap()
            .get(0)
            .unwrap(),
    };
    (db, marker, url.to_string())
}

async fn killed_under_load(url: &str) {
    let (setup, marker, base) = target(url);
    // PostgreSQL sessions are found by application name, MariaDB ones by database.
    let db = match setup.backend() {
        BackendKind::Postgres => {
            let schema: String = setup
                .sync()
                .query_one("SELECT current_schema()", &[])
                .unwrap()
                .get(0)
                .unwrap();
            Database::open(&format!(
                "{base}?options=-c%20search_path%3D{schema}&application_name={marker}"
            ))
            .unwrap()
        }
        _ => setup.clone(),
    };
    let admin = Database::open(&base).unwrap();
    // 'static for the spawned tasks and the thread (a test leaks one string).
    let insert: &'static str = Box::leak(common::id_table(&db, "acked").await.into_boxed_str());

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let stop_at = Instant::now() + Duration::from_millis(2000);
    let mut tasks = Vec::new();
    for t in 0..64i64 {
        let (db, acked, errors) = (db.clone(), acked.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                let id = t * 1_000_000 + n;
                n += 1;
                match db.aio().execute(insert, &[&id]).await {
                    Ok(1) => {
                        acked.lock().unwrap().insert(id);
                    }
                    Ok(other) => panic!("insert reported {other} rows"),
                    Err(e) => errors.lock().unwrap().push(e),
                }
            }
        }));
    }
    // The blocking half too, from threads.
    let sync_db = db.clone();
    let sync_acked = acked.clone();
    let sync_errors = errors.clone();
    let blocking = std::thread::spawn(move || {
        let mut n = 0;
        while Instant::now() < stop_at {
            let id = 99_000_000 + n;
            n += 1;
            match sync_db.sync().execute(insert, &[&id]) {
                Ok(_) => {
                    sync_acked.lock().unwrap().insert(id);
                }
                Err(e) => sync_errors.lock().unwrap().push(e),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = kill_sessions(&admin, &marker).await;
    assert!(killed > 0, "{:?}: no session to kill", db.backend());
    // Within a second of the kill, writes are acknowledged again.
    let at_kill = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a_second_later = acked.lock().unwrap().len();
    assert!(
        a_second_later > at_kill,
        "{:?}: no write acknowledged within a second of the kill",
        db.backend()
    );
    for t in tasks {
        t.await.unwrap();
    }
    blocking.join().unwrap();

    // In-flight calls failed with typed errors, not panics or hangs.
    for e in errors.lock().unwrap().iter() {
        assert!(
            matches!(e.kind(), ErrorKind::Query | ErrorKind::Connect),
            "{:?}: untyped failure {e:?}",
            db.backend()
        );
    }
    // Later calls succeed on fresh connections, within a second of the kill.
    let burst: Vec<_> = (0..64)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.aio().query_one("SELECT 1", &[]).await.map(drop) })
        })
        .collect();
    for b in burst {
        b.await.unwrap().unwrap();
    }
    let sync_db = db.clone();
    tokio::task::spawn_blocking(move || {
        for _ in 0..8 {
            sync_db.sync().query_one("SELECT 1", &[]).unwrap();
        }
    })
    .await
    .unwrap();

    // No acknowledged write is lost.
    let present = common::ids(&db, "acked").await;
    let acked = acked.lock().unwrap();
    let lost: Vec<_> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{:?}: acknowledged writes lost: {lost:?}",
        db.backend()
    );
    eprintln!(
        "{:?}: killed {killed} sessions; {} writes acknowledged, {} calls failed, none lost",
        db.backend(),
        acked.len(),
        errors.lock().unwrap().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sessions_under_load_recover_and_lose_nothing() {
    for url in pg_url().into_iter().chain(mysql_url()) {
        killed_under_load(&url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_dropped_by_the_server_are_replaced() {
    let Some(url) = mysql_url() else { return };
    for check_after in [Duration::from_millis(300), Duration::from_secs(600)] {
        let db = Database::builder(&url)
            .sync_pool_size(1)
            .async_pool_size(1)
            .check_idle_after(check_after)
            .build()
            .unwrap();
        db.sync()
            .execute("SET SESSION wait_timeout = 1", &[])
            .unwrap();
        db.aio()
            .execute("SET SESSION wait_timeout = 1", &[])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let sync = db.sync().query_one("SELECT 1", &[]);
        let aio = db.aio().query_one("SELECT 1", &[]).await;
        if check_after < Duration::from_secs(1) {
            // Checked before reuse: the dropped sessions are replaced unseen.
            sync.unwrap();
            aio.unwrap();
        } else {
            // Without the check the first call meets the closed session (the
            // control that shows the check matters), typed, and the broken
            // connection is discarded: the next call works.
            assert_eq!(sync.unwrap_err().kind(), ErrorKind::Query);
            assert_eq!(aio.unwrap_err().kind(), ErrorKind::Query);
            db.sync().query_one("SELECT 1", &[]).unwrap();
            db.aio().query_one("SELECT 1", &[]).await.unwrap();
        }
    }
}
