//! Connection pools of both halves and their statistics.
//!
//! - The blocking half uses [`BlockingPool`], written here (see ARCHITECTURE.md for
//!   why not r2d2): a mutex, a condvar, an acquire timeout, and connects on a
//!   helper thread given up at the connect timeout (a file-backed SQLite
//!   connection on the calling thread), each failure keeping its typed error.
//! - The async half uses [`AsyncPool`](crate::async_pool::AsyncPool), also
//!   written here (it replaced deadpool, measured): acquire, connect and
//!   check timeouts, and the same discard rules.
//!
//! On both, a connection goes back to the pool only if the last operation on
//! it finished and the driver still calls it usable; anything else (a future
//! dropped mid-query, a broken socket, a panic) discards it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::async_pool::Pooled;
use crate::backend::{AsyncConn, Backend, SyncConn, connect_within};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::run_blocking;

/// A snapshot of one pool, from [`SyncDb::status`](crate::SyncDb::status) or
/// [`AsyncDb::status`](crate::AsyncDb::status).
///
/// ```
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let st: dualdb::PoolStatus = db.sync().status();
/// assert_eq!(st.size, 0); // nothing opened yet
/// assert_eq!(st.max_size, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now, idle or in use.
    pub size: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    /// Connections lent out now.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let tx = db.sync().begin().unwrap();
    /// assert_eq!(db.sync().status().in_use(), 1);
    /// tx.rollback().unwrap();
    /// assert_eq!(db.sync().status().in_use(), 0);
    /// ```
    pub fn in_use(&self) -> usize {
        self.size.saturating_sub(self.idle)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held cannot leave the counters half-written
    // (every update is one statement), so the data is still good.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct State {
    /// Idle connections and when each came back (if the backend's go stale).
    idle: Vec<(Box<dyn SyncConn>, Option<Instant>)>,
    /// Open connections, idle, lent out or being opened.
    open: usize,
    waiting: usize,
    /// Bumped by `close`: connections lent out before it are discarded on return.
    generation: u64,
}

/// What the pool's connect helpers and borrowers share.
pub(crate) struct Shared {
    backend: Arc<dyn Backend>,
    max_size: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    /// `check_idle_after`, if the backend's connections go stale.
    check_idle_after: Option<Duration>,
    state: Mutex<State>,
    freed: Condvar,
}

impl Shared {
    /// Takes back a connection opened or lent under `generation`.
    fn give_back(&self, conn: Box<dyn SyncConn>, generation: u64) {
        if let Some(stale) = self.keep(conn, generation) {
            drop(stale);
            self.release();
        }
    }

    /// Keeps `conn` idle, unless the pool was closed since it was lent
    /// (`generation` is not the pool's): then it is handed back, for the
    /// caller to close (which may block) and [`release`](Self::release).
    fn keep(&self, conn: Box<dyn SyncConn>, generation: u64) -> Option<Box<dyn SyncConn>> {
        let now = self.check_idle_after.map(|_| Instant::now());
        let mut st = lock(&self.state);
        if generation != st.generation {
            return Some(conn);
        }
        let wake = st.waiting > 0;
        st.idle.push((conn, now));
        drop(st);
        self.wake(wake);
        None
    }

    /// Frees the slot of a connection that is gone.
    fn release(&self) {
        let mut st = lock(&self.state);
        st.open -= 1;
        let wake = st.waiting > 0;
        drop(st);
        self.wake(wake);
    }

    /// Wakes one waiting caller, if `any` was waiting when the lock was held
    /// (a waiter counts itself in `waiting` under the lock before it sleeps).
    /// Notifying a condvar is a system call even with no one waiting: a
    /// pool without waiters skips it.
    fn wake(&self, any: bool) {
        if any {
            self.freed.notify_one();
        }
    }
}

/// The blocking half's pool.
pub(crate) struct BlockingPool {
    shared: Arc<Shared>,
}

/// How a lent connection refers to its pool: counted (`Arc`, for one that
/// outlives the call, as a transaction's does) or borrowed (for the length
/// of one call, without the two atomic counts of a clone and its drop).
pub(crate) trait PoolRef: std::ops::Deref<Target = Shared> + Clone + Send {}
impl PoolRef for Arc<Shared> {}
impl PoolRef for &Shared {}

/// A connection lent out by a [`BlockingPool`]; it goes back on drop, or is
/// closed if its state is unknown.
pub(crate) struct PooledConn<P: PoolRef = Arc<Shared>> {
    pool: P,
    conn: Option<Box<dyn SyncConn>>,
    generation: u64,
    /// A transaction is open on it: rolled back before it goes back.
    pub(crate) in_tx: bool,
    /// Close it instead of pooling it (a failed COMMIT or ROLLBACK).
    pub(crate) discard: bool,
}

impl<P: PoolRef> std::ops::Deref for PooledConn<P> {
    type Target = dyn SyncConn;
    fn deref(&self) -> &Self::Target {
        // Present from construction until drop.
        self.conn.as_deref().expect("pooled connection present")
    }
}

impl<P: PoolRef> std::ops::DerefMut for PooledConn<P> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_deref_mut().expect("pooled connection present")
    }
}

fn lend<P: PoolRef>(pool: P, conn: Box<dyn SyncConn>, generation: u64) -> PooledConn<P> {
    PooledConn {
        pool,
        conn: Some(conn),
        generation,
        in_tx: false,
        discard: false,
    }
}

/// The hand-off between a caller and the helper thread opening its connection.
#[derive(Default)]
struct Handoff {
    result: Option<Result<Box<dyn SyncConn>>>,
    /// The caller stopped waiting: the helper keeps what it opens.
    abandoned: bool,
}

impl BlockingPool {
    pub(crate) fn new(backend: Arc<dyn Backend>, config: &crate::config::Config) -> Self {
        BlockingPool {
            shared: Arc::new(Shared {
                check_idle_after: backend.goes_stale().then_some(config.check_idle_after),
                backend,
                max_size: config.sync_pool_size,
                acquire_timeout: config.acquire_timeout,
                connect_timeout: config.connect_timeout,
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                    waiting: 0,
                    generation: 0,
                }),
                freed: Condvar::new(),
            }),
        }
    }

    /// Lends a connection: an idle one, a new one if under the limit, or the
    /// first one freed within the acquire timeout. Must run inside
    /// [`run_blocking`].
    pub(crate) fn get(&self) -> Result<PooledConn> {
        self.take()
            .map(|(conn, generation)| lend(self.shared.clone(), conn, generation))
    }

    /// [`get`](Self::get) for one call: the connection refers to the pool
    /// without counting.
    pub(crate) fn lease(&self) -> Result<PooledConn<&Shared>> {
        self.take()
            .map(|(conn, generation)| lend(&*self.shared, conn, generation))
    }

    /// An idle connection, a new one if under the limit, or the first one
    /// freed within the acquire timeout; with the pool's generation it was
    /// lent under.
    fn take(&self) -> Result<(Box<dyn SyncConn>, u64)> {
        let shared = &*self.shared;
        // Read the clock only once this call has to wait.
        let mut deadline = None;
        let mut st = lock(&shared.state);
        loop {
            if let Some((mut conn, since)) = st.idle.pop() {
                let generation = st.generation;
                let fresh = match (since, shared.check_idle_after) {
                    (Some(since), Some(after)) => since.elapsed() <= after,
                    _ => true,
                };
                if fresh {
                    return Ok((conn, generation));
                }
                // Idle a while: the server may have dropped it.
                drop(st);
                if conn.ping().is_ok() {
                    return Ok((conn, generation));
                }
                drop(conn);
                st = lock(&shared.state);
                st.open -= 1;
                continue;
            }
            if st.open < shared.max_size {
                st.open += 1;
                let generation = st.generation;
                drop(st);
                return self.open(generation).map(|conn| (conn, generation));
            }
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + shared.acquire_timeout);
            if now >= deadline {
                return Err(Error::pool_timeout(shared.acquire_timeout));
            }
            st.waiting += 1;
            st = shared
                .freed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiting -= 1;
        }
    }

    /// Opens a connection for a slot already counted in `open`, waiting at
    /// most the connect timeout. The drivers' own connect timeouts cover only
    /// the TCP connect, so a server that accepts and never answers would
    /// block forever: a server's connect runs on a helper thread instead. If
    /// the caller gives up, the helper keeps the slot until its connect ends,
    /// and then pools the connection or frees the slot, so at most
    /// `max_size` such attempts exist at once. A backend with no server
    /// ([`Backend::connect_may_hang`]) connects here.
    fn open(&self, generation: u64) -> Result<Box<dyn SyncConn>> {
        if !self.shared.backend.connect_may_hang() {
            let opened = self.shared.backend.connect_sync();
            if opened.is_err() {
                self.shared.release();
            }
            return opened;
        }
        let shared = self.shared.clone();
        let handoff = Arc::new((Mutex::new(Handoff::default()), Condvar::new()));
        let theirs = handoff.clone();
        let spawned = std::thread::Builder::new()
            .name("dualdb-connect".into())
            .spawn(move || {
                let result = shared.backend.connect_sync();
                let mut h = lock(&theirs.0);
                if h.abandoned {
                    drop(h);
                    match result {
                        Ok(conn) => shared.give_back(conn, generation),
                        Err(_) => shared.release(),
                    }
                } else {
                    h.result = Some(result);
                    theirs.1.notify_one();
                }
            });
        if let Err(e) = spawned {
            self.shared.release();
            return Err(
                Error::new(ErrorKind::Usage, "cannot start a connect thread").with_source(e),
            );
        }
        let deadline = Instant::now() + self.shared.connect_timeout;
        let mut h = lock(&handoff.0);
        loop {
            if let Some(result) = h.result.take() {
                if result.is_err() {
                    self.shared.release();
                }
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                h.abandoned = true;
                return Err(Error::new(
                    ErrorKind::Connect,
                    format!("connect timed out after {:?}", self.shared.connect_timeout),
                ));
            }
            h = handoff
                .1
                .wait_timeout(h, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Opens one connection now if none is open, to surface connect errors early.
    pub(crate) fn connect(&self) -> Result<()> {
        self.lease().map(drop)
    }

    /// Closes every idle connection; connections lent out now are closed when
    /// they come back. The next call opens a fresh one.
    pub(crate) fn close(&self) {
        let idle = {
            let mut st = lock(&self.shared.state);
            st.generation += 1;
            st.open -= st.idle.len();
            std::mem::take(&mut st.idle)
        };
        self.shared.freed.notify_all();
        drop(idle);
    }

    pub(crate) fn status(&self) -> PoolStatus {
        let st = lock(&self.shared.state);
        PoolStatus {
            max_size: self.shared.max_size,
            size: st.open,
            idle: st.idle.len(),
            waiting: st.waiting,
        }
    }
}

impl<P: PoolRef> Drop for PooledConn<P> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let (in_tx, discard) = (self.in_tx, self.discard);
        let generation = self.generation;
        let mut reusable = !std::thread::panicking() && !discard && conn.is_usable();
        if reusable && !in_tx {
            // Nothing to roll back: keeping it does not block, and only a
            // connection the pool no longer wants is closed below.
            match self.pool.keep(conn, generation) {
                None => return,
                Some(stale) => (conn, reusable) = (stale, false),
            }
        }
        let pool = self.pool.clone();
        // Rolling back and closing both block: keep them off Tokio workers.
        let _ = run_blocking(move || {
            if reusable && in_tx {
                // A transaction abandoned without commit or rollback.
                reusable = conn.execute(crate::transaction::rollback_stmt()).is_ok();
            }
            if reusable {
                pool.give_back(conn, generation);
            } else {
                drop(conn);
                pool.release();
            }
            Ok(())
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.state).idle);
        if !idle.is_empty() {
            // Closing a `postgres` client blocks on its runtime: keep that off
            // any Tokio worker that drops the last handle.
            let _ = run_blocking(move || {
                drop(idle);
                Ok(())
            });
        }
    }
}

/// An async connection and whether an operation on it is under way.
pub(crate) struct AsyncSlot {
    pub(crate) conn: Box<dyn AsyncConn>,
    /// Set when an operation starts and cleared when it finishes; still set
    /// when the pool gets the slot back means the future was dropped mid-way.
    pub(crate) busy: bool,
    /// A transaction is open on it: rolled back before reuse.
    pub(crate) in_tx: bool,
}

impl AsyncSlot {
    /// Rolls back the open transaction; `busy` while the statement runs, so a
    /// cancelled rollback leaves the connection marked for closing.
    pub(crate) async fn roll_back(&mut self) -> Result<()> {
        self.busy = true;
        let out = self
            .conn
            .execute(crate::transaction::rollback_stmt())
            .await
            .map(drop);
        self.busy = false;
        if out.is_ok() {
            self.in_tx = false;
        }
        out
    }
}

/// An async connection lent for one operation or one transaction. Dropped
/// mid-statement, the connection is closed (its state is unknown); dropped
/// in a transaction, it is rolled back on a spawned task and then pooled.
pub(crate) struct Lease(Option<Pooled>);

impl Lease {
    pub(crate) fn new(obj: Pooled) -> Self {
        Lease(Some(obj))
    }

    pub(crate) fn slot(&mut self) -> Result<&mut AsyncSlot> {
        self.0
            .as_deref_mut()
            .ok_or_else(crate::transaction::finished)
    }

    /// Closes the connection instead of pooling it.
    pub(crate) fn discard(&mut self) {
        if let Some(obj) = self.0.take() {
            obj.discard();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(mut obj) = self.0.take() else {
            return;
        };
        if obj.busy {
            obj.discard();
            return;
        }
        if !obj.in_tx {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if obj.roll_back().await.is_err() {
                        obj.discard();
                    }
                });
            }
            Err(_) => obj.discard(),
        }
    }
}

/// The shared connections of the async half (PostgreSQL): statements outside
/// transactions go to the one with the fewest statements in flight (among
/// equals, the first) and are pipelined there, so many tasks need few
/// connections and no checkout. A broken one is replaced on its next use.
///
/// Fewest in flight rather than strictly in turn: a statement does not queue
/// behind a slow one on a busy connection while another is free. Among
/// equals the first, not the next in turn: one task's statements in a row
/// stay on one connection and one server process, as on a raw client, and a
/// lightly loaded application opens one connection, not all of them. Taking
/// turns sent a lone task's statements round every server process, each
/// with cold caches (`benches/paired.rs`, PostgreSQL's async get, guards it;
/// BENCHMARKS.md has both sides of the measurement).
pub(crate) struct SharedPool {
    backend: Arc<dyn Backend>,
    connect_timeout: Duration,
    slots: Vec<SharedSlot>,
}

struct SharedSlot {
    conn: std::sync::RwLock<Option<Arc<dyn crate::backend::SharedConn>>>,
    /// One connect at a time per slot; the count of attempts made, and the
    /// failure of the last if it failed. Callers that waited while an
    /// attempt ran take its outcome instead of making one of their own, so
    /// that no caller waits for more than one attempt (tests/connect.rs
    /// `many_callers_against_a_silent_server_each_wait_one_connect_timeout`).
    connecting: tokio::sync::Mutex<(u64, Option<Error>)>,
    /// Statements running on this slot's connection now.
    in_flight: AtomicUsize,
}

/// A shared connection lent to one plan's statements, counted in its
/// slot's `in_flight` until dropped.
pub(crate) struct SharedLease<'p> {
    pub(crate) conn: Arc<dyn crate::backend::SharedConn>,
    _count: InFlight<'p>,
}

/// One count in a slot's `in_flight`, given back when dropped (also when a
/// connect fails or its future is dropped).
struct InFlight<'p>(&'p SharedSlot);

impl<'p> InFlight<'p> {
    fn new(slot: &'p SharedSlot) -> Self {
        slot.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(slot)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SharedPool {
    /// `size` shared connections if the backend has them, else none.
    pub(crate) fn new(backend: Arc<dyn Backend>, size: usize, connect_timeout: Duration) -> Self {
        let size = if backend.connect_shared().is_some() {
            size
        } else {
            0
        };
        SharedPool {
            backend,
            connect_timeout,
            slots: (0..size)
                .map(|_| SharedSlot {
                    conn: std::sync::RwLock::new(None),
                    connecting: tokio::sync::Mutex::new((0, None)),
                    in_flight: AtomicUsize::new(0),
                })
                .collect(),
        }
    }

    fn current(slot: &SharedSlot) -> Option<Arc<dyn crate::backend::SharedConn>> {
        let conn = slot.conn.read().unwrap_or_else(|e| e.into_inner()).clone();
        conn.filter(|c| c.is_usable())
    }

    /// The shared connection with the fewest statements in flight, opened
    /// if needed; `None` if the backend has none.
    pub(crate) async fn get(&self) -> Option<Result<SharedLease<'_>>> {
        // `min_by_key` keeps the first of equals.
        let slot = (self.slots.iter()).min_by_key(|s| s.in_flight.load(Ordering::Relaxed))?;
        let count = InFlight::new(slot);
        Some(self.ready(slot).await.map(|conn| SharedLease {
            conn,
            _count: count,
        }))
    }

    /// The slot's connection, opened if it has none or a broken one.
    async fn ready(&self, slot: &SharedSlot) -> Result<Arc<dyn crate::backend::SharedConn>> {
        if let Some(c) = Self::current(slot) {
            return Ok(c);
        }
        // Boxed: the connect's timer and lock would otherwise be in every
        // statement's future.
        Box::pin(self.reopen(slot)).await
    }

    /// Opens the slot's connection, one connect at a time: a caller that
    /// waited while another's attempt ran takes that attempt's outcome, and
    /// none waits longer than the connect timeout for the attempt to end.
    async fn reopen(&self, slot: &SharedSlot) -> Result<Arc<dyn crate::backend::SharedConn>> {
        let made = match slot.connecting.try_lock() {
            Ok(state) => state.0,
            Err(_) => u64::MAX, // an attempt is under way: its outcome is ours
        };
        let limit = self.connect_timeout;
        let mut state = connect_within(limit, async { Ok(slot.connecting.lock().await) }).await?;
        if let Some(c) = Self::current(slot) {
            return Ok(c);
        }
        if made != state.0
            && let Some(failed) = &state.1
        {
            return Err(failed.copy());
        }
        let connect = self
            .backend
            .connect_shared()
            .ok_or_else(|| Error::new(ErrorKind::Usage, "no shared connections here"))?;
        let opened = connect_within(limit, connect).await;
        state.0 += 1;
        let conn = opened.inspect_err(|e| state.1 = Some(e.copy()))?;
        state.1 = None;
        *slot.conn.write().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    /// Opens the first shared connection now.
    pub(crate) async fn connect(&self) -> Option<Result<()>> {
        Some(self.ready(self.slots.first()?).await.map(drop))
    }

    /// Drops every shared connection; statements in flight finish on theirs.
    pub(crate) fn close(&self) {
        for slot in &self.slots {
            slot.conn.write().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Shared connections open now.
    pub(crate) fn open(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| Self::current(s).is_some())
            .count()
    }
}
