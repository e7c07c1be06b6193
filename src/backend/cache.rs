//! A bounded per-connection cache keyed by SQL text: the prepared
//! statements of each backend, SQLite's column names.
//!
//! Entries are found by the text's hash, which SQL from the cache of built
//! shapes carries with it (computed once), and confirmed by the text itself
//! (at no cost when it is that same cached text). Two texts of one hash
//! take turns in its entry.

use foldhash::{HashMap, HashMapExt};

use crate::statement::SqlText;

pub(crate) struct StmtCache<S> {
    map: HashMap<u64, (SqlText, S)>,
    capacity: usize,
}

impl<S: Clone> StmtCache<S> {
    pub(crate) fn get(&self, sql: &SqlText) -> Option<S> {
        match self.map.get(&sql.hash()) {
            Some((text, s)) if text.same(sql) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<S> StmtCache<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        StmtCache {
            map: HashMap::new(),
            capacity,
        }
    }

    /// The entry for `sql`, in place (SQLite's statements, which are not
    /// shared but used where they are kept).
    #[cfg(feature = "sqlite")]
    pub(crate) fn get_mut(&mut self, sql: &SqlText) -> Option<&mut S> {
        match self.map.get_mut(&sql.hash()) {
            Some((text, s)) if text.same(sql) => Some(s),
            _ => None,
        }
    }

    /// Forgets every statement.
    #[cfg(feature = "postgres")]
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    /// How many statements it keeps at most.
    #[cfg(feature = "mysql")]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// True if the cache keeps anything (its capacity is not 0).
    #[cfg(feature = "mysql")]
    pub(crate) fn keeps(&self) -> bool {
        self.capacity > 0
    }

    /// Forgets the statement for `sql` (the server no longer knows it).
    #[cfg(feature = "mysql")]
    pub(crate) fn remove(&mut self, sql: &SqlText) {
        let hash = sql.hash();
        if self.map.get(&hash).is_some_and(|(text, _)| text.same(sql)) {
            self.map.remove(&hash);
        }
    }

    /// Keeps `stmt` for `sql`. When full, the cache starts over: statements
    /// are cheap to prepare again, and a full cache means the workload's SQL
    /// does not repeat much anyway.
    pub(crate) fn insert(&mut self, sql: &SqlText, stmt: S) {
        let _ = self.keep(sql, stmt);
    }

    /// The statement for `sql`, taken out (SQLite's open cursor holds its
    /// statement so until it closes).
    #[cfg(feature = "sqlite")]
    pub(crate) fn take(&mut self, sql: &SqlText) -> Option<S> {
        let hash = sql.hash();
        if self.map.get(&hash).is_some_and(|(text, _)| text.same(sql)) {
            return self.map.remove(&hash).map(|(_, s)| s);
        }
        None
    }

    /// Keeps `stmt` for `sql` as [`insert`](Self::insert) does and returns
    /// it in place; handed back if the cache keeps nothing.
    pub(crate) fn keep(&mut self, sql: &SqlText, stmt: S) -> std::result::Result<&mut S, S> {
        if self.capacity == 0 {
            return Err(stmt);
        }
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        let entry = self.map.entry(sql.hash()).insert_entry((sql.clone(), stmt));
        Ok(&mut entry.into_mut().1)
    }
}

#[cfg(all(test, any(feature = "postgres", feature = "mysql")))]
mod tests {
    use super::*;
    use crate::statement::SharedSql;

    /// A text finds its entry whether it comes shared from the cache of
    /// built shapes (another thread's copy, say) or built anew; another
    /// text does not, and a cache of capacity 0 keeps nothing.
    #[test]
    fn entries_are_found_by_their_text_however_it_is_held() {
        let select = "SELECT id FROM t WHERE id = $1";
        let shared = SqlText::Shared(SharedSql::new(select));
        let owned = SqlText::Owned(select.to_owned());
        let other = SqlText::Owned("SELECT id FROM t WHERE id = $2".to_owned());
        let mut cache = StmtCache::new(4);
        cache.insert(&owned, 1);
        assert_eq!(cache.get(&shared), Some(1));
        assert_eq!(cache.get(&SqlText::Shared(SharedSql::new(select))), Some(1));
        assert_eq!(cache.get(&other), None);
        cache.insert(&shared, 2);
        assert_eq!(cache.get(&owned), Some(2));
        #[cfg(feature = "mysql")]
        {
            cache.remove(&other);
            assert_eq!(cache.get(&owned), Some(2));
            cache.remove(&shared);
            assert_eq!(cache.get(&owned), None);
        }
        let mut none = StmtCache::new(0);
        none.insert(&owned, 1);
        assert_eq!(none.get(&owned), None);
    }
}
