//! Committed one-row inserts into a SQLite file, each its own transaction,
//! at both libraries' durable settings (WAL, `synchronous = FULL`: the WAL
//! is synced at each commit): dualdb's blocking half against rusqlite.
//!
//! First each side alone on a fresh file, timed in blocks of 250 inserts,
//! so that the blocks while the WAL file grows (each sync also writes the
//! file's new size) show beside the blocks after SQLite's automatic
//! checkpoint, when the WAL is written again from its start at the size it
//! has; then both sides in turn on one file whose WAL has reached its size,
//! as the paired bench's `insert` rows are timed.
//!
//!     cargo bench -p dualdb-benches --bench sqlite_commits
//!
//! Not criterion: an fsync's time is the disk's; the blocks show where it
//! changes. BENCHMARKS.md ("Committed inserts on SQLite") has a run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dualdb::Database;

const BLOCK: usize = 250;
const BLOCKS: usize = 8;
const CREATE: &str = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, hair TEXT)";
const INSERT: &str = "INSERT INTO t (name, hair) VALUES (?1, ?2)";

/// A fresh file's path in a directory of its own under the temp directory.
fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn wal_kib(path: &Path) -> u64 {
    std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len() / 1024)
}

/// rusqlite at SQLite's defaults, WAL as dualdb sets it.
fn rusqlite_conn(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute(CREATE, []).unwrap();
    c
}

fn dualdb_conn(path: &Path) -> Database {
    let db = Database::open(&format!("sqlite://{}", path.display())).unwrap();
    db.sync().execute(CREATE, &[]).unwrap();
    db
}

/// `BLOCK` inserts; µs an insert.
fn rusqlite_block(c: &rusqlite::Connection, from: usize) -> f64 {
    let start = Instant::now();
    for i in from..from + BLOCK {
        let mut st = c.prepare_cached(INSERT).unwrap();
        st.execute((format!("user {i}"), "brown")).unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / BLOCK as f64
}

fn dualdb_block(db: &Database, from: usize) -> f64 {
    let s = db.sync();
    let start = Instant::now();
    for i in from..from + BLOCK {
        s.execute(INSERT, &[&format!("user {i}"), &"brown"])
            .unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / BLOCK as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = std::env::temp_dir().join("dualdb-sqlite-commits");
    std::fs::create_dir_all(&dir).unwrap();
    let settings = {
        let db = dualdb_conn(&fresh(&dir, "settings.db"));
        let row = db.sync().query_one("PRAGMA synchronous", &[]).unwrap();
        let sync: i64 = row.get(0).unwrap();
        let c = rusqlite_conn(&fresh(&dir, "settings-raw.db"));
        let raw: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        (sync, raw)
    };
    println!(
        "synchronous: dualdb {}, rusqlite {} (2 = FULL)\n",
        settings.0, settings.1
    );

    println!("| block (inserts) | dualdb µs/insert | WAL KiB | rusqlite µs/insert | WAL KiB |");
    println!("|---|---|---|---|---|");
    let ours_path = fresh(&dir, "ours.db");
    let theirs_path = fresh(&dir, "theirs.db");
    let db = dualdb_conn(&ours_path);
    let c = rusqlite_conn(&theirs_path);
    for b in 0..BLOCKS {
        let ours = dualdb_block(&db, b * BLOCK);
        let theirs = rusqlite_block(&c, b * BLOCK);
        println!(
            "| {}–{} | {ours:.0} | {} | {theirs:.0} | {} |",
            b * BLOCK + 1,
            (b + 1) * BLOCK,
            wal_kib(&ours_path),
            wal_kib(&theirs_path)
        );
    }
    drop((db, c));

    // Both on one file, its WAL at its size: dualdb, rusqlite, rusqlite,
    // dualdb, … as the paired bench takes turns.
    let shared = fresh(&dir, "shared.db");
    let db = dualdb_conn(&shared);
    let c = rusqlite_conn(&shared);
    let mut n = 0;
    for _ in 0..6 {
        dualdb_block(&db, n);
        n += BLOCK;
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..BLOCKS {
        let (a, b) = if round % 2 == 0 {
            let a = dualdb_block(&db, n);
            (a, rusqlite_block(&c, n + BLOCK))
        } else {
            let b = rusqlite_block(&c, n);
            (dualdb_block(&db, n + BLOCK), b)
        };
        n += 2 * BLOCK;
        ours.push(a);
        theirs.push(b);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "\none file, in turn ({} blocks each): dualdb {:.0} µs/insert, rusqlite {:.0}, ratio {:.2}",
        BLOCKS,
        mean(&ours),
        mean(&theirs),
        mean(&ours) / mean(&theirs)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
