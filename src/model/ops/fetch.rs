//! `fetch` and `fetch_rows`: a query's models, or a statement's rows, as a
//! [`RowStream`] on the async half and a [`RowIter`] on the blocking half,
//! on the database or a transaction alike. One plan serves all four: it
//! decodes rows into batches and hands them to the stream through a shelf,
//! or, on a row iterator's thread, through a bounded channel
//! (`src/stream.rs` says why). Where the connection has cursors, the plan
//! loop is skipped: a row iterator on any backend reads its
//! statement on the reader's thread through a [`Cursor`], and a stream on
//! PostgreSQL or MySQL, in or out of a transaction, polls the driver's row
//! stream through an [`AsyncCursor`].

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::task::{Context, Poll};

use super::collect::Collect;
use crate::async_db::AsyncDb;
use crate::async_scope::{AsyncTxShared, Scope as AsyncScope};
use crate::async_tx::AsyncTx;
use crate::backend::InPlaceRow;
use crate::config::BackendKind;
use crate::error::Result;
use crate::model::column::Filter;
use crate::model::query::Select;
use crate::model::tuples::{SelectFields, SelectModels};
use crate::model::{Decoder, Dialect, Model, ModelRow};
use crate::plan::{Action, Plan, Reply, Step, replayed, slotted, taken};
use crate::plan::{Sink, Traced, drive_sync};
use crate::pool::{BlockingPool, Lease, PooledConn};
use crate::row::{FromRow, InOrder, Row};
use crate::statement::Stmt;
use crate::stream::{
    AsyncPull, BATCH, Pull, RowIter, RowStream, Sent, Shelf, THREAD_BATCH, Work, dropped,
};
use crate::sync_db::SyncDb;
use crate::sync_scope::{Scope as SyncScope, SyncTxShared};
use crate::sync_tx::SyncTx;
use crate::value::ToSql;

/// A statement, how each of its rows becomes an item, and whether it only
/// reads (a replica may serve it).
#[doc(hidden)]
pub struct Source<D> {
    stmt: Option<Stmt>,
    decode: D,
    read_only: bool,
    /// The query's error, found before it runs.
    failed: Option<crate::Error>,
}

impl<D> std::fmt::Debug for Source<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").finish_non_exhaustive()
    }
}

impl<D> Source<D> {
    /// A built query read by `decode`, or its error.
    fn of(built: Result<Stmt>, decode: D, read_only: bool) -> Self {
        let (stmt, failed) = match built {
            Ok(stmt) => (Some(stmt), None),
            Err(e) => (None, Some(e)),
        };
        Source {
            stmt,
            decode,
            read_only,
            failed,
        }
    }
}

/// How a row becomes one item of a stream: a closure, or one of the named
/// decoders a [`Fetchable`] names.
pub(crate) trait DecodeRow<T> {
    fn decode_row(&mut self, row: &mut Option<Row>) -> Result<T>;
    /// Decodes a row read where it lies (`Sink::in_place`); `None` (nothing
    /// read) where this decoder cannot, or not yet (a model's layout is
    /// found from its first row as a [`Row`]).
    fn decode_in_place(&mut self, _row: &mut InPlaceRow<'_>) -> Option<Result<T>> {
        None
    }
}

impl<T, F: FnMut(&mut Option<Row>) -> Result<T>> DecodeRow<T> for F {
    #[inline]
    fn decode_row(&mut self, row: &mut Option<Row>) -> Result<T> {
        self(row)
    }
}

/// Rows as models, or tuples of models, decoded as `Collect` decodes them.
#[doc(hidden)]
pub struct ModelsOf<T: ModelRow>(Decoder<T>);

impl<T: ModelRow> std::fmt::Debug for ModelsOf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelsOf")
    }
}

impl<T: ModelRow> DecodeRow<T> for ModelsOf<T> {
    #[inline]
    fn decode_row(&mut self, row: &mut Option<Row>) -> Result<T> {
        self.0.decode(slotted(row)?)
    }
    // Inlined, as the model's own `read_in` is (the derive says why).
    #[inline(always)]
    fn decode_in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<T>> {
        self.0.read(row)
    }
}

/// Rows as values (`FromRow`), read as `query_as` reads them.
#[doc(hidden)]
pub struct ValuesOf<R>(InOrder, PhantomData<fn() -> R>);

impl<R> Default for ValuesOf<R> {
    fn default() -> Self {
        ValuesOf(InOrder::default(), PhantomData)
    }
}

impl<R> std::fmt::Debug for ValuesOf<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValuesOf")
    }
}

impl<R: FromRow> DecodeRow<R> for ValuesOf<R> {
    fn decode_row(&mut self, row: &mut Option<Row>) -> Result<R> {
        self.0.read(slotted(row)?)
    }
    #[inline]
    fn decode_in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<R>> {
        self.0.read_in_place(row)
    }
}

/// What `fetch` streams: a [`Select`] or a filter (models), a
/// [`SelectModels`] (tuples of models) or a [`SelectFields`] (values), each
/// item decoded as `execute_query` decodes its rows.
///
/// ```
/// use futures::TryStreamExt;
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// db.aio().execute_query(User::insert_many(vec![user("ann"), user("bob")])).await?;
/// let q = User::select().order_by(User::NAME.asc()).select_fields((User::NAME, User::AGE));
/// let rows: Vec<(String, Option<i32>)> = db.aio().fetch(q.clone()).try_collect().await?;
/// assert_eq!(rows[1].0, "bob");
/// let names: Vec<(String, Option<i32>)> = db.sync().fetch(q).collect::<dualdb::Result<_>>()?;
/// assert_eq!(names, rows);
/// # Ok(())
/// # });
/// ```
pub trait Fetchable: Send {
    /// One item of the stream.
    type Item: Send + 'static;
    #[doc(hidden)]
    #[allow(private_bounds)] // `DecodeRow` is the crate's own: sealed
    type Decode: DecodeRow<Self::Item> + Send + 'static;
    #[doc(hidden)]
    fn into_source(self, d: Dialect) -> Source<Self::Decode>;
}

impl<M: Model> Fetchable for Select<M> {
    type Item = M;
    type Decode = ModelsOf<M>;
    fn into_source(self, d: Dialect) -> Source<ModelsOf<M>> {
        let Collect {
            stmt,
            decoder,
            read_only,
            failed,
            ..
        } = Collect::<M, Option<M>>::select(d, self);
        Source {
            stmt,
            decode: ModelsOf(decoder),
            read_only,
            failed,
        }
    }
}

impl<M: Model> Fetchable for Filter<M> {
    type Item = M;
    type Decode = ModelsOf<M>;
    fn into_source(self, d: Dialect) -> Source<ModelsOf<M>> {
        Select::from(self).into_source(d)
    }
}

impl<M: Model, T: ModelRow> Fetchable for SelectModels<M, T> {
    type Item = T;
    type Decode = ModelsOf<T>;
    fn into_source(self, d: Dialect) -> Source<ModelsOf<T>> {
        Source::of(self.build(d), ModelsOf(Decoder::new()), !self.locks())
    }
}

impl<M: Model, R: FromRow + Send + 'static> Fetchable for SelectFields<M, R> {
    type Item = R;
    type Decode = ValuesOf<R>;
    fn into_source(self, d: Dialect) -> Source<ValuesOf<R>> {
        Source::of(self.build(d), ValuesOf::default(), !self.locks())
    }
}

/// A statement's rows decoded into `T` (`FromRow`); raw SQL may write:
/// never on a replica.
/// A statement that begins or ends a transaction is refused, as `execute`
/// refuses it ([`crate::raw_transactions`]).
fn rows_as<T: FromRow>(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Source<ValuesOf<T>> {
    let stmt = crate::raw_transactions::refuse(sql).map(|()| Stmt::new(sql, params));
    Source::of(stmt, ValuesOf::default(), false)
}

/// A statement's rows as they come; raw SQL may write: never on a replica.
/// A statement that begins or ends a transaction is refused.
fn rows(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Source<impl FnMut(&mut Option<Row>) -> Result<Row> + Send + 'static + use<>> {
    let stmt = crate::raw_transactions::refuse(sql).map(|()| Stmt::new(sql, params));
    let decode = |row: &mut Option<Row>| row.take().ok_or_else(taken);
    Source::of(stmt, decode, false)
}

/// Runs one statement, its rows decoded into batches: for a stream, put on
/// its shelf (`send` is `None`); on a row iterator's thread, sent through
/// its channel. A batch goes when it is full, when the driver waits for the
/// next row, and at the end.
pub(crate) struct Fetch<T, D> {
    stmt: Option<Stmt>,
    failed: Option<crate::Error>,
    decode: D,
    batch: Vec<T>,
    shelf: Arc<Shelf<T>>,
    read_only: bool,
    /// A row iterator's channel, set on its thread.
    send: Option<SyncSender<Sent<T>>>,
}

impl<T, D> Fetch<T, D> {
    fn new(source: Source<D>, shelf: Arc<Shelf<T>>) -> Self {
        Fetch {
            stmt: source.stmt,
            failed: source.failed,
            decode: source.decode,
            batch: Vec::new(),
            shelf,
            read_only: source.read_only,
            send: None,
        }
    }

    /// The rows a batch holds before it goes.
    fn batch_size(&self) -> usize {
        if self.send.is_some() {
            THREAD_BATCH
        } else {
            BATCH
        }
    }

    /// Hands the batch over; an error only when a row iterator is gone.
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        match &self.send {
            None => {
                self.shelf.put(&mut self.batch);
                Ok(())
            }
            Some(send) => {
                let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(THREAD_BATCH));
                send.send(Ok(batch)).map_err(|_| dropped())
            }
        }
    }
}

impl<T: Send + 'static, D: DecodeRow<T> + Send> Plan for Fetch<T, D> {
    type Output = ();
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<()>> {
        match reply {
            None => {
                if let Some(e) = self.failed.take() {
                    return Err(e);
                }
                self.shelf.started();
                let stmt = self.stmt.take().ok_or_else(replayed)?;
                Ok(Step::Run(Action::Stream(stmt)))
            }
            Some(r) => {
                let flushed = self.flush();
                self.shelf.ended();
                r?;
                flushed?;
                Ok(Step::Done(()))
            }
        }
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        if self.shelf.dropped() {
            return Err(dropped());
        }
        let item = self.decode.decode_row(row)?;
        self.batch.push(item);
        // A stream's full batch waits in `poll_ready` instead.
        if self.send.is_some() && self.batch.len() >= THREAD_BATCH {
            self.flush()?;
        }
        Ok(())
    }
    /// Holds the driver while a stream's full batch waits for the stream;
    /// never once the stream is gone (the producer then runs on a task of
    /// its own, and nobody would poll it again).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.batch.len() >= self.batch_size() && !self.shelf.dropped() {
            self.flush()?;
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
    /// The driver waits for its next row: what arrived goes to the reader
    /// now. A failed send is the iterator gone: the next row stops the
    /// statement.
    fn pending(&mut self) {
        let _ = self.flush();
    }
    /// Only a stream holds the async drivers' loops.
    fn paced(&self) -> bool {
        self.send.is_none()
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn failed(&mut self) -> Option<crate::Error> {
        self.failed.take()
    }
    /// A stream reads at its reader's pace: never on a connection shared
    /// with other tasks, whose statements would wait behind it.
    fn exclusive(&self) -> bool {
        true
    }
}

impl AsyncDb {
    /// The models of a query as a [`RowStream`], read as the server sends
    /// them: memory stays flat for any number of rows, and a reader that
    /// stops early (`take(10)`, a client gone) stops the statement. On the
    /// read replica, if there is one; inside this task's transaction, if one
    /// is open. The stream owns what it needs (`'static`): a handler can
    /// return it as an HTTP body, its models mapped to bytes
    /// (`axum::body::Body::from_stream`; examples/axum_app.rs).
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.aio().execute_query(User::insert_many((0..1000).map(|i| user(&format!("u{i}"))).collect())).await?;
    /// let mut users = db.aio().fetch(User::select().order_by(User::ID.asc()));
    /// let mut n = 0;
    /// while let Some(user) = users.try_next().await? {
    ///     n += 1; // one batch of rows in memory at a time
    ///     # let _ = user;
    /// }
    /// assert_eq!(n, 1000);
    /// # Ok(())
    /// # });
    /// ```
    pub fn fetch<Q: Fetchable>(&self, query: Q) -> RowStream<'static, Q::Item> {
        let (scope, d) = self.context();
        self.stream(scope, query.into_source(d))
    }

    /// A statement's rows as a [`RowStream`], as [`fetch`](Self::fetch)
    /// streams models (raw SQL may write: never on the replica).
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) SELECT i FROM n";
    /// let sum = db
    ///     .aio()
    ///     .fetch_rows(sql, &[])
    ///     .try_fold(0i64, async |sum, row| Ok(sum + row.get::<i64>(0)?))
    ///     .await?;
    /// assert_eq!(sum, 50_005_000);
    /// # Ok(())
    /// # });
    /// ```
    pub fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> RowStream<'static, Row> {
        let (scope, _) = self.context();
        self.stream(scope, rows(sql, params))
    }

    /// A statement's rows as a [`RowStream`] of `T`, each decoded as
    /// [`query_as`](Self::query_as) decodes it (sqlx's `fetch` of a
    /// `query_as`).
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// #[derive(dualdb::FromRow)]
    /// struct N { i: i64 }
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n";
    /// let sum = db.aio().fetch_as::<N>(sql, &[]).try_fold(0, async |sum, n| Ok(sum + n.i)).await?;
    /// assert_eq!(sum, 5050);
    /// # Ok(())
    /// # });
    /// ```
    pub fn fetch_as<T: FromRow + Send + 'static>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> RowStream<'static, T> {
        let (scope, _) = self.context();
        self.stream(scope, rows_as(sql, params))
    }

    /// `source` as a stream, in `scope`'s transaction or out of any; its
    /// producer owns this half, so the stream is `'static`.
    fn stream<T, D>(&self, scope: Option<AsyncScope>, source: Source<D>) -> RowStream<'static, T>
    where
        T: Send + 'static,
        D: DecodeRow<T> + Send + 'static,
    {
        let shelf = Shelf::new(scope.as_ref().map(|s| s.tx.streams.clone()));
        let plan = Fetch::new(source, shelf.clone());
        if scope.is_none() && self.kind().has_async_cursors() {
            return match self.replica_for(&plan).unwrap_or(self).owned() {
                Some(db) => RowStream::pulled(Box::new(AsyncCursor::new(db, plan))),
                None => RowStream::failed(gone()),
            };
        }
        match self.owned() {
            Some(db) => RowStream::new(Box::pin(async move { db.drive(scope, plan).await }), shelf),
            None => RowStream::failed(gone()),
        }
    }
}

/// The statement a cursor opens, or the query's error found before it ran.
fn to_open(stmt: Option<Stmt>, failed: Option<crate::Error>) -> Result<Stmt> {
    match failed {
        Some(e) => Err(e),
        None => stmt.ok_or_else(replayed),
    }
}

/// A row stream's statement read by a cursor of a connection with cursors
/// (PostgreSQL, MySQL): each poll of the stream polls the driver's own row
/// stream, and each row is decoded as it is read, with no plan loop or
/// batch between (benches/paired, the async `stream` and `stream_tx`
/// workloads). The connection, a pooled one or the transaction's, is held
/// from the first poll until the statement ends or the stream is dropped.
struct AsyncCursor<T, D> {
    state: Reading,
    decode: D,
    /// Counts the stream as open in its transaction, if it runs in one.
    shelf: Arc<Shelf<T>>,
    /// Dropped while opening, the opening finishes on a task of its own
    /// (the transaction's connection must come back clean).
    finish_on_drop: bool,
    rows: u64,
    traced: Option<Traced>,
}

enum Reading {
    /// A connection taken and the statement sent; the query's own error
    /// found before it ran.
    Opening(crate::backend::BoxFuture<'static, Result<Held>>),
    Rows(Held),
    Done,
}

/// The connection a cursor reads.
enum Held {
    /// Lent by the pool for the stream alone.
    Pooled(Lease),
    /// The transaction's, locked for the stream's life
    /// (`AsyncTxShared::open_cursor`).
    Tx(tokio::sync::OwnedMutexGuard<Option<Lease>>),
}

impl Held {
    // Inlined: read for every row (benches/paired, the async `stream`).
    #[inline(always)]
    fn lease(&mut self) -> Result<&mut Lease> {
        match self {
            Held::Pooled(lease) => Ok(lease),
            Held::Tx(locked) => locked.as_mut().ok_or_else(crate::transaction::finished),
        }
    }
}

impl<T, D> AsyncCursor<T, D> {
    /// On a connection of `db`'s pool.
    fn new(db: Arc<AsyncDb>, mut plan: Fetch<T, D>) -> Self {
        let traced = plan.stmt.as_ref().and_then(|s| Traced::statement(&s.sql));
        let (stmt, failed) = (plan.stmt.take(), plan.failed.take());
        let open = async move {
            let stmt = to_open(stmt, failed)?;
            let mut lease = db.acquire().await?;
            let slot = lease.slot()?;
            // Dropped while sending: the connection's state is unknown.
            slot.busy = true;
            let opened = slot.conn.open_cursor(stmt).await;
            // Refused by the server, it is as clean as before.
            slot.busy = opened.is_ok();
            opened.map(|()| Held::Pooled(lease))
        };
        Self::opening(plan, traced, Box::pin(open), false)
    }

    /// On the connection of transaction `tx`, at `level`.
    fn in_tx(tx: Arc<AsyncTxShared>, level: u32, mut plan: Fetch<T, D>) -> Self
    where
        T: Send + 'static,
    {
        let traced = plan.stmt.as_ref().and_then(|s| Traced::statement(&s.sql));
        let (stmt, failed) = (plan.stmt.take(), plan.failed.take());
        let shelf = plan.shelf.clone();
        let open = async move {
            let stmt = to_open(stmt, failed)?;
            tx.open_cursor(level, stmt, &shelf).await.map(Held::Tx)
        };
        Self::opening(plan, traced, Box::pin(open), true)
    }

    fn opening(
        plan: Fetch<T, D>,
        traced: Option<Traced>,
        open: crate::backend::BoxFuture<'static, Result<Held>>,
        finish_on_drop: bool,
    ) -> Self {
        AsyncCursor {
            state: Reading::Opening(open),
            decode: plan.decode,
            shelf: plan.shelf,
            finish_on_drop,
            rows: 0,
            traced,
        }
    }

    /// The statement ended (`rows` is its count, if it succeeded): the
    /// connection goes back clean, to the pool or to its transaction.
    fn end(&mut self, rows: Option<u64>) {
        match std::mem::replace(&mut self.state, Reading::Done) {
            Reading::Rows(mut held) => {
                close_cursor(&mut held);
                // Counted out before the transaction's lock goes with
                // `held`, so that no statement is refused once it can run.
                self.shelf.ended();
            }
            // Dropped while its statement was being sent on its
            // transaction's connection: the sending finishes on a task of
            // its own, which closes the cursor, so that the transaction
            // goes on, as after a stream of the plan loop dropped mid-way
            // (tests/row_streams.rs). Without a runtime the connection is
            // left busy: the transaction can only be rolled back.
            Reading::Opening(open) if self.finish_on_drop => {
                self.shelf.reader_gone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        if let Ok(mut held) = open.await {
                            close_cursor(&mut held);
                        }
                    });
                }
            }
            Reading::Opening(_) | Reading::Done => self.shelf.ended(),
        }
        if let Some(t) = self.traced.take() {
            t.ended(rows);
        }
    }
}

/// Closes the cursor open on `held`'s connection, which is clean after.
fn close_cursor(held: &mut Held) {
    if let Ok(slot) = held.lease().and_then(Lease::slot) {
        slot.conn.close_cursor();
        slot.busy = false;
    }
}

impl<T: Send, D: DecodeRow<T> + Send> AsyncPull<T> for AsyncCursor<T, D> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        loop {
            let lease = match &mut self.state {
                Reading::Opening(open) => match open.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(lease)) => {
                        self.state = Reading::Rows(lease);
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        // Finished: nothing to finish on a task.
                        self.state = Reading::Done;
                        self.end(None);
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Reading::Rows(lease) => lease,
                Reading::Done => return Poll::Ready(None),
            };
            let mut row = None;
            let polled = match lease.lease().and_then(Lease::slot) {
                Ok(slot) => slot.conn.poll_cursor(cx, &mut row),
                Err(e) => Poll::Ready(Some(Err(e))),
            };
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(()))) => {}
                Poll::Ready(Some(Err(e))) => {
                    self.end(None);
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    self.end(Some(self.rows));
                    return Poll::Ready(None);
                }
            }
            self.rows += 1;
            let item = self.decode.decode_row(&mut row);
            if item.is_err() {
                // A row that cannot be decoded ends the stream, as it stops
                // a `fold`.
                self.end(None);
            }
            return Poll::Ready(Some(item));
        }
    }
}

/// Dropped part-way, the statement is stopped and its connection goes
/// back clean (tests/row_streams.rs drops streams at random rows).
impl<T, D> Drop for AsyncCursor<T, D> {
    fn drop(&mut self) {
        self.end(None);
    }
}

fn gone() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "internal: the async half outlived its database",
    )
}

impl AsyncTx<'_> {
    /// [`AsyncDb::fetch`] inside this transaction. While the stream is open,
    /// the transaction's other statements are a
    /// [`Usage`](crate::ErrorKind::Usage) error: read it to the end or drop
    /// it first.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let tx = db.aio().begin().await?;
    /// tx.create(user("ada")).await?;
    /// let seen: Vec<User> = tx.fetch(User::select()).try_collect().await?; // sees its own write
    /// assert_eq!(seen.len(), 1);
    /// tx.rollback().await?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn fetch<Q: Fetchable>(&self, query: Q) -> RowStream<'_, Q::Item> {
        let ((), d) = self.context();
        self.stream(query.into_source(d))
    }

    /// [`AsyncDb::fetch_rows`] inside this transaction.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let tx = db.aio().begin().await?;
    /// let rows: Vec<dualdb::Row> = tx.fetch_rows("SELECT 1 UNION ALL SELECT 2", &[]).try_collect().await?;
    /// assert_eq!(rows.len(), 2);
    /// tx.commit().await?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> RowStream<'_, Row> {
        self.stream(rows(sql, params))
    }

    /// [`AsyncDb::fetch_as`] inside this transaction.
    pub fn fetch_as<T: FromRow + Send + 'static>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> RowStream<'_, T> {
        self.stream(rows_as(sql, params))
    }

    fn stream<T, D>(&self, source: Source<D>) -> RowStream<'_, T>
    where
        T: Send + 'static,
        D: DecodeRow<T> + Send + 'static,
    {
        let (shared, level) = self.scope_parts();
        let shelf = Shelf::new(Some(shared.streams.clone()));
        let plan = Fetch::new(source, shelf.clone());
        if shared.kind.has_async_cursors() {
            return RowStream::pulled(Box::new(AsyncCursor::in_tx(shared, level, plan)));
        }
        RowStream::new(
            Box::pin(async move { shared.drive(level, plan).await }),
            shelf,
        )
    }
}

/// Where a row iterator's statement runs.
enum Runs {
    /// In a transaction, at a level of it.
    Tx(Arc<SyncTxShared>, u32),
    /// On a connection of the pool (the replica's, for a model read).
    Pooled(BlockingPool),
}

/// `source` as a row iterator that runs it where `runs` says, in
/// `open_in`'s transaction if any: read by a [`Cursor`], or inside a
/// current-thread runtime (where each blocking call would cost a helper
/// thread) on a thread of its own, whose error, if any, is sent last
/// (unless the iterator is gone).
fn iterate<T, D>(
    runs: impl FnOnce(&Fetch<T, D>) -> Runs,
    open_in: Option<&SyncTxShared>,
    kind: BackendKind,
    source: Source<D>,
) -> RowIter<'static, T>
where
    T: Send + 'static,
    D: DecodeRow<T> + Send + 'static,
{
    let shelf = Shelf::new(open_in.map(|tx| tx.streams.clone()));
    let mut plan = Fetch::new(source, shelf.clone());
    let runs = runs(&plan);
    if !crate::runtime::blocking_needs_thread() {
        // SQLite reads rows in place, and refills the buffers of a row
        // copied out and left in its slot, and MySQL's few rows a pull are
        // dropped as soon as they are decoded: decoded as they are read.
        // PostgreSQL's hundreds wait undecoded.
        let lazy = kind == BackendKind::Postgres;
        let cursor = Cursor::new(plan, runs, lazy, pull_size(kind));
        return RowIter::pulled(Box::new(cursor), shelf);
    }
    let work: Work<T> = Box::new(move |send: SyncSender<Sent<T>>| {
        plan.send = Some(send.clone());
        plan.batch.reserve(THREAD_BATCH);
        let out = match runs {
            Runs::Tx(shared, level) => shared.drive(level, &mut plan),
            Runs::Pooled(pool) => pool.get().and_then(|mut conn| {
                let out = drive_sync(&mut *conn, &mut plan);
                conn.in_tx = plan.left_open();
                out
            }),
        };
        drop(plan);
        if let Err(e) = out {
            // Fails, unseen, if the iterator is gone (the error is then
            // the one that stopped the statement for it).
            let _ = send.send(Err(e));
        }
    });
    RowIter::new(work, shelf)
}

/// Rows a [`Cursor`] reads a pull, by backend (benches/paired, the blocking
/// `stream` workload, alone and after the other workloads). A PostgreSQL
/// pull is a runtime entry, whose rows wait undecoded: up to 256 rows
/// spread it thin. SQLite and MySQL decode a pull's rows as they read
/// them, so a pull's models (and MySQL's driver rows, allocations each)
/// are alive at once: hundreds alive at once outrun the allocator's
/// per-thread cache, and on a heap that other work has used its slower
/// path costs more than the pulls (BENCHMARKS.md, "Row streams", has
/// SQLite's pull sizes run alone and after other work). A few rows a pull,
/// then: three on both (a pull takes SQLite's statement out of its cell and
/// arms the statement timeout; on MySQL it is a few calls, and the
/// instruction bench's MySQL `stream` counted fewest at three of 2, 3, 4
/// and 8).
fn pull_size(kind: BackendKind) -> usize {
    match kind {
        BackendKind::Postgres => 256,
        BackendKind::Sqlite => 3,
        BackendKind::Mysql => 3,
    }
}

/// A row iterator's statement read on the reader's own thread, a pull at a
/// time, by a cursor of its connection (`SyncConn::open_cursor`). Outside a
/// transaction it holds a pooled connection from its first pull until its
/// statement ends or it is dropped.
struct Cursor<T, D> {
    runs: Runs,
    conn: Option<PooledConn>,
    stmt: Option<Stmt>,
    /// The query's error found before it ran, or a pull's: read after the
    /// rows pulled before it.
    failed: Option<crate::Error>,
    decode: D,
    shelf: Arc<Shelf<T>>,
    /// Rows pulled as they are, not yet read (PostgreSQL's): decoded as the
    /// reader takes them (`DecodeRow::decode_row`), so that one item at a
    /// time is alive, as in a `fold` (benches/paired, PostgreSQL's blocking
    /// `stream`).
    rows: VecDeque<Row>,
    /// Rows are pulled as they are (into `rows`: PostgreSQL). Where it is
    /// off (SQLite: rows read in place, and copied rows whose buffers the
    /// connection refills; MySQL: a driver row dropped as soon as it is
    /// decoded), each row is decoded as it is read, straight into the
    /// reader's queue (`RowIter`'s), so that an item is moved once between
    /// its decoding and the reader, who takes it without a call
    /// (benches/paired and benches/instructions, the blocking `stream`).
    /// Within one cursor every row goes one way, so the two queues never
    /// both hold rows and the order is kept.
    lazy: bool,
    /// Rows a pull reads at most ([`pull_size`]).
    pull: usize,
    /// The statement was opened and has not ended.
    open: bool,
    /// The statement ended, or failed: nothing more to pull.
    done: bool,
    /// Rows read so far (traced when the statement ends).
    read: u64,
    traced: Option<Traced>,
}

impl<T, D> Cursor<T, D> {
    fn new(plan: Fetch<T, D>, runs: Runs, lazy: bool, pull: usize) -> Self {
        Cursor {
            runs,
            conn: None,
            stmt: plan.stmt,
            failed: plan.failed,
            decode: plan.decode,
            shelf: plan.shelf,
            rows: VecDeque::new(),
            lazy,
            pull,
            open: false,
            done: false,
            read: 0,
            traced: None,
        }
    }

    /// The statement ended (`rows` is its count, if it succeeded): it no
    /// longer counts as open, and a pooled connection goes back.
    fn ended(&mut self, rows: Option<u64>) {
        self.open = false;
        self.done = true;
        self.shelf.ended();
        self.conn = None;
        if let Some(t) = self.traced.take() {
            t.ended(rows);
        }
    }
}

/// A cursor's rows into its queue, or decoded into the reader's.
struct Queueing<'a, T, D> {
    decode: &'a mut D,
    rows: &'a mut VecDeque<Row>,
    items: &'a mut VecDeque<T>,
    lazy: bool,
}

impl<T: Send, D: DecodeRow<T> + Send> Sink for Queueing<'_, T, D> {
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        match self.lazy {
            true => self.rows.push_back(row.take().ok_or_else(taken)?),
            false => self.items.push_back(self.decode.decode_row(row)?),
        }
        Ok(())
    }
    #[inline]
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        let item = self.decode.decode_in_place(row)?;
        Some(item.map(|item| self.items.push_back(item)))
    }
}

impl<T: Send, D: DecodeRow<T> + Send> Cursor<T, D> {
    /// Reads up to `pull` rows into the queue (or, decoded, into `items`),
    /// opening the statement first if it is not open yet.
    fn pull(&mut self, items: &mut VecDeque<T>) -> Result<()> {
        let opening = self.stmt.take();
        if let Some(stmt) = &opening {
            self.open = true;
            self.traced = Traced::statement(&stmt.sql);
        }
        let before = self.rows.len() + items.len();
        let (shelf, pull) = (&self.shelf, self.pull);
        let mut sink = Queueing {
            decode: &mut self.decode,
            rows: &mut self.rows,
            items: &mut *items,
            lazy: self.lazy,
        };
        let mut read = |conn: &mut dyn crate::backend::SyncConn| {
            if let Some(stmt) = &opening {
                // Counted under the transaction's lock, where statements of
                // the transaction check for it.
                shelf.started();
                conn.open_cursor(stmt)?;
            }
            conn.cursor_rows(&mut sink, pull)
        };
        let ended = match &self.runs {
            // Opening, refused while another stream of the transaction is
            // open (it would close that one's statement).
            Runs::Tx(shared, level) if opening.is_some() => {
                shared.with_conn(*level, false, |st| read(&mut **st.conn()?))
            }
            Runs::Tx(shared, level) => shared.reading(*level, |st| read(&mut **st.conn()?)),
            Runs::Pooled(pool) => {
                let held = &mut self.conn;
                crate::runtime::run_blocking(|| {
                    let conn = match held {
                        Some(conn) => conn,
                        None => held.insert(pool.get()?),
                    };
                    read(&mut **conn)
                })
            }
        };
        self.read += (self.rows.len() + items.len() - before) as u64;
        match ended {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.ended(Some(self.read));
                Ok(())
            }
            Err(e) => {
                self.ended(None);
                Err(e)
            }
        }
    }
}

impl<T: Send, D: DecodeRow<T> + Send> Pull<T> for Cursor<T, D> {
    fn next(&mut self, items: &mut VecDeque<T>) -> Option<Result<T>> {
        loop {
            if let Some(item) = items.pop_front() {
                return Some(Ok(item));
            }
            if let Some(row) = self.rows.pop_front() {
                return Some(self.decode.decode_row(&mut Some(row)));
            }
            // A pull's error comes after the rows pulled before it.
            if let Some(e) = self.failed.take() {
                self.done = true;
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.pull(items) {
                self.failed = Some(e);
            }
        }
    }
}

/// Dropped part-way, the statement is stopped and the connection left
/// clean before this returns (tests/row_streams.rs).
impl<T, D> Drop for Cursor<T, D> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        match (&self.runs, &mut self.conn) {
            (Runs::Tx(shared, level), _) => {
                let _ = shared.reading(*level, |st| {
                    st.conn()?.close_cursor();
                    Ok(())
                });
            }
            (Runs::Pooled(_), Some(conn)) => conn.close_cursor(),
            (Runs::Pooled(_), None) => {}
        }
        self.ended(None);
    }
}

impl SyncDb {
    /// The models of a query as a [`RowIter`], read as the server sends
    /// them: memory stays flat for any number of rows, and a loop that stops
    /// early stops the statement. On the read replica, if there is one;
    /// inside this thread's transaction, if one is open. The `allow_sync`
    /// check is made here, once.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many((0..1000).map(|i| user(&format!("u{i}"))).collect()))?;
    /// let mut n = 0;
    /// for user in db.sync().fetch(User::select()) {
    ///     let _user = user?; // a batch of rows in memory at most
    ///     n += 1;
    /// }
    /// assert_eq!(n, 1000);
    /// // Stopping early stops the statement:
    /// let first: Vec<User> = db.sync().fetch(User::select()).take(3).collect::<dualdb::Result<_>>()?;
    /// assert_eq!(first.len(), 3);
    /// # Ok(())
    /// # });
    /// ```
    #[track_caller]
    pub fn fetch<Q: Fetchable>(&self, query: Q) -> RowIter<'static, Q::Item> {
        if let Err(e) = self.check("fetch") {
            return RowIter::failed(e);
        }
        let (scope, d) = self.context();
        self.iterate(scope, query.into_source(d))
    }

    /// A statement's rows as a [`RowIter`], as [`fetch`](Self::fetch)
    /// reads models (raw SQL may write: never on the replica).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) SELECT i FROM n";
    /// let mut sum = 0i64;
    /// for row in db.sync().fetch_rows(sql, &[]) {
    ///     sum += row?.get::<i64>(0)?;
    /// }
    /// assert_eq!(sum, 50_005_000);
    /// # Ok(())
    /// # });
    /// ```
    #[track_caller]
    pub fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> RowIter<'static, Row> {
        if let Err(e) = self.check("fetch_rows") {
            return RowIter::failed(e);
        }
        let (scope, _) = self.context();
        self.iterate(scope, rows(sql, params))
    }

    /// A statement's rows as a [`RowIter`] of `T`, each decoded as
    /// [`query_as`](Self::query_as) decodes it.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// #[derive(dualdb::FromRow)]
    /// struct N(i64);
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n";
    /// let sum: i64 = db.sync().fetch_as::<N>(sql, &[]).map(|n| n.map(|n| n.0)).sum::<dualdb::Result<i64>>()?;
    /// assert_eq!(sum, 5050);
    /// # Ok(())
    /// # });
    /// ```
    #[track_caller]
    pub fn fetch_as<T: FromRow + Send + 'static>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> RowIter<'static, T> {
        if let Err(e) = self.check("fetch_as") {
            return RowIter::failed(e);
        }
        let (scope, _) = self.context();
        self.iterate(scope, rows_as(sql, params))
    }

    /// `source` as a row iterator: in `scope`'s transaction, or on a pooled
    /// connection (the replica's, for a read).
    fn iterate<T, D>(&self, scope: Option<SyncScope>, source: Source<D>) -> RowIter<'static, T>
    where
        T: Send + 'static,
        D: DecodeRow<T> + Send + 'static,
    {
        let open_in = scope.as_ref().map(|s| s.tx.clone());
        iterate(
            |plan| match scope {
                Some(s) => Runs::Tx(s.tx, s.level),
                None => Runs::Pooled(self.replica_for(plan).unwrap_or(self).pool().handle()),
            },
            open_in.as_deref(),
            self.kind(),
            source,
        )
    }
}

impl SyncTx<'_> {
    /// [`SyncDb::fetch`] inside this transaction. While the iterator is
    /// open, the transaction's other statements are a
    /// [`Usage`](crate::ErrorKind::Usage) error: read it to the end or drop
    /// it first.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let tx = db.sync().begin()?;
    /// tx.create(user("ada"))?;
    /// let seen = tx.fetch(User::select()).collect::<dualdb::Result<Vec<User>>>()?; // sees its own write
    /// assert_eq!(seen.len(), 1);
    /// tx.rollback()?;
    /// # Ok(())
    /// # });
    /// ```
    #[track_caller]
    pub fn fetch<Q: Fetchable>(&self, query: Q) -> RowIter<'_, Q::Item> {
        if let Err(e) = self.check("fetch") {
            return RowIter::failed(e);
        }
        let ((), d) = self.context();
        self.iterate(query.into_source(d))
    }

    /// [`SyncDb::fetch_rows`] inside this transaction.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let tx = db.sync().begin()?;
    /// let n = tx.fetch_rows("SELECT 1 UNION ALL SELECT 2", &[]).count();
    /// assert_eq!(n, 2);
    /// tx.commit()?;
    /// # Ok(())
    /// # });
    /// ```
    #[track_caller]
    pub fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> RowIter<'_, Row> {
        if let Err(e) = self.check("fetch_rows") {
            return RowIter::failed(e);
        }
        self.iterate(rows(sql, params))
    }

    /// [`SyncDb::fetch_as`] inside this transaction.
    #[track_caller]
    pub fn fetch_as<T: FromRow + Send + 'static>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> RowIter<'_, T> {
        if let Err(e) = self.check("fetch_as") {
            return RowIter::failed(e);
        }
        self.iterate(rows_as(sql, params))
    }

    fn iterate<T, D>(&self, source: Source<D>) -> RowIter<'_, T>
    where
        T: Send + 'static,
        D: DecodeRow<T> + Send + 'static,
    {
        let (shared, level) = self.scope_parts();
        iterate(
            |_| Runs::Tx(shared.clone(), level),
            Some(&shared),
            self.context().1.kind,
            source,
        )
    }
}
