//! SQLite under overload: more callers than connections, each holding a
//! write transaction for a while. A caller that waits too long gets one
//! kind of error, `PoolTimeout`, whether it waited for a pooled connection
//! or for the database's write lock (`SQLITE_BUSY`, its code kept); never a
//! `Query` error. Both halves at once, on one file.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use dualdb::{Database, ErrorKind};

const HOLD: Duration = Duration::from_millis(200);

fn tally(results: &[dualdb::Result<()>], half: &str) -> usize {
    let mut ok = 0;
    for r in results {
        match r {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::PoolTimeout,
                "{half}: {e} ({:?})",
                e.code()
            ),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_one_error_kind() {
    let dir = std::env::temp_dir().join(format!("dualdb-overload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.sqlite");
    let _ = std::fs::remove_file(&path);
    let db = Database::builder(&format!("sqlite://{}", path.display()))
        .sync_pool_size(2)
        .async_pool_size(2)
        .acquire_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    db.sync()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", &[])
        .unwrap();
    let next = Arc::new(AtomicI64::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (db, next) = (db.clone(), next.clone());
            tokio::spawn(async move {
                db.aio()
                    .atomic(async |tx| {
                        let v = next.fetch_add(1, Ordering::Relaxed);
                        tx.execute("INSERT INTO t (v) VALUES (?)", &[&v]).await?;
                        tokio::time::sleep(HOLD).await;
                        Ok(())
                    })
                    .await
            })
        })
        .collect();
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (db, next) = (db.clone(), next.clone());
            std::thread::spawn(move || {
                db.sync().atomic(|tx| {
                    let v = next.fetch_add(1, Ordering::Relaxed);
                    tx.execute("INSERT INTO t (v) VALUES (?)", &[&v])?;
                    std::thread::sleep(HOLD);
                    Ok(())
                })
            })
        })
        .collect();
    let mut async_results = Vec::new();
    for t in tasks {
        async_results.push(t.await.unwrap());
    }
    let blocking_results: Vec<_> =
        tokio::task::block_in_place(|| threads.into_iter().map(|t| t.join().unwrap()).collect());
    let ok = tally(&async_results, "async") + tally(&blocking_results, "blocking");
    assert!(
        ok > 0 && ok < 70,
        "an overload: some get through, some wait too long ({ok} of 70)"
    );
    let stored: i64 = db
        .sync()
        .query_one("SELECT COUNT(*) FROM t", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        stored as usize, ok,
        "every committed transaction's row, no other"
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
