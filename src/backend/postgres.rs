//! PostgreSQL through `tokio-postgres`, on both halves: the async half here,
//! the blocking half in `pg_blocking`, which drives the same client on a
//! runtime of its own.
//!
//! Connecting, sending a statement ([`PgClient::send`]), reading its rows
//! ([`drain`]), the retry of a stale plan ([`PgClient::settle`]), the error
//! mapping, the statement cache, and the value forms in `pg_types` serve
//! both halves.

use postgres_types::Type;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_postgres::{NoTls, RowStream, Statement};

use super::pg_types::implied_type;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{AsyncConn, Backend, BoxFuture, RowSink, SharedConn, StmtCache, SyncConn, keep_rows};
use crate::config::{BackendKind, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::row::{Row, RowInner};
use crate::statement::{ExecResult, SqlText, Stmt};
use crate::value::Value;

pub(crate) struct PgBackend {
    config: tokio_postgres::Config,
    /// Where connections go, for connect errors: `host:port`, comma-separated.
    targets: String,
    /// Stale plans seen on this backend's connections ([`PgClient::schema`]).
    schema: Arc<AtomicU64>,
    connect_timeout: std::time::Duration,
    cache_size: usize,
    /// `prepared_statements`: false sends statements unnamed.
    prepared: bool,
    /// Set when TLS is on (`tls_ca_file`).
    #[cfg(feature = "tls")]
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgBackend {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let mut pg: tokio_postgres::Config = config.url.expose().parse().map_err(|e| {
            Error::config(format!(
                "invalid PostgreSQL URL {}: {e}",
                crate::config::redact(config.url.expose())
            ))
        })?;
        pg.connect_timeout(config.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("dualdb");
        }
        if let Some(t) = config.statement_timeout {
            let mut options = pg.get_options().unwrap_or_default().to_owned();
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c statement_timeout={}", t.as_millis().max(1)));
            pg.options(&options);
        }
        #[cfg(feature = "tls")]
        let tls = match &config.tls_ca_file {
            Some(ca) => {
                pg.ssl_mode(tokio_postgres::config::SslMode::Require);
                Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                    crate::tls::client_config(ca)?,
                ))
            }
            None => None,
        };
        Ok(PgBackend {
            targets: targets(&pg),
            schema: Arc::new(AtomicU64::new(0)),
            connect_timeout: config.connect_timeout,
            config: pg,
            cache_size: config.statement_cache_size,
            prepared: config.prepared_statements,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

/// `host:port` of each host the config names, comma-separated.
fn targets(pg: &tokio_postgres::Config) -> String {
    let ports = pg.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = (pg.get_hosts().iter().enumerate())
        .map(|(i, h)| match h {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{}", port(i)),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => format!("{}", path.display()),
        })
        .collect();
    if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(", ")
    }
}

impl PgBackend {
    /// A connect failure: `Connect`, naming where it tried, with the
    /// server's code if it answered, and the driver's error as the source.
    fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        let (_, message, code) = describe(&e);
        let out = Error::new(
            ErrorKind::Connect,
            format!(
                "cannot connect to PostgreSQL at {}: {message}",
                self.targets
            ),
        );
        match code {
            Some(c) => out.with_code(c).with_source(e),
            None => out.with_source(e),
        }
    }
}

impl Backend for PgBackend {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        Ok(Box::new(super::pg_blocking::PgSync::connect(self)?))
    }

    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>> {
        Box::pin(async move { Ok(Box::new(self.open_async().await?) as Box<dyn AsyncConn>) })
    }

    fn connect_shared(&self) -> Option<BoxFuture<'_, Result<Arc<dyn SharedConn>>>> {
        Some(Box::pin(async move {
            Ok(Arc::new(self.open_async().await?) as Arc<dyn SharedConn>)
        }))
    }
}

/// A connection's I/O, to be polled until it ends (the client dropped or
/// the server gone): boxed, so that one type serves with TLS and without.
pub(super) type Driver =
    Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>>;

impl PgBackend {
    /// Connects: the client, and the I/O that the caller must drive. The
    /// whole attempt (TCP, TLS, start-up) ends by the connect timeout: the
    /// driver's own covers only the TCP connect.
    pub(super) async fn open(&self) -> Result<(tokio_postgres::Client, Driver)> {
        super::connect_within(self.connect_timeout, async {
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.tls {
                let (client, connection) =
                    (self.config.connect(tls.clone()).await).map_err(|e| self.connect_error(e))?;
                return Ok((client, Box::pin(connection) as Driver));
            }
            let (client, connection) =
                (self.config.connect(NoTls).await).map_err(|e| self.connect_error(e))?;
            Ok((client, Box::pin(connection) as Driver))
        })
        .await
    }

    async fn open_async(&self) -> Result<PgAsync> {
        let (client, connection) = self.open().await?;
        tokio::spawn(drive_connection(connection));
        Ok(PgAsync {
            pg: Arc::new(self.client(client)),
            spare: Mutex::new(Vec::new()),
        })
    }

    /// `client` with an empty statement cache of this backend's size.
    pub(super) fn client(&self, client: tokio_postgres::Client) -> PgClient {
        PgClient {
            client,
            cache: Mutex::new(Plans {
                statements: StmtCache::new(self.cache_size),
                schema: self.schema.load(Ordering::Acquire),
            }),
            schema: self.schema.clone(),
            prepared: self.prepared,
        }
    }
}

/// Runs a connection's I/O until the client is dropped or the server goes.
async fn drive_connection(connection: Driver) {
    ended(connection.await);
}

/// Logs how a connection's I/O ended, where it ended by an error: both
/// halves' drivers end here.
pub(super) fn ended(how: std::result::Result<(), tokio_postgres::Error>) {
    if let Err(e) = how {
        tracing::debug!(target: "dualdb::postgres", error = %e, "connection ended");
    }
}

/// The parameters as `postgres-types` wants them, or the error of one that
/// cannot be sent.
fn params(values: &[Value]) -> Result<Vec<&(dyn postgres_types::ToSql + Sync)>> {
    // Checked first, then collected from an iterator of known length: a
    // fallible collect cannot size its vector and grows it.
    Value::check_all(values, BackendKind::Postgres)?;
    Ok((values.iter())
        .map(|v| v as &(dyn postgres_types::ToSql + Sync))
        .collect())
}

/// The parameters with the types their values imply, for statements sent
/// unnamed (`prepared_statements(false)`): nothing asks the server.
fn typed_params(values: &[Value]) -> Result<Vec<(&(dyn postgres_types::ToSql + Sync), Type)>> {
    Value::check_all(values, BackendKind::Postgres)?;
    values
        .iter()
        .map(|v| Ok((v as &(dyn postgres_types::ToSql + Sync), implied_type(v)?)))
        .collect()
}

pub(super) fn counted(rows_affected: u64) -> ExecResult {
    ExecResult {
        rows_affected,
        last_insert_id: None,
    }
}

/// The server's refusal to run a cached plan whose result columns changed
/// since it was prepared (an `ALTER TABLE` under a `SELECT *`). It comes
/// before the statement runs anything. Known by its SQLSTATE and the
/// server routine that raises it, which read the same in every
/// `lc_messages` language (tests/raw_sql.rs
/// `a_stale_plan_is_known_in_any_language`); the English message too,
/// for a server or proxy that sends no routine.
fn stale_plan(e: &Error) -> bool {
    if e.code() != Some("0A000") {
        return false;
    }
    let routine = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<tokio_postgres::Error>())
        .and_then(|pg| pg.as_db_error())
        .and_then(|db| db.routine());
    routine == Some("RevalidateCachedQuery")
        || e.message()
            .starts_with("cached plan must not change result type")
}

/// After a statement failed with `e`: `None` to prepare it anew and run it
/// once more (its cached plan went stale), else the error to return. When
/// the second run fails only because the first failure aborted the
/// transaction it was in (25P02), the first error is the one returned.
fn retry_after(first: &mut Option<Error>, e: Error) -> Option<Error> {
    match first.take() {
        None if stale_plan(&e) => {
            *first = Some(e);
            None
        }
        Some(f) if e.code() == Some("25P02") => Some(f),
        _ => Some(e),
    }
}

/// A tokio-postgres connection: lent exclusively (transactions) or shared
/// by many tasks at once (everything else). tokio-postgres pipelines the
/// statements of concurrent callers on one socket.
struct PgAsync {
    pg: Arc<PgClient>,
    /// Boxes of finished [`start`] futures, kept to be filled again: see
    /// [`PgAsync::run`]. Never held across an await.
    spare: Mutex<Vec<Starting>>,
}

/// A tokio-postgres client and its statements: what a [`PgAsync`]'s
/// statements share with the futures that start them, and what the blocking
/// half drives on its own runtime.
pub(super) struct PgClient {
    client: tokio_postgres::Client,
    /// Never held across an await.
    cache: Mutex<Plans>,
    /// The backend's count of stale plans seen, on any connection of
    /// either half: a connection that finds it moved since it last looked
    /// forgets every statement it prepared, so that one `ALTER TABLE` costs
    /// the pool one failed statement, not one per connection and statement
    /// (tests/raw_sql.rs `a_stale_plan_fails_once_across_the_pool`).
    schema: Arc<AtomicU64>,
    prepared: bool,
}

/// A connection's prepared statements, and the backend's stale-plan count
/// when they were last all good.
struct Plans {
    statements: StmtCache<Statement>,
    schema: u64,
}

impl Plans {
    /// The statements, forgotten first if a stale plan was seen since.
    fn current(&mut self, schema: &AtomicU64) -> &mut StmtCache<Statement> {
        let now = schema.load(Ordering::Acquire);
        if self.schema != now {
            self.statements.clear();
            self.schema = now;
        }
        &mut self.statements
    }
}

/// A statement on its way to the server, in a box that outlives it.
type Starting = Pin<Box<dyn Restart>>;

/// A pinned place for [`start`]'s future that takes one statement after
/// another: its future is written in place, not moved into a fresh box.
trait Restart: Send {
    fn restart(self: Pin<&mut Self>, pg: Arc<PgClient>, stmt: Stmt);
    fn poll_started(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(Stmt, Result<RowStream>)>;
}

pin_project_lite::pin_project! {
    /// `make` is [`start`] (a function item, no bytes): it names `F`, the
    /// type of its future.
    struct Slot<C, F> {
        make: C,
        #[pin]
        fut: Option<F>,
    }
}

impl<C, F> Restart for Slot<C, F>
where
    C: Fn(Arc<PgClient>, Stmt) -> F + Send,
    F: Future<Output = (Stmt, Result<RowStream>)> + Send,
{
    fn restart(self: Pin<&mut Self>, pg: Arc<PgClient>, stmt: Stmt) {
        let mut this = self.project();
        this.fut.set(Some((this.make)(pg, stmt)));
    }
    fn poll_started(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(Stmt, Result<RowStream>)> {
        // Always `Some`: `run` restarts a slot before it polls it.
        match self.project().fut.as_pin_mut() {
            Some(f) => f.poll(cx),
            None => Poll::Pending,
        }
    }
}

/// An empty slot for the futures `make` returns.
fn slot<C, F>(make: C) -> Starting
where
    C: Fn(Arc<PgClient>, Stmt) -> F + Send + 'static,
    F: Future<Output = (Stmt, Result<RowStream>)> + Send + 'static,
{
    Box::pin(Slot { make, fut: None })
}

/// At most this many [`Starting`] boxes wait in a connection's spares (about
/// 1.3 KB each): the statements one connection has had in flight at once.
const SPARE_BOXES: usize = 16;

/// Sends `stmt` (prepared through the cache, or unnamed) and hands it back
/// with the stream of its results, for a retry to send it again.
async fn start(pg: Arc<PgClient>, stmt: Stmt) -> (Stmt, Result<RowStream>) {
    let started = pg.send(&stmt).await;
    (stmt, started)
}

impl PgClient {
    /// Sends `stmt` (prepared through the cache, or unnamed): the stream of
    /// its results.
    pub(super) async fn send(&self, stmt: &Stmt) -> Result<RowStream> {
        crate::placeholders::check_count(BackendKind::Postgres, stmt.params.len())?;
        if self.prepared {
            let st = self.prepare(&stmt.sql).await?;
            if st.params().len() != stmt.params.len() {
                let takes = st.params().len();
                return Err(crate::placeholders::count_mismatch(
                    takes,
                    stmt.params.len(),
                ));
            }
            let p = params(&stmt.params)?;
            self.client.query_raw(&st, p).await.map_err(pg_error)
        } else {
            let p = typed_params(&stmt.params)?;
            (self.client.query_typed_raw(&stmt.sql, p).await).map_err(pg_error)
        }
    }

    /// What to make of an attempt at the statement of `sql`: what to
    /// return, or `None` to send it once more, its stale plan gone from the
    /// cache (see [`retry_after`]; `first` keeps the first failure).
    pub(super) fn settle<T>(
        &self,
        sql: &SqlText,
        first: &mut Option<Error>,
        done: Result<T>,
    ) -> Option<Result<T>> {
        let e = match done {
            Err(e) => e,
            done => return Some(done),
        };
        let give_up = retry_after(first, e);
        if give_up.is_none() {
            // Every connection forgets its statements before its next one.
            self.schema.fetch_add(1, Ordering::AcqRel);
        }
        give_up.map(|e| Err(crate::placeholders::hint(BackendKind::Postgres, sql, e)))
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// What `DISCARD ALL` does, in one round trip, but `DEALLOCATE ALL`:
    /// the statements dualdb prepared stay prepared.
    pub(super) async fn reset_session(&self) -> Result<()> {
        const RESET: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
            UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; \
            DISCARD SEQUENCES";
        self.client.batch_execute(RESET).await.map_err(pg_error)
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.client
            .simple_query("")
            .await
            .map(drop)
            .map_err(pg_error)
    }

    async fn prepare(&self, sql: &SqlText) -> Result<Statement> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&self.schema)
            .get(sql);
        if let Some(s) = cached {
            return Ok(s);
        }
        let s = self.client.prepare(sql).await.map_err(pg_error)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&self.schema)
            .insert(sql, s.clone());
        Ok(s)
    }
}

/// Gives each row of `stream` to `sink`: the count of rows `sink` got and
/// the rows the statement affected.
pub(super) async fn drain(stream: RowStream, sink: RowSink<'_>) -> Result<(u64, u64)> {
    use futures_core::Stream;
    let mut stream = std::pin::pin!(stream);
    let mut n = 0;
    while let Some(r) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        hand_over(sink, r.map_err(pg_error)?)?;
        n += 1;
    }
    Ok((n, stream.rows_affected().unwrap_or(0)))
}

/// Gives one of the driver's rows to `sink`.
pub(super) fn hand_over(sink: RowSink<'_>, row: tokio_postgres::Row) -> Result<()> {
    sink.row(&mut Some(Row {
        inner: RowInner::Pg(row),
    }))
}

impl PgAsync {
    /// Sends `stmt`, gives each row of its result to `sink`, and returns the
    /// count of rows `sink` got and the rows the statement affected.
    ///
    /// The statement is sent by [`start`]'s future in a box kept from an
    /// earlier statement: tokio-postgres's `query_raw` future is about 1 KB
    /// by itself (it holds a `prepare` future even for a prepared
    /// statement), so a fresh box for each statement is above glibc's
    /// per-thread cache of small blocks (1,032 bytes) and takes malloc's slow
    /// path, with a consolidation of the free lists, on every call.
    async fn run(&self, mut stmt: Stmt, sink: RowSink<'_>) -> Result<(u64, u64)> {
        let mut first = None;
        let mut starting = self
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| slot(start));
        loop {
            starting.as_mut().restart(Arc::clone(&self.pg), stmt);
            let (back, started) =
                std::future::poll_fn(|cx| starting.as_mut().poll_started(cx)).await;
            stmt = back;
            let done = match started {
                Ok(stream) => drain(stream, &mut *sink).await,
                Err(e) => Err(e),
            };
            let Some(done) = self.pg.settle(&stmt.sql, &mut first, done) else {
                continue;
            };
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            if spare.len() < SPARE_BOXES {
                spare.push(starting);
            }
            return done;
        }
    }

    async fn run_execute(&self, stmt: Stmt) -> Result<ExecResult> {
        let (_, affected) = self.run(stmt, &mut |_: &mut Option<Row>| Ok(())).await?;
        Ok(counted(affected))
    }

    async fn run_query_each(&self, stmt: Stmt, sink: RowSink<'_>) -> Result<u64> {
        Ok(self.run(stmt, sink).await?.0)
    }

    async fn run_query(&self, stmt: Stmt) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.run_query_each(stmt, &mut keep_rows(&mut out)).await?;
        Ok(out)
    }
}

impl AsyncConn for PgAsync {
    fn execute(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>> {
        Box::pin(self.run_execute(stmt))
    }
    fn query_each<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.run_query_each(stmt, sink))
    }
    fn is_usable(&mut self) -> bool {
        !self.pg.is_closed()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.pg.ping())
    }
    fn reset_session(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.pg.reset_session())
    }
}

impl SharedConn for PgAsync {
    fn execute(&self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>> {
        Box::pin(self.run_execute(stmt))
    }
    fn query(&self, stmt: Stmt) -> BoxFuture<'_, Result<Vec<Row>>> {
        Box::pin(self.run_query(stmt))
    }
    fn query_each<'a>(&'a self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.run_query_each(stmt, sink))
    }
    fn is_usable(&self) -> bool {
        !self.pg.is_closed()
    }
}

/// dualdb's error for a PostgreSQL error: the SQLSTATE picks the kind.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> Error {
    let (kind, message, code) = describe(&e);
    let err = Error::new(kind, message);
    match code {
        Some(code) => err.with_code(code),
        None => err,
    }
    .with_source(e)
}

/// The kind, message and SQLSTATE of a driver error.
fn describe(e: &tokio_postgres::Error) -> (ErrorKind, String, Option<String>) {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code().to_owned();
        let kind = if code == "23505" {
            ErrorKind::UniqueViolation
        } else if code.starts_with("23") {
            ErrorKind::IntegrityViolation
        } else {
            ErrorKind::Query
        };
        let mut message = db.message().to_owned();
        if let Some(detail) = db.detail() {
            message.push_str(": ");
            message.push_str(detail);
        }
        return (kind, message, Some(code));
    }
    let message = if e.is_closed() {
        "the connection is closed".to_owned()
    } else {
        match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }
    };
    (ErrorKind::Query, message, None)
}
