//! What both halves' transactions share: the statements that open and close
//! a level (a transaction, or a savepoint inside one), the rule for which
//! level's statements may run ([`Levels`]), and the open guards that plain
//! database calls join ([`Guards`]).
//!
//! Levels: level 1 is the transaction (`BEGIN` … `COMMIT`/`ROLLBACK`); level
//! `n > 1` is savepoint `dualdb_sp{n}` (`SAVEPOINT` … `RELEASE`/`ROLLBACK TO`).
//!
//! Scopes: inside `atomic(|tx| …)` (or `transaction`, `savepoint`), and
//! while a guard from `begin()` is open, calls made through the plain handle
//! of the same database join that transaction: on the blocking half, calls
//! on the same thread; on the async half, calls in the same task (for a
//! guard, the task that began it). A task spawned inside, or another thread,
//! does not join: it runs on its own connection outside the transaction
//! (peewee-async shares the transaction with spawned tasks, its issue #260;
//! dualdb does not). Tests: tests/transactions.rs, tests/guard_scope.rs.
//!
//! Sub-blocks started at once in one task (`join!` of two `atomic` blocks)
//! take turns, each in its own savepoint ([`Levels::turn`];
//! tests/concurrent_blocks.rs).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::BackendKind;
use crate::error::{Error, ErrorKind};
use crate::statement::Stmt;

/// One step of opening or closing a transaction level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxOp {
    Begin,
    Commit,
    Rollback,
    Savepoint(u32),
    Release(u32),
    RollbackTo(u32),
}

impl TxOp {
    pub(crate) fn stmt(self, kind: BackendKind) -> Stmt {
        let sql = match self {
            // SQLite: take the write lock up front, so that two
            // transactions that read then write wait for each other
            // (busy timeout) instead of failing with SQLITE_BUSY.
            TxOp::Begin if kind == BackendKind::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            TxOp::Begin if kind == BackendKind::Mysql => "START TRANSACTION".to_owned(),
            TxOp::Begin => "BEGIN".to_owned(),
            TxOp::Commit => "COMMIT".to_owned(),
            TxOp::Rollback => "ROLLBACK".to_owned(),
            TxOp::Savepoint(n) => format!("SAVEPOINT dualdb_sp{n}"),
            TxOp::Release(n) => format!("RELEASE SAVEPOINT dualdb_sp{n}"),
            TxOp::RollbackTo(n) => format!("ROLLBACK TO SAVEPOINT dualdb_sp{n}"),
        };
        Stmt::bare(sql)
    }

    /// What opens level `level` (1: the transaction, in a session too).
    pub(crate) fn open(level: u32) -> Self {
        if level == 1 {
            TxOp::Begin
        } else {
            TxOp::Savepoint(level)
        }
    }

    /// What commits level `level`.
    pub(crate) fn commit(level: u32) -> Self {
        if level == 1 {
            TxOp::Commit
        } else {
            TxOp::Release(level)
        }
    }

    /// What rolls back level `level`, in order.
    pub(crate) fn rollback(level: u32) -> Vec<Self> {
        if level == 1 {
            vec![TxOp::Rollback]
        } else {
            vec![TxOp::RollbackTo(level), TxOp::Release(level)]
        }
    }
}

/// `ROLLBACK`, the same on every backend.
pub(crate) fn rollback_stmt() -> Stmt {
    TxOp::Rollback.stmt(BackendKind::Postgres)
}

/// How a closure-form transaction relates to one already open in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nesting {
    /// `atomic`: a transaction, or a savepoint inside one.
    Atomic,
    /// `transaction`: a transaction, or, inside one, the same transaction
    /// (peewee flattens nested transaction blocks).
    Transaction,
    /// `savepoint`: a savepoint; outside a transaction, an error.
    Savepoint,
}

/// What opened a level, which decides what a statement of an outer level
/// does while it is open ([`Levels::turn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opener {
    /// A closure form (`atomic`, `transaction`, `savepoint`): its future
    /// ends before the level's parent can, so waiting for it cannot hang.
    Block,
    /// A guard (`begin()`): it lives as long as its owner keeps it.
    Guard,
}

/// The open levels of one transaction, or of a pinned session (level 0)
/// and the transactions in it, outermost first. Statements run one at a
/// time on the connection, and a savepoint (or a transaction in a session)
/// takes in every statement sent while it is open, whoever sends it: so a
/// statement, or a new level, of level `n` may only go while `n` is the
/// innermost open level. Sub-blocks started at once in one task (`join!`
/// of two `atomic` blocks) therefore take turns, each in a level of its own
/// (tests/concurrent_blocks.rs).
#[derive(Debug)]
pub(crate) struct Levels {
    /// What opened each level, from `floor` on.
    opened: Vec<Opener>,
    /// The outermost level: 1 for a transaction, 0 for a session.
    floor: u32,
}

/// What a statement of some level may do now ([`Levels::turn`]).
#[derive(Debug)]
pub(crate) enum Turn {
    /// Its level is the innermost: send it.
    Go,
    /// A sibling block holds the innermost level: wait until it closes.
    Wait,
    /// It cannot run: its level is closed, or a guard inside it is open.
    Refuse(Error),
}

impl Levels {
    /// A transaction: level 1, opened by `opener`.
    pub(crate) fn root(opener: Opener) -> Self {
        Levels {
            opened: vec![opener],
            floor: 1,
        }
    }

    /// A pinned session: level 0, a closure's.
    pub(crate) fn session() -> Self {
        Levels {
            opened: vec![Opener::Block],
            floor: 0,
        }
    }

    /// The outermost level (see [`Levels::session`]).
    pub(crate) fn floor(&self) -> u32 {
        self.floor
    }

    /// The innermost open level, if any is open.
    pub(crate) fn innermost(&self) -> Option<u32> {
        (self.opened.len() as u32)
            .checked_sub(1)
            .map(|n| self.floor + n)
    }

    /// Whether a statement of level `level` may run now. `closing`: the
    /// statement closes `level` (a commit or rollback), which closes every
    /// guard inside it too.
    pub(crate) fn turn(&self, level: u32, closing: bool) -> Turn {
        let Some(open) = self
            .innermost()
            .filter(|&open| (self.floor..=open).contains(&level))
        else {
            return Turn::Refuse(finished());
        };
        if level == open {
            return Turn::Go;
        }
        match self.opened[(level + 1 - self.floor) as usize] {
            Opener::Block => Turn::Wait,
            Opener::Guard if closing => Turn::Go,
            Opener::Guard => Turn::Refuse(Error::new(
                ErrorKind::Usage,
                format!(
                    "a transaction or savepoint guard (level {}) is open inside this level-{level} \
                     handle: run the statement through the guard, or commit or roll it back first",
                    level + 1
                ),
            )),
        }
    }

    /// Opens the level under `parent`, which must be the innermost; its number.
    pub(crate) fn open(&mut self, parent: u32, opener: Opener) -> u32 {
        debug_assert_eq!(Some(parent), self.innermost());
        self.opened.push(opener);
        parent + 1
    }

    /// Closes `level` and every level inside it; false if it was closed already.
    pub(crate) fn close(&mut self, level: u32) -> bool {
        let open = self
            .innermost()
            .is_some_and(|open| (self.floor..=open).contains(&level));
        if open {
            self.opened.truncate((level - self.floor) as usize);
        }
        open
    }
}

/// Who began a guard: the task (async half) or the thread that did. A call
/// through the plain handle made by the same owner joins the guard's
/// transaction ([`Guards::innermost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Task(tokio::task::Id),
    Thread(std::thread::ThreadId),
}

impl Owner {
    /// The current task, or the current thread outside any task (a
    /// `block_on`'s own future).
    pub(crate) fn task() -> Self {
        match tokio::task::try_id() {
            Some(id) => Owner::Task(id),
            None => Owner::thread(),
        }
    }

    pub(crate) fn thread() -> Self {
        Owner::Thread(std::thread::current().id())
    }
}

/// The open guards of one database half, so that a plain call finds the
/// guard its task or thread began. Empty, a lookup costs one atomic load.
pub(crate) struct Guards<T> {
    open: AtomicUsize,
    list: Mutex<Vec<GuardEntry<T>>>,
}

struct GuardEntry<T> {
    id: u64,
    owner: Owner,
    tx: Arc<T>,
    level: u32,
}

impl<T> Default for Guards<T> {
    fn default() -> Self {
        Guards {
            open: AtomicUsize::new(0),
            list: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Guards<T> {
    fn list(&self) -> MutexGuard<'_, Vec<GuardEntry<T>>> {
        // Every change under the lock is one push or one removal.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a guard of level `level` of `tx` begun by `owner`; the id to
    /// [`remove`](Self::remove) it by.
    pub(crate) fn add(&self, owner: Owner, tx: Arc<T>, level: u32) -> u64 {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let mut list = self.list();
        list.push(GuardEntry {
            id,
            owner,
            tx,
            level,
        });
        self.open.store(list.len(), Ordering::Release);
        id
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut list = self.list();
        list.retain(|g| g.id != id);
        self.open.store(list.len(), Ordering::Release);
    }

    /// The innermost guard `owner` began, among those of `within` if given
    /// (the transaction of the caller's closure scope) and deeper than
    /// `below`; else among all of the owner's.
    #[inline]
    pub(crate) fn innermost(
        &self,
        owner: impl FnOnce() -> Owner,
        within: Option<&Arc<T>>,
        below: u32,
    ) -> Option<(Arc<T>, u32)> {
        if self.open.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.innermost_of(owner(), within, below)
    }

    /// [`innermost`](Self::innermost) once some guard is open: the list
    /// is looked at under its lock.
    #[inline(never)]
    fn innermost_of(
        &self,
        owner: Owner,
        within: Option<&Arc<T>>,
        below: u32,
    ) -> Option<(Arc<T>, u32)> {
        let list = self.list();
        list.iter()
            .filter(|g| g.owner == owner && g.level > below)
            .filter(|g| within.is_none_or(|t| Arc::ptr_eq(t, &g.tx)))
            .max_by_key(|g| g.level)
            .map(|g| (g.tx.clone(), g.level))
    }
}

pub(crate) fn savepoint_outside_transaction() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "savepoint() needs an open transaction: use atomic() or begin() first",
    )
}

pub(crate) fn finished() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "the transaction is already committed or rolled back",
    )
}

pub(crate) fn aborted() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Query,
        "an operation of this transaction was cancelled mid-way; the transaction can only be rolled back",
    )
}
