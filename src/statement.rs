//! A statement with its bound values, and the row-count rules shared by both
//! halves (`query_one`, `query_opt`).

use std::fmt;
use std::hash::BuildHasher;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::row::Row;
use crate::value::{ToSql, Value};

/// A statement's SQL text: built for it alone, or shared with the cache of
/// built shapes (`model::shapes`), whose text is not copied into each
/// statement and whose hash, by which connections find their prepared
/// statements, is computed once.
#[derive(Clone)]
pub(crate) enum SqlText {
    Owned(String),
    Shared(Arc<SharedSql>),
    /// In a model's static slots of built selects: no count to keep.
    Static(&'static SharedSql),
}

/// Cached SQL text and its [`sql_hash`].
#[derive(Debug)]
pub(crate) struct SharedSql {
    hash: u64,
    text: Box<str>,
}

/// The hash connections key their statement caches by.
pub(crate) fn sql_hash(text: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one(text)
}

impl SharedSql {
    pub(crate) fn new(text: &str) -> Arc<Self> {
        Arc::new(Self::unshared(text))
    }

    pub(crate) fn unshared(text: &str) -> Self {
        SharedSql {
            hash: sql_hash(text),
            text: text.into(),
        }
    }
}

impl SqlText {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            SqlText::Owned(s) => s,
            SqlText::Shared(s) => &s.text,
            SqlText::Static(s) => &s.text,
        }
    }

    /// [`sql_hash`] of the text.
    pub(crate) fn hash(&self) -> u64 {
        match self {
            SqlText::Owned(s) => sql_hash(s),
            SqlText::Shared(s) => s.hash,
            SqlText::Static(s) => s.hash,
        }
    }

    /// True if both are the same text (the same cached one, at no cost).
    pub(crate) fn same(&self, other: &SqlText) -> bool {
        match (self, other) {
            (SqlText::Shared(a), SqlText::Shared(b)) if Arc::ptr_eq(a, b) => true,
            (SqlText::Static(a), SqlText::Static(b)) if std::ptr::eq(*a, *b) => true,
            _ => self.as_str() == other.as_str(),
        }
    }

    /// Appends to the text (copied out of the cache first if shared).
    pub(crate) fn push_str(&mut self, more: &str) {
        if !matches!(self, SqlText::Owned(_)) {
            *self = SqlText::Owned(self.as_str().to_owned());
        }
        if let SqlText::Owned(s) = self {
            s.push_str(more);
        }
    }
}

impl Deref for SqlText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for SqlText {
    fn from(s: String) -> Self {
        SqlText::Owned(s)
    }
}

impl PartialEq for SqlText {
    fn eq(&self, other: &Self) -> bool {
        self.same(other)
    }
}

impl fmt::Debug for SqlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SqlText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A statement's bound values: one kept in place, more on the heap. Most
/// statements a model runs (a get by key, an update or delete of one row)
/// bind one value, and a vector of one costs an allocation and a free a
/// call (benches/instructions, the SQLite get, guards it).
pub(crate) type Params = smallvec::SmallVec<[Value; 1]>;

/// SQL text and its parameters, owned so that it can cross into a blocking
/// thread or a boxed future.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) sql: SqlText,
    pub(crate) params: Params,
    /// Its rows are read by position only: a backend that copies the column
    /// names out of each statement (SQLite) may leave them out of its rows.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) positional: bool,
    /// A statement of a migration script, run as written through the
    /// backend's text protocol: no parameters, no prepare (MySQL prepares
    /// no `CREATE PROCEDURE`), no placeholder rewriting (a jsonb `?` stays
    /// an operator). The blocking connections run it so; migrations run
    /// on the blocking half (src/migrate).
    pub(crate) script: bool,
}

impl Stmt {
    pub(crate) fn new(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Self {
        // No values is the common raw statement; `SmallVec`'s `collect`
        // reserves and loops even for none (benches/instructions, SQLite's
        // `query_as`).
        let values = match params {
            [] => Params::new(),
            _ => params.iter().map(|p| p.to_sql()).collect(),
        };
        Stmt::with(sql.to_owned(), values)
    }

    /// SQL and its bound values.
    pub(crate) fn with(sql: impl Into<SqlText>, params: impl Into<Params>) -> Self {
        Stmt {
            sql: sql.into(),
            params: params.into(),
            positional: false,
            script: false,
        }
    }

    /// One statement of a migration script (see `script`).
    pub(crate) fn script(sql: &str) -> Self {
        Stmt {
            script: true,
            ..Stmt::bare(sql.to_owned())
        }
    }

    /// SQL without parameters.
    pub(crate) fn bare(sql: impl Into<SqlText>) -> Self {
        Stmt::with(sql, Params::new())
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
    /// it (MySQL: of the first row of a multi-row insert; SQLite).
    pub(crate) last_insert_id: Option<u64>,
    /// MySQL: the step between the keys one insert generates (the
    /// session's `auto_increment_increment`); 1 elsewhere.
    pub(crate) id_step: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Appending to a shared text copies it: the cached text stays as it was.
    #[test]
    fn appending_to_a_shared_text_leaves_the_cached_one() {
        let cached = SharedSql::new("SELECT 1");
        let mut text = SqlText::Shared(cached.clone());
        text.push_str(" LIMIT 1");
        assert_eq!(text.as_str(), "SELECT 1 LIMIT 1");
        assert_eq!(SqlText::Shared(cached).as_str(), "SELECT 1");
    }
}
