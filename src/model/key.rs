//! Primary keys of one or more columns: the value a caller gives
//! ([`IntoKey`]: one value, or a tuple for a composite key) and the filter
//! that finds its row.

use super::sql::to_sea;
use super::{Filter, Model};
use crate::value::{ToSql, Value};

/// A primary key's value, as [`Model::by_id`] takes it: any [`ToSql`]
/// value for a key of one column, a tuple of two to four values, in key
/// order, for a composite key.
///
/// ```
/// use dualdb::{Database, Model};
///
/// #[derive(Model, Debug, PartialEq)]
/// #[model(primary_key(order_id, line))]
/// struct OrderLine { order_id: i64, line: i32, sku: String }
///
/// let db = Database::open("sqlite::memory:").unwrap();
/// let s = db.sync();
/// s.create_table::<OrderLine>().unwrap();
/// s.create(OrderLine { order_id: 7, line: 1, sku: "A-1".into() }).unwrap();
/// s.create(OrderLine { order_id: 7, line: 2, sku: "B-2".into() }).unwrap();
/// assert_eq!(s.get(OrderLine::by_id((7, 2))).unwrap().sku, "B-2");
/// // One value for a key of two columns: refused before any I/O.
/// assert_eq!(s.get(OrderLine::by_id(7)).unwrap_err().kind(), dualdb::ErrorKind::Usage);
/// ```
pub trait IntoKey {
    #[doc(hidden)]
    fn into_key(self) -> KeyParts;
}

/// A key's values: one (no allocation on the commonest path, a get by
/// key: benches/instructions, `get`) or several.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum KeyParts {
    One(Value),
    Many(Vec<Value>),
}

impl KeyParts {
    fn len(&self) -> usize {
        match self {
            KeyParts::One(_) => 1,
            KeyParts::Many(v) => v.len(),
        }
    }
}

impl<T: ToSql> IntoKey for T {
    #[inline]
    fn into_key(self) -> KeyParts {
        KeyParts::One(self.into_sql())
    }
}

macro_rules! tuple_keys {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: ToSql),+> IntoKey for ($($t,)+) {
            fn into_key(self) -> KeyParts {
                KeyParts::Many(vec![$(self.$i.into_sql()),+])
            }
        }
    )*};
}
tuple_keys!((A 0, B 1) (A 0, B 1, C 2) (A 0, B 1, C 2, D 3));

/// The key of `model`, as [`filter`] takes it.
pub(crate) fn of<M: Model>(model: &M) -> KeyParts {
    match M::META.key {
        [one] => KeyParts::One(model.value(*one)),
        _ => KeyParts::Many(model.key_values()),
    }
}

/// The filter `key column = value` for each of the key's columns; a key of
/// the wrong number of values is a filter that fails its query with a
/// `Usage` error before any I/O (tests/composite_keys.rs).
pub(crate) fn filter<M: Model>(key: KeyParts) -> Filter<M> {
    let meta = M::META;
    match (key, meta.key) {
        (KeyParts::One(v), [i]) => Filter::raw_eq(*i, meta.columns[*i].name, v),
        (KeyParts::Many(values), columns) if values.len() == columns.len() => {
            let eqs = (columns.iter().zip(values))
                .map(|(&i, v)| Filter::<M>::raw_eq(i, meta.columns[i].name, v));
            eqs.reduce(Filter::and::<M>)
                .unwrap_or_else(|| Filter::invalid(format!("{} has no primary key", meta.name)))
        }
        (key, columns) => Filter::invalid(format!(
            "{}'s primary key has {} column(s); the key given has {} value(s)",
            meta.name,
            columns.len(),
            key.len()
        )),
    }
}

/// Appends `model`'s key values to `out`, in key order (keys laid one
/// after the other, as [`is_in`] reads them).
pub(crate) fn push<M: Model>(model: &M, out: &mut Vec<Value>) {
    out.extend(M::META.key.iter().map(|&i| model.value(i)));
}

/// `key IN (…)` over `columns` of `table`: `keys` holds the keys' values
/// one key after the other, `columns.len()` values each; a key of two or
/// more columns is a row value, `(a, b) IN ((?, ?), …)`, which PostgreSQL,
/// MySQL/MariaDB and SQLite all read (tests/composite_keys.rs).
pub(crate) fn is_in(
    table: &'static str,
    columns: &[&'static str],
    keys: Vec<Value>,
) -> sea_query::Expr {
    use sea_query::{Expr, ExprTrait};
    let width = columns.len().max(1);
    let mut columns: Vec<Expr> = columns.iter().map(|&c| Expr::col((table, c))).collect();
    if width == 1 {
        let column = columns.pop().unwrap_or_else(|| Expr::cust("NULL"));
        return column.is_in(keys.into_iter().map(|k| Expr::val(to_sea(k))));
    }
    let mut values = keys.into_iter().map(|k| Expr::val(to_sea(k)));
    let tuples = std::iter::from_fn(|| {
        let key: Vec<Expr> = values.by_ref().take(width).collect();
        (key.len() == width).then(|| Expr::tuple(key))
    });
    Expr::tuple(columns).is_in(tuples)
}
