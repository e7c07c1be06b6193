//! Schema changes and introspection in each backend's SQL, as peewee's
//! `playhouse.migrate` offers them: add, drop and rename columns, rename
//! tables, add and drop indexes, set and drop `NOT NULL`; list tables,
//! columns and indexes. What SQLite's `ALTER TABLE` cannot do (drop a
//! column, change `NOT NULL`) is a rebuild of the table ([`Rebuild`]).
//! Names are identifiers, quoted here (never pasted unquoted); values are
//! bound.

use sea_query::{Alias, Table};

use super::schema::column_def;
use super::sql::Dialect;
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
    /// Its columns, in order.
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
    for c in name.chars() {
        if c == q {
            out.push(q);
        }
        out.push(c);
    }
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

/// MySQL: the column's type and default, which `MODIFY` must repeat.
pub(crate) fn mysql_column(table: &str, column: &str) -> Stmt {
    Stmt::with(
        "SELECT column_type, column_default FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
            .to_owned(),
        vec![
            Value::Text(table.to_owned()),
            Value::Text(column.to_owned()),
        ],
    )
}

/// MySQL: `MODIFY` the column with its type and default, `NULL` or not.
pub(crate) fn mysql_not_null(
    table: &str,
    column: &str,
    rows: &[Row],
    not_null: bool,
) -> Result<Stmt> {
    let row = rows
        .first()
        .ok_or_else(|| usage(&format!("no column {column} in {table}")))?;
    let (ty, default): (String, Option<String>) = (row.get(0)?, row.get(1)?);
    // MariaDB gives the default as SQL (`'x'`, `NULL`, `current_timestamp()`);
    // MySQL as the bare value, which is quoted here unless it is a number.
    let default = match default.as_deref() {
        None | Some("NULL") => String::new(),
        Some(d) if d.starts_with('\'') || d.parse::<f64>().is_ok() || d.ends_with(')') => {
            format!(" DEFAULT {d}")
        }
        Some(d) => format!(" DEFAULT '{}'", d.replace('\'', "''")),
    };
    let q = |n| quote(BackendKind::Mysql, n);
    let null = if not_null { "NOT NULL" } else { "NULL" };
    Ok(Stmt::bare(format!(
        "ALTER TABLE {} MODIFY {} {ty} {null}{default}",
        q(table),
        q(column)
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
            "SELECT name, type, \"notnull\" = 0, dflt_value, pk > 0 FROM pragma_table_info(?) ORDER BY cid"
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
            "SELECT i.relname::text, a.attname::text, ix.indisunique FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND t.relname = ? AND NOT ix.indisprimary \
             ORDER BY i.relname, k.ord"
        }
        BackendKind::Mysql => {
            "SELECT index_name, column_name, non_unique = 0 FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY' \
             ORDER BY index_name, seq_in_index"
        }
        BackendKind::Sqlite => {
            "SELECT il.name, ii.name, il.\"unique\" FROM pragma_index_list(?1) AS il, \
             pragma_index_info(il.name) AS ii WHERE il.origin <> 'pk' ORDER BY il.name, ii.seqno"
        }
    };
    Stmt::with(sql.to_owned(), vec![Value::Text(table.to_owned())])
}

/// Rows of (index, column, unique) grouped into indexes, in name order.
pub(crate) fn index_infos(rows: Vec<Row>) -> Result<Vec<IndexInfo>> {
    let mut out: Vec<IndexInfo> = Vec::new();
    for r in &rows {
        let (name, column, unique): (String, String, bool) = (r.get(0)?, r.get(1)?, r.get(2)?);
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

/// What a SQLite rebuild changes.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    DropColumn(String),
    NotNull(String, bool),
}

/// SQLite's rebuild of a table for what its `ALTER TABLE` cannot do: the
/// reads that describe the table, then the statements that copy it into a
/// new table with the change, drop the old one and rename the new one into
/// its place, with its unique constraints, foreign keys, indexes and
/// triggers made again (SQLite's own procedure, "Making Other Kinds Of
/// Table Schema Changes"). CHECK constraints are not read back: a table
/// with one is refused before anything changes (tests/alter.rs).
pub(crate) struct Rebuild {
    pub(crate) table: String,
    pub(crate) change: Change,
}

impl Rebuild {
    /// The reads, in the order [`statements`](Self::statements) takes their rows.
    pub(crate) fn reads(&self) -> Vec<Stmt> {
        let read = |sql: &str| Stmt::with(sql.to_owned(), vec![Value::Text(self.table.clone())]);
        vec![
            read("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"),
            read(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
            ),
            read(
                "SELECT id, \"from\", \"table\", \"to\", on_update, on_delete \
                 FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            ),
            // Unique constraints and explicit indexes, with their columns.
            read(
                "SELECT il.name, il.origin, ii.name, m.sql FROM pragma_index_list(?1) AS il \
                 JOIN pragma_index_info(il.name) AS ii \
                 LEFT JOIN sqlite_master AS m ON m.type = 'index' AND m.name = il.name \
                 WHERE il.origin IN ('u', 'c') ORDER BY il.name, ii.seqno",
            ),
            read("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?"),
            // Other tables' foreign keys to this one.
            read(
                "SELECT COUNT(*) FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f \
                 WHERE m.type = 'table' AND f.\"table\" = ?1 AND m.name <> ?1",
            ),
        ]
    }

    /// Whether other tables reference this one (the last read's count).
    pub(crate) fn referenced(reads: &[Vec<Row>]) -> Result<bool> {
        let n: i64 = reads[5].first().map(|r| r.get(0)).transpose()?.unwrap_or(0);
        Ok(n > 0)
    }

    /// The rebuild's statements, from the reads' rows.
    pub(crate) fn statements(&self, reads: &[Vec<Row>]) -> Result<Vec<Stmt>> {
        let q = |n: &str| quote(BackendKind::Sqlite, n);
        let table = &self.table;
        let sql: String = match reads[0].first() {
            Some(r) => r.get(0)?,
            None => return Err(usage(&format!("no table {table}"))),
        };
        if sql.to_ascii_uppercase().contains("CHECK") {
            return Err(usage(&format!(
                "SQLite: {table} has a CHECK constraint, which rebuilding the table would lose: \
                 change it with SQL of your own"
            )));
        }
        let target = match &self.change {
            Change::DropColumn(c) | Change::NotNull(c, _) => c,
        };
        let mut columns = Vec::new();
        let mut keep = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut found = false;
        for r in &reads[1] {
            let (name, ty, not_null, default, key): (String, String, bool, Option<String>, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let is_target = name == *target;
            found |= is_target;
            let not_null = match &self.change {
                Change::DropColumn(_) if is_target => continue,
                Change::NotNull(_, to) if is_target => *to,
                _ => not_null,
            };
            if key > 0 {
                pk.push((key, name.clone()));
            }
            let mut def = format!("{} {ty}", q(&name));
            if not_null {
                def.push_str(" NOT NULL");
            }
            if let Some(d) = default {
                def.push_str(&format!(" DEFAULT {d}"));
            }
            columns.push((name.clone(), def, ty));
            keep.push(q(&name));
        }
        if !found {
            return Err(usage(&format!("no column {target} in {table}")));
        }
        if pk.iter().any(|(_, n)| n == target) && matches!(self.change, Change::DropColumn(_)) {
            return Err(usage(&format!(
                "{table}.{target} is part of the primary key"
            )));
        }
        pk.sort();
        let mut defs: Vec<String> = Vec::new();
        // A single INTEGER key stays the rowid's alias (and AUTOINCREMENT).
        let rowid = matches!(&pk[..], [(_, n)] if columns.iter().any(|(c, _, ty)| c == n && ty.eq_ignore_ascii_case("INTEGER")));
        for (name, def, _) in &columns {
            let mut def = def.clone();
            if rowid && pk[0].1 == *name {
                def.push_str(" PRIMARY KEY");
                if sql.to_ascii_uppercase().contains("AUTOINCREMENT") {
                    def.push_str(" AUTOINCREMENT");
                }
            }
            defs.push(def);
        }
        if !pk.is_empty() && !rowid {
            let cols: Vec<String> = pk.iter().map(|(_, n)| q(n)).collect();
            defs.push(format!("PRIMARY KEY ({})", cols.join(", ")));
        }
        // Foreign keys, their columns gathered by id (one row a column); one
        // on the dropped column goes.
        struct Fk {
            id: i64,
            from: Vec<String>,
            table: String,
            to: Vec<Option<String>>,
            on_update: String,
            on_delete: String,
        }
        let mut fks: Vec<Fk> = Vec::new();
        for r in &reads[2] {
            let (id, from, to): (i64, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(3)?);
            match fks.last_mut() {
                Some(fk) if fk.id == id => {
                    fk.from.push(from);
                    fk.to.push(to);
                }
                _ => fks.push(Fk {
                    id,
                    from: vec![from],
                    table: r.get(2)?,
                    to: vec![to],
                    on_update: r.get(4)?,
                    on_delete: r.get(5)?,
                }),
            }
        }
        for Fk {
            from,
            table: to_table,
            to,
            on_update,
            on_delete,
            ..
        } in &fks
        {
            if from.iter().any(|f| f == target) && matches!(self.change, Change::DropColumn(_)) {
                continue;
            }
            let from: Vec<String> = from.iter().map(|f| q(f)).collect();
            let to: Option<Vec<String>> = to.iter().map(|t| t.as_deref().map(q)).collect();
            let to = to
                .map(|t| format!(" ({})", t.join(", ")))
                .unwrap_or_default();
            defs.push(format!(
                "FOREIGN KEY ({}) REFERENCES {}{to} ON UPDATE {on_update} ON DELETE {on_delete}",
                from.join(", "),
                q(to_table)
            ));
        }
        // Unique constraints ('u') as constraints; explicit indexes ('c')
        // made again from their SQL after the rename. Either goes with a
        // dropped column.
        let mut indexes: Vec<(String, String, Vec<String>, Option<String>)> = Vec::new();
        for r in &reads[3] {
            let (name, origin, column, sql): (String, String, String, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            match indexes.last_mut() {
                Some(ix) if ix.0 == name => ix.2.push(column),
                _ => indexes.push((name, origin, vec![column], sql)),
            }
        }
        let dropped =
            |cols: &[String]| matches!(&self.change, Change::DropColumn(c) if cols.contains(c));
        let mut after = Vec::new();
        for (_, origin, cols, sql) in &indexes {
            if dropped(cols) {
                continue;
            }
            match (origin.as_str(), sql) {
                ("u", _) => {
                    let cols: Vec<String> = cols.iter().map(|c| q(c)).collect();
                    defs.push(format!("UNIQUE ({})", cols.join(", ")));
                }
                (_, Some(sql)) => after.push(Stmt::bare(sql.clone())),
                _ => {}
            }
        }
        for r in &reads[4] {
            if let Some(sql) = r.get::<Option<String>>(0)? {
                after.push(Stmt::bare(sql));
            }
        }
        let new = format!("{table}__dualdb_new");
        let mut out = vec![
            Stmt::bare(format!("CREATE TABLE {} ({})", q(&new), defs.join(", "))),
            Stmt::bare(format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
                q(&new),
                q(table),
                cols = keep.join(", ")
            )),
            Stmt::bare(format!("DROP TABLE {}", q(table))),
            Stmt::bare(format!("ALTER TABLE {} RENAME TO {}", q(&new), q(table))),
        ];
        out.extend(after);
        Ok(out)
    }
}
