//! The schema statements of a model: `CREATE TABLE IF NOT EXISTS`,
//! `DROP TABLE IF EXISTS`, the existence check and `TRUNCATE`, in each
//! backend's dialect.

use sea_query::{Alias, ColumnDef, Expr, ForeignKey, Index, Query, Table};

use super::sql::Dialect;
use super::{ColumnKind, ColumnMeta, ModelMeta};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::statement::Stmt;
use crate::value::Value;

/// MySQL cannot index `TEXT` or `BLOB` without a length: unique, key and
/// foreign key text columns without `max_length` get this one, and such
/// byte columns are `VARBINARY` of it (or of their `max_length`;
/// tests/models.rs, `byte_keys_and_unique_bytes_make_tables_everywhere`).
const MYSQL_KEY_TEXT_LENGTH: u32 = 255;

/// The column's definition; `PRIMARY KEY` on it if it is the whole key
/// (`own_key`), a composite key being a constraint of the table.
pub(crate) fn column_def(d: Dialect, c: &ColumnMeta, own_key: bool) -> ColumnDef {
    let mut def = ColumnDef::new(c.name);
    let auto_key = c.primary_key && c.auto_increment;
    match c.kind {
        // SQLite allows AUTOINCREMENT only on `INTEGER PRIMARY KEY`.
        _ if auto_key && d.kind == BackendKind::Sqlite => def.integer(),
        ColumnKind::Bool => def.boolean(),
        ColumnKind::SmallInt => def.small_integer(),
        ColumnKind::Int => def.integer(),
        ColumnKind::BigInt => def.big_integer(),
        ColumnKind::Float => def.float(),
        ColumnKind::Double => def.double(),
        ColumnKind::Bytes
            if d.kind == BackendKind::Mysql
                && (c.unique || c.primary_key || c.references.is_some()) =>
        {
            let n = c.max_length.unwrap_or(MYSQL_KEY_TEXT_LENGTH);
            def.custom(Alias::new(format!("VARBINARY({n})")))
        }
        ColumnKind::Bytes => def.blob(),
        ColumnKind::Uuid => match d.kind {
            BackendKind::Postgres => def.uuid(),
            BackendKind::Mysql => def.char_len(36),
            BackendKind::Sqlite => def.text(),
        },
        ColumnKind::Text | ColumnKind::Enum => match c.max_length {
            Some(n) => def.string_len(n),
            None if d.kind == BackendKind::Mysql
                && (c.unique || c.primary_key || c.references.is_some()) =>
            {
                def.string_len(MYSQL_KEY_TEXT_LENGTH)
            }
            None => def.text(),
        },
        // Checked by `create_table`: PostgreSQL only.
        ColumnKind::Array(_) | ColumnKind::HStore => def.custom(Alias::new(pg_type(c.kind))),
        _ if d.kind == BackendKind::Sqlite => def.text(),
        ColumnKind::Numeric if d.kind == BackendKind::Mysql => def.decimal_len(65, 30),
        ColumnKind::Time if d.kind == BackendKind::Mysql => def.custom(Alias::new("TIME(6)")),
        ColumnKind::Timestamp | ColumnKind::TimestampTz if d.kind == BackendKind::Mysql => {
            def.custom(Alias::new("DATETIME(6)"))
        }
        ColumnKind::Json if d.kind == BackendKind::Mysql => def.json(),
        kind => def.custom(Alias::new(pg_type(kind))),
    };
    if !c.nullable {
        def.not_null();
    }
    if c.primary_key && own_key {
        def.primary_key();
    }
    if auto_key && c.kind == ColumnKind::Uuid {
        // Checked by `create_table`: PostgreSQL only.
        def.default(Expr::cust("gen_random_uuid()"));
    } else if auto_key {
        def.auto_increment();
    }
    if c.unique && !(c.primary_key && own_key) {
        def.unique_key();
    }
    if let Some(default) = c.default {
        def.default(Expr::cust(default));
    }
    def
}

/// PostgreSQL's name for a column kind (array elements included).
fn pg_type(kind: ColumnKind) -> String {
    match kind {
        ColumnKind::Bool => "BOOLEAN".into(),
        ColumnKind::SmallInt => "SMALLINT".into(),
        ColumnKind::Int => "INTEGER".into(),
        ColumnKind::BigInt => "BIGINT".into(),
        ColumnKind::Float => "REAL".into(),
        ColumnKind::Double => "DOUBLE PRECISION".into(),
        ColumnKind::Text | ColumnKind::Enum => "TEXT".into(),
        ColumnKind::Bytes => "BYTEA".into(),
        ColumnKind::Uuid => "UUID".into(),
        ColumnKind::Numeric => "NUMERIC".into(),
        ColumnKind::Date => "DATE".into(),
        ColumnKind::Time => "TIME".into(),
        ColumnKind::Timestamp => "TIMESTAMP".into(),
        ColumnKind::TimestampTz => "TIMESTAMPTZ".into(),
        ColumnKind::Json => "JSONB".into(),
        ColumnKind::HStore => "HSTORE".into(),
        ColumnKind::Array(element) => format!("{}[]", pg_type(*element)),
    }
}

/// Arrays and `hstore` exist on PostgreSQL only.
fn check_pg_only_columns(d: Dialect, m: &'static ModelMeta) -> Result<()> {
    if d.kind == BackendKind::Postgres {
        return Ok(());
    }
    match m
        .columns
        .iter()
        .find(|c| matches!(c.kind, ColumnKind::Array(_) | ColumnKind::HStore))
    {
        Some(c) => Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}.{}: {} is a PostgreSQL type; {} has none",
                m.name,
                c.name,
                pg_type(c.kind),
                d.kind
            ),
        )),
        None => Ok(()),
    }
}

/// `CREATE TABLE IF NOT EXISTS` with columns, keys and foreign keys.
pub(crate) fn create_table(d: Dialect, m: &'static ModelMeta) -> Result<Stmt> {
    check_generated_key(d, m)?;
    check_pg_only_columns(d, m)?;
    let mut t = Table::create();
    t.table(m.table).if_not_exists();
    if d.kind == BackendKind::Mysql {
        // Not the server's default, which is latin1 on MariaDB before 11.6
        // and on older MySQL: a `String` holds any Unicode text
        // (tests/models.rs, `any_unicode_text_round_trips_in_created_tables`).
        t.character_set("utf8mb4");
    }
    for c in m.columns {
        t.col(column_def(d, c, !m.composite_key()));
    }
    if m.composite_key() {
        let mut key = Index::create();
        for c in m.key_columns() {
            key.col(c.name);
        }
        t.primary_key(&mut key);
    }
    for fk in m.foreign_keys() {
        let mut create = ForeignKey::create();
        create.from_tbl(m.table).to_tbl(fk.target.table);
        for (from, to) in fk.pairs() {
            create.from_col(from.name).to_col(to.name);
        }
        t.foreign_key(&mut create);
    }
    Ok(d.schema(&t))
}

/// A generated UUID key needs the server to generate it and hand it back:
/// PostgreSQL (`gen_random_uuid()`, `RETURNING`) only.
pub(crate) fn check_generated_key(d: Dialect, m: &'static ModelMeta) -> Result<()> {
    let pk = m.pk();
    if pk.auto_increment && pk.kind == ColumnKind::Uuid && d.kind != BackendKind::Postgres {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: a generated (`auto`) UUID key needs PostgreSQL; on {} give the key a value",
                m.name, d.kind
            ),
        ));
    }
    Ok(())
}

/// `DROP TABLE IF EXISTS`.
pub(crate) fn drop_table(d: Dialect, m: &'static ModelMeta) -> Stmt {
    d.schema(Table::drop().table(m.table).if_exists())
}

/// Empties the table: `TRUNCATE` on the servers, `DELETE` on SQLite.
pub(crate) fn truncate(d: Dialect, m: &'static ModelMeta) -> Stmt {
    match d.kind {
        BackendKind::Sqlite => d.query(Query::delete().from_table(m.table)),
        _ => d.schema(Table::truncate().table(m.table)),
    }
}

/// A query returning one row if the model's table exists.
pub(crate) fn table_exists(d: Dialect, m: &'static ModelMeta) -> Stmt {
    named_table_exists(d.kind, m.table)
}

/// A query returning one row if table `table` exists (a model's, or the
/// migrations' record table).
pub(crate) fn named_table_exists(kind: BackendKind, table: &str) -> Stmt {
    let sql = match kind {
        BackendKind::Postgres => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        BackendKind::Mysql => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = ?"
        }
        BackendKind::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    Stmt::with(sql.to_owned(), vec![Value::Text(table.to_owned())])
}
