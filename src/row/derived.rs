//! What `#[derive(FromRow)]` writes calls to: a field read from its column
//! (by name, or by position in a tuple struct), a field left to its
//! `Default` where the row has no such column, a flattened field read from
//! the whole row. A missing or ill-typed column is a
//! [`Decode`](crate::ErrorKind::Decode) error naming the struct's field and
//! the column (tests/from_row.rs).

use super::{ColumnIndex, FromRow, Row, RowRead, in_column};
use crate::backend::InPlaceRow;
use crate::error::{Error, Result};
use crate::value::FromSql;

/// Field `field` of struct `of`, from the column named `name`: looked for
/// first at `hint`, the field's place in the struct, where a query that
/// lists the columns in the struct's order has it (one comparison a field,
/// not a search; benches/paired `query_as`).
#[inline]
pub fn column_named<T: FromSql>(
    row: &Row,
    name: &str,
    hint: usize,
    of: &str,
    field: &str,
) -> Result<T> {
    if row.column_is(hint, name) {
        at(row, hint, name, of, field)
    } else {
        column(row, name, of, field)
    }
}

/// Field `field` of struct `of`, from column `i`, named `name` in an
/// error.
#[inline]
fn at<T: FromSql>(row: &Row, i: usize, name: &str, of: &str, field: &str) -> Result<T> {
    let value = row.value(i).map_err(|e| in_field(e, of, field))?;
    T::from_sql(value).map_err(|e| in_field(in_column(name, e), of, field))
}

/// [`column_named`] for a row read once: the column at its place is taken
/// out of the row (decoded by the backend's own path, its text moved where
/// the driver's row owns it), not copied.
#[inline]
pub fn take_named<T: FromSql>(
    row: &mut Row,
    name: &str,
    hint: usize,
    of: &str,
    field: &str,
) -> Result<T> {
    if row.column_is(hint, name) {
        take_at(row, hint, name, of, field)
    } else {
        column(row, name, of, field)
    }
}

/// Field `field` of struct `of`, from `column` (a name, or a position in a
/// tuple struct).
#[inline]
pub fn column<T: FromSql, I: ColumnIndex>(
    row: &Row,
    column: I,
    of: &str,
    field: &str,
) -> Result<T> {
    row.get::<T>(column).map_err(|e| in_field(e, of, field))
}

/// Field `field` of struct `of`, from `column` if the row has it, else
/// `T::default()`.
pub fn column_or_default<T: FromSql + Default>(
    row: &Row,
    column: &str,
    of: &str,
    field: &str,
) -> Result<T> {
    match (0..row.len()).find(|&i| row.column_is(i, column)) {
        Some(i) => at(row, i, column, of, field),
        None => Ok(T::default()),
    }
}

/// Field `field` of struct `of`, column `i` of a row whose names were
/// checked (`FromRow::read_in_order`), named `name` in an error.
#[inline]
pub fn take_at<T: FromSql, R: RowRead>(
    row: &mut R,
    i: usize,
    name: &str,
    of: &str,
    field: &str,
) -> Result<T> {
    row.take(i)
        .map_err(|e| in_field(in_column(name, e), of, field))
}

/// Field `field` of struct `of`, itself read from the whole row.
pub fn flattened<T: FromRow>(row: &Row, of: &str, field: &str) -> Result<T> {
    T::from_row(row).map_err(|e| in_field(e, of, field))
}

#[cold]
fn in_field(e: Error, of: &str, field: &str) -> Error {
    Error::decode(format!("{of}.{field}: {}", e.message())).with_source(e)
}

/// How the rows of one statement become `T`s: a scalar or a tuple
/// ([`FromRow::BY_POSITION`]) by position, in place on SQLite; a struct with
/// [`FromRow::IN_ORDER`] whose names the statement's first row has, in
/// order, by position from then on, with no name looked at again; any
/// other row by `from_row_mut`. `query_as`, `fetch_as` and `select_fields`
/// share it (benches/paired `query_as` and `window`).
#[derive(Debug, Default)]
pub(crate) struct InOrder {
    /// Whether the statement's columns are `T::IN_ORDER`'s, found at its
    /// first row.
    checked: Option<bool>,
}

impl InOrder {
    /// One row, as it came.
    #[inline]
    pub(crate) fn read<T: FromRow>(&mut self, row: &mut Row) -> Result<T> {
        if T::BY_POSITION {
            return T::read_in_order(row);
        }
        match T::IN_ORDER {
            Some(names) if *self.checked.get_or_insert_with(|| row.names_are(names)) => {
                T::read_in_order(row)
            }
            _ => T::from_row_mut(row),
        }
    }

    /// One row where it lies; `None` to have it copied and given to
    /// [`read`](Self::read).
    #[inline]
    pub(crate) fn read_in_place<T: FromRow>(
        &mut self,
        row: &mut InPlaceRow<'_>,
    ) -> Option<Result<T>> {
        if T::BY_POSITION {
            return Some(T::read_in_order(row));
        }
        let names = T::IN_ORDER?;
        if !*self.checked.get_or_insert_with(|| row.names_are(names)) {
            return None;
        }
        Some(T::read_in_order(row))
    }
}
