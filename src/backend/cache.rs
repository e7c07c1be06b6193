//! A bounded per-connection cache keyed by SQL text: PostgreSQL's and
//! MySQL's prepared statements, SQLite's column names.

use foldhash::{HashMap, HashMapExt};

pub(crate) struct StmtCache<S> {
    map: HashMap<String, S>,
    capacity: usize,
}

impl<S: Clone> StmtCache<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        StmtCache {
            map: HashMap::new(),
            capacity,
        }
    }

    pub(crate) fn get(&self, sql: &str) -> Option<S> {
        self.map.get(sql).cloned()
    }

    /// True if the cache keeps anything (its capacity is not 0).
    #[cfg(feature = "mysql")]
    pub(crate) fn keeps(&self) -> bool {
        self.capacity > 0
    }

    /// Forgets the statement for `sql` (its plan went stale, or the server
    /// no longer knows it).
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn remove(&mut self, sql: &str) {
        self.map.remove(sql);
    }

    /// Keeps `stmt` for `sql`. When full, the cache starts over: statements
    /// are cheap to prepare again, and a full cache means the workload's SQL
    /// does not repeat much anyway.
    pub(crate) fn insert(&mut self, sql: &str, stmt: S) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(sql.to_owned(), stmt);
    }
}
