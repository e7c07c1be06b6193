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

use crate::backend::SyncConn;
use crate::error::Result;
use crate::policy::Policy;
use crate::pool::{BlockingPool, PoolStatus};
use crate::row::Row;
use crate::runtime::run_blocking;
use crate::statement::{at_most_one, exactly_one, Stmt};
use crate::value::ToSql;

/// The blocking half: `postgres`, `mysql` or `rusqlite` connections in a
/// pool for threaded sync code. Reached through
/// [`Database::sync`](crate::Database::sync).
pub struct SyncDb {
    policy: Arc<Policy>,
    pool: BlockingPool,
}

impl SyncDb {
    pub(crate) fn new(policy: Arc<Policy>, pool: BlockingPool) -> Self {
        SyncDb { policy, pool }
    }

    /// Checks the policy, lends a connection and runs `op` on it, all off any
    /// Tokio worker.
    #[track_caller]
    fn run<T: Send>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut dyn SyncConn) -> Result<T> + Send,
    ) -> Result<T> {
        self.policy.check(operation)?;
        run_blocking(|| {
            let mut conn = self.pool.get()?;
            op(&mut *conn)
        })
    }

    /// Opens a connection now (instead of on first use), so that a bad
    /// address or password shows at start-up.
    #[track_caller]
    pub fn connect(&self) -> Result<()> {
        self.policy.check("connect")?;
        run_blocking(|| self.pool.connect())
    }

    /// Closes the idle connections; connections in use close when they come
    /// back. The next call connects again.
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
    }

    /// Runs a statement and returns the number of rows it changed.
    #[track_caller]
    pub fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<u64> {
        let stmt = Stmt::new(sql, params);
        self.run("execute", |c| c.execute(&stmt))
    }

    /// Runs a statement and returns all its rows.
    #[track_caller]
    pub fn query(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>> {
        let stmt = Stmt::new(sql, params);
        self.run("query", |c| c.query(&stmt))
    }

    /// Runs a statement that must return exactly one row;
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it returns none.
    #[track_caller]
    pub fn query_one(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Row> {
        let stmt = Stmt::new(sql, params);
        self.run("query_one", |c| exactly_one(c.query(&stmt)?))
    }

    /// Runs a statement that returns at most one row.
    #[track_caller]
    pub fn query_opt(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Option<Row>> {
        let stmt = Stmt::new(sql, params);
        self.run("query_opt", |c| at_most_one(c.query(&stmt)?))
    }

    /// The blocking pool's statistics. Not a blocking call.
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
