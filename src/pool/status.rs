//! [`PoolStatus`]: what either half's pool holds at a moment.

/// A snapshot of one pool, from [`SyncDb::status`](crate::SyncDb::status) or
/// [`AsyncDb::status`](crate::AsyncDb::status).
///
/// ```
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let st: dualdb::PoolStatus = db.sync().status();
/// assert_eq!(st.size, 0); // nothing opened yet
/// assert_eq!(st.max_size, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now, idle or in use.
    pub size: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    /// Connections lent out now.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let tx = db.sync().begin().unwrap();
    /// assert_eq!(db.sync().status().in_use(), 1);
    /// tx.rollback().unwrap();
    /// assert_eq!(db.sync().status().in_use(), 0);
    /// ```
    pub fn in_use(&self) -> usize {
        self.size.saturating_sub(self.idle)
    }
}
