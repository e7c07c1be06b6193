//! Peak memory of reading 1,000,000 rows: `fold_rows` (one row at a time)
//! and `fetch_rows` (a row stream or iterator) against `query` (all rows
//! collected), on each backend and half. Each
//! measurement runs in a child process of its own and reports its peak
//! resident set (`VmHWM`), so one does not inflate the next.
//!
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench streaming
//!
//! Not criterion: it measures memory, not time (it prints the time too).

use std::process::Command;
use std::time::Instant;

use dualdb::Database;

const ROWS: i64 = 1_000_000;
const TABLE: &str = "stream_bench";

/// The peak resident set of this process so far, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn urls() -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "SQLite",
        format!(
            "sqlite://{}/dualdb-stream-bench.db",
            std::env::temp_dir().display()
        ),
    )];
    if let Ok(u) = std::env::var("DUALDB_PG_URL") {
        out.push(("PostgreSQL", u));
    }
    if let Ok(u) = std::env::var("DUALDB_MYSQL_URL") {
        out.push(("MariaDB", u));
    }
    out
}

/// A table of `ROWS` rows of (id, 40-character text), made by the server.
fn fill(db: &Database) {
    let s = db.sync();
    s.execute(&format!("DROP TABLE IF EXISTS {TABLE}"), &[])
        .unwrap();
    s.execute(
        &format!("CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, payload VARCHAR(64))"),
        &[],
    )
    .unwrap();
    let fill = match db.backend() {
        dualdb::BackendKind::Postgres => format!(
            "INSERT INTO {TABLE} SELECT g, md5(g::text) || 'abcdefgh' FROM generate_series(1, {ROWS}) g"
        ),
        _ => format!(
            "INSERT INTO {TABLE} WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             SELECT i, '0123456789abcdef0123456789abcdef01234567' FROM n"
        ),
    };
    // dualdb's MySQL sessions set no limit on a recursive query's rounds.
    s.execute(&fill, &[]).unwrap();
}

/// One measurement, in this (child) process.
fn measure(url: &str, mode: &str, half: &str) {
    let db = Database::open(url).unwrap();
    let sql = format!("SELECT id, payload FROM {TABLE}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Connect and warm up before the baseline.
    db.sync().query_one("SELECT 1", &[]).unwrap();
    rt.block_on(db.aio().query_one("SELECT 1", &[])).unwrap();
    let base = peak_mib();
    let started = Instant::now();
    let fold = |(n, bytes): (i64, usize), row: dualdb::Row| {
        let payload: String = row.get(1)?;
        Ok::<_, dualdb::Error>((n + 1, bytes + payload.len()))
    };
    let (n, _) = match (mode, half) {
        ("fold_rows", "blocking") => db.sync().fold_rows(&sql, &[], (0, 0), fold).unwrap(),
        ("fold_rows", _) => rt
            .block_on(db.aio().fold_rows(&sql, &[], (0, 0), fold))
            .unwrap(),
        ("fetch_rows", "blocking") => db
            .sync()
            .fetch_rows(&sql, &[])
            .try_fold((0, 0), |acc, row| fold(acc, row?))
            .unwrap(),
        ("fetch_rows", _) => {
            use futures::TryStreamExt;
            rt.block_on(
                db.aio()
                    .fetch_rows(&sql, &[])
                    .try_fold((0, 0), async |acc, row| fold(acc, row)),
            )
            .unwrap()
        }
        (_, "blocking") => {
            let rows = db.sync().query(&sql, &[]).unwrap();
            rows.into_iter().try_fold((0, 0), fold).unwrap()
        }
        _ => {
            let rows = rt.block_on(db.aio().query(&sql, &[])).unwrap();
            rows.into_iter().try_fold((0, 0), fold).unwrap()
        }
    };
    assert_eq!(n, ROWS);
    println!(
        "{:.1} {:.2}",
        peak_mib() - base,
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "--measure" {
        return measure(&args[2], &args[3], &args[4]);
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo bench --no-run` / `cargo test --benches`
    }
    println!(
        "| backend | half | fold_rows: peak MiB above baseline | fetch_rows: peak MiB | query (all rows): peak MiB | fold_rows s | fetch_rows s | query s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, url) in urls() {
        fill(&Database::open(&url).unwrap());
        for half in ["blocking", "async"] {
            let run = |mode: &str| -> (String, String) {
                let out = Command::new(std::env::current_exe().unwrap())
                    .args(["--measure", &url, mode, half])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let (mib, secs) = text.split_once(' ').unwrap_or((&text, ""));
                (mib.to_string(), secs.to_string())
            };
            let (fold_mib, fold_s) = run("fold_rows");
            let (fetch_mib, fetch_s) = run("fetch_rows");
            let (query_mib, query_s) = run("query");
            println!(
                "| {name} | {half} | {fold_mib} | {fetch_mib} | {query_mib} | {fold_s} | {fetch_s} | {query_s} |"
            );
        }
    }
}
