//! Built SQL per query shape. sea-query builds a statement in about 0.65 µs,
//! a third of what dualdb adds to an SQLite primary-key lookup; the commonest
//! selects (all rows of a model, or its rows where one column equals a
//! value, each with no `LIMIT` or `LIMIT 1`) differ from call to call only
//! in that value, so their SQL is built once per thread and then copied.
//! The shapes are finite (models x columns x backends x two limits), so the
//! cache needs no eviction.

use foldhash::{HashMap, HashMapExt};
use std::any::TypeId;
use std::cell::RefCell;
use std::rc::Rc;

use crate::config::BackendKind;

/// What the SQL of a cached select depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub(crate) model: TypeId,
    /// The column of the one `column = value` filter, if any.
    pub(crate) eq: Option<&'static str>,
    pub(crate) kind: BackendKind,
    pub(crate) limit: Option<u64>,
}

thread_local! {
    static BUILT: RefCell<HashMap<Shape, Rc<str>>> = RefCell::new(HashMap::new());
}

/// The SQL of `shape`: cached, or made by `build` (`None`: not cacheable).
pub(crate) fn sql(shape: Shape, build: impl FnOnce() -> Option<String>) -> Option<Rc<str>> {
    if let Some(sql) = BUILT.with(|b| b.borrow().get(&shape).cloned()) {
        return Some(sql);
    }
    let sql: Rc<str> = build()?.into();
    BUILT.with(|b| b.borrow_mut().insert(shape, sql.clone()));
    Some(sql)
}
