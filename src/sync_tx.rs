//! [`SyncTx`]: a transaction (or a savepoint in one) on the blocking half.
//!
//! ```
//! use dualdb::Database;
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let s = db.sync();
//! s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
//!
//! // The closure form commits on Ok, rolls back on Err or panic.
//! s.atomic(|tx| -> dualdb::Result<()> {
//!     tx.execute("INSERT INTO t VALUES (1)", &[])?;
//!     // nested: a savepoint, rolled back alone
//!     let inner: dualdb::Result<()> = tx.atomic(|tx| {
//!         tx.execute("INSERT INTO t VALUES (2)", &[])?;
//!         Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "changed my mind"))
//!     });
//!     assert!(inner.is_err());
//!     Ok(())
//! }).unwrap();
//!
//! // The guard form rolls back when dropped uncommitted.
//! {
//!     let tx = s.begin().unwrap();
//!     tx.execute("INSERT INTO t VALUES (3)", &[]).unwrap();
//! }
//! let rows = s.query("SELECT x FROM t", &[]).unwrap();
//! assert_eq!(rows.len(), 1);
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Dialect;
use crate::plan::Plan;
use crate::runtime::run_blocking;
use crate::sync_db::SyncDb;
use crate::sync_scope::{Scope, ScopeGuard, SyncTxShared, TxConn, plain_scope};
use crate::transaction::{
    Levels, Nesting, Opener, Owner, TxOp, finished, savepoint_outside_transaction,
};

/// A transaction or savepoint on the blocking half: a guard that rolls back
/// when dropped uncommitted. It has every Manager operation of
/// [`SyncDb`], run inside it. Made by [`SyncDb::begin`], [`SyncTx::begin`],
/// or handed to the closure of [`SyncDb::atomic`] and its siblings.
///
/// ```
/// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// # let s = db.sync();
/// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
/// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
/// let mut tx = s.begin().unwrap();
/// tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
/// drop(tx); // rolled back
/// assert_eq!(count(), 0);
/// ```
pub struct SyncTx<'a> {
    db: &'a SyncDb,
    shared: Arc<SyncTxShared>,
    level: u32,
    open: bool,
    /// A guard's entry in its database's open guards, through which plain
    /// calls on the thread that began it join it.
    registered: Option<u64>,
    _nested: PhantomData<&'a mut ()>,
}

impl std::fmt::Debug for SyncTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncTx")
            .field("level", &self.level)
            .field("open", &self.open)
            .finish()
    }
}

impl<'a> SyncTx<'a> {
    fn new(db: &'a SyncDb, shared: Arc<SyncTxShared>, level: u32, opener: Opener) -> Self {
        let registered = (opener == Opener::Guard)
            .then(|| db.guards().add(Owner::thread(), shared.clone(), level));
        SyncTx {
            db,
            shared,
            level,
            open: true,
            registered,
            _nested: PhantomData,
        }
    }

    /// Opens level 1 on a connection of its own (the caller checked the policy).
    fn begin_root(db: &'a SyncDb, opener: Opener) -> Result<Self> {
        let conn = run_blocking(|| {
            let mut conn = db.pool().get()?;
            conn.execute(TxOp::Begin.stmt(db.kind()))?;
            conn.in_tx = true;
            Ok(conn)
        })?;
        let shared = SyncTxShared::new(db.id(), conn, Levels::root(opener));
        Ok(SyncTx::new(db, shared, 1, opener))
    }

    /// A pinned session: a connection of its own, no transaction (level 0;
    /// the caller checked the policy).
    fn begin_session(db: &'a SyncDb) -> Result<Self> {
        let conn = run_blocking(|| db.pool().get())?;
        let shared = SyncTxShared::new(db.id(), conn, Levels::session());
        Ok(SyncTx::new(db, shared, 0, Opener::Block))
    }

    /// Opens a savepoint inside level `parent` of `shared`, once `parent`
    /// is its innermost open level (the caller checked the policy).
    fn savepoint_on(
        db: &'a SyncDb,
        shared: Arc<SyncTxShared>,
        parent: u32,
        opener: Opener,
    ) -> Result<Self> {
        let kind = db.kind();
        let level = shared.with_conn(parent, false, |st| {
            st.conn()?.execute(TxOp::open(parent + 1).stmt(kind))?;
            Ok(st.levels.open(parent, opener))
        })?;
        Ok(SyncTx::new(db, shared, level, opener))
    }

    /// A view of level `scope.level` that does not commit it (a joined
    /// `transaction` block).
    fn view(db: &'a SyncDb, scope: Scope) -> Self {
        SyncTx {
            db,
            shared: scope.tx,
            level: scope.level,
            open: false,
            registered: None,
            _nested: PhantomData,
        }
    }

    /// The `allow_sync` check of a blocking call on this transaction.
    #[track_caller]
    pub(crate) fn check(&self, operation: &'static str) -> Result<()> {
        self.db.check(operation)
    }

    /// The transaction's shared state and this handle's level, for a
    /// statement run on a thread of its own (a row iterator's).
    pub(crate) fn scope_parts(&self) -> (Arc<SyncTxShared>, u32) {
        (self.shared.clone(), self.level)
    }

    fn scope(&self) -> Scope {
        Scope {
            tx: self.shared.clone(),
            level: self.level,
        }
    }

    /// The dialect of this transaction's statements (the scope is the
    /// transaction itself).
    /// The database this transaction is of.
    pub(crate) fn db(&self) -> &SyncDb {
        self.db
    }

    pub(crate) fn context(&self) -> ((), Dialect) {
        ((), Dialect::new(self.db.kind(), self.level >= 1))
    }

    /// Runs a Manager operation's plan inside this transaction, at this level.
    #[track_caller]
    pub(crate) fn drive<P: Plan>(
        &self,
        operation: &'static str,
        _: (),
        plan: P,
    ) -> Result<P::Output> {
        self.db.check(operation)?;
        self.shared.drive(self.level, plan)
    }

    /// The level: 1 for the transaction, more for savepoints inside it.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// let mut tx = s.begin().unwrap();
    /// assert_eq!(tx.level(), 1);
    /// assert_eq!(tx.begin().unwrap().level(), 2);
    /// ```
    pub fn level(&self) -> u32 {
        self.level
    }

    /// A savepoint inside this transaction, as a guard.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// let mut tx = s.begin().unwrap();
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    /// let sp = tx.begin().unwrap();
    /// sp.execute("INSERT INTO t VALUES (2)", &[]).unwrap();
    /// sp.rollback().unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn begin(&mut self) -> Result<SyncTx<'_>> {
        self.db.check("savepoint")?;
        SyncTx::savepoint_on(self.db, self.shared.clone(), self.level, Opener::Guard)
    }

    /// Runs `f` in a savepoint: released on `Ok`, rolled back on `Err` or panic.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// s.atomic(|tx| -> dualdb::Result<()> {
    ///     tx.execute("INSERT INTO t VALUES (1)", &[])?;
    ///     let inner: dualdb::Result<()> = tx.atomic(|sp| {
    ///         sp.execute("INSERT INTO t VALUES (2)", &[])?;
    ///         Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "changed my mind"))
    ///     });
    ///     assert!(inner.is_err()); // the savepoint is rolled back, the outer work stays
    ///     Ok(())
    /// }).unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn atomic<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.nested("atomic", f)
    }

    /// Like [`atomic`](SyncTx::atomic): a savepoint.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// s.atomic(|tx| -> dualdb::Result<()> {
    ///     tx.savepoint(|sp| sp.execute("INSERT INTO t VALUES (1)", &[]))?;
    ///     Ok(())
    /// }).unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn savepoint<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.level == 0 {
            return Err(savepoint_outside_transaction().into());
        }
        self.nested("savepoint", f)
    }

    #[track_caller]
    fn nested<T, E: From<Error>>(
        &mut self,
        operation: &'static str,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.db.check(operation)?;
        let child = SyncTx::savepoint_on(self.db, self.shared.clone(), self.level, Opener::Block)?;
        run_scope(child, f)
    }

    /// Runs `f` in this same transaction (nested transaction blocks are
    /// flattened, as in peewee): no savepoint, no commit of its own.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// s.transaction(|tx| -> dualdb::Result<()> {
    ///     tx.transaction(|same| same.execute("INSERT INTO t VALUES (1)", &[]))?;
    ///     assert_eq!(tx.level(), 1); // flattened: no savepoint
    ///     Ok(())
    /// }).unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    pub fn transaction<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.level == 0 {
            return self.nested("transaction", f);
        }
        f(self)
    }

    /// Commits: `COMMIT` for the transaction, `RELEASE SAVEPOINT` for a
    /// savepoint. If `COMMIT` fails the transaction is rolled back, and the
    /// connection is closed if that fails too.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// let tx = s.begin().unwrap();
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn commit(mut self) -> Result<()> {
        self.db.check("commit")?;
        self.finish(true)
    }

    /// Rolls back: the whole transaction, or to the savepoint.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// let tx = s.begin().unwrap();
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    /// tx.rollback().unwrap();
    /// assert_eq!(count(), 0);
    /// ```
    #[track_caller]
    pub fn rollback(mut self) -> Result<()> {
        self.db.check("rollback")?;
        self.finish(false)
    }

    fn finish(&mut self, commit: bool) -> Result<()> {
        if !self.open {
            return Err(finished());
        }
        self.open = false;
        if let Some(id) = self.registered.take() {
            self.db.guards().remove(id);
        }
        let kind = self.db.kind();
        let level = self.level;
        let shared = &*self.shared;
        let closed = shared.with_conn(level, true, |st| {
            if shared.session && level == 0 {
                return end_session(st, kind);
            }
            let conn = st.conn()?;
            let result = if commit {
                conn.execute(TxOp::commit(level).stmt(kind)).map(drop)
            } else {
                TxOp::rollback(level)
                    .into_iter()
                    .try_for_each(|op| conn.execute(op.stmt(kind)).map(drop))
            };
            st.levels.close(level);
            if !shared.session
                && level == 1
                && let Some(mut conn) = st.conn.take()
            {
                if result.is_ok() {
                    conn.in_tx = false;
                } else if commit {
                    // A failed COMMIT: roll back, or close the connection.
                    conn.in_tx = conn.execute(TxOp::Rollback.stmt(kind)).is_err();
                    conn.discard = conn.in_tx;
                } else {
                    conn.discard = true;
                }
            }
            result
        });
        shared.turn.notify_all();
        closed
    }
}

/// Ends a pinned session: a transaction left open in it is rolled back, the
/// session reset (its settings, temporary tables, locks and listens:
/// [`reset_session`](crate::backend::SyncConn::reset_session)), and the
/// connection given back; if that fails, it is closed instead.
fn end_session(st: &mut TxConn, kind: crate::config::BackendKind) -> Result<()> {
    let open = st.levels.innermost().is_some_and(|n| n > 0);
    st.levels.close(0);
    let mut conn = st.conn.take().ok_or_else(finished)?;
    let reset = (|| {
        if open || conn.in_tx {
            conn.execute(TxOp::Rollback.stmt(kind))?;
        }
        conn.reset_session()
    })();
    conn.in_tx = false;
    conn.discard = reset.is_err();
    reset
}

impl Drop for SyncTx<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.finish(false)
        {
            tracing::warn!(target: "dualdb::transaction", error = %e, "rollback on drop failed");
        }
    }
}

/// Runs `f` with `tx` as the thread's scoped transaction, then commits on
/// `Ok` and rolls back on `Err` (the error of `f` wins over a rollback error).
/// The policy was checked when the scope was entered.
fn run_scope<T, E: From<Error>>(
    mut tx: SyncTx<'_>,
    f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let scope = ScopeGuard::enter(tx.scope());
    let out = f(&mut tx);
    drop(scope);
    match out {
        Ok(v) => Ok(tx.finish(true).map(|()| v)?),
        Err(e) => {
            if let Err(rb) = tx.finish(false) {
                tracing::warn!(target: "dualdb::transaction", error = %rb, "rollback failed");
            }
            Err(e)
        }
    }
}

impl SyncDb {
    /// Begins a transaction and returns its guard; inside a closure scope of
    /// this database on this thread, a savepoint in that transaction.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// let tx = s.begin().unwrap();
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn begin(&self) -> Result<SyncTx<'_>> {
        self.check("begin")?;
        match plain_scope(self.id(), self.guards()) {
            Some(s) => SyncTx::savepoint_on(self, s.tx, s.level, Opener::Guard),
            None => SyncTx::begin_root(self, Opener::Guard),
        }
    }

    /// Runs `f` in a transaction (a savepoint if one is open in scope):
    /// committed on `Ok`, rolled back on `Err` or panic. Calls made through
    /// `db.sync()` on this thread inside `f` join it.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// s.atomic(|tx| -> dualdb::Result<()> {
    ///     tx.execute("INSERT INTO t VALUES (1)", &[])?;
    ///     db.sync().execute("INSERT INTO t VALUES (2)", &[])?; // same thread: joins
    ///     Ok(())
    /// }).unwrap();
    /// let failed: dualdb::Result<()> = s.atomic(|tx| {
    ///     tx.execute("INSERT INTO t VALUES (3)", &[])?;
    ///     Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "no"))
    /// });
    /// assert!(failed.is_err());
    /// assert_eq!(count(), 2);
    /// ```
    #[track_caller]
    pub fn atomic<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.scope(Nesting::Atomic, f)
    }

    /// Runs `f` in a transaction; inside one already in scope, in that same
    /// transaction (no savepoint).
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// s.transaction(|tx| tx.execute("INSERT INTO t VALUES (1)", &[])).unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn transaction<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.scope(Nesting::Transaction, f)
    }

    /// Runs `f` in a savepoint of the transaction in scope; an error outside one.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// # let count = || -> i64 { s.query_one("SELECT COUNT(*) FROM t", &[]).unwrap().get(0).unwrap() };
    /// // Outside a transaction there is nothing to save a point in:
    /// let err = s.savepoint(|sp| sp.execute("INSERT INTO t VALUES (1)", &[])).unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::Usage);
    /// s.atomic(|_| s.savepoint(|sp| sp.execute("INSERT INTO t VALUES (1)", &[]))).unwrap();
    /// assert_eq!(count(), 1);
    /// ```
    #[track_caller]
    pub fn savepoint<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.scope(Nesting::Savepoint, f)
    }

    /// Runs `f` in a pinned session, as [`AsyncDb::session`](crate::AsyncDb::session)
    /// does on the async half: every call inside, through its handle or the
    /// plain handle on this thread, runs on one connection of its own,
    /// outside any transaction unless it opens one; the session is reset
    /// before the connection goes back to the pool. Inside a transaction or
    /// a session already, `f` runs in it.
    ///
    /// ```
    /// # let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let n: i64 = db.sync().session(|s| {
    ///     s.execute("CREATE TEMP TABLE scratch (x INTEGER)", &[])?;
    ///     db.sync().execute("INSERT INTO scratch VALUES (1)", &[])?; // same connection
    ///     s.query_one("SELECT COUNT(*) FROM scratch", &[])?.get(0)
    /// }).unwrap();
    /// assert_eq!(n, 1);
    /// ```
    #[track_caller]
    pub fn session<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.check("session")?;
        if let Some(scope) = plain_scope(self.id(), self.guards()) {
            return f(&mut SyncTx::view(self, scope));
        }
        let mut session = SyncTx::begin_session(self)?;
        let out = {
            let _scope = ScopeGuard::enter(session.scope());
            f(&mut SyncTx::view(self, session.scope()))
        };
        if let Err(e) = session.finish(true) {
            tracing::warn!(target: "dualdb::session", error = %e, "session reset failed: connection closed");
        }
        out
    }

    #[track_caller]
    fn scope<T, E: From<Error>>(
        &self,
        nesting: Nesting,
        f: impl FnOnce(&mut SyncTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.check(match nesting {
            Nesting::Atomic => "atomic",
            Nesting::Transaction => "transaction",
            Nesting::Savepoint => "savepoint",
        })?;
        let tx = match (plain_scope(self.id(), self.guards()), nesting) {
            // Join: a view of the open transaction that does not commit it.
            (Some(scope), Nesting::Transaction) if scope.in_transaction() => {
                return f(&mut SyncTx::view(self, scope));
            }
            (Some(scope), Nesting::Savepoint) if !scope.in_transaction() => {
                return Err(savepoint_outside_transaction().into());
            }
            // A level inside: a savepoint, or a transaction in a session.
            (Some(s), _) => SyncTx::savepoint_on(self, s.tx, s.level, Opener::Block)?,
            (None, Nesting::Savepoint) => return Err(savepoint_outside_transaction().into()),
            (None, _) => SyncTx::begin_root(self, Opener::Block)?,
        };
        run_scope(tx, f)
    }
}
