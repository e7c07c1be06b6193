//! What the benches share: the 3-column table of DESIGN.md's numbers, and
//! the databases to run on.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dualdb::{Database, Model};

#[derive(Model, Debug)]
#[model(table = "bench_users")]
pub struct BenchUser {
    #[model(primary_key)]
    pub id: i32,
    pub name: String,
    pub hair_color: Option<String>,
}

pub const ROWS: i32 = 1_000;

/// A tree (the `tree` workload's): node `i`'s parent is node `i / 2`, node
/// 1 the root, ten levels for 1,000 nodes.
#[derive(Model, Debug)]
#[model(table = "bench_nodes")]
pub struct BenchNode {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = BenchNode)]
    pub parent: Option<i64>,
    pub name: String,
}

/// (Re)creates `bench_nodes` with nodes 1..=n.
pub fn setup_tree(db: &Database, n: i64) {
    let s = db.sync();
    s.drop_table::<BenchNode>().unwrap();
    s.create_table::<BenchNode>().unwrap();
    let nodes: Vec<BenchNode> = (1..=n)
        .map(|id| BenchNode {
            id,
            parent: (id > 1).then_some(id / 2),
            name: format!("node {id}"),
        })
        .collect();
    s.execute_query(BenchNode::insert_many(nodes)).unwrap();
}

/// The insert workload's table: a generated key and two text columns.
#[derive(Model, Debug)]
#[model(table = "bench_insert")]
pub struct Inserted {
    #[model(primary_key, auto)]
    pub id: i64,
    pub name: String,
    pub hair_color: Option<String>,
}

/// `n` rows to insert, as models.
pub fn new_rows(n: usize) -> Vec<Inserted> {
    (0..n)
        .map(|i| Inserted {
            id: 0,
            name: format!("user {i}"),
            hair_color: Some("brown".into()),
        })
        .collect()
}

/// The same `n` rows' values, for the raw drivers.
pub fn insert_values(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("user {i}"), "brown".to_string()))
        .collect()
}

/// The raw drivers' insert of `n` rows in one statement.
pub fn insert_sql(kind: dualdb::BackendKind, n: usize) -> String {
    let mut sql = String::from("INSERT INTO bench_insert (name, hair_color) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        match kind {
            dualdb::BackendKind::Postgres => {
                sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            }
            _ => sql.push_str("(?, ?)"),
        }
    }
    sql
}

/// (Re)creates `bench_users` with `ROWS` rows.
pub fn setup(db: &Database) {
    setup_rows(db, ROWS);
}

/// (Re)creates `bench_users` with ids 1..=n, inserted 1,000 to a statement.
pub fn setup_rows(db: &Database, n: i32) {
    let s = db.sync();
    s.drop_table::<BenchUser>().unwrap();
    s.create_table::<BenchUser>().unwrap();
    for start in (1..=n).step_by(1000) {
        let rows: Vec<BenchUser> = (start..=n.min(start + 999))
            .map(|id| BenchUser {
                id,
                name: format!("user {id}"),
                hair_color: Some("black".into()),
            })
            .collect();
        s.execute_query(BenchUser::insert_many(rows)).unwrap();
    }
}

/// [`setup_rows`]'s table of `n` users made by the server itself
/// (PostgreSQL's `generate_series`): a million rows in seconds.
pub fn setup_rows_server(db: &Database, n: i32) {
    let s = db.sync();
    s.drop_table::<BenchUser>().unwrap();
    s.create_table::<BenchUser>().unwrap();
    let fill = "INSERT INTO bench_users (id, name, hair_color) \
                SELECT g, 'user ' || g, 'black' FROM generate_series(1, $1) g";
    s.execute(fill, &[&n]).unwrap();
}

/// A raw tokio-postgres client, its connection driven on `rt`.
pub fn pg_client(rt: &tokio::runtime::Runtime, url: &str) -> tokio_postgres::Client {
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    client
}

/// SQLite (a file in the temp directory) always; PostgreSQL and MariaDB
/// when `DUALDB_PG_URL` / `DUALDB_MYSQL_URL` are set.
pub fn targets() -> Vec<String> {
    targets_in("dualdb-bench.sqlite")
}

/// [`targets`] with SQLite in the temp directory's file `sqlite_file` (a
/// bench whose tables must not meet the others').
pub fn targets_in(sqlite_file: &str) -> Vec<String> {
    let mut out = vec![format!(
        "sqlite://{}",
        std::env::temp_dir().join(sqlite_file).display()
    )];
    out.extend(std::env::var("DUALDB_PG_URL").ok());
    out.extend(std::env::var("DUALDB_MYSQL_URL").ok());
    out
}

/// Each throughput measurement's length: `DUALDB_BENCH_SECONDS`, default 5.
pub fn seconds() -> u64 {
    std::env::var("DUALDB_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Runs `tasks` copies of `op` for the measurement time; returns calls/s.
pub async fn throughput<F, Fut>(tasks: usize, op: F) -> f64
where
    F: Fn(i32) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (op, stop, done) = (op.clone(), stop.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut id = (t as i32 * 7919) % ROWS;
            while !stop.load(Ordering::Relaxed) {
                id = id % ROWS + 1;
                op(id).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The clock is a plain sleep of the thread that awaits this (`block_on`'s,
    // not a worker): tasks that never yield (a pool that never waits) would
    // starve the runtime's timers.
    let rate = measure(&done);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    rate
}

/// Runs `threads` OS threads calling `op` for the measurement time; calls/s.
pub fn thread_throughput(threads: usize, op: impl Fn(i32) + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (op, stop, done) = (&op, &stop, &done);
            s.spawn(move || {
                let mut id = (t as i32 * 7919) % ROWS;
                while !stop.load(Ordering::Relaxed) {
                    id = id % ROWS + 1;
                    op(id);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let rate = measure(&done);
        stop.store(true, Ordering::Relaxed);
        rate
    })
}

/// Sleeps through 0.5 s of warm-up, then counts `done` for the measurement
/// time: calls/s.
fn measure(done: &AtomicU64) -> f64 {
    std::thread::sleep(Duration::from_millis(500));
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds()));
    let n = done.load(Ordering::Relaxed) - start_count;
    n as f64 / started.elapsed().as_secs_f64()
}

/// The benches' runtime: two workers, as many as the machine's cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Where saved results go: the committed `benches/results/`.
pub fn results_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

/// The value of `--NAME VALUE` among the bench's arguments.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// Results written as they come, one tab-separated line a pair after a
/// header, to the file given with `--save`; `None` without one.
pub struct Saved(Option<std::fs::File>);

impl Saved {
    pub fn open(header: &str) -> Self {
        Saved(arg("--save").map(|path| {
            let path = std::path::Path::new(&path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            let mut f = std::fs::File::create(path).unwrap();
            use std::io::Write;
            writeln!(f, "backend\thalf\tworkload\trows\t{header}").unwrap();
            f
        }))
    }

    pub fn line(&mut self, key: &str, values: &[String]) {
        if let Some(f) = &mut self.0 {
            use std::io::Write;
            writeln!(f, "{key}\t{}", values.join("\t")).unwrap();
        }
    }
}
