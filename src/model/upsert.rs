//! Upserts: [`InsertMany::on_conflict_ignore`] and
//! [`InsertMany::on_conflict`] (peewee's `on_conflict_ignore()` and
//! `on_conflict(conflict_target=…, update=…, preserve=…)`): PostgreSQL's
//! and SQLite's `ON CONFLICT`, MySQL's `ON DUPLICATE KEY UPDATE`, with the
//! stored rows and the counts inserted and updated where each backend can
//! give them ([`Upserted`]).

use std::collections::VecDeque;

use sea_query::{Expr, OnConflict, Query};

use super::Model;
use super::column::{Column, ColumnOf, Compatible};
use super::expr::IntoExpr;
use super::query::InsertMany;
use super::source::Names;
use super::sql::{Dialect, to_sea};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::placeholders::max_values;
use crate::statement::Stmt;
use crate::value::Value;

/// An `INSERT` whose rows that collide with stored ones (on a unique or
/// primary key) are skipped or update the stored row instead: made by
/// [`InsertMany::on_conflict_ignore`] and [`InsertMany::on_conflict`], run
/// by `execute_query`, which returns [`Upserted`].
///
/// | | PostgreSQL | SQLite (3.35+) | MySQL / MariaDB |
/// |---|---|---|---|
/// | conflict on | the `on_conflict` columns (a unique index on them) | the same | any unique key of the table (`ON DUPLICATE KEY`) |
/// | `rows` | the rows inserted or updated (`RETURNING`) | the same | updates: read back by the conflict columns (a locking read, so rows another transaction committed after a transaction's snapshot are seen), in the same transaction; ignored conflicts: none |
/// | `inserted` / `updated` | both | when conflicts are ignored | `inserted` when conflicts are ignored |
pub struct Upsert<M> {
    rows: Vec<M>,
    target: Vec<&'static str>,
    sets: Vec<(&'static str, Set)>,
    ignore: bool,
}

/// What an updating upsert sets a column to.
enum Set {
    /// The value the insert brought (`EXCLUDED.col`, MySQL `VALUES(col)`).
    Preserved,
    Value(Value),
    /// An expression, and the tables it names (`M`'s alone, or it is a
    /// `Usage` error).
    Expr((Expr, Names)),
}

impl<M> std::fmt::Debug for Upsert<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sets: Vec<&str> = self.sets.iter().map(|(c, _)| *c).collect();
        f.debug_struct("Upsert")
            .field("rows", &self.rows.len())
            .field("target", &self.target)
            .field("sets", &sets)
            .field("ignore", &self.ignore)
            .finish()
    }
}

/// What an upsert stored: see [`Upsert`] for what each backend can tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted<M> {
    /// The rows as stored, inserted or updated, in no set order; a row
    /// whose conflict was ignored is not among them.
    pub rows: Vec<M>,
    /// How many rows were inserted, where the backend can tell.
    pub inserted: Option<u64>,
    /// How many stored rows were updated, where the backend can tell.
    pub updated: Option<u64>,
}

impl<M: Model> InsertMany<M> {
    /// Rows colliding with a stored row on any unique or primary key are
    /// skipped, the others inserted (`ON CONFLICT DO NOTHING`; MySQL: `ON
    /// DUPLICATE KEY UPDATE key = key`, not `INSERT IGNORE`, which would
    /// also turn other errors into warnings).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// s.create(user("ann")).unwrap();
    /// let done = s.execute_query(User::insert_many(vec![user("ann"), user("bob")]).on_conflict_ignore()).unwrap();
    /// assert_eq!(done.inserted, Some(1));
    /// assert_eq!(s.count(User::select(), false).unwrap(), 2);
    /// ```
    pub fn on_conflict_ignore(self) -> Upsert<M> {
        Upsert {
            rows: self.rows,
            target: Vec::new(),
            sets: Vec::new(),
            ignore: true,
        }
    }

    /// Rows colliding with a stored row on `target` (columns with a unique
    /// index, or the primary key) update that row instead, as
    /// [`preserve`](Upsert::preserve), [`set`](Upsert::set) and
    /// [`set_expr`](Upsert::set_expr) say; with none of those, they are
    /// skipped. MySQL takes any unique key as the conflict, and uses
    /// `target` to read the stored rows back.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// s.create(User { id: 0, name: "ann".into(), age: Some(30) }).unwrap();
    /// let rows = vec![User { id: 0, name: "ann".into(), age: Some(31) }, user("bob")];
    /// let done = s
    ///     .execute_query(User::insert_many(rows).on_conflict(&[&User::NAME]).preserve(&[&User::AGE]))
    ///     .unwrap();
    /// assert_eq!(done.rows.len(), 2);
    /// assert_eq!(s.get(User::NAME.eq("ann")).unwrap().age, Some(31));
    /// ```
    pub fn on_conflict(self, target: &[&dyn ColumnOf<M>]) -> Upsert<M> {
        Upsert {
            rows: self.rows,
            target: target.iter().map(|c| c.name()).collect(),
            sets: Vec::new(),
            ignore: false,
        }
    }
}

impl<M: Model> Upsert<M> {
    /// On a conflict, these columns take the values the insert brought
    /// (peewee's `preserve`).
    pub fn preserve(mut self, columns: &[&dyn ColumnOf<M>]) -> Self {
        for c in columns {
            self.sets.push((c.name(), Set::Preserved));
        }
        self
    }

    /// On a conflict, `column` is set to `value`.
    pub fn set<T>(mut self, column: Column<M, T>, value: impl Compatible<T>) -> Self {
        self.sets.push((column.name(), Set::Value(value.to_sql())));
        self
    }

    /// On a conflict, `column` is set to an expression of the stored row's
    /// columns (`User::VISITS + 1`: a counter that inserts 1 or adds 1).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// let visit = || User::insert_many(vec![User { id: 0, name: "ann".into(), age: Some(1) }])
    ///     .on_conflict(&[&User::NAME])
    ///     .set_expr(User::AGE, User::AGE + 1);
    /// for _ in 0..3 {
    ///     s.execute_query(visit()).unwrap();
    /// }
    /// assert_eq!(s.get(User::NAME.eq("ann")).unwrap().age, Some(3));
    /// ```
    pub fn set_expr<T>(mut self, column: Column<M, T>, expr: impl IntoExpr<M, T>) -> Self {
        self.sets
            .push((column.name(), Set::Expr(expr.into_parts())));
        self
    }

    /// The statements, each of at most the backend's bound values, and the
    /// read-back of MySQL's updated rows; checked before any is sent.
    pub(crate) fn build(self, d: Dialect) -> Result<UpsertStatements<M>> {
        let Upsert {
            rows,
            target,
            sets,
            ignore,
        } = self;
        let ignore = ignore || sets.is_empty();
        for (_, set) in &sets {
            if let Set::Expr((_, names)) = set {
                names.only_own(M::META, "an upsert")?;
            }
        }
        if !ignore && target.is_empty() {
            return Err(usage("on_conflict: give the conflict's columns"));
        }
        let key = InsertMany::<M>::key_column(&rows);
        if rows
            .iter()
            .any(|r| InsertMany::<M>::key_column(std::slice::from_ref(r)) != key)
        {
            return Err(usage(
                "an upsert's rows must all give their generated key or all leave it to the server",
            ));
        }
        let columns: Vec<&'static str> = InsertMany::<M>::columns(key).map(|(_, n)| n).collect();
        let width = columns.len().max(1);
        let per_statement = (max_values(d.kind) / width).max(1);
        let returning = d.kind != BackendKind::Mysql;
        let flagged = d.kind == BackendKind::Postgres;
        let reread =
            (d.kind == BackendKind::Mysql && !ignore).then(|| reread::<M>(d, &rows, &target));
        let reread = reread.transpose()?;
        let mut statements = VecDeque::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut q = Query::insert();
            q.into_table(M::META.table);
            q.columns(columns.iter().copied());
            for row in rows.by_ref().take(per_statement) {
                let values: Vec<Expr> = InsertMany::<M>::columns(key)
                    .map(|(i, _)| Expr::val(to_sea(row.value(i))))
                    .collect();
                q.values(values)
                    .map_err(|e| Error::new(ErrorKind::Usage, format!("upsert: {e}")))?;
            }
            let mut on = if target.is_empty() {
                OnConflict::new()
            } else {
                OnConflict::columns(target.iter().copied())
            };
            if ignore {
                on.do_nothing_on(M::META.key_columns().map(|c| c.name));
            } else {
                for (column, set) in &sets {
                    match set {
                        Set::Preserved => on.update_column(*column),
                        Set::Value(v) => on.value(*column, Expr::val(to_sea(v.clone()))),
                        Set::Expr((e, _)) => on.value(*column, e.clone()),
                    };
                }
            }
            q.on_conflict(on);
            if returning {
                let back = Query::returning();
                let mut exprs: Vec<Expr> =
                    M::META.columns.iter().map(|c| Expr::col(c.name)).collect();
                if flagged {
                    exprs.push(Expr::cust("(xmax = 0) AS dualdb_inserted"));
                }
                q.returning(back.exprs(exprs));
            }
            statements.push_back(d.query(&q));
        }
        Ok(UpsertStatements {
            statements,
            reread,
            returning,
            flagged,
            ignore,
            _model: std::marker::PhantomData,
        })
    }
}

fn usage(message: &str) -> Error {
    Error::new(ErrorKind::Usage, message)
}

/// MySQL: the stored rows of an updating upsert, by their `target` values,
/// as a locking read (the upsert holds their locks already): it reads the
/// latest committed rows, where a plain read would use the transaction's
/// snapshot, which misses a row another transaction committed after it
/// began and the upsert left as it was (tests/upserts.rs,
/// `an_upsert_in_a_transaction_returns_a_row_committed_after_its_snapshot`).
fn reread<M: Model>(d: Dialect, rows: &[M], target: &[&'static str]) -> Result<Stmt> {
    let at: Vec<usize> = target
        .iter()
        .map(|t| {
            M::META
                .columns
                .iter()
                .position(|c| c.name == *t)
                .ok_or_else(|| usage("on_conflict: a column not of the model"))
        })
        .collect::<Result<_>>()?;
    let mut q = Query::select();
    q.from(M::META.table);
    q.columns(M::META.columns.iter().map(|c| c.name));
    let tuple = |row: &M| Expr::tuple(at.iter().map(|&i| Expr::val(to_sea(row.value(i)))));
    let keys = Expr::tuple(at.iter().map(|&i| Expr::col(M::META.columns[i].name)));
    q.and_where(sea_query::ExprTrait::is_in(keys, rows.iter().map(tuple)));
    let mut stmt = d.query(&q);
    stmt.sql.push_str(super::query::row_lock(d.kind, false));
    Ok(stmt)
}

/// An upsert, built: what its plan sends.
pub(crate) struct UpsertStatements<M> {
    pub(crate) statements: VecDeque<Stmt>,
    /// MySQL's read-back of the rows an updating upsert stored.
    pub(crate) reread: Option<Stmt>,
    /// The statements return the stored rows (`RETURNING`).
    pub(crate) returning: bool,
    /// Their rows end with PostgreSQL's inserted flag (`xmax = 0`).
    pub(crate) flagged: bool,
    /// Conflicts are skipped, so every row returned or counted was inserted.
    pub(crate) ignore: bool,
    _model: std::marker::PhantomData<fn() -> M>,
}
