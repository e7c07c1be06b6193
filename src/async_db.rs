//! [`AsyncDb`]: the async half of a [`Database`](crate::Database).
//!
//! The same calls as [`SyncDb`](crate::SyncDb), as futures: moving a function
//! from the blocking half to the async half means `db.sync()` becoming
//! `db.aio()` and an `.await` after each call. The async half needs a Tokio
//! runtime (either flavour).
//!
//! ```
//! use dualdb::Database;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = Database::open("sqlite::memory:").unwrap();
//! let aio = db.aio();
//! aio.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)", &[]).await.unwrap();
//! aio.execute("INSERT INTO kv VALUES (?, ?)", &[&"a", &1]).await.unwrap();
//! let row = aio.query_one("SELECT v FROM kv WHERE k = ?", &[&"a"]).await.unwrap();
//! assert_eq!(row.get::<i64>(0).unwrap(), 1);
//! db.aio().close().await.unwrap();
//! // a later call reconnects
//! assert_eq!(aio.query("SELECT * FROM kv", &[]).await.unwrap().len(), 1);
//! # });
//! ```

use std::sync::{Arc, RwLock, Weak};

use crate::async_scope::{AsyncTxShared, Scope, plain_scope};
use crate::backend::{Backend, BoxFuture};
use crate::config::{BackendKind, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::model::Dialect;
use crate::plan::Plan;
use crate::plan::{Target, drive_async};
use crate::pool::{AsyncPool, GetError};
use crate::pool::{Lease, PoolStatus, SharedPool};
use crate::sync_db::SyncDb;
use crate::transaction::Guards;

/// The async half: `tokio-postgres`, `mysql_async` or offloaded `rusqlite`
/// connections in a pool of their own (and, on PostgreSQL, a few shared
/// connections outside transactions). Reached through
/// [`Database::aio`](crate::Database::aio).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = dualdb::Database::open("sqlite::memory:")?;
/// let a: &dualdb::AsyncDb = db.aio();
/// assert_eq!(a.query_one("SELECT 'async'", &[]).await?.get::<String>(0)?, "async");
/// # Ok::<(), dualdb::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncDb {
    id: u64,
    backend: Arc<dyn Backend>,
    config: Arc<Config>,
    /// `None` after `close` until the next call builds a fresh pool.
    pool: RwLock<Option<AsyncPool>>,
    /// PostgreSQL: the pipelined connections for everything outside
    /// transactions.
    shared: SharedPool,
    /// Where reads outside transactions go, if set.
    replica: Option<Arc<AsyncDb>>,
    /// The transaction guards open now, by the task that began each.
    /// The blocking half of the same database, on whose blocking threads
    /// the async half runs its migrations (src/migrate/run.rs).
    blocking: Arc<SyncDb>,
    guards: Guards<AsyncTxShared>,
    /// This half, as the `Arc` its database holds: a row stream's statement
    /// future owns it, so that it can finish on a task of its own.
    me: Weak<AsyncDb>,
}

tokio::task_local! {
    /// Databases whose reads this task pins to the primary (`on_primary`).
    static PINNED: Vec<u64>;
}

impl AsyncDb {
    pub(crate) fn new(
        id: u64,
        backend: Arc<dyn Backend>,
        config: Arc<Config>,
        replica: Option<Arc<AsyncDb>>,
        me: Weak<AsyncDb>,
        blocking: Arc<SyncDb>,
    ) -> Self {
        AsyncDb {
            id,
            blocking,
            me,
            replica,
            shared: SharedPool::new(
                backend.clone(),
                config.shared_connections,
                config.connect_timeout,
                config.lifetimes,
            ),
            backend,
            config,
            pool: RwLock::new(None),
            guards: Guards::default(),
        }
    }

    /// The blocking half of the same database.
    pub(crate) fn blocking(&self) -> Arc<SyncDb> {
        self.blocking.clone()
    }

    /// This half as an owned `Arc` (see [`AsyncDb::me`]).
    pub(crate) fn owned(&self) -> Option<Arc<AsyncDb>> {
        self.me.upgrade()
    }

    pub(crate) fn guards(&self) -> &Guards<AsyncTxShared> {
        &self.guards
    }

    fn pool(&self) -> Result<AsyncPool> {
        if let Some(p) = self.pool.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(p.clone());
        }
        let mut slot = self.pool.write().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let pool = AsyncPool::new(self.backend.clone(), &self.config);
        *slot = Some(pool.clone());
        Ok(pool)
    }

    pub(crate) async fn acquire(&self) -> Result<Lease> {
        // A `close` racing with this call closes the pool under it: take the
        // fresh pool once.
        for _ in 0..2 {
            match self.pool()?.get().await {
                Ok(obj) => return Ok(Lease::new(obj)),
                Err(GetError::Closed) => continue,
                Err(GetError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorKind::Usage,
            "the async pool was closed while acquiring",
        ))
    }

    /// Lends a connection and runs `op` on it; if the returned future is
    /// dropped before `op` finishes, the connection is discarded, not reused;
    /// if the plan left a transaction of its own open, it is rolled back
    /// before the connection is lent again.
    async fn run<P: Plan, T>(
        &self,
        plan: &mut P,
        op: impl for<'c> FnOnce(
            &'c mut dyn crate::backend::AsyncConn,
            &'c mut P,
        ) -> BoxFuture<'c, Result<T>>,
    ) -> Result<T> {
        let mut lease = self.acquire().await?;
        let slot = lease.slot()?;
        slot.busy = true;
        let out = op(&mut *slot.conn, plan).await;
        slot.busy = false;
        slot.in_tx = plan.left_open();
        out
    }

    /// The transaction a plain call joins ([`plain_scope`]: a guard this
    /// task began, or the closure scope it runs in), if any, and the dialect
    /// of statements run there: looked up once a call, when it is made, for
    /// both.
    pub(crate) fn context(&self) -> (Option<Scope>, Dialect) {
        let tx = plain_scope(self.id(), &self.guards);
        let d = Dialect::new(
            self.config.kind,
            tx.as_ref().is_some_and(Scope::in_transaction),
        );
        (tx, d)
    }

    pub(crate) fn kind(&self) -> BackendKind {
        self.config.kind
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Runs a Manager operation's plan: in the transaction of the closure
    /// scope open in this task, if any; else on a shared connection where
    /// there are some (PostgreSQL), else on a pooled one. Its future is in
    /// every async call's and moved with it: keep it small. The transaction
    /// path is boxed, and so is the instrumented statement in
    /// [`drive_async`]; the plan is the block's own captured value, not
    /// moved into a local (an `async fn` would keep both copies).
    #[allow(clippy::manual_async_fn)] // see above: an `async fn` copies the plan
    pub(crate) fn drive<P: Plan>(
        &self,
        scope: Option<Scope>,
        mut plan: P,
    ) -> impl Future<Output = Result<P::Output>> + Send + use<'_, P> {
        async move {
            if let Some(e) = plan.failed() {
                return Err(e);
            }
            if let Some(tx) = scope {
                return Box::pin(tx.drive(plan)).await;
            }
            let db = self.replica_for(&plan).unwrap_or(self);
            let shared = if plan.exclusive() {
                None
            } else {
                db.shared.get().await
            };
            match shared {
                Some(lease) => drive_async(Target::Shared(&*lease?.conn), &mut plan).await,
                None => {
                    db.run(&mut plan, |c, plan| {
                        Box::pin(drive_async(Target::Owned(c), plan))
                    })
                    .await
                }
            }
        }
    }

    /// The replica a read-only plan outside a transaction goes to, unless
    /// this task pinned the database to its primary.
    pub(crate) fn replica_for(&self, plan: &impl Plan) -> Option<&AsyncDb> {
        let replica = self.replica.as_ref()?;
        let pinned = PINNED.try_with(|p| p.contains(&self.id())).unwrap_or(false);
        (plan.read_only() && !pinned).then_some(&**replica)
    }

    /// Runs `fut` with every read of this database on the primary
    /// (read-your-writes): in this task, while `fut` runs; tasks it spawns
    /// are not pinned. Without a replica it only runs `fut`.
    ///
    /// ```
    /// # use dualdb::{Database, Model};
    /// # #[derive(Model, Debug, Clone, PartialEq)]
    /// # struct Note { #[model(primary_key, auto)] id: i64, body: String }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::open("sqlite::memory:")?;
    /// # db.aio().create_table::<Note>().await?;
    /// let note = db.aio().on_primary(async {
    ///     let note = db.aio().create(Note { id: 0, body: "hi".into() }).await?;
    ///     db.aio().get(Note::by_id(note.id)).await // sees the write, replica or not
    /// }).await?;
    /// assert_eq!(note.body, "hi");
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn on_primary<F: std::future::Future>(&self, fut: F) -> F::Output {
        let mut pinned = PINNED.try_with(|p| p.clone()).unwrap_or_default();
        pinned.push(self.id());
        PINNED.scope(pinned, fut).await
    }

    /// A listener on `channels` (PostgreSQL LISTEN), a `Stream` on a
    /// connection of its own outside the pool, that connects again and
    /// listens again when its connection is lost: see
    /// [`Listener`](crate::Listener). Channels are named as
    /// [`notify`](Self::notify) names them, case and all. Other backends
    /// have no notifications: a `Usage` error before any I/O.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::open("sqlite::memory:")?;
    /// let err = db.aio().listen(["orders"]).await.unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::Usage);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn listen<I, S>(&self, channels: I) -> Result<crate::Listener>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let channels = channels.into_iter().map(Into::into).collect();
        crate::Listener::open(self.backend.clone(), channels).await
    }

    /// Opens a connection now, so that a bad address or password shows at
    /// start-up.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let gone = dualdb::Database::open("mysql://u:p@127.0.0.1:1/db")?;
    /// assert_eq!(gone.aio().connect().await.unwrap_err().kind(), dualdb::ErrorKind::Connect);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self) -> Result<()> {
        match self.shared.connect().await {
            Some(r) => r,
            None => self.acquire().await.map(drop),
        }
    }

    /// Drains the pool: idle connections close now, connections in use close
    /// when they come back, and the next call builds a fresh pool. A
    /// `Result` as the blocking half's [`close`](crate::SyncDb::close)
    /// (which `allow_sync` may refuse); on this half it does not fail.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::open("sqlite::memory:")?;
    /// db.aio().query("SELECT 1", &[]).await?;
    /// db.aio().close().await?;
    /// assert_eq!(db.aio().status().size, 0);
    /// db.aio().query("SELECT 1", &[]).await?; // connects again
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn close(&self) -> Result<()> {
        self.shared.close();
        let old = self.pool.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(pool) = old {
            pool.close();
        }
        if let Some(replica) = &self.replica {
            Box::pin(replica.close()).await?;
        }
        Ok(())
    }

    /// The async pool's statistics (all zero before the first call and after `close`).
    ///
    /// On PostgreSQL `size` and `idle` include the shared connections (always
    /// available: they are never lent out); `in_use()` counts the
    /// connections lent to transactions.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::builder("sqlite::memory:").async_pool_size(2).build()?;
    /// let tx = db.aio().begin().await?;
    /// assert_eq!(db.aio().status().in_use(), 1);
    /// tx.rollback().await?;
    /// assert_eq!(db.aio().status().in_use(), 0);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn status(&self) -> PoolStatus {
        let guard = self.pool.read().unwrap_or_else(|e| e.into_inner());
        let shared = self.shared.open();
        let mut status = match guard.as_ref() {
            Some(p) => p.status(),
            None => PoolStatus {
                max_size: self.config.async_pool_size,
                size: 0,
                idle: 0,
                waiting: 0,
            },
        };
        status.size += shared;
        status.idle += shared;
        status
    }
}

impl std::fmt::Debug for AsyncDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDb")
            .field("status", &self.status())
            .finish()
    }
}
