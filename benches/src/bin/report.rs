//! Writes BENCHMARKS.md's tables from the saved results in
//! `benches/results/`: the paired timings (`paired/*.tsv`, one file a run;
//! the runs with each pair in a process of its own, `DUALDB_BENCH_FRESH=1`,
//! in `paired-fresh/`; the control runs in `paired-control/`) and the
//! instruction counts
//! (`instructions.tsv`). Each table replaces the text between its markers,
//! `<!-- report:NAME -->` and `<!-- /report -->`; the rest of the page is
//! written by hand.
//!
//!     cargo run -p dualdb-benches --bin report            # rewrite the tables
//!     cargo run -p dualdb-benches --bin report -- --check # fail if they are stale
//!
//! `ci/test` runs the check, so the page never shows other figures than the
//! committed results.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One result file: its pairs, keyed by backend, half, workload and rows,
/// in the order they ran.
struct Run {
    keys: Vec<[String; 4]>,
    values: BTreeMap<[String; 4], BTreeMap<String, f64>>,
}

fn read_run(path: &Path) -> Run {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let mut run = Run {
        keys: Vec::new(),
        values: BTreeMap::new(),
    };
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let key = [0, 1, 2, 3].map(|i| cells[i].to_owned());
        let values = (header.iter().zip(&cells))
            .skip(4)
            .map(|(h, c)| (h.to_string(), c.parse().unwrap_or(f64::NAN)))
            .collect();
        run.keys.push(key.clone());
        run.values.insert(key, values);
    }
    run
}

fn runs_in(dir: &Path) -> Vec<Run> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "tsv"));
    paths.sort();
    paths.iter().map(|p| read_run(p)).collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn range(xs: &[f64]) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if format!("{lo:.2}") == format!("{hi:.2}") {
        format!("{lo:.2}")
    } else {
        format!("{lo:.2}–{hi:.2}")
    }
}

/// The paired table: per pair, the median over runs of each run's median
/// ratio, the range of those, the same median over the runs with each pair
/// in a process of its own, and the times of a call.
fn paired(runs: &[Run], fresh: &[Run], control: &[Run]) -> String {
    let mut out = String::new();
    let Some(first) = runs.first() else {
        return "No paired results saved yet.\n".into();
    };
    writeln!(
        out,
        "{} runs, all pairs in one process, and {} with each pair in a process of its own. Ratio: \
         dualdb's time a call over the raw driver's, the median of the runs' medians; range: the \
         runs' medians; fresh: the median of the runs' medians with each pair in a fresh process \
         (with its range); µs: a call's time, the median over runs.\n",
        runs.len(),
        fresh.len(),
    )
    .unwrap();
    out.push_str(
        "| backend | half | workload | rows | ratio | range over runs | fresh | dualdb µs | raw µs |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    let values_of = |runs: &[Run], key: &[String; 4], name: &str| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.values.get(key)?.get(name).copied())
            .collect()
    };
    let (mut within, mut total, mut worst) = (0, 0, 0.0f64);
    let (mut fresh_within, mut fresh_total) = (0, 0);
    for key in &first.keys {
        let ratios = values_of(runs, key, "ratio");
        let m = median(ratios.clone());
        total += 1;
        if m <= 1.05 {
            within += 1;
        }
        worst = worst.max(m);
        let fresh_ratios = values_of(fresh, key, "ratio");
        let fresh_cell = if fresh_ratios.is_empty() {
            "—".to_owned()
        } else {
            let f = median(fresh_ratios.clone());
            fresh_total += 1;
            if f <= 1.05 {
                fresh_within += 1;
            }
            match fresh_ratios.len() {
                1 => format!("{f:.2}"),
                _ => format!("{f:.2} ({})", range(&fresh_ratios)),
            }
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {m:.2} | {} | {fresh_cell} | {:.1} | {:.1} |",
            key[0],
            key[1],
            key[2],
            key[3],
            range(&ratios),
            median(values_of(runs, key, "dualdb_us")),
            median(values_of(runs, key, "raw_us")),
        )
        .unwrap();
    }
    writeln!(
        out,
        "\n{within} of {total} pairs at or under 1.05 (the highest median {worst:.2}); \
         each in a fresh process, {fresh_within} of {fresh_total}."
    )
    .unwrap();
    if !control.is_empty() {
        let ratios: Vec<f64> = control
            .iter()
            .flat_map(|r| r.values.values().filter_map(|v| v.get("ratio").copied()))
            .collect();
        writeln!(
            out,
            "The control (dualdb timed against itself, {} run{}): medians {}, the method's own noise.",
            control.len(),
            if control.len() == 1 { "" } else { "s" },
            range(&ratios)
        )
        .unwrap();
    }
    out
}

/// The instruction table: dualdb's and the raw driver's instructions a call.
fn instructions(run: Option<&Run>) -> String {
    let Some(run) = run else {
        return "No instruction counts saved yet.\n".into();
    };
    let mut out = String::new();
    out.push_str("| backend | half | workload | rows | dualdb Ir/call | raw Ir/call | ratio |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let (mut within, mut total) = (0, 0);
    for key in &run.keys {
        let v = &run.values[key];
        let ratio = v.get("ratio").copied().unwrap_or(f64::NAN);
        total += 1;
        if ratio <= 1.05 {
            within += 1;
        }
        writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {:.0} | {ratio:.2} |",
            key[0], key[1], key[2], key[3], v["dualdb_ir"], v["raw_ir"]
        )
        .unwrap();
    }
    writeln!(out, "\n{within} of {total} pairs at or under 1.05.").unwrap();
    out
}

/// `page` with the text between `<!-- report:NAME -->` and the next
/// `<!-- /report -->` replaced by `table`.
fn replace(page: &str, name: &str, table: &str) -> Result<String, String> {
    let open = format!("<!-- report:{name} -->");
    let close = "<!-- /report -->";
    let start = page
        .find(&open)
        .ok_or(format!("BENCHMARKS.md has no {open}"))?
        + open.len();
    let end = start
        + page[start..]
            .find(close)
            .ok_or(format!("{open} is not closed"))?;
    Ok(format!("{}\n{}{}", &page[..start], table, &page[end..]))
}

fn main() -> ExitCode {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let results = here.join("results");
    let page_path = here.join("../BENCHMARKS.md");
    let page = fs::read_to_string(&page_path).expect("BENCHMARKS.md");
    let counted = results.join("instructions.tsv");
    let counted = counted.exists().then(|| read_run(&counted));
    let written = replace(
        &page,
        "paired",
        &paired(
            &runs_in(&results.join("paired")),
            &runs_in(&results.join("paired-fresh")),
            &runs_in(&results.join("paired-control")),
        ),
    )
    .and_then(|p| replace(&p, "instructions", &instructions(counted.as_ref())));
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            eprintln!("report: {e}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().any(|a| a == "--check") {
        if written != page {
            eprintln!(
                "report: BENCHMARKS.md's tables differ from benches/results/; \
                 run `cargo run -p dualdb-benches --bin report`"
            );
            return ExitCode::FAILURE;
        }
        println!("report: BENCHMARKS.md's tables match benches/results/");
    } else if written != page {
        fs::write(&page_path, written).expect("write BENCHMARKS.md");
        println!("report: BENCHMARKS.md's tables rewritten");
    }
    ExitCode::SUCCESS
}
