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
//! aio.atomic(async |tx| {
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

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::async_db::AsyncDb;
use crate::config::BackendKind;
use crate::error::Result;
use crate::model::plan::{NoPlan, Target, drive_async};
use crate::model::{Dialect, Plan};
use crate::pool::Lease;
use crate::transaction::{Nesting, TxOp, aborted, finished, savepoint_outside_transaction};

/// The connection of a transaction, shared by its levels and its scope.
pub(crate) struct AsyncTxShared {
    db_id: u64,
    kind: BackendKind,
    lease: tokio::sync::Mutex<Option<Lease>>,
    meta: Mutex<Meta>,
}

struct Meta {
    /// The innermost open level.
    level: u32,
    /// Rollbacks of savepoints dropped uncommitted, run before the next
    /// statement (a destructor cannot await).
    pending: Vec<TxOp>,
}

fn meta(m: &Mutex<Meta>) -> MutexGuard<'_, Meta> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

tokio::task_local! {
    /// The transactions of closure scopes open in this task, innermost last.
    static SCOPES: Vec<Arc<AsyncTxShared>>;
}

/// The innermost scoped transaction of database `db_id` in this task.
pub(crate) fn scoped(db_id: u64) -> Option<Arc<AsyncTxShared>> {
    SCOPES
        .try_with(|s| s.iter().rev().find(|t| t.db_id == db_id).cloned())
        .ok()
        .flatten()
}

async fn in_scope<F: Future>(shared: Arc<AsyncTxShared>, fut: F) -> F::Output {
    let mut scopes = SCOPES.try_with(|s| s.clone()).unwrap_or_default();
    scopes.push(shared);
    SCOPES.scope(scopes, fut).await
}

impl AsyncTxShared {
    /// Runs statements on the transaction's connection: first any pending
    /// savepoint rollbacks, then `ops`, then the plan.
    async fn run<P: Plan>(&self, ops: &[TxOp], plan: Option<P>) -> Result<Option<P::Output>> {
        let mut lease = self.lease.lock().await;
        let slot = lease.as_mut().ok_or_else(finished)?.slot()?;
        if slot.busy {
            return Err(aborted());
        }
        let pending = std::mem::take(&mut meta(&self.meta).pending);
        // `busy` stays set only if this future is dropped mid-way.
        slot.busy = true;
        let out = async {
            for op in pending.iter().chain(ops) {
                slot.conn.execute(op.stmt(self.kind)).await?;
            }
            match plan {
                // Boxed: this future is part of every async call's, in or
                // out of a transaction (`AsyncDb::drive`); inline, it made
                // them all a third larger, and each is moved twice per call.
                Some(plan) => Box::pin(drive_async(Target::Owned(&mut *slot.conn), plan))
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
        .await;
        slot.busy = false;
        out
    }

    pub(crate) async fn drive<P: Plan>(&self, plan: P) -> Result<P::Output> {
        self.run(&[], Some(plan)).await?.ok_or_else(finished)
    }

    async fn exec(&self, ops: &[TxOp]) -> Result<()> {
        self.run::<NoPlan>(ops, None).await.map(drop)
    }
}

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
    async fn begin_root(db: &'a AsyncDb) -> Result<Self> {
        let mut lease = db.acquire().await?;
        let kind = db.kind();
        let slot = lease.slot()?;
        slot.busy = true;
        slot.conn.execute(TxOp::Begin.stmt(kind)).await?;
        slot.busy = false;
        slot.in_tx = true;
        Ok(AsyncTx {
            db,
            shared: Arc::new(AsyncTxShared {
                db_id: db.id(),
                kind,
                lease: tokio::sync::Mutex::new(Some(lease)),
                meta: Mutex::new(Meta {
                    level: 1,
                    pending: Vec::new(),
                }),
            }),
            level: 1,
            owner: true,
            open: true,
            _nested: PhantomData,
        })
    }

    async fn savepoint_on(db: &'a AsyncDb, shared: Arc<AsyncTxShared>) -> Result<Self> {
        let level = meta(&shared.meta).level + 1;
        shared.exec(&[TxOp::open(level)]).await?;
        meta(&shared.meta).level = level;
        Ok(AsyncTx {
            db,
            shared,
            level,
            owner: true,
            open: true,
            _nested: PhantomData,
        })
    }

    fn handle(&self) -> AsyncTx<'a> {
        AsyncTx {
            db: self.db,
            shared: self.shared.clone(),
            level: self.level,
            owner: false,
            open: false,
            _nested: PhantomData,
        }
    }

    pub(crate) fn context(&self) -> ((), Dialect) {
        ((), Dialect::new(self.shared.kind, true))
    }

    /// Runs a Manager operation's plan inside this transaction.
    pub(crate) async fn drive<P: Plan>(&self, _: (), plan: P) -> Result<P::Output> {
        self.shared.drive(plan).await
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
        AsyncTx::savepoint_on(self.db, self.shared.clone()).await
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
    pub async fn atomic<T, F, Fut>(&mut self, f: F) -> Result<T>
    where
        F: FnOnce(AsyncTx<'a>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let child = AsyncTx::savepoint_on(self.db, self.shared.clone()).await?;
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
        let level = self.level;
        let ops = if commit {
            vec![TxOp::commit(level)]
        } else {
            TxOp::rollback(level)
        };
        let result = self.shared.exec(&ops).await;
        meta(&self.shared.meta).level = level - 1;
        if level == 1 {
            let mut lease = self.shared.lease.lock().await;
            if let Some(mut l) = lease.take() {
                let slot = l.slot()?;
                match (&result, commit) {
                    (Ok(()), _) => slot.in_tx = false,
                    // A failed COMMIT: roll back (SQLite keeps the
                    // transaction open after a failed COMMIT), or close.
                    (Err(_), true) if !slot.busy => {
                        if slot.roll_back().await.is_err() {
                            l.discard();
                        }
                    }
                    (Err(_), _) => l.discard(),
                }
            }
        }
        result
    }
}

impl Drop for AsyncTx<'_> {
    fn drop(&mut self) {
        if !(self.owner && self.open) {
            return;
        }
        if self.level == 1 {
            // The lease goes back through its own drop: rolled back on a
            // spawned task, or closed. If an operation holds it, the last
            // handle to let go does the same.
            if let Ok(mut lease) = self.shared.lease.try_lock() {
                drop(lease.take());
            }
        } else {
            let mut m = meta(&self.shared.meta);
            m.pending.extend(TxOp::rollback(self.level));
            m.level = self.level - 1;
        }
    }
}

/// Runs `f` with `tx`'s transaction scoped to this task, then commits on
/// `Ok` and rolls back on `Err` (the error of `f` wins over a rollback error).
async fn run_scope<'a, T, F, Fut>(tx: AsyncTx<'a>, f: F) -> Result<T>
where
    F: FnOnce(AsyncTx<'a>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let out = in_scope(tx.shared.clone(), f(tx.handle())).await;
    match out {
        Ok(v) => tx.commit().await.map(|()| v),
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
        match scoped(self.id()) {
            Some(shared) => AsyncTx::savepoint_on(self, shared).await,
            None => AsyncTx::begin_root(self).await,
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
    /// a.atomic(async |tx| {
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
    pub async fn atomic<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: FnOnce(AsyncTx<'a>) -> Fut,
        Fut: Future<Output = Result<T>>,
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
    pub async fn transaction<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: FnOnce(AsyncTx<'a>) -> Fut,
        Fut: Future<Output = Result<T>>,
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
    pub async fn savepoint<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: FnOnce(AsyncTx<'a>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.scope(Nesting::Savepoint, f).await
    }

    async fn scope<'a, T, F, Fut>(&'a self, nesting: Nesting, f: F) -> Result<T>
    where
        F: FnOnce(AsyncTx<'a>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let tx = match (scoped(self.id()), nesting) {
            (Some(shared), Nesting::Transaction) => {
                let level = meta(&shared.meta).level;
                let view = AsyncTx {
                    db: self,
                    shared,
                    level,
                    owner: false,
                    open: false,
                    _nested: PhantomData,
                };
                return f(view).await;
            }
            (Some(shared), _) => AsyncTx::savepoint_on(self, shared).await?,
            (None, Nesting::Savepoint) => return Err(savepoint_outside_transaction()),
            (None, _) => AsyncTx::begin_root(self).await?,
        };
        run_scope(tx, f).await
    }
}
