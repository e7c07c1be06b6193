//! SQLite's rebuild of a table for what its `ALTER TABLE` cannot do (drop a
//! column that carries a constraint or an index, change `NOT NULL`):
//! SQLite's own procedure ("Making Other Kinds Of Table Schema Changes").
//! The new table is written from the old one's `CREATE TABLE` text with the
//! one column changed ([`TableSql`]), so that collations, generated
//! columns, `CHECK` constraints, defaults, `STRICT` and `WITHOUT ROWID`
//! stay as they were; the rows are copied (generated columns are computed
//! again), the old table dropped and the new one renamed into its place,
//! then its indexes, its triggers and the views and triggers that name it
//! made again from their own text, and an `AUTOINCREMENT` table's sequence
//! carried over. Something that no longer holds (a view of the dropped
//! column) fails the rebuild, which is all or nothing; a trigger that
//! names the dropped column is refused before it starts (tests/alter.rs).

use super::alter::quote;
use super::table_sql::{TableSql, has_word, index_reads, names};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::row::Row;
use crate::statement::Stmt;
use crate::value::Value;

/// What a SQLite rebuild changes.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    DropColumn(String),
    NotNull(String, bool),
}

/// The rebuild of `table` with `change`: [`reads`](Self::reads) describe
/// the table, [`statements`](Self::statements) rebuild it from their rows.
pub(crate) struct Rebuild {
    pub(crate) table: String,
    pub(crate) change: Change,
}

fn usage(m: String) -> Error {
    Error::new(ErrorKind::Usage, m)
}

impl Rebuild {
    /// The reads, in the order [`statements`](Self::statements) takes their rows.
    pub(crate) fn reads(&self) -> Vec<Stmt> {
        let read = |sql: &str| Stmt::with(sql.to_owned(), vec![Value::Text(self.table.clone())]);
        vec![
            // SQLite matches names without case (ASCII), as `NOCASE` does:
            // the table's own spelling is read with its text.
            read(
                "SELECT sql, name FROM sqlite_master \
                 WHERE type = 'table' AND name = ? COLLATE NOCASE",
            ),
            // Generated columns (hidden 2 and 3) are not copied.
            read("SELECT name, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid"),
            // Explicit indexes (a constraint's has no SQL of its own).
            read(
                "SELECT sql FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ? COLLATE NOCASE AND sql IS NOT NULL \
                 ORDER BY rowid",
            ),
            // Views and triggers, in the order they were made.
            read(
                "SELECT type, name, tbl_name, sql FROM sqlite_master \
                 WHERE type IN ('view', 'trigger') AND sql IS NOT NULL AND ?1 IS NOT NULL \
                 ORDER BY rowid",
            ),
            // Other tables' foreign keys to this one.
            read(
                "SELECT COUNT(*) FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f \
                 WHERE m.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE \
                 AND m.name <> ?1 COLLATE NOCASE",
            ),
        ]
    }

    /// A query with a row if the table's text is no longer the one the
    /// first read found (another connection changed or dropped the table
    /// since), run under the write lock before the rebuild writes.
    pub(crate) fn changed_since(&self, reads: &[Vec<Row>]) -> Result<Stmt> {
        let sql: Option<String> = reads[0].first().map(|r| r.get(0)).transpose()?;
        Ok(Stmt::with(
            "SELECT 1 WHERE (SELECT sql FROM sqlite_master \
             WHERE type = 'table' AND name = ?1 COLLATE NOCASE) IS NOT ?2"
                .to_owned(),
            vec![
                Value::Text(self.table.clone()),
                sql.map_or(Value::Null, Value::Text),
            ],
        ))
    }

    /// Whether other tables reference this one (the last read's count).
    pub(crate) fn referenced(reads: &[Vec<Row>]) -> Result<bool> {
        let n: i64 = reads[4].first().map(|r| r.get(0)).transpose()?.unwrap_or(0);
        Ok(n > 0)
    }

    /// The rebuild's statements, from the reads' rows.
    pub(crate) fn statements(&self, reads: &[Vec<Row>]) -> Result<Vec<Stmt>> {
        let q = |n: &str| quote(BackendKind::Sqlite, n);
        // The table as its `CREATE TABLE` spells it.
        let (sql, table): (String, String) = match reads[0].first() {
            Some(r) => (r.get(0)?, r.get(1)?),
            None => return Err(usage(format!("no table {}", self.table))),
        };
        let table = &table;
        let (target, dropping) = match &self.change {
            Change::DropColumn(c) => (c, true),
            Change::NotNull(c, _) => (c, false),
        };
        let mut copied = Vec::new();
        let mut found = false;
        for r in &reads[1] {
            let (name, key, hidden): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let is_target = name.eq_ignore_ascii_case(target);
            found |= is_target;
            if is_target && dropping && key > 0 {
                return Err(usage(format!(
                    "{table}.{target} is part of the primary key"
                )));
            }
            if hidden == 0 && !(is_target && dropping) {
                copied.push(q(&name));
            }
        }
        if !found {
            return Err(usage(format!("no column {target} in {table}")));
        }
        let def = TableSql::parse(&sql)?;
        let items = match &self.change {
            Change::DropColumn(c) => def.without_column(c),
            Change::NotNull(c, to) => def.with_not_null(c, *to),
        }
        .ok_or_else(|| {
            usage(format!(
                "SQLite: {target} was not found in {table}'s CREATE TABLE statement: change it \
                 with SQL of your own"
            ))
        })?;
        let new = format!("{table}__dualdb_new");
        let mut out = Vec::new();
        // Views and triggers that name the table are dropped while it is
        // replaced (renaming a table checks every one of them), and made
        // again after, with the table's own triggers (dropped with it).
        // SQLite checks neither when they are made, so a view is read once
        // after (`LIMIT 0`: it fails if it reads the dropped column), and a
        // trigger whose text names the dropped column is refused first.
        let (mut again, mut read_views) = (Vec::new(), Vec::new());
        for r in &reads[3] {
            let (kind, name, on, text): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            if !on.eq_ignore_ascii_case(table) && !names(&text, table) {
                continue;
            }
            let view = kind == "view";
            if !view && dropping && names(&text, target) {
                return Err(usage(format!(
                    "SQLite: trigger {name} names {target}, which dropping it from {table} \
                     would break: drop or change the trigger first"
                )));
            }
            let what = if view { "VIEW" } else { "TRIGGER" };
            out.push(Stmt::bare(format!("DROP {what} IF EXISTS {}", q(&name))));
            again.push(Stmt::bare(text));
            if view {
                read_views.push(Stmt::bare(format!("SELECT * FROM {} LIMIT 0", q(&name))));
            }
        }
        out.push(Stmt::bare(format!(
            "CREATE TABLE {} ({}){}",
            q(&new),
            items.join(", "),
            def.tail()
        )));
        out.push(Stmt::bare(format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
            q(&new),
            q(table),
            cols = copied.join(", ")
        )));
        if has_word(&sql, "AUTOINCREMENT") {
            // The sequence goes on from where the old table's stood, so that
            // a deleted row's key is not handed out again.
            out.push(Stmt::with(
                "DELETE FROM sqlite_sequence WHERE name = ?".to_owned(),
                vec![Value::Text(new.clone())],
            ));
            out.push(Stmt::with(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, seq FROM sqlite_sequence \
                 WHERE name = ?2"
                    .to_owned(),
                vec![Value::Text(new.clone()), Value::Text(table.clone())],
            ));
        }
        out.push(Stmt::bare(format!("DROP TABLE {}", q(table))));
        out.push(Stmt::bare(format!(
            "ALTER TABLE {} RENAME TO {}",
            q(&new),
            q(table)
        )));
        // Explicit indexes; one that reads a dropped column (as a column,
        // in an expression or its `WHERE`) goes with it.
        for r in &reads[2] {
            let text: String = r.get(0)?;
            if !(dropping && index_reads(&text, target)) {
                out.push(Stmt::bare(text));
            }
        }
        // The views are read once all are made again (one may read another).
        out.extend(again);
        out.extend(read_views);
        Ok(out)
    }
}
