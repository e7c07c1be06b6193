//! The blocking half's pool, written here rather than taken from r2d2 (see
//! ARCHITECTURE.md): a mutex, a condvar, an acquire timeout, and connects
//! on a helper thread given up at the connect timeout (a file-backed SQLite
//! connection on the calling thread), each failure keeping its typed error.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::status::PoolStatus;
use crate::backend::{Backend, SyncConn};
use crate::config::Lifetimes;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::run_blocking;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held cannot leave the counters half-written
    // (every update is one statement), so the data is still good.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An idle connection, when it came back (if the backend's go stale or
/// idle connections time out) and when it was opened (if connections have
/// a maximum lifetime): the clock is read only for a limit that is set.
struct Idle {
    conn: Box<dyn SyncConn>,
    since: Option<Instant>,
    born: Option<Instant>,
}

struct State {
    idle: Vec<Idle>,
    /// Open connections, idle, lent out or being opened.
    open: usize,
    waiting: usize,
    /// Bumped by `close`: connections lent out before it are discarded on return.
    generation: u64,
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
    state: Mutex<State>,
    freed: Condvar,
}

impl Inner {
    /// Takes back a connection opened or lent under `generation`.
    fn give_back(&self, conn: Box<dyn SyncConn>, generation: u64, born: Option<Instant>) {
        if let Some(stale) = self.keep(conn, generation, born) {
            drop(stale);
            self.release();
        }
    }

    /// Keeps `conn` idle, unless the pool was closed since it was lent
    /// (`generation` is not the pool's) or it outlived its maximum
    /// lifetime: then it is handed back, for the caller to close (which may
    /// block) and [`release`](Self::release).
    fn keep(
        &self,
        conn: Box<dyn SyncConn>,
        generation: u64,
        born: Option<Instant>,
    ) -> Option<Box<dyn SyncConn>> {
        if self.lifetimes.outlived(born) {
            return Some(conn);
        }
        let timed = self.check_idle_after.is_some() || self.lifetimes.idle_timeout.is_some();
        let since = timed.then(Instant::now);
        let mut st = lock(&self.state);
        if generation != st.generation {
            return Some(conn);
        }
        let wake = st.waiting > 0;
        st.idle.push(Idle { conn, since, born });
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
    conn: Option<Box<dyn SyncConn>>,
    generation: u64,
    /// A transaction is open on it: rolled back before it goes back.
    pub(crate) in_tx: bool,
    /// Close it instead of pooling it (a failed COMMIT or ROLLBACK).
    pub(crate) discard: bool,
    /// When it was opened, if connections have a maximum lifetime.
    born: Option<Instant>,
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

/// A connection the pool lends, with its generation and birth.
type Taken = (Box<dyn SyncConn>, u64, Option<Instant>);

fn lend<P: PoolRef>(pool: P, (conn, generation, born): Taken) -> PooledConn<P> {
    PooledConn {
        pool,
        conn: Some(conn),
        generation,
        in_tx: false,
        discard: false,
        born,
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
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                    waiting: 0,
                    generation: 0,
                }),
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
    fn take(&self) -> Result<Taken> {
        let shared = &*self.shared;
        // Read the clock only once this call has to wait.
        let mut deadline = None;
        let mut st = lock(&shared.state);
        loop {
            if let Some(Idle {
                mut conn,
                since,
                born,
            }) = st.idle.pop()
            {
                let generation = st.generation;
                let fresh = match (since, shared.check_idle_after) {
                    (Some(since), Some(after)) => since.elapsed() <= after,
                    _ => true,
                };
                if fresh && !shared.lifetimes.outlived(born) {
                    return Ok((conn, generation, born));
                }
                // Idle a while: the server may have dropped it.
                drop(st);
                if !shared.lifetimes.outlived(born) && conn.ping().is_ok() {
                    return Ok((conn, generation, born));
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
                let born = shared.lifetimes.birth();
                return self.open(generation).map(|conn| (conn, generation, born));
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
                        Ok(conn) => {
                            let born = shared.lifetimes.birth();
                            shared.give_back(conn, generation, born)
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
        let (generation, born) = (self.generation, self.born);
        let mut reusable = !std::thread::panicking() && !discard && conn.is_usable();
        if reusable && !in_tx {
            // Nothing to roll back: keeping it does not block, and only a
            // connection the pool no longer wants is closed below.
            match self.pool.keep(conn, generation, born) {
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
                pool.give_back(conn, generation, born);
            } else {
                drop(conn);
                pool.release();
            }
            Ok(())
        });
    }
}

impl Drop for Inner {
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
        let expired: Vec<Idle> = {
            let mut st = lock(&pool.state);
            let total = st.idle.len();
            let mut kept = Vec::with_capacity(total);
            let mut expired = Vec::new();
            // Oldest returns first: those are the ones that time out.
            for idle in std::mem::take(&mut st.idle) {
                if lifetimes.closes_idle(idle.born, idle.since, total - expired.len()) {
                    expired.push(idle);
                } else {
                    kept.push(idle);
                }
            }
            st.idle = kept;
            st.open -= expired.len();
            expired
        };
        drop(expired);
        loop {
            let generation = {
                let mut st = lock(&pool.state);
                if st.idle.len() >= lifetimes.min_idle || st.open >= pool.max_size {
                    break;
                }
                st.open += 1;
                st.generation
            };
            let born = pool.lifetimes.birth();
            // Within the connect timeout; the slot is given back on failure.
            let opener = BlockingPool {
                shared: pool.clone(),
            };
            match opener.open(generation) {
                Ok(conn) => pool.give_back(conn, generation, born),
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
