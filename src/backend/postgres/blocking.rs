//! PostgreSQL's blocking half: a tokio-postgres connection whose I/O a
//! current-thread runtime of its own drives, as the `postgres` crate does.
//!
//! The difference that counts: `postgres::Client` enters its runtime once
//! per row when a result is iterated, so the blocking half used to collect
//! each result into the driver's vector of rows first (an allocation a row
//! the async half does not make: benches/instructions, PostgreSQL's
//! 1,000-row select on both halves, guards it). Here
//! dualdb's own sinks (decoders, which never block) take each row as it
//! arrives, inside the statement's one runtime entry ([`PgSync::run`]).
//! The caller's code (`fold`'s closure) may block in any way it likes,
//! another runtime's `block_on` included, so it runs outside the runtime:
//! each entry takes the rows that have arrived, at most [`BATCH`], and the
//! closure gets them after it ([`PgSync::run_outside`]).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::Stream;
use tokio_postgres::RowStream;

use super::client::{PgClient, counted, drain, ended, hand_over, pg_error};
use super::connect::{Driver, PgBackend};
use super::copy::Writer;
use crate::backend::SyncConn;
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{CopyChunk, CopyIn, CopyIo, RowSink, keep_rows};
use crate::row::Row;
use crate::statement::{ExecResult, Stmt};

/// How long a dropped connection may take to tell the server it is going.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// At most this many rows are taken in one runtime entry: the rows of a
/// result in memory at once.
const BATCH: usize = 256;

/// One blocking PostgreSQL connection.
pub(super) struct PgSync {
    /// Declared before `io`, so dropped first: with the client gone, the
    /// connection's I/O sends the server `Terminate` and ends (see
    /// [`Io`]'s `Drop`).
    pg: PgClient,
    io: Io,
    /// Rows taken from the stream, on their way to the sink: kept between
    /// statements, empty.
    batch: Vec<tokio_postgres::Row>,
    /// The statement of the open cursor (`SyncConn::open_cursor`): its rows
    /// are taken as the reader asks for them, each pull a runtime entry.
    cursor: Option<Pin<Box<RowStream>>>,
}

/// A connection's I/O and the runtime that drives it.
struct Io {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// `None` once the connection has ended.
    connection: Option<Driver>,
}

impl PgSync {
    pub(super) fn connect(backend: &PgBackend) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Connect, "cannot start a runtime for PostgreSQL")
                    .with_source(e)
            })?;
        let (client, connection) = runtime.block_on(backend.open())?;
        Ok(PgSync {
            pg: backend.client(client),
            io: Io {
                runtime: Some(runtime),
                connection: Some(connection),
            },
            batch: Vec::new(),
            cursor: None,
        })
    }

    /// Runs `attempt` at a statement, once more if the server refused its
    /// stale cached plan.
    fn retrying<T>(&mut self, mut attempt: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        let mut first = None;
        loop {
            let done = attempt(self);
            if let Some(done) = self.pg.settle(&mut first, done) {
                return done;
            }
        }
    }

    /// Sends `stmt` and gives each row to `sink` as it arrives, all in one
    /// runtime entry: for dualdb's own sinks (decoders, collections), which
    /// never block. The rows `sink` got and the rows the statement affected.
    fn run(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<(u64, u64)> {
        self.retrying(|c| {
            let pg = &c.pg;
            c.io.block_on(async { drain(pg.send(stmt).await?, &mut *sink).await })
        })
    }

    /// As [`run`](Self::run), with `sink` called outside the runtime, a
    /// batch of rows at a time: for sinks that run the caller's code.
    fn run_outside(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.retrying(|c| c.batches(stmt, &mut *sink))
    }

    fn batches(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        let (pg, batch) = (&self.pg, &mut self.batch);
        let mut stream = pin!(None::<RowStream>);
        let mut n = 0;
        loop {
            // The first entry sends the statement too.
            let ended = self.io.block_on(async {
                if stream.is_none() {
                    stream.set(Some(pg.send(stmt).await?));
                }
                std::future::poll_fn(|cx| match stream.as_mut().as_pin_mut() {
                    Some(s) => take_batch(s, batch, BATCH, cx),
                    None => Poll::Ready(Ok(true)),
                })
                .await
            });
            // Rows taken before a failure are not handed over: the
            // statement failed.
            let ended = ended.inspect_err(|_| batch.clear())?;
            // Short of a full batch: the next row has not arrived.
            let waits = batch.len() < BATCH;
            for row in batch.drain(..) {
                hand_over(&mut *sink, row)?;
                n += 1;
            }
            if ended {
                return Ok(n);
            }
            if waits {
                sink.pending();
            }
        }
    }
}

/// Takes what has arrived (rows, or COPY OUT chunks), at least one and at
/// most `limit`: true once the stream has ended.
fn take_batch<T, S>(
    mut stream: Pin<&mut S>,
    batch: &mut Vec<T>,
    limit: usize,
    cx: &mut Context<'_>,
) -> Poll<Result<bool>>
where
    S: Stream<Item = std::result::Result<T, tokio_postgres::Error>>,
{
    while batch.len() < limit {
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(item))) => batch.push(item),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(pg_error(e))),
            Poll::Ready(None) => return Poll::Ready(Ok(true)),
            Poll::Pending if batch.is_empty() => return Poll::Pending,
            Poll::Pending => break,
        }
    }
    Poll::Ready(Ok(false))
}

/// Up to [`BATCH`] of the blocking caller's items, taken on this thread
/// (outside any runtime): true once they have ended.
fn take_items(io: &mut dyn CopyIo, batch: &mut Vec<CopyChunk>) -> Result<bool> {
    let mut cx = Context::from_waker(Waker::noop());
    while batch.len() < BATCH {
        match io.poll_chunk(&mut cx) {
            Poll::Ready(Some(chunk)) => batch.push(chunk?),
            Poll::Ready(None) => return Ok(true),
            // Iterators are always ready; nothing else reaches this half.
            Poll::Pending => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "a blocking COPY's data was not ready",
                ));
            }
        }
    }
    Ok(false)
}

impl Io {
    /// Runs `f` to its end, driving the connection's I/O meanwhile.
    fn block_on<T>(&mut self, f: impl Future<Output = Result<T>>) -> Result<T> {
        let Some(runtime) = &self.runtime else {
            return Err(Error::new(ErrorKind::Usage, "the connection is closed"));
        };
        let connection = &mut self.connection;
        let mut f = pin!(f);
        runtime.block_on(std::future::poll_fn(|cx| {
            if let Some(c) = connection
                && let Poll::Ready(how) = c.as_mut().poll(cx)
            {
                ended(how);
                // Dropped: the client's waiting requests fail as closed.
                *connection = None;
            }
            f.as_mut().poll(cx)
        }))
    }
}

impl Drop for Io {
    /// Lets the connection say goodbye (within [`CLOSE_WAIT`]) where this
    /// thread may block, and never waits inside a runtime, where dropping a
    /// runtime the usual way panics.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let (Some(c), Err(_)) = (
            self.connection.take(),
            tokio::runtime::Handle::try_current(),
        ) {
            // The timer made inside the runtime: outside it has no clock.
            let _ = runtime.block_on(async { tokio::time::timeout(CLOSE_WAIT, c).await });
        }
        runtime.shutdown_background();
    }
}

impl PgSync {
    /// COPY IN: a batch of the caller's items taken outside the runtime,
    /// then sent inside it ([`copy`](super::copy)).
    fn run_copy_in(&mut self, copy: CopyIn, io: &mut dyn CopyIo) -> Result<u64> {
        let mut writer = self.io.block_on(Writer::start(&self.pg, copy))?;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let ended = take_items(io, &mut batch)?;
            self.io.block_on(async {
                for chunk in batch.drain(..) {
                    writer.write(chunk).await?;
                }
                Ok(())
            })?;
            if ended {
                return self.io.block_on(writer.finish());
            }
        }
    }

    /// COPY OUT: the chunks that arrived taken inside the runtime, then
    /// handed to the caller outside it.
    fn run_copy_out(&mut self, stmt: &Stmt, io: &mut dyn CopyIo) -> Result<u64> {
        let client = self.pg.raw();
        let mut stream = pin!(None::<tokio_postgres::CopyOutStream>);
        let mut batch = Vec::new();
        let mut bytes = 0;
        loop {
            let ended = self.io.block_on(async {
                if stream.is_none() {
                    let out = client.copy_out(stmt.sql.as_str()).await.map_err(pg_error)?;
                    stream.set(Some(out));
                }
                std::future::poll_fn(|cx| match stream.as_mut().as_pin_mut() {
                    Some(s) => take_batch(s, &mut batch, BATCH, cx),
                    None => Poll::Ready(Ok(true)),
                })
                .await
            })?;
            for chunk in batch.drain(..) {
                bytes += chunk.len() as u64;
                io.chunk_out(&chunk)?;
            }
            if ended {
                return Ok(bytes);
            }
        }
    }
}

impl PgSync {
    /// Sends `stmt` for a cursor.
    fn open(&mut self, stmt: &Stmt) -> Result<()> {
        self.close();
        let pg = &self.pg;
        let stream = self.io.block_on(pg.send_settled(stmt))?;
        self.cursor = Some(Box::pin(stream));
        Ok(())
    }

    /// Up to `max` rows of the open cursor to `sink`, taken inside the
    /// runtime and handed over outside it; true once the statement ended.
    fn pull(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool> {
        let (io, batch) = (&mut self.io, &mut self.batch);
        let Some(stream) = self.cursor.as_mut() else {
            return Ok(true);
        };
        let ended = io.block_on(std::future::poll_fn(|cx| {
            take_batch(stream.as_mut(), batch, max, cx)
        }));
        let handed = ended.and_then(|ended| {
            for row in batch.drain(..) {
                hand_over(&mut *sink, row)?;
            }
            Ok(ended)
        });
        if !matches!(handed, Ok(false)) {
            self.close();
        }
        handed
    }

    /// Drops the open cursor's statement, if any: the connection reads and
    /// discards its remaining rows before its next statement's, as it does
    /// for any result dropped part-way.
    fn close(&mut self) {
        self.cursor = None;
        self.batch.clear();
    }
}

impl SyncConn for PgSync {
    fn copy_in(&mut self, copy: CopyIn, io: &mut dyn CopyIo) -> Result<u64> {
        self.run_copy_in(copy, io)
    }
    fn copy_out(&mut self, stmt: &Stmt, io: &mut dyn CopyIo) -> Result<u64> {
        self.run_copy_out(stmt, io)
    }
    fn execute(&mut self, stmt: Stmt) -> Result<ExecResult> {
        if stmt.script {
            let pg = &self.pg;
            self.io.block_on(pg.script(&stmt.sql))?;
            return Ok(counted(0));
        }
        let (_, affected) = self.run(&stmt, &mut |_: &mut Option<Row>| Ok(()))?;
        Ok(counted(affected))
    }
    fn query(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.run(stmt, &mut keep_rows(&mut out))?;
        Ok(out)
    }
    /// dualdb's decoders: in the runtime, as the rows arrive.
    fn query_rows(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        Ok(self.run(stmt, sink)?.0)
    }
    /// The caller's code (`fold`): outside the runtime, a batch at a time.
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.run_outside(stmt, sink)
    }
    fn open_cursor(&mut self, stmt: &Stmt) -> Result<()> {
        self.open(stmt)
    }
    fn cursor_rows(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool> {
        self.pull(sink, max)
    }
    fn close_cursor(&mut self) {
        self.close();
    }
    /// A cursor its iterator left open is dropped before the connection
    /// is lent again.
    fn is_usable(&mut self) -> bool {
        self.close();
        !self.pg.is_closed()
    }
    fn ping(&mut self) -> Result<()> {
        self.io.block_on(self.pg.ping())
    }
    fn reset_session(&mut self) -> Result<()> {
        self.io.block_on(self.pg.reset_session())
    }
}
