//! [`ModelRow`]: what [`raw`](crate::SyncDb::raw) decodes each row into: one
//! model, or several side by side as a join returns them.
//!
//! ```
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug)]
//! struct Author { #[model(primary_key, auto)] id: i64, name: String }
//! #[derive(Model, Debug)]
//! struct Book { #[model(primary_key, auto)] id: i64, #[model(references = Author)] author: i64, title: String }
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let s = db.sync();
//! s.create_table::<Author>().unwrap();
//! s.create_table::<Book>().unwrap();
//! let le_guin = s.create(Author { id: 0, name: "Le Guin".into() }).unwrap();
//! s.create(Author { id: 0, name: "Nobody".into() }).unwrap();
//! s.create(Book { id: 0, author: le_guin.id, title: "Earthsea".into() }).unwrap();
//!
//! // a LEFT JOIN: authors without books get `None`
//! let rows: Vec<(Author, Option<Book>)> = s
//!     .raw("SELECT author.*, book.* FROM author LEFT JOIN book ON book.author = author.id ORDER BY author.id", &[])
//!     .unwrap();
//! assert_eq!(rows[0].1.as_ref().unwrap().title, "Earthsea");
//! assert_eq!(rows[1].0.name, "Nobody");
//! assert!(rows[1].1.is_none());
//! ```

use super::layout::Columns;
use super::{Model, ModelMeta};
use crate::error::{Error, Result};
use crate::row::{ReadRow, Row, RowRead};

/// What [`raw`](crate::SyncDb::raw) decodes a row into: a [`Model`], an
/// `Option` of one (`None` when its primary key is NULL, as on the outer
/// side of a `LEFT JOIN`), or a tuple of up to four of those whose columns
/// follow one another in the row (`SELECT a.*, b.*`).
///
/// A lone model finds its columns by name when they are not in its order; in
/// a tuple each model's columns must stand in its own order, since names
/// such as `id` repeat across a join: a row that does not line up is a
/// [`Decode`](crate::ErrorKind::Decode) error, never a silent mix-up.
///
/// ```
/// # use dualdb::{Database, ErrorKind, Model};
/// # #[derive(Model, Debug)]
/// # struct Author { #[model(primary_key, auto)] id: i64, name: String }
/// # #[derive(Model, Debug)]
/// # struct Book { #[model(primary_key, auto)] id: i64, #[model(references = Author)] author: i64, title: String }
/// # let db = Database::open("sqlite::memory:").unwrap();
/// # let s = db.sync();
/// # s.create_table::<Author>().unwrap();
/// # s.create_table::<Book>().unwrap();
/// # let a = s.create(Author { id: 0, name: "Le Guin".into() }).unwrap();
/// # s.create(Book { id: 0, author: a.id, title: "Earthsea".into() }).unwrap();
/// let sql = "SELECT book.*, author.* FROM book JOIN author ON author.id = book.author";
/// let pairs: Vec<(Book, Author)> = s.raw(sql, &[]).unwrap();
/// assert_eq!(pairs[0].1.name, "Le Guin");
/// // the same columns read as (Author, Book) do not line up
/// let err = s.raw::<(Author, Book)>(sql, &[]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Decode);
/// ```
pub trait ModelRow: Sized + Send + 'static {
    /// How many columns this takes.
    const WIDTH: usize;

    /// Where this type's columns sit in a result's rows.
    #[doc(hidden)]
    type Layout: Send;

    /// Finds where this type's columns sit in `row` (and every row of its
    /// result), starting at `offset`; `strict` when they must stand in order
    /// (inside a tuple).
    #[doc(hidden)]
    fn layout(row: &Row, offset: usize, strict: bool) -> Result<Self::Layout>;

    /// Decodes a row whose columns sit where `layout` says, taking values
    /// out of it.
    #[doc(hidden)]
    fn decode_with(row: &mut Row, layout: &Self::Layout) -> Result<Self>;

    /// Decodes as [`decode_with`](Self::decode_with) through any
    /// [`RowRead`]; `None` (before reading anything) if this type only
    /// decodes from a [`Row`].
    #[doc(hidden)]
    fn read_with<R: RowRead>(_row: &mut R, _layout: &Self::Layout) -> Option<Result<Self>> {
        None
    }

    /// The models this type reads, in the order of their columns (for
    /// [`Select::models`](super::Select::models)).
    #[doc(hidden)]
    fn metas(out: &mut Vec<&'static ModelMeta>);
}

/// Checks that `meta`'s columns stand in order from `offset`.
fn lined_up(row: &Row, offset: usize, meta: &ModelMeta) -> Result<()> {
    for (i, c) in meta.columns.iter().enumerate() {
        let found = row.column_name(offset + i);
        if found != Some(c.name) {
            return Err(Error::decode(format!(
                "column {} of the row is {found:?}, where {}.{} belongs: \
                 in a tuple each model's columns must follow in its order",
                offset + i,
                meta.name,
                c.name
            )));
        }
    }
    Ok(())
}

fn model_layout(row: &Row, offset: usize, strict: bool, meta: &ModelMeta) -> Result<Columns> {
    if strict {
        lined_up(row, offset, meta)?;
        return Ok(Columns::in_order(offset));
    }
    Columns::find(row, offset, meta)
}

/// `T` read from the backend's own row, so that each column does not match
/// the backend again; `None` for models without `read_in`, which read the
/// `Row`.
#[inline]
fn read_driver_row<T: ModelRow>(row: &mut Row, layout: &T::Layout) -> Option<Result<T>> {
    row.read(ReadWith::<T>(layout))
}

/// [`ModelRow::read_with`] as a [`ReadRow`], for [`Row::read`].
struct ReadWith<'l, T: ModelRow>(&'l T::Layout);

impl<T: ModelRow> ReadRow for ReadWith<'_, T> {
    type Output = Option<Result<T>>;
    #[inline]
    fn read<R: RowRead>(self, row: &mut R) -> Self::Output {
        T::read_with(row, self.0)
    }
}

impl<M: Model> ModelRow for M {
    const WIDTH: usize = M::META.columns.len();
    type Layout = Columns;

    fn layout(row: &Row, offset: usize, strict: bool) -> Result<Columns> {
        model_layout(row, offset, strict, M::META)
    }

    fn decode_with(row: &mut Row, layout: &Columns) -> Result<Self> {
        match read_driver_row(row, layout) {
            Some(decoded) => decoded,
            None => M::from_row_in(row, layout),
        }
    }

    // Inlined, as the model's own `read_in` is (the derive says why).
    #[inline(always)]
    fn read_with<R: RowRead>(row: &mut R, layout: &Columns) -> Option<Result<Self>> {
        M::read_in(row, layout)
    }

    fn metas(out: &mut Vec<&'static ModelMeta>) {
        out.push(M::META);
    }
}

impl<M: Model> ModelRow for Option<M> {
    const WIDTH: usize = M::META.columns.len();
    type Layout = Columns;

    fn layout(row: &Row, offset: usize, strict: bool) -> Result<Columns> {
        model_layout(row, offset, strict, M::META)
    }

    fn decode_with(row: &mut Row, layout: &Columns) -> Result<Self> {
        if let Some(decoded) = read_driver_row(row, layout) {
            return decoded;
        }
        if row.is_null(layout.at(M::META.pk_index()))? {
            return Ok(None);
        }
        M::from_row_in(row, layout).map(Some)
    }

    fn read_with<R: RowRead>(row: &mut R, layout: &Columns) -> Option<Result<Self>> {
        match row.is_null(layout.at(M::META.pk_index())) {
            Ok(true) => Some(Ok(None)),
            Ok(false) => Some(M::read_in(row, layout)?.map(Some)),
            Err(e) => Some(Err(e)),
        }
    }

    fn metas(out: &mut Vec<&'static ModelMeta>) {
        out.push(M::META);
    }
}

macro_rules! tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ModelRow),+> ModelRow for ($($t,)+) {
            const WIDTH: usize = 0 $(+ $t::WIDTH)+;
            type Layout = ($($t::Layout,)+);

            #[allow(unused_assignments)]
            fn layout(row: &Row, offset: usize, _strict: bool) -> Result<Self::Layout> {
                let mut at = offset;
                Ok(($({
                    let v = $t::layout(row, at, true)?;
                    at += $t::WIDTH;
                    v
                },)+))
            }

            fn decode_with(row: &mut Row, layout: &Self::Layout) -> Result<Self> {
                Ok(($($t::decode_with(row, &layout.$i)?,)+))
            }

            // Only a SQLite row read in place comes here (a driver's row
            // decodes a tuple a model at a time, through `decode_with`):
            // reading it in place takes nothing out, so a model that cannot
            // be read so (`None`) after another was read leaves the row
            // whole, to be decoded from a copy.
            fn read_with<R: RowRead>(row: &mut R, layout: &Self::Layout) -> Option<Result<Self>> {
                Some(Ok(($(match $t::read_with(row, &layout.$i)? {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                },)+)))
            }

            fn metas(out: &mut Vec<&'static ModelMeta>) {
                $($t::metas(out);)+
            }
        }
    };
}

tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
