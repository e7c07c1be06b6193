//! Built SQL per query shape. sea-query builds a statement in about 0.65 µs,
//! a third of what dualdb adds to an SQLite primary-key lookup; the commonest
//! selects (all rows of a model, or its rows where one column equals a
//! value, each with no `LIMIT` or `LIMIT 1`) differ from call to call only
//! in that value, so their SQL is built once per thread and then copied.
//! So do inserts of up to [`CACHED_INSERT_ROWS`] rows, whose SQL depends only
//! on the model and the row count. The shapes are finite (models x columns x
//! backends x two limits, models x backends x row counts), so the cache needs
//! no eviction.

use foldhash::{HashMap, HashMapExt};
use std::any::TypeId;
use std::cell::RefCell;

use crate::config::BackendKind;
use crate::statement::{SharedSql, SqlText};
use std::sync::Arc;

/// The most rows an insert may have for its SQL to be cached.
pub(crate) const CACHED_INSERT_ROWS: usize = 128;

/// What the SQL of a cached statement depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub(crate) model: TypeId,
    pub(crate) kind: BackendKind,
    pub(crate) form: Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    Select {
        /// The column of the one `column = value` filter, if any.
        eq: Option<&'static str>,
        limit: Option<u64>,
    },
    Insert {
        rows: usize,
        returning: bool,
    },
}

thread_local! {
    static BUILT: RefCell<HashMap<Shape, Arc<SharedSql>>> = RefCell::new(HashMap::new());
}

/// The SQL of `shape`: cached, or made by `build` (`None`: not cacheable).
/// The cached text is shared with the statement, not copied.
pub(crate) fn sql(shape: Shape, build: impl FnOnce() -> Option<String>) -> Option<SqlText> {
    if let Some(sql) = BUILT.with(|b| b.borrow().get(&shape).cloned()) {
        return Some(SqlText::Shared(sql));
    }
    let sql = SharedSql::new(&build()?);
    BUILT.with(|b| b.borrow_mut().insert(shape, sql.clone()));
    Some(SqlText::Shared(sql))
}

/// True if `shape`'s SQL is in this thread's cache.
#[cfg(test)]
pub(crate) fn cached(shape: Shape) -> bool {
    BUILT.with(|b| b.borrow().contains_key(&shape))
}
