//! Opening a [`Database`](crate::Database): the URL forms, the [`Builder`] and
//! every timeout, each explicit.
//!
//! | URL | backend |
//! |---|---|
//! | `postgres://user:pass@host:port/db?…`, `postgresql://…` | PostgreSQL (options as libpq URLs) |
//! | `mysql://user:pass@host:port/db?…`, `mariadb://…` | MySQL / MariaDB |
//! | `sqlite://path/to/file.db`, `sqlite:file.db` | SQLite file (created if missing) |
//! | `sqlite::memory:` | a private temporary SQLite database shared by both halves, deleted when the `Database` is dropped |
//!
//! ```
//! use std::time::Duration;
//! use dualdb::Database;
//!
//! let db = Database::builder("sqlite::memory:")
//!     .sync_pool_size(2)
//!     .async_pool_size(8)
//!     .acquire_timeout(Duration::from_secs(5))
//!     .connect_timeout(Duration::from_secs(3))
//!     .statement_timeout(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(db.config().async_pool_size(), 8);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::policy::SyncCheck;
pub use crate::tls::TlsMode;
use crate::tls::{TlsSettings, UrlSpelling};

/// Which database server a [`Database`](crate::Database) talks to.
///
/// ```
/// use dualdb::{BackendKind, Database};
/// let db = Database::open("sqlite::memory:").unwrap();
/// let placeholder = match db.backend() {
///     BackendKind::Postgres => "$1",
///     _ => "?",
/// };
/// assert_eq!(placeholder, "?");
/// assert_eq!(BackendKind::Mysql.to_string(), "mysql");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// PostgreSQL, through `tokio-postgres` (the blocking half on a runtime
    /// of its own).
    Postgres,
    /// MySQL or MariaDB, through `mysql` and `mysql_async`.
    Mysql,
    /// SQLite, through `rusqlite`.
    Sqlite,
}

impl BackendKind {
    /// Whether the async half's connections have cursors
    /// (`AsyncConn::open_cursor`), so that a row stream outside a
    /// transaction polls the driver's own row stream as its reader polls it:
    /// tokio-postgres's is a `Stream` of its own, and mysql_async's is kept
    /// with the connection it borrows (src/backend/mysql/cursor.rs); SQLite's
    /// rows come through dualdb's plan loop from a blocking thread.
    pub(crate) fn has_async_cursors(self) -> bool {
        self != BackendKind::Sqlite
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Mysql => "mysql",
            BackendKind::Sqlite => "sqlite",
        })
    }
}

/// Where an SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteTarget {
    File(std::path::PathBuf),
    Memory,
}

/// The settings of a [`Database`](crate::Database), fixed when it is built.
///
/// The URL is kept only in redacted form: `Debug` shows the password as `***`.
///
/// ```
/// let db = dualdb::Database::open("postgres://app:hunter2@127.0.0.1/app").unwrap();
/// let shown = format!("{:?}", db.config());
/// assert!(shown.contains("***") && !shown.contains("hunter2"));
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) kind: BackendKind,
    pub(crate) url: Secret,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) sqlite: Option<SqliteTarget>,
    pub(crate) sync_pool_size: usize,
    pub(crate) async_pool_size: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) statement_timeout: Option<Duration>,
    pub(crate) statement_cache_size: usize,
    pub(crate) prepared_statements: bool,
    /// A read replica's URL: reads outside transactions go there.
    pub(crate) replica: Option<Secret>,
    pub(crate) shared_connections: usize,
    pub(crate) check_idle_after: Duration,
    pub(crate) lifetimes: Lifetimes,
    /// Statements run on every new connection, and again after a session's
    /// reset.
    pub(crate) after_connect: Arc<[String]>,
    /// TLS for `url`: its own parameters, overridden by the builder's.
    pub(crate) tls: TlsSettings,
    /// TLS for `replica`, the same way.
    pub(crate) replica_tls: TlsSettings,
    pub(crate) sync_check: SyncCheck,
}

/// How long pooled connections live: [`Builder::max_lifetime`],
/// [`Builder::idle_timeout`], [`Builder::min_idle`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Lifetimes {
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) min_idle: usize,
}

impl Lifetimes {
    /// Whether a pool needs its keeper (a thread or task that closes
    /// expired idle connections and opens up to `min_idle`).
    pub(crate) fn need_keeper(&self) -> bool {
        *self != Lifetimes::default()
    }

    /// When a connection opened now was born, if its age matters (the clock
    /// is read only when there is a maximum lifetime).
    pub(crate) fn birth(&self) -> Option<std::time::Instant> {
        self.max_lifetime.map(|_| std::time::Instant::now())
    }

    /// Whether a connection born at `born` outlived the maximum lifetime.
    #[inline]
    pub(crate) fn outlived(&self, born: Option<std::time::Instant>) -> bool {
        matches!((born, self.max_lifetime), (Some(b), Some(max)) if b.elapsed() > max)
    }

    /// Whether a pool's keeper closes an idle connection born at `born` and
    /// idle since `since`, with `idle` connections idle (this one
    /// included): past its lifetime, or past the idle timeout while more
    /// than `min_idle` are idle.
    pub(crate) fn closes_idle(
        &self,
        born: Option<std::time::Instant>,
        since: Option<std::time::Instant>,
        idle: usize,
    ) -> bool {
        let timed_out =
            matches!((since, self.idle_timeout), (Some(s), Some(limit)) if s.elapsed() > limit);
        self.outlived(born) || (timed_out && idle > self.min_idle)
    }

    /// How often the keeper looks: a quarter of the shortest limit, within
    /// 10 ms and 1 s.
    pub(crate) fn period(&self) -> Duration {
        let shortest = [self.max_lifetime, self.idle_timeout]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Duration::from_secs(1));
        (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

impl Config {
    /// The backend the URL names.
    ///
    /// ```
    /// use dualdb::{BackendKind, Database};
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// assert_eq!(db.config().backend(), BackendKind::Sqlite);
    /// ```
    pub fn backend(&self) -> BackendKind {
        self.kind
    }
    /// The URL with its password replaced by `***`.
    ///
    /// ```
    /// let config = dualdb::Database::builder("postgres://app:hunter2@127.0.0.1/app")
    ///     .build_config()
    ///     .unwrap();
    /// assert!(!config.redacted_url().contains("hunter2"));
    /// assert!(!format!("{config:?}").contains("hunter2"));
    /// ```
    pub fn redacted_url(&self) -> String {
        redact(self.url.expose())
    }
    /// The most connections the blocking half keeps.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").sync_pool_size(2).build_config().unwrap();
    /// assert_eq!(config.sync_pool_size(), 2);
    /// ```
    pub fn sync_pool_size(&self) -> usize {
        self.sync_pool_size
    }
    /// The most connections the async half keeps.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").async_pool_size(8).build_config().unwrap();
    /// assert_eq!(config.async_pool_size(), 8);
    /// ```
    pub fn async_pool_size(&self) -> usize {
        self.async_pool_size
    }
    /// How long a call waits for a free pooled connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").acquire_timeout(Duration::from_secs(5)).build_config().unwrap();
    /// assert_eq!(config.acquire_timeout(), Duration::from_secs(5));
    /// ```
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }
    /// How long opening one connection may take.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.connect_timeout(), Duration::from_secs(10));
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The server-side limit on one statement, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").statement_timeout(Duration::from_millis(1500)).build_config().unwrap();
    /// assert_eq!(config.statement_timeout(), Some(Duration::from_millis(1500)));
    /// ```
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }
    /// Prepared statements kept per connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.statement_cache_size(), 256);
    /// ```
    pub fn statement_cache_size(&self) -> usize {
        self.statement_cache_size
    }
    /// PostgreSQL: whether statements are prepared and cached (see
    /// [`Builder::prepared_statements`]).
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert!(config.prepared_statements());
    /// ```
    pub fn prepared_statements(&self) -> bool {
        self.prepared_statements
    }
    /// PostgreSQL: connections the async half shares between tasks outside
    /// transactions.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").shared_connections(2).build_config().unwrap();
    /// assert_eq!(config.shared_connections(), 2);
    /// ```
    pub fn shared_connections(&self) -> usize {
        self.shared_connections
    }
    /// A pooled connection idle longer than this is pinged before reuse.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.check_idle_after(), Duration::from_secs(1));
    /// ```
    pub fn check_idle_after(&self) -> Duration {
        self.check_idle_after
    }
    /// The longest a pooled connection lives ([`Builder::max_lifetime`]).
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.max_lifetime(), None);
    /// ```
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.lifetimes.max_lifetime
    }
    /// How long an idle connection is kept ([`Builder::idle_timeout`]).
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.idle_timeout(), None);
    /// ```
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.lifetimes.idle_timeout
    }
    /// The idle connections each pool keeps open ([`Builder::min_idle`]).
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.min_idle(), 0);
    /// ```
    pub fn min_idle(&self) -> usize {
        self.lifetimes.min_idle
    }
    /// The statements run on every new connection ([`Builder::after_connect`]).
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:")
    ///     .after_connect("PRAGMA foreign_keys = ON")
    ///     .build_config()
    ///     .unwrap();
    /// assert_eq!(config.after_connect(), ["PRAGMA foreign_keys = ON"]);
    /// ```
    pub fn after_connect(&self) -> &[String] {
        &self.after_connect
    }
    /// The CA file TLS connections verify the server with, if one was
    /// given (in the URL or to the builder); without one, verifying modes
    /// use the system's roots.
    ///
    /// ```
    /// let config = dualdb::Database::builder("sqlite::memory:").build_config().unwrap();
    /// assert_eq!(config.tls_ca_file(), None);
    /// ```
    pub fn tls_ca_file(&self) -> Option<&std::path::Path> {
        self.tls.ca_file.as_deref()
    }
    /// The [`TlsMode`] connections use, from the URL's `sslmode` /
    /// `ssl-mode` and the builder (see [`Builder::tls_mode`]).
    ///
    /// ```
    /// use dualdb::TlsMode;
    /// let config = dualdb::Database::builder("postgres://app@127.0.0.1/app?sslmode=prefer")
    ///     .build_config()
    ///     .unwrap();
    /// assert_eq!(config.tls_mode(), TlsMode::Prefer);
    /// // Taken out of the URL the driver reads.
    /// assert!(!config.redacted_url().contains("sslmode"));
    /// ```
    pub fn tls_mode(&self) -> TlsMode {
        self.tls.mode()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("backend", &self.kind)
            .field("url", &self.redacted_url())
            .field("sync_pool_size", &self.sync_pool_size)
            .field("async_pool_size", &self.async_pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("prepared_statements", &self.prepared_statements)
            .field(
                "replica",
                &self.replica.as_ref().map(|r| redact(r.expose())),
            )
            .field("shared_connections", &self.shared_connections)
            .field("check_idle_after", &self.check_idle_after)
            .field("max_lifetime", &self.lifetimes.max_lifetime)
            .field("idle_timeout", &self.lifetimes.idle_timeout)
            .field("min_idle", &self.lifetimes.min_idle)
            // Their count only: a statement may hold a secret (`SET ROLE`).
            .field("after_connect", &self.after_connect.len())
            .field("tls", &self.tls)
            .field("sync_check", &self.sync_check)
            .finish()
    }
}

/// A string that never prints: the URL, which may hold a password.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The URL with any password replaced by `***`.
///
/// The `url` crate's reading is kept only where every driver reads the URL
/// the same way: it parses, has at most one `@`, before its host (the `url`
/// crate ends the userinfo at the last `@` before the path, tokio-postgres
/// at the first `@` anywhere), and no `#`. Anything else (a
/// password with an unencoded `@`, `/`, `?` or `#`, a multi-host URL) is
/// masked from after the user name to the last `@` in the whole text, and
/// shown only up to the end of its hosts: whatever a reader took for the
/// password, none of it is shown (tests/secrets.rs fuzzes this).
pub(crate) fn redact(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_string();
    }
    match url::Url::parse(url) {
        Ok(u) if unambiguous(url, &u) => redact_parsed(u),
        _ => redact_by_hand(url),
    }
}

/// True if the URL has at most one `@`, and not after its host, and no
/// `#` (no database URL has a fragment; tokio-postgres reads one as part
/// of the value before it): then its userinfo and query values end where
/// every reader ends them.
fn unambiguous(url: &str, u: &url::Url) -> bool {
    url.matches('@').count() <= 1
        && u.fragment().is_none()
        && (!u.has_host() || !url[u[..url::Position::AfterPort].len()..].contains('@'))
}

fn redact_parsed(mut u: url::Url) -> String {
    u.set_fragment(None);
    if u.password().is_some() {
        // Only fails for URLs that cannot have a password, which we just saw one in.
        let _ = u.set_password(Some("***"));
    }
    // `password=` in the query string (libpq style) too.
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") {
                "***".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// `scheme://user:***@hosts/…`: the user name (up to the first `:`, `@`,
/// `/`, `?` or `#`), the rest of the userinfo masked, and the hosts only
/// where one `@` ends the userinfo under every reading (it is the only
/// one, and before any `/`, `?` or `#`): else `…`, since what follows one
/// `@` may be a piece of a password under another reading.
fn redact_by_hand(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable url>".to_string();
    };
    let stops = ['/', '?', '#'];
    let end = |s: &str, stops: &[char]| s.find(stops).unwrap_or(s.len());
    let authority = &rest[..end(rest, &stops)];
    match (rest.find('@'), url.matches('@').count()) {
        (None, _) => format!("{scheme}://{authority}/…"),
        (Some(at), 1) if at < authority.len() => {
            let user = &rest[..end(rest, &[':', '@'])];
            format!("{scheme}://{user}:***@{}/…", &authority[at + 1..])
        }
        (Some(_), _) => {
            let user = &rest[..end(rest, &[':', '@', '/', '?', '#'])];
            format!("{scheme}://{user}:***@…")
        }
    }
}

/// `scheme://[userinfo@]hosts[/rest]` split into its parts.
fn authority(url: &str) -> Option<(&str, Option<&str>, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (auth, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match auth.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, auth),
    };
    Some((scheme, userinfo, hosts, path))
}

/// One URL per host of a multi-host URL (`mysql://u:p@h1:3306,h2:3307/db`),
/// in order; a single-host URL as it is.
pub(crate) fn split_hosts(url: &str) -> Vec<String> {
    match authority(url) {
        Some((scheme, userinfo, hosts, path)) if hosts.contains(',') => hosts
            .split(',')
            .map(|host| match userinfo {
                Some(u) => format!("{scheme}://{u}@{host}{path}"),
                None => format!("{scheme}://{host}{path}"),
            })
            .collect(),
        _ => vec![url.to_string()],
    }
}

/// Builds a [`Database`](crate::Database) with explicit pool sizes and timeouts.
///
/// Nothing connects at build time: each half opens its first connection on
/// its first call, or on an explicit `connect`.
///
/// ```
/// use std::time::Duration;
/// use dualdb::{Database, SyncCheck};
///
/// let db = Database::builder("sqlite::memory:")
///     .sync_pool_size(2)
///     .async_pool_size(8)
///     .acquire_timeout(Duration::from_secs(5))
///     .connect_timeout(Duration::from_secs(2))
///     .statement_timeout(Duration::from_secs(30))
///     .allow_sync(SyncCheck::Warn)
///     .build()
///     .unwrap();
/// assert_eq!(db.allow_sync_mode(), SyncCheck::Warn);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    url: Secret,
    sync_pool_size: usize,
    async_pool_size: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
    statement_cache_size: usize,
    prepared_statements: bool,
    replica: Option<Secret>,
    shared_connections: usize,
    check_idle_after: Duration,
    lifetimes: Lifetimes,
    after_connect: Vec<String>,
    tls: TlsSettings,
    sync_check: SyncCheck,
}

impl Builder {
    pub(crate) fn new(url: &str) -> Self {
        Builder {
            url: Secret(url.to_string()),
            sync_pool_size: 4,
            async_pool_size: 16,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
            statement_cache_size: 256,
            prepared_statements: true,
            replica: None,
            shared_connections: 4,
            check_idle_after: Duration::from_secs(1),
            lifetimes: Lifetimes::default(),
            after_connect: Vec::new(),
            tls: TlsSettings::default(),
            sync_check: SyncCheck::Off,
        }
    }

    /// The most connections the blocking half keeps (default 4). Threads
    /// beyond that wait up to the acquire timeout.
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").sync_pool_size(1).build().unwrap();
    /// assert_eq!(db.sync().status().max_size, 1);
    /// ```
    pub fn sync_pool_size(mut self, n: usize) -> Self {
        self.sync_pool_size = n;
        self
    }

    /// The most connections the async half keeps (default 16).
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").async_pool_size(4).build().unwrap();
    /// assert_eq!(db.config().async_pool_size(), 4);
    /// ```
    pub fn async_pool_size(mut self, n: usize) -> Self {
        self.async_pool_size = n;
        self
    }

    /// How long a call waits for a pooled connection before it fails with
    /// [`ErrorKind::PoolTimeout`](crate::ErrorKind::PoolTimeout) (default 30 s).
    /// On SQLite it is also the busy timeout for a locked database.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("sqlite::memory:")
    ///     .acquire_timeout(Duration::from_millis(250))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.config().acquire_timeout(), Duration::from_millis(250));
    /// ```
    pub fn acquire_timeout(mut self, d: Duration) -> Self {
        self.acquire_timeout = d;
        self
    }

    /// How long opening one connection may take (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("postgres://app@127.0.0.1/app")
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .build()
    ///     .unwrap(); // no I/O yet
    /// assert_eq!(db.config().connect_timeout(), Duration::from_secs(3));
    /// ```
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The longest one statement may run on the server (default: no limit).
    /// PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`, and an interrupt on SQLite.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dualdb::{Database, ErrorKind};
    ///
    /// let db = Database::builder("sqlite::memory:")
    ///     .statement_timeout(Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// let endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r";
    /// let err = db.sync().query_one(endless, &[]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Query);
    /// db.sync().query_one("SELECT 1", &[]).unwrap(); // the connection is still good
    /// ```
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = Some(d);
        self
    }

    /// Prepared statements kept per connection (default 256; 0 prepares every
    /// statement afresh).
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").statement_cache_size(0).build().unwrap();
    /// assert_eq!(db.config().statement_cache_size(), 0);
    /// ```
    pub fn statement_cache_size(mut self, n: usize) -> Self {
        self.statement_cache_size = n;
        self
    }

    /// PostgreSQL: `false` sends every statement unnamed, with its parameter
    /// types, in one round trip (`Parse`, `Bind`, `Execute`, `Sync`), so no
    /// named prepared statement outlives it (default `true`: statements are
    /// prepared once per connection and cached). Turn it off behind PgBouncer
    /// in transaction pooling mode, where consecutive statements of one
    /// client may run on different server connections. Parameter types then
    /// come from the values (`i64` is `int8`, `String` is `text`, …) rather
    /// than from the server: compare a `uuid` column with a `Uuid`, not text.
    /// Other backends ignore it.
    ///
    /// ```
    /// let db = dualdb::Database::builder("postgres://app@127.0.0.1:6432/app")
    ///     .prepared_statements(false)
    ///     .build()
    ///     .unwrap();
    /// assert!(!db.config().prepared_statements());
    /// ```
    pub fn prepared_statements(mut self, on: bool) -> Self {
        self.prepared_statements = on;
        self
    }

    /// PostgreSQL: how many connections the async half shares between tasks
    /// for everything outside transactions (default 4). tokio-postgres
    /// pipelines the statements of concurrent tasks on each, so many tasks
    /// need no checkout and few connections; transactions still get a
    /// connection of their own from the async pool. 0 sends everything
    /// through the pool. Other backends ignore it.
    ///
    /// ```
    /// // Every async statement through the pool, none shared:
    /// let db = dualdb::Database::builder("postgres://app@127.0.0.1/app")
    ///     .shared_connections(0)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.config().shared_connections(), 0);
    /// ```
    pub fn shared_connections(mut self, n: usize) -> Self {
        self.shared_connections = n;
        self
    }

    /// A pooled connection that sat idle longer than this is pinged (one
    /// round trip) before it is lent again, and replaced if the server has
    /// dropped it (`wait_timeout`, a restart, `pg_terminate_backend`)
    /// (default 1 s). Busy connections are never pinged.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("mysql://app@127.0.0.1/app")
    ///     .check_idle_after(Duration::from_millis(200))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.config().check_idle_after(), Duration::from_millis(200));
    /// ```
    pub fn check_idle_after(mut self, d: Duration) -> Self {
        self.check_idle_after = d;
        self
    }

    /// Runs `sql` on every new connection of both halves (and PostgreSQL's
    /// shared connections) before it is used, and again after a
    /// [`session`](crate::AsyncDb::session) resets one: session setup such
    /// as `SET search_path TO app`, `SET time_zone = '+00:00'` or SQLite's
    /// `PRAGMA`s. Called again, it adds a statement; they run in order. A
    /// statement that fails fails the connect, with a
    /// [`Connect`](crate::ErrorKind::Connect) error naming its number (not
    /// its text, which may hold a secret). A list of statements rather than
    /// a closure, so that one definition serves both halves. Behind
    /// PgBouncer in transaction pooling, session settings do not stick:
    /// put them in the role's defaults (`ALTER ROLE … SET`).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::builder("sqlite::memory:")
    ///     .after_connect("PRAGMA cache_size = -4096")
    ///     .build()?;
    /// let sync: i64 = db.sync().query_one("PRAGMA cache_size", &[])?.get(0)?;
    /// let aio: i64 = db.aio().query_one("PRAGMA cache_size", &[]).await?.get(0)?;
    /// assert_eq!((sync, aio), (-4096, -4096));
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn after_connect(mut self, sql: impl Into<String>) -> Self {
        self.after_connect.push(sql.into());
        self
    }

    /// Closes a pooled connection once it is older than `d` (default: never):
    /// when it comes back to the pool, or while it is idle. A connection in
    /// a transaction is never closed under it; it is replaced when the
    /// transaction ends. PostgreSQL's shared connections are replaced at
    /// their first use past it. For load balancers that rebalance by
    /// reconnecting, and credentials that rotate.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("sqlite::memory:")
    ///     .max_lifetime(Duration::from_secs(1800))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.config().max_lifetime(), Some(Duration::from_secs(1800)));
    /// ```
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.lifetimes.max_lifetime = Some(d);
        self
    }

    /// Closes a connection that sat idle in its pool longer than `d`
    /// (default: never), keeping [`min_idle`](Self::min_idle) of them. Not
    /// PostgreSQL's shared connections, which stay open.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = dualdb::Database::builder("sqlite::memory:")
    ///     .idle_timeout(Duration::from_secs(600))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.config().idle_timeout(), Some(Duration::from_secs(600)));
    /// ```
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.lifetimes.idle_timeout = Some(d);
        self
    }

    /// Keeps at least `n` connections open in each half's pool (default 0),
    /// opened in the background once the pool is first used, so a burst
    /// after a quiet spell does not wait for connects. At most the pool's
    /// size.
    ///
    /// ```
    /// let db = dualdb::Database::builder("sqlite::memory:").min_idle(2).build().unwrap();
    /// assert_eq!(db.config().min_idle(), 2);
    /// ```
    pub fn min_idle(mut self, n: usize) -> Self {
        self.lifetimes.min_idle = n;
        self
    }

    /// How connections use TLS (feature `tls`: rustls); see [`TlsMode`]
    /// for each mode's meaning and the default. Wins over the URL's
    /// `sslmode` (PostgreSQL) or `ssl-mode` (MySQL). PostgreSQL and MySQL;
    /// SQLite ignores it. A mode that needs TLS without the `tls` feature
    /// is a `Config` error when building.
    ///
    /// ```
    /// use dualdb::TlsMode;
    /// let built = dualdb::Database::builder("mysql://app@127.0.0.1/app?ssl-mode=DISABLED")
    ///     .tls_mode(TlsMode::Require)
    ///     .build_config();
    /// if cfg!(feature = "tls") {
    ///     assert_eq!(built.unwrap().tls_mode(), TlsMode::Require);
    /// } else {
    ///     assert_eq!(built.unwrap_err().kind(), dualdb::ErrorKind::Config);
    /// }
    /// ```
    pub fn tls_mode(mut self, mode: TlsMode) -> Self {
        self.tls.mode = Some(mode);
        self
    }

    /// The CA certificates (a PEM file) that verify the server, instead of
    /// the system's roots; the URL's `sslrootcert` (PostgreSQL) or `ssl-ca`
    /// (MySQL) says the same. Without a mode, giving one means
    /// [`TlsMode::VerifyFull`]. The file is read when building: an
    /// unreadable one is a `Config` error before any I/O.
    ///
    /// ```
    /// let built = dualdb::Database::builder("postgres://app@127.0.0.1/app")
    ///     .tls_ca_file("/etc/ssl/our-ca.pem")
    ///     .build();
    /// // With the `tls` feature the CA file is read here; without it, TLS is a Config error.
    /// assert_eq!(built.unwrap_err().kind(), dualdb::ErrorKind::Config);
    /// ```
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// A client certificate (chain) and its private key, PEM files, sent
    /// to servers that ask for one (PostgreSQL's `cert` authentication,
    /// MySQL's `REQUIRE X509`); the URL's `sslcert` and `sslkey`
    /// (PostgreSQL) or `ssl-cert` and `ssl-key` (MySQL) say the same.
    /// Without a mode, giving one means [`TlsMode::VerifyFull`]. Read when
    /// building; errors name the file, never the key's contents.
    ///
    /// ```
    /// let built = dualdb::Database::builder("postgres://app@127.0.0.1/app")
    ///     .tls_client_cert("/etc/app/client.pem", "/etc/app/client.key")
    ///     .build();
    /// assert_eq!(built.unwrap_err().kind(), dualdb::ErrorKind::Config);
    /// ```
    pub fn tls_client_cert(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// A read replica (a PostgreSQL hot standby, a MySQL replica): the
    /// Manager's reads outside transactions (`get`, `get_or_none`, `count`,
    /// `exists`, `scalar`, `prefetch`, `execute_query` of a `Select`) go to
    /// it; everything else (writes, raw SQL, transactions and the reads in
    /// them, reads inside [`on_primary`](crate::AsyncDb::on_primary)) goes
    /// to the primary. The replica gets pools of its own with the same
    /// settings; [`Database::replica`](crate::Database::replica) reaches it.
    ///
    /// ```
    /// use dualdb::{Database, ErrorKind};
    /// let db = Database::builder("postgres://app@127.0.0.1:5432/app")
    ///     .replica("postgres://app@127.0.0.1:5433/app")
    ///     .build()
    ///     .unwrap(); // no I/O yet
    /// assert!(db.replica().is_some());
    /// let err = Database::builder("postgres://app@127.0.0.1:5432/app").replica("mysql://app@127.0.0.1:3306/app").build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn replica(mut self, url: &str) -> Self {
        self.replica = Some(Secret(url.to_string()));
        self
    }

    /// The [`SyncCheck`] policy the database starts with (default `Off`).
    ///
    /// ```
    /// use dualdb::{Database, ErrorKind, SyncCheck};
    /// let db = Database::builder("sqlite::memory:").allow_sync(SyncCheck::Error).build().unwrap();
    /// let err = db.sync().query("SELECT 1", &[]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
    /// ```
    pub fn allow_sync(mut self, check: SyncCheck) -> Self {
        self.sync_check = check;
        self
    }

    /// Checks every setting and the URL, and makes the config. No I/O.
    ///
    /// ```
    /// use dualdb::{Database, ErrorKind};
    /// let err = Database::builder("sqlite::memory:").sync_pool_size(0).build_config().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// let err = Database::builder("oracle://x").build_config().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn build_config(self) -> Result<Config> {
        if self.sync_pool_size == 0 || self.async_pool_size == 0 {
            return Err(Error::config("pool sizes must be at least 1"));
        }
        for (name, d) in [
            ("acquire_timeout", Some(self.acquire_timeout)),
            ("connect_timeout", Some(self.connect_timeout)),
            ("statement_timeout", self.statement_timeout),
            ("max_lifetime", self.lifetimes.max_lifetime),
            ("idle_timeout", self.lifetimes.idle_timeout),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        let url = self.url.expose();
        let (kind, sqlite) = parse_scheme(url)?;
        server_url_unambiguous(kind, url)?;
        if let Some(replica) = &self.replica {
            let (replica_kind, _) = parse_scheme(replica.expose())?;
            server_url_unambiguous(replica_kind, replica.expose())?;
            if replica_kind != kind || kind == BackendKind::Sqlite {
                return Err(Error::config(format!(
                    "a read replica must be a server of the same kind: {kind} database, {replica_kind} replica"
                )));
            }
        }
        let (url, tls) = self.take_tls(kind, &self.url)?;
        let (replica, replica_tls) = match &self.replica {
            Some(replica) => {
                let (url, tls) = self.take_tls(kind, replica)?;
                (Some(url), tls)
            }
            None => (None, TlsSettings::default()),
        };
        Ok(Config {
            kind,
            url,
            sqlite,
            sync_pool_size: self.sync_pool_size,
            async_pool_size: self.async_pool_size,
            acquire_timeout: self.acquire_timeout,
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
            statement_cache_size: self.statement_cache_size,
            prepared_statements: self.prepared_statements,
            replica,
            shared_connections: self.shared_connections,
            check_idle_after: self.check_idle_after,
            lifetimes: self.lifetimes,
            after_connect: self.after_connect.clone().into(),
            tls,
            replica_tls,
            sync_check: self.sync_check,
        })
    }

    /// `url` without its TLS parameters, and the TLS settings for it: the
    /// URL's, overridden by the builder's, checked against this build.
    /// SQLite has no TLS: its URL and settings are left alone.
    fn take_tls(&self, kind: BackendKind, url: &Secret) -> Result<(Secret, TlsSettings)> {
        let spelling = match kind {
            BackendKind::Sqlite => return Ok((url.clone(), TlsSettings::default())),
            BackendKind::Postgres => UrlSpelling::Libpq,
            BackendKind::Mysql => UrlSpelling::Mysql,
        };
        let (url, from_url) = crate::tls::take_from_url(url.expose(), spelling)?;
        let tls = from_url.overridden_by(&self.tls);
        tls.check()?;
        Ok((Secret(url), tls))
    }
}

/// The error of a server URL that its readers could split differently
/// (see [`redact`]): it has more than one `@`, or one after its host, or
/// the `url` crate cannot parse it (each host's URL, where it names
/// several). Drivers split userinfo at the first `@` or the last, so a
/// password holding an unencoded `@`, `/`, `?` or `#` would reach the
/// server in pieces, and a piece of it could be taken for a host name and
/// shown.
fn server_url_unambiguous(kind: BackendKind, url: &str) -> Result<()> {
    if kind == BackendKind::Sqlite {
        return Ok(());
    }
    let one_way = |u: &str| url::Url::parse(u).is_ok_and(|parsed| unambiguous(u, &parsed));
    if url.matches('@').count() <= 1 && split_hosts(url).iter().all(|u| one_way(u)) {
        return Ok(());
    }
    Err(Error::config(format!(
        "the URL {} cannot be read one way only: percent-encode `@`, `:`, `/`, `?`, `#` and `%` \
         in the user name and password (`@` is `%40`)",
        redact(url)
    )))
}

fn parse_scheme(url: &str) -> Result<(BackendKind, Option<SqliteTarget>)> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(Error::config(format!(
            "not a database URL: {} (expected postgres://, mysql:// or sqlite:)",
            redact(url)
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => Ok((BackendKind::Postgres, None)),
        "mysql" | "mariadb" => Ok((BackendKind::Mysql, None)),
        "sqlite" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::config(
                    "sqlite URL has no path (use sqlite::memory: or sqlite://file.db)",
                ));
            }
            let target = if path == ":memory:" {
                SqliteTarget::Memory
            } else {
                SqliteTarget::File(path.into())
            };
            Ok((BackendKind::Sqlite, Some(target)))
        }
        other => Err(Error::config(format!(
            "unsupported URL scheme {other:?} (expected postgres, mysql, mariadb or sqlite)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let r = redact("postgres://bob:hunter2@localhost/db?password=hunter3");
        assert!(!r.contains("hunter2") && !r.contains("hunter3"), "{r}");
        assert!(r.contains("bob:***@localhost"), "{r}");
    }

    #[test]
    #[cfg(feature = "mysql")]
    fn multi_host_urls() {
        let url = "mysql://bob:hunter2@127.0.0.1:3306,127.0.0.1:3307/db?password=hunter3";
        let r = redact(url);
        assert!(!r.contains("hunter2") && !r.contains("hunter3"), "{r}");
        assert_eq!(r, "mysql://bob:***@127.0.0.1:3306,127.0.0.1:3307/…");
        assert_eq!(
            split_hosts(url),
            [
                "mysql://bob:hunter2@127.0.0.1:3306/db?password=hunter3",
                "mysql://bob:hunter2@127.0.0.1:3307/db?password=hunter3",
            ]
        );
        assert_eq!(split_hosts("mysql://h/db"), ["mysql://h/db"]);
        assert_eq!(split_hosts("mysql://a,b"), ["mysql://a", "mysql://b"]);
    }

    #[test]
    fn schemes() {
        assert_eq!(
            parse_scheme("postgresql://x/y").unwrap().0,
            BackendKind::Postgres
        );
        assert_eq!(parse_scheme("mariadb://x/y").unwrap().0, BackendKind::Mysql);
        assert_eq!(
            parse_scheme("sqlite::memory:").unwrap().1,
            Some(SqliteTarget::Memory)
        );
        assert_eq!(
            parse_scheme("sqlite://a/b.db").unwrap().1,
            Some(SqliteTarget::File("a/b.db".into()))
        );
        assert_eq!(
            parse_scheme("oracle://x").unwrap_err().kind(),
            crate::ErrorKind::Config
        );
        assert_eq!(
            parse_scheme("nothing").unwrap_err().kind(),
            crate::ErrorKind::Config
        );
        assert_eq!(
            parse_scheme("sqlite:").unwrap_err().kind(),
            crate::ErrorKind::Config
        );
    }
}
