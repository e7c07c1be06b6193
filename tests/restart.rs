//! Server restart under load: PostgreSQL (`pg_ctl restart -m fast`) and
//! MariaDB (stopped and started) while tasks and a thread write. Calls
//! during the outage fail with typed errors; afterwards both halves work
//! again on their own (no reconnect call), and no acknowledged write is
//! lost. Alone in its binary: it restarts the servers every test uses.
//! `ci/test` provides the restart scripts.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{isolated, mysql_url, pg_url, server_url};
use dualdb::ErrorKind;

fn restart(script: &str) {
    let status = std::process::Command::new(script).status().unwrap();
    assert!(status.success(), "{script} failed");
}

async fn restart_under_load(url: &str, script: String) {
    let db = isolated(url, "restart");
    // 'static for the spawned tasks and the thread (a test leaks one string).
    let insert: &'static str = Box::leak(common::id_table(&db, "acked").await.into_boxed_str());
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    // The load runs until two seconds after the restart completes.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..16i64 {
        let (db, acked, errors, stop) = (db.clone(), acked.clone(), errors.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = t * 1_000_000 + n;
                n += 1;
                match db.aio().execute(insert, &[&id]).await {
                    Ok(_) => {
                        acked.lock().unwrap().insert(id);
                    }
                    Err(e) => {
                        errors.lock().unwrap().push(e);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    let (sync_db, sync_acked, sync_errors, sync_stop) =
        (db.clone(), acked.clone(), errors.clone(), stop.clone());
    let blocking = std::thread::spawn(move || {
        let mut n = 0;
        while !sync_stop.load(std::sync::atomic::Ordering::Relaxed) {
            let id = 99_000_000 + n;
            n += 1;
            match sync_db.sync().execute(insert, &[&id]) {
                Ok(_) => {
                    sync_acked.lock().unwrap().insert(id);
                }
                Err(e) => {
                    sync_errors.lock().unwrap().push(e);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tokio::task::spawn_blocking(move || restart(&script))
        .await
        .unwrap();
    let acked_at_restart = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    blocking.join().unwrap();

    for e in errors.lock().unwrap().iter() {
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Query | ErrorKind::Connect | ErrorKind::PoolTimeout
            ),
            "{:?}: untyped failure {e:?}",
            db.backend()
        );
    }
    // Both halves work again, with no reconnect call.
    db.aio().query_one("SELECT 1", &[]).await.unwrap();
    let sync_db = db.clone();
    tokio::task::spawn_blocking(move || sync_db.sync().query_one("SELECT 1", &[]).map(drop))
        .await
        .unwrap()
        .unwrap();
    // The load went on writing after the restart.
    let after = acked.lock().unwrap().len();
    assert!(
        after > acked_at_restart,
        "{:?}: no write after the restart",
        db.backend()
    );
    let present = common::ids(&db, "acked").await;
    let acked = acked.lock().unwrap();
    let lost: Vec<_> = acked.difference(&present).take(10).collect();
    assert!(
        lost.is_empty(),
        "{:?}: acknowledged writes lost: {lost:?}",
        db.backend()
    );
    eprintln!(
        "{:?}: restarted under load; {} writes acknowledged, {} calls failed during the outage, none lost",
        db.backend(),
        acked.len(),
        errors.lock().unwrap().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_under_load_is_survived() {
    let servers = [
        (pg_url(), server_url("DUALDB_PG_RESTART")),
        (mysql_url(), server_url("DUALDB_MYSQL_RESTART")),
    ];
    for (url, script) in servers {
        if let (Some(url), Some(script)) = (url, script) {
            restart_under_load(&url, script).await;
        }
    }
}
