//! The sides the `instructions` and `paired` benches compare: each half of
//! dualdb and the raw driver of the same backend and half, on each
//! workload, connected once and then called for a range of keys.
//!
//! The async sides each run on a runtime of one thread: Valgrind runs one
//! thread at a time, idle workers would count their searching for work, and
//! both sides of a pair get the same kind of runtime.

use std::ops::Range;

use dualdb::{BackendKind, Database, Model};

use crate::associations::{
    self, BenchComment, BenchPost, Joined, fill, lite, lite_joined, lite_load, loading_sql,
    medium_sql, my_load_async, my_load_sync, pg, pg_joined, split,
};
use crate::support::{self, BenchNode, BenchUser, Inserted, insert_sql, insert_values, new_rows};

/// A workload: (name, rows in the table or, for `insert`, in each
/// statement, divisor of a bench's call count, so that 1,000-row selects
/// make fewer).
pub type Workload = (&'static str, i32, usize);

/// The workloads the `instructions` bench counts (Valgrind is slow): one
/// size of each.
#[allow(dead_code)] // each bench uses one of the two lists
pub const COUNTED: &[Workload] = &[
    ("get", 1_000, 1),
    ("trivial", 1, 1),
    ("trivial", 1_000, 20),
    ("insert", 10, 1),
    ("medium", MEDIUM_USERS, 4),
];

/// The workloads the `paired` bench times: every size of diesel_bench's
/// trivial query (1 to 10,000 rows) and insert (1 to 100 rows a
/// statement), the medium query and the get by key.
#[allow(dead_code)]
pub const TIMED: &[Workload] = &[
    ("get", 1_000, 1),
    ("get_16_threads", 1_000, 1),
    ("trivial", 1, 1),
    ("trivial", 10, 1),
    ("trivial", 100, 1),
    ("trivial", 1_000, 20),
    ("trivial", 10_000, 200),
    ("insert", 1, 1),
    ("insert", 10, 1),
    ("insert", 25, 1),
    ("insert", 50, 1),
    ("insert", 100, 1),
    ("medium", MEDIUM_USERS, 4),
    ("join", 1_000, 20),
    ("window", 1_000, 20),
    ("per_group", 1_000, 20),
    ("tree", 1_000, 20),
    ("filtered", 1_000, 20),
    ("bulk_update", 1_000, 1),
    ("insert_from", 1_000, 1),
    ("query_as", 1, 1),
    ("query_as", 1_000, 20),
    ("associations", 100, 1),
    ("stream", 10_000, 200),
    ("fold", 10_000, 200),
    ("stream_tx", 10_000, 200),
    ("copy", 1_000, 20),
    ("fold_rows", ROWS_1M, 1),
    ("stream_rows", ROWS_1M, 1),
];

/// The rows `fold_rows` and `stream_rows` read a call: a result too large
/// to hold, read as it arrives.
const ROWS_1M: i32 = 1_000_000;

/// The medium query's users (half of them black-haired, every fourth with a
/// post): 50 rows of `(user, post if any)` a call.
const MEDIUM_USERS: i32 = 100;

/// The halves of a backend, each as (name, dualdb's side, the raw side):
/// rusqlite has no async half to compare with.
fn halves(kind: BackendKind) -> &'static [(&'static str, &'static str, &'static str)] {
    match kind {
        BackendKind::Sqlite => &[("blocking", "dualdb", "raw")],
        _ => &[
            ("blocking", "dualdb", "raw"),
            ("async", "dualdb_async", "raw_async"),
        ],
    }
}

/// One pair to compare: a workload on one half of one backend, its tables
/// made.
pub struct Pair<'a> {
    pub url: &'a str,
    pub workload: &'static str,
    /// Rows in the table or, for `insert`, in each statement.
    pub rows: i32,
    /// The divisor of a bench's call count (`WORKLOADS`); the paired bench
    /// times batches instead.
    #[allow(dead_code)]
    pub scale: usize,
    /// dualdb's side and the raw driver's (see [`side`]).
    pub ours: &'static str,
    pub theirs: &'static str,
    /// The first four cells of the pair's row in a table: backend, half,
    /// workload, rows shown a call.
    pub label: String,
    /// The same four, tab-separated: the pair's key in saved results.
    pub key: String,
}

/// Calls `f` for each of `workloads` and every half of the backend at
/// `url`, each workload's tables made first; leaves the tables as
/// [`restore`] does.
pub fn each_pair(url: &str, workloads: &[Workload], mut f: impl FnMut(&Pair<'_>)) {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    associations::drop_tables(&db);
    for &(workload, rows, scale) in workloads {
        // COPY is PostgreSQL's; the million-row reads compare with
        // tokio-postgres' `query_raw` (and keep a full run short).
        if matches!(workload, "copy" | "fold_rows" | "stream_rows") && kind != BackendKind::Postgres
        {
            continue;
        }
        setup(&db, workload, rows);
        let shown = match workload {
            "get" | "get_16_threads" => 1,
            "medium" => rows / 2,
            "per_group" => 200,
            "filtered" => 2,
            "bulk_update" => BULK_ROWS,
            "insert_from" => COPIED_ROWS,
            _ => rows,
        };
        for &(half, ours, theirs) in halves(kind) {
            // Threads are the blocking half's concurrency.
            if workload == "get_16_threads" && half == "async" {
                continue;
            }
            f(&Pair {
                url,
                workload,
                rows,
                scale,
                ours,
                theirs,
                label: format!("| {kind} | {half} | {workload} | {shown} |"),
                key: format!("{kind}\t{half}\t{workload}\t{shown}"),
            });
        }
    }
    restore(&db);
}

/// One side, connected: each call makes the workload's calls for the keys
/// (`k`th call: [`key`]) of the range and returns how many rows it saw or
/// changed, so that the optimiser cannot drop them.
pub type Calls = Box<dyn FnMut(Range<usize>) -> usize>;

/// `side` ("dualdb", "dualdb_async", "raw", "raw_async") of `workload` on
/// the database at `url`, connected and ready; `rows` a statement for an
/// insert (a select reads the rows its table has).
pub fn side(url: &str, side: &str, workload: &str, rows: i32) -> Calls {
    match workload {
        "insert" => insert(url, side, rows as usize),
        "medium" => medium(url, side),
        "join" => join(url, side),
        "window" => window(url, side),
        "per_group" => per_group(url, side),
        "tree" => tree(url, side),
        "filtered" => filtered(url, side),
        "bulk_update" => bulk(url, side),
        "insert_from" => copy_rows(url, side),
        "query_as" => query_as(url, side),
        "associations" => loading(url, side),
        "stream" | "fold" | "stream_rows" | "fold_rows" => stream(url, side, workload),
        "stream_tx" => stream_tx(url, side),
        "copy" => copy(url, side, rows as usize),
        "get_16_threads" => threads_get(url, side, 16),
        _ => select(url, side, workload == "get"),
    }
}

/// The tables `workload` runs on: `rows` users (or rows an insert).
pub fn setup(db: &Database, workload: &str, rows: i32) {
    match workload {
        "insert" => {
            db.sync().drop_table::<Inserted>().unwrap();
            db.sync().create_table::<Inserted>().unwrap();
        }
        "insert_from" => {
            associations::drop_tables(db);
            support::setup_rows(db, rows);
            db.sync().drop_table::<Inserted>().unwrap();
            db.sync().create_table::<Inserted>().unwrap();
        }
        "medium" => fill(db, rows, 1, 0, 4),
        "join" | "window" | "per_group" | "filtered" => fill(db, rows, 1, 0, 1),
        "tree" => support::setup_tree(db, i64::from(rows)),
        "associations" => fill(db, rows, 10, 10, 1),
        "fold_rows" | "stream_rows" => {
            associations::drop_tables(db);
            support::setup_rows_server(db, rows);
        }
        "copy" => {
            let sql = "CREATE UNLOGGED TABLE IF NOT EXISTS bench_copy (id BIGINT, name TEXT)";
            db.sync().execute(sql, &[]).unwrap();
            db.sync().execute("TRUNCATE bench_copy", &[]).unwrap();
        }
        _ => {
            // After `associations`, posts would still point at the users.
            associations::drop_tables(db);
            support::setup_rows(db, rows);
        }
    }
}

/// The key the `k`th call looks up: 1 to 1,000 in turn.
fn key(k: usize) -> i32 {
    (k % 1_000) as i32 + 1
}

type Raw = (i32, String, Option<String>);

/// Decodes PostgreSQL rows as the benches' raw side does; how many.
fn pg_decoded(rows: &[tokio_postgres::Row]) -> usize {
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect::<Vec<Raw>>()
        .len()
}

/// Gets by key (`get`) or selects of every row of `bench_users`.
fn select(url: &str, side: &str, get: bool) -> Calls {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let by_id = match kind {
        BackendKind::Postgres => "SELECT id, name, hair_color FROM bench_users WHERE id = $1",
        _ => "SELECT id, name, hair_color FROM bench_users WHERE id = ?",
    };
    let all = "SELECT id, name, hair_color FROM bench_users";
    let sql = if get { by_id } else { all };
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|k| match get {
                true => s.get(BenchUser::by_id(key(k))).unwrap().name.len(),
                false => s.execute_query(BenchUser::select()).unwrap().len(),
            })
            .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, k| match get {
            true => db
                .aio()
                .get(BenchUser::by_id(key(k)))
                .await
                .unwrap()
                .name
                .len(),
            false => db
                .aio()
                .execute_query(BenchUser::select())
                .await
                .unwrap()
                .len(),
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, sql);
            on_runtime(rt, c, async move |(c, st), k| {
                let rows = match get {
                    true => c.query(&*st, &[&key(k)]).await.unwrap(),
                    false => c.query(&*st, &[]).await.unwrap(),
                };
                pg_decoded(&rows)
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, k| {
                let rows: Vec<Raw> = match get {
                    true => c.exec(sql, (key(k),)).await.unwrap(),
                    false => c.exec(sql, ()).await.unwrap(),
                };
                rows.len()
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(sql).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let rows = match get {
                        true => c.query(&st, &[&key(k)]).unwrap(),
                        false => c.query(&st, &[]).unwrap(),
                    };
                    pg_decoded(&rows)
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let rows: Vec<Raw> = match get {
                        true => c.exec(sql, (key(k),)).unwrap(),
                        false => c.exec(sql, ()).unwrap(),
                    };
                    rows.len()
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|k| {
                    let mut st = c.prepare_cached(sql).unwrap();
                    let row = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
                    let rows = match get {
                        true => st.query_map([key(k)], row),
                        false => st.query_map([], row),
                    };
                    rows.unwrap()
                        .collect::<Result<Vec<Raw>, _>>()
                        .unwrap()
                        .len()
                })
                .sum()
            })
        }
    }
}

/// Gets by key from `threads` threads at once, each with its own raw
/// connection, or all through one dualdb pool of `threads` connections
/// (blocking half; the async half's many tasks are the `concurrency`
/// bench's): a call is a get on every thread.
fn threads_get(url: &str, side: &str, threads: usize) -> Calls {
    let make: std::sync::Arc<dyn Fn() -> Calls + Send + Sync> = match side {
        "dualdb" => {
            let db = Database::builder(url)
                .sync_pool_size(threads)
                .build()
                .unwrap();
            db.sync().connect().unwrap();
            std::sync::Arc::new(move || {
                let db = db.clone();
                Box::new(move |keys: Range<usize>| {
                    let s = db.sync();
                    keys.map(|k| s.get(BenchUser::by_id(key(k))).unwrap().name.len())
                        .sum()
                })
            })
        }
        _ => {
            let url = url.to_owned();
            std::sync::Arc::new(move || select(&url, "raw", true))
        }
    };
    crew(threads, make)
}

/// `threads` threads, each running the calls `make` makes there; a call of
/// the crew's is a call on every thread at once (keys spread among them),
/// returning when the last is done.
fn crew(threads: usize, make: std::sync::Arc<dyn Fn() -> Calls + Send + Sync>) -> Calls {
    use std::sync::mpsc;
    let (done, finished) = mpsc::channel::<usize>();
    let workers: Vec<mpsc::Sender<Range<usize>>> = (0..threads)
        .map(|_| {
            let (work, todo) = mpsc::channel::<Range<usize>>();
            let (make, done) = (make.clone(), done.clone());
            std::thread::spawn(move || {
                let mut calls = make();
                for keys in todo {
                    done.send(calls(keys)).unwrap();
                }
            });
            work
        })
        .collect();
    Box::new(move |keys: Range<usize>| {
        for (i, w) in workers.iter().enumerate() {
            let at = keys.start + i * 61;
            w.send(at..at + keys.len()).unwrap();
        }
        (0..threads).map(|_| finished.recv().unwrap()).sum()
    })
}

/// A struct that is no model, read by column name (its fields are read
/// by the decoding timed, as the raw sides' tuples are, and by nothing
/// after).
#[allow(dead_code)]
#[derive(dualdb::FromRow)]
struct UserRow {
    id: i32,
    name: String,
    hair_color: Option<String>,
}

/// Every row of `bench_users` by `query_as` into a `#[derive(FromRow)]`
/// struct (its fields by column name) against the raw drivers' decoding of
/// the same rows by position (the `trivial` select's raw sides).
fn query_as(url: &str, side: &str) -> Calls {
    let db = Database::open(url).unwrap();
    let sql = "SELECT id, name, hair_color FROM bench_users";
    let seen = |rows: Vec<UserRow>| rows.len();
    match side {
        "dualdb" => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| seen(s.query_as(sql, &[]).unwrap())).sum()
        }),
        "dualdb_async" => on_runtime(runtime(), db, async move |db, _| {
            seen(db.aio().query_as(sql, &[]).await.unwrap())
        }),
        _ => select(url, side, false),
    }
}

/// Every row of `bench_users` read as it arrives, decoded and counted,
/// never all in memory: dualdb's row stream or iterator (`fetch`), or its
/// `fold`, into models (`stream`, `fold`) or as raw rows (`stream_rows`,
/// `fold_rows`: `fetch_rows`, `fold_rows`), against the raw driver's own
/// streaming (tokio-postgres' `query_raw`, mysql_async's `exec_stream`, the
/// blocking drivers' row iterators).
fn stream(url: &str, side: &str, workload: &str) -> Calls {
    use futures::StreamExt as _;
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = "SELECT id, name, hair_color FROM bench_users";
    let fold = workload.starts_with("fold");
    let raw_rows = workload.ends_with("_rows");
    // A raw row decoded as the raw sides decode theirs.
    fn seen(r: &dualdb::Row) -> dualdb::Result<usize> {
        let u: Raw = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok(usize::from(!u.1.is_empty()))
    }
    match (side, kind) {
        ("dualdb", _) if raw_rows => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| match fold {
                true => s
                    .fold_rows(sql, &[], 0, |n, r| Ok::<_, dualdb::Error>(n + seen(&r)?))
                    .unwrap(),
                false => s
                    .fetch_rows(sql, &[])
                    .map(|r| seen(&r.unwrap()).unwrap())
                    .sum(),
            })
            .sum()
        }),
        ("dualdb_async", _) if raw_rows => {
            on_runtime(runtime(), db, async move |db, _| match fold {
                true => db
                    .aio()
                    .fold_rows(sql, &[], 0, |n, r| Ok::<_, dualdb::Error>(n + seen(&r)?))
                    .await
                    .unwrap(),
                false => {
                    let mut rows = db.aio().fetch_rows(sql, &[]);
                    let mut n = 0;
                    while let Some(r) = rows.next().await {
                        n += seen(&r.unwrap()).unwrap();
                    }
                    n
                }
            })
        }
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| match fold {
                true => s
                    .fold(BenchUser::select(), 0, |n, u: BenchUser| {
                        Ok::<_, dualdb::Error>(n + usize::from(!u.name.is_empty()))
                    })
                    .unwrap(),
                false => s
                    .fetch(BenchUser::select())
                    .map(|u| usize::from(!u.unwrap().name.is_empty()))
                    .sum(),
            })
            .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| match fold {
            true => db
                .aio()
                .fold(BenchUser::select(), 0, |n, u: BenchUser| {
                    Ok::<_, dualdb::Error>(n + usize::from(!u.name.is_empty()))
                })
                .await
                .unwrap(),
            false => {
                // Read as the raw side reads its stream.
                let mut users = db.aio().fetch(BenchUser::select());
                let mut n = 0;
                while let Some(u) = users.next().await {
                    n += usize::from(!u.unwrap().name.is_empty());
                }
                n
            }
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, sql);
            on_runtime(rt, c, async move |(c, st), _| {
                let rows = c.query_raw(&*st, std::iter::empty::<i32>()).await.unwrap();
                let mut rows = std::pin::pin!(rows);
                let mut n = 0;
                while let Some(r) = rows.next().await {
                    let r = r.unwrap();
                    let u: Raw = (r.get(0), r.get(1), r.get(2));
                    n += usize::from(!u.1.is_empty());
                }
                n
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                let mut rows = c.exec_stream::<Raw, _, _>(sql, ()).await.unwrap();
                let mut n = 0;
                while let Some(u) = rows.next().await {
                    n += usize::from(!u.unwrap().1.is_empty());
                }
                n
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| pg_read(c.query_raw(&st, std::iter::empty::<i32>()).unwrap()))
                    .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    c.exec_iter(sql, ())
                        .unwrap()
                        .map(|r| {
                            let u: Raw = mysql::from_row(r.unwrap());
                            usize::from(!u.1.is_empty())
                        })
                        .sum::<usize>()
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| keys.map(|_| lite_read(&c, sql)).sum())
        }
    }
}

/// `stream` inside a transaction: begin, every row of `bench_users` read as
/// it arrives and decoded, commit. dualdb's iterator or stream of a
/// transaction (`SyncTx::fetch`, `AsyncTx::fetch`) against each driver's
/// own transaction and row stream.
fn stream_tx(url: &str, side: &str) -> Calls {
    use futures::StreamExt as _;
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = "SELECT id, name, hair_color FROM bench_users";
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| {
                let tx = s.begin().unwrap();
                let n = tx
                    .fetch(BenchUser::select())
                    .map(|u| usize::from(!u.unwrap().name.is_empty()))
                    .sum::<usize>();
                tx.commit().unwrap();
                n
            })
            .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| {
            let tx = db.aio().begin().await.unwrap();
            let mut users = tx.fetch(BenchUser::select());
            let mut n = 0;
            while let Some(u) = users.next().await {
                n += usize::from(!u.unwrap().name.is_empty());
            }
            drop(users);
            tx.commit().await.unwrap();
            n
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, sql);
            on_runtime(rt, c, async move |(c, st), _| {
                let tx = c.transaction().await.unwrap();
                let rows = tx.query_raw(&*st, std::iter::empty::<i32>()).await.unwrap();
                let mut rows = std::pin::pin!(rows);
                let mut n = 0;
                while let Some(r) = rows.next().await {
                    let r = r.unwrap();
                    let u: Raw = (r.get(0), r.get(1), r.get(2));
                    n += usize::from(!u.1.is_empty());
                }
                tx.commit().await.unwrap();
                n
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                let mut tx = c.start_transaction(Default::default()).await.unwrap();
                let mut n = 0;
                {
                    let mut rows = tx.exec_stream::<Raw, _, _>(sql, ()).await.unwrap();
                    while let Some(u) = rows.next().await {
                        n += usize::from(!u.unwrap().1.is_empty());
                    }
                }
                tx.commit().await.unwrap();
                n
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let mut tx = c.transaction().unwrap();
                    let n = pg_read(tx.query_raw(&st, std::iter::empty::<i32>()).unwrap());
                    tx.commit().unwrap();
                    n
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let mut tx = c.start_transaction(mysql::TxOpts::default()).unwrap();
                    let n = tx
                        .exec_iter(sql, ())
                        .unwrap()
                        .map(|r| {
                            let u: Raw = mysql::from_row(r.unwrap());
                            usize::from(!u.1.is_empty())
                        })
                        .sum::<usize>();
                    tx.commit().unwrap();
                    n
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|_| {
                    let tx = c.unchecked_transaction().unwrap();
                    let n = lite_read(&tx, sql);
                    tx.commit().unwrap();
                    n
                })
                .sum()
            })
        }
    }
}

/// Every row of `sql` read by rusqlite's own row iterator and decoded as
/// the other raw sides decode theirs (on a connection or a transaction).
fn lite_read(c: &rusqlite::Connection, sql: &str) -> usize {
    let mut st = c.prepare_cached(sql).unwrap();
    let row =
        |r: &rusqlite::Row<'_>| -> rusqlite::Result<Raw> { Ok((r.get(0)?, r.get(1)?, r.get(2)?)) };
    st.query_map([], row)
        .unwrap()
        .map(|u| usize::from(!u.unwrap().1.is_empty()))
        .sum()
}

/// The blocking `postgres` crate's streamed rows, decoded as the other raw
/// sides decode theirs.
fn pg_read(mut rows: postgres::RowIter<'_>) -> usize {
    use postgres::fallible_iterator::FallibleIterator as _;
    let mut n = 0;
    while let Some(r) = rows.next().unwrap() {
        let u: Raw = (r.get(0), r.get(1), r.get(2));
        n += usize::from(!u.1.is_empty());
    }
    n
}

/// `rows` rows of `(id, name)` a call into `bench_copy` by PostgreSQL's
/// binary COPY: dualdb's `copy_in_rows` (an iterator, or a stream on the
/// async half) against the drivers' own `BinaryCopyInWriter`.
fn copy(url: &str, side: &str, rows: usize) -> Calls {
    let names: Vec<String> = (0..rows).map(|i| format!("name {i}")).collect();
    let data = move |k: usize| {
        let names = names.clone();
        (0..rows).map(move |i| ((k * rows + i) as i64, names[i].clone()))
    };
    let sql = "COPY bench_copy (id, name) FROM STDIN (FORMAT binary)";
    let types = [postgres::types::Type::INT8, postgres::types::Type::TEXT];
    match side {
        "dualdb" => {
            let db = Database::open(url).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let n = db
                        .sync()
                        .copy_in_rows("bench_copy", &["id", "name"], data(k));
                    n.unwrap() as usize
                })
                .sum()
            })
        }
        "dualdb_async" => on_runtime(
            runtime(),
            Database::open(url).unwrap(),
            async move |db, k| {
                let rows = futures::stream::iter(data(k));
                db.aio()
                    .copy_in_rows("bench_copy", &["id", "name"], rows)
                    .await
                    .unwrap() as usize
            },
        ),
        "raw_async" => {
            let (rt, c) = pg_async(url, "SELECT 1");
            on_runtime(rt, c, async move |(c, _), k| {
                let sink = c.copy_in(sql).await.unwrap();
                let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                let mut writer = std::pin::pin!(writer);
                for (id, name) in data(k) {
                    writer.as_mut().write(&[&id, &name]).await.unwrap();
                }
                writer.finish().await.unwrap() as usize
            })
        }
        _ => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let sink = c.copy_in(sql).unwrap();
                    let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                    for (id, name) in data(k) {
                        writer.write(&[&id, &name]).unwrap();
                    }
                    writer.finish().unwrap() as usize
                })
                .sum()
            })
        }
    }
}

/// The insert workload: `rows` rows a statement, no rows read back, the
/// count of rows changed back.
fn insert(url: &str, side: &str, rows: usize) -> Calls {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = insert_sql(kind, rows);
    let ours = move || Inserted::insert_many(new_rows(rows)).without_returning();
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| s.execute_query(ours()).unwrap() as usize)
                .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| {
            db.aio().execute_query(ours()).await.unwrap() as usize
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, &sql);
            on_runtime(rt, c, async move |(c, st), _| {
                let v = insert_values(rows);
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = v
                    .iter()
                    .flat_map(|(a, b)| [a as &(dyn tokio_postgres::types::ToSql + Sync), b])
                    .collect();
                c.execute(&*st, &params).await.unwrap() as usize
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                let params: Vec<mysql_async::Value> = insert_values(rows)
                    .into_iter()
                    .flat_map(|(a, b)| [a.into(), b.into()])
                    .collect();
                c.exec_drop(sql.as_str(), params).await.unwrap();
                c.affected_rows() as usize
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let v = insert_values(rows);
                    let params: Vec<&(dyn postgres::types::ToSql + Sync)> = v
                        .iter()
                        .flat_map(|(a, b)| [a as &(dyn postgres::types::ToSql + Sync), b])
                        .collect();
                    c.execute(&st, &params).unwrap() as usize
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let params: Vec<mysql::Value> = insert_values(rows)
                        .into_iter()
                        .flat_map(|(a, b)| [a.into(), b.into()])
                        .collect();
                    c.exec_drop(sql.as_str(), params).unwrap();
                    c.affected_rows() as usize
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|_| {
                    let v = insert_values(rows);
                    let mut st = c.prepare_cached(&sql).unwrap();
                    st.execute(rusqlite::params_from_iter(
                        v.iter().flat_map(|(a, b)| [a, b]),
                    ))
                    .unwrap()
                })
                .sum()
            })
        }
    }
}

/// The medium query (users LEFT JOIN posts by hair colour) into (user, post
/// if any).
fn medium(url: &str, side: &str) -> Calls {
    type Pair = (BenchUser, Option<BenchPost>);
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = medium_sql(kind);
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| s.raw::<Pair>(&sql, &[&"black"]).unwrap().len())
                .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| {
            db.aio().raw::<Pair>(&sql, &[&"black"]).await.unwrap().len()
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, &sql);
            on_runtime(rt, c, async move |(c, st), _| {
                let rows = c.query(&*st, &[&"black"]).await.unwrap();
                rows.iter()
                    .map(|r| split(pg_joined(r)))
                    .collect::<Vec<_>>()
                    .len()
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                let rows: Vec<Joined> = c.exec(sql.as_str(), ("black",)).await.unwrap();
                rows.into_iter().map(split).collect::<Vec<_>>().len()
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let rows = c.query(&st, &[&"black"]).unwrap();
                    rows.iter()
                        .map(|r| split(pg_joined(r)))
                        .collect::<Vec<_>>()
                        .len()
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let rows: Vec<Joined> = c.exec(sql.as_str(), ("black",)).unwrap();
                    rows.into_iter().map(split).collect::<Vec<_>>().len()
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|_| {
                    let mut st = c.prepare_cached(&sql).unwrap();
                    let rows = st.query_map(["black"], |r| lite_joined(r).map(split));
                    rows.unwrap().collect::<Result<Vec<_>, _>>().unwrap().len()
                })
                .sum()
            })
        }
    }
}

/// The raw side's SQL of the `join` workload: what dualdb's typed join
/// writes, each model's columns in order.
const JOIN_SQL: &str = "SELECT bench_users.id, bench_users.name, bench_users.hair_color, \
    bench_posts.id, bench_posts.user_id, bench_posts.title, bench_posts.body \
    FROM bench_users INNER JOIN bench_posts ON bench_users.id = bench_posts.user_id";

/// A join of two models, 1,000 rows a call into `(user, post)` tuples:
/// dualdb's `join::<BenchPost>().models()` against the raw drivers running
/// the same SQL and decoding the same seven columns.
fn join(url: &str, side: &str) -> Calls {
    type Pair = (BenchUser, BenchPost);
    let q = || BenchUser::select().join::<BenchPost>().models::<Pair>();
    let raw = RawQuery {
        sql: JOIN_SQL,
        params: NO_PARAMS,
        pg: pg_joined,
        lite: lite_joined,
        shape: |j: Joined| {
            let (id, name, hair, p_id, p_user, p_title, p_body) = j;
            ((id, name, hair), (p_id, p_user, p_title, p_body))
        },
    };
    query_rows(url, side, q, raw)
}

const WINDOW_SQL: &str = "SELECT bench_users.id, \
    ROW_NUMBER() OVER (PARTITION BY bench_users.hair_color ORDER BY bench_users.id ASC), \
    SUM(bench_users.id) OVER (PARTITION BY bench_users.hair_color ORDER BY bench_users.id ASC \
    ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM bench_users ORDER BY bench_users.id ASC";

/// Window functions, 1,000 rows a call of `(id, row number, sum of this id
/// and the one before)` within each hair colour: dualdb's
/// `select_fields` of `row_number` and `sum().over(…)` against the raw
/// drivers running the same SQL and decoding the same three columns.
fn window(url: &str, side: &str) -> Calls {
    use dualdb::model::FrameBound::{CurrentRow, Preceding};
    type Ranked = (i32, i64, i64);
    let q = || {
        let w = || {
            BenchUser::window()
                .partition_by(BenchUser::HAIR_COLOR)
                .order_by(BenchUser::ID.asc())
        };
        BenchUser::select()
            .order_by(BenchUser::ID.asc())
            .select_fields::<Ranked>((
                BenchUser::ID,
                w().row_number(),
                BenchUser::ID.sum().over(w().rows(Preceding(1), CurrentRow)),
            ))
    };
    let raw = RawQuery {
        sql: WINDOW_SQL,
        params: NO_PARAMS,
        pg: |r| -> Ranked { (r.get(0), r.get(1), r.get(2)) },
        lite: |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        shape: |r: Ranked| r,
    };
    query_rows(url, side, q, raw)
}

/// What `per_group` writes: each hair colour's 100 highest ids.
const PER_GROUP_SQL: &str = "SELECT id, name, hair_color FROM bench_users WHERE bench_users.id IN \
    (SELECT dualdb_key FROM (SELECT bench_users.id AS dualdb_key, ROW_NUMBER() OVER \
    (PARTITION BY bench_users.hair_color ORDER BY bench_users.id DESC) AS dualdb_rank \
    FROM bench_users) AS dualdb_ranked WHERE dualdb_rank <= ?) ORDER BY bench_users.id DESC";

/// The first rows of each group, 200 users a call (`limit_per`: the 100
/// highest ids of each hair colour) against the raw drivers running the
/// same SQL and decoding the same three columns.
fn per_group(url: &str, side: &str) -> Calls {
    let q = || {
        BenchUser::select()
            .order_by(BenchUser::ID.desc())
            .limit_per(BenchUser::HAIR_COLOR, 100)
    };
    let raw = RawQuery {
        sql: PER_GROUP_SQL,
        params: &[100i64],
        pg: |r| -> Raw { (r.get(0), r.get(1), r.get(2)) },
        lite: |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        shape: |r: Raw| r,
    };
    query_rows(url, side, q, raw)
}

/// What `tree` writes: node 1 and every node below it.
const TREE_SQL: &str = "SELECT id, parent, name FROM bench_nodes WHERE bench_nodes.id IN \
    (WITH RECURSIVE dualdb_tree (dualdb_key) AS (SELECT * FROM (SELECT bench_nodes.id \
    FROM bench_nodes WHERE bench_nodes.id = ?) AS dualdb_start UNION SELECT bench_nodes.id \
    FROM bench_nodes INNER JOIN dualdb_tree ON bench_nodes.parent = dualdb_tree.dualdb_key) \
    SELECT dualdb_key FROM dualdb_tree)";

/// A tree walk, 1,000 nodes a call (`with_descendants` from the root of
/// `bench_nodes`, ten levels) against the raw drivers running the same SQL
/// and decoding the same three columns.
fn tree(url: &str, side: &str) -> Calls {
    type Node = (i64, Option<i64>, String);
    let q = || {
        BenchNode::select()
            .filter(BenchNode::ID.eq(1))
            .with_descendants(BenchNode::PARENT)
    };
    let raw = RawQuery {
        sql: TREE_SQL,
        params: &[1i64],
        pg: |r| -> Node { (r.get(0), r.get(1), r.get(2)) },
        lite: |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        shape: |r: Node| r,
    };
    query_rows(url, side, q, raw)
}

/// What `filtered` writes: per hair colour, its users, those above id 500,
/// and the sum of the ids up to 500.
const FILTERED_SQL: &str = "SELECT bench_users.hair_color, COUNT(bench_users.id), \
    COUNT(CASE WHEN bench_users.id > ? THEN bench_users.id END), \
    SUM(CASE WHEN bench_users.id <= ? THEN bench_users.id END) FROM bench_users \
    GROUP BY bench_users.hair_color ORDER BY bench_users.hair_color ASC";

/// Aggregates of some rows, two groups a call (`count().filter(…)`,
/// `sum().filter(…)` over 1,000 users) against the raw drivers running the
/// same SQL and decoding the same four columns.
fn filtered(url: &str, side: &str) -> Calls {
    type Counted = (Option<String>, i64, i64, Option<i64>);
    let q = || {
        BenchUser::select()
            .group_by(BenchUser::HAIR_COLOR)
            .order_by(BenchUser::HAIR_COLOR.asc())
            .select_fields::<Counted>((
                BenchUser::HAIR_COLOR,
                BenchUser::ID.count(),
                BenchUser::ID.count().filter(BenchUser::ID.gt(500)),
                BenchUser::ID.sum().filter(BenchUser::ID.le(500)),
            ))
    };
    let raw = RawQuery {
        sql: FILTERED_SQL,
        params: &[500i32, 500],
        pg: |r| -> Counted { (r.get(0), r.get(1), r.get(2), r.get(3)) },
        lite: |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        shape: |r: Counted| r,
    };
    query_rows(url, side, q, raw)
}

/// Rows a `bulk_update` call sets.
const BULK_ROWS: i32 = 100;

/// The rows and hair colours of `bulk_update`'s call `k`: a block of 100
/// ids of the 1,000 in turn, the colours another on each visit to a block,
/// so that every call changes every row it sets (MySQL counts only those).
fn bulk_sets() -> Vec<Vec<(i32, String)>> {
    (0..20)
        .map(|set| {
            let (block, flip) = (set % 10, set / 10);
            (1..=BULK_ROWS)
                .map(|i| {
                    let id = block * BULK_ROWS + i;
                    (id, format!("c{flip}-{id}"))
                })
                .collect()
        })
        .collect()
}

/// `bulk_update` of 100 rows of `bench_users`, each to a hair colour of its
/// own, in one statement: dualdb's, against the drivers running the same
/// `UPDATE … SET hair_color = CASE WHEN id = ? THEN ? … ELSE hair_color END
/// WHERE id IN (…)` with the same values bound (dualdb binds the later rows'
/// branches first).
fn bulk(url: &str, side: &str) -> Calls {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sets = bulk_sets();
    let mut sql = String::from("UPDATE bench_users SET hair_color = CASE");
    sql.push_str(&" WHEN id = ? THEN ?".repeat(BULK_ROWS as usize));
    sql.push_str(" ELSE hair_color END WHERE id IN (?");
    sql.push_str(&", ?".repeat(BULK_ROWS as usize - 1));
    sql.push(')');
    if kind == BackendKind::Postgres {
        sql = numbered(&sql);
    }
    match (side, kind) {
        ("dualdb" | "dualdb_async", _) => {
            let models: Vec<Vec<BenchUser>> = (sets.into_iter())
                .map(|set| {
                    let users = set.into_iter().map(|(id, c)| BenchUser {
                        id,
                        name: String::new(),
                        hair_color: Some(c),
                    });
                    users.collect()
                })
                .collect();
            let q =
                move |k: usize| BenchUser::bulk_update(&models[k % 20], &[&BenchUser::HAIR_COLOR]);
            match side {
                "dualdb" => Box::new(move |keys| {
                    let s = db.sync();
                    keys.map(|k| s.execute_query(q(k)).unwrap() as usize).sum()
                }),
                _ => on_runtime(runtime(), db, async move |db, k| {
                    db.aio().execute_query(q(k)).await.unwrap() as usize
                }),
            }
        }
        ("raw_async", BackendKind::Postgres) => {
            type Pg = dyn tokio_postgres::types::ToSql + Sync;
            let (rt, c) = pg_async(url, &sql);
            on_runtime(rt, c, async move |(c, st), k| {
                let params = bulk_bound(&sets[k % 20], |id| id as &Pg, |c| c as &Pg);
                c.execute(&*st, &params).await.unwrap() as usize
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, k| {
                let params: Vec<mysql_async::Value> =
                    bulk_bound(&sets[k % 20], |id| id as &dyn Bind, |c| c as &dyn Bind)
                        .into_iter()
                        .map(Bind::my)
                        .collect();
                c.exec_drop(sql.as_str(), params).await.unwrap();
                c.affected_rows() as usize
            })
        }
        (_, BackendKind::Postgres) => {
            type Pg = dyn postgres::types::ToSql + Sync;
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&sql).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let params = bulk_bound(&sets[k % 20], |id| id as &Pg, |c| c as &Pg);
                    c.execute(&st, &params).unwrap() as usize
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|k| {
                    let params: Vec<mysql::Value> =
                        bulk_bound(&sets[k % 20], |id| id as &dyn Bind, |c| c as &dyn Bind)
                            .into_iter()
                            .map(Bind::my)
                            .collect();
                    c.exec_drop(sql.as_str(), params).unwrap();
                    c.affected_rows() as usize
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|k| {
                    let mut st = c.prepare_cached(&sql).unwrap();
                    let params = bulk_bound(
                        &sets[k % 20],
                        |id| id as &dyn rusqlite::ToSql,
                        |c| c as &dyn rusqlite::ToSql,
                    );
                    st.execute(rusqlite::params_from_iter(params)).unwrap()
                })
                .sum()
            })
        }
    }
}

/// `set`'s values in the order `bulk_update`'s statement binds them, each
/// as a driver takes it: the rows' branches from the last row, then the
/// keys of the `IN`.
fn bulk_bound<'a, T: ?Sized>(
    set: &'a [(i32, String)],
    id: impl Fn(&'a i32) -> &'a T,
    text: impl Fn(&'a String) -> &'a T,
) -> Vec<&'a T> {
    let branches = set.iter().rev().flat_map(|(i, c)| [id(i), text(c)]);
    let keys = set.iter().map(|(i, _)| id(i));
    branches.chain(keys).collect()
}

/// A `bulk_update` value for the `mysql` crates, which take owned values.
trait Bind {
    fn my(&self) -> mysql::Value;
}

impl Bind for i32 {
    fn my(&self) -> mysql::Value {
        (*self).into()
    }
}

impl Bind for String {
    fn my(&self) -> mysql::Value {
        self.as_str().into()
    }
}

/// Rows an `insert_from` call copies.
const COPIED_ROWS: i32 = 10;

/// `insert_from`: 10 of `bench_users`' rows copied into `bench_insert` by
/// the server a call (`INSERT INTO bench_insert (name, hair_color) SELECT
/// name, hair_color FROM bench_users WHERE id <= ?`), dualdb's against the
/// drivers running the same statement with the same value bound.
fn copy_rows(url: &str, side: &str) -> Calls {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = "INSERT INTO bench_insert (name, hair_color) \
               SELECT name, hair_color FROM bench_users WHERE id <= ?";
    let sql = match kind {
        BackendKind::Postgres => numbered(sql),
        _ => sql.to_string(),
    };
    let q = || {
        let into: [&dyn dualdb::model::ColumnOf<Inserted>; 2] =
            [&Inserted::NAME, &Inserted::HAIR_COLOR];
        let some = BenchUser::select().filter(BenchUser::ID.le(COPIED_ROWS));
        Inserted::insert_from(&into, some, (BenchUser::NAME, BenchUser::HAIR_COLOR))
    };
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| s.execute_query(q()).unwrap() as usize).sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| {
            db.aio().execute_query(q()).await.unwrap() as usize
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, &sql);
            on_runtime(rt, c, async move |(c, st), _| {
                c.execute(&*st, &[&COPIED_ROWS]).await.unwrap() as usize
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                c.exec_drop(sql.as_str(), (COPIED_ROWS,)).await.unwrap();
                c.affected_rows() as usize
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| c.execute(&st, &[&COPIED_ROWS]).unwrap() as usize)
                    .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    c.exec_drop(sql.as_str(), (COPIED_ROWS,)).unwrap();
                    c.affected_rows() as usize
                })
                .sum()
            })
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|_| {
                    let mut st = c.prepare_cached(&sql).unwrap();
                    st.execute([COPIED_ROWS]).unwrap()
                })
                .sum()
            })
        }
    }
}

/// Loading associations: each of 100 users with its 10 posts, each post
/// with its 10 comments (dualdb's `prefetch`; the raw drivers' three
/// queries and the grouping a user would write).
fn loading(url: &str, side: &str) -> Calls {
    let db = Database::open(url).unwrap();
    let kind = db.backend();
    let sql = loading_sql(kind);
    let related = || BenchPost::select().with(BenchComment::select());
    match (side, kind) {
        ("dualdb", _) => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| s.prefetch(BenchUser::select(), related()).unwrap().len())
                .sum()
        }),
        ("dualdb_async", _) => on_runtime(runtime(), db, async move |db, _| {
            let loaded = db.aio().prefetch(BenchUser::select(), related()).await;
            loaded.unwrap().len()
        }),
        ("raw_async", BackendKind::Postgres) => {
            let (rt, conn) = pg_async_all(url, &sql.each_ref().map(String::as_str));
            on_runtime(rt, conn, async move |(c, sts), _| {
                pg::load_async(c, sts).await.len()
            })
        }
        ("raw_async", _) => {
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| my_load_async(c, &sql).await.len())
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let sts = sql.each_ref().map(|sql| c.prepare(sql).unwrap());
            Box::new(move |keys| keys.map(|_| pg::load_sync(&mut c, &sts).len()).sum())
        }
        (_, BackendKind::Mysql) => {
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| keys.map(|_| my_load_sync(&mut c, &sql).len()).sum())
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| keys.map(|_| lite_load(&c, &sql).len()).sum())
        }
    }
}

/// Drops the workloads' tables and leaves what the other benches expect:
/// 1,000 users, no posts referring to them.
fn restore(db: &Database) {
    associations::drop_tables(db);
    db.sync()
        .execute("DROP TABLE IF EXISTS bench_copy", &[])
        .unwrap();
    support::setup(db);
}

/// A runtime and a raw tokio-postgres client on it (its connection driven
/// there), `sql` prepared.
fn pg_async(
    url: &str,
    sql: &str,
) -> (
    tokio::runtime::Runtime,
    (tokio_postgres::Client, tokio_postgres::Statement),
) {
    let (rt, (c, mut sts)) = pg_async_all(url, &[sql]);
    (rt, (c, sts.remove(0)))
}

/// [`pg_async`] with each of `sqls` prepared, in order.
fn pg_async_all(
    url: &str,
    sqls: &[&str],
) -> (
    tokio::runtime::Runtime,
    (tokio_postgres::Client, Vec<tokio_postgres::Statement>),
) {
    let rt = runtime();
    let c = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut sts = Vec::new();
        for sql in sqls {
            sts.push(c.prepare(sql).await.unwrap());
        }
        (c, sts)
    });
    (rt, c)
}

/// A runtime and a raw mysql_async connection made on it.
fn my_async(url: &str) -> (tokio::runtime::Runtime, mysql_async::Conn) {
    let rt = runtime();
    let c = rt.block_on(mysql_async::Conn::from_url(url)).unwrap();
    (rt, c)
}

/// dualdb's side of a query workload: `q()` run a call on the blocking
/// half (`dualdb`) or the async one, each call the number of rows it read.
fn rows_of<Q, R>(db: Database, side: &str, q: impl Fn() -> Q + 'static) -> Calls
where
    Q: dualdb::model::Executable<Output = Vec<R>> + Send + 'static,
    R: Send + 'static,
{
    match side {
        "dualdb" => Box::new(move |keys| {
            let s = db.sync();
            keys.map(|_| s.execute_query(q()).unwrap().len()).sum()
        }),
        _ => on_runtime(runtime(), db, async move |db, _| {
            db.aio().execute_query(q()).await.unwrap().len()
        }),
    }
}

/// A query workload's raw side: its SQL (with `?` placeholders, numbered
/// for PostgreSQL), the values bound, how a row is decoded by position
/// (`pg`, `lite`, or the `mysql` crates' `FromRow`) and how it is `shape`d
/// into what dualdb's side returns.
struct RawQuery<P: 'static, R, S> {
    sql: &'static str,
    params: &'static [P],
    pg: fn(&tokio_postgres::Row) -> R,
    lite: fn(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    shape: fn(R) -> S,
}

/// A query workload's side: dualdb's (`q` run a call, [`rows_of`]) or the
/// raw driver's (`raw` run a call, [`raw_rows`]).
fn query_rows<Q, T, P, R, S>(
    url: &str,
    side: &str,
    q: impl Fn() -> Q + 'static,
    raw: RawQuery<P, R, S>,
) -> Calls
where
    Q: dualdb::model::Executable<Output = Vec<T>> + Send + 'static,
    T: Send + 'static,
    P: tokio_postgres::types::ToSql + rusqlite::ToSql + Into<mysql::Value> + Copy + Sync,
    R: mysql::prelude::FromRow + mysql_async::prelude::FromRow + Send + 'static,
    S: 'static,
{
    let db = Database::open(url).unwrap();
    match side {
        "dualdb" | "dualdb_async" => rows_of(db, side, q),
        _ => raw_rows(url, side, db.backend(), raw),
    }
}

/// A raw driver's side of a query workload: `raw` run a call on `side`
/// (`raw`, `raw_async`) of `kind`'s driver, one `Vec` of shaped rows a
/// call, as the workload's own code did; each call the number of rows.
fn raw_rows<P, R, S>(url: &str, side: &str, kind: BackendKind, raw: RawQuery<P, R, S>) -> Calls
where
    P: tokio_postgres::types::ToSql + rusqlite::ToSql + Into<mysql::Value> + Copy + Sync,
    R: mysql::prelude::FromRow + mysql_async::prelude::FromRow + Send + 'static,
    S: 'static,
{
    let RawQuery {
        sql,
        params,
        pg,
        lite: lite_row,
        shape,
    } = raw;
    // The `mysql` crates decode a whole result into `R`s first.
    let count = move |rows: Vec<R>| rows.into_iter().map(shape).collect::<Vec<S>>().len();
    let my_params = || match params {
        [] => mysql::Params::Empty,
        _ => mysql::Params::Positional(params.iter().map(|&p| p.into()).collect()),
    };
    let pg_params: Vec<&'static (dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let pg_sql = numbered(sql);
    match (side, kind) {
        ("raw_async", BackendKind::Postgres) => {
            let (rt, c) = pg_async(url, &pg_sql);
            on_runtime(rt, c, async move |(c, st), _| {
                let rows = c.query(&*st, &pg_params).await.unwrap();
                rows.iter().map(|r| shape(pg(r))).collect::<Vec<S>>().len()
            })
        }
        ("raw_async", _) => {
            use mysql_async::prelude::Queryable as _;
            let (rt, c) = my_async(url);
            on_runtime(rt, c, async move |c, _| {
                count(c.exec(sql, my_params()).await.unwrap())
            })
        }
        (_, BackendKind::Postgres) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let st = c.prepare(&pg_sql).unwrap();
            Box::new(move |keys| {
                keys.map(|_| {
                    let rows = c.query(&st, &pg_params).unwrap();
                    rows.iter().map(|r| shape(pg(r))).collect::<Vec<S>>().len()
                })
                .sum()
            })
        }
        (_, BackendKind::Mysql) => {
            use mysql::prelude::Queryable as _;
            let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            Box::new(move |keys| keys.map(|_| count(c.exec(sql, my_params()).unwrap())).sum())
        }
        _ => {
            let c = lite(url);
            Box::new(move |keys| {
                keys.map(|_| {
                    let mut st = c.prepare_cached(sql).unwrap();
                    let values = rusqlite::params_from_iter(params.iter());
                    let rows = st.query_map(values, |r| lite_row(r).map(shape)).unwrap();
                    rows.collect::<Result<Vec<S>, _>>().unwrap().len()
                })
                .sum()
            })
        }
    }
}

/// `sql` with its `?` placeholders numbered (`$1`, `$2`, …), for
/// PostgreSQL (the workloads' SQL has no `?` in a literal).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        match c {
            '?' => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            c => out.push(c),
        }
    }
    out
}

/// No values to bind.
const NO_PARAMS: &[i64] = &[];

/// An async side: `call` for each key of a range on `conn`, within one
/// `block_on` of the side's own runtime; the sum of what the calls saw.
fn on_runtime<C: 'static>(
    rt: tokio::runtime::Runtime,
    mut conn: C,
    mut call: impl AsyncFnMut(&mut C, usize) -> usize + 'static,
) -> Calls {
    Box::new(move |keys| {
        rt.block_on(async {
            let mut seen = 0;
            for k in keys {
                seen += call(&mut conn, k).await;
            }
            seen
        })
    })
}

/// A runtime of one thread (see the module's comment), or with
/// `DUALDB_BENCH_RUNTIME=multi` of two workers, as `#[tokio::main]` makes
/// on this machine: the calls then run on the bench's thread and each
/// connection's task on a worker, as an application's would.
fn runtime() -> tokio::runtime::Runtime {
    match std::env::var("DUALDB_BENCH_RUNTIME").as_deref() {
        Ok("multi") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}
