//! PostgreSQL through `postgres` (blocking) and `tokio-postgres` (async).
//!
//! Both crates share `tokio_postgres::Row`, `Statement` and `postgres-types`,
//! so the error mapping and the statement cache below, and the value forms in
//! `pg_types`, serve both halves; only the two `impl` blocks that send
//! statements differ.

use postgres_types::Type;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_postgres::{NoTls, RowStream, Statement};

use super::pg_types::implied_type;

use std::sync::{Arc, Mutex};

use super::{
    AsyncConn, Backend, BoxFuture, RowSink, SharedConn, StmtCache, SyncConn, feed, keep_rows,
};
use crate::config::{BackendKind, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::row::{Row, RowInner};
use crate::statement::{ExecResult, SqlText, Stmt};
use crate::value::Value;

pub(crate) struct PgBackend {
    config: tokio_postgres::Config,
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
            config: pg,
            cache_size: config.statement_cache_size,
            prepared: config.prepared_statements,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

fn connect_error(e: tokio_postgres::Error) -> Error {
    let err = pg_error(e);
    let (message, code) = (err.message().to_owned(), err.code().map(str::to_owned));
    let out = Error::new(
        ErrorKind::Connect,
        format!("cannot connect to PostgreSQL: {message}"),
    );
    match code {
        Some(c) => out.with_code(c).with_source(err),
        None => out.with_source(err),
    }
}

impl Backend for PgBackend {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        let config = postgres::Config::from(self.config.clone());
        #[cfg(feature = "tls")]
        let client = match &self.tls {
            Some(tls) => config.connect(tls.clone()),
            None => config.connect(NoTls),
        };
        #[cfg(not(feature = "tls"))]
        let client = config.connect(NoTls);
        let client = client.map_err(connect_error)?;
        Ok(Box::new(PgSync {
            client,
            cache: StmtCache::new(self.cache_size),
            prepared: self.prepared,
        }))
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

impl PgBackend {
    async fn open_async(&self) -> Result<PgAsync> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let (client, connection) = self
                .config
                .connect(tls.clone())
                .await
                .map_err(connect_error)?;
            tokio::spawn(drive_connection(connection));
            return Ok(self.wrap(client));
        }
        let (client, connection) = self.config.connect(NoTls).await.map_err(connect_error)?;
        tokio::spawn(drive_connection(connection));
        Ok(self.wrap(client))
    }

    fn wrap(&self, client: tokio_postgres::Client) -> PgAsync {
        PgAsync {
            pg: Arc::new(PgClient {
                client,
                cache: Mutex::new(StmtCache::new(self.cache_size)),
                prepared: self.prepared,
            }),
            spare: Mutex::new(Vec::new()),
        }
    }
}

/// Runs a connection's I/O until the client is dropped or the server goes.
async fn drive_connection<F>(connection: F)
where
    F: std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>,
{
    if let Err(e) = connection.await {
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

fn counted(rows_affected: u64) -> ExecResult {
    ExecResult {
        rows_affected,
        last_insert_id: None,
    }
}

/// The server's refusal to run a cached plan whose result columns changed
/// since it was prepared (an `ALTER TABLE` under a `SELECT *`). It comes
/// before the statement runs anything.
fn stale_plan(e: &Error) -> bool {
    e.code() == Some("0A000")
        && e.message()
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

struct PgSync {
    client: postgres::Client,
    cache: StmtCache<Statement>,
    prepared: bool,
}

impl PgSync {
    fn prepare(&mut self, sql: &SqlText) -> Result<Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s);
        }
        let s = self.client.prepare(sql).map_err(pg_error)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    /// Runs `once`, and once more with the statement prepared anew if the
    /// server refused its stale cached plan.
    fn retrying<T>(
        &mut self,
        sql: &SqlText,
        mut once: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let mut first = None;
        loop {
            match once(self) {
                Err(e) => match retry_after(&mut first, e) {
                    Some(e) => return Err(e),
                    None => self.cache.remove(sql),
                },
                done => return done,
            }
        }
    }

    fn execute_once(&mut self, stmt: &Stmt) -> Result<ExecResult> {
        let r = if self.prepared {
            let st = self.prepare(&stmt.sql)?;
            self.client.execute(&st, &params(&stmt.params)?)
        } else {
            self.client
                .execute_typed(&stmt.sql, &typed_params(&stmt.params)?)
        };
        r.map(counted).map_err(pg_error)
    }

    /// Every row of a query, as the driver returns them.
    fn query_once(&mut self, stmt: &Stmt) -> Result<Vec<tokio_postgres::Row>> {
        let r = if self.prepared {
            let st = self.prepare(&stmt.sql)?;
            self.client.query(&st, &params(&stmt.params)?)
        } else {
            self.client
                .query_typed(&stmt.sql, &typed_params(&stmt.params)?)
        };
        r.map_err(pg_error)
    }

    /// Every row of a query, collected in one go: the blocking `postgres`
    /// crate enters its runtime once per call, but once per row when
    /// iterating (`query_each`), which doubled the time of 10,000 rows.
    fn collect(&mut self, stmt: &Stmt) -> Result<impl ExactSizeIterator<Item = Row> + use<>> {
        let rows = self.retrying(&stmt.sql, |c| c.query_once(stmt))?;
        Ok(rows.into_iter().map(|r| Row {
            inner: RowInner::Pg(r),
        }))
    }

    fn query_each_once(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        use fallible_iterator::FallibleIterator;
        let mut it = if self.prepared {
            let st = self.prepare(&stmt.sql)?;
            self.client.query_raw(&st, params(&stmt.params)?)
        } else {
            self.client
                .query_typed_raw(&stmt.sql, typed_params(&stmt.params)?)
        }
        .map_err(pg_error)?;
        let mut n = 0;
        while let Some(r) = it.next().map_err(pg_error)? {
            sink.row(&mut Some(Row {
                inner: RowInner::Pg(r),
            }))?;
            n += 1;
        }
        Ok(n)
    }
}

impl SyncConn for PgSync {
    fn execute(&mut self, stmt: &Stmt) -> Result<ExecResult> {
        self.retrying(&stmt.sql, |c| c.execute_once(stmt))
    }
    fn query(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        Ok(self.collect(stmt)?.collect())
    }
    /// Collected first (see `collect`), and handed over from the driver's
    /// own vector of rows.
    fn query_rows(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        feed(self.collect(stmt)?, sink)
    }
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.retrying(&stmt.sql, |c| c.query_each_once(stmt, &mut *sink))
    }
    fn is_usable(&mut self) -> bool {
        !self.client.is_closed()
    }
    fn ping(&mut self) -> Result<()> {
        self.client.simple_query("").map(drop).map_err(pg_error)
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

/// What a [`PgAsync`]'s statements share with the futures that start them.
struct PgClient {
    client: tokio_postgres::Client,
    /// Never held across an await.
    cache: Mutex<StmtCache<Statement>>,
    prepared: bool,
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
    let started = if pg.prepared {
        match (pg.prepare(&stmt.sql).await, params(&stmt.params)) {
            (Ok(st), Ok(p)) => pg.client.query_raw(&st, p).await.map_err(pg_error),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    } else {
        match typed_params(&stmt.params) {
            Ok(p) => pg
                .client
                .query_typed_raw(&stmt.sql, p)
                .await
                .map_err(pg_error),
            Err(e) => Err(e),
        }
    };
    (stmt, started)
}

impl PgClient {
    async fn prepare(&self, sql: &SqlText) -> Result<Statement> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql);
        if let Some(s) = cached {
            return Ok(s);
        }
        let s = self.client.prepare(sql).await.map_err(pg_error)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql, s.clone());
        Ok(s)
    }
}

impl PgAsync {
    /// What to do after a statement failed: see [`retry_after`]; on a
    /// retry, the stale statement leaves the cache.
    fn retry(&self, sql: &SqlText, first: &mut Option<Error>, e: Error) -> Option<Error> {
        let give_up = retry_after(first, e);
        if give_up.is_none() {
            self.pg
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(sql);
        }
        give_up
    }

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
        use futures_core::Stream;
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
                Ok(stream) => {
                    let mut stream = std::pin::pin!(stream);
                    let mut n = 0;
                    let mut failed = None;
                    while let Some(r) =
                        std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
                    {
                        let row = r.map_err(pg_error).and_then(|r| {
                            sink.row(&mut Some(Row {
                                inner: RowInner::Pg(r),
                            }))
                        });
                        if let Err(e) = row {
                            failed = Some(e);
                            break;
                        }
                        n += 1;
                    }
                    match failed {
                        Some(e) => Err(e),
                        None => Ok((n, stream.rows_affected().unwrap_or(0))),
                    }
                }
                Err(e) => Err(e),
            };
            let done = match done {
                Err(e) => match self.retry(&stmt.sql, &mut first, e) {
                    Some(e) => Err(e),
                    None => continue,
                },
                done => done,
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
        !self.pg.client.is_closed()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.pg
                .client
                .simple_query("")
                .await
                .map(drop)
                .map_err(pg_error)
        })
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
        !self.pg.client.is_closed()
    }
}

impl crate::row::RowRead for tokio_postgres::Row {
    #[inline]
    fn take<T: crate::value::FromSql>(&mut self, i: usize) -> Result<T> {
        crate::row::within(i, self.len())?;
        let column = super::pg_types::column(self, i)?;
        T::from_column(crate::value::RawColumn::pg(column)).map_err(|e| crate::row::in_column(i, e))
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        crate::row::within(i, self.len())?;
        // The binary form's presence: nothing decoded.
        Ok(super::pg_types::column(self, i)?.is_null())
    }
}

/// dualdb's error for a PostgreSQL error: the SQLSTATE picks the kind.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> Error {
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
        return Error::new(kind, message).with_code(code).with_source(e);
    }
    let message = if e.is_closed() {
        "the connection is closed".to_owned()
    } else {
        match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }
    };
    Error::new(ErrorKind::Query, message).with_source(e)
}
