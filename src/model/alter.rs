//! Schema changes and introspection in each backend's SQL, as peewee's
//! `playhouse.migrate` offers them: add, drop and rename columns, rename
//! tables, add and drop indexes, set and drop `NOT NULL`; list tables,
//! columns and indexes. What SQLite's `ALTER TABLE` cannot do (drop a
//! column, change `NOT NULL`) is a rebuild of the table
//! ([`Rebuild`](super::rebuild::Rebuild)).
//! Names are identifiers, quoted here (never pasted unquoted); values are
//! bound.

use sea_query::{Alias, Table};

use super::schema::column_def;
use super::sql::Dialect;
use super::table_sql::{TableSql, index_terms};
use super::{ColumnMeta, ModelMeta};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::row::Row;
use crate::statement::Stmt;
use crate::value::Value;

/// A column as the database describes it ([`columns`](crate::SyncDb::columns)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Its name.
    pub name: String,
    /// Its type as the backend names it (`integer`, `varchar(40)`, `TEXT`).
    pub data_type: String,
    /// NULL allowed.
    pub nullable: bool,
    /// Its default, as SQL text.
    pub default: Option<String>,
    /// Part of the primary key.
    pub primary_key: bool,
}

/// An index of a table, the primary key's aside ([`indexes`](crate::SyncDb::indexes)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// Its name.
    pub name: String,
    /// Its columns, in order; a key that is an expression as its SQL text
    /// (`lower(name)`).
    pub columns: Vec<String>,
    /// A unique index (or a unique constraint's).
    pub unique: bool,
}

/// `name` as an identifier of `kind`: `"…"`, or `` `…` `` on MySQL, its
/// quote doubled inside.
pub(crate) fn quote(kind: BackendKind, name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_quoted(&mut out, kind, name);
    out
}

/// Appends `name` quoted as [`quote`] does (a prefetch's `WHERE "fk" IN`
/// written onto its cached select).
pub(crate) fn push_quoted(out: &mut String, kind: BackendKind, name: &str) {
    let q = if kind == BackendKind::Mysql { '`' } else { '"' };
    out.push(q);
    // A quote inside the name is doubled; a name without one (every name a
    // model has, unless its author chose otherwise) is copied whole.
    let mut rest = name;
    while let Some(at) = rest.find(q) {
        out.push_str(&rest[..=at]);
        out.push(q);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push(q);
}

/// `ALTER TABLE … ADD COLUMN` for column `index` of the model: its type,
/// nullability and default as `create_table` writes them.
pub(crate) fn add_column(d: Dialect, m: &'static ModelMeta, index: usize) -> Result<Stmt> {
    let c: &ColumnMeta = m
        .columns
        .get(index)
        .ok_or_else(|| usage("no such column"))?;
    let mut t = Table::alter();
    t.table(Alias::new(m.table))
        .add_column(column_def(d, c, false));
    Ok(d.schema(&t))
}

pub(crate) fn rename_column(kind: BackendKind, table: &str, old: &str, new: &str) -> Stmt {
    let q = |n| quote(kind, n);
    Stmt::bare(format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        q(table),
        q(old),
        q(new)
    ))
}

pub(crate) fn rename_table(kind: BackendKind, old: &str, new: &str) -> Stmt {
    let q = |n| quote(kind, n);
    Stmt::bare(match kind {
        BackendKind::Mysql => format!("RENAME TABLE {} TO {}", q(old), q(new)),
        _ => format!("ALTER TABLE {} RENAME TO {}", q(old), q(new)),
    })
}

/// The name `add_index` gives: `table_col1_col2`, as peewee names it.
pub(crate) fn index_name(table: &str, columns: &[&str]) -> String {
    let mut name = table.to_owned();
    for c in columns {
        name.push('_');
        name.push_str(c);
    }
    name
}

pub(crate) fn add_index(
    kind: BackendKind,
    table: &str,
    columns: &[&str],
    unique: bool,
) -> Result<Stmt> {
    if columns.is_empty() {
        return Err(usage("add_index: no columns"));
    }
    let q = |n| quote(kind, n);
    let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
    Ok(Stmt::bare(format!(
        "CREATE {}INDEX {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        q(&index_name(table, columns)),
        q(table),
        cols.join(", ")
    )))
}

pub(crate) fn drop_index(kind: BackendKind, table: &str, name: &str) -> Stmt {
    let q = |n| quote(kind, n);
    Stmt::bare(match kind {
        BackendKind::Mysql => format!("DROP INDEX {} ON {}", q(name), q(table)),
        _ => format!("DROP INDEX {}", q(name)),
    })
}

/// PostgreSQL and MySQL drop a column in place (SQLite rebuilds the table).
pub(crate) fn drop_column(kind: BackendKind, table: &str, column: &str) -> Stmt {
    let q = |n| quote(kind, n);
    Stmt::bare(format!(
        "ALTER TABLE {} DROP COLUMN {}",
        q(table),
        q(column)
    ))
}

/// PostgreSQL: `SET NOT NULL` / `DROP NOT NULL` in place.
pub(crate) fn pg_not_null(table: &str, column: &str, not_null: bool) -> Stmt {
    let q = |n| quote(BackendKind::Postgres, n);
    let how = if not_null { "SET" } else { "DROP" };
    Stmt::bare(format!(
        "ALTER TABLE {} ALTER COLUMN {} {how} NOT NULL",
        q(table),
        q(column)
    ))
}

/// MySQL: the table as the server writes it, whose column `MODIFY`
/// restates ([`mysql_not_null`]).
pub(crate) fn mysql_table(table: &str) -> Stmt {
    Stmt::bare(format!(
        "SHOW CREATE TABLE {}",
        quote(BackendKind::Mysql, table)
    ))
}

/// MySQL: `MODIFY` the column, `NULL` or not, with the rest of its
/// definition as `SHOW CREATE TABLE` wrote it ([`TableSql`]), so that its
/// collation, comment, `AUTO_INCREMENT`, `ON UPDATE` and generation are
/// kept (tests/alter.rs).
pub(crate) fn mysql_not_null(
    table: &str,
    column: &str,
    rows: &[Row],
    not_null: bool,
) -> Result<Stmt> {
    let create: String = match rows.first() {
        Some(row) => row.get(1)?,
        None => return Err(usage(&format!("no table {table}"))),
    };
    let def = TableSql::parse(&create)?
        .mysql_with_not_null(column, not_null)
        .ok_or_else(|| usage(&format!("no column {column} in {table}")))?;
    Ok(Stmt::bare(format!(
        "ALTER TABLE {} MODIFY {def}",
        quote(BackendKind::Mysql, table)
    )))
}

/// The introspection query of `what` (tables, or a table's columns or
/// indexes), the table bound.
pub(crate) fn tables(kind: BackendKind) -> Stmt {
    Stmt::bare(String::from(match kind {
        BackendKind::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
        BackendKind::Mysql => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
        BackendKind::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             ORDER BY name"
        }
    }))
}

pub(crate) fn columns(kind: BackendKind, table: &str) -> Stmt {
    let sql = match kind {
        BackendKind::Postgres => {
            "SELECT c.column_name::text, c.data_type::text, c.is_nullable = 'YES', c.column_default::text, \
             EXISTS (SELECT 1 FROM information_schema.table_constraints t \
               JOIN information_schema.key_column_usage k \
               ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema \
               WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema \
               AND t.table_name = c.table_name AND k.column_name = c.column_name) \
             FROM information_schema.columns c WHERE c.table_schema = current_schema() \
             AND c.table_name = ? ORDER BY c.ordinal_position"
        }
        BackendKind::Mysql => {
            "SELECT column_name, column_type, is_nullable = 'YES', column_default, column_key = 'PRI' \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? \
             ORDER BY ordinal_position"
        }
        BackendKind::Sqlite => {
            // Generated columns too (hidden 2 and 3), as the other
            // backends list them; not a virtual table's hidden ones.
            "SELECT name, type, \"notnull\" = 0, dflt_value, pk > 0 FROM pragma_table_xinfo(?) \
             WHERE hidden <> 1 ORDER BY cid"
        }
    };
    Stmt::with(sql.to_owned(), vec![Value::Text(table.to_owned())])
}

pub(crate) fn column_infos(rows: Vec<Row>) -> Result<Vec<ColumnInfo>> {
    rows.iter()
        .map(|r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                data_type: r.get(1)?,
                nullable: r.get(2)?,
                default: r.get(3)?,
                primary_key: r.get(4)?,
            })
        })
        .collect()
}

pub(crate) fn indexes(kind: BackendKind, table: &str) -> Stmt {
    let sql = match kind {
        BackendKind::Postgres => {
            // An expression key (attnum 0) as its text.
            "SELECT i.relname::text, \
             COALESCE(a.attname::text, pg_get_indexdef(ix.indexrelid, k.ord::int, true)), \
             ix.indisunique FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND t.relname = ? AND NOT ix.indisprimary \
             ORDER BY i.relname, k.ord"
        }
        BackendKind::Mysql => {
            "SELECT index_name, column_name, non_unique = 0 FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY' \
             ORDER BY index_name, seq_in_index"
        }
        BackendKind::Sqlite => {
            // An expression key (no name) is read from the index's SQL.
            "SELECT il.name, ii.name, il.\"unique\", m.sql, ii.seqno \
             FROM pragma_index_list(?1) AS il JOIN pragma_index_info(il.name) AS ii \
             LEFT JOIN sqlite_master AS m ON m.type = 'index' AND m.name = il.name \
             WHERE il.origin <> 'pk' ORDER BY il.name, ii.seqno"
        }
    };
    Stmt::with(sql.to_owned(), vec![Value::Text(table.to_owned())])
}

/// Rows of (index, column, unique) grouped into indexes, in name order.
pub(crate) fn index_infos(rows: Vec<Row>) -> Result<Vec<IndexInfo>> {
    let mut out: Vec<IndexInfo> = Vec::new();
    for r in &rows {
        let (name, column, unique): (String, Option<String>, bool) =
            (r.get(0)?, r.get(1)?, r.get(2)?);
        let column = match column {
            Some(c) => c,
            // SQLite's expression key: its text in the index's SQL.
            None if r.len() == 5 => {
                let (sql, at): (Option<String>, i64) = (r.get(3)?, r.get(4)?);
                let terms = sql.as_deref().map(index_terms).unwrap_or_default();
                let term = usize::try_from(at)
                    .ok()
                    .and_then(|i| terms.into_iter().nth(i));
                term.unwrap_or_else(|| "(expression)".to_owned())
            }
            None => "(expression)".to_owned(),
        };
        match out.last_mut() {
            Some(last) if last.name == name => last.columns.push(column),
            _ => out.push(IndexInfo {
                name,
                columns: vec![column],
                unique,
            }),
        }
    }
    Ok(out)
}

pub(crate) fn sequence_exists(name: &str) -> Stmt {
    Stmt::with(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'S' AND c.relname = ? AND n.nspname = current_schema()"
            .to_owned(),
        vec![Value::Text(name.to_owned())],
    )
}

fn usage(m: &str) -> Error {
    Error::new(ErrorKind::Usage, m.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name is quoted whole, each quote inside it doubled, on each
    /// backend's quote.
    #[test]
    fn names_are_quoted_with_inner_quotes_doubled() {
        let cases = [
            ("plain", "\"plain\"", "`plain`"),
            ("", "\"\"", "``"),
            ("a\"b", "\"a\"\"b\"", "`a\"b`"),
            ("a`b`", "\"a`b`\"", "`a``b```"),
            ("\"é\"", "\"\"\"é\"\"\"", "`\"é\"`"),
        ];
        for (name, pg, my) in cases {
            assert_eq!(quote(BackendKind::Postgres, name), pg);
            assert_eq!(quote(BackendKind::Sqlite, name), pg);
            assert_eq!(quote(BackendKind::Mysql, name), my);
        }
    }
}
