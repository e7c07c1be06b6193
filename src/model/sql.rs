//! Building sea-query statements in each backend's dialect, and the value
//! conversion between dualdb's [`Value`] and sea-query's. sea-query stays out
//! of the public API.

use sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};

use crate::config::BackendKind;
use crate::statement::{Params, Stmt};
use crate::value::Value;

/// The SQL dialect of a backend, and whether the statements will run inside
/// a transaction (operations that recover from errors then use savepoints).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub(crate) kind: BackendKind,
    pub(crate) in_tx: bool,
}

impl Dialect {
    pub(crate) fn new(kind: BackendKind, in_tx: bool) -> Self {
        Dialect { kind, in_tx }
    }

    /// Whether `INSERT … RETURNING` is used (MySQL: `LAST_INSERT_ID()` instead).
    pub(crate) fn returning(self) -> bool {
        self.kind != BackendKind::Mysql
    }

    /// A query statement with its values, in this dialect.
    pub(crate) fn query(self, q: &impl sea_query::QueryStatementWriter) -> Stmt {
        let (sql, values) = match self.kind {
            BackendKind::Postgres => q.build(PostgresQueryBuilder),
            BackendKind::Mysql => q.build(MysqlQueryBuilder),
            BackendKind::Sqlite => q.build(SqliteQueryBuilder),
        };
        let mut params: Params = values.into_iter().map(from_sea).collect();
        match crate::placeholders::inline_frame_offsets(&sql, self.kind, &mut params) {
            Some(fixed) => Stmt::with(fixed, params),
            None => Stmt::with(sql, params),
        }
    }

    pub(crate) fn schema(self, q: &impl sea_query::SchemaStatementBuilder) -> Stmt {
        let sql = match self.kind {
            BackendKind::Postgres => q.build(PostgresQueryBuilder),
            BackendKind::Mysql => q.build(MysqlQueryBuilder),
            BackendKind::Sqlite => q.build(SqliteQueryBuilder),
        };
        Stmt::bare(sql)
    }
}

/// dualdb's value as a sea-query value: the plain ones as sea-query's own,
/// everything else (raw bytes too) packed by [`carrier`](super::carrier).
pub(crate) fn to_sea(v: Value) -> sea_query::Value {
    match v {
        Value::Null => sea_query::Value::BigInt(None),
        Value::Bool(b) => sea_query::Value::Bool(Some(b)),
        Value::I64(i) => sea_query::Value::BigInt(Some(i)),
        Value::F64(f) => sea_query::Value::Double(Some(f)),
        Value::Text(s) => sea_query::Value::String(Some(s)),
        other => sea_query::Value::Bytes(Some(super::carrier::pack(&other))),
    }
}

/// A sea-query value as dualdb's. Only the variants [`to_sea`] makes, and
/// the plain ones sea-query makes itself, reach here.
fn from_sea(v: sea_query::Value) -> Value {
    use sea_query::Value as S;
    let opt = |o: Option<Value>| o.unwrap_or(Value::Null);
    match v {
        S::Bool(b) => opt(b.map(Value::Bool)),
        S::TinyInt(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::SmallInt(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::Int(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::BigInt(i) => opt(i.map(Value::I64)),
        S::TinyUnsigned(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::SmallUnsigned(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::Unsigned(i) => opt(i.map(|i| Value::I64(i.into()))),
        S::BigUnsigned(i) => opt(i.map(|i| match i64::try_from(i) {
            Ok(i) => Value::I64(i),
            Err(_) => Value::Text(i.to_string()),
        })),
        S::Float(f) => opt(f.map(|f| Value::F64(f.into()))),
        S::Double(f) => opt(f.map(Value::F64)),
        S::String(s) => opt(s.map(Value::Text)),
        S::Char(c) => opt(c.map(|c| Value::Text(c.to_string()))),
        S::Bytes(b) => opt(b.map(|b| super::carrier::unpack(&b))),
        #[allow(unreachable_patterns)]
        _ => Value::Null,
    }
}
