//! [`SyncDb`]: the blocking half of a [`Database`](crate::Database).
//!
//! Every method is a blocking entry point: it checks the
//! [`SyncCheck`](crate::SyncCheck) policy first, then runs through
//! [`run_blocking`](crate::runtime) so that calling it from inside a Tokio
//! runtime never panics. Method names match [`AsyncDb`](crate::AsyncDb)'s.
//!
//! ```
//! use dualdb::Database;
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let sync = db.sync();
//! sync.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)", &[]).unwrap();
//! assert_eq!(sync.execute("INSERT INTO kv VALUES (?, ?), (?, ?)", &[&"a", &1, &"b", &2]).unwrap(), 2);
//! let total: i64 = sync.query_one("SELECT SUM(v) FROM kv", &[]).unwrap().get(0).unwrap();
//! assert_eq!(total, 3);
//! assert!(sync.query_opt("SELECT v FROM kv WHERE k = ?", &[&"zzz"]).unwrap().is_none());
//! ```

use std::sync::Arc;

use crate::config::BackendKind;
use crate::error::Result;
use crate::model::Dialect;
use crate::plan::{Plan, drive_sync};
use crate::policy::Policy;
use crate::pool::{BlockingPool, PoolStatus};
use crate::runtime::run_blocking;
use crate::sync_scope::{Scope, SyncTxShared, plain_scope};
use crate::transaction::Guards;

/// The blocking half: `tokio-postgres` (on a runtime of its own), `mysql` or
/// `rusqlite` connections in a
/// pool for threaded sync code. Reached through
/// [`Database::sync`](crate::Database::sync).
///
/// ```
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let s: &dualdb::SyncDb = db.sync();
/// assert_eq!(s.query_one("SELECT 'blocking'", &[]).unwrap().get::<String>(0).unwrap(), "blocking");
/// ```
pub struct SyncDb {
    policy: Arc<Policy>,
    pool: BlockingPool,
    dialect: Dialect,
    /// Where reads outside transactions go, if set.
    replica: Option<Arc<SyncDb>>,
    /// The transaction guards open now, by the thread that began each.
    guards: Guards<SyncTxShared>,
}

thread_local! {
    /// Databases whose reads this thread pins to the primary (`on_primary`).
    static PINNED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl SyncDb {
    pub(crate) fn new(
        policy: Arc<Policy>,
        pool: BlockingPool,
        dialect: Dialect,
        replica: Option<Arc<SyncDb>>,
    ) -> Self {
        SyncDb {
            policy,
            pool,
            dialect,
            replica,
            guards: Guards::default(),
        }
    }

    pub(crate) fn guards(&self) -> &Guards<SyncTxShared> {
        &self.guards
    }

    /// The replica a read-only plan outside a transaction goes to, unless
    /// this thread pinned the database to its primary.
    pub(crate) fn replica_for(&self, plan: &impl Plan) -> Option<&SyncDb> {
        let replica = self.replica.as_ref()?;
        let pinned = PINNED.with(|p| p.borrow().contains(&self.id()));
        (plan.read_only() && !pinned).then_some(&**replica)
    }

    /// Runs `f` with every read of this database on the primary
    /// (read-your-writes): on this thread, while `f` runs. Without a replica
    /// it only runs `f`.
    ///
    /// ```
    /// # use dualdb::{Database, Model};
    /// # #[derive(Model, Debug, Clone, PartialEq)]
    /// # struct Note { #[model(primary_key, auto)] id: i64, body: String }
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// # db.sync().create_table::<Note>().unwrap();
    /// let note = db.sync().on_primary(|| {
    ///     let note = db.sync().create(Note { id: 0, body: "hi".into() })?;
    ///     db.sync().get(Note::by_id(note.id)) // sees the write, replica or not
    /// }).unwrap();
    /// assert_eq!(note.body, "hi");
    /// ```
    pub fn on_primary<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Unpin(u64);
        impl Drop for Unpin {
            fn drop(&mut self) {
                PINNED.with(|p| {
                    let mut p = p.borrow_mut();
                    if let Some(i) = p.iter().rposition(|&id| id == self.0) {
                        p.remove(i);
                    }
                });
            }
        }
        PINNED.with(|p| p.borrow_mut().push(self.id()));
        let _unpin = Unpin(self.id());
        f()
    }

    /// The transaction a plain call joins ([`plain_scope`]: a guard this
    /// thread began, or the closure scope it runs in), if any, and the
    /// dialect of statements run there: looked up once a call, for both.
    pub(crate) fn context(&self) -> (Option<Scope>, Dialect) {
        let tx = plain_scope(self.id(), &self.guards);
        let d = Dialect::new(
            self.dialect.kind,
            tx.as_ref().is_some_and(Scope::in_transaction),
        );
        (tx, d)
    }

    pub(crate) fn kind(&self) -> BackendKind {
        self.dialect.kind
    }

    pub(crate) fn id(&self) -> u64 {
        self.policy.id()
    }

    pub(crate) fn pool(&self) -> &BlockingPool {
        &self.pool
    }

    /// Lets this half's blocking calls through on this thread while the
    /// guard lives: blocking work the async half hands to a blocking thread
    /// (migrations), which its async caller did not make as a blocking call.
    pub(crate) fn allowed_here(&self) -> crate::policy::AllowSyncGuard {
        crate::policy::AllowSyncGuard::new(self.policy.clone(), Box::new(|| {}))
    }

    /// The `allow_sync` check of a blocking entry point.
    #[track_caller]
    pub(crate) fn check(&self, operation: &'static str) -> Result<()> {
        self.policy.check(operation)
    }

    /// Runs a Manager operation's plan: in the transaction of the closure
    /// scope open on this thread ([`context`](Self::context)), if any, else on
    /// one pooled connection.
    #[track_caller]
    pub(crate) fn drive<P: Plan>(
        &self,
        operation: &'static str,
        scope: Option<Scope>,
        mut plan: P,
    ) -> Result<P::Output> {
        self.check(operation)?;
        if let Some(e) = plan.failed() {
            return Err(e);
        }
        match scope {
            Some(tx) => tx.drive(plan),
            None => {
                let db = self.replica_for(&plan).unwrap_or(self);
                db.drive_pooled(&mut plan)
            }
        }
    }

    /// Lends a connection and drives `plan` on it, off any Tokio worker; the
    /// caller checked the policy. If the plan left a transaction of its own
    /// open, the connection is rolled back before it is lent again.
    fn drive_pooled<P: Plan>(&self, plan: &mut P) -> Result<P::Output> {
        run_blocking(|| {
            let mut conn = self.pool.lease()?;
            let out = drive_sync(&mut *conn, plan);
            conn.in_tx = plan.left_open();
            out
        })
    }

    /// Opens a connection now (instead of on first use), so that a bad
    /// address or password shows at start-up.
    ///
    /// ```
    /// use dualdb::{Database, ErrorKind};
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// db.sync().connect().unwrap();
    /// assert_eq!(db.sync().status().size, 1);
    /// // A server that is not there fails here, not on the first query:
    /// let gone = Database::open("postgres://u:p@127.0.0.1:1/db").unwrap();
    /// assert_eq!(gone.sync().connect().unwrap_err().kind(), ErrorKind::Connect);
    /// ```
    #[track_caller]
    pub fn connect(&self) -> Result<()> {
        self.policy.check("connect")?;
        run_blocking(|| self.pool.connect())
    }

    /// A listener on `channels` (PostgreSQL LISTEN), on a connection of its
    /// own outside the pool, that connects again and listens again when its
    /// connection is lost: see [`SyncListener`](crate::SyncListener).
    /// Channels are named as `notify` names them, case and all. Other
    /// backends have no notifications: a `Usage` error before any I/O.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let err = db.sync().listen(["orders"]).unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::Usage);
    /// ```
    #[track_caller]
    pub fn listen<I, S>(&self, channels: I) -> Result<crate::SyncListener>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy.check("listen")?;
        let channels = channels.into_iter().map(Into::into).collect();
        crate::SyncListener::open(self.pool.backend().clone(), channels, self.policy.clone())
    }

    /// Closes the idle connections; connections in use close when they come
    /// back. The next call connects again.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// db.sync().connect().unwrap();
    /// db.sync().close().unwrap();
    /// assert_eq!(db.sync().status().size, 0);
    /// db.sync().query("SELECT 1", &[]).unwrap(); // connects again
    /// ```
    #[track_caller]
    pub fn close(&self) -> Result<()> {
        self.policy.check("close")?;
        self.close_unchecked();
        Ok(())
    }

    pub(crate) fn close_unchecked(&self) {
        let _ = run_blocking(|| {
            self.pool.close();
            Ok(())
        });
        if let Some(replica) = &self.replica {
            replica.close_unchecked();
        }
    }

    /// The blocking pool's statistics. Not a blocking call.
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").sync_pool_size(2).build().unwrap();
    /// db.sync().query("SELECT 1", &[]).unwrap();
    /// let st = db.sync().status();
    /// assert_eq!((st.max_size, st.size, st.idle, st.in_use(), st.waiting), (2, 1, 1, 0, 0));
    /// ```
    pub fn status(&self) -> PoolStatus {
        self.pool.status()
    }
}

impl std::fmt::Debug for SyncDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncDb")
            .field("status", &self.status())
            .finish()
    }
}
