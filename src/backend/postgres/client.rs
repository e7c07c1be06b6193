//! A tokio-postgres client and what both halves do with it: sending a
//! statement ([`PgClient::send`]) through the statement cache, reading its
//! rows ([`drain`]), the retry of a stale plan ([`PgClient::settle`]), and
//! the error mapping.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use postgres_types::Type;
use tokio_postgres::{RowStream, Statement};

use super::types::implied_type;
use crate::backend::DriverRow;
use crate::backend::StmtCache;
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{RowSink, next_row};
use crate::row::Row;
use crate::statement::{ExecResult, SqlText, Stmt};
use crate::value::Value;

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
        id_step: 1,
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

impl PgClient {
    /// `client` with an empty cache of `cache_size` statements; `schema` is
    /// the backend's count of stale plans seen.
    pub(super) fn new(
        client: tokio_postgres::Client,
        cache_size: usize,
        schema: Arc<AtomicU64>,
        prepared: bool,
    ) -> Self {
        PgClient {
            client,
            cache: Mutex::new(Plans {
                statements: StmtCache::new(cache_size),
                schema: schema.load(Ordering::Acquire),
            }),
            schema,
            prepared,
        }
    }

    /// Sends `stmt` (prepared through the cache, or unnamed): the stream of
    /// its results.
    pub(super) async fn send(&self, stmt: &Stmt) -> Result<RowStream> {
        crate::placeholders::check_count(BackendKind::Postgres, stmt.params.len())?;
        if self.prepared {
            let st = self.prepare(&stmt.sql, Some(stmt.params.len())).await?;
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
            let text = written(&stmt.sql, Some(stmt.params.len()))?;
            let p = typed_params(&stmt.params)?;
            (self.client.query_typed_raw(&text, p).await).map_err(pg_error)
        }
    }

    /// Sends `stmt` for a cursor of either half, once more if the server
    /// refused its stale cached plan (which it does before any row): the
    /// stream of its rows.
    pub(super) async fn send_settled(&self, stmt: &Stmt) -> Result<RowStream> {
        let mut first = None;
        loop {
            let sent = self.send(stmt).await;
            if let Some(sent) = self.settle(&mut first, sent) {
                return sent;
            }
        }
    }

    /// What to make of an attempt at a statement: what to return, or
    /// `None` to send it once more, its stale plan gone from the cache (see
    /// [`retry_after`]; `first` keeps the first failure).
    pub(super) fn settle<T>(
        &self,
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
        give_up.map(Err)
    }

    /// The types of the columns `sql` returns: COPY's binary rows are
    /// written by them. The statement goes through the cache (unnamed and
    /// closed at once with `prepared_statements(false)`), so a repeated
    /// COPY of the same columns costs no round trip for them
    /// (benches/paired, the `copy` workload).
    pub(super) async fn column_types(&self, sql: &str) -> Result<Vec<Type>> {
        let st = match self.prepared {
            true => self.prepare(&SqlText::Owned(sql.to_owned()), None).await?,
            false => self.client.prepare(sql).await.map_err(pg_error)?,
        };
        Ok(st.columns().iter().map(|c| c.type_().clone()).collect())
    }

    /// The driver's client, for what goes past dualdb's statements (COPY).
    pub(super) fn raw(&self) -> &tokio_postgres::Client {
        &self.client
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

    /// Runs `sql` as written through the simple query protocol (a
    /// migration script's statement: `Stmt::script`).
    pub(super) async fn script(&self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(pg_error)
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.client
            .simple_query("")
            .await
            .map(drop)
            .map_err(pg_error)
    }

    /// The statement of `sql`, from the cache (by the text as written, so
    /// that a `?` is rewritten once per connection and text) or prepared
    /// now, once checked against the `given` number of values.
    async fn prepare(&self, sql: &SqlText, given: Option<usize>) -> Result<Statement> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&self.schema)
            .get(sql);
        if let Some(s) = cached {
            return Ok(s);
        }
        let text = written(sql, given)?;
        let s = self.client.prepare(&text).await.map_err(pg_error)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&self.schema)
            .insert(sql, s.clone());
        Ok(s)
    }
}

/// `sql` as the server takes it: raw SQL with its `?` placeholders
/// rewritten (`placeholders::to_postgres`), refused before anything is sent
/// if its placeholders take another number of values than the `given` ones
/// (tests/placeholders.rs). SQL dualdb built is PostgreSQL's already.
fn written(sql: &SqlText, given: Option<usize>) -> Result<Cow<'_, str>> {
    if !matches!(sql, SqlText::Owned(_)) {
        return Ok(Cow::Borrowed(sql));
    }
    let (text, takes) = crate::placeholders::to_postgres(sql)?;
    match given {
        Some(given) if given != takes => Err(crate::placeholders::count_mismatch(takes, given)),
        _ => Ok(text),
    }
}

/// Gives each row of `stream` to `sink`: the count of rows `sink` got and
/// the rows the statement affected.
pub(super) async fn drain(stream: RowStream, sink: RowSink<'_>) -> Result<(u64, u64)> {
    use futures_core::Stream;
    let mut stream = std::pin::pin!(stream);
    let mut n = 0;
    if sink.paced() {
        loop {
            let next = next_row(&mut *sink, |cx| stream.as_mut().poll_next(cx));
            let Some(r) = next.await? else {
                break;
            };
            hand_over(sink, r.map_err(pg_error)?)?;
            n += 1;
        }
    } else {
        while let Some(r) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            hand_over(sink, r.map_err(pg_error)?)?;
            n += 1;
        }
    }
    Ok((n, stream.rows_affected().unwrap_or(0)))
}

/// Gives one of the driver's rows to `sink`.
pub(super) fn hand_over(sink: RowSink<'_>, row: tokio_postgres::Row) -> Result<()> {
    sink.row(&mut Some(Row {
        inner: DriverRow::Pg(row),
    }))
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
pub(super) fn describe(e: &tokio_postgres::Error) -> (ErrorKind, String, Option<String>) {
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
