//! Instructions per call, each half of dualdb against the raw driver of the
//! same backend and half (the async halves on a one-thread runtime), counted
//! by Valgrind (`cachegrind`, no cache simulation): a figure that does not
//! move with the machine's load, where the timings of `get_by_pk` and `workloads` move by 10-20% between runs on
//! two shared cores. It counts the client's work only (the server's is the
//! same for both), so it shows what dualdb adds, not what a call costs.
//!
//!     apt-get install valgrind
//!     ci/test --exec cargo bench --all-features --bench instructions
//!
//! Each figure is the difference of two child processes, one making `LONG`
//! calls and one `SHORT`, divided by the calls between them: start-up,
//! connecting and the first statement's preparation fall out.

use std::process::Command;

use dualdb::{BackendKind, Database, Model};

mod support;
// Its medium-query helpers; the criterion functions go unused here.
#[allow(dead_code)]
#[path = "workloads/associations.rs"]
mod associations;
use associations::{BenchPost, Joined, fill, lite_joined, medium_sql, pg_joined, split};
use support::{BenchUser, Inserted, insert_sql, insert_values, new_rows};

const SHORT: usize = 200;
const LONG: usize = 1_200;

type Raw = (i32, String, Option<String>);

/// The workloads: (name, rows in the table or, for `insert`, in each
/// statement, divisor of `SHORT` and `LONG` for the calls, so that 1,000-row
/// selects make fewer).
const WORKLOADS: [(&str, i32, usize); 5] = [
    ("get", 1_000, 1),
    ("trivial", 1, 1),
    ("trivial", 1_000, 20),
    ("insert", INSERT_ROWS as i32, 1),
    ("medium", MEDIUM_USERS, 4),
];

/// The medium query's users (half of them black-haired, every fourth with a
/// post): 50 rows of `(user, post if any)` a call.
const MEDIUM_USERS: i32 = 100;

/// The rows of each insert statement, no rows read back (diesel_bench's
/// insert workload, one of its sizes).
const INSERT_ROWS: usize = 10;

/// The key the `k`th call looks up: 1 to 1,000 in turn.
fn key(k: usize) -> i32 {
    (k % 1_000) as i32 + 1
}

/// Decodes PostgreSQL rows as the benches' raw side does; how many.
fn pg_decoded(rows: &[tokio_postgres::Row]) -> usize {
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect::<Vec<Raw>>()
        .len()
}

fn sqlite_url() -> String {
    format!(
        "sqlite://{}",
        std::env::temp_dir()
            .join("dualdb-instructions.sqlite")
            .display()
    )
}

fn targets() -> Vec<String> {
    let mut out = vec![sqlite_url()];
    out.extend(std::env::var("DUALDB_PG_URL").ok());
    out.extend(std::env::var("DUALDB_MYSQL_URL").ok());
    out
}

/// One side's calls, in this (child) process: `calls` gets by key or
/// selects of every row of `bench_users`.
fn run(url: &str, side: &str, workload: &str, calls: usize) {
    if workload == "insert" {
        return insert(url, side, calls);
    }
    if workload == "medium" {
        return medium(url, side, calls);
    }
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let by_id = match kind {
        BackendKind::Postgres => "SELECT id, name, hair_color FROM bench_users WHERE id = $1",
        _ => "SELECT id, name, hair_color FROM bench_users WHERE id = ?",
    };
    let all = "SELECT id, name, hair_color FROM bench_users";
    let sql = if workload == "get" { by_id } else { all };
    let mut seen = 0usize;
    // Every call returns rows; `seen` keeps the optimiser from dropping them.
    match (side, kind) {
        ("dualdb", _) => {
            let s = db.sync();
            for k in 0..calls {
                seen += match workload {
                    "get" => s.get(BenchUser::by_id(key(k))).unwrap().name.len(),
                    _ => s.execute_query(BenchUser::select()).unwrap().len(),
                };
            }
        }
        ("dualdb_async", _) => {
            let rt = runtime();
            seen += rt.block_on(async {
                let a = db.aio();
                let mut seen = 0;
                for k in 0..calls {
                    seen += match workload {
                        "get" => a.get(BenchUser::by_id(key(k))).await.unwrap().name.len(),
                        _ => a.execute_query(BenchUser::select()).await.unwrap().len(),
                    };
                }
                seen
            });
        }
        ("raw_async", BackendKind::Postgres) => {
            let rt = runtime();
            seen += rt.block_on(async {
                let c = pg_async(url).await;
                let st = c.prepare(sql).await.unwrap();
                let mut seen = 0;
                for k in 0..calls {
                    let id = key(k);
                    let rows = if workload == "get" {
                        c.query(&st, &[&id]).await.unwrap()
                    } else {
                        c.query(&st, &[]).await.unwrap()
                    };
                    seen += pg_decoded(&rows);
                }
                seen
            });
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let rt = runtime();
            seen += rt.block_on(async {
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                let mut seen = 0;
                for k in 0..calls {
                    let id = key(k);
                    let rows: Vec<Raw> = if workload == "get" {
                        c.exec(sql, (id,)).await.unwrap()
                    } else {
                        c.exec(sql, ()).await.unwrap()
                    };
                    seen += rows.len();
                }
                seen
            });
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(sql).unwrap();
            for k in 0..calls {
                let id = key(k);
                let rows = if workload == "get" {
                    c.query(&st, &[&id]).unwrap()
                } else {
                    c.query(&st, &[]).unwrap()
                };
                seen += pg_decoded(&rows);
            }
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            for k in 0..calls {
                let id = key(k);
                let rows: Vec<Raw> = if workload == "get" {
                    c.exec(sql, (id,)).unwrap()
                } else {
                    c.exec(sql, ()).unwrap()
                };
                seen += rows.len();
            }
        }
        _ => {
            let c = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
            for k in 0..calls {
                let id = key(k);
                let mut st = c.prepare_cached(sql).unwrap();
                let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
                let rows = if workload == "get" {
                    st.query_map([id], row)
                } else {
                    st.query_map([], row)
                };
                seen += rows
                    .unwrap()
                    .collect::<Result<Vec<Raw>, _>>()
                    .unwrap()
                    .len();
            }
        }
    }
    assert!(calls == 0 || seen > 0, "no rows came back");
}

/// One side's calls of the insert workload, in this (child) process:
/// `INSERT_ROWS` rows a statement, the count of rows changed back.
fn insert(url: &str, side: &str, calls: usize) {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = insert_sql(kind, INSERT_ROWS);
    let ours = || Inserted::insert_many(new_rows(INSERT_ROWS)).without_returning();
    let mut changed = 0u64;
    match (side, kind) {
        ("dualdb", _) => {
            let s = db.sync();
            for _ in 0..calls {
                changed += s.execute_query(ours()).unwrap();
            }
        }
        ("dualdb_async", _) => {
            changed += runtime().block_on(async {
                let a = db.aio();
                let mut changed = 0;
                for _ in 0..calls {
                    changed += a.execute_query(ours()).await.unwrap();
                }
                changed
            });
        }
        ("raw_async", BackendKind::Postgres) => {
            changed += runtime().block_on(async {
                let c = pg_async(url).await;
                let st = c.prepare(&sql).await.unwrap();
                let mut changed = 0;
                for _ in 0..calls {
                    let v = insert_values(INSERT_ROWS);
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = v
                        .iter()
                        .flat_map(|(a, b)| [a as &(dyn tokio_postgres::types::ToSql + Sync), b])
                        .collect();
                    changed += c.execute(&st, &params).await.unwrap();
                }
                changed
            });
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            changed += runtime().block_on(async {
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                let mut changed = 0;
                for _ in 0..calls {
                    let params: Vec<mysql_async::Value> = insert_values(INSERT_ROWS)
                        .into_iter()
                        .flat_map(|(a, b)| [a.into(), b.into()])
                        .collect();
                    c.exec_drop(sql.as_str(), params).await.unwrap();
                    changed += c.affected_rows();
                }
                changed
            });
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&sql).unwrap();
            for _ in 0..calls {
                let v = insert_values(INSERT_ROWS);
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> = v
                    .iter()
                    .flat_map(|(a, b)| [a as &(dyn postgres::types::ToSql + Sync), b])
                    .collect();
                changed += c.execute(&st, &params).unwrap();
            }
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            for _ in 0..calls {
                let params: Vec<mysql::Value> = insert_values(INSERT_ROWS)
                    .into_iter()
                    .flat_map(|(a, b)| [a.into(), b.into()])
                    .collect();
                c.exec_drop(sql.as_str(), params).unwrap();
                changed += c.affected_rows();
            }
        }
        _ => {
            let c = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
            for _ in 0..calls {
                let v = insert_values(INSERT_ROWS);
                let mut st = c.prepare_cached(&sql).unwrap();
                changed += st
                    .execute(rusqlite::params_from_iter(
                        v.iter().flat_map(|(a, b)| [a, b]),
                    ))
                    .unwrap() as u64;
            }
        }
    }
    assert!(calls == 0 || changed > 0, "no rows were inserted");
}

/// One side's calls of the medium query (users LEFT JOIN posts by hair
/// colour) into (user, post if any), in this (child) process.
fn medium(url: &str, side: &str, calls: usize) {
    type Pair = (BenchUser, Option<BenchPost>);
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = medium_sql(kind);
    let sql = sql.as_str();
    let mut seen = 0usize;
    match (side, kind) {
        ("dualdb", _) => {
            let s = db.sync();
            for _ in 0..calls {
                seen += s.raw::<Pair>(sql, &[&"black"]).unwrap().len();
            }
        }
        ("dualdb_async", _) => {
            seen += runtime().block_on(async {
                let a = db.aio();
                let mut seen = 0;
                for _ in 0..calls {
                    seen += a.raw::<Pair>(sql, &[&"black"]).await.unwrap().len();
                }
                seen
            });
        }
        ("raw_async", BackendKind::Postgres) => {
            seen += runtime().block_on(async {
                let c = pg_async(url).await;
                let st = c.prepare(sql).await.unwrap();
                let mut seen = 0;
                for _ in 0..calls {
                    let rows = c.query(&st, &[&"black"]).await.unwrap();
                    seen += rows
                        .iter()
                        .map(|r| split(pg_joined(r)))
                        .collect::<Vec<_>>()
                        .len();
                }
                seen
            });
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            seen += runtime().block_on(async {
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                let mut seen = 0;
                for _ in 0..calls {
                    let rows: Vec<Joined> = c.exec(sql, ("black",)).await.unwrap();
                    seen += rows.into_iter().map(split).collect::<Vec<_>>().len();
                }
                seen
            });
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(sql).unwrap();
            for _ in 0..calls {
                let rows = c.query(&st, &[&"black"]).unwrap();
                seen += rows
                    .iter()
                    .map(|r| split(pg_joined(r)))
                    .collect::<Vec<_>>()
                    .len();
            }
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            for _ in 0..calls {
                let rows: Vec<Joined> = c.exec(sql, ("black",)).unwrap();
                seen += rows.into_iter().map(split).collect::<Vec<_>>().len();
            }
        }
        _ => {
            let c = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
            for _ in 0..calls {
                let mut st = c.prepare_cached(sql).unwrap();
                let rows = st.query_map(["black"], |r| lite_joined(r).map(split));
                seen += rows.unwrap().collect::<Result<Vec<_>, _>>().unwrap().len();
            }
        }
    }
    assert!(calls == 0 || seen > 0, "no rows came back");
}

/// The tables `workload` runs on: `rows` users (or rows an insert).
fn setup(db: &Database, workload: &str, rows: i32) {
    match workload {
        "insert" => {
            db.sync().drop_table::<Inserted>().unwrap();
            db.sync().create_table::<Inserted>().unwrap();
        }
        "medium" => fill(db, rows, 1, 0, 4),
        _ => support::setup_rows(db, rows),
    }
}

/// A raw tokio-postgres client, its connection driven on this runtime.
async fn pg_async(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

/// A runtime of one thread: Valgrind runs one thread at a time, and idle
/// workers would count their searching for work.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The instructions a child process ran, as Valgrind counted them.
fn counted(url: &str, side: &str, workload: &str, calls: usize) -> Option<u64> {
    let me = std::env::current_exe().ok()?;
    let out = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(me)
        .args(["--child", url, side, workload, &calls.to_string()])
        .output()
        .ok()?;
    let report = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprintln!("{report}");
        return None;
    }
    report
        .lines()
        .filter_map(|l| l.split_once("== ").map(|(_, rest)| rest))
        .find_map(|l| {
            l.strip_prefix("I")
                .and_then(|r| r.trim_start().strip_prefix("refs:"))
        })
        .and_then(|n| n.trim().replace(',', "").parse().ok())
}

/// Instructions per call: the calls between a short and a long run.
fn per_call(url: &str, side: &str, workload: &str, scale: usize) -> Option<f64> {
    let short = counted(url, side, workload, SHORT / scale)?;
    let long = counted(url, side, workload, LONG / scale)?;
    Some(long.saturating_sub(short) as f64 / ((LONG - SHORT) / scale) as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let calls = args[at + 4].parse().unwrap();
        return run(&args[at + 1], &args[at + 2], &args[at + 3], calls);
    }
    // `--setup URL WORKLOAD ROWS`: the tables as the count of that workload
    // finds them, for counting one child by hand.
    if let Some(at) = args.iter().position(|a| a == "--setup") {
        let db = Database::open(&args[at + 1]).unwrap();
        associations::drop_tables(&db);
        return setup(&db, &args[at + 2], args[at + 3].parse().unwrap());
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("instructions: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    println!("| backend | half | workload | rows | dualdb Ir/call | raw Ir/call | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for url in targets() {
        let db = Database::open(&url).unwrap();
        let kind = db.backend();
        associations::drop_tables(&db);
        // rusqlite has no async half to compare with.
        let halves: &[(&str, &str, &str)] = match kind {
            BackendKind::Sqlite => &[("blocking", "dualdb", "raw")],
            _ => &[
                ("blocking", "dualdb", "raw"),
                ("async", "dualdb_async", "raw_async"),
            ],
        };
        for (workload, rows, scale) in WORKLOADS {
            setup(&db, workload, rows);
            let shown = match workload {
                "get" => 1,
                "medium" => rows / 2,
                _ => rows,
            };
            for &(half, ours, theirs) in halves {
                match (
                    per_call(&url, ours, workload, scale),
                    per_call(&url, theirs, workload, scale),
                ) {
                    (Some(a), Some(b)) => println!(
                        "| {kind} | {half} | {workload} | {shown} | {a:.0} | {b:.0} | {:.2} |",
                        a / b
                    ),
                    _ => println!("| {kind} | {half} | {workload} | {shown} | failed | | |"),
                }
            }
        }
        // As the other benches expect it: 1,000 users, no posts referring to them.
        associations::drop_tables(&db);
        support::setup(&db);
    }
}
