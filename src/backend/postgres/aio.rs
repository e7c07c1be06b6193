//! PostgreSQL's async half: a tokio-postgres connection lent to one task
//! or shared by many, its statements pipelined.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio_postgres::RowStream;

use super::client::{PgClient, counted, drain, ended};
use super::connect::{Driver, PgBackend};
use crate::backend::{AsyncConn, BoxFuture, SharedConn};
use crate::error::Result;
use crate::plan::{CopyIn, CopyIo, RowSink, keep_rows};
use crate::row::Row;
use crate::statement::{ExecResult, Stmt};

/// A tokio-postgres connection: lent exclusively (transactions) or shared
/// by many tasks at once (everything else). tokio-postgres pipelines the
/// statements of concurrent callers on one socket.
pub(super) struct PgAsync {
    pg: Arc<PgClient>,
    /// The open cursor's statement (`AsyncConn::open_cursor`), read as its
    /// row stream's reader polls it.
    cursor: Option<Pin<Box<RowStream>>>,
    /// Boxes of finished [`start`] futures, kept to be filled again: see
    /// [`PgAsync::run`]. Never held across an await.
    spare: Mutex<Vec<Starting>>,
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

impl PgAsync {
    /// Connects, its I/O driven on a task of its own.
    pub(super) async fn connect(backend: &PgBackend) -> Result<Self> {
        let (client, connection) = backend.open().await?;
        tokio::spawn(drive_connection(connection));
        Ok(PgAsync {
            pg: Arc::new(backend.client(client)),
            cursor: None,
            spare: Mutex::new(Vec::new()),
        })
    }
}

/// Runs a connection's I/O until the client is dropped or the server goes.
async fn drive_connection(connection: Driver) {
    ended(connection.await);
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
            let Some(done) = self.pg.settle(&mut first, done) else {
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
    fn open_cursor(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.cursor = None;
            self.cursor = Some(Box::pin(self.pg.send_settled(&stmt).await?));
            Ok(())
        })
    }
    fn poll_cursor(
        &mut self,
        cx: &mut Context<'_>,
        row: &mut Option<Row>,
    ) -> Poll<Option<Result<()>>> {
        use futures_core::Stream;
        let Some(stream) = self.cursor.as_mut() else {
            return Poll::Ready(None);
        };
        let next = match stream.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(r))) => {
                *row = Some(Row {
                    inner: crate::backend::DriverRow::Pg(r),
                });
                return Poll::Ready(Some(Ok(())));
            }
            Poll::Ready(Some(Err(e))) => Some(Err(super::client::pg_error(e))),
            Poll::Ready(None) => None,
        };
        self.cursor = None;
        Poll::Ready(next)
    }
    /// The rest of its rows are read and dropped by the connection's task
    /// before the next statement's, as for any result dropped part-way.
    fn close_cursor(&mut self) {
        self.cursor = None;
    }
    /// A cursor its stream left open is dropped before the connection is
    /// lent again.
    fn is_usable(&mut self) -> bool {
        self.cursor = None;
        !self.pg.is_closed()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.pg.ping())
    }
    fn reset_session(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.pg.reset_session())
    }
    fn copy_in<'a>(
        &'a mut self,
        copy: CopyIn,
        io: &'a mut dyn CopyIo,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(super::copy::copy_in_async(&self.pg, copy, io))
    }
    fn copy_out<'a>(
        &'a mut self,
        stmt: Stmt,
        io: &'a mut dyn CopyIo,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { super::copy::copy_out_async(self.pg.raw(), &stmt.sql, io).await })
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
