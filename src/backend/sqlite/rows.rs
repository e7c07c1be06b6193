//! SQLite rows copied out of a statement. A statement's rows live only until
//! its next step, so they are copied; to keep that copy cheap, the rows of a
//! collected result share one [`LiteSet`]: one vector of cells and one of
//! text and blob bytes for the whole result, and no allocation per row or
//! per value. A streamed row has a set of its own, which the next row of
//! the statement refills unless the row was kept, and which the connection
//! keeps for its next statement.

use std::ops::Range;
use std::sync::Arc;

use rusqlite::types::ValueRef as LiteRef;

use crate::error::Result;
use crate::row::{RowRead, in_column, out_of_range};
use crate::value::{FromSql, ValueRef};

/// The most text and blob bytes a row kept for reuse may hold: a statement
/// that read a large value does not keep its memory for the next one.
const SPARE_BYTES: usize = 16 * 1024;

/// One copied column value. rusqlite's own owned `Value` panics on text that
/// is not UTF-8; this keeps the bytes and lets decoding report it.
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    /// Bytes in the set's `bytes`.
    Text(Range<usize>),
    Blob(Range<usize>),
}

/// The columns of a statement's rows: their names, or only how many there
/// are when the rows are read by position only (`Stmt::positional`), which
/// spares reading the names out of the statement.
#[derive(Clone)]
pub(crate) enum LiteColumns {
    Named(Arc<[String]>),
    Unnamed(usize),
}

impl LiteColumns {
    fn len(&self) -> usize {
        match self {
            LiteColumns::Named(names) => names.len(),
            LiteColumns::Unnamed(n) => *n,
        }
    }

    fn name(&self, i: usize) -> Option<&str> {
        match self {
            LiteColumns::Named(names) => names.get(i).map(String::as_str),
            LiteColumns::Unnamed(_) => None,
        }
    }

    fn same(&self, other: &LiteColumns) -> bool {
        match (self, other) {
            (LiteColumns::Named(a), LiteColumns::Named(b)) => Arc::ptr_eq(a, b),
            (LiteColumns::Unnamed(a), LiteColumns::Unnamed(b)) => a == b,
            _ => false,
        }
    }
}

/// The rows of one result (or one streamed row), side by side.
pub(crate) struct LiteSet {
    columns: LiteColumns,
    cells: Vec<Cell>,
    bytes: Vec<u8>,
    /// Rows pushed; row `k`'s cells start at `k * columns.len()`.
    rows: usize,
}

impl LiteSet {
    /// An empty set for rows with these columns.
    pub(crate) fn new(columns: LiteColumns) -> Self {
        LiteSet {
            cells: Vec::with_capacity(columns.len()),
            columns,
            // Room for a row of short texts without growing.
            bytes: Vec::with_capacity(64),
            rows: 0,
        }
    }

    /// Copies one row in.
    pub(crate) fn push(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        for i in 0..self.columns.len() {
            let mut bytes = |b: &[u8]| {
                let at = self.bytes.len();
                self.bytes.extend_from_slice(b);
                at..self.bytes.len()
            };
            let cell = match row.get_ref(i)? {
                LiteRef::Null => Cell::Null,
                LiteRef::Integer(v) => Cell::Integer(v),
                LiteRef::Real(f) => Cell::Real(f),
                LiteRef::Text(t) => Cell::Text(bytes(t)),
                LiteRef::Blob(b) => Cell::Blob(bytes(b)),
            };
            self.cells.push(cell);
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows pushed, in order.
    pub(crate) fn rows(self) -> impl Iterator<Item = CopiedRow> {
        let (n, width) = (self.rows, self.columns.len());
        let set = Arc::new(self);
        (0..n).map(move |k| CopiedRow {
            set: set.clone(),
            start: k * width,
        })
    }
}

/// One row of a [`LiteSet`].
pub(crate) struct CopiedRow {
    set: Arc<LiteSet>,
    start: usize,
}

impl CopiedRow {
    /// A row with a set of its own.
    pub(crate) fn single(columns: LiteColumns, row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let mut set = LiteSet::new(columns);
        set.push(row)?;
        Ok(CopiedRow {
            set: Arc::new(set),
            start: 0,
        })
    }

    /// Makes this row a copy of `row` (whose columns are `columns`), in the
    /// buffers it has, if its set is its alone; false (and unchanged) if the
    /// set is shared.
    pub(crate) fn refill(
        &mut self,
        columns: &LiteColumns,
        row: &rusqlite::Row<'_>,
    ) -> rusqlite::Result<bool> {
        let Some(set) = Arc::get_mut(&mut self.set) else {
            return Ok(false);
        };
        if !set.columns.same(columns) {
            set.columns = columns.clone();
        }
        set.cells.clear();
        set.bytes.clear();
        set.rows = 0;
        set.push(row)?;
        self.start = 0;
        Ok(true)
    }

    /// True if this row's buffers are worth keeping for the next statement:
    /// its set is its alone and holds no large value.
    pub(crate) fn reusable(&mut self) -> bool {
        Arc::get_mut(&mut self.set).is_some_and(|set| set.bytes.capacity() <= SPARE_BYTES)
    }

    pub(crate) fn len(&self) -> usize {
        self.set.columns.len()
    }
    /// The name of column `i`; `None` also for rows read by position only.
    pub(crate) fn column_name(&self, i: usize) -> Option<&str> {
        self.set.columns.name(i)
    }
    /// Column `i`, `None` if the row has no such column.
    #[inline]
    pub(crate) fn value_ref(&self, i: usize) -> Option<ValueRef<'_>> {
        if i >= self.len() {
            return None;
        }
        let bytes = |r: &Range<usize>| self.set.bytes.get(r.clone()).unwrap_or_default();
        Some(match self.set.cells.get(self.start + i)? {
            Cell::Null => ValueRef::Null,
            Cell::Integer(i) => ValueRef::I64(*i),
            Cell::Real(f) => ValueRef::F64(*f),
            Cell::Text(r) => ValueRef::Text(bytes(r)),
            Cell::Blob(r) => ValueRef::Bytes(bytes(r)),
        })
    }
}

impl RowRead for CopiedRow {
    #[inline]
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        match self.value_ref(i) {
            Some(v) => T::from_column(v).map_err(|e| in_column(i, e)),
            None => Err(out_of_range(i, self.len())),
        }
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        match self.value_ref(i) {
            Some(v) => Ok(v == ValueRef::Null),
            None => Err(out_of_range(i, self.len())),
        }
    }
}

/// The names a prepared statement's columns were last found to start with:
/// the address and length of the names a decoder checked, and the
/// statement's count of automatic re-preparations then (SQLite prepares a
/// statement anew after a schema change, and its columns may change with
/// it). While both stay the same the check holds without reading the names
/// again, which is most of a one-row `query_as`'s own cost
/// (benches/paired, `query_as` of 1 row).
pub(crate) type NamesMemo = std::cell::Cell<Option<(usize, usize, i32)>>;

/// A statement's current row read in place: a sink that decodes a model
/// from it (`Sink::in_place`, in `plan/sink.rs`) needs no copy of it. With
/// its statement's [`NamesMemo`], if it has one.
pub(crate) struct CurrentRow<'s>(
    pub(crate) &'s rusqlite::Row<'s>,
    pub(crate) Option<&'s NamesMemo>,
);

impl CurrentRow<'_> {
    /// True if the statement's first columns are named `names`, in order.
    pub(crate) fn names_are(&self, names: &[&str]) -> bool {
        let st = self.0.as_ref();
        let key = (
            names.as_ptr() as usize,
            names.len(),
            st.get_status(rusqlite::StatementStatus::RePrepare),
        );
        if self.1.is_some_and(|m| m.get() == Some(key)) {
            return true;
        }
        let same = st.column_count() >= names.len()
            && names
                .iter()
                .enumerate()
                .all(|(i, n)| st.column_name(i).is_ok_and(|c| c == *n));
        if let (true, Some(memo)) = (same, self.1) {
            memo.set(Some(key));
        }
        same
    }

    #[inline(always)]
    fn value(&self, i: usize) -> Result<ValueRef<'_>> {
        // `ok()`: the error (its only one: no such column) is dropped on its
        // own path, not through a drop of the whole result on every read.
        Ok(match self.0.get_ref(i).ok() {
            Some(LiteRef::Null) => ValueRef::Null,
            Some(LiteRef::Integer(v)) => ValueRef::I64(v),
            Some(LiteRef::Real(f)) => ValueRef::F64(f),
            Some(LiteRef::Text(t)) => ValueRef::Text(t),
            Some(LiteRef::Blob(b)) => ValueRef::Bytes(b),
            None => return Err(out_of_range(i, self.0.as_ref().column_count())),
        })
    }
}

impl RowRead for CurrentRow<'_> {
    #[inline(always)]
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        T::from_column(self.value(i)?).map_err(|e| in_column(i, e))
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        Ok(matches!(self.value(i)?, ValueRef::Null))
    }
}
