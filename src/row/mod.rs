//! [`Row`]: one result row, the same type on every backend and both halves.
//!
//! PostgreSQL and MySQL rows are the drivers' own rows, kept as they arrived
//! (the blocking and async drivers of each backend share their row type);
//! SQLite rows are copied out of the statement. Columns decode through
//! [`FromSql`], by position or by name.
//!
//! ```
//! use dualdb::Database;
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word", &[]).unwrap();
//! assert_eq!(row.get::<i64>(0).unwrap(), 7);
//! assert_eq!(row.get::<String>("word").unwrap(), "seven");
//! assert_eq!(row.column_name(1), Some("word"));
//! assert!(row.get::<i64>("missing").is_err());
//! ```

use std::fmt;

#[doc(hidden)]
pub mod derived;
mod read;

pub(crate) use derived::InOrder;
pub use read::RowRead;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use read::within;
pub(crate) use read::{ReadRow, in_column, out_of_range};

use crate::backend::DriverRow;
use crate::error::{Error, Result};
use crate::value::{FromSql, ValueRef};

/// One result row.
///
/// ```
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
/// assert_eq!(row.get::<i64>("n").unwrap(), 7);
/// assert_eq!(row.get::<Option<String>>("missing").unwrap(), None);
/// println!("{row:?}"); // {"n": I64(7), "word": Text(…), "missing": Null}
/// ```
pub struct Row {
    /// The row as its backend's driver gave it; each backend reads its own.
    pub(crate) inner: DriverRow,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
}

/// A column index: a position (`usize`) or a name (`&str`).
///
/// ```
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
/// assert_eq!(row.get::<String>(1).unwrap(), row.get::<String>("word").unwrap());
/// assert!(row.get::<i64>(9).is_err());
/// ```
pub trait ColumnIndex: sealed::Sealed + fmt::Display + Copy {
    /// The position of this column in `row`.
    fn position(&self, row: &Row) -> Result<usize>;
}

impl ColumnIndex for usize {
    #[inline]
    fn position(&self, row: &Row) -> Result<usize> {
        if *self < row.len() {
            Ok(*self)
        } else {
            Err(out_of_range(*self, row.len()))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, row: &Row) -> Result<usize> {
        (0..row.len())
            .find(|&i| row.column_name(i) == Some(*self))
            .ok_or_else(|| Error::decode(format!("no column named {self:?} in the row")))
    }
}

impl Row {
    /// The number of columns.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
    /// assert_eq!(row.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True if the row has no columns.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
    /// assert!(!row.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of column `i`, if there is such a column.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
    /// assert_eq!(row.column_name(0), Some("n"));
    /// assert_eq!(row.column_name(3), None);
    /// ```
    pub fn column_name(&self, i: usize) -> Option<&str> {
        self.inner.column_name(i)
    }

    /// True if column `i` is named `name`.
    #[inline]
    pub(crate) fn column_is(&self, i: usize, name: &str) -> bool {
        self.inner.column_is(i, name)
    }

    /// True if the row's first columns are named `names`, in order.
    pub(crate) fn names_are(&self, names: &[&str]) -> bool {
        names.iter().enumerate().all(|(i, n)| self.column_is(i, n))
    }

    /// The raw value of a column.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
    /// use dualdb::ValueRef;
    /// assert_eq!(row.value("n").unwrap(), ValueRef::I64(7));
    /// assert_eq!(row.value(2).unwrap(), ValueRef::Null);
    /// ```
    pub fn value<I: ColumnIndex>(&self, index: I) -> Result<ValueRef<'_>> {
        self.value_at(index.position(self)?)
    }

    /// Column `i`'s raw value; an error if the row has no such column.
    #[inline]
    fn value_at(&self, i: usize) -> Result<ValueRef<'_>> {
        self.inner.value(i)
    }

    /// Decodes a column into `T`; the error names the column.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let row = db.sync().query_one("SELECT 7 AS n, 'seven' AS word, NULL AS missing", &[]).unwrap();
    /// let n: i64 = row.get("n").unwrap();
    /// let small: i8 = row.get(0).unwrap();
    /// assert_eq!((n, small), (7, 7));
    /// let err = row.get::<i64>("word").unwrap_err();
    /// assert!(err.to_string().contains("column word"));
    /// ```
    #[inline]
    pub fn get<T: FromSql>(&self, index: impl ColumnIndex) -> Result<T> {
        let i = index.position(self)?;
        self.inner.get(i)?.map_err(|e| in_column(index, e))
    }

    /// Decodes column `i` into `T`, taking its text out of the row where the
    /// driver's row owns it (MySQL), so that a `String` keeps those bytes
    /// instead of copying them. The column is then gone from the row: the
    /// model derive reads each column once.
    ///
    /// Each backend hands the column over in its own form
    /// ([`FromSql::from_column`]).
    #[doc(hidden)]
    #[inline]
    pub fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        self.inner.take(i)
    }

    /// Hands the backend's own row to `read`: the backend is matched once
    /// for the whole row, not once a column.
    #[inline]
    pub(crate) fn read<V: ReadRow>(&mut self, read: V) -> V::Output {
        self.inner.read(read)
    }
}

impl RowRead for Row {
    #[inline]
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        Row::take(self, i)
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        Ok(matches!(self.value_at(i)?, ValueRef::Null))
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for i in 0..self.len() {
            let name = self.column_name(i).unwrap_or("?");
            match self.value(i) {
                Ok(v) => m.entry(&name, &v),
                Err(_) => m.entry(&name, &"<undecodable>"),
            };
        }
        m.finish()
    }
}

/// Builds a value from a whole row: any [`FromSql`] type from the first
/// column, a tuple from the first columns in order, or a struct with
/// `#[derive(FromRow)]`. Used by `query_as`, `fetch_as`, `scalar` and the
/// builder's `select_fields`.
///
/// ```
/// use dualdb::{Database, FromRow};
///
/// let db = Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT 1, 'a'", &[]).unwrap();
/// assert_eq!(<(i64, String)>::from_row(&row).unwrap(), (1, "a".to_string()));
/// assert_eq!(i64::from_row(&row).unwrap(), 1);
/// ```
///
/// The derive reads a struct's fields from the columns of their names
/// (a tuple struct's from the columns in order). Field attributes:
/// `#[row(rename = "column")]`, `#[row(default)]` (`Default::default()`
/// where the row has no such column), `#[row(flatten)]` (a field that is
/// itself `FromRow`, read from the same row); an `Option<T>` field takes
/// NULL as `None`. A missing or ill-typed column is a
/// [`Decode`](crate::ErrorKind::Decode) error naming the field and the
/// column.
///
/// ```
/// use dualdb::{Database, FromRow};
///
/// #[derive(FromRow, Debug, PartialEq)]
/// struct Place { city: String }
///
/// #[derive(FromRow, Debug, PartialEq)]
/// struct Visit {
///     #[row(rename = "who")]
///     name: String,
///     #[row(default)]
///     stars: i64,
///     note: Option<String>,
///     #[row(flatten)]
///     place: Place,
/// }
///
/// let db = Database::open("sqlite::memory:").unwrap();
/// let sql = "SELECT 'ann' AS who, NULL AS note, 'Oslo' AS city";
/// let v: Vec<Visit> = db.sync().query_as(sql, &[]).unwrap();
/// assert_eq!(v[0], Visit { name: "ann".into(), stars: 0, note: None, place: Place { city: "Oslo".into() } });
/// let err = db.sync().query_as::<Visit>("SELECT 1 AS note", &[]).unwrap_err();
/// assert!(err.to_string().contains("Visit.name"), "{err}");
/// ```
pub trait FromRow: Sized {
    /// Decodes the row.
    fn from_row(row: &Row) -> Result<Self>;

    /// Decodes the row, which is not read again: a column's text may be
    /// moved out of it rather than copied. `query_as` and `fetch_as` call
    /// this; the derive writes it, and any other type has `from_row`'s.
    #[doc(hidden)]
    #[inline]
    fn from_row_mut(row: &mut Row) -> Result<Self> {
        Self::from_row(row)
    }

    /// The column names a row must have, in this order from its first
    /// column, for [`read_in_order`](Self::read_in_order) to read it: the
    /// derive's, for a struct of plain named fields; `None` for any other.
    #[doc(hidden)]
    const IN_ORDER: Option<&'static [&'static str]> = None;

    /// True if [`read_in_order`](Self::read_in_order) reads any row, by
    /// position, whatever its columns are named: a scalar's and a tuple's,
    /// which read columns 0, 1, … (`select_fields`, `query_as`).
    #[doc(hidden)]
    const BY_POSITION: bool = false;

    /// Reads a row whose columns are [`IN_ORDER`](Self::IN_ORDER)'s, by
    /// position, wherever the row lies (SQLite's current row, in place):
    /// `query_as` checks the names once a statement, not once a row.
    #[doc(hidden)]
    fn read_in_order<R: RowRead>(_row: &mut R) -> Result<Self> {
        Err(crate::Error::new(
            crate::ErrorKind::Usage,
            "internal: read_in_order of a type with no column order",
        ))
    }

    /// What a query that returned no row gives where one row was asked
    /// for (`scalar`): by default a [`NotFound`](crate::ErrorKind::NotFound)
    /// error; `None` for an `Option<T>`, and a tuple of `None`s for a tuple
    /// of `Option`s, as peewee-async's `scalar()` returns `None`.
    fn from_no_row() -> Result<Self> {
        Err(crate::Error::not_found())
    }
}

impl<T: FromSql> FromRow for T {
    fn from_row(row: &Row) -> Result<Self> {
        row.get(0)
    }
    const BY_POSITION: bool = true;
    #[inline]
    fn read_in_order<R: RowRead>(row: &mut R) -> Result<Self> {
        row.take(0)
    }
    fn from_no_row() -> Result<Self> {
        T::absent().ok_or_else(crate::Error::not_found)
    }
}

macro_rules! tuple_from_row {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: FromSql),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row) -> Result<Self> {
                Ok(($(row.get::<$name>($idx)?,)+))
            }
            const BY_POSITION: bool = true;
            #[inline]
            fn read_in_order<R: RowRead>(row: &mut R) -> Result<Self> {
                Ok(($(row.take::<$name>($idx)?,)+))
            }
            fn from_no_row() -> Result<Self> {
                Ok(($($name::absent().ok_or_else(crate::Error::not_found)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
