//! PostgreSQL's own column types, borrowed from their row as
//! [`ValueRef::Array`](crate::ValueRef::Array) and
//! [`ValueRef::HStore`](crate::ValueRef::HStore) hold them; the PostgreSQL
//! backend decodes them.

/// A PostgreSQL array column, borrowed from its row: decode its elements
/// with [`ArrayRef::elements`], or into a `Vec<T>` with `row.get`.
///
/// ```
/// # fn demo(db: &dualdb::Database) -> dualdb::Result<()> {
/// let row = db.sync().query_one("SELECT ARRAY[1, NULL, 3]::int4[]", &[])?;
/// let ints: Vec<Option<i32>> = row.get(0)?;
/// assert_eq!(ints, [Some(1), None, Some(3)]);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct ArrayRef<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) member: &'a postgres_types::Type,
}

/// A PostgreSQL `hstore` column, borrowed from its row.
///
/// ```
/// use std::collections::HashMap;
/// # fn demo(db: &dualdb::Database) -> dualdb::Result<()> {
/// let row = db.sync().query_one("SELECT 'a=>1, b=>NULL'::hstore", &[])?;
/// let map: HashMap<String, Option<String>> = row.get(0)?;
/// assert_eq!(map["a"].as_deref(), Some("1"));
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct HStoreRef<'a> {
    pub(crate) raw: &'a [u8],
}
