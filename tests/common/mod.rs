//! Shared setup for the integration tests: server URLs from the environment
//! (set by `ci/test`), one table name per test so tests run in parallel, and
//! the placeholder style of each backend.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dualdb::{BackendKind, Database};

/// The backends to run a test on: SQLite always; PostgreSQL and MariaDB when
/// their URL is set. Under `CI=true` a missing URL fails the test instead of
/// skipping it.
pub fn urls() -> Vec<String> {
    let mut out = vec!["sqlite::memory:".to_string()];
    out.extend(server_url("DUALDB_PG_URL"));
    out.extend(server_url("DUALDB_MYSQL_URL"));
    out
}

pub fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("{var} is not set but CI=true: run the tests through ci/test")
        }
        _ => {
            eprintln!("{var} not set: skipping that backend (run ci/test for all)");
            None
        }
    }
}

pub fn pg_url() -> Option<String> {
    server_url("DUALDB_PG_URL")
}

/// Databases of the backends without PostgreSQL's extras (LISTEN, COPY):
/// SQLite, a MySQL address where nothing listens (an error that is not
/// `Connect` there shows no connection was tried), and the MySQL server.
pub fn non_postgres_urls() -> Vec<String> {
    let mut urls = vec![
        "sqlite::memory:".to_owned(),
        "mysql://u:p@127.0.0.1:1/db".to_owned(),
    ];
    urls.extend(mysql_url());
    urls
}

pub fn mysql_url() -> Option<String> {
    server_url("DUALDB_MYSQL_URL")
}

/// Every backend, opened with default settings.
pub fn databases() -> Vec<Database> {
    urls().iter().map(|u| Database::open(u).unwrap()).collect()
}

/// A table name no other test (or test process) uses.
pub fn table(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `n`th (1-based) placeholder in the backend's syntax.
pub fn ph(db: &Database, n: usize) -> String {
    match db.backend() {
        BackendKind::Postgres => format!("${n}"),
        _ => "?".to_string(),
    }
}

/// `(ph1, ph2, …)` for `n` placeholders.
pub fn phs(db: &Database, n: usize) -> String {
    (1..=n).map(|i| ph(db, i)).collect::<Vec<_>>().join(", ")
}

/// An auto-increment integer primary key column in the backend's dialect.
pub fn serial_pk(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Postgres => "id BIGSERIAL PRIMARY KEY",
        BackendKind::Mysql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
        _ => "id INTEGER PRIMARY KEY AUTOINCREMENT",
    }
}

/// The binary column type of the backend.
pub fn blob(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Postgres => "BYTEA",
        _ => "BLOB",
    }
}

/// The boolean column type of the backend.
pub fn boolean(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Sqlite => "INTEGER",
        _ => "BOOLEAN",
    }
}

/// The double column type of the backend.
pub fn double(db: &Database) -> &'static str {
    match db.backend() {
        BackendKind::Postgres => "DOUBLE PRECISION",
        BackendKind::Mysql => "DOUBLE",
        _ => "REAL",
    }
}

/// One of the two halves, so a test body can run on both with the same
/// assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Sync,
    Async,
}

pub const HALVES: [Half; 2] = [Half::Sync, Half::Async];

impl Half {
    pub async fn execute(
        self,
        db: &Database,
        sql: &str,
        params: &[&(dyn dualdb::ToSql + Sync)],
    ) -> dualdb::Result<u64> {
        match self {
            Half::Sync => db.sync().execute(sql, params),
            Half::Async => db.aio().execute(sql, params).await,
        }
    }

    pub async fn query(
        self,
        db: &Database,
        sql: &str,
        params: &[&(dyn dualdb::ToSql + Sync)],
    ) -> dualdb::Result<Vec<dualdb::Row>> {
        match self {
            Half::Sync => db.sync().query(sql, params),
            Half::Async => db.aio().query(sql, params).await,
        }
    }

    pub async fn query_one(
        self,
        db: &Database,
        sql: &str,
        params: &[&(dyn dualdb::ToSql + Sync)],
    ) -> dualdb::Result<dualdb::Row> {
        match self {
            Half::Sync => db.sync().query_one(sql, params),
            Half::Async => db.aio().query_one(sql, params).await,
        }
    }

    pub async fn query_opt(
        self,
        db: &Database,
        sql: &str,
        params: &[&(dyn dualdb::ToSql + Sync)],
    ) -> dualdb::Result<Option<dualdb::Row>> {
        match self {
            Half::Sync => db.sync().query_opt(sql, params),
            Half::Async => db.aio().query_opt(sql, params).await,
        }
    }
}

/// Calls the same Manager method on the chosen half, awaiting on the async
/// one: `call!(half, db, get(User::by_id(1)))`,
/// `call!(half, db, create_table::<User>())`.
#[macro_export]
macro_rules! call {
    ($half:expr, $db:expr, $method:ident :: < $($t:ty),* > ( $($arg:expr),* $(,)? )) => {
        match $half {
            $crate::common::Half::Sync => $db.sync().$method::<$($t),*>($($arg),*),
            $crate::common::Half::Async => $db.aio().$method::<$($t),*>($($arg),*).await,
        }
    };
    ($half:expr, $db:expr, $method:ident ( $($arg:expr),* $(,)? )) => {
        match $half {
            $crate::common::Half::Sync => $db.sync().$method($($arg),*),
            $crate::common::Half::Async => $db.aio().$method($($arg),*).await,
        }
    };
}

/// A database of its own for one test on one backend: a fresh PostgreSQL
/// schema or MariaDB database, or a fresh in-memory SQLite database, so that
/// tests using the same model tables run in parallel.
pub fn isolated(url: &str, name: &str) -> Database {
    Database::open(&isolated_url(url, name)).unwrap()
}

/// The URL of a fresh schema (PostgreSQL) or database (MariaDB) made for
/// one test; SQLite's URL as it is (each `sqlite::memory:` is fresh).
pub fn isolated_url(url: &str, name: &str) -> String {
    let db = Database::open(url).unwrap();
    let unique = table(name);
    match db.backend() {
        BackendKind::Postgres => {
            db.sync()
                .execute(&format!("CREATE SCHEMA {unique}"), &[])
                .unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{unique}")
        }
        BackendKind::Mysql => {
            db.sync()
                .execute(&format!("CREATE DATABASE {unique}"), &[])
                .unwrap();
            let mut u = url::Url::parse(url).unwrap();
            u.set_path(&format!("/{unique}"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A fresh SQLite file (removed if a run before left it), as a URL: one
/// database that every connection and handle opening the URL shares, where
/// each `sqlite::memory:` connection is a database of its own.
pub fn sqlite_file_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dualdb-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.sqlite"));
    let _ = std::fs::remove_file(&path);
    format!("sqlite://{}", path.display())
}

/// [`isolated_url`], but on SQLite a fresh file ([`sqlite_file_url`]), so
/// that a second handle or a pool of several connections sees the same
/// database on every backend.
pub fn shared_url(url: &str, name: &str) -> String {
    match url.starts_with("sqlite") {
        true => sqlite_file_url(name),
        false => isolated_url(url, name),
    }
}

/// An isolated database on every backend.
pub fn isolated_all(name: &str) -> Vec<Database> {
    urls().iter().map(|u| isolated(u, name)).collect()
}

/// Counts the SQL statements dualdb runs in this process (from the
/// `dualdb::sql` tracing spans), through a global subscriber: scoped
/// subscribers miss spans when other test threads race on tracing's callsite
/// cache. A test that counts must be the only test of its binary.
pub struct StatementCounter;

static STATEMENTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl StatementCounter {
    pub fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(CountLayer);
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        STATEMENTS.store(0, std::sync::atomic::Ordering::SeqCst);
        StatementCounter
    }

    pub fn take(&self) -> usize {
        STATEMENTS.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

struct CountLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountLayer {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().target() == "dualdb::sql" {
            STATEMENTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

pub mod models;

/// Collects what a `tracing_subscriber::fmt` subscriber writes.
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A small deterministic generator, so a failure can be replayed.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Polls a future at most `polls` times, then drops it: cancellation at a
/// chosen await point, whatever the timer resolution.
pub struct DropAfterPolls<F> {
    pub fut: std::pin::Pin<Box<F>>,
    pub polls: u32,
}

impl<F: std::future::Future> std::future::Future for DropAfterPolls<F> {
    type Output = Option<F::Output>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.polls == 0 {
            return std::task::Poll::Ready(None);
        }
        self.polls -= 1;
        self.fut.as_mut().poll(cx).map(Some)
    }
}

/// The `id`s in a one-column table, for checking what a load wrote.
pub async fn ids(db: &Database, table: &str) -> std::collections::HashSet<i64> {
    db.aio()
        .query(&format!("SELECT id FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

/// Creates `table (id BIGINT PRIMARY KEY)` and returns the INSERT of one id
/// in the backend's placeholder style.
pub async fn id_table(db: &Database, table: &str) -> String {
    db.aio()
        .execute(
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY)"),
            &[],
        )
        .await
        .unwrap();
    format!("INSERT INTO {table} (id) VALUES ({})", ph(db, 1))
}

/// A write load for fault tests: async tasks (and optionally one blocking
/// thread) insert distinct ids with `insert` (one id parameter) until
/// stopped, recording every acknowledged id and every error's kind.
pub struct WriteLoad {
    pub acked: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
    pub errors: std::sync::Arc<std::sync::Mutex<Vec<dualdb::ErrorKind>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteLoad {
    pub fn start(db: &Database, insert: &str, tasks: i64, blocking_thread: bool) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let insert: std::sync::Arc<str> = insert.into();
        let load = WriteLoad {
            acked: Default::default(),
            errors: Default::default(),
            stop: Default::default(),
            tasks: Vec::new(),
            thread: None,
        };
        // Ids: task t writes t * 1,000,000 + n; the thread from 100,000,000.
        let record = {
            let (acked, errors) = (load.acked.clone(), load.errors.clone());
            move |id: i64, r: dualdb::Result<u64>| match r {
                Ok(1) => {
                    acked.lock().unwrap().insert(id);
                    true
                }
                Ok(other) => panic!("insert reported {other} rows"),
                Err(e) => {
                    errors.lock().unwrap().push(e.kind());
                    false
                }
            }
        };
        let tasks = (0..tasks)
            .map(|t| {
                let (db, insert, stop, record) = (
                    db.clone(),
                    insert.clone(),
                    load.stop.clone(),
                    record.clone(),
                );
                tokio::spawn(async move {
                    let mut id = t * 1_000_000;
                    while !stop.load(Relaxed) {
                        id += 1;
                        if !record(id, db.aio().execute(&insert, &[&id]).await) {
                            // Not a hot loop while the server is away.
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        let thread = blocking_thread.then(|| {
            let (db, stop) = (db.clone(), load.stop.clone());
            std::thread::spawn(move || {
                let mut id = 100_000_000i64;
                while !stop.load(Relaxed) {
                    id += 1;
                    if !record(id, db.sync().execute(&insert, &[&id])) {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
            })
        });
        WriteLoad {
            tasks,
            thread,
            ..load
        }
    }

    /// How many writes were acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops the writers and returns what was acknowledged and the errors.
    pub async fn stop(self) -> (std::collections::HashSet<i64>, Vec<dualdb::ErrorKind>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        if let Some(th) = self.thread {
            th.join().unwrap();
        }
        let acked = self.acked.lock().unwrap().clone();
        let errors = self.errors.lock().unwrap().clone();
        (acked, errors)
    }
}

/// Runs `workers` tasks on the async half and as many threads on the
/// blocking half at once, each making `each` calls: `on_async(db)` awaited
/// in a task, `on_sync(&db)` in a thread; returns when all are done.
pub async fn both_halves_at_once<F, Fut, G>(
    db: &Database,
    workers: i64,
    each: i64,
    on_async: F,
    on_sync: G,
) where
    F: Fn(Database) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
    G: Fn(&Database) + Clone + Send + 'static,
{
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (db, on_async) = (db.clone(), on_async.clone());
            tokio::spawn(async move {
                for _ in 0..each {
                    on_async(db.clone()).await;
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (db, on_sync) = (db.clone(), on_sync.clone());
            std::thread::spawn(move || {
                for _ in 0..each {
                    on_sync(&db);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
}

/// Databases on servers that are not there (PostgreSQL and MySQL on a
/// closed port, a short connect timeout) and on every live backend, each
/// with its URL: a check made before any I/O gives the same error on all.
pub fn dead_and_live() -> Vec<(String, Database)> {
    let dead = [
        "postgres://nobody:secret@127.0.0.1:1/none",
        "mysql://nobody:secret@127.0.0.1:1/none",
    ];
    dead.iter()
        .map(|u| u.to_string())
        .chain(urls())
        .map(|url| {
            let db = Database::builder(&url)
                .connect_timeout(std::time::Duration::from_millis(300))
                .build()
                .unwrap();
            (url, db)
        })
        .collect()
}

/// Asserts that `e` is a `Usage` error saying `says`.
pub fn assert_usage(e: &dualdb::Error, says: &str, what: &str) {
    assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
    assert!(e.to_string().contains(says), "{what}: {e}");
}

/// `sql` written with `?` placeholders, in `db`'s backend's style (`$1`,
/// `$2`, … on PostgreSQL).
pub fn placeholders(db: &Database, sql: &str) -> String {
    if db.backend() != BackendKind::Postgres {
        return sql.to_string();
    }
    let mut n = 0;
    sql.chars()
        .map(|c| match c {
            '?' => {
                n += 1;
                format!("${n}")
            }
            c => c.to_string(),
        })
        .collect()
}

/// Runs `f` on a thread and fails the test if it does not finish in `limit`
/// (a hang guard, not a speed check).
pub fn finishes_within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("the call hung")
}
