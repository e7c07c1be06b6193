//! Instructions per call, each half of dualdb against the raw driver of the
//! same backend and half (the async halves on a one-thread runtime), counted
//! by Valgrind (`callgrind`, no cache simulation): a figure that does not
//! move with the machine's load, where the timings of `get_by_pk` and `workloads` move by 10-20% between runs on
//! two shared cores. It counts the client's work only (the server's is the
//! same for both), so it shows what dualdb adds, not what a call costs.
//!
//!     apt-get install valgrind
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench instructions
//!
//! Each figure is the difference of two child processes, one making `LONG`
//! calls and one `SHORT`, divided by the calls between them: start-up,
//! connecting and the first statement's preparation fall out.
//!
//! Left out of both sides: the async runtime's idle loop ([`IDLE_LOOP`]),
//! where it waits for the OS and turns its drivers while no task is ready.
//! It runs as often as the server's replies come late, which the client does
//! not choose: counted in, a slower server (a fresh one in CI, or one
//! sharing its core with a busy loop) raised one side's count more than the
//! other's, and the gate failed a change that did not touch the path; left
//! out, both sides move together and the ratio repeats. The work a wake-up
//! brings (polling the task that was woken) is counted.
//!
//! `-- --save FILE` writes the results as tab-separated lines; the
//! committed `benches/results/instructions.tsv` is the latest run and the
//! baseline. `-- --check` is the gate (ci/test runs it) for a change to a hot
//! path: it fails if any workload's ratio to its raw driver rose more than
//! 3% above that baseline's in each of [`TRIES`] counts.

use std::process::Command;

use dualdb::Database;

mod support;
// Its workloads' tables and raw loaders, some of which this bench does not use.
#[allow(dead_code)]
#[path = "workloads/associations.rs"]
mod associations;
mod sides;

const SHORT: usize = 200;
const LONG: usize = 1_200;

/// One side's calls, in this (child) process.
fn run(url: &str, side: &str, workload: &str, rows: i32, calls: usize) {
    // dualdb's blocking half connects to a server on a helper thread (for
    // its connect timeout), and once a process has started a thread glibc's
    // malloc takes a lock on each call that the tcache does not serve: 2% of
    // a 1,000-row select, not dualdb's code. The raw blocking side of a
    // server starts one thread too, so that both count the same malloc.
    // SQLite's blocking half starts none, nor do the async sides.
    if side == "raw" && !url.starts_with("sqlite") {
        std::thread::spawn(|| ()).join().unwrap();
    }
    let seen = sides::side(url, side, workload, rows)(0..calls);
    assert!(calls == 0 || seen > 0, "no rows came back or changed");
}

/// The current-thread runtime's idle loop (both async sides run on one):
/// callgrind stops counting on entering these and resumes on leaving them.
const IDLE_LOOP: [&str; 2] = [
    "tokio::runtime::scheduler::current_thread::Context::park",
    "tokio::runtime::scheduler::current_thread::Context::park_yield",
];

/// The instructions a child process ran outside the runtime's idle loop, as
/// Valgrind counted them.
fn counted(p: &sides::Pair<'_>, side: &str, calls: usize) -> Option<u64> {
    let me = std::env::current_exe().ok()?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .args(IDLE_LOOP.map(|f| format!("--toggle-collect={f}")))
        // After the toggles, which turn it off.
        .arg("--collect-atstart=yes")
        .arg(me)
        .args(["--child", p.url, side, p.workload, &calls.to_string()])
        .arg(p.rows.to_string())
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
        .find_map(|l| l.strip_prefix("Collected :"))
        .and_then(|n| n.trim().parse().ok())
}

/// Instructions per call: the calls between a short and a long run. The
/// two run at once (one per core): a count does not depend on the time the
/// server takes, as the idle loop is left out (see the module doc).
fn per_call(p: &sides::Pair<'_>, side: &str) -> Option<f64> {
    let (short, long) = std::thread::scope(|s| {
        let short = s.spawn(|| counted(p, side, SHORT / p.scale));
        let long = counted(p, side, LONG / p.scale);
        (short.join().ok().flatten(), long)
    });
    Some(long?.saturating_sub(short?) as f64 / ((LONG - SHORT) / p.scale) as f64)
}

/// The most a ratio may rise above its baseline under `--check`.
const RISE: f64 = 1.03;

/// Counts of a pair that rose past the baseline `was` taken in all: how the
/// server's replies are cut into reads still moves a side's count of a
/// blocking select between runs of one build, so a pair is failed only if
/// every count rose, and the lowest ratio is reported.
const TRIES: usize = 3;

/// dualdb's and the raw driver's instructions per call of one pair: the
/// count with the lowest ratio of up to [`TRIES`] while it rises past `was`.
fn counted_pair(p: &sides::Pair<'_>, was: Option<f64>) -> Option<(f64, f64)> {
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..TRIES {
        let (a, b) = (per_call(p, p.ours)?, per_call(p, p.theirs)?);
        if best.is_none_or(|(x, y)| a / b < x / y) {
            best = Some((a, b));
        }
        match was {
            Some(was) if a / b > was * RISE => continue,
            _ => break,
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        // `--child URL SIDE WORKLOAD CALLS [ROWS]`: ROWS a statement for an
        // insert (10 if not given).
        let calls = args[at + 4].parse().unwrap();
        let rows = args.get(at + 5).map_or(10, |r| r.parse().unwrap());
        return run(&args[at + 1], &args[at + 2], &args[at + 3], rows, calls);
    }
    // `--setup URL WORKLOAD ROWS`: the tables as the count of that workload
    // finds them, for counting one child by hand.
    if let Some(at) = args.iter().position(|a| a == "--setup") {
        let db = Database::open(&args[at + 1]).unwrap();
        associations::drop_tables(&db);
        return sides::setup(&db, &args[at + 2], args[at + 3].parse().unwrap());
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("instructions: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    let check = args.iter().any(|a| a == "--check");
    let baseline = check.then(baseline);
    println!("| backend | half | workload | rows | dualdb Ir/call | raw Ir/call | ratio |");
    println!("|---|---|---|---|---|---|---|");
    let mut saved = support::Saved::open("dualdb_ir\traw_ir\tratio");
    let mut risen = Vec::new();
    for url in support::targets_in("dualdb-instructions.sqlite") {
        sides::each_pair(&url, sides::COUNTED, |p| {
            let was = baseline.as_ref().and_then(|base| base.get(&p.key)).copied();
            match counted_pair(p, was) {
                Some((a, b)) => {
                    println!("{} {a:.0} | {b:.0} | {:.3} |", p.label, a / b);
                    saved.line(
                        &p.key,
                        &[
                            format!("{a:.0}"),
                            format!("{b:.0}"),
                            format!("{:.4}", a / b),
                        ],
                    );
                    if let Some(was) = was
                        && a / b > was * RISE
                    {
                        risen.push(format!(
                            "{}: {was:.3} -> {:.3}",
                            p.key.replace('\t', " "),
                            a / b
                        ));
                    }
                }
                None => {
                    println!("{} failed | | |", p.label);
                    risen.push(format!("{}: not counted", p.key.replace('\t', " ")));
                }
            }
        });
    }
    if check {
        if risen.is_empty() {
            println!("\nno ratio rose more than 3% above benches/results/instructions.tsv");
        } else {
            eprintln!("\nratios more than 3% above benches/results/instructions.tsv:");
            for r in &risen {
                eprintln!("  {r}");
            }
            std::process::exit(1);
        }
    }
}

/// The committed ratios, by pair: `benches/results/instructions.tsv`.
fn baseline() -> std::collections::HashMap<String, f64> {
    let path = support::results_dir().join("instructions.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("--check needs {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Some((cells[..4].join("\t"), cells.get(6)?.parse().ok()?))
        })
        .collect()
}
