//! The blocking half's pool, written here rather than taken from r2d2 (see
//! ARCHITECTURE.md): idle connections in shards, a mutex and condvar for
//! the counts and the waiters, an acquire timeout, and connects on a helper
//! thread given up at the connect timeout (a file-backed SQLite connection
//! on the calling thread), each failure keeping its typed error.
//!
//! Idle connections sit in shards, and a thread takes from and gives back
//! to its own shard first: from many threads at once, a call and its return
//! touch nothing another thread's call touches, and a thread gets back the
//! connection it used last (benches/paired `get_16_threads`: one shared lock
//! made 16 threads' SQLite gets a half slower than one connection each). A
//! shard's newest idle connection sits in an atomic cell of its own, so a
//! call that finds it there, and the return that puts it back, each take no
//! lock: one atomic swap each (benches/paired, SQLite's one-row `query_as`);
//! older ones wait in a locked list.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::atomic_box::AtomicBox;

use super::status::PoolStatus;
use crate::backend::{Backend, SyncConn};
use crate::config::Lifetimes;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{run_blocking, thread_number};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held cannot leave the counters half-written
    // (every update is one statement), so the data is still good.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection of the pool, with the pool's generation it was opened or
/// lent under, when it came back (if the backend's go stale or idle
/// connections time out) and when it was opened (if connections have a
/// maximum lifetime): the clock is read only for a limit that is set. Boxed
/// once when opened, and the box goes out and back with the connection (a
/// shard's cell holds one pointer).
struct Idle {
    conn: Box<dyn SyncConn>,
    /// The pool's generation when it came back.
    generation: u64,
    since: Option<Instant>,
    born: Option<Instant>,
}

impl Idle {
    fn new(conn: Box<dyn SyncConn>, generation: u64, born: Option<Instant>) -> Box<Self> {
        Box::new(Idle {
            conn,
            generation,
            since: None,
            born,
        })
    }
}

/// The counts a connection's open and close change, under the pool's lock.
struct State {
    /// Open connections, idle, lent out or being opened.
    open: usize,
}

/// Idle connections, on a cache line of their own: the newest in `newest`,
/// older ones in `older`, last returned last. A connection moving between
/// the two is in neither for a moment: a waiter that misses it is woken by
/// the return that moved it (see `Inner::waiting`).
#[repr(align(128))]
// Boxed in the list too: a box moves between the cell and the list, and
// out with its connection, without being made again.
#[expect(clippy::vec_box)]
struct Shard {
    newest: AtomicBox<Idle>,
    older: Mutex<Vec<Box<Idle>>>,
}

impl Shard {
    fn new() -> Self {
        Shard {
            newest: AtomicBox::new(),
            older: Mutex::new(Vec::new()),
        }
    }

    /// The connection returned here last.
    #[inline(always)]
    fn pop(&self) -> Option<Box<Idle>> {
        match self.newest.swap(None) {
            Some(idle) => Some(idle),
            None => self.pop_older(),
        }
    }

    #[inline(never)]
    fn pop_older(&self) -> Option<Box<Idle>> {
        lock(&self.older).pop()
    }

    /// Keeps `idle` as the newest, the one it replaces as the newest of
    /// the older ones.
    #[inline(always)]
    fn push(&self, idle: Box<Idle>) {
        if let Some(was) = self.newest.swap(Some(idle)) {
            lock(&self.older).push(was);
        }
    }

    /// Every connection here, oldest first.
    #[expect(clippy::vec_box)]
    fn drain_into(&self, all: &mut Vec<Box<Idle>>) {
        let mut older = lock(&self.older);
        all.append(&mut older);
        all.extend(self.newest.swap(None));
    }

    /// The connections here: a statistic, which a return or a call under
    /// way may change as it is read.
    fn len(&self) -> usize {
        lock(&self.older).len() + usize::from(self.newest.is_some())
    }
}

/// The shards a pool of `max_size` has: one per connection up to 64 (so
/// that up to 64 threads each have one of their own), rounded up to a
/// power of two (a thread finds its own with a mask).
fn shard_count(max_size: usize) -> usize {
    max_size.clamp(1, 64).next_power_of_two()
}

/// What the pool's connect helpers and borrowers share.
pub(crate) struct Inner {
    backend: Arc<dyn Backend>,
    max_size: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    /// `check_idle_after`, if the backend's connections go stale.
    check_idle_after: Option<Duration>,
    lifetimes: Lifetimes,
    idle: Box<[Shard]>,
    state: Mutex<State>,
    /// Callers waiting for a connection: counted under `state`'s lock
    /// before they look at the shards a last time and sleep, read by a
    /// return after it put its connection in a shard, so that one of the two
    /// sees the other (tests/pool_threads.rs).
    waiting: AtomicUsize,
    /// Bumped by `close`: connections lent out before it are discarded on
    /// return.
    generation: AtomicU64,
    freed: Condvar,
}

impl Inner {
    /// This thread's own shard: its number masked by the shard count.
    #[inline]
    fn home_shard(&self) -> usize {
        thread_number() & (self.idle.len() - 1)
    }

    /// An idle connection: this thread's shard's last, else another's.
    #[inline(always)]
    fn pop_idle(&self) -> Option<Box<Idle>> {
        let mask = self.idle.len() - 1;
        let mine = self.home_shard();
        if let Some(idle) = self.idle[mine].pop() {
            return Some(idle);
        }
        (1..=mask).find_map(|k| self.idle[(mine + k) & mask].pop())
    }

    /// Every idle connection, taken out of the shards.
    #[expect(clippy::vec_box)]
    fn drain_idle(&self) -> Vec<Box<Idle>> {
        let mut all = Vec::new();
        for shard in &self.idle {
            shard.drain_into(&mut all);
        }
        all
    }

    fn idle_count(&self) -> usize {
        self.idle.iter().map(Shard::len).sum()
    }

    /// True if `idle` was opened or lent before the pool was last closed.
    #[inline(always)]
    fn stale(&self, idle: &Idle) -> bool {
        idle.generation != self.generation.load(Ordering::SeqCst)
    }

    /// True if the pool may keep or lend `idle`: it is not past its
    /// lifetime, and the pool was not closed since it was opened or lent.
    #[inline(always)]
    fn wanted(&self, idle: &Idle) -> bool {
        !self.lifetimes.outlived(idle.born) && !self.stale(idle)
    }

    /// Takes back a connection opened or lent under its generation.
    fn give_back(&self, idle: Box<Idle>) {
        if let Some(stale) = self.keep(idle) {
            drop(stale);
            self.release();
        }
    }

    /// Keeps `idle` idle, unless the pool was closed since it was lent (its
    /// generation is not the pool's) or it outlived its maximum lifetime:
    /// then it is handed back, for the caller to close (which may block) and
    /// [`release`](Self::release).
    #[inline(always)]
    fn keep(&self, mut idle: Box<Idle>) -> Option<Box<Idle>> {
        if !self.wanted(&idle) {
            return Some(idle);
        }
        if self.check_idle_after.is_some() || self.lifetimes.idle_timeout.is_some() {
            idle.since = Some(Instant::now());
        }
        let generation = idle.generation;
        #[cfg(test)]
        tests::race_window();
        let shard = &self.idle[self.home_shard()];
        shard.push(idle);
        // `close` bumps the generation before it empties the shards: a
        // connection put here after `close` emptied this shard is seen by
        // this second look, and closed (the unit test below,
        // `closes_racing_returns_leave_no_connection_from_before_them`).
        if generation != self.generation.load(Ordering::SeqCst) {
            self.purge(shard);
        }
        self.wake();
        None
    }

    /// Closes the connections of `shard` lent before the pool was closed
    /// (off any Tokio worker: closing may block), and keeps the others.
    #[cold]
    fn purge(&self, shard: &Shard) {
        let mut all = Vec::new();
        shard.drain_into(&mut all);
        let (stale, fresh): (Vec<_>, Vec<_>) = all.into_iter().partition(|i| self.stale(i));
        for idle in fresh {
            shard.push(idle);
        }
        let closed = stale.len();
        let _ = run_blocking(move || {
            drop(stale);
            Ok(())
        });
        for _ in 0..closed {
            self.release();
        }
    }

    /// Frees the slot of a connection that is gone.
    fn release(&self) {
        lock(&self.state).open -= 1;
        self.wake();
    }

    /// Wakes one waiting caller, if any: read after the connection or slot
    /// it may take was freed; a waiter counts itself before it looks a last
    /// time. The notification is sent under the pool's lock, which a waiter
    /// holds from its count until it sleeps, so it is not lost. Notifying a
    /// condvar is a system call even with no one waiting: a pool without
    /// waiters skips it.
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _st = lock(&self.state);
            self.freed.notify_one();
        }
    }
}

/// The blocking half's pool.
pub(crate) struct BlockingPool {
    shared: Arc<Inner>,
}

/// How a lent connection refers to its pool: counted (`Arc`, for one that
/// outlives the call, as a transaction's does) or borrowed (for the length
/// of one call, without the two atomic counts of a clone and its drop).
pub(crate) trait PoolRef: std::ops::Deref<Target = Inner> + Clone + Send {}
impl PoolRef for Arc<Inner> {}
impl PoolRef for &Inner {}

/// A connection lent out by a [`BlockingPool`]; it goes back on drop, or is
/// closed if its state is unknown.
pub(crate) struct PooledConn<P: PoolRef = Arc<Inner>> {
    pool: P,
    /// The connection, with its generation and birth.
    idle: Option<Box<Idle>>,
    /// A transaction is open on it: rolled back before it goes back.
    pub(crate) in_tx: bool,
    /// Close it instead of pooling it (a failed COMMIT or ROLLBACK).
    pub(crate) discard: bool,
}

impl<P: PoolRef> std::ops::Deref for PooledConn<P> {
    type Target = dyn SyncConn;
    fn deref(&self) -> &Self::Target {
        // Present from construction until drop.
        &*self.idle.as_ref().expect("pooled connection present").conn
    }
}

impl<P: PoolRef> std::ops::DerefMut for PooledConn<P> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.idle.as_mut().expect("pooled connection present").conn
    }
}

fn lend<P: PoolRef>(pool: P, idle: Box<Idle>) -> PooledConn<P> {
    PooledConn {
        pool,
        idle: Some(idle),
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
        let pool = BlockingPool {
            shared: Arc::new(Inner {
                check_idle_after: backend.goes_stale().then_some(config.check_idle_after),
                lifetimes: config.lifetimes,
                backend,
                max_size: config.sync_pool_size,
                acquire_timeout: config.acquire_timeout,
                connect_timeout: config.connect_timeout,
                idle: (0..shard_count(config.sync_pool_size))
                    .map(|_| Shard::new())
                    .collect(),
                state: Mutex::new(State { open: 0 }),
                waiting: AtomicUsize::new(0),
                generation: AtomicU64::new(0),
                freed: Condvar::new(),
            }),
        };
        if config.lifetimes.need_keeper() {
            let weak = Arc::downgrade(&pool.shared);
            // Without the thread, limits still hold at checkout and return;
            // only idle connections would wait for the next call.
            let _ = std::thread::Builder::new()
                .name("dualdb-pool-keeper".into())
                .spawn(move || keep_pool(weak));
        }
        pool
    }

    /// Lends a connection: an idle one, a new one if under the limit, or the
    /// first one freed within the acquire timeout. Must run inside
    /// [`run_blocking`].
    pub(crate) fn get(&self) -> Result<PooledConn> {
        self.take().map(|taken| lend(self.shared.clone(), taken))
    }

    /// Another handle on this pool, for a thread of its own (a row
    /// iterator's).
    pub(crate) fn handle(&self) -> BlockingPool {
        BlockingPool {
            shared: self.shared.clone(),
        }
    }

    /// [`get`](Self::get) for one call: the connection refers to the pool
    /// without counting.
    pub(crate) fn lease(&self) -> Result<PooledConn<&Inner>> {
        self.take().map(|taken| lend(&*self.shared, taken))
    }

    /// An idle connection, a new one if under the limit, or the first one
    /// freed within the acquire timeout; with the pool's generation it was
    /// lent under.
    fn take(&self) -> Result<Box<Idle>> {
        let shared = &*self.shared;
        // Read the clock only once this call has to wait.
        let mut deadline = None;
        loop {
            if let Some(idle) = shared.pop_idle() {
                match self.check(idle) {
                    Some(taken) => return Ok(taken),
                    None => continue,
                }
            }
            let mut st = lock(&shared.state);
            if st.open < shared.max_size {
                st.open += 1;
                drop(st);
                let generation = shared.generation.load(Ordering::SeqCst);
                let born = shared.lifetimes.birth();
                return self
                    .open(generation)
                    .map(|conn| Idle::new(conn, generation, born));
            }
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + shared.acquire_timeout);
            if now >= deadline {
                return Err(Error::pool_timeout(shared.acquire_timeout));
            }
            // Counted, then one last look: a return after the count wakes
            // this caller, one before it left its connection in a shard.
            shared.waiting.fetch_add(1, Ordering::SeqCst);
            let last = shared.pop_idle();
            if last.is_none() {
                st = shared
                    .freed
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            drop(st);
            if let Some(taken) = last.and_then(|idle| self.check(idle)) {
                return Ok(taken);
            }
        }
    }

    /// `idle`, lent if it is still good: a connection past its lifetime is
    /// closed, and one idle a while is pinged first (the server may have
    /// dropped it); `None` once its slot is freed.
    #[inline(always)]
    fn check(&self, mut idle: Box<Idle>) -> Option<Box<Idle>> {
        let shared = &*self.shared;
        let fresh = match (idle.since, shared.check_idle_after) {
            (Some(since), Some(after)) => since.elapsed() <= after,
            _ => true,
        };
        // A connection kept as `close` ran is stale: closed here if its
        // return did not close it (see `Inner::keep`).
        if shared.wanted(&idle) && (fresh || idle.conn.ping().is_ok()) {
            return Some(idle);
        }
        drop(idle);
        shared.release();
        None
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
                        Ok(conn) => {
                            let born = shared.lifetimes.birth();
                            shared.give_back(Idle::new(conn, generation, born))
                        }
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
    /// The backend this pool opens connections with.
    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.backend
    }

    pub(crate) fn connect(&self) -> Result<()> {
        self.lease().map(drop)
    }

    /// Closes every idle connection; connections lent out now are closed when
    /// they come back. The next call opens a fresh one.
    pub(crate) fn close(&self) {
        let shared = &*self.shared;
        let idle = {
            let mut st = lock(&shared.state);
            // Bumped before the shards are emptied (see `Inner::keep`).
            shared.generation.fetch_add(1, Ordering::SeqCst);
            let idle = shared.drain_idle();
            st.open -= idle.len();
            idle
        };
        shared.freed.notify_all();
        drop(idle);
    }

    pub(crate) fn status(&self) -> PoolStatus {
        let shared = &*self.shared;
        let size = lock(&shared.state).open;
        PoolStatus {
            max_size: shared.max_size,
            size,
            idle: shared.idle_count(),
            waiting: shared.waiting.load(Ordering::SeqCst),
        }
    }
}

impl<P: PoolRef> Drop for PooledConn<P> {
    #[inline]
    fn drop(&mut self) {
        let Some(mut idle) = self.idle.take() else {
            return;
        };
        let (in_tx, discard) = (self.in_tx, self.discard);
        let mut reusable = !std::thread::panicking() && !discard && idle.conn.is_usable();
        if reusable && !in_tx {
            // Nothing to roll back: keeping it does not block, and only a
            // connection the pool no longer wants is closed below.
            match self.pool.keep(idle) {
                None => return,
                Some(stale) => (idle, reusable) = (stale, false),
            }
        }
        let pool = self.pool.clone();
        // Rolling back and closing both block: keep them off Tokio workers.
        let _ = run_blocking(move || {
            if reusable && in_tx {
                // A transaction abandoned without commit or rollback.
                reusable = idle
                    .conn
                    .execute(crate::transaction::rollback_stmt())
                    .is_ok();
            }
            if reusable {
                pool.give_back(idle);
            } else {
                drop(idle);
                pool.release();
            }
            Ok(())
        });
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let idle = self.drain_idle();
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

/// The pool's keeper thread: every [`Lifetimes::period`], closes the idle
/// connections past the maximum lifetime, and those idle past the idle
/// timeout beyond `min_idle`, then opens connections until `min_idle` are
/// idle (within the pool's size). It ends with the pool.
fn keep_pool(pool: Weak<Inner>) {
    let Some(period) = pool.upgrade().map(|p| p.lifetimes.period()) else {
        return;
    };
    loop {
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let lifetimes = pool.lifetimes;
        let expired: Vec<Box<Idle>> = {
            let mut st = lock(&pool.state);
            let mut idle: Vec<(usize, Box<Idle>)> = Vec::new();
            let mut one = Vec::new();
            for (k, shard) in pool.idle.iter().enumerate() {
                shard.drain_into(&mut one);
                idle.extend(one.drain(..).map(|i| (k, i)));
            }
            // Oldest returns first: those are the ones that time out.
            idle.sort_by_key(|(_, i)| i.since);
            let total = idle.len();
            let mut expired = Vec::new();
            for (k, i) in idle {
                if pool.stale(&i) || lifetimes.closes_idle(i.born, i.since, total - expired.len()) {
                    expired.push(i);
                } else {
                    // Back into its own shard, the newest last (taken
                    // first): a caller that finds its shard empty and
                    // takes another's gets that shard's newest, so a light
                    // load keeps reusing the connections it used last and
                    // the others time out (tests/pool_lifetimes.rs,
                    // `idle_connections_time_out_down_to_min_idle…`, its
                    // blocking calls from one thread).
                    pool.idle[k].push(i);
                }
            }
            st.open -= expired.len();
            expired
        };
        drop(expired);
        loop {
            let generation = {
                let mut st = lock(&pool.state);
                if pool.idle_count() >= lifetimes.min_idle || st.open >= pool.max_size {
                    break;
                }
                st.open += 1;
                pool.generation.load(Ordering::SeqCst)
            };
            let born = pool.lifetimes.birth();
            // Within the connect timeout; the slot is given back on failure.
            let opener = BlockingPool {
                shared: pool.clone(),
            };
            match opener.open(generation) {
                Ok(conn) => pool.give_back(Idle::new(conn, generation, born)),
                Err(e) => {
                    tracing::debug!(target: "dualdb::pool", error = %e, "min_idle connect failed");
                    break;
                }
            }
        }
        drop(pool);
        std::thread::sleep(period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Set by a test that has `keep` yield between its look at the
    /// generation and its push, where a `close` can fall.
    static WIDEN: AtomicBool = AtomicBool::new(false);

    pub(super) fn race_window() {
        if WIDEN.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
    }

    /// A close racing with calls and returns on several threads, in rounds
    /// of one call each: no call is lent a connection opened or lent before
    /// a close that had finished when the call began, at the end of each
    /// round none from before its close is left idle (its return closed
    /// it), and the pool's count of open connections is the idle ones (none
    /// lost, none counted twice). A return that kept its connection after `close` emptied its
    /// shard would leave one behind (`Inner::keep`'s second look).
    #[cfg(feature = "sqlite")]
    #[test]
    fn closes_racing_returns_leave_no_connection_from_before_them() {
        use crate::Database;
        const CALLERS: usize = 3;
        const ROUNDS: usize = 3_000;
        // A few microseconds, different each round, so that the close
        // falls at every point of the callers' calls and returns.
        fn spin(seed: usize) {
            for i in 0..(seed * 7919) % 3000 {
                std::hint::black_box(i);
            }
        }
        let db = Database::builder("sqlite::memory:")
            .sync_pool_size(4)
            .build()
            .unwrap();
        let pool = db.sync().pool().handle();
        WIDEN.store(true, Ordering::Relaxed);
        let barrier = Arc::new(std::sync::Barrier::new(CALLERS + 1));
        // Calls lent a connection from before a close that had finished.
        let old = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..CALLERS)
            .map(|t| {
                let (pool, barrier, old) = (pool.handle(), barrier.clone(), old.clone());
                std::thread::spawn(move || {
                    for round in 0..ROUNDS {
                        barrier.wait();
                        spin(round * (t + 2));
                        let before = pool.shared.generation.load(Ordering::SeqCst);
                        let conn = pool.lease().unwrap();
                        if conn.idle.as_ref().unwrap().generation < before {
                            // Counted, not asserted: a panic here would
                            // leave the others waiting at the barrier.
                            old.fetch_add(1, Ordering::SeqCst);
                        }
                        spin(round * (t + 3));
                        drop(conn);
                        barrier.wait();
                    }
                })
            })
            .collect();
        let shared = &*pool.shared;
        for round in 0..ROUNDS {
            barrier.wait();
            spin(round);
            pool.close();
            barrier.wait();
            let idle = shared.drain_idle();
            let stale = idle.iter().filter(|i| shared.stale(i)).count();
            assert_eq!(
                old.load(Ordering::SeqCst),
                0,
                "round {round}: lent from before a close"
            );
            assert_eq!(stale, 0, "round {round}: of {} idle", idle.len());
            assert_eq!(lock(&shared.state).open, idle.len(), "round {round}");
            for i in idle {
                shared.idle[0].push(i);
            }
        }
        for c in callers {
            c.join().unwrap();
        }
        WIDEN.store(false, Ordering::Relaxed);
    }
}
