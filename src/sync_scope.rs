//! The open transactions and sessions of the blocking half: the connection
//! each holds and its levels ([`SyncTxShared`]), and which calls join them
//! ([`Scope`], [`plain_scope`]): a closure scope's on its thread, a guard's
//! on the thread that began it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Plan, drive_sync};
use crate::pool::PooledConn;
use crate::runtime::{run_blocking, thread_number};
use crate::transaction::{Guards, Levels, Owner, Turn, finished};

/// The connection of a transaction, or of a pinned session, shared by its
/// levels and its scope.
pub(crate) struct SyncTxShared {
    db_id: u64,
    /// A pinned session (level 0, no transaction of its own), not a
    /// transaction: at its end the connection is reset, not committed.
    pub(crate) session: bool,
    state: Mutex<TxConn>,
    /// Signalled when a level closes: a statement of an outer level sent
    /// from another thread waits for its turn ([`Levels::turn`]).
    pub(crate) turn: Condvar,
    /// Row iterators open on the transaction: its other statements are
    /// refused meanwhile ([`crate::RowIter`]).
    pub(crate) streams: Arc<AtomicUsize>,
    /// The thread running a statement under `state`'s lock (its
    /// [`thread_number`]), `usize::MAX` if none: the caller's code inside that statement (a `fold`'s
    /// closure, COPY's rows) runs on that thread, and a call of the same
    /// transaction from there is refused instead of waiting for the lock
    /// its own thread holds (tests/streaming.rs, a fold's closure calling
    /// its transaction; tests/copy.rs, COPY's rows doing so).
    holder: AtomicUsize,
}

/// `SyncTxShared::holder` while no statement runs: no thread's number.
const NO_HOLDER: usize = usize::MAX;

/// Clears the holder when the statement's work ends, by return or unwind.
struct Holding<'a>(&'a AtomicUsize);

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.store(NO_HOLDER, Ordering::Relaxed);
    }
}

/// The error of a call made by the caller's code inside a statement of the
/// same transaction.
fn reentered() -> Error {
    Error::new(
        ErrorKind::Usage,
        "this transaction's connection is busy with the statement whose closure made this call \
         (a fold's closure, COPY's rows): collect the rows first, or make the call outside the transaction",
    )
}

/// A transaction's connection and its open levels, behind its lock.
pub(crate) struct TxConn {
    /// `None` once the transaction is over.
    pub(crate) conn: Option<PooledConn>,
    pub(crate) levels: Levels,
}

impl TxConn {
    pub(crate) fn conn(&mut self) -> Result<&mut PooledConn> {
        self.conn.as_mut().ok_or_else(finished)
    }
}

fn lock(m: &Mutex<TxConn>) -> MutexGuard<'_, TxConn> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a call runs inside a transaction: the transaction, and the level
/// the call speaks for.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) tx: Arc<SyncTxShared>,
    pub(crate) level: u32,
}

impl Scope {
    pub(crate) fn drive<P: Plan>(&self, plan: P) -> Result<P::Output> {
        self.tx.drive(self.level, plan)
    }

    /// True inside a transaction; false at a pinned session's own level.
    pub(crate) fn in_transaction(&self) -> bool {
        self.level >= 1
    }
}

thread_local! {
    /// The closure scopes open on this thread, innermost last.
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Where a call through the plain handle of database `db_id` runs: the
/// innermost guard this thread began inside its closure scope (or outside
/// any), else the innermost closure scope on this thread, else `None`.
pub(crate) fn plain_scope(db_id: u64, guards: &Guards<SyncTxShared>) -> Option<Scope> {
    let scope = SCOPES.with(|s| {
        s.borrow()
            .iter()
            .rev()
            .find(|t| t.tx.db_id == db_id)
            .cloned()
    });
    let below = scope.as_ref().map_or(0, |s| s.level);
    match guards.innermost(Owner::thread, scope.as_ref().map(|s| &s.tx), below) {
        Some((tx, level)) => Some(Scope { tx, level }),
        None => scope,
    }
}

pub(crate) struct ScopeGuard;

impl ScopeGuard {
    pub(crate) fn enter(scope: Scope) -> Self {
        SCOPES.with(|s| s.borrow_mut().push(scope));
        ScopeGuard
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPES.with(|s| s.borrow_mut().pop());
    }
}

impl SyncTxShared {
    pub(crate) fn new(db_id: u64, conn: PooledConn, levels: Levels) -> Arc<Self> {
        Arc::new(SyncTxShared {
            db_id,
            session: levels.floor() == 0,
            state: Mutex::new(TxConn {
                conn: Some(conn),
                levels,
            }),
            turn: Condvar::new(),
            streams: Arc::new(AtomicUsize::new(0)),
            holder: AtomicUsize::new(NO_HOLDER),
        })
    }

    /// Runs `f` on the transaction's connection, off any Tokio worker, once
    /// statements of `level` may run ([`Levels::turn`]): a statement sent
    /// from another thread while a block inside `level` is open waits.
    pub(crate) fn with_conn<T: Send>(
        &self,
        level: u32,
        closing: bool,
        f: impl FnOnce(&mut TxConn) -> Result<T> + Send,
    ) -> Result<T> {
        if self.streams_open() {
            // A row iterator's thread holds the connection until its reader
            // is done: waiting here would wait for ourselves.
            return Err(crate::stream::stream_open());
        }
        self.locked(level, closing, true, f)
    }

    /// [`with_conn`](Self::with_conn) for the open cursor of a row iterator
    /// of this transaction: its own reads go on while it is open.
    pub(crate) fn reading<T: Send>(
        &self,
        level: u32,
        f: impl FnOnce(&mut TxConn) -> Result<T> + Send,
    ) -> Result<T> {
        self.locked(level, false, false, f)
    }

    fn streams_open(&self) -> bool {
        self.streams.load(Ordering::Acquire) > 0
    }

    /// Runs `f` under the connection's lock once `level` may run; refused,
    /// if `refuse_open`, while a row iterator's cursor is open: a cursor
    /// holds its statement open on the connection between its reads, not
    /// the lock, so it is checked again here, where streams open and close
    /// (tests/row_streams.rs, two iterators of one transaction).
    fn locked<T: Send>(
        &self,
        level: u32,
        closing: bool,
        refuse_open: bool,
        f: impl FnOnce(&mut TxConn) -> Result<T> + Send,
    ) -> Result<T> {
        run_blocking(|| {
            let me = thread_number();
            // Only this thread stores its own number, so reading it here means
            // this thread holds the lock (Relaxed: one thread's own order).
            if self.holder.load(Ordering::Relaxed) == me {
                return Err(reentered());
            }
            let mut st = lock(&self.state);
            loop {
                match st.levels.turn(level, closing) {
                    Turn::Go => break,
                    Turn::Refuse(e) => return Err(e),
                    Turn::Wait => st = self.turn.wait(st).unwrap_or_else(|e| e.into_inner()),
                }
            }
            if refuse_open && self.streams_open() {
                return Err(crate::stream::stream_open());
            }
            self.holder.store(me, Ordering::Relaxed);
            let _holding = Holding(&self.holder);
            f(&mut st)
        })
    }

    pub(crate) fn drive<P: Plan>(&self, level: u32, mut plan: P) -> Result<P::Output> {
        self.with_conn(level, false, |st| {
            let conn = st.conn()?;
            let out = drive_sync(&mut **conn, &mut plan);
            // A session's plan that began a transaction of its own and could
            // not end it: rolled back at the session's end.
            conn.in_tx |= plan.left_open();
            out
        })
    }
}
