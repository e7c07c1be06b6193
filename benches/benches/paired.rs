//! Time per call of each half of dualdb against the raw driver of the same
//! backend and half, measured in pairs: the two sides, both connected, take
//! turns in short batches (A B, then B A, and so on), and each round gives
//! one ratio. A machine whose speed drifts (two cores shared with the
//! servers, other benchmarks' connections closing) moves both sides of a
//! round alike, so the median ratio holds still where criterion's separate
//! benchmarks of the two sides, seconds apart, differ by 10-50%.
//!
//! Run it with the servers on the bench's core: unpinned, where the kernel
//! puts a server process relative to its client sets a round trip's time
//! for seconds at a time (on a 2-core machine, 33 or 73 µs), and the bench
//! timed against itself gave medians of 0.52 and 2.18 (BENCHMARKS.md).
//!
//!     ci/test --exec bash -c 'for p in $(pgrep -f "postgres|mariadbd"); do
//!         taskset -a -c -p 0 $p; done >/dev/null;
//!         taskset -c 0 cargo bench -p dualdb-benches --bench paired'
//!
//! `-- --save FILE` also writes the results as tab-separated lines, the
//! form `benches/results/paired/` keeps and `cargo run -p dualdb-benches
//! --bin report` turns into BENCHMARKS.md's tables.
//!
//! `DUALDB_BENCH_ONLY=stream,fold` times only the workloads named.
//! `DUALDB_BENCH_FRESH=1` times each pair in a child process of its own:
//! in one process a pair's ratio depends on the workloads timed before it
//! (their allocations shape the heap it runs on; BENCHMARKS.md, "Method"),
//! in a fresh one it does not.
//! `DUALDB_BENCH_ROUNDS` (default 60) sets the rounds of each pair; a batch
//! lasts about 20 ms. `DUALDB_PAIRED_CONTROL=1` times dualdb against itself
//! (both sides dualdb's): every ratio should then be about 1.00, and how far
//! they stray is the method's own noise. The workloads and sides are the
//! `instructions` bench's (benches/sides): the same code, timed instead of
//! counted.
//!
//! `DUALDB_BENCH_LOAD=1` is the loaded mode: a process spinning on CPU 1
//! (any `taskset` list) for the whole run, beside the bench and servers on
//! CPU 0, as other work on the machine would be. `get_16_threads` (16
//! threads sharing one pool against 16 raw connections) tells most run
//! unpinned, where the threads use both cores:
//! `DUALDB_BENCH_ONLY=get_16_threads cargo bench -p dualdb-benches --bench paired`.

use std::time::{Duration, Instant};

mod support;
// Its workloads' tables and raw loaders, some of which this bench does not use.
#[allow(dead_code)]
#[path = "workloads/associations.rs"]
mod associations;
mod sides;

/// How long one side's batch runs.
const BATCH: Duration = Duration::from_millis(20);

/// Rounds run before the timed ones (about 0.4 s a pair), as criterion
/// warms up before it measures.
const WARM_ROUNDS: usize = 10;

fn rounds() -> usize {
    std::env::var("DUALDB_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// A side and the next key it asks for.
struct Timed {
    calls: sides::Calls,
    next: usize,
}

impl Timed {
    /// Seconds per call over `n` calls.
    fn batch(&mut self, n: usize) -> f64 {
        let start = Instant::now();
        let seen = (self.calls)(self.next..self.next + n);
        let took = start.elapsed().as_secs_f64();
        assert!(seen > 0, "no rows came back or changed");
        self.next += n;
        took / n as f64
    }
}

/// The `q`th quantile (0 to 1) of sorted `xs`.
fn quantile(xs: &[f64], q: f64) -> f64 {
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

/// Median seconds per call of each side and the rounds' ratios (dualdb / raw), sorted.
fn pair(ours: &mut Timed, theirs: &mut Timed, rounds: usize) -> (f64, f64, Vec<f64>) {
    // Warm both (statement caches, pools, the server's buffers), then size the
    // batch from the raw side's speed.
    ours.batch(20);
    let per = theirs.batch(20);
    let n = ((BATCH.as_secs_f64() / per) as usize).clamp(1, 100_000);
    // Warm-up rounds, not counted: the first pairs of a run (SQLite's get
    // and 1-row select) were 0.02-0.03 higher in the first of three runs
    // than in the other two, twice, with a warm-up of one batch a side.
    for _ in 0..WARM_ROUNDS {
        ours.batch(n);
        theirs.batch(n);
    }
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (x, y) = if r % 2 == 0 {
            let x = ours.batch(n);
            (x, theirs.batch(n))
        } else {
            let y = theirs.batch(n);
            (ours.batch(n), y)
        };
        a.push(x);
        b.push(y);
        ratios.push(x / y);
    }
    for v in [&mut a, &mut b, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    (quantile(&a, 0.5), quantile(&b, 0.5), ratios)
}

/// The loaded mode's background work: a process that spins until killed.
fn burn() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// `DUALDB_BENCH_LOAD=CPUS` (a `taskset` CPU list, e.g. `1`): the loaded
/// mode. One process spinning on those CPUs for the whole run, as other
/// work on the machine would; killed when the run ends.
struct Load(Option<std::process::Child>);

impl Load {
    fn start() -> Self {
        let Ok(cpus) = std::env::var("DUALDB_BENCH_LOAD") else {
            return Load(None);
        };
        let exe = std::env::current_exe().expect("the bench's own path");
        let child = std::process::Command::new("taskset")
            .args(["-c", &cpus])
            .arg(exe)
            .arg("--burn")
            .spawn()
            .expect("taskset (util-linux) for DUALDB_BENCH_LOAD");
        Load(Some(child))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One pair timed: dualdb's median µs a call, the raw side's, and the
/// rounds' median ratio and quartiles.
type Figures = [f64; 5];

/// The sides of one pair: a workload's dualdb side and the side it is
/// timed against (the raw driver's, or dualdb's own in the control mode).
struct Sides<'a> {
    url: &'a str,
    workload: &'a str,
    rows: i32,
    ours: &'a str,
    theirs: &'a str,
}

/// Times `p` in this process.
fn time_pair(p: &Sides<'_>, rounds: usize) -> Figures {
    let mut ours = Timed {
        calls: sides::side(p.url, p.ours, p.workload, p.rows),
        next: 0,
    };
    let mut theirs = Timed {
        calls: sides::side(p.url, p.theirs, p.workload, p.rows),
        next: 0,
    };
    let (a, b, ratios) = pair(&mut ours, &mut theirs, rounds);
    [
        a * 1e6,
        b * 1e6,
        quantile(&ratios, 0.5),
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75),
    ]
}

/// Times `p` in a fresh child process (`--pair`): its heap, connections
/// and code paths are used by this pair alone, so that its figures do not
/// depend on the workloads before it (BENCHMARKS.md, "Method").
fn time_pair_fresh(p: &Sides<'_>, rounds: usize) -> Figures {
    let exe = std::env::current_exe().expect("the bench's own path");
    let out = std::process::Command::new(exe)
        .arg("--pair")
        .args([p.url, p.workload, &p.rows.to_string(), p.ours, p.theirs])
        .arg(rounds.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("the bench's child process");
    assert!(
        out.status.success(),
        "the child timing {} failed",
        p.workload
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.parse().expect("the child's figures"))
        .collect();
    figures.try_into().expect("five figures from the child")
}

/// `--pair URL WORKLOAD ROWS OURS THEIRS ROUNDS`: one pair timed in this
/// (child) process, its figures printed on one line.
fn child_pair(args: &[String]) {
    let pair = Sides {
        url: &args[0],
        workload: &args[1],
        rows: args[2].parse().expect("rows"),
        ours: &args[3],
        theirs: &args[4],
    };
    let rounds = args[5].parse().expect("rounds");
    let figures = time_pair(&pair, rounds);
    println!("{}", figures.map(|v| format!("{v:.4}")).join(" "));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list`, `--no-run` callers
    }
    if args.iter().any(|a| a == "--burn") {
        burn();
    }
    if let Some(at) = args.iter().position(|a| a == "--pair") {
        return child_pair(&args[at + 1..]);
    }
    let load = Load::start();
    let rounds = rounds();
    let control = std::env::var_os("DUALDB_PAIRED_CONTROL").is_some_and(|v| v == "1");
    let fresh = std::env::var_os("DUALDB_BENCH_FRESH").is_some_and(|v| v == "1");
    println!(
        "\n{rounds} rounds a pair, batches of about {} ms{}{}{}",
        BATCH.as_millis(),
        if control {
            ", control: dualdb against itself"
        } else {
            ""
        },
        if load.0.is_some() {
            ", loaded: a spinning process beside the run"
        } else {
            ""
        },
        if fresh {
            ", each pair in a process of its own"
        } else {
            ""
        }
    );
    println!(
        "| backend | half | workload | rows | dualdb µs/call | raw µs/call | ratio (median) | middle half of rounds |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut saved = support::Saved::open("dualdb_us\traw_us\tratio\tq25\tq75");
    // `DUALDB_BENCH_ONLY=stream,fold` times those workloads alone.
    let only = std::env::var("DUALDB_BENCH_ONLY").ok();
    let workloads: Vec<sides::Workload> = sides::TIMED
        .iter()
        .filter(|w| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == w.0))
        })
        .copied()
        .collect();
    for url in support::targets() {
        sides::each_pair(&url, &workloads, |p| {
            let sides = Sides {
                url: p.url,
                workload: p.workload,
                rows: p.rows,
                ours: p.ours,
                theirs: if control { p.ours } else { p.theirs },
            };
            let figures = match fresh {
                true => time_pair_fresh(&sides, rounds),
                false => time_pair(&sides, rounds),
            };
            let [a, b, median, q25, q75] = figures;
            println!(
                "{} {a:.1} | {b:.1} | {median:.2} | {q25:.2}-{q75:.2} |",
                p.label
            );
            saved.line(&p.key, &figures.map(|v| format!("{v:.4}")));
        });
    }
}
