//! What the pools and the plan drivers ask of a backend: connections of
//! each half ([`SyncConn`], [`AsyncConn`], [`SharedConn`]) and a
//! [`Backend`] that opens them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::listen::event::Notification;
use crate::plan::{CopyIn, CopyIo, RowSink, keep_rows};
use crate::row::Row;
use crate::statement::{ExecResult, Stmt};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One connection of the blocking half.
pub(crate) trait SyncConn: Send {
    /// Runs a statement, returning the number of rows it changed. The
    /// statement is given up, as the async half's is: a backend may move
    /// its values into the driver's own (MySQL).
    fn execute(&mut self, stmt: Stmt) -> Result<ExecResult>;
    /// Runs a statement, returning all its rows (by default, collected
    /// from [`query_each`](Self::query_each)).
    fn query(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.query_each(stmt, &mut keep_rows(&mut out))?;
        Ok(out)
    }
    /// Runs a statement, handing each row to `sink`, where the connection
    /// may first read them all into memory if that is quicker (by default
    /// it streams them: [`query_each`](Self::query_each)); returns the
    /// number of rows. `sink` is dualdb's own (a decoder) and never blocks,
    /// so it may run inside a driver's runtime.
    fn query_rows(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.query_each(stmt, sink)
    }
    /// Runs a statement, handing each row to `sink` as it arrives, never
    /// all in memory; returns the number of rows. `sink` may run the
    /// caller's code (`fold`), which may block: it runs outside any
    /// runtime of the driver's.
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64>;
    /// Starts `stmt` as a cursor: [`cursor_rows`](Self::cursor_rows) then
    /// reads its rows at the reader's pace, the statement left open on this
    /// connection in between (a row iterator's, on the reader's own thread).
    /// A cursor still open is closed first. No default: a connection that
    /// wraps another forwards it (tests/pool_lifetimes.rs reads row
    /// iterators through `after_connect`'s wrapper).
    fn open_cursor(&mut self, stmt: &Stmt) -> Result<()>;
    /// Up to `max` rows of the open cursor, handed to `sink`; `true` once
    /// its statement ended, when the cursor is closed (as it is after an
    /// error, the sink's included).
    fn cursor_rows(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool>;
    /// Stops the open cursor's statement, if any: the connection is clean
    /// for the next one.
    fn close_cursor(&mut self);
    /// False once the connection must not go back to the pool.
    fn is_usable(&mut self) -> bool;
    /// A round trip to the server, to check a connection that sat idle.
    fn ping(&mut self) -> Result<()>;
    /// Puts the session back as it was after connecting: settings, temporary
    /// tables, locks and listens a pinned session left (PostgreSQL's
    /// `DISCARD` but for dualdb's prepared statements, MySQL's
    /// `COM_RESET_CONNECTION`); nothing on SQLite.
    fn reset_session(&mut self) -> Result<()> {
        Ok(())
    }
    /// Statements run for the session (`after_connect`'s) may have changed
    /// its settings: what the connection keeps of them is read again
    /// (MySQL's `auto_increment_increment`, which an insert's generated keys
    /// follow); nothing elsewhere.
    fn session_changed(&mut self) -> Result<()> {
        Ok(())
    }
    /// A COPY IN (PostgreSQL); the plans check the backend first, so the
    /// others never get here.
    fn copy_in(&mut self, _: CopyIn, _: &mut dyn CopyIo) -> Result<u64> {
        Err(no_copy())
    }
    /// A COPY OUT, as [`copy_in`](Self::copy_in): the bytes it wrote.
    fn copy_out(&mut self, _: &Stmt, _: &mut dyn CopyIo) -> Result<u64> {
        Err(no_copy())
    }
}

/// The error of COPY where the backend has none.
pub(crate) fn no_copy() -> crate::Error {
    crate::Error::new(crate::ErrorKind::Usage, "COPY is PostgreSQL's")
}

/// One connection of the async half.
pub(crate) trait AsyncConn: Send {
    fn execute(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>>;
    /// All rows, by default collected from `query_each`.
    fn query(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<Vec<Row>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            self.query_each(stmt, &mut keep_rows(&mut out)).await?;
            Ok(out)
        })
    }
    /// Rows to `sink`, maybe all read first (by default streamed).
    fn query_rows<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        self.query_each(stmt, sink)
    }
    fn query_each<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>>;
    /// Sends `stmt` as a cursor, whose rows
    /// [`poll_cursor`](Self::poll_cursor) then reads one at a time, as the
    /// reader polls (a row stream's, outside transactions): where
    /// [`BackendKind::has_async_cursors`](crate::config::BackendKind::has_async_cursors).
    /// A connection that wraps another forwards these three (as
    /// `after_connect`'s does: tests/pool_lifetimes.rs).
    fn open_cursor(&mut self, _stmt: Stmt) -> BoxFuture<'_, Result<()>> {
        Box::pin(async {
            Err(crate::Error::new(
                crate::ErrorKind::Usage,
                "internal: this backend has no async cursors",
            ))
        })
    }
    /// The open cursor's next row, put in `row` (`Some(Ok(()))`); `None`
    /// once its statement ended, when the cursor is closed (as it is after
    /// an error). The row goes into the reader's slot rather than out in
    /// the poll's result, which the reader would copy again to decode it
    /// (benches/paired, PostgreSQL's async `stream_rows`).
    fn poll_cursor(
        &mut self,
        _cx: &mut std::task::Context<'_>,
        _row: &mut Option<Row>,
    ) -> std::task::Poll<Option<Result<()>>> {
        std::task::Poll::Ready(None)
    }
    /// Stops the open cursor's statement, if any: the connection is clean
    /// for the next one.
    fn close_cursor(&mut self) {}
    fn is_usable(&mut self) -> bool;
    /// A round trip to the server, to check a connection that sat idle.
    fn ping(&mut self) -> BoxFuture<'_, Result<()>>;
    /// [`SyncConn::reset_session`], on the async half.
    fn reset_session(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// [`SyncConn::session_changed`], on the async half.
    fn session_changed(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// See [`SyncConn::copy_in`].
    fn copy_in<'a>(&'a mut self, _: CopyIn, _: &'a mut dyn CopyIo) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async { Err(no_copy()) })
    }
    /// See [`SyncConn::copy_out`].
    fn copy_out<'a>(&'a mut self, _: Stmt, _: &'a mut dyn CopyIo) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async { Err(no_copy()) })
    }
}

/// A connection many tasks use at once, outside transactions: PostgreSQL
/// pipelines their statements on one socket without waiting for each
/// other's replies. Dropping a statement's future mid-way is safe on it (the
/// driver discards the late reply).
pub(crate) trait SharedConn: Send + Sync {
    fn execute(&self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>>;
    fn query(&self, stmt: Stmt) -> BoxFuture<'_, Result<Vec<Row>>>;
    fn query_each<'a>(&'a self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>>;
    /// Rows to `sink`, maybe all read first (by default streamed).
    fn query_rows<'a>(&'a self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        self.query_each(stmt, sink)
    }
    fn is_usable(&self) -> bool;
}

/// A connect, given up with a `Connect` error after `limit`: its future is
/// dropped then, and its socket closed with it, so no attempt outlives its
/// deadline (tests/connect.rs `a_silent_server_holds_no_slot_past_the_connect_timeout`).
/// A connection kept to LISTEN (PostgreSQL): its statements, and the
/// notifications it receives, which only its owner polls.
pub(crate) trait NotifyConn: Send {
    /// Runs `sql` (`LISTEN`, `UNLISTEN`, session setup), keeping the
    /// notifications that arrive meanwhile in `into`.
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        into: &'a mut std::collections::VecDeque<Notification>,
    ) -> BoxFuture<'a, Result<()>>;
    /// The next notification; an error once the connection has ended.
    fn poll_notification(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<Notification>>;
}

pub(crate) async fn connect_within<T>(
    limit: std::time::Duration,
    connect: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, connect).await.map_err(|_| {
        crate::Error::new(
            crate::ErrorKind::Connect,
            format!("connect timed out after {limit:?}"),
        )
    })?
}

/// Opens connections of both kinds for one database.
pub(crate) trait Backend: Send + Sync {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>>;
    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>>;
    /// A shared connection, where the backend has them (PostgreSQL).
    fn connect_shared(&self) -> Option<BoxFuture<'_, Result<Arc<dyn SharedConn>>>> {
        None
    }
    /// Whether a connection that sat idle may have gone stale (a server
    /// closed it): if not, the blocking pool never checks one, and reads no
    /// clock to know how long it sat.
    fn goes_stale(&self) -> bool {
        true
    }
    /// Whether a blocking connect may wait on a server that never answers:
    /// if so, the blocking pool connects on a helper thread and gives up at
    /// the connect timeout; if not (a file opened in this process), it
    /// connects on the caller's thread and starts none.
    fn connect_may_hang(&self) -> bool {
        true
    }
    /// A connection to LISTEN on; `None` where the backend has no
    /// notifications (all but PostgreSQL).
    fn connect_notify(&self) -> Option<BoxFuture<'_, Result<Box<dyn NotifyConn>>>> {
        None
    }
}
