//! The `allow_sync` policy: what happens when the blocking half is called.
//!
//! peewee-async's `database.allow_sync` is `True`, a logging level, or `False`;
//! dualdb's [`SyncCheck`] is `Off`, `Warn` or `Error`, switchable at any time
//! with [`Database::set_allow_sync`](crate::Database::set_allow_sync) and
//! checked on every blocking entry point (connect, close, every query, every
//! transaction step). [`Database::allow_sync`](crate::Database::allow_sync)
//! returns a guard that lets blocking calls through on the current thread
//! while it lives, and closes the blocking connections when it ends, like the
//! reference's `with objects.allow_sync():`.
//!
//! ```
//! use dualdb::{Database, ErrorKind, SyncCheck};
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! db.set_allow_sync(SyncCheck::Error);
//! let err = db.sync().execute("CREATE TABLE t (x INTEGER)", &[]).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
//! {
//!     let _allowed = db.allow_sync();
//!     db.sync().execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
//! } // blocking connections closed here
//! assert!(db.sync().execute("DROP TABLE t", &[]).is_err());
//! ```

use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// What a blocking call does under the `allow_sync` policy.
///
/// ```
/// use dualdb::{Database, ErrorKind, SyncCheck};
/// let db = Database::open("sqlite::memory:").unwrap();
/// db.set_allow_sync(SyncCheck::Warn); // runs, and logs the call site
/// db.sync().query("SELECT 1", &[]).unwrap();
/// db.set_allow_sync(SyncCheck::Error); // refused before any I/O
/// let err = db.sync().query("SELECT 1", &[]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
/// assert!(err.to_string().contains(file!())); // names the caller
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SyncCheck {
    /// The check is off: blocking calls run without a word (peewee-async's
    /// `allow_sync = True`). The default.
    #[default]
    Off,
    /// Blocking calls run, and each logs a `tracing` warning naming the
    /// operation and the caller's file and line.
    Warn,
    /// Blocking calls fail with [`ErrorKind::SyncNotAllowed`] before any I/O
    /// (peewee-async's `allow_sync = False`).
    Error,
}

impl SyncCheck {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => SyncCheck::Warn,
            2 => SyncCheck::Error,
            _ => SyncCheck::Off,
        }
    }
    fn to_u8(self) -> u8 {
        match self {
            SyncCheck::Off => 0,
            SyncCheck::Warn => 1,
            SyncCheck::Error => 2,
        }
    }
}

thread_local! {
    /// Ids of the databases that have an `allow_sync` guard alive on this thread.
    static ALLOWED_HERE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The policy of one database: its mode and its identity for guards.
#[derive(Debug)]
pub(crate) struct Policy {
    mode: AtomicU8,
    id: u64,
}

impl Policy {
    pub(crate) fn new(mode: SyncCheck) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Policy {
            mode: AtomicU8::new(mode.to_u8()),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Identifies the database this policy belongs to.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn set(&self, mode: SyncCheck) {
        self.mode.store(mode.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> SyncCheck {
        SyncCheck::from_u8(self.mode.load(Ordering::Relaxed))
    }

    fn allowed_here(&self) -> bool {
        ALLOWED_HERE.with(|a| a.borrow().contains(&self.id))
    }

    /// Checks a blocking call named `operation`, made at the caller's location.
    #[track_caller]
    pub(crate) fn check(&self, operation: &'static str) -> Result<()> {
        let mode = self.get();
        if mode == SyncCheck::Off || self.allowed_here() {
            return Ok(());
        }
        let at = Location::caller();
        match mode {
            SyncCheck::Off => Ok(()),
            SyncCheck::Warn => {
                tracing::warn!(
                    target: "dualdb::allow_sync",
                    operation,
                    location = %at,
                    "blocking database call while allow_sync is Warn"
                );
                Ok(())
            }
            SyncCheck::Error => Err(Error::new(
                ErrorKind::SyncNotAllowed,
                format!("blocking call `{operation}` at {at} refused: allow_sync is Error"),
            )),
        }
    }

    pub(crate) fn enter_allowed(&self) {
        ALLOWED_HERE.with(|a| a.borrow_mut().push(self.id));
    }

    pub(crate) fn leave_allowed(&self) {
        ALLOWED_HERE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(pos) = a.iter().rposition(|&id| id == self.id) {
                a.remove(pos);
            }
        });
    }
}

/// Lets blocking calls through on this thread while it lives; made by
/// [`Database::allow_sync`](crate::Database::allow_sync).
///
/// When it is dropped, the blocking half's connections are closed (errors
/// while closing are logged, not raised). It is `!Send`: it belongs to the
/// thread that made it.
///
/// ```
/// use dualdb::{Database, SyncCheck};
/// let db = Database::builder("sqlite::memory:").allow_sync(SyncCheck::Error).build().unwrap();
/// let guard = db.allow_sync();
/// db.sync().query("SELECT 1", &[]).unwrap();
/// drop(guard);
/// assert!(db.sync().query("SELECT 1", &[]).is_err());
/// ```
#[must_use = "blocking calls are allowed only while the guard lives"]
pub struct AllowSyncGuard {
    policy: Arc<Policy>,
    /// Closes the blocking half's connections, when the outermost guard of
    /// its database on this thread ends.
    close: Box<dyn Fn()>,
    _not_send: PhantomData<*const ()>,
}

impl AllowSyncGuard {
    /// Lets blocking calls of `policy`'s database through on this thread
    /// until the guard drops; then `close` runs, if it was the outermost.
    pub(crate) fn new(policy: Arc<Policy>, close: Box<dyn Fn()>) -> Self {
        policy.enter_allowed();
        AllowSyncGuard {
            policy,
            close,
            _not_send: PhantomData,
        }
    }
}

impl Drop for AllowSyncGuard {
    fn drop(&mut self) {
        let nested = ALLOWED_HERE.with(|a| {
            a.borrow()
                .iter()
                .filter(|&&id| id == self.policy.id)
                .count()
                > 1
        });
        if !nested {
            (self.close)();
        }
        self.policy.leave_allowed();
    }
}

impl std::fmt::Debug for AllowSyncGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllowSyncGuard").finish_non_exhaustive()
    }
}
