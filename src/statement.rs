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
}

impl Stmt {
    pub(crate) fn new(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Self {
        Stmt {
            sql: sql.to_owned(),
            params: params.iter().map(|p| p.to_sql()).collect(),
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
