//! Each backend's rows as the neutral [`Row`](crate::Row) and the plans see
//! them, without knowing the backend: a row as its driver gave it
//! ([`DriverRow`]), and a row read in place where it lies ([`InPlaceRow`]).
//! Both read their columns through [`RowRead`], which each backend
//! implements for its own row types.

#[cfg(not(feature = "sqlite"))]
use std::marker::PhantomData;

#[cfg(feature = "sqlite")]
use super::sqlite::rows::{CopiedRow, CurrentRow};
use crate::error::Result;
use crate::row::{ReadRow, RowRead, out_of_range};
use crate::value::{FromSql, ValueRef};

/// A row as its backend's driver gave it: PostgreSQL's and MySQL's own
/// rows (the blocking and async drivers of each share their row type), or
/// SQLite's copied out of its statement.
pub(crate) enum DriverRow {
    #[cfg(feature = "postgres")]
    Pg(tokio_postgres::Row),
    #[cfg(feature = "mysql")]
    My(mysql_common::row::Row),
    #[cfg(feature = "sqlite")]
    Lite(CopiedRow),
}

impl DriverRow {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) => r.len(),
            #[cfg(feature = "mysql")]
            DriverRow::My(r) => r.len(),
            #[cfg(feature = "sqlite")]
            DriverRow::Lite(r) => r.len(),
        }
    }

    /// True if column `i` is named `name` (MySQL's names compared as the
    /// bytes they are, not checked as UTF-8 first).
    #[inline]
    pub(crate) fn column_is(&self, i: usize, name: &str) -> bool {
        match self {
            #[cfg(feature = "mysql")]
            DriverRow::My(r) => r
                .columns_ref()
                .get(i)
                .is_some_and(|c| c.name_ref() == name.as_bytes()),
            #[allow(unreachable_patterns)]
            _ => self.column_name(i) == Some(name),
        }
    }

    pub(crate) fn column_name(&self, i: usize) -> Option<&str> {
        match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) => r.columns().get(i).map(|c| c.name()),
            #[cfg(feature = "mysql")]
            DriverRow::My(r) => super::mysql::row::column_name(r, i),
            #[cfg(feature = "sqlite")]
            DriverRow::Lite(r) => r.column_name(i),
        }
    }

    /// Column `i`'s value; an error if the row has no such column.
    #[inline]
    pub(crate) fn value(&self, i: usize) -> Result<ValueRef<'_>> {
        let found = match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) if i < r.len() => Some(super::postgres::types::value_ref(r, i)),
            #[cfg(feature = "mysql")]
            DriverRow::My(r) if i < r.len() => Some(super::mysql::row::value_ref(r, i)),
            #[cfg(feature = "sqlite")]
            DriverRow::Lite(r) => r.value_ref(i).map(Ok),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        found.unwrap_or_else(|| Err(out_of_range(i, self.len())))
    }

    /// Column `i` decoded into `T` where it lies: PostgreSQL's binary form
    /// straight to [`FromSql::from_column`], as a model's fields are read,
    /// with no [`ValueRef`] built between; the other backends through
    /// their `ValueRef`. The outer `Err`: the column could not be read at
    /// all; the inner one: it is not a `T`. The paired bench's
    /// `fold_rows` and `stream_rows` read rows by this.
    #[inline]
    pub(crate) fn get<T: FromSql>(&self, i: usize) -> Result<Result<T>> {
        match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) => Ok(T::from_column(super::postgres::types::column(r, i)?)),
            #[allow(unreachable_patterns)]
            _ => Ok(T::from_sql(self.value(i)?)),
        }
    }

    /// Column `i` as `T`, through the backend's [`RowRead`].
    #[inline]
    pub(crate) fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) => RowRead::take(r, i),
            #[cfg(feature = "mysql")]
            DriverRow::My(r) => RowRead::take(r, i),
            #[cfg(feature = "sqlite")]
            DriverRow::Lite(r) => RowRead::take(r, i),
        }
    }

    /// Hands the backend's row to `read`.
    #[inline]
    pub(crate) fn read<V: ReadRow>(&mut self, read: V) -> V::Output {
        match self {
            #[cfg(feature = "postgres")]
            DriverRow::Pg(r) => read.read(r),
            #[cfg(feature = "mysql")]
            DriverRow::My(r) => read.read(r),
            #[cfg(feature = "sqlite")]
            DriverRow::Lite(r) => read.read(r),
        }
    }
}

/// A row read where it lies, with no copy: SQLite's statement's current
/// row, handed to a sink that decodes it at once
/// (`Sink::in_place`, in `plan/sink.rs`). It has no variant
/// without the `sqlite` feature, and is then never made.
pub(crate) enum InPlaceRow<'s> {
    #[cfg(feature = "sqlite")]
    Lite(CurrentRow<'s>),
    #[cfg(not(feature = "sqlite"))]
    #[allow(dead_code)]
    Never(std::convert::Infallible, PhantomData<&'s ()>),
}

#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
impl InPlaceRow<'_> {
    /// True if the row's first columns are named `names`, in order.
    pub(crate) fn names_are(&self, names: &[&str]) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            InPlaceRow::Lite(r) => r.names_are(names),
            #[cfg(not(feature = "sqlite"))]
            InPlaceRow::Never(never, _) => match *never {},
        }
    }
}

#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
impl RowRead for InPlaceRow<'_> {
    // Always inlined, with SQLite's own: one variant, so no match is left
    // (benches/instructions, SQLite's 1,000-row select, guards it).
    #[inline(always)]
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        match self {
            #[cfg(feature = "sqlite")]
            InPlaceRow::Lite(r) => RowRead::take(r, i),
            #[cfg(not(feature = "sqlite"))]
            InPlaceRow::Never(never, _) => match *never {},
        }
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        match self {
            #[cfg(feature = "sqlite")]
            InPlaceRow::Lite(r) => r.is_null(i),
            #[cfg(not(feature = "sqlite"))]
            InPlaceRow::Never(never, _) => match *never {},
        }
    }
}
