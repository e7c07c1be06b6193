//! The model layer: `#[derive(Model)]`, typed columns, queries, and the
//! Manager operations (`get`, `create`, `update`, `delete`, …) that both
//! halves run with the same names.
//!
//! ```
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug, Clone, PartialEq)]
//! #[model(table = "page_block")]
//! struct PageBlock {
//!     #[model(primary_key, auto)]
//!     id: i64,
//!     #[model(unique, max_length = 100)]
//!     key: String,
//!     text: Option<String>,
//! }
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let sync = db.sync();
//! sync.create_table::<PageBlock>().unwrap();
//! let block = sync.create(PageBlock { id: 0, key: "title".into(), text: None }).unwrap();
//! assert!(block.id > 0);
//! let found = sync.get(PageBlock::KEY.eq("title")).unwrap();
//! assert_eq!(found, block);
//! ```

mod aggregate;
mod alter;
mod bulk;
mod carrier;
mod column;
mod decode;
mod expr;
mod foreign;
mod insert_from;
mod join;
mod joined;
pub(crate) mod key;
mod layout;
mod links;
mod per_group;
pub mod prefetch;
mod query;
mod rebuild;
mod returning;
mod schema;
mod selection;
mod shapes;
mod source;
#[doc(hidden)]
pub use shapes::{BuiltSql, select_slots};
mod sql;
mod subquery;
mod table_sql;
mod tree;
mod tuples;
mod upsert;
mod window;

pub use alter::{ColumnInfo, IndexInfo};
pub use bulk::BulkUpdate;
pub use column::{Column, ColumnOf, Comparable, Compatible, Field, Filter, Order};
pub(crate) use decode::{Decoder, models};
pub use expr::{Arithmetic, Case, Expr, IntoExpr, Temporal, Text, Then, case};
pub use foreign::ForeignKey;
pub use insert_from::InsertFrom;
pub use joined::ModelRow;
pub use key::IntoKey;
#[doc(hidden)]
pub use layout::{Columns, column_at};
pub use links::{AddLinks, Links, RemoveLinks, Through};
pub use ops::{Executable, Fetchable};
pub use prefetch::{Related, With};
pub use query::{DeleteQuery, InsertCounted, InsertMany, Select, UpdateQuery};
pub use returning::Returning;
pub(crate) use schema::named_table_exists;
pub use selection::Selection;
pub use source::Alias;
pub use sql::Dialect;
pub use subquery::InValues;
pub use tuples::{SelectFields, SelectModels};
pub use upsert::{Upsert, Upserted};
pub use window::{FrameBound, Window};

pub(crate) mod ops;

use crate::error::Result;
use crate::row::Row;
use crate::value::{Value, ValueRef};

/// A table mapped to a struct; implement it with `#[derive(Model)]`.
///
/// The derive also adds one typed [`Column`] constant per field (`User::NAME`
/// for a field `name`) to build filters without strings.
///
/// ```
/// use dualdb::{Database, Model};
///
/// #[derive(Model, Debug, Clone, PartialEq)]
/// #[model(table = "users")]
/// struct User {
///     #[model(primary_key, auto)]
///     id: i64,
///     #[model(unique, max_length = 40)]
///     name: String,
///     #[model(default = "0")]
///     karma: i32,
///     email: Option<String>, // nullable
/// }
///
/// assert_eq!(User::META.table, "users");
/// let db = Database::open("sqlite::memory:").unwrap();
/// db.sync().create_table::<User>().unwrap();
/// let ada = db.sync().create(User { id: 0, name: "ada".into(), karma: 1, email: None }).unwrap();
/// assert_eq!(db.sync().get(User::by_id(ada.id)).unwrap(), ada);
/// ```
///
/// A model is plain data: an insert moves the fields' values into its
/// statement instead of copying them, so a struct that implements `Drop`
/// cannot derive `Model` (put what needs the `Drop` in a field of its own
/// type):
///
/// ```compile_fail
/// #[derive(dualdb::Model)]
/// struct Guarded { id: i64, name: String }
/// impl Drop for Guarded {
///     fn drop(&mut self) {}
/// }
/// ```
pub trait Model: Sized + Send + Sync + 'static {
    /// The table, its columns and its primary key.
    const META: &'static ModelMeta;

    /// Builds the model from a row whose columns start at `offset` (by
    /// position when the names line up, by name otherwise).
    fn from_row_at(row: &Row, offset: usize) -> Result<Self>;

    /// Builds the model from a row.
    fn from_row(row: &Row) -> Result<Self> {
        Self::from_row_at(row, 0)
    }

    /// Builds the model from a row it may take values out of (text moves
    /// into `String` fields without a copy where the driver's row owns it),
    /// its columns where `columns` found them in the result's first row.
    #[doc(hidden)]
    fn from_row_in(row: &mut Row, columns: &Columns) -> Result<Self> {
        Self::read_in(row, columns).unwrap_or_else(|| Self::from_row_at(row, columns.offset))
    }

    /// Builds the model as [`from_row_in`](Self::from_row_in) does, through
    /// any [`RowRead`](crate::row::RowRead) (a SQLite row read in place);
    /// `None`, before reading anything, if it only decodes from a [`Row`]
    /// (a hand-written impl; the derive reads through any).
    #[doc(hidden)]
    fn read_in<R: crate::row::RowRead>(_row: &mut R, _columns: &Columns) -> Option<Result<Self>> {
        None
    }

    /// Every column's value, in [`ModelMeta::columns`] order.
    fn values(&self) -> Vec<Value>;

    /// The value of column number `column`.
    fn value(&self, column: usize) -> Value;

    /// Moves the values an insert writes onto `out`: every column's, in
    /// [`ModelMeta::columns`] order, but a generated key's. The same values
    /// as [`values`](Self::values), which it defaults to; the derive moves
    /// text and bytes out of the fields instead of copying them.
    #[doc(hidden)]
    fn insert_values(self, out: &mut Vec<Value>) {
        let columns = Self::META.columns.iter();
        out.extend(
            (columns.zip(self.values()))
                .filter(|(c, _)| c.inserted())
                .map(|(_, v)| v),
        );
    }

    /// Sets the primary key (after the database generated it).
    fn set_primary_key(&mut self, value: ValueRef<'_>) -> Result<()>;

    /// Where this model keeps the SQL of its commonest selects once built
    /// ([`select_slots`] of them; none: they are built every time).
    #[doc(hidden)]
    fn built_selects() -> &'static [shapes::BuiltSql] {
        &[]
    }

    /// The primary key's value: its first column's for a composite key
    /// (whose every column [`key_values`](Self::key_values) gives).
    fn primary_key(&self) -> Value {
        self.value(Self::META.pk_index())
    }

    /// The values of the primary key's columns, in key order.
    ///
    /// ```
    /// use dualdb::{Model, Value};
    ///
    /// #[derive(Model)]
    /// #[model(primary_key(order_id, line))]
    /// struct OrderLine { order_id: i64, line: i32, sku: String }
    ///
    /// let l = OrderLine { order_id: 7, line: 2, sku: "A-1".into() };
    /// assert_eq!(l.key_values(), vec![Value::I64(7), Value::I64(2)]);
    /// ```
    fn key_values(&self) -> Vec<Value> {
        Self::META.key.iter().map(|&i| self.value(i)).collect()
    }

    /// A query for all rows of this model; add filters with [`Select::filter`].
    fn select() -> Select<Self> {
        Select::new()
    }

    /// A window over the rows a query of this model reads, for window
    /// functions (`Book::window().order_by(Book::PAGES.desc()).rank()`):
    /// see [`Window`].
    fn window() -> Window<Self> {
        Window::new()
    }

    /// `UPDATE` rows of this model: `User::update_query().set(User::NAME, "x").filter(…)`.
    fn update_query() -> UpdateQuery<Self> {
        UpdateQuery::new()
    }

    /// `DELETE` rows of this model.
    fn delete_query() -> DeleteQuery<Self> {
        DeleteQuery::new()
    }

    /// `INSERT` these rows; `execute` returns them with their generated
    /// keys, in the order given. Rows beyond what one statement may bind go
    /// in further statements, all or nothing (a transaction of their own,
    /// or a savepoint in the caller's); rows that give their generated key
    /// go in statements apart from rows that leave it to the server.
    fn insert_many(rows: Vec<Self>) -> InsertMany<Self> {
        InsertMany { rows }
    }

    /// `INSERT INTO` this model's `columns` the rows `query` selects, each
    /// column from the field in its place in `fields` (peewee's
    /// `insert_from`): `INSERT … SELECT` in one statement, the rows copied
    /// by the server. See [`InsertFrom`].
    fn insert_from<X: Model>(
        columns: &[&dyn ColumnOf<Self>],
        query: Select<X>,
        fields: impl Selection,
    ) -> InsertFrom<Self, X> {
        InsertFrom::new(columns, query, fields)
    }

    /// `UPDATE` these rows by their keys, each to its own values of
    /// `columns` (key columns are not set): peewee's `bulk_update`. A few
    /// statements instead of one for each row; see [`BulkUpdate`].
    fn bulk_update(rows: &[Self], columns: &[&dyn ColumnOf<Self>]) -> BulkUpdate<Self> {
        BulkUpdate::new(rows, columns)
    }

    /// A query for the row whose primary key is `key`: one value for a key
    /// of one column, a tuple in key order for a composite key
    /// (`OrderLine::by_id((7, 2))`). A key of the wrong number of columns
    /// fails the query with [`ErrorKind::Usage`](crate::ErrorKind::Usage)
    /// before any I/O.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// let ada = s.create(User { id: 0, name: "ada".into(), age: None }).unwrap();
    /// assert_eq!(s.get(User::by_id(ada.id)).unwrap().name, "ada");
    /// let wrong = s.get(User::by_id((ada.id, 1))).unwrap_err();
    /// assert_eq!(wrong.kind(), dualdb::ErrorKind::Usage);
    /// ```
    fn by_id(key: impl IntoKey) -> Select<Self> {
        Select::from(key::filter::<Self>(key.into_key()))
    }
}

/// The SQL type family of a column, chosen from its Rust type.
///
/// ```
/// use dualdb::model::{ColumnKind, ColumnType};
/// assert_eq!(<Option<i32> as ColumnType>::KIND, ColumnKind::Int);
/// assert_eq!(<Vec<String> as ColumnType>::KIND, ColumnKind::Array(&ColumnKind::Text));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnKind {
    /// `BOOLEAN`.
    Bool,
    /// 16-bit integer.
    SmallInt,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    BigInt,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// Text (`VARCHAR(n)` with `max_length`).
    Text,
    /// Binary data.
    Bytes,
    /// A UUID: `UUID` on PostgreSQL, `CHAR(36)` on MySQL, `TEXT` on SQLite.
    Uuid,
    /// An exact decimal: `NUMERIC` on PostgreSQL, `DECIMAL(65,30)` on MySQL,
    /// `TEXT` on SQLite (exact digits; SQLite's `NUMERIC` would round to a float).
    Numeric,
    /// `DATE` (`TEXT` on SQLite).
    Date,
    /// `TIME` (`TIME(6)` on MySQL, `TEXT` on SQLite).
    Time,
    /// `TIMESTAMP` (`DATETIME(6)` on MySQL, `TEXT` on SQLite).
    Timestamp,
    /// `TIMESTAMPTZ` (`DATETIME(6)` in UTC on MySQL, `TEXT` on SQLite).
    TimestampTz,
    /// `JSONB` on PostgreSQL, `JSON` on MySQL, `TEXT` on SQLite.
    Json,
    /// A PostgreSQL array of the element kind.
    Array(&'static ColumnKind),
    /// A PostgreSQL `hstore` (the extension must be installed).
    HStore,
    /// Text holding one of a Rust enum's variant names (`#[derive(SqlEnum)]`).
    Enum,
}

/// Maps a Rust field type to its column kind and nullability.
///
/// ```
/// use dualdb::model::{ColumnKind, ColumnType};
/// assert!(<Option<String> as ColumnType>::NULLABLE);
/// assert!(!<String as ColumnType>::NULLABLE);
/// assert_eq!(<f64 as ColumnType>::KIND, ColumnKind::Double);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a column type dualdb maps",
    label = "not a column type",
    note = "the types a model field may have are listed in `dualdb::types`; \
            a type of your own can implement `ColumnType`, `ToSql` and `FromSql`"
)]
pub trait ColumnType {
    /// The SQL type family.
    const KIND: ColumnKind;
    /// True for `Option<T>`.
    const NULLABLE: bool = false;
}

macro_rules! column_types {
    ($($t:ty => $k:ident),* $(,)?) => {$(
        impl $crate::model::ColumnType for $t {
            const KIND: $crate::model::ColumnKind = $crate::model::ColumnKind::$k;
        }
    )*};
}
// Used by the optional type modules (`chrono`, `time`, `decimal`, `json`).
#[allow(unused_imports)]
pub(crate) use column_types;
column_types!(
    bool => Bool, i8 => SmallInt, i16 => SmallInt, u8 => SmallInt, i32 => Int, u16 => Int,
    i64 => BigInt, u32 => BigInt, f32 => Float, f64 => Double, String => Text, Vec<u8> => Bytes,
    crate::types::Numeric => Numeric,
);

#[cfg(feature = "uuid")]
impl ColumnType for uuid::Uuid {
    const KIND: ColumnKind = ColumnKind::Uuid;
}

impl<T: ColumnType> ColumnType for Option<T> {
    const KIND: ColumnKind = T::KIND;
    const NULLABLE: bool = true;
}

/// One column of a model, as the derive describes it.
///
/// ```
/// # dualdb::__doc_fixtures!(users: db, s);
/// let name = &User::META.columns[1];
/// assert_eq!((name.name, name.unique, name.max_length, name.nullable), ("name", true, Some(40), false));
/// assert!(Post::META.columns[1].references.is_some());
/// ```
#[derive(Debug)]
pub struct ColumnMeta {
    /// The column name.
    pub name: &'static str,
    /// The SQL type family.
    pub kind: ColumnKind,
    /// NULL allowed (the field is an `Option`).
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Generated by the database.
    pub auto_increment: bool,
    /// Has a unique constraint.
    pub unique: bool,
    /// `VARCHAR(n)` length.
    pub max_length: Option<u32>,
    /// SQL default expression.
    pub default: Option<&'static str>,
    /// The model this column references (foreign key to its primary key).
    pub references: Option<fn() -> &'static ModelMeta>,
}

impl ColumnMeta {
    /// True if an insert writes this column: all but a generated key.
    pub(crate) fn inserted(&self) -> bool {
        !(self.primary_key && self.auto_increment)
    }
}

/// A model's table, as the derive describes it.
///
/// ```
/// # dualdb::__doc_fixtures!(users: db, s);
/// assert_eq!(Post::META.table, "post");
/// assert_eq!(Post::META.columns.len(), 3);
/// ```
#[derive(Debug)]
pub struct ModelMeta {
    /// The Rust type's name.
    pub name: &'static str,
    /// The table name.
    pub table: &'static str,
    /// The columns, in field order.
    pub columns: &'static [ColumnMeta],
    /// The indexes in `columns` of the primary key's columns, in key order:
    /// one, or more for a composite key.
    pub key: &'static [usize],
}

impl ModelMeta {
    /// The primary key column: the first, for a composite key (see
    /// [`key_columns`](Self::key_columns)).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// assert_eq!(User::META.pk().name, "id");
    /// ```
    pub fn pk(&self) -> &'static ColumnMeta {
        &self.columns[self.pk_index()]
    }

    /// The primary key's columns, in key order.
    ///
    /// ```
    /// use dualdb::Model;
    ///
    /// #[derive(Model)]
    /// struct Membership {
    ///     #[model(primary_key)]
    ///     club: i64,
    ///     #[model(primary_key)]
    ///     member: i64,
    ///     role: String,
    /// }
    ///
    /// let names: Vec<&str> = Membership::META.key_columns().map(|c| c.name).collect();
    /// assert_eq!(names, ["club", "member"]);
    /// assert!(Membership::META.composite_key());
    /// ```
    pub fn key_columns(&self) -> impl Iterator<Item = &'static ColumnMeta> + use<> {
        let columns = self.columns;
        self.key.iter().map(move |&i| &columns[i])
    }

    /// True if the primary key has more than one column.
    pub fn composite_key(&self) -> bool {
        self.key.len() > 1
    }

    /// The index in `columns` of the primary key's first column.
    pub(crate) fn pk_index(&self) -> usize {
        self.key.first().copied().unwrap_or(0)
    }

    /// True if the database generates the primary key.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// assert!(User::META.auto_key());
    /// ```
    pub fn auto_key(&self) -> bool {
        self.pk().auto_increment
    }
}

/// A model's entry in the registry that recursive deletes search for
/// dependents. The derive submits one per model.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration(pub &'static ModelMeta);

inventory::collect!(Registration);

#[doc(hidden)]
#[macro_export]
macro_rules! __dualdb_register {
    ($t:ty) => {
        $crate::__private::inventory::submit! {
            $crate::model::Registration(<$t as $crate::Model>::META)
        }
    };
}
#[doc(hidden)]
pub use crate::__dualdb_register as register;
