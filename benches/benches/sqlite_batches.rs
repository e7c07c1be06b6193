//! What handing rows over in batches costs on SQLite, where a row costs
//! less than anywhere else: 10,000 rows of the benches' three-column table
//! read and decoded a call, rusqlite's own row iterator against rusqlite's
//! rows read `N` at a time into a queue and handed out from it (what any
//! iterator that reads ahead does), beside dualdb's blocking iterator
//! (`fetch`, read by a `for` loop) and `fold`.
//!
//!     cargo bench -p dualdb-benches --bench sqlite_batches
//!
//! The sides take turns, round after round, on one core if the caller pins
//! the process (`taskset -c 0`); each row is the median of the rounds.
//! BENCHMARKS.md ("Row streams") has a run.

use std::collections::VecDeque;
use std::time::Instant;

use dualdb::{Database, Model};

mod support;

use support::BenchUser;

const ROWS: i32 = 10_000;
const CALLS: usize = 20;
const ROUNDS: usize = 41;
const SQL: &str = "SELECT id, name, hair_color FROM bench_users";

type Raw = (i32, String, Option<String>);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// One call: every row, decoded and counted, by `side`.
fn call(side: &str, c: &rusqlite::Connection, db: &Database) -> usize {
    let seen = |name: &str| usize::from(!name.is_empty());
    match side {
        "rusqlite iterator" => {
            let mut st = c.prepare_cached(SQL).unwrap();
            let mut n = 0;
            for u in st.query_map([], raw_row).unwrap() {
                n += seen(&u.unwrap().1);
            }
            n
        }
        "dualdb fetch" => {
            let mut n = 0;
            for u in db.sync().fetch(BenchUser::select()) {
                n += seen(&u.unwrap().name);
            }
            n
        }
        "dualdb fold" => db
            .sync()
            .fold(BenchUser::select(), 0, |n, u: BenchUser| {
                Ok::<_, dualdb::Error>(n + seen(&u.name))
            })
            .unwrap(),
        batched => {
            // "rusqlite, N at a time": a queue refilled when it is empty.
            let size: usize = batched
                .trim_start_matches("rusqlite, ")
                .trim_end_matches(" at a time")
                .parse()
                .unwrap();
            let mut st = c.prepare_cached(SQL).unwrap();
            let mut rows = st.query([]).unwrap();
            let mut queue: VecDeque<Raw> = VecDeque::with_capacity(size);
            let (mut n, mut ended) = (0, false);
            loop {
                if let Some(u) = queue.pop_front() {
                    n += seen(&u.1);
                    continue;
                }
                if ended {
                    return n;
                }
                for _ in 0..size {
                    match rows.next().unwrap() {
                        Some(r) => queue.push_back(raw_row(r).unwrap()),
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let path = std::env::temp_dir().join("dualdb-sqlite-batches.db");
    let url = format!("sqlite://{}", path.display());
    let db = Database::open(&url).unwrap();
    support::setup_rows(&db, ROWS);
    let c = rusqlite::Connection::open(&path).unwrap();
    let sides = [
        "rusqlite iterator",
        "rusqlite, 256 at a time",
        "rusqlite, 16 at a time",
        "rusqlite, 3 at a time",
        "dualdb fetch",
        "dualdb fold",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for round in 0..=ROUNDS {
        // Each round in another order, so that no side always follows the
        // same one; round 0 warms up and is not kept.
        for k in 0..sides.len() {
            let i = (k + round) % sides.len();
            let start = Instant::now();
            for _ in 0..CALLS {
                assert_eq!(call(sides[i], &c, &db), ROWS as usize);
            }
            if round > 0 {
                times[i].push(start.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&mut times[0]);
    println!("| side | µs a call ({ROWS} rows) | of rusqlite's iterator |");
    println!("|---|---|---|");
    for (side, t) in sides.iter().zip(&mut times) {
        let m = median(t);
        println!("| {side} | {m:.0} | {:.2} |", m / base);
    }
    drop((db, c));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
