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
use std::time::Duration;

use crate::error::{Error, Result};
use crate::policy::SyncCheck;

/// Which database server a [`Database`](crate::Database) talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// PostgreSQL, through `postgres` and `tokio-postgres`.
    Postgres,
    /// MySQL or MariaDB, through `mysql` and `mysql_async`.
    Mysql,
    /// SQLite, through `rusqlite`.
    Sqlite,
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
    pub(crate) shared_connections: usize,
    pub(crate) check_idle_after: Duration,
    pub(crate) tls_ca_file: Option<std::path::PathBuf>,
    pub(crate) sync_check: SyncCheck,
}

impl Config {
    /// The backend the URL names.
    pub fn backend(&self) -> BackendKind {
        self.kind
    }
    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact(self.url.expose())
    }
    /// The most connections the blocking half keeps.
    pub fn sync_pool_size(&self) -> usize {
        self.sync_pool_size
    }
    /// The most connections the async half keeps.
    pub fn async_pool_size(&self) -> usize {
        self.async_pool_size
    }
    /// How long a call waits for a free pooled connection.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }
    /// How long opening one connection may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The server-side limit on one statement, if any.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }
    /// Prepared statements kept per connection.
    pub fn statement_cache_size(&self) -> usize {
        self.statement_cache_size
    }
    /// PostgreSQL: connections the async half shares between tasks outside
    /// transactions.
    pub fn shared_connections(&self) -> usize {
        self.shared_connections
    }
    /// A pooled connection idle longer than this is pinged before reuse.
    pub fn check_idle_after(&self) -> Duration {
        self.check_idle_after
    }
    /// The CA file TLS connections are verified against, if TLS is on.
    pub fn tls_ca_file(&self) -> Option<&std::path::Path> {
        self.tls_ca_file.as_deref()
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
            .field("shared_connections", &self.shared_connections)
            .field("check_idle_after", &self.check_idle_after)
            .field("tls_ca_file", &self.tls_ca_file)
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

/// The URL with any password replaced by `***`; unparsable input is hidden whole.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
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
        Err(_) if url.starts_with("sqlite:") => url.to_string(),
        Err(_) => "<unparsable url>".to_string(),
    }
}

/// Builds a [`Database`](crate::Database) with explicit pool sizes and timeouts.
///
/// Nothing connects at build time: each half opens its first connection on
/// its first call, or on an explicit `connect`.
#[derive(Debug, Clone)]
pub struct Builder {
    url: Secret,
    sync_pool_size: usize,
    async_pool_size: usize,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
    statement_cache_size: usize,
    shared_connections: usize,
    check_idle_after: Duration,
    tls_ca_file: Option<std::path::PathBuf>,
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
            shared_connections: 4,
            check_idle_after: Duration::from_secs(1),
            tls_ca_file: None,
            sync_check: SyncCheck::Off,
        }
    }

    /// The most connections the blocking half keeps (default 4). Threads
    /// beyond that wait up to the acquire timeout.
    pub fn sync_pool_size(mut self, n: usize) -> Self {
        self.sync_pool_size = n;
        self
    }

    /// The most connections the async half keeps (default 16).
    pub fn async_pool_size(mut self, n: usize) -> Self {
        self.async_pool_size = n;
        self
    }

    /// How long a call waits for a pooled connection before it fails with
    /// [`ErrorKind::PoolTimeout`](crate::ErrorKind::PoolTimeout) (default 30 s).
    /// On SQLite it is also the busy timeout for a locked database.
    pub fn acquire_timeout(mut self, d: Duration) -> Self {
        self.acquire_timeout = d;
        self
    }

    /// How long opening one connection may take (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The longest one statement may run on the server (default: no limit).
    /// PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`, and an interrupt on SQLite.
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = Some(d);
        self
    }

    /// Prepared statements kept per connection (default 256; 0 prepares every
    /// statement afresh).
    pub fn statement_cache_size(mut self, n: usize) -> Self {
        self.statement_cache_size = n;
        self
    }

    /// PostgreSQL: how many connections the async half shares between tasks
    /// for everything outside transactions (default 4). tokio-postgres
    /// pipelines the statements of concurrent tasks on each, so many tasks
    /// need no checkout and few connections; transactions still get a
    /// connection of their own from the async pool. 0 sends everything
    /// through the pool. Other backends ignore it.
    pub fn shared_connections(mut self, n: usize) -> Self {
        self.shared_connections = n;
        self
    }

    /// A pooled connection that sat idle longer than this is pinged (one
    /// round trip) before it is lent again, and replaced if the server has
    /// dropped it (`wait_timeout`, a restart, `pg_terminate_backend`)
    /// (default 1 s). Busy connections are never pinged.
    pub fn check_idle_after(mut self, d: Duration) -> Self {
        self.check_idle_after = d;
        self
    }

    /// Connects with TLS (feature `tls`: rustls), verifying the server's
    /// certificate and host name against the CA certificates in this PEM
    /// file; a server whose certificate does not verify is a `Connect`
    /// error. PostgreSQL and MySQL; SQLite ignores it. Without the `tls`
    /// feature, building fails with a `Config` error.
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// The [`SyncCheck`] policy the database starts with (default `Off`).
    pub fn allow_sync(mut self, check: SyncCheck) -> Self {
        self.sync_check = check;
        self
    }

    /// Checks every setting and the URL, and makes the config. No I/O.
    pub fn build_config(self) -> Result<Config> {
        if self.sync_pool_size == 0 || self.async_pool_size == 0 {
            return Err(Error::config("pool sizes must be at least 1"));
        }
        for (name, d) in [
            ("acquire_timeout", Some(self.acquire_timeout)),
            ("connect_timeout", Some(self.connect_timeout)),
            ("statement_timeout", self.statement_timeout),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        if self.tls_ca_file.is_some() && !cfg!(feature = "tls") {
            return Err(Error::config("tls_ca_file needs dualdb's `tls` feature"));
        }
        let url = self.url.expose();
        let (kind, sqlite) = parse_scheme(url)?;
        Ok(Config {
            kind,
            url: self.url.clone(),
            sqlite,
            sync_pool_size: self.sync_pool_size,
            async_pool_size: self.async_pool_size,
            acquire_timeout: self.acquire_timeout,
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
            statement_cache_size: self.statement_cache_size,
            shared_connections: self.shared_connections,
            check_idle_after: self.check_idle_after,
            tls_ca_file: self.tls_ca_file.clone(),
            sync_check: self.sync_check,
        })
    }

    /// Builds the [`Database`](crate::Database). No I/O: the URL and options
    /// are checked, and connections open on first use.
    pub fn build(self) -> Result<crate::Database> {
        crate::Database::from_config(self.build_config()?)
    }
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
