//! SQLite through `rusqlite` (bundled). The blocking half calls it directly;
//! the async half runs the very same code on Tokio's blocking threads.
//!
//! `sqlite::memory:` is a private temporary database shared by every
//! connection of both halves: a file in the temporary directory, in WAL mode
//! without fsync, deleted when the `Database` is dropped. SQLite's own
//! `:memory:` databases are private to one connection, and its shared
//! in-memory forms (`memdb`, shared cache) lock readers out while a
//! transaction writes; a WAL file gives both halves SQLite's normal
//! concurrency: readers never wait for a writer.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef as LiteRef};
use rusqlite::{ErrorCode, OpenFlags};

mod cursor;
pub(crate) mod rows;

use super::{AsyncConn, Backend, BoxFuture, StmtCache, SyncConn};
use super::{DriverRow, InPlaceRow};
use crate::config::{BackendKind, Config, SqliteTarget};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{RowSink, feed, next_row};
use crate::row::Row;
use crate::statement::{ExecResult, SqlText, Stmt};
use crate::types::temporal;
use crate::value::Value;
use rows::{CopiedRow, CurrentRow, LiteColumns, LiteSet, NamesMemo};

/// How to open one connection; cheap to clone into a blocking task.
#[derive(Clone)]
struct Opener {
    path: String,
    flags: OpenFlags,
    /// The temporary database of `sqlite::memory:`: no fsync.
    is_temp: bool,
    busy_timeout: Duration,
    statement_timeout: Option<Duration>,
    cache_size: usize,
}

pub(crate) struct LiteBackend {
    opener: Opener,
    /// Deletes the temporary database of `sqlite::memory:` on drop.
    _temp: Option<TempDb>,
}

/// The files of a temporary database, removed on drop.
struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl LiteBackend {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let target = config
            .sqlite
            .clone()
            .ok_or_else(|| Error::config("sqlite URL without a path"))?;
        let base = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let (path, temp) = match target {
            SqliteTarget::File(p) => (p, None),
            SqliteTarget::Memory => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let p = std::env::temp_dir()
                    .join(format!("dualdb-{}-{n}-{nanos}.sqlite", std::process::id()));
                (p.clone(), Some(TempDb(p)))
            }
        };
        let is_temp = temp.is_some();
        let path = path
            .to_str()
            .ok_or_else(|| Error::config("sqlite path is not valid UTF-8"))?
            .to_owned();
        let opener = Opener {
            path,
            flags: base,
            is_temp,
            busy_timeout: config.acquire_timeout,
            statement_timeout: config.statement_timeout,
            cache_size: config.statement_cache_size,
        };
        Ok(LiteBackend {
            opener,
            _temp: temp,
        })
    }
}

impl Backend for LiteBackend {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        Ok(Box::new(self.opener.open()?))
    }

    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>> {
        let opener = self.opener.clone();
        Box::pin(async move {
            let conn = offload(move || opener.open()).await?;
            Ok(Box::new(LiteAsync { conn: Some(conn) }) as Box<dyn AsyncConn>)
        })
    }

    /// A file this process opened does not go away while idle.
    fn goes_stale(&self) -> bool {
        false
    }

    /// Opening a file waits on no server (a locked database waits at most
    /// the busy timeout, at its first statement). A process whose only
    /// database is SQLite then starts no thread of dualdb's for its blocking
    /// half, and keeps glibc's single-threaded malloc, which takes no lock
    /// (tests/sqlite_threads.rs; benches/instructions, SQLite's selects).
    fn connect_may_hang(&self) -> bool {
        false
    }
}

impl Opener {
    fn open(&self) -> Result<LiteConn> {
        let connect = |e: rusqlite::Error| {
            Error::new(
                ErrorKind::Connect,
                format!("cannot open SQLite database {}: {e}", self.path),
            )
            .with_source(e)
        };
        let mut conn =
            rusqlite::Connection::open_with_flags(&self.path, self.flags).map_err(connect)?;
        conn.busy_timeout(self.busy_timeout).map_err(connect)?;
        // Statements are kept in `Prepared`, not in rusqlite's cache.
        conn.set_prepared_statement_cache_capacity(0);
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(connect)?;
        // WAL lets readers of one half run beside a writer of the other.
        wal(&conn, self.busy_timeout).map_err(connect)?;
        if self.is_temp {
            conn.pragma_update(None, "synchronous", "OFF")
                .map_err(connect)?;
        }
        let deadline = Arc::new(Deadline::new());
        if self.statement_timeout.is_some() {
            let d = deadline.clone();
            conn.progress_handler(1_000, Some(move || d.passed()))
                .map_err(connect)?;
        }
        let cache_size = self.cache_size;
        Ok(LiteConn {
            cell: LiteCell::new(conn, |_| Prepared {
                kept: RefCell::new(StmtCache::new(cache_size)),
                cursor: RefCell::new(None),
            }),
            deadline,
            statement_timeout: self.statement_timeout,
            names: RefCell::new(StmtCache::new(self.cache_size)),
            spare: Cell::new(None),
            cursor_open: false,
        })
    }
}

/// Puts the database in WAL mode. Connections opening a new file at once
/// all switch it, and SQLite answers the losers `SQLITE_BUSY` at once,
/// without its busy handler (which could deadlock there): the switch is
/// tried again, briefly apart, until the busy timeout has passed
/// (tests/runtime.rs opens eight at once).
fn wal(conn: &rusqlite::Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < busy_timeout =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            done => return done,
        }
    }
}

/// The statement deadline the progress handler checks.
struct Deadline {
    base: Instant,
    /// Nanoseconds after `base`; 0 means none.
    at: AtomicU64,
}

impl Deadline {
    fn new() -> Self {
        Deadline {
            base: Instant::now(),
            at: AtomicU64::new(0),
        }
    }
    fn arm(&self, after: Option<Duration>) {
        let at = after.map_or(0, |d| {
            u64::try_from((self.base.elapsed() + d).as_nanos())
                .unwrap_or(u64::MAX)
                .max(1)
        });
        self.at.store(at, Ordering::Relaxed);
    }
    fn passed(&self) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        at != 0 && u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX) > at
    }
}

/// A prepared statement and how its parameters take the values.
struct Kept<'c> {
    st: rusqlite::Statement<'c>,
    /// For a statement with `$N` placeholders, the number (from 0) of the
    /// value each parameter takes, in SQLite's order; `None` for one with
    /// none, whose parameters take the values in order.
    numbered: Option<Box<[usize]>>,
    /// The column names a decoder last found the statement to start with.
    names_checked: NamesMemo,
}

impl<'c> Kept<'c> {
    fn new(st: rusqlite::Statement<'c>) -> rusqlite::Result<Self> {
        let numbered = numbered_parameters(&st)?;
        Ok(Kept {
            st,
            numbered,
            names_checked: NamesMemo::default(),
        })
    }
}

/// SQLite numbers a `$2` by where it first appears, like any `$name`: in
/// `SELECT $2, $1` it is the first parameter. PostgreSQL's `$N` means the
/// `N`th value: this is the value number of each parameter, if any is
/// written `$N` (tests/raw_sql.rs `sqlite_binds_dollar_placeholders_by_their_number`).
/// Such a statement may not mix other forms, and its highest `N` must be
/// the number of values (checked as it runs, by [`Bound::new`]).
fn numbered_parameters(st: &rusqlite::Statement<'_>) -> rusqlite::Result<Option<Box<[usize]>>> {
    let count = st.parameter_count();
    let number = |i: usize| -> Option<usize> {
        let digits = st.parameter_name(i)?.strip_prefix('$')?;
        let n: usize = digits.parse().ok()?;
        (n >= 1 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(n - 1)
    };
    if !(1..=count).any(|i| number(i).is_some()) {
        return Ok(None);
    }
    (1..=count)
        .map(|i| {
            number(i).ok_or_else(|| {
                let name = st.parameter_name(i).unwrap_or("?");
                rusqlite::Error::ToSqlConversionFailure(
                    format!(
                        "a statement with $N placeholders cannot also have {name}: \
                         write every placeholder as $N, or none"
                    )
                    .into(),
                )
            })
        })
        .collect::<rusqlite::Result<Box<[usize]>>>()
        .map(Some)
}

/// A statement's values in the order its parameters take them.
#[derive(Clone, Copy)]
struct Bound<'v> {
    values: &'v [Value],
    numbered: Option<&'v [usize]>,
}

impl<'v> Bound<'v> {
    /// The values of `stmt` for a statement whose parameters are
    /// `numbered`; with `$N` placeholders, an error unless the highest `N`
    /// is the number of values.
    fn new(values: &'v [Value], numbered: Option<&'v [usize]>) -> rusqlite::Result<Self> {
        if let Some(numbers) = numbered {
            let highest = numbers.iter().max().map_or(0, |n| n + 1);
            if highest != values.len() {
                return Err(rusqlite::Error::InvalidParameterCount(
                    values.len(),
                    highest,
                ));
            }
        }
        Ok(Bound { values, numbered })
    }
}

impl<'v> IntoIterator for Bound<'v> {
    type Item = &'v Value;
    type IntoIter = BoundIter<'v>;
    fn into_iter(self) -> BoundIter<'v> {
        BoundIter { bound: self, at: 0 }
    }
}

struct BoundIter<'v> {
    bound: Bound<'v>,
    at: usize,
}

impl<'v> Iterator for BoundIter<'v> {
    type Item = &'v Value;
    #[inline]
    fn next(&mut self) -> Option<&'v Value> {
        let i = self.at;
        self.at += 1;
        match self.bound.numbered {
            None => self.bound.values.get(i),
            Some(numbers) => self.bound.values.get(*numbers.get(i)?),
        }
    }
}

/// A connection's prepared statements, by SQL text, and the statement of
/// its open cursor, if any (taken out of them until the cursor closes).
struct Prepared<'c> {
    kept: RefCell<StmtCache<Kept<'c>>>,
    cursor: RefCell<Option<cursor::Open<'c>>>,
}

self_cell::self_cell!(
    /// A rusqlite connection and the statements prepared on it, which
    /// borrow it (and are finalized before it closes).
    struct LiteCell {
        owner: rusqlite::Connection,
        #[not_covariant]
        dependent: Prepared,
    }
);

// SAFETY: a statement refers only to the connection of its own cell, and
// the cell moves (to another thread too) as a whole: the connection and its
// statements are never used from two threads at once, which is all SQLite
// asks of a connection opened without its mutex. No reference into the
// cell outlives a `with_dependent` call. rusqlite's own statement cache
// makes the same promise (`unsafe impl Send for StatementCache`).
unsafe impl Send for LiteCell {}

/// One rusqlite connection, used by both halves.
///
/// Its prepared statements are kept here, not by rusqlite's
/// `prepare_cached`, which on every call trims and hashes the text, copies
/// it into a new key, and takes the statement out of its LRU list and puts
/// it back (benches/instructions, the SQLite get, guards the difference):
/// here a statement is found by its text's hash (computed once for SQL
/// dualdb built) and stays where it is.
pub(crate) struct LiteConn {
    cell: LiteCell,
    deadline: Arc<Deadline>,
    statement_timeout: Option<Duration>,
    /// The column names of each statement as it last ran, by SQL text: the
    /// rows of a statement share them, and a statement run again reuses
    /// them while they are still its names (no allocation per statement).
    names: RefCell<StmtCache<Arc<[String]>>>,
    /// The buffers of the last row of the last statement, when no one kept
    /// it: the next statement's rows are copied into them.
    spare: Cell<Option<CopiedRow>>,
    /// A cursor is open (`Prepared::cursor` holds its statement): known
    /// here without entering the cell, for the check on every return to
    /// the pool.
    cursor_open: bool,
}

impl LiteConn {
    /// Runs `f` on the prepared statement of `stmt`'s SQL: the one kept for
    /// it, or one prepared now (and kept, unless the cache keeps none).
    /// Bound text and blobs are let go of after it (SQLite holds copies of
    /// them). `f` runs with the cache borrowed: nothing it calls can reach
    /// this connection (a sink decodes rows; `&mut self` keeps it ours).
    fn with_stmt<T>(
        &self,
        stmt: &Stmt,
        f: impl FnOnce(&mut rusqlite::Statement<'_>, Bound<'_>, &NamesMemo) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let copied = copies(&stmt.params);
        let run = |k: &mut Kept<'_>| {
            let values = Bound::new(&stmt.params, k.numbered.as_deref())?;
            let out = f(&mut k.st, values, &k.names_checked);
            if copied {
                k.st.clear_bindings();
            }
            out
        };
        self.cell.with_dependent(|conn, prepared| {
            let mut kept = prepared.kept.borrow_mut();
            if let Some(k) = kept.get_mut(&stmt.sql) {
                return run(k);
            }
            let flags = rusqlite::PrepFlags::SQLITE_PREPARE_PERSISTENT;
            let k = Kept::new(conn.prepare_with_flags(stmt.sql.trim(), flags)?)?;
            match kept.keep(&stmt.sql, k) {
                Ok(k) => run(k),
                Err(mut k) => run(&mut k),
            }
        })
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        let timed_out = self.deadline.passed();
        let err = lite_error(e);
        if timed_out && err.code() == Some("9") {
            Error::new(ErrorKind::Query, "statement timeout exceeded").with_code("9")
        } else {
            err
        }
    }

    /// Runs `f` for `stmt` under the statement timeout (armed before it,
    /// disarmed after it, whatever happens), its error mapped while the
    /// deadline still tells an interrupt by the timeout from another.
    fn timed<T>(&self, stmt: &Stmt, f: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
        // SQLite has no array or hstore: refused (with unencodable values)
        // with a typed error before binding.
        Value::check_all(&stmt.params, BackendKind::Sqlite)?;
        crate::placeholders::check_count(BackendKind::Sqlite, stmt.params.len())?;
        self.deadline.arm(self.statement_timeout);
        let out = f().map_err(|e| self.error(e));
        self.deadline.arm(None);
        out
    }

    fn run_execute(&mut self, stmt: &Stmt) -> Result<ExecResult> {
        if stmt.script {
            let conn = self.cell.borrow_owner();
            conn.execute_batch(&stmt.sql).map_err(lite_error)?;
            return Ok(ExecResult {
                rows_affected: conn.changes(),
                last_insert_id: None,
                id_step: 1,
            });
        }
        let rows_affected = self.timed(stmt, || {
            self.with_stmt(stmt, |st, values, _| {
                if st.column_count() == 0 {
                    return st
                        .execute(rusqlite::params_from_iter(values))
                        .map(|n| n as u64);
                }
                // A statement that returns rows (a PRAGMA, `… RETURNING`): run
                // it to the end and count the rows it returns.
                let mut rows = st.query(rusqlite::params_from_iter(values))?;
                let mut n = 0u64;
                while rows.next()?.is_some() {
                    n += 1;
                }
                Ok(n)
            })
        })?;
        let id = self.cell.borrow_owner().last_insert_rowid();
        Ok(ExecResult {
            rows_affected,
            last_insert_id: u64::try_from(id).ok().filter(|&i| i != 0),
            id_step: 1,
        })
    }

    /// Runs a query, handing each row to `sink`; the statement stops at the
    /// first error, the sink's included.
    fn run_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        let mut stopped = None;
        let out = self.timed(stmt, || self.each_row(stmt, sink, &mut stopped));
        match stopped {
            Some(e) => Err(e),
            None => out,
        }
    }

    /// Each row handed to `sink` until it fails (its error in `stopped`);
    /// the number handed. A sink that reads rows in place
    /// (`Sink::in_place`) gets them so; to any other, each
    /// row is copied out of the statement, and a row it leaves in the slot
    /// is refilled with the next one, the last one kept for the next
    /// statement: a statement whose rows are only read allocates nothing
    /// for them.
    fn each_row(
        &self,
        stmt: &Stmt,
        sink: RowSink<'_>,
        stopped: &mut Option<Error>,
    ) -> rusqlite::Result<u64> {
        self.with_stmt(stmt, |st, values, names| {
            self.rows_of(st, (stmt, names), values, sink, stopped)
        })
    }

    /// [`each_row`](Self::each_row) on `st`, the statement of `stmt`, whose
    /// column names `names` remembers.
    fn rows_of(
        &self,
        st: &mut rusqlite::Statement<'_>,
        (stmt, names): (&Stmt, &NamesMemo),
        values: Bound<'_>,
        sink: RowSink<'_>,
        stopped: &mut Option<Error>,
    ) -> rusqlite::Result<u64> {
        let mut rows = st.query(rusqlite::params_from_iter(values))?;
        let mut handed = Handed::default();
        let mut count = 0;
        while let Some(r) = rows.next()? {
            count += 1;
            let of = (&stmt.sql, stmt.positional, names);
            if let Err(e) = handed.hand(self, of, r, sink)? {
                *stopped = Some(e);
                break;
            }
        }
        handed.finish(self);
        Ok(count)
    }

    /// Every row of a query, copied into one set they share.
    fn collect(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        self.timed(stmt, || {
            let set = self.with_stmt(stmt, |st, values, _| {
                let mut rows = st.query(rusqlite::params_from_iter(values))?;
                let mut set = None;
                while let Some(r) = rows.next()? {
                    set.get_or_insert_with(|| LiteSet::new(self.columns(stmt, r.as_ref())))
                        .push(r)?;
                }
                Ok(set)
            })?;
            let rows = set.into_iter().flat_map(LiteSet::rows);
            Ok(rows
                .map(|r| Row {
                    inner: DriverRow::Lite(r),
                })
                .collect())
        })
    }

    /// The columns of `st`, the statement of `stmt`, which has taken its
    /// first step: their names, unless its rows are read by position only.
    fn columns(&self, stmt: &Stmt, st: &rusqlite::Statement<'_>) -> LiteColumns {
        self.columns_of(&stmt.sql, stmt.positional, st)
    }

    /// [`columns`](Self::columns) of the statement of `sql`.
    fn columns_of(
        &self,
        sql: &SqlText,
        positional: bool,
        st: &rusqlite::Statement<'_>,
    ) -> LiteColumns {
        if positional {
            LiteColumns::Unnamed(st.column_count())
        } else {
            LiteColumns::Named(self.names(sql, st))
        }
    }

    /// The column names of `st` (the statement of `sql`), which has taken
    /// its first step: only then are they current, since SQLite prepares a
    /// statement anew at its next step after a schema change (and `SELECT *`
    /// may then return other columns). The names kept from its last run are
    /// checked against the statement's and reused if they are the same.
    fn names(&self, sql: &SqlText, st: &rusqlite::Statement<'_>) -> Arc<[String]> {
        let name = |i| st.column_name(i).unwrap_or_default();
        let mut kept = self.names.borrow_mut();
        let current = kept.get(sql).filter(|names| {
            names.len() == st.column_count() && names.iter().enumerate().all(|(i, n)| name(i) == n)
        });
        current.unwrap_or_else(|| {
            let names: Arc<[String]> = (0..st.column_count()).map(|i| name(i).to_owned()).collect();
            kept.insert(sql, names.clone());
            names
        })
    }
}

/// Whether binding `params` copies any of them: anything but a number is
/// bound as text or a blob, which SQLite copies (and the statement holds
/// until its bindings are cleared).
fn copies(params: &[Value]) -> bool {
    params.iter().any(|v| {
        !matches!(
            v,
            Value::Null | Value::Bool(_) | Value::I64(_) | Value::F64(_)
        )
    })
}

/// What the rows of one statement, handed to a sink one at a time, keep
/// from one row to the next: their columns, and the copied row a sink left
/// in its slot, refilled with the next one (a statement whose rows are only
/// read allocates nothing for them).
#[derive(Default)]
struct Handed {
    columns: Option<LiteColumns>,
    slot: Option<Row>,
}

impl Handed {
    /// Hands `r` to `sink`: read in place if the sink reads rows so
    /// (`Sink::in_place`), or else copied into the slot. The outer error is
    /// SQLite's, the inner one the sink's. Inlined into each statement's
    /// row loop, as the loop's body was before it was shared with cursors
    /// (benches/paired, SQLite's `trivial` selects).
    #[inline(always)]
    fn hand(
        &mut self,
        conn: &LiteConn,
        (sql, positional, names): (&SqlText, bool, &NamesMemo),
        r: &rusqlite::Row<'_>,
        sink: RowSink<'_>,
    ) -> rusqlite::Result<Result<()>> {
        if let Some(done) = sink.in_place(&mut InPlaceRow::Lite(CurrentRow(r, Some(names)))) {
            return Ok(done);
        }
        let columns = match &self.columns {
            Some(c) => c,
            None => self
                .columns
                .insert(conn.columns_of(sql, positional, r.as_ref())),
        };
        if self.slot.is_none() {
            self.slot = conn.spare.take().map(|r| Row {
                inner: DriverRow::Lite(r),
            });
        }
        let refilled = match &mut self.slot {
            Some(Row {
                inner: DriverRow::Lite(kept),
            }) => kept.refill(columns, r)?,
            _ => false,
        };
        if !refilled {
            self.slot = Some(Row {
                inner: DriverRow::Lite(CopiedRow::single(columns.clone(), r)?),
            });
        }
        Ok(sink.row(&mut self.slot))
    }

    /// The statement ended: the last row's buffers, if the sink left them,
    /// are kept for the connection's next statement.
    fn finish(self, conn: &LiteConn) {
        if let Some(Row {
            inner: DriverRow::Lite(mut last),
        }) = self.slot
            && last.reusable()
        {
            conn.spare.set(Some(last));
        }
    }
}

impl SyncConn for LiteConn {
    fn execute(&mut self, stmt: Stmt) -> Result<ExecResult> {
        self.run_execute(&stmt)
    }
    fn query(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        self.collect(stmt)
    }
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.run_each(stmt, sink)
    }
    fn open_cursor(&mut self, stmt: &Stmt) -> Result<()> {
        cursor::open(self, stmt)
    }
    fn cursor_rows(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool> {
        cursor::rows(self, sink, max)
    }
    fn close_cursor(&mut self) {
        cursor::close(self);
    }
    /// A cursor its iterator left open is closed here, before the
    /// connection is lent again: its statement would keep a read snapshot.
    fn is_usable(&mut self) -> bool {
        if self.cursor_open {
            cursor::close(self);
        }
        true
    }
    fn ping(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Rows a streamed SQLite statement may run ahead of its consumer.
const STREAM_BUFFER: usize = 256;

/// The async half's connection: the blocking one, moved into a blocking task
/// for each call. If the future is dropped mid-call, the connection stays
/// with the task and this slot is empty, so the pool discards it.
struct LiteAsync {
    conn: Option<LiteConn>,
}

async fn offload<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorKind::Usage, "the SQLite worker task failed").with_source(e))?
}

impl LiteAsync {
    fn call<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut LiteConn) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        Box::pin(async move {
            let mut conn = self
                .conn
                .take()
                .ok_or_else(|| Error::new(ErrorKind::Usage, "SQLite connection was lost"))?;
            let (conn, out) = offload(move || {
                let out = f(&mut conn);
                Ok((conn, out))
            })
            .await?;
            self.conn = Some(conn);
            out
        })
    }
}

impl AsyncConn for LiteAsync {
    fn execute(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>> {
        self.call(move |c| c.run_execute(&stmt))
    }
    fn query(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<Vec<Row>>> {
        self.call(move |c| c.query(&stmt))
    }
    /// Collected on the blocking thread into one shared set, then handed
    /// over: cheaper than a row at a time through a channel.
    fn query_rows<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { feed(self.query(stmt).await?.into_iter(), sink) })
    }
    /// The statement runs on a blocking thread and sends its rows through a
    /// bounded channel, so at most `STREAM_BUFFER` rows wait in memory; an
    /// error from `sink` closes the channel, which stops the statement.
    fn query_each<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Row>(STREAM_BUFFER);
            let worker = self.call(move |c| {
                c.run_each(&stmt, &mut |slot: &mut Option<Row>| match slot.take() {
                    Some(row) => tx
                        .blocking_send(row)
                        .map_err(|_| Error::new(ErrorKind::Usage, "the row stream was closed")),
                    None => Ok(()),
                })
            });
            let receive = async {
                let mut failed = None;
                let paced = sink.paced();
                loop {
                    let next = if paced {
                        next_row(&mut *sink, |cx| rx.poll_recv(cx)).await
                    } else {
                        Ok(rx.recv().await)
                    };
                    let row = match next {
                        Ok(Some(row)) => row,
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e);
                            rx.close();
                            break;
                        }
                    };
                    if let Err(e) = sink.row(&mut Some(row)) {
                        failed = Some(e);
                        rx.close();
                        break;
                    }
                }
                failed
            };
            let (sent, failed) = tokio::join!(worker, receive);
            match failed {
                Some(e) => Err(e),
                None => sent,
            }
        })
    }
    fn is_usable(&mut self) -> bool {
        self.conn.is_some()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// dualdb's error for a rusqlite error.
pub(crate) fn lite_error(e: rusqlite::Error) -> Error {
    let failure = match &e {
        rusqlite::Error::SqliteFailure(f, msg) => Some((*f, msg.clone())),
        rusqlite::Error::SqlInputError { error, msg, .. } => Some((*error, Some(msg.clone()))),
        _ => None,
    };
    let Some((f, msg)) = failure else {
        // Refused before the statement ran: Usage.
        return match &e {
            rusqlite::Error::InvalidParameterCount(given, takes) => {
                crate::placeholders::count_mismatch(*takes, *given).with_source(e)
            }
            rusqlite::Error::ToSqlConversionFailure(why) => {
                Error::new(ErrorKind::Usage, why.to_string()).with_source(e)
            }
            _ => Error::new(ErrorKind::Query, e.to_string()).with_source(e),
        };
    };
    let kind = match f.extended_code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        2067 | 1555 => ErrorKind::UniqueViolation,
        _ if f.code == ErrorCode::ConstraintViolation => ErrorKind::IntegrityViolation,
        // The database stayed locked past the busy timeout (the acquire
        // timeout): under overload, the same kind as a pool that stayed
        // full (tests/sqlite_overload.rs).
        _ if f.code == ErrorCode::DatabaseBusy => ErrorKind::PoolTimeout,
        _ => ErrorKind::Query,
    };
    let mut message = msg.unwrap_or_else(|| f.to_string());
    if kind == ErrorKind::PoolTimeout {
        message.push_str(": another connection held the write lock past the acquire timeout");
    }
    Error::new(kind, message)
        .with_code(f.extended_code.to_string())
        .with_source(e)
}

impl rusqlite::ToSql for Value {
    /// Dates, times and decimals are stored as text in the forms of
    /// [`crate::types::temporal`] and [`Numeric`](crate::types::Numeric).
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let text = |s: String| Ok(ToSqlOutput::Owned(rusqlite::types::Value::Text(s)));
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => LiteRef::Null,
            Value::Bool(b) => LiteRef::Integer(i64::from(*b)),
            Value::I64(i) => LiteRef::Integer(*i),
            Value::F64(f) => LiteRef::Real(*f),
            Value::Text(s) | Value::Json(s) => LiteRef::Text(s.as_bytes()),
            Value::Bytes(b) => LiteRef::Blob(b),
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => return text(u.hyphenated().to_string()),
            Value::Numeric(n) => return text(n.to_string()),
            Value::Date(d) => return text(temporal::format_date(*d)),
            Value::Time(t) => return text(temporal::format_time(*t)),
            Value::Timestamp(t) => return text(temporal::format_timestamp(*t)),
            Value::TimestampTz(t) => return text(temporal::format_timestamp_tz(*t)),
            Value::Array(_) | Value::HStore(_) | Value::Unencodable(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("SQLite cannot store {}", self.kind_name()).into(),
                ));
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Database, Model as _};

    #[derive(crate::Model, Debug, PartialEq)]
    #[model(table = "pair")]
    struct Pair {
        #[model(primary_key)]
        id: i64,
        name: String,
    }

    /// Statements run again from the connection's own cache, whatever its
    /// size: none kept (0), or fewer than the statements run (2, so that it
    /// starts over), each time with the values bound for that call.
    #[test]
    fn kept_statements_run_again_with_each_calls_values() {
        for size in [0, 2, 256] {
            let db = Database::builder("sqlite::memory:")
                .statement_cache_size(size)
                .build()
                .unwrap();
            let s = db.sync();
            s.execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
                .unwrap();
            for (a, b) in [(1, "x"), (2, "y"), (3, "x")] {
                s.execute("INSERT INTO t VALUES (?, ?)", &[&a, &b]).unwrap();
            }
            for round in 0..3 {
                for (b, want) in [("x", vec![1, 3]), ("y", vec![2]), ("z", vec![])] {
                    let rows = s
                        .query("SELECT a FROM t WHERE b = ? ORDER BY a", &[&b])
                        .unwrap();
                    let got: Vec<i64> = rows.iter().map(|r| r.get(0).unwrap()).collect();
                    assert_eq!(got, want, "cache size {size}, round {round}");
                    let n: i64 = s
                        .query_one("SELECT COUNT(*) FROM t WHERE a >= ?", &[&2])
                        .unwrap()
                        .get(0)
                        .unwrap();
                    assert_eq!(n, 2);
                }
            }
            // a statement that does not prepare is an error, every time
            for _ in 0..2 {
                let err = s.query("SELECT nope FROM t", &[]).unwrap_err();
                assert_eq!(err.kind(), crate::ErrorKind::Query, "{err}");
            }
        }
    }

    /// The buffers of a statement's last row serve the next statement,
    /// which brings its own columns and values into them.
    #[test]
    fn a_row_buffer_kept_for_the_next_statement_takes_its_columns() {
        let db = Database::builder("sqlite::memory:")
            .sync_pool_size(1)
            .build()
            .unwrap();
        let s = db.sync();
        s.create_table::<Pair>().unwrap();
        s.execute("INSERT INTO pair VALUES (1, 'one'), (2, 'two')", &[])
            .unwrap();
        let one = || Pair {
            id: 1,
            name: "one".into(),
        };
        assert_eq!(s.get(Pair::by_id(1)).unwrap(), one());
        for sql in [
            "SELECT name, id FROM pair WHERE id = 1",
            "SELECT 'pad' AS p, id, name FROM pair WHERE id = 1",
            "SELECT id, name FROM pair WHERE id = 1",
        ] {
            assert_eq!(s.raw::<Pair>(sql, &[]).unwrap(), [one()], "{sql}");
        }
        let names = s
            .fold_rows(
                "SELECT name AS label FROM pair WHERE id = 2",
                &[],
                None,
                |_, row| {
                    Ok::<_, dualdb::Error>(Some((
                        row.column_name(0).map(String::from),
                        row.get::<String>(0)?,
                    )))
                },
            )
            .unwrap();
        assert_eq!(names, Some((Some("label".into()), "two".into())));
    }

    /// Rows carry the column names of the statement as it ran, also when a
    /// schema change makes the same cached `SELECT *` return other columns.
    #[test]
    fn rows_carry_the_columns_of_the_statement_as_it_ran() {
        let db = Database::open("sqlite::memory:").unwrap();
        let s = db.sync();
        s.execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
            .unwrap();
        s.execute("INSERT INTO t VALUES (1, 'x')", &[]).unwrap();
        let names = |row: &crate::Row| -> Vec<String> {
            (0..row.len())
                .map(|i| row.column_name(i).unwrap().to_string())
                .collect()
        };
        for _ in 0..2 {
            let rows = s.query("SELECT * FROM t", &[]).unwrap();
            assert_eq!(names(&rows[0]), ["a", "b"]);
        }
        s.execute("DROP TABLE t", &[]).unwrap();
        s.execute("CREATE TABLE t (c TEXT, a INTEGER, d REAL)", &[])
            .unwrap();
        s.execute("INSERT INTO t VALUES ('y', 2, 0.5)", &[])
            .unwrap();
        let rows = s.query("SELECT * FROM t", &[]).unwrap();
        assert_eq!(names(&rows[0]), ["c", "a", "d"]);
        assert_eq!(rows[0].get::<i64>("a").unwrap(), 2);
        s.execute("ALTER TABLE t RENAME COLUMN c TO e", &[])
            .unwrap();
        let rows = s.query("SELECT * FROM t", &[]).unwrap();
        assert_eq!(names(&rows[0]), ["e", "a", "d"]);
        // streamed rows too
        s.execute("ALTER TABLE t RENAME COLUMN e TO f", &[])
            .unwrap();
        let streamed = s
            .fold_rows("SELECT * FROM t", &[], Vec::new(), move |mut v, row| {
                v.push(names(&row));
                Ok::<_, dualdb::Error>(v)
            })
            .unwrap();
        assert_eq!(streamed, [["f", "a", "d"]]);
    }
}
