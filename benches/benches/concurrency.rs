//! Get-by-primary-key throughput from 1, 16 and 64 tasks on PostgreSQL:
//! dualdb's async half, raw tokio-postgres (4 shared connections, prepared,
//! pipelined), and `pgbench -M prepared` with 1 and 16 clients on the same
//! table, in the same run; prints rows/s and the ratios.
//!
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench concurrency
//!
//! `DUALDB_BENCH_SECONDS` sets each measurement's length (default 5);
//! `PGBENCH` the pgbench binary (default PostgreSQL 15's).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dualdb::{Database, Model};
use support::{BenchUser, ROWS, seconds, setup, throughput};

const SQL: &str = "SELECT id, name, hair_color FROM bench_users WHERE id = $1";

/// pgbench's transactions/s for `clients` clients on the same query.
fn pgbench(url: &str, clients: usize) -> Option<f64> {
    let bin =
        std::env::var("PGBENCH").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pgbench".into());
    let u = url::Url::parse(url).ok()?;
    let script = std::env::temp_dir().join("dualdb-pgbench.sql");
    std::fs::write(
        &script,
        format!(
            "\\set id random(1, {ROWS})\nSELECT id, name, hair_color FROM bench_users WHERE id = :id;\n"
        ),
    )
    .ok()?;
    let out = std::process::Command::new(bin)
        .args(["-n", "-M", "prepared", "-f"])
        .arg(&script)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-T", &seconds().to_string()])
        .args([
            "-h",
            u.host_str()?,
            "-p",
            &u.port().unwrap_or(5432).to_string(),
        ])
        .args(["-U", u.username(), u.path().trim_start_matches('/')])
        .env("PGPASSWORD", u.password().unwrap_or_default())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("tps = "))?;
    line.trim_start_matches("tps = ")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let Ok(url) = std::env::var("DUALDB_PG_URL") else {
        eprintln!("DUALDB_PG_URL not set: run through ci/test --exec");
        return;
    };
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`, `--no-run` callers
    }
    let rt = support::runtime();
    let db = Database::open(&url).unwrap();
    setup(&db);

    let mut lines = Vec::new();
    for tasks in [1usize, 16, 64] {
        let d = db.clone();
        let ours = rt.block_on(throughput(tasks, move |id| {
            let d = d.clone();
            async move {
                d.aio().get(BenchUser::by_id(id)).await.unwrap();
            }
        }));
        let raw = rt.block_on(async {
            let mut clients = Vec::new();
            for _ in 0..4 {
                let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                let st = c.prepare(SQL).await.unwrap();
                clients.push((c, st));
            }
            let clients = Arc::new(clients);
            let next = Arc::new(AtomicU64::new(0));
            throughput(tasks, move |id| {
                let (clients, next) = (clients.clone(), next.clone());
                async move {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % clients.len();
                    let (c, st) = &clients[i];
                    let row = c.query_one(st, &[&id]).await.unwrap();
                    let _: (i32, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
                }
            })
            .await
        });
        lines.push((tasks, ours, raw));
    }
    let pg1 = pgbench(&url, 1);
    let pg16 = pgbench(&url, 16);

    println!(
        "\nget by primary key, PostgreSQL, rows/s ({} s each)",
        seconds()
    );
    println!("| tasks | dualdb async `get` | tokio-postgres, 4 shared, prepared | ratio |");
    println!("|---|---|---|---|");
    for (tasks, ours, raw) in &lines {
        println!("| {tasks} | {ours:.0} | {raw:.0} | {:.2} |", ours / raw);
    }
    let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0}"));
    println!(
        "\npgbench -M prepared: 1 client {}, 16 clients {}",
        fmt(pg1),
        fmt(pg16)
    );
    if let (Some(p1), Some(p16)) = (pg1, pg16) {
        println!("dualdb 1 task / pgbench 1 client: {:.2}", lines[0].1 / p1);
        println!(
            "dualdb 64 tasks / pgbench 16 clients: {:.2}",
            lines[2].1 / p16
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/concurrency.svg");
    match std::fs::write(&out, plot(&lines, pg1, pg16)) {
        Ok(()) => println!("plot: {}", out.display()),
        Err(e) => eprintln!("cannot write {}: {e}", out.display()),
    }
}

/// A plotted line: its name, colour and (tasks, rows/s) points.
type Series = (&'static str, &'static str, Vec<(f64, f64)>);

/// The concurrency curve as an SVG line chart: rows/s against tasks (log
/// scale), dualdb and raw tokio-postgres, with pgbench's points.
fn plot(lines: &[(usize, f64, f64)], pg1: Option<f64>, pg16: Option<f64>) -> String {
    let (w, h, left, bottom, top, right) = (700.0, 400.0, 80.0, 50.0, 30.0, 200.0);
    let max = lines
        .iter()
        .flat_map(|l| [l.1, l.2])
        .chain(pg1)
        .chain(pg16)
        .fold(1.0f64, f64::max)
        * 1.1;
    let x = |tasks: f64| left + (tasks.log2() / 64f64.log2()) * (w - left - right);
    let y = |v: f64| h - bottom - v / max * (h - bottom - top);
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n\
         <rect width='100%' height='100%' fill='white'/>\n\
         <text x='{left}' y='18' font-size='14'>get by primary key, PostgreSQL: rows/s by concurrent tasks</text>\n\
         <line x1='{left}' y1='{}' x2='{}' y2='{}' stroke='black'/>\n\
         <line x1='{left}' y1='{top}' x2='{left}' y2='{}' stroke='black'/>\n",
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for tasks in [1.0, 4.0, 16.0, 64.0] {
        svg += &format!(
            "<text x='{}' y='{}' text-anchor='middle'>{tasks}</text>\n",
            x(tasks),
            h - bottom + 18.0
        );
    }
    for i in 0..=4 {
        let v = max / 1.1 * f64::from(i) / 4.0;
        svg += &format!(
            "<text x='{}' y='{}' text-anchor='end'>{:.0}k</text>\n<line x1='{left}' y1='{}' x2='{}' y2='{}' stroke='#ddd'/>\n",
            left - 6.0,
            y(v) + 4.0,
            v / 1000.0,
            y(v),
            w - right,
            y(v)
        );
    }
    svg += &format!(
        "<text x='{}' y='{}' text-anchor='middle'>tasks (clients for pgbench)</text>\n",
        (left + w - right) / 2.0,
        h - 12.0
    );
    let series: [Series; 2] = [
        (
            "dualdb get (async)",
            "#1f77b4",
            lines.iter().map(|l| (l.0 as f64, l.1)).collect(),
        ),
        (
            "tokio-postgres, prepared",
            "#ff7f0e",
            lines.iter().map(|l| (l.0 as f64, l.2)).collect(),
        ),
    ];
    for (k, (name, color, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        svg += &format!(
            "<polyline fill='none' stroke='{color}' stroke-width='2' points='{}'/>\n",
            path.join(" ")
        );
        for (t, v) in points {
            svg += &format!(
                "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{color}'/>\n",
                x(*t),
                y(*v)
            );
        }
        svg += &format!(
            "<rect x='{}' y='{}' width='12' height='3' fill='{color}'/><text x='{}' y='{}'>{name}</text>\n",
            w - right + 10.0,
            top + 20.0 * k as f64,
            w - right + 26.0,
            top + 20.0 * k as f64 + 5.0
        );
    }
    for (clients, v) in [(1.0, pg1), (16.0, pg16)] {
        if let Some(v) = v {
            svg += &format!(
                "<rect x='{:.1}' y='{:.1}' width='8' height='8' fill='#2ca02c'/>\n",
                x(clients) - 4.0,
                y(v) - 4.0
            );
        }
    }
    svg += &format!(
        "<rect x='{}' y='{}' width='8' height='8' fill='#2ca02c'/><text x='{}' y='{}'>pgbench -M prepared</text>\n</svg>\n",
        w - right + 12.0,
        top + 36.0,
        w - right + 26.0,
        top + 45.0
    );
    svg
}
