//! [`RowStream`]: a statement's models or rows as a
//! [`Stream`](futures_core::Stream), read as the server sends them, with
//! backpressure.
//!
//! The stream owns the future that runs its statement (the producer) and
//! polls it only when it has no row left to give. The producer's plan
//! decodes rows into a batch of its own and hands the batch over through a
//! shelf both share, when the batch is full (the plan then holds the
//! driver's loop: [`Sink::poll_ready`](crate::plan) is `Pending`) or when
//! the driver has to wait for the network: so at most one batch waits in
//! memory, and a row is never held back while the server is slow. Dropped
//! part-way, the stream lets the producer finish on a spawned task: its next
//! row stops the statement, as an error from a `fold` closure does, and the
//! connection is left clean (tests/row_streams.rs drops streams at random
//! rows).

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crate::error::{Error, ErrorKind, Result};

/// Rows a stream's plan decodes before it hands them over and waits: few,
/// so that the rows alive at once stay within the allocator's per-thread
/// cache (benches/paired, the `stream` workload, measured 8 to 64).
pub(crate) const BATCH: usize = 8;

/// Rows a row iterator's thread sends at once: many, as each batch costs a
/// hand-over between threads (the same bench, blocking half).
pub(crate) const THREAD_BATCH: usize = 256;

/// A row stream's statement read by a cursor of its connection, each item
/// polled from the driver's own row stream as the reader polls (PostgreSQL
/// and MySQL, in and out of transactions: `AsyncConn::open_cursor`).
/// Dropped before its statement ended, it stops the statement and the
/// connection goes back clean, to its pool or its transaction.
pub(crate) trait AsyncPull<T>: Send {
    /// The next item; `None` once the statement ended. It ends after an
    /// error.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>>;
}

/// The statement's future: it runs the plan that fills the shelf.
pub(crate) type Producer = Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>>;

/// What a stream and its plan share: the rows handed over, whether the
/// stream is gone, and the count of open streams of the transaction it
/// runs in, if any (its other statements are refused while one is open:
/// they would wait for the stream, which waits for its reader).
pub(crate) struct Shelf<T> {
    rows: Mutex<Vec<T>>,
    dropped: AtomicBool,
    open_in: Option<Arc<AtomicUsize>>,
    counted: AtomicBool,
}

impl<T> Shelf<T> {
    pub(crate) fn new(open_in: Option<Arc<AtomicUsize>>) -> Arc<Self> {
        Arc::new(Shelf {
            rows: Mutex::new(Vec::new()),
            dropped: AtomicBool::new(false),
            open_in,
            counted: AtomicBool::new(false),
        })
    }

    /// Hands `batch` over (leaving it empty).
    pub(crate) fn put(&self, batch: &mut Vec<T>) {
        if batch.is_empty() {
            return;
        }
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.is_empty() {
            std::mem::swap(&mut *rows, batch);
        } else {
            rows.append(batch);
        }
    }

    /// The rows handed over, into `ready` (empty), whose buffer the plan
    /// gets back for its next batch: no batch allocates once the first
    /// two have.
    fn take_into(&self, ready: &mut VecDeque<T>) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.is_empty() {
            return;
        }
        let mut spare = Vec::from(std::mem::take(ready));
        spare.clear();
        std::mem::swap(&mut *rows, &mut spare);
        *ready = VecDeque::from(spare);
    }

    /// True once the stream was dropped: the plan stops its statement.
    pub(crate) fn dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// The reader is gone: the statement stops at its next row, and no
    /// longer counts as open.
    pub(crate) fn reader_gone(&self) {
        self.dropped.store(true, Ordering::Release);
        self.ended();
    }

    /// The statement started: it counts as open in its transaction, unless
    /// its reader is gone (its statement only finishes, holding the
    /// connection: the transaction's next statements wait for it rather
    /// than being refused).
    pub(crate) fn started(&self) {
        if let Some(open) = &self.open_in
            && !self.dropped()
            && !self.counted.swap(true, Ordering::AcqRel)
        {
            open.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The statement ended, or its reader went away: no longer open.
    pub(crate) fn ended(&self) {
        if let Some(open) = &self.open_in
            && self.counted.swap(false, Ordering::AcqRel)
        {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The error of a statement sent to a transaction while one of its row
/// streams or iterators is open.
pub(crate) fn stream_open() -> Error {
    Error::new(
        ErrorKind::Usage,
        "a row stream of this transaction is open: read it to the end or drop it before the transaction's next statement",
    )
}

/// The error a stream's plan stops its statement with once the stream is
/// gone (nobody sees it).
pub(crate) fn dropped() -> Error {
    Error::new(ErrorKind::Usage, "the row stream was dropped")
}

/// The models or rows of one statement, as the server sends them: made by
/// [`AsyncDb::fetch`](crate::AsyncDb::fetch) and
/// [`fetch_rows`](crate::AsyncDb::fetch_rows) (and the same on a
/// transaction). A [`Stream`](futures_core::Stream) of `Result<T>`: on
/// PostgreSQL and MySQL each poll reads the driver's next row; on SQLite
/// rows come in batches of 8 at most. Either way the next rows are
/// read from the server only when the reader has taken the last, so memory
/// stays flat however many rows there are. It ends after an error. Dropped
/// part-way, its statement is stopped and its connection left clean. While a stream of a transaction is open,
/// the transaction's other statements are a
/// [`Usage`](crate::ErrorKind::Usage) error (they would wait for the
/// stream): read it to the end or drop it first.
///
/// ```
/// use futures::TryStreamExt;
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// db.aio().execute_query(User::insert_many(vec![user("ada"), user("bob")])).await?;
/// let names: Vec<String> = db
///     .aio()
///     .fetch(User::select().order_by(User::NAME.asc()))
///     .map_ok(|u| u.name)
///     .try_collect()
///     .await?;
/// assert_eq!(names, ["ada", "bob"]);
/// # Ok(())
/// # });
/// ```
#[must_use = "a stream does nothing unless polled"]
pub struct RowStream<'a, T> {
    /// The statement read by a cursor instead, until it ends.
    pull: Option<Box<dyn AsyncPull<T>>>,
    producer: Option<Producer>,
    started: bool,
    shelf: Arc<Shelf<T>>,
    ready: VecDeque<T>,
    error: Option<Error>,
    _handle: PhantomData<&'a ()>,
}

impl<T> RowStream<'_, T> {
    pub(crate) fn new(producer: Producer, shelf: Arc<Shelf<T>>) -> Self {
        RowStream {
            pull: None,
            producer: Some(producer),
            started: false,
            shelf,
            ready: VecDeque::new(),
            error: None,
            _handle: PhantomData,
        }
    }

    /// A stream read by a cursor.
    pub(crate) fn pulled(pull: Box<dyn AsyncPull<T>>) -> Self {
        RowStream {
            pull: Some(pull),
            producer: None,
            started: false,
            shelf: Shelf::new(None),
            ready: VecDeque::new(),
            error: None,
            _handle: PhantomData,
        }
    }

    /// A stream whose only item is `error`.
    pub(crate) fn failed(error: Error) -> Self {
        RowStream {
            pull: None,
            producer: None,
            started: false,
            shelf: Shelf::new(None),
            ready: VecDeque::new(),
            error: Some(error),
            _handle: PhantomData,
        }
    }
}

// Nothing in a stream is pinned in place: its producer is boxed, and its
// rows are moved out by value.
impl<T> Unpin for RowStream<'_, T> {}

impl<T> futures_core::Stream for RowStream<'_, T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        if let Some(pull) = &mut this.pull {
            let next = pull.poll_next(cx);
            if matches!(next, Poll::Ready(None | Some(Err(_)))) {
                this.pull = None;
            }
            return next;
        }
        loop {
            if let Some(v) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(v)));
            }
            if let Some(e) = this.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            let Some(producer) = this.producer.as_mut() else {
                return Poll::Ready(None);
            };
            this.started = true;
            let polled = producer.as_mut().poll(cx);
            // Rows handed over before the producer stopped (or paused)
            // come before its outcome.
            this.shelf.take_into(&mut this.ready);
            match polled {
                Poll::Ready(outcome) => {
                    this.producer = None;
                    this.error = outcome.err();
                }
                // Paused on a full batch (rows are ready), or waiting for the
                // server (its waker is set).
                Poll::Pending if this.ready.is_empty() => return Poll::Pending,
                Poll::Pending => {}
            }
        }
    }
}

impl<T> Drop for RowStream<'_, T> {
    fn drop(&mut self) {
        let Some(producer) = self.producer.take() else {
            return;
        };
        self.shelf.reader_gone();
        if !self.started {
            return; // nothing ran yet
        }
        // Finished on a task: the plan's next row stops the statement, and
        // the connection goes back clean. Without a runtime, the producer
        // is dropped mid-statement and its connection closed.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = producer.await;
            });
        }
    }
}

impl<T> std::fmt::Debug for RowStream<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("ready", &self.ready.len())
            .field("running", &(self.producer.is_some() || self.pull.is_some()))
            .finish()
    }
}

/// What a [`RowIter`]'s thread sends: a batch of rows, or the error that
/// ended its statement.
pub(crate) type Sent<T> = Result<Vec<T>>;

/// The work a [`RowIter`]'s thread runs: the statement, its rows sent in
/// batches through the channel.
pub(crate) type Work<T> = Box<dyn FnOnce(SyncSender<Sent<T>>) + Send + 'static>;

/// Batches a [`RowIter`]'s thread may send ahead of its reader.
const BATCHES_AHEAD: usize = 2;

/// A row iterator's statement read on the reader's own thread, a batch at a
/// time, by a cursor of its connection (`SyncConn::open_cursor`). Dropped
/// before its statement ended, it stops the statement and leaves the
/// connection clean.
pub(crate) trait Pull<T>: Send {
    /// The next item; `None` once the statement ended. It ends after an
    /// error. It may put the items that follow into `ready` (decoded as
    /// they were read), which [`RowIter`] hands out before it calls again.
    fn next(&mut self, ready: &mut VecDeque<T>) -> Option<Result<T>>;
}

/// The models or rows of one statement on the blocking half, as the server
/// sends them: made by [`SyncDb::fetch`](crate::SyncDb::fetch) and
/// [`fetch_rows`](crate::SyncDb::fetch_rows) (and the same on a
/// transaction). An [`Iterator`] of `Result<T>`, whose statement starts at
/// the first `next()`. Its rows are read on the reader's own thread as the
/// reader needs them (up to 256 at a time on PostgreSQL, which takes what
/// has arrived; three on SQLite and MySQL), and the connection
/// goes back to the pool once the last is read. Inside a current-thread
/// Tokio runtime the statement runs on a thread of its own instead, which
/// sends rows in batches of up to 256 and waits while two batches are
/// unread. Either way memory stays flat however many rows there are. Rows
/// before an error come first; it ends after the error.
/// Dropped part-way, its statement is stopped and its connection left
/// clean before `drop` returns. While an iterator of a transaction is open,
/// the transaction's other statements are a
/// [`Usage`](crate::ErrorKind::Usage) error: read it to the end or drop it
/// first.
///
/// ```
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// db.sync().execute_query(User::insert_many(vec![user("ada"), user("bob")]))?;
/// let mut names = Vec::new();
/// for u in db.sync().fetch(User::select().order_by(User::NAME.asc())) {
///     names.push(u?.name);
/// }
/// assert_eq!(names, ["ada", "bob"]);
/// # Ok(())
/// # });
/// ```
#[must_use = "an iterator does nothing unless iterated"]
pub struct RowIter<'a, T> {
    work: Option<Work<T>>,
    rows: Option<Receiver<Sent<T>>>,
    /// The statement read on this thread instead, until it ends.
    pull: Option<Box<dyn Pull<T>>>,
    ready: VecDeque<T>,
    worker: Option<std::thread::JoinHandle<()>>,
    shelf: Arc<Shelf<T>>,
    error: Option<Error>,
    _handle: PhantomData<&'a ()>,
}

impl<T: Send + 'static> RowIter<'_, T> {
    pub(crate) fn new(work: Work<T>, shelf: Arc<Shelf<T>>) -> Self {
        RowIter {
            work: Some(work),
            rows: None,
            pull: None,
            ready: VecDeque::new(),
            worker: None,
            shelf,
            error: None,
            _handle: PhantomData,
        }
    }

    /// An iterator that reads its statement on the reader's thread.
    pub(crate) fn pulled(pull: Box<dyn Pull<T>>, shelf: Arc<Shelf<T>>) -> Self {
        RowIter {
            work: None,
            rows: None,
            pull: Some(pull),
            ready: VecDeque::new(),
            worker: None,
            shelf,
            error: None,
            _handle: PhantomData,
        }
    }

    /// An iterator whose only item is `error`.
    pub(crate) fn failed(error: Error) -> Self {
        RowIter {
            work: None,
            rows: None,
            pull: None,
            ready: VecDeque::new(),
            worker: None,
            shelf: Shelf::new(None),
            error: Some(error),
            _handle: PhantomData,
        }
    }

    /// Waits for the thread, once its rows are all read or unwanted.
    fn join(&mut self) {
        if let Some(worker) = self.worker.take() {
            let _ = crate::runtime::run_blocking(move || {
                let _ = worker.join();
                Ok(())
            });
        }
    }

    fn start(&mut self, work: Work<T>) -> Result<()> {
        let (send, rows) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
        let worker = std::thread::Builder::new()
            .name("dualdb-fetch".into())
            .spawn(move || work(send))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    "cannot start the thread of a row iterator",
                )
                .with_source(e)
            })?;
        self.worker = Some(worker);
        self.rows = Some(rows);
        Ok(())
    }

    /// The next item once the rows read ahead are gone (`next` took them
    /// all): an error, the next pull of a cursor, or the thread's next batch.
    #[inline(never)]
    fn refill(&mut self) -> Option<Result<T>> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        if let Some(pull) = &mut self.pull {
            let next = pull.next(&mut self.ready);
            if !matches!(next, Some(Ok(_))) {
                self.pull = None;
            }
            return next;
        }
        if let Some(work) = self.work.take()
            && let Err(e) = self.start(work)
        {
            return Some(Err(e));
        }
        let rows = self.rows.take()?;
        // Waiting blocks: off any Tokio worker, as every blocking call.
        let received = crate::runtime::run_blocking(move || {
            let next = rows.recv().ok();
            Ok((rows, next))
        });
        match received {
            Ok((rows, Some(Ok(batch)))) => {
                self.rows = Some(rows);
                self.ready = VecDeque::from(batch);
                self.next()
            }
            Ok((_, Some(Err(e)))) => {
                self.join();
                Some(Err(e))
            }
            Ok((_, None)) => {
                self.join();
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T: Send + 'static> Iterator for RowIter<'_, T> {
    type Item = Result<T>;

    // The rows read ahead are handed out here, inline in the reader's
    // loop; the rest (`refill`) is a call once a pull or batch
    // (benches/instructions, SQLite's and MySQL's blocking `stream`).
    #[inline]
    fn next(&mut self) -> Option<Result<T>> {
        match self.ready.pop_front() {
            Some(row) => Some(Ok(row)),
            None => self.refill(),
        }
    }
}

impl<T> Drop for RowIter<'_, T> {
    fn drop(&mut self) {
        self.shelf.reader_gone();
        // A statement read here is stopped by its pull's drop. A thread's
        // next send fails, which stops its statement; then its connection
        // is back, clean, before this returns.
        drop(self.pull.take());
        drop(self.rows.take());
        if let Some(worker) = self.worker.take() {
            let _ = crate::runtime::run_blocking(move || {
                let _ = worker.join();
                Ok(())
            });
        }
    }
}

impl<T> std::fmt::Debug for RowIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowIter")
            .field("running", &(self.worker.is_some() || self.pull.is_some()))
            .finish()
    }
}
