//! A committed SQLite row survives its process being killed at once: a
//! child process (this test binary, run again) commits rows on one half and
//! says so, the parent kills it with SIGKILL the moment it reads that, then
//! opens the file again and finds every row the child reported committed.
//! Both halves, a plain insert and a transaction. dualdb's file databases
//! keep SQLite's own durability (WAL, `synchronous = FULL`, its automatic
//! checkpoints): the test also reads those settings back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use dualdb::Database;

const CHILD: &str = "DUALDB_DURABILITY_CHILD";

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The child: commits rows on `half` and prints each id once committed,
/// then waits to be killed.
fn child(path: &str, half: &str) {
    let db = Database::open(&url(std::path::Path::new(path))).unwrap();
    let mut out = std::io::stdout();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for id in 1..=20i64 {
        match (half, id % 2) {
            ("sync", 0) => {
                db.sync()
                    .execute("INSERT INTO kept (id) VALUES (?)", &[&id])
                    .unwrap();
            }
            ("sync", _) => {
                let tx = db.sync().begin().unwrap();
                tx.execute("INSERT INTO kept (id) VALUES (?)", &[&id])
                    .unwrap();
                tx.commit().unwrap();
            }
            (_, 0) => rt.block_on(async {
                db.aio()
                    .execute("INSERT INTO kept (id) VALUES (?)", &[&id])
                    .await
                    .unwrap();
            }),
            _ => rt.block_on(async {
                let tx = db.aio().begin().await.unwrap();
                tx.execute("INSERT INTO kept (id) VALUES (?)", &[&id])
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }),
        }
        writeln!(out, "committed {id}").unwrap();
        out.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn a_committed_row_survives_a_kill_on_both_halves() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (path, half) = spec.split_once('|').unwrap();
        return child(path, half);
    }
    let dir = std::env::temp_dir().join(format!("dualdb-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for half in ["sync", "async"] {
        let path = dir.join(format!("{half}.sqlite"));
        let _ = std::fs::remove_file(&path);
        {
            let db = Database::open(&url(&path)).unwrap();
            db.sync()
                .execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)", &[])
                .unwrap();
            let mode: String = db
                .sync()
                .query_one("PRAGMA journal_mode", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = db
                .sync()
                .query_one("PRAGMA synchronous", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(sync, 2, "synchronous = FULL");
            let pages: i64 = db
                .sync()
                .query_one("PRAGMA wal_autocheckpoint", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(pages, 1000, "SQLite's own automatic checkpoints");
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_committed_row_survives_a_kill_on_both_halves",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, format!("{}|{half}", path.display()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut committed = Vec::new();
        let target = 7 + usize::from(half == "async") * 6;
        while committed.len() < target {
            let line = lines.next().expect("the child ended early").unwrap();
            // (The harness's own "test … " may begin the first line.)
            if let Some((_, id)) = line.split_once("committed ") {
                committed.push(id.parse::<i64>().unwrap());
            }
        }
        // SIGKILL, at once: no destructor, no checkpoint, no close.
        child.kill().unwrap();
        child.wait().unwrap();
        let db = Database::open(&url(&path)).unwrap();
        let rows = db
            .sync()
            .query("SELECT id FROM kept ORDER BY id", &[])
            .unwrap();
        let found: Vec<i64> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert!(
            committed.iter().all(|id| found.contains(id)),
            "{half}: committed {committed:?}, found {found:?}"
        );
        let n: i64 = db
            .sync()
            .query_one("PRAGMA integrity_check", &[])
            .map(|r| i64::from(r.get::<String>(0).unwrap() == "ok"))
            .unwrap();
        assert_eq!(n, 1, "{half}: the file is intact");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
