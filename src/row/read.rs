//! Reading a row's columns by position: the [`RowRead`] trait each
//! backend's row implements (the drivers' own rows, SQLite's copied rows
//! and the statement's current row), through which models decode without
//! knowing the backend, and the errors that name a column.

use std::fmt;

use crate::error::{Error, Result};
use crate::value::FromSql;

/// What model decoding reads a row through: a [`Row`](crate::Row), or a
/// backend's own row (read in place, not copied first). Implemented by
/// each backend for its rows; the derive's `read_in` is generic over it, so
/// decoding is compiled once per backend.
#[doc(hidden)]
pub trait RowRead {
    /// Column `i` as `T`; it may move text out of the row (MySQL), so each
    /// column is read once.
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T>;
    /// True if column `i` is NULL.
    fn is_null(&mut self, i: usize) -> Result<bool>;
}

/// Something done with a row through [`RowRead`], whatever the backend's row
/// type: a [`Row`](crate::Row) matches its backend once, then hands its own
/// row over ([`Row::read`](crate::Row)), so that the columns that follow are
/// read with no match each.
pub(crate) trait ReadRow {
    /// What reading the row gives.
    type Output;
    /// Reads `row`.
    fn read<R: RowRead>(self, row: &mut R) -> Self::Output;
}

/// A decoding error, naming its column.
pub(crate) fn in_column(index: impl fmt::Display, e: Error) -> Error {
    Error::decode(format!("column {index}: {}", e.message())).with_source(e)
}

/// The error of a column position past the row's end.
pub(crate) fn out_of_range(i: usize, len: usize) -> Error {
    Error::decode(format!(
        "column index {i} is out of range for a row of {len} columns"
    ))
}

/// `Ok` if a row of `len` columns has column `i`, else its
/// [`out_of_range`] error.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[inline]
pub(crate) fn within(i: usize, len: usize) -> Result<()> {
    if i < len {
        Ok(())
    } else {
        Err(out_of_range(i, len))
    }
}
