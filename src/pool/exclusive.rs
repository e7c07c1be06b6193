//! The async half's pool of exclusive connections (MySQL, SQLite, and
//! PostgreSQL transactions).
//!
//! A semaphore of `max_size` permits bounds the connections lent out or
//! being opened; idle ones wait in a queue, lent oldest first (newest first
//! under an idle timeout). A checkout takes a
//! permit (without waiting when one is free; else for at most the acquire
//! timeout), then an idle connection, checked as it leaves (see
//! [`AsyncPool::get`]), or a new one within the connect timeout. A returned
//! connection goes back to the queue before its permit is given back, so the
//! caller woken by the permit finds it.
//!
//! It replaced deadpool (BENCHMARKS.md, "The pool choice"): the same
//! behaviour (timeouts, the check on checkout, statistics with waiting
//! callers, no background task), with less work per checkout and return
//! (deadpool runs its hooks, updates its metrics, reads the clock and
//! upgrades a weak reference on each; benches/pools measures both).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::slot::AsyncSlot;
use super::status::PoolStatus;
use crate::backend::Backend;
use crate::backend::connect_within;
use crate::config::Lifetimes;
use crate::error::{Error, Result};

/// Why a checkout failed.
pub(crate) enum GetError {
    /// The pool was closed (by [`AsyncPool::close`]) before or during it.
    Closed,
    /// Anything else, as the caller sees it.
    Failed(Error),
}

/// A cheap handle; clones share the pool.
#[derive(Clone)]
pub(crate) struct AsyncPool(Arc<Inner>);

struct Inner {
    backend: Arc<dyn Backend>,
    max_size: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    /// A connection not checked out for longer than this is pinged first.
    check_idle_after: Duration,
    lifetimes: Lifetimes,
    /// The keeper task (see [`keep_pool`]), if the lifetimes need one: on
    /// the runtime of the pool's first checkout, and again on a later one's
    /// if that runtime has ended.
    keeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// One permit per connection lent out or being opened.
    permits: Arc<Semaphore>,
    state: Mutex<State>,
    /// Callers waiting for a permit.
    waiting: AtomicUsize,
}

struct State {
    /// Idle connections, oldest return first, each with its last checkout.
    idle: VecDeque<(AsyncSlot, Instant)>,
    /// Open connections: idle, lent out, being checked or being opened.
    size: usize,
    closed: bool,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update under the lock is a single step: the state is whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One count in `size` for a connection being opened or checked, given
/// back unless the connection is lent out (also when its future is dropped).
struct Counted<'p> {
    pool: &'p Inner,
    armed: bool,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.pool.state).size -= 1;
        }
    }
}

/// What an idle connection needs before it is lent ([`Inner::fit`]).
enum Fit {
    Ready(AsyncSlot),
    Check(AsyncSlot, Duration),
    Unfit,
}

/// Counts a waiting caller while it waits.
struct Waiting<'p>(&'p AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection lent out; it goes back to the pool when dropped.
pub(crate) struct Pooled {
    slot: Option<AsyncSlot>,
    checked_out: Instant,
    pool: AsyncPool,
    /// Released after the connection is back (fields drop after `drop`).
    _permit: OwnedSemaphorePermit,
}

impl AsyncPool {
    pub(crate) fn new(backend: Arc<dyn Backend>, config: &crate::config::Config) -> Self {
        let max_size = config.async_pool_size.clamp(1, Semaphore::MAX_PERMITS);
        AsyncPool(Arc::new(Inner {
            backend,
            max_size,
            acquire_timeout: config.acquire_timeout,
            connect_timeout: config.connect_timeout,
            check_idle_after: config.check_idle_after,
            lifetimes: config.lifetimes,
            keeper: Mutex::new(None),
            permits: Arc::new(Semaphore::new(max_size)),
            state: Mutex::new(State {
                idle: VecDeque::new(),
                size: 0,
                closed: false,
            }),
            waiting: AtomicUsize::new(0),
        }))
    }

    /// Lends a connection: an idle one, or a new one while under the size.
    /// An idle connection is checked as it leaves: discarded if a cancelled
    /// operation or a broken link left it in an unknown state, rolled back if
    /// a transaction was left open on it, pinged if it was not checked out
    /// for longer than `check_idle_after`; if that fails, the next one is
    /// tried. The round trips of those checks are bounded by the connect
    /// timeout.
    pub(crate) async fn get(&self) -> std::result::Result<Pooled, GetError> {
        // The waits (for a permit, a check's round trip, a connect) are
        // boxed: their timers would otherwise be in every checkout's future,
        // and so in every async call's, copied as it moves.
        let inner = &*self.0;
        if inner.lifetimes.need_keeper() {
            self.keep_kept();
        }
        let permit = match inner.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(GetError::Closed),
            // Only a caller that has to wait sets up a timer.
            Err(TryAcquireError::NoPermits) => Box::pin(inner.wait_for_permit()).await?,
        };
        loop {
            let next = {
                let mut st = lock(&inner.state);
                if st.closed {
                    return Err(GetError::Closed);
                }
                // Oldest first spreads the calls over every connection;
                // with an idle timeout, the newest, so that a light load
                // keeps few connections warm and the rest time out
                // (tests/pool_lifetimes.rs).
                let next = if inner.lifetimes.idle_timeout.is_some() {
                    st.idle.pop_back()
                } else {
                    st.idle.pop_front()
                };
                if next.is_none() {
                    st.size += 1;
                }
                next
            };
            let mut counted = Counted {
                pool: inner,
                armed: true,
            };
            let now = Instant::now();
            let slot = match next {
                Some((slot, last)) => {
                    let checked = match inner.fit(slot, now - last) {
                        Fit::Ready(slot) => Some(slot),
                        Fit::Check(slot, idle) => Box::pin(inner.check(slot, idle)).await,
                        Fit::Unfit => None,
                    };
                    match checked {
                        Some(slot) => slot,
                        // Discarded: its count goes with it.
                        None => continue,
                    }
                }
                None => Box::pin(inner.open()).await.map_err(GetError::Failed)?,
            };
            counted.armed = false;
            return Ok(Pooled {
                slot: Some(slot),
                checked_out: now,
                pool: self.clone(),
                _permit: permit,
            });
        }
    }

    /// Starts the keeper task on this runtime unless one runs.
    fn keep_kept(&self) {
        let mut keeper = self.0.keeper.lock().unwrap_or_else(|e| e.into_inner());
        if keeper.as_ref().is_some_and(|k| !k.is_finished()) {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            *keeper = Some(rt.spawn(keep_pool(Arc::downgrade(&self.0))));
        }
    }

    /// Closes the idle connections and refuses checkouts; connections lent
    /// out are closed when they come back.
    pub(crate) fn close(&self) {
        self.0.permits.close();
        let idle = {
            let mut st = lock(&self.0.state);
            st.closed = true;
            st.size -= st.idle.len();
            std::mem::take(&mut st.idle)
        };
        drop(idle);
    }

    pub(crate) fn status(&self) -> PoolStatus {
        let st = lock(&self.0.state);
        PoolStatus {
            max_size: self.0.max_size,
            size: st.size,
            idle: st.idle.len(),
            waiting: self.0.waiting.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    async fn open(&self) -> Result<AsyncSlot> {
        let conn = connect_within(self.connect_timeout, self.backend.connect_async()).await?;
        Ok(AsyncSlot {
            conn,
            busy: false,
            in_tx: false,
            born: self.lifetimes.birth(),
        })
    }

    /// A permit, waited for at most the acquire timeout.
    async fn wait_for_permit(&self) -> std::result::Result<OwnedSemaphorePermit, GetError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let acquire = self.permits.clone().acquire_owned();
        match tokio::time::timeout(self.acquire_timeout, acquire).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(GetError::Closed),
            Err(_) => Err(GetError::Failed(Error::pool_timeout(self.acquire_timeout))),
        }
    }

    /// Whether an idle connection, idle for `idle`, can be lent as it is,
    /// needs a round trip first ([`check`](Self::check)), or is closed.
    fn fit(&self, mut slot: AsyncSlot, idle: Duration) -> Fit {
        if slot.busy || !slot.conn.is_usable() || self.lifetimes.outlived(slot.born) {
            Fit::Unfit
        } else if slot.in_tx || idle > self.check_idle_after {
            Fit::Check(slot, idle)
        } else {
            Fit::Ready(slot)
        }
    }

    /// A usable idle connection after its round trips (a rollback of a
    /// transaction left open, a ping after a long idle), or `None` (it is
    /// then closed).
    async fn check(&self, mut slot: AsyncSlot, idle: Duration) -> Option<AsyncSlot> {
        let bounded = self.connect_timeout;
        if slot.in_tx {
            // A transaction whose rollback never ran (its runtime ended).
            let rolled_back = tokio::time::timeout(bounded, slot.roll_back()).await;
            if !matches!(rolled_back, Ok(Ok(()))) {
                return None;
            }
        }
        if idle > self.check_idle_after {
            slot.busy = true;
            let pinged = tokio::time::timeout(bounded, slot.conn.ping()).await;
            if !matches!(pinged, Ok(Ok(()))) {
                return None;
            }
            slot.busy = false;
        }
        Some(slot)
    }
}

impl Pooled {
    /// Closes the connection instead of pooling it.
    pub(crate) fn discard(mut self) {
        if self.slot.take().is_some() {
            lock(&self.pool.0.state).size -= 1;
        }
    }
}

impl std::ops::Deref for Pooled {
    type Target = AsyncSlot;
    fn deref(&self) -> &AsyncSlot {
        // Present from checkout until drop or `discard`, which consume it.
        self.slot.as_ref().expect("pooled connection present")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AsyncSlot {
        self.slot.as_mut().expect("pooled connection present")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        // A connection past its lifetime is closed as it comes back (one
        // in a transaction comes back when the transaction ends).
        let expired = self.pool.0.lifetimes.outlived(slot.born);
        let mut st = lock(&self.pool.0.state);
        if st.closed || expired {
            st.size -= 1;
            drop(st);
            drop(slot);
        } else {
            st.idle.push_back((slot, self.checked_out));
        }
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

/// The pool's keeper task: every [`Lifetimes::period`], closes the idle
/// connections past the maximum lifetime, and those idle past the idle
/// timeout beyond `min_idle` (idle time counted from their last checkout),
/// then opens connections until `min_idle` are idle (within the pool's
/// size). It ends with the pool, or with its runtime.
async fn keep_pool(pool: Weak<Inner>) {
    let Some(period) = pool.upgrade().map(|p| p.lifetimes.period()) else {
        return;
    };
    loop {
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let lifetimes = inner.lifetimes;
        let expired: Vec<(AsyncSlot, Instant)> = {
            let mut st = lock(&inner.state);
            if st.closed {
                return;
            }
            let total = st.idle.len();
            let mut kept = VecDeque::with_capacity(total);
            let mut expired = Vec::new();
            // Oldest first: those are the ones that time out.
            for (slot, last) in std::mem::take(&mut st.idle) {
                if lifetimes.closes_idle(slot.born, Some(last), total - expired.len()) {
                    expired.push((slot, last));
                } else {
                    kept.push_back((slot, last));
                }
            }
            st.idle = kept;
            st.size -= expired.len();
            expired
        };
        drop(expired);
        loop {
            {
                let mut st = lock(&inner.state);
                if st.closed || st.idle.len() >= lifetimes.min_idle || st.size >= inner.max_size {
                    break;
                }
                st.size += 1;
            }
            let mut counted = Counted {
                pool: &inner,
                armed: true,
            };
            match inner.open().await {
                Ok(slot) => {
                    let mut st = lock(&inner.state);
                    if !st.closed {
                        counted.armed = false;
                        st.idle.push_back((slot, Instant::now()));
                    }
                }
                Err(e) => {
                    tracing::debug!(target: "dualdb::pool", error = %e, "min_idle connect failed");
                    break;
                }
            }
        }
        drop(inner);
        tokio::time::sleep(period).await;
    }
}
