//! [`Database`]: one value, two halves.

use std::sync::Arc;

use crate::async_db::AsyncDb;
use crate::config::{BackendKind, Builder, Config};
use crate::error::Result;
use crate::model::Dialect;
use crate::policy::{AllowSyncGuard, Policy, SyncCheck};
use crate::pool::BlockingPool;
use crate::sync_db::SyncDb;

/// A database: a blocking half ([`sync`](Database::sync)) and an async half
/// ([`aio`](Database::aio)) over the same server, with one
/// [`SyncCheck`] policy. Cloning is cheap and shares everything.
///
/// ```
/// use dualdb::{Database, SyncCheck};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::open("sqlite::memory:").unwrap();
/// // setup, the blocking way
/// db.sync().execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)", &[]).unwrap();
/// db.set_allow_sync(SyncCheck::Error);
/// // request handlers, the async way; both halves see the same data
/// db.aio().execute("INSERT INTO note (body) VALUES (?)", &[&"hello"]).await.unwrap();
/// let n: i64 = db.aio().query_one("SELECT COUNT(*) FROM note", &[]).await.unwrap().get(0).unwrap();
/// assert_eq!(n, 1);
/// # });
/// ```
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    policy: Arc<Policy>,
    // In `Arc`s of their own: a database's halves send reads to its
    // replica's halves, which they hold.
    sync: Arc<SyncDb>,
    aio: Arc<AsyncDb>,
    replica: Option<Database>,
}

impl Database {
    /// Opens a database from a URL with default settings (see
    /// [`config`](crate::config) for the URL forms). No I/O happens here:
    /// each half connects on first use.
    ///
    /// ```
    /// use dualdb::Database;
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// let n: i64 = db.sync().query_one("SELECT 40 + 2", &[]).unwrap().get(0).unwrap();
    /// assert_eq!(n, 42);
    /// // A server URL opens without I/O; the first call connects.
    /// let pg = Database::open("postgres://app:secret@127.0.0.1:5432/app").unwrap();
    /// assert_eq!(pg.backend(), dualdb::BackendKind::Postgres);
    /// ```
    pub fn open(url: &str) -> Result<Database> {
        Builder::new(url).build()
    }

    /// A [`Builder`] for pool sizes, timeouts and the starting policy.
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").sync_pool_size(1).build().unwrap();
    /// assert_eq!(db.sync().status().max_size, 1);
    /// ```
    pub fn builder(url: &str) -> Builder {
        Builder::new(url)
    }

    pub(crate) fn from_config(config: Config) -> Result<Database> {
        let backend = crate::backend::open(&config)?;
        let replica = match &config.replica {
            Some(url) => Some(Database::from_config(Config {
                url: url.clone(),
                tls: config.replica_tls.clone(),
                replica: None,
                ..config.clone()
            })?),
            None => None,
        };
        let config = Arc::new(config);
        let policy = Arc::new(Policy::new(config.sync_check));
        let pool = BlockingPool::new(backend.clone(), &config);
        let sync = Arc::new(SyncDb::new(
            policy.clone(),
            pool,
            Dialect::new(config.kind, false),
            replica.as_ref().map(|r| r.inner.sync.clone()),
        ));
        Ok(Database {
            inner: Arc::new(Inner {
                sync: sync.clone(),
                aio: Arc::new_cyclic(|me| {
                    AsyncDb::new(
                        policy.id(),
                        backend,
                        config.clone(),
                        replica.as_ref().map(|r| r.inner.aio.clone()),
                        me.clone(),
                        sync,
                    )
                }),
                config,
                policy,
                replica,
            }),
        })
    }

    /// The read replica set with [`Builder::replica`], as a database of its
    /// own (for its pool statistics, or raw SQL that should read there).
    ///
    /// ```
    /// let db = dualdb::Database::builder("postgres://app@127.0.0.1:5432/app")
    ///     .replica("postgres://app@127.0.0.1:5433/app")
    ///     .build()
    ///     .unwrap();
    /// let replica = db.replica().unwrap();
    /// assert!(replica.config().redacted_url().contains("5433"));
    /// assert!(dualdb::Database::open("sqlite::memory:").unwrap().replica().is_none());
    /// ```
    pub fn replica(&self) -> Option<&Database> {
        self.inner.replica.as_ref()
    }

    /// The blocking half.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// db.sync().execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    /// ```
    pub fn sync(&self) -> &SyncDb {
        &self.inner.sync
    }

    /// The async half.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::open("sqlite::memory:")?;
    /// db.aio().execute("CREATE TABLE t (x INTEGER)", &[]).await?;
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn aio(&self) -> &AsyncDb {
        &self.inner.aio
    }

    /// The settings this database was built with.
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").async_pool_size(3).build().unwrap();
    /// assert_eq!(db.config().async_pool_size(), 3);
    /// ```
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Which server this database talks to.
    ///
    /// ```
    /// use dualdb::{BackendKind, Database};
    /// assert_eq!(Database::open("mysql://u@127.0.0.1/d").unwrap().backend(), BackendKind::Mysql);
    /// ```
    pub fn backend(&self) -> BackendKind {
        self.inner.config.kind
    }

    /// Sets the policy for blocking calls, effective at once on every thread.
    ///
    /// ```
    /// use dualdb::{Database, ErrorKind, SyncCheck};
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// db.set_allow_sync(SyncCheck::Error);
    /// assert_eq!(db.sync().query("SELECT 1", &[]).unwrap_err().kind(), ErrorKind::SyncNotAllowed);
    /// db.set_allow_sync(SyncCheck::Off);
    /// assert!(db.sync().query("SELECT 1", &[]).is_ok());
    /// ```
    pub fn set_allow_sync(&self, check: SyncCheck) {
        self.inner.policy.set(check);
    }

    /// The policy for blocking calls now.
    ///
    /// ```
    /// use dualdb::{Database, SyncCheck};
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// assert_eq!(db.allow_sync_mode(), SyncCheck::Off);
    /// db.set_allow_sync(SyncCheck::Warn);
    /// assert_eq!(db.allow_sync_mode(), SyncCheck::Warn);
    /// ```
    pub fn allow_sync_mode(&self) -> SyncCheck {
        self.inner.policy.get()
    }

    /// Allows blocking calls on this thread while the guard lives, whatever
    /// the policy; when the outermost guard ends, the blocking connections
    /// are closed (peewee-async's `with objects.allow_sync():`).
    ///
    /// ```
    /// use dualdb::{Database, SyncCheck};
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// db.set_allow_sync(SyncCheck::Error);
    /// {
    ///     let _guard = db.allow_sync();
    ///     db.sync().execute("CREATE TABLE cleanup (x INTEGER)", &[]).unwrap();
    /// } // the blocking connections close here
    /// assert!(db.sync().execute("DROP TABLE cleanup", &[]).is_err());
    /// ```
    pub fn allow_sync(&self) -> AllowSyncGuard {
        let db = self.clone();
        AllowSyncGuard::new(
            self.inner.policy.clone(),
            Box::new(move || db.sync().close_unchecked()),
        )
    }
}

// Here rather than in config.rs, which knows nothing of what it configures.
impl Builder {
    /// Builds the [`Database`]. No I/O: the URL and options
    /// are checked, and connections open on first use.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("sqlite::memory:")
    ///     .sync_pool_size(2)
    ///     .async_pool_size(8)
    ///     .acquire_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.sync().query_one("SELECT 1", &[]).unwrap().get::<i64>(0).unwrap(), 1);
    /// ```
    pub fn build(self) -> Result<Database> {
        Database::from_config(self.build_config()?)
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .field("url", &self.inner.config.redacted_url())
            .field("allow_sync", &self.allow_sync_mode())
            .field("sync", &self.inner.sync)
            .field("aio", &self.inner.aio)
            .finish()
    }
}
