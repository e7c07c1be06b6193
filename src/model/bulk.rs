//! [`BulkUpdate`]: many rows of a model updated by their keys, each to its
//! own values, in a few statements (peewee's `Model.bulk_update`).

use std::any::TypeId;
use std::marker::PhantomData;

use sea_query::{CaseStatement, Expr, ExprTrait};

use super::Model;
use super::column::ColumnOf;
use super::key;
use super::shapes::{self, BulkShape};
use super::sql::{Dialect, to_sea};
use crate::error::{Error, ErrorKind, Result};
use crate::statement::Stmt;
use crate::value::Value;

/// Rows a statement of a [`BulkUpdate`] sets unless
/// [`batch_size`](BulkUpdate::batch_size) says otherwise. Each updated row
/// tries the `CASE`'s branches in turn, so a statement's work grows with the
/// square of its rows, while fewer rows a statement cost round trips: 100
/// was the quickest on PostgreSQL and MariaDB, and near it on SQLite, of
/// sizes from 10 to 2,000 (BENCHMARKS.md, after the paired table).
const DEFAULT_BATCH: usize = 100;

/// An `UPDATE` of many rows of `M`, each by its key to its own values:
/// made by [`Model::bulk_update`]; `execute_query` returns the rows changed.
///
/// One statement sets a batch of rows (100 unless
/// [`batch_size`](Self::batch_size) says otherwise, and fewer if the
/// backend's limit on bound values asks):
/// `UPDATE t SET c = CASE WHEN key = ? THEN ? … ELSE c END, … WHERE key IN (…)`.
/// More than one statement run all or nothing (a transaction of their own,
/// or a savepoint inside the caller's). A row given twice is written as the
/// later one has it, as a loop of [`update_only`](crate::SyncDb::update_only)s
/// would leave it. The count is each statement's, summed: the rows matched
/// on PostgreSQL and SQLite, the rows whose values changed on MySQL/MariaDB
/// (as for [`UpdateQuery`](crate::model::UpdateQuery)).
///
/// ```
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// let mut users = db.aio().execute_query(User::insert_many(vec![user("ada"), user("bob")])).await?;
/// users[0].age = Some(36);
/// users[1].age = Some(41);
/// let changed = db.aio().execute_query(User::bulk_update(&users, &[&User::AGE])).await?;
/// assert_eq!(changed, 2);
/// let ages: Vec<Option<i32>> =
///     db.sync().execute_query(User::select().order_by(User::ID.asc()))?.into_iter().map(|u| u.age).collect();
/// assert_eq!(ages, [Some(36), Some(41)]);
/// # Ok(())
/// # });
/// ```
pub struct BulkUpdate<M> {
    /// The columns set, by position and name (key columns left out).
    columns: Vec<(usize, &'static str)>,
    /// Each row's key values, then its values of `columns`, row after row.
    rows: Vec<Value>,
    batch: usize,
    invalid: Option<String>,
    _model: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for BulkUpdate<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkUpdate")
            .field(
                "columns",
                &self.columns.iter().map(|c| c.1).collect::<Vec<_>>(),
            )
            .field("values", &self.rows.len())
            .field("batch", &self.batch)
            .finish()
    }
}

impl<M: Model> BulkUpdate<M> {
    pub(crate) fn new(rows: &[M], columns: &[&dyn ColumnOf<M>]) -> Self {
        let meta = M::META;
        let set: Vec<(usize, &'static str)> = (meta.columns.iter().enumerate())
            .filter(|(i, c)| !c.primary_key && columns.iter().any(|col| col.index() == *i))
            .map(|(i, c)| (i, c.name))
            .collect();
        let invalid = set.is_empty().then(|| {
            format!(
                "bulk_update: no column to set among those given (key columns are not set) ({})",
                meta.name
            )
        });
        let mut values = Vec::with_capacity(rows.len() * (meta.key.len() + set.len()));
        for row in rows {
            key::push(row, &mut values);
            values.extend(set.iter().map(|&(i, _)| row.value(i)));
        }
        BulkUpdate {
            columns: set,
            rows: values,
            batch: DEFAULT_BATCH,
            invalid,
            _model: PhantomData,
        }
    }

    /// At most `rows` rows a statement (100 by default; fewer if the
    /// backend's limit on bound values asks). 0 is a
    /// [`Usage`](crate::ErrorKind::Usage) error when the update runs.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// let mut users = s.execute_query(User::insert_many((0..5).map(|i| user(&format!("u{i}"))).collect())).unwrap();
    /// users.iter_mut().for_each(|u| u.age = Some(7));
    /// // Three statements, in one transaction.
    /// assert_eq!(s.execute_query(User::bulk_update(&users, &[&User::AGE]).batch_size(2)).unwrap(), 5);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, rows: usize) -> Self {
        if rows == 0 {
            self.invalid = Some("bulk_update: a batch size of 0 rows".into());
        }
        self.batch = rows;
        self
    }

    /// The statements, one a batch, none for no rows; run all or nothing.
    /// A batch's SQL depends only on the model, the backend, the columns
    /// and its row count: built once per thread and shared, as an insert's
    /// is (`shapes`; batches of up to 128 rows), so a call binds its values
    /// into text already made (benches/paired, `bulk_update`).
    pub(crate) fn build(mut self, d: Dialect) -> Result<Vec<Stmt>> {
        if let Some(why) = self.invalid.take() {
            return Err(Error::new(ErrorKind::Usage, why));
        }
        let width = M::META.key.len();
        let columns = self.columns.len();
        // A row binds its key once in each `CASE` and once in the `IN`.
        let per_row = columns * (width + 1) + width;
        let most = (crate::placeholders::max_values(d.kind) / per_row.max(1)).max(1);
        let batch = self.batch.min(most);
        let mask = (self.columns.iter()).try_fold(0u64, |m, &(i, _)| {
            u32::try_from(i)
                .ok()
                .and_then(|i| 1u64.checked_shl(i))
                .map(|bit| m | bit)
        });
        let mut values = std::mem::take(&mut self.rows);
        let stride = width + columns;
        let mut out = Vec::with_capacity((values.len() / stride.max(1)).div_ceil(batch));
        for rows in values.chunks_mut(batch * stride) {
            let n = rows.len() / stride;
            // In the order the statement binds them: for each column, the
            // rows from the last (so that of two rows with one key the
            // later wins), each its key and its value; then the keys.
            let mut params = Vec::with_capacity(n * per_row);
            for c in 0..columns {
                for row in rows.chunks_mut(stride).rev() {
                    params.extend(row[..width].iter().cloned());
                    params.push(std::mem::replace(&mut row[width + c], Value::Null));
                }
            }
            params.extend(rows.chunks(stride).flat_map(|r| r[..width].iter().cloned()));
            let mut fresh = None;
            let cached = mask.filter(|_| n <= shapes::CACHED_BULK_ROWS);
            let sql = cached.and_then(|columns| {
                let shape = BulkShape {
                    model: TypeId::of::<M>(),
                    kind: d.kind,
                    columns,
                    rows: n,
                };
                shapes::bulk_sql(shape, || {
                    // Cached only if sea-query bound every value, in order.
                    let built = fresh.insert(self.fresh(d, n, params.clone()));
                    (built.params[..] == params[..]).then(|| built.sql.to_string())
                })
            });
            out.push(match (sql, fresh) {
                (Some(sql), _) => Stmt::with(sql, params),
                (None, Some(built)) => built,
                (None, None) => self.fresh(d, n, params),
            });
        }
        Ok(out)
    }

    /// The statement of a batch of `rows` rows as sea-query builds it, from
    /// its values in the order [`build`](Self::build) lays them:
    /// `UPDATE t SET c = CASE WHEN key = ? THEN ? … ELSE c END, … WHERE key
    /// IN (…)`. `ELSE` the column itself gives PostgreSQL the column's type
    /// for the bound values, which it would otherwise read as text
    /// (tests/queries/bulk_update.rs).
    fn fresh(&self, d: Dialect, rows: usize, params: Vec<Value>) -> Stmt {
        let meta = M::META;
        let names: Vec<&'static str> = meta.key_columns().map(|c| c.name).collect();
        let mut params = params.into_iter();
        let mut q = sea_query::Query::update();
        q.table(meta.table);
        for &(_, column) in &self.columns {
            let mut case = CaseStatement::new();
            for _ in 0..rows {
                let key: Vec<Value> = params.by_ref().take(names.len()).collect();
                let value = params.next().unwrap_or(Value::Null);
                case = case.case(key_is(&names, key), Expr::val(to_sea(value)));
            }
            q.value(column, case.finally(Expr::col(column)));
        }
        q.cond_where(key::is_in(meta.table, &names, params.collect()));
        d.query(&q)
    }
}

/// `key = values`, column by column.
fn key_is(names: &[&'static str], values: Vec<Value>) -> sea_query::Condition {
    let mut all = sea_query::Condition::all();
    for (&name, v) in names.iter().zip(values) {
        all = all.add(Expr::col(name).eq(to_sea(v)));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendKind;

    #[derive(crate::Model, Debug, Clone)]
    #[model(table = "bulk_parts")]
    struct Part {
        #[model(primary_key)]
        shelf: i64,
        #[model(primary_key)]
        pos: i32,
        label: Option<String>,
        weight: f64,
    }

    fn part(i: i64) -> Part {
        Part {
            shelf: i / 3,
            pos: (i % 3) as i32,
            label: (i % 2 == 0).then(|| format!("p{i}")),
            weight: i as f64,
        }
    }

    /// A batch's statement from the cache of shapes is the one sea-query
    /// builds: the same text and the same values in the same order (NULLs,
    /// a key of two columns, a batch shorter than the rest); and a shape
    /// built once is cached.
    #[test]
    fn cached_batches_are_the_statements_sea_query_builds() {
        let rows: Vec<Part> = (0..7).map(part).collect();
        let columns: [&dyn ColumnOf<Part>; 2] = [&Part::WEIGHT, &Part::LABEL];
        for kind in [
            BackendKind::Postgres,
            BackendKind::Mysql,
            BackendKind::Sqlite,
        ] {
            let d = Dialect::new(kind, false);
            for _ in 0..2 {
                let built = Part::bulk_update(&rows, &columns)
                    .batch_size(3)
                    .build(d)
                    .unwrap();
                assert_eq!(built.len(), 3, "{kind:?}");
                for (stmt, chunk) in built.iter().zip(rows.chunks(3)) {
                    let q = Part::bulk_update(chunk, &columns);
                    let mut params = Vec::new();
                    for &(i, _) in &q.columns {
                        for row in chunk.iter().rev() {
                            params.extend(row.key_values());
                            params.push(row.value(i));
                        }
                    }
                    chunk.iter().for_each(|r| key::push(r, &mut params));
                    let fresh = q.fresh(d, chunk.len(), params);
                    assert_eq!((&stmt.sql, &stmt.params), (&fresh.sql, &fresh.params));
                    assert!(matches!(stmt.sql, crate::statement::SqlText::Shared(_)));
                    assert!(stmt.sql.contains("CASE WHEN"), "{}", stmt.sql);
                }
            }
        }
    }

    /// A batch of more rows than the cache keeps is built each time (its
    /// text is not kept), and is the same statement.
    #[test]
    fn batches_over_the_cached_rows_are_built_each_time() {
        let n = shapes::CACHED_BULK_ROWS as i64 + 2;
        let rows: Vec<Part> = (0..n).map(part).collect();
        let d = Dialect::new(BackendKind::Postgres, false);
        let q = || Part::bulk_update(&rows, &[&Part::WEIGHT]).batch_size(n as usize);
        let built = q().build(d).unwrap();
        assert_eq!(built.len(), 1);
        assert!(matches!(built[0].sql, crate::statement::SqlText::Owned(_)));
        let again = q().build(d).unwrap();
        assert_eq!(
            (&built[0].sql, &built[0].params),
            (&again[0].sql, &again[0].params)
        );
        // A row binds its key and value in the `CASE`, and its key in the `IN`.
        assert_eq!(built[0].params.len(), rows.len() * 5);
    }
}
