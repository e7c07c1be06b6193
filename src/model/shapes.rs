//! Built SQL per query shape. Building a statement with sea-query costs more
//! than the rest of what dualdb adds to an SQLite primary-key lookup
//! (benches/instructions, the SQLite get, guards it); the commonest
//! selects (all rows of a model, or its rows where one column equals a
//! value, each with no `LIMIT` or `LIMIT 1`) differ from call to call only
//! in that value, so their SQL is built once and then shared: in slots of
//! the model's own ([`Model::built_selects`](super::Model), a static array
//! the derive makes), found by position without hashing. So are inserts of
//! up to [`CACHED_INSERT_ROWS`] rows, whose SQL depends only on the model and
//! the row count, and the batches of a `bulk_update` of up to
//! [`CACHED_BULK_ROWS`] rows (the model, its columns set and the row count),
//! per thread. The shapes are finite (models x columns x backends x two
//! limits, models x backends x row counts, models x column sets x backends x
//! row counts) and each text bounded by its row limit, so no cache needs
//! eviction.

use foldhash::{HashMap, HashMapExt};
use std::any::TypeId;
use std::cell::RefCell;
use std::sync::OnceLock;

use crate::config::BackendKind;
use crate::statement::{SharedSql, SqlText};
use std::sync::Arc;

/// The most rows an insert may have for its SQL to be cached.
pub(crate) const CACHED_INSERT_ROWS: usize = 128;

/// The most rows a batch of a `bulk_update` may have for its SQL to be
/// cached: the default batch of 100 is, a larger one is built each time
/// (a text for each row count would otherwise be kept, however long).
pub(crate) const CACHED_BULK_ROWS: usize = 128;

/// What the SQL of a cached insert depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub(crate) model: TypeId,
    pub(crate) kind: BackendKind,
    pub(crate) rows: usize,
    pub(crate) returning: bool,
    pub(crate) key: KeyColumn,
}

/// Whether an insert statement writes the generated key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KeyColumn {
    /// Left out: the rows leave their keys to the server (or the model's
    /// key is not generated, and is an ordinary column).
    Omitted,
    /// Written, first: the rows give their keys.
    Written,
}

/// One slot of a model's built select SQL, empty until first built.
#[doc(hidden)]
#[derive(Debug)]
pub struct BuiltSql(OnceLock<SharedSql>);

impl BuiltSql {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        BuiltSql(OnceLock::new())
    }
}

/// How many [`BuiltSql`] slots a model of `columns` columns has: one per
/// backend, limit (none or 1) and filter (none, or `column = value` on each
/// column).
#[doc(hidden)]
pub const fn select_slots(columns: usize) -> usize {
    3 * 2 * (columns + 1)
}

/// The SQL of a model's select on backend `kind` with the `column = value`
/// filter on its column number `eq`, if any, and `limit` (none or 1): from
/// its slot in `slots`, or made by `build` and kept there (`None`: not
/// cacheable, or the model has no such slot).
pub(crate) fn select_sql(
    slots: &'static [BuiltSql],
    kind: BackendKind,
    eq: Option<usize>,
    limit: Option<u64>,
    build: impl FnOnce() -> Option<String>,
) -> Option<SqlText> {
    let backend = match kind {
        BackendKind::Postgres => 0,
        BackendKind::Mysql => 1,
        BackendKind::Sqlite => 2,
    };
    let limited = match limit {
        None => 0,
        Some(1) => 1,
        Some(_) => return None,
    };
    let per_filter = slots.len() / 6;
    let filter = match eq {
        None => 0,
        Some(i) if i + 1 < per_filter => i + 1,
        Some(_) => return None,
    };
    let slot = &slots.get((backend * 2 + limited) * per_filter + filter)?.0;
    if let Some(sql) = slot.get() {
        return Some(SqlText::Static(sql));
    }
    // Two threads may build it at once: both build the same text.
    let built = build()?;
    Some(SqlText::Static(
        slot.get_or_init(|| SharedSql::unshared(&built)),
    ))
}

/// What the SQL of a batch of a `bulk_update` depends on: the model, the
/// backend, the columns it sets (a bit each; a model of more than 64
/// columns is not cached) and its row count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BulkShape {
    pub(crate) model: TypeId,
    pub(crate) kind: BackendKind,
    pub(crate) columns: u64,
    pub(crate) rows: usize,
}

type Cache<K> = RefCell<HashMap<K, Arc<SharedSql>>>;

thread_local! {
    static BUILT: Cache<Shape> = RefCell::new(HashMap::new());
    static BUILT_BULK: Cache<BulkShape> = RefCell::new(HashMap::new());
}

/// The SQL of `shape`: cached, or made by `build` (`None`: not cacheable).
/// The cached text is shared with the statement, not copied.
pub(crate) fn sql(shape: Shape, build: impl FnOnce() -> Option<String>) -> Option<SqlText> {
    cached_in(&BUILT, shape, build)
}

/// [`sql`] for a batch of a `bulk_update`.
pub(crate) fn bulk_sql(
    shape: BulkShape,
    build: impl FnOnce() -> Option<String>,
) -> Option<SqlText> {
    cached_in(&BUILT_BULK, shape, build)
}

fn cached_in<K: std::hash::Hash + Eq>(
    cache: &'static std::thread::LocalKey<Cache<K>>,
    shape: K,
    build: impl FnOnce() -> Option<String>,
) -> Option<SqlText> {
    if let Some(sql) = cache.with(|b| b.borrow().get(&shape).cloned()) {
        return Some(SqlText::Shared(sql));
    }
    let sql = SharedSql::new(&build()?);
    cache.with(|b| b.borrow_mut().insert(shape, sql.clone()));
    Some(SqlText::Shared(sql))
}

/// True if `shape`'s SQL is in this thread's cache.
#[cfg(test)]
pub(crate) fn cached(shape: Shape) -> bool {
    BUILT.with(|b| b.borrow().contains_key(&shape))
}
