//! [`AsyncTx`]: a transaction (or a savepoint in one) on the async half.
//!
//! ```
//! use dualdb::Database;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = Database::open("sqlite::memory:").unwrap();
//! let aio = db.aio();
//! aio.execute("CREATE TABLE t (x INTEGER)", &[]).await.unwrap();
//!
//! // The closure form: committed on Ok, rolled back on Err, panic or
//! // cancellation. Calls through `db.aio()` in this task join it.
//! aio.atomic(async |tx| -> dualdb::Result<()> {
//!     tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
//!     db.aio().execute("INSERT INTO t VALUES (2)", &[]).await?; // same transaction
//!     Ok(())
//! }).await.unwrap();
//!
//! // The guard form: rolled back when dropped uncommitted.
//! let mut tx = aio.begin().await.unwrap();
//! tx.execute("INSERT INTO t VALUES (3)", &[]).await.unwrap();
//! let sp = tx.begin().await.unwrap();          // a savepoint
//! sp.execute("INSERT INTO t VALUES (4)", &[]).await.unwrap();
//! sp.rollback().await.unwrap();
//! tx.commit().await.unwrap();
//!
//! let n: i64 = aio.query_one("SELECT COUNT(*) FROM t", &[]).await.unwrap().get(0).unwrap();
//! assert_eq!(n, 3);
//! # });
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use crate::async_db::AsyncDb;
use crate::async_scope::{AsyncTxShared, Scope, in_scope, meta, plain_scope};
use crate::error::{Error, Result};
use crate::model::Dialect;
use crate::plan::Plan;
use crate::transaction::{
    Levels, Nesting, Opener, Owner, TxOp, finished, savepoint_outside_transaction,
};

/// A transaction or savepoint on the async half: a guard that rolls back when
/// dropped uncommitted (on a spawned task: a destructor cannot await). It
/// has every Manager operation of [`AsyncDb`], run inside it. Made by
/// [`AsyncDb::begin`] and [`AsyncTx::begin`], or handed to the closure of
/// [`AsyncDb::atomic`] and its siblings (a handle that the scope commits).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let db = dualdb::Database::open("sqlite::memory:")?;
/// # let a = db.aio();
/// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
/// let tx = a.begin().await?;
/// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
/// drop(tx); // rolled back (on a spawned task)
/// # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
/// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
/// # assert_eq!(n, 0);
/// # Ok::<(), dualdb::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncTx<'a> {
    db: &'a AsyncDb,
    shared: Arc<AsyncTxShared>,
    level: u32,
    /// False for the handle a closure gets: the scope commits, not it.
    owner: bool,
    open: bool,
    /// A guard's entry in its database's open guards, through which plain
    /// calls of the task that began it join it.
    registered: Option<u64>,
    _nested: PhantomData<&'a mut ()>,
}

impl std::fmt::Debug for AsyncTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTx")
            .field("level", &self.level)
            .field("open", &self.open)
            .finish()
    }
}

impl<'a> AsyncTx<'a> {
    fn new(db: &'a AsyncDb, shared: Arc<AsyncTxShared>, level: u32, opener: Opener) -> Self {
        let registered = (opener == Opener::Guard)
            .then(|| db.guards().add(Owner::task(), shared.clone(), level));
        AsyncTx {
            db,
            shared,
            level,
            owner: true,
            open: true,
            registered,
            _nested: PhantomData,
        }
    }

    async fn begin_root(db: &'a AsyncDb, opener: Opener) -> Result<Self> {
        let mut lease = db.acquire().await?;
        let kind = db.kind();
        let slot = lease.slot()?;
        slot.busy = true;
        slot.conn.execute(TxOp::Begin.stmt(kind)).await?;
        slot.busy = false;
        slot.in_tx = true;
        let shared = AsyncTxShared::new(db.id(), db.kind(), lease, Levels::root(opener));
        Ok(AsyncTx::new(db, shared, 1, opener))
    }

    /// A pinned session: a connection of its own, no transaction (level 0).
    async fn begin_session(db: &'a AsyncDb) -> Result<Self> {
        let lease = db.acquire().await?;
        let shared = AsyncTxShared::new(db.id(), db.kind(), lease, Levels::session());
        Ok(AsyncTx::new(db, shared, 0, Opener::Block))
    }

    /// Opens a savepoint inside level `parent` of `shared`, once `parent`
    /// is its innermost open level.
    async fn savepoint_on(
        db: &'a AsyncDb,
        shared: Arc<AsyncTxShared>,
        parent: u32,
        opener: Opener,
    ) -> Result<Self> {
        let level = shared.open_savepoint(parent, opener).await?;
        Ok(AsyncTx::new(db, shared, level, opener))
    }

    /// The transaction's shared state and this handle's level, for a
    /// statement future that owns them (a row stream's).
    pub(crate) fn scope_parts(&self) -> (Arc<AsyncTxShared>, u32) {
        (self.shared.clone(), self.level)
    }

    /// Where plain calls inside this handle's closure run.
    fn scope(&self) -> Scope {
        Scope {
            tx: self.shared.clone(),
            level: self.level,
        }
    }

    /// A view of this level that does not commit it (a closure's handle).
    fn view(db: &'a AsyncDb, scope: Scope) -> Self {
        AsyncTx {
            db,
            shared: scope.tx,
            level: scope.level,
            owner: false,
            open: false,
            registered: None,
            _nested: PhantomData,
        }
    }

    pub(crate) fn context(&self) -> ((), Dialect) {
        ((), Dialect::new(self.shared.kind, self.level >= 1))
    }

    /// Runs a Manager operation's plan inside this transaction, at this level.
    pub(crate) async fn drive<P: Plan>(&self, _: (), plan: P) -> Result<P::Output> {
        self.shared.drive(self.level, plan).await
    }

    /// The level: 1 for the transaction, more for savepoints inside it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let mut tx = a.begin().await?;
    /// assert_eq!(tx.level(), 1);
    /// assert_eq!(tx.begin().await?.level(), 2);
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 0);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn level(&self) -> u32 {
        self.level
    }

    /// A savepoint inside this transaction, as a guard.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let mut tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// let sp = tx.begin().await?;
    /// sp.execute("INSERT INTO t VALUES (2)", &[]).await?;
    /// sp.rollback().await?;
    /// tx.commit().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn begin(&mut self) -> Result<AsyncTx<'_>> {
        AsyncTx::savepoint_on(self.db, self.shared.clone(), self.level, Opener::Guard).await
    }

    /// Runs `f` in a savepoint: released on `Ok`, rolled back on `Err`.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let mut tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// let inner: dualdb::Result<()> = tx
    ///     .atomic(async |sp| {
    ///         sp.execute("INSERT INTO t VALUES (2)", &[]).await?;
    ///         Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "changed my mind"))
    ///     })
    ///     .await;
    /// assert!(inner.is_err()); // only the savepoint is rolled back
    /// tx.commit().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn atomic<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        self.nested(f).await
    }

    /// Runs `f` in a savepoint of this transaction, as
    /// [`atomic`](Self::atomic) does (peewee's `savepoint()`); on a
    /// [`session`](AsyncDb::session)'s handle, outside any transaction, a
    /// [`Usage`](crate::ErrorKind::Usage) error.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let mut tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// let n = tx.savepoint(async |sp| sp.execute("INSERT INTO t VALUES (2)", &[]).await).await?;
    /// assert_eq!(n, 1);
    /// tx.commit().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 2);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn savepoint<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        if self.level == 0 {
            return Err(savepoint_outside_transaction().into());
        }
        self.nested(f).await
    }

    /// Runs `f` in this transaction, as the same level (peewee's
    /// `transaction()` inside one: no savepoint); on a
    /// [`session`](AsyncDb::session)'s handle, a transaction on the
    /// session's connection.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let mut tx = a.begin().await?;
    /// tx.transaction(async |same| same.execute("INSERT INTO t VALUES (1)", &[]).await).await?;
    /// assert_eq!(tx.level(), 1);
    /// tx.rollback().await?; // the joined block's row goes too
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 0);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        if self.level == 0 {
            return self.nested(f).await;
        }
        f(self).await
    }

    async fn nested<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let child =
            AsyncTx::savepoint_on(self.db, self.shared.clone(), self.level, Opener::Block).await?;
        run_scope(child, f).await
    }

    /// Commits: `COMMIT` for the transaction, `RELEASE SAVEPOINT` for a
    /// savepoint. If `COMMIT` fails the transaction is rolled back, and the
    /// connection is closed if that fails too.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// tx.commit().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn commit(mut self) -> Result<()> {
        self.finish(true).await
    }

    /// Rolls back: the whole transaction, or to the savepoint.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// tx.rollback().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 0);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn rollback(mut self) -> Result<()> {
        self.finish(false).await
    }

    async fn finish(&mut self, commit: bool) -> Result<()> {
        if !(self.owner && self.open) {
            return Err(finished());
        }
        self.open = false;
        self.unregister();
        self.shared.close(self.level, commit).await
    }

    fn unregister(&mut self) {
        if let Some(id) = self.registered.take() {
            self.db.guards().remove(id);
        }
    }
}

impl Drop for AsyncTx<'_> {
    fn drop(&mut self) {
        if !(self.owner && self.open) {
            return;
        }
        self.unregister();
        let mut m = meta(&self.shared.meta);
        if self.level == m.levels.floor() {
            m.levels.close(self.level);
            drop(m);
            // The lease goes back through its own drop: rolled back on a
            // spawned task, or closed (a session's: closed, not reset). If
            // an operation holds it, the last handle to let go does the same.
            if let Ok(mut lease) = self.shared.lease.try_lock()
                && let Some(mut l) = lease.take()
                && self.shared.session
            {
                l.discard();
            }
        } else if m.levels.close(self.level) {
            // Not closed already by an enclosing level's drop.
            m.pending.extend(TxOp::rollback(self.level));
            drop(m);
        }
        self.shared.turn.notify_waiters();
    }
}

/// Runs `f` with `tx`'s transaction scoped to this task, then commits on
/// `Ok` and rolls back on `Err` (the error of `f` wins over a rollback error,
/// which is logged).
async fn run_scope<T, E, F>(tx: AsyncTx<'_>, f: F) -> Result<T, E>
where
    F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
    E: From<Error>,
{
    let scope = tx.scope();
    let mut view = AsyncTx::view(tx.db, tx.scope());
    let out = in_scope(scope, f(&mut view)).await;
    match out {
        Ok(v) => Ok(tx.commit().await.map(|()| v)?),
        Err(e) => {
            if let Err(rb) = tx.rollback().await {
                tracing::warn!(target: "dualdb::transaction", error = %rb, "rollback failed");
            }
            Err(e)
        }
    }
}

impl AsyncDb {
    /// Begins a transaction and returns its guard; inside a closure scope of
    /// this database in this task, a savepoint in that transaction.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let tx = a.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    /// tx.commit().await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn begin(&self) -> Result<AsyncTx<'_>> {
        match plain_scope(self.id(), self.guards()) {
            Some(s) => AsyncTx::savepoint_on(self, s.tx, s.level, Opener::Guard).await,
            None => AsyncTx::begin_root(self, Opener::Guard).await,
        }
    }

    /// Runs `f` in a transaction (a savepoint if one is open in this task's
    /// scope): committed on `Ok`, rolled back on `Err`, panic or
    /// cancellation. Calls made through `db.aio()` in this task inside `f`
    /// join it; tasks spawned inside `f` do not.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// a.atomic(async |tx| -> dualdb::Result<()> {
    ///     tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
    ///     db.aio().execute("INSERT INTO t VALUES (2)", &[]).await?; // same task: joins
    ///     Ok(())
    /// }).await?;
    /// let failed: dualdb::Result<()> = a
    ///     .atomic(async |tx| {
    ///         tx.execute("INSERT INTO t VALUES (3)", &[]).await?;
    ///         Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "no"))
    ///     })
    ///     .await;
    /// assert!(failed.is_err());
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 2);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn atomic<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        self.scope(Nesting::Atomic, f).await
    }

    /// Runs `f` in a transaction; inside one already in this task's scope, in
    /// that same transaction (no savepoint).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// a.transaction(async |tx| tx.execute("INSERT INTO t VALUES (1)", &[]).await).await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        self.scope(Nesting::Transaction, f).await
    }

    /// Runs `f` in a savepoint of the transaction in this task's scope; an
    /// error outside one.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// # let a = db.aio();
    /// # a.execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// let err = a.savepoint(async |sp| sp.execute("INSERT INTO t VALUES (1)", &[]).await).await.unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::Usage); // no transaction in scope
    /// a.atomic(async |_| db.aio().savepoint(async |sp| sp.execute("INSERT INTO t VALUES (1)", &[]).await).await)
    ///     .await?;
    /// # let n: i64 = a.query_one("SELECT COUNT(*) FROM t", &[]).await?.get(0)?;
    /// # assert_eq!(n, 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn savepoint<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        self.scope(Nesting::Savepoint, f).await
    }

    /// Runs `f` in a pinned session: every call inside (through its
    /// handle, or the plain handle in this task) runs on one connection of
    /// its own, outside any transaction unless it opens one, so that
    /// session state holds from one call to the next: `SET`, temporary
    /// tables, session advisory locks, `LISTEN`, user variables. Before the
    /// connection goes back to the pool, a transaction left open is rolled
    /// back and the session reset (PostgreSQL: everything `DISCARD ALL`
    /// clears but dualdb's prepared statements; MySQL: `COM_RESET_CONNECTION`;
    /// SQLite: nothing), so no state reaches another caller; if the
    /// session's future is dropped, the connection is closed instead.
    /// peewee-async 2.x's `aio_connection()`. The handle is a level-0
    /// [`AsyncTx`]: `atomic` and `begin` on it open a transaction on the
    /// session's connection; it has no commit of its own. Inside a
    /// transaction or a session already, `f` runs in it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = dualdb::Database::open("sqlite::memory:")?;
    /// let n: i64 = db.aio().session(async |s| {
    ///     s.execute("CREATE TEMP TABLE scratch (x INTEGER)", &[]).await?;
    ///     s.execute("INSERT INTO scratch VALUES (1), (2)", &[]).await?;
    ///     // Same connection: the temporary table is there.
    ///     db.aio().query_one("SELECT COUNT(*) FROM scratch", &[]).await?.get(0)
    /// }).await?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn session<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        if let Some(scope) = plain_scope(self.id(), self.guards()) {
            return f(&mut AsyncTx::view(self, scope)).await;
        }
        let mut session = AsyncTx::begin_session(self).await?;
        let mut view = AsyncTx::view(self, session.scope());
        let out = in_scope(session.scope(), f(&mut view)).await;
        if let Err(e) = session.finish(true).await {
            tracing::warn!(target: "dualdb::session", error = %e, "session reset failed: connection closed");
        }
        out
    }

    async fn scope<T, E, F>(&self, nesting: Nesting, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut AsyncTx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = match (plain_scope(self.id(), self.guards()), nesting) {
            (Some(scope), Nesting::Transaction) if scope.in_transaction() => {
                return f(&mut AsyncTx::view(self, scope)).await;
            }
            (Some(scope), Nesting::Savepoint) if !scope.in_transaction() => {
                return Err(savepoint_outside_transaction().into());
            }
            // A level inside: a savepoint, or a transaction in a session.
            (Some(s), _) => AsyncTx::savepoint_on(self, s.tx, s.level, Opener::Block).await?,
            (None, Nesting::Savepoint) => return Err(savepoint_outside_transaction().into()),
            (None, _) => AsyncTx::begin_root(self, Opener::Block).await?,
        };
        run_scope(tx, f).await
    }
}
