//! A statement with its bound values, and the row-count rules shared by both
//! halves (`query_one`, `query_opt`).

use crate::error::{Error, Result};
use crate::row::Row;
use crate::value::{ToSql, Value};

/// SQL text and its parameters, owned so that it can cross into a blocking
/// thread or a boxed future.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
    /// Its rows are read by position only: a backend that copies the column
    /// names out of each statement (SQLite) may leave them out of its rows.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) positional: bool,
}

impl Stmt {
    pub(crate) fn new(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Self {
        Stmt::with(sql.to_owned(), params.iter().map(|p| p.to_sql()).collect())
    }

    /// SQL and its bound values.
    pub(crate) fn with(sql: String, params: Vec<Value>) -> Self {
        Stmt {
            sql,
            params,
            positional: false,
        }
    }

    /// SQL without parameters.
    pub(crate) fn bare(sql: String) -> Self {
        Stmt::with(sql, Vec::new())
    }

    /// This statement, its rows read by position only (see `positional`).
    pub(crate) fn by_position(self) -> Self {
        Stmt {
            positional: true,
            ..self
        }
    }
}

/// What a statement run for its count reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExecResult {
    pub(crate) rows_affected: u64,
    /// The generated key of the last inserted row, where the driver reports
    /// it (MySQL, SQLite).
    pub(crate) last_insert_id: Option<u64>,
}

/// Exactly one row, or `NotFound` / `TooManyRows`.
pub(crate) fn exactly_one(rows: Vec<Row>) -> Result<Row> {
    match at_most_one(rows)? {
        Some(row) => Ok(row),
        None => Err(Error::not_found()),
    }
}

/// No row or one row, or `TooManyRows`.
pub(crate) fn at_most_one(rows: Vec<Row>) -> Result<Option<Row>> {
    if rows.len() > 1 {
        return Err(Error::too_many_rows());
    }
    Ok(rows.into_iter().next())
}
