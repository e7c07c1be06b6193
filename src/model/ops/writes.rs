//! The writes: inserts of one row or many (split under the backend's limit
//! on bound values) and `update` (`delete` is in `recursive`).

use std::marker::PhantomData;

use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::model::column::ColumnOf;
use crate::model::query::InsertMany;
use crate::model::schema;
use crate::model::shapes::KeyColumn;
use crate::model::sql::{Dialect, to_sea};
use crate::model::{Model, models};
use crate::placeholders::max_values;
use crate::plan::{Action, Atomically, Map, Plan, Reply, Step, replayed};
use crate::statement::{ExecResult, Stmt};
use crate::value::ValueRef;

/// Inserts rows, returning them as stored with their generated keys (or
/// only their count: [`Inserted`]): in as many statements as the
/// backend's limit on bound values asks, each of at most `per_statement`
/// rows. Rows that give their generated key and rows that leave it to the
/// server go in statements of their own, the first first; the stored rows
/// come back in the order given. Run inside [`Atomically`], more than one
/// statement is all-or-nothing (tests/models.rs
/// `insert_many_splits_under_the_limit`,
/// `given_keys_of_generated_key_models_are_written`).
pub(super) struct Insert<M, O> {
    d: Dialect,
    /// The rows still to send, of one kind: all give their generated key,
    /// or all leave it to the server (or the model has none).
    rows: std::vec::IntoIter<M>,
    /// Where the input mixes both: the rows that leave their key to the
    /// server, sent after the others, and where each row came in the
    /// input. Boxed: rare, and the plan is moved with every call's future.
    mixed: Option<Box<Mixed<M>>>,
    per_statement: usize,
    /// MySQL: the rows of the statement in flight, kept for their keys.
    sent: Vec<M>,
    stored: Vec<M>,
    count: u64,
    _out: PhantomData<fn() -> O>,
}

/// An insert whose rows mix given and generated keys ([`Insert`]).
struct Mixed<M> {
    generated: std::vec::IntoIter<M>,
    /// The place in the input of each row, in the order sent.
    order: Vec<usize>,
}

/// What an [`Insert`] gives: the stored rows, or only their count.
pub(super) trait Inserted<M>: Send + Sized {
    /// The stored rows are wanted, not only their count.
    const ROWS: bool;
    fn of(rows: Vec<M>, count: u64) -> Self;
}

impl<M: Send> Inserted<M> for Vec<M> {
    const ROWS: bool = true;
    fn of(rows: Vec<M>, _: u64) -> Self {
        rows
    }
}

impl<M> Inserted<M> for u64 {
    const ROWS: bool = false;
    fn of(_: Vec<M>, count: u64) -> Self {
        count
    }
}

impl<M: Model, O: Inserted<M>> Insert<M, O> {
    pub(super) fn new(d: Dialect, rows: Vec<M>) -> Self {
        let width = InsertMany::<M>::width(KeyColumn::Written);
        let gives = |r: &M| !InsertMany::<M>::generates_key(r);
        let (rows, mixed) =
            if !M::META.auto_key() || !rows.iter().any(gives) || rows.iter().all(gives) {
                (rows, None)
            } else {
                let (mut given, mut generated) = (Vec::new(), Vec::new());
                let (mut given_at, mut generated_at) = (Vec::new(), Vec::new());
                for (i, row) in rows.into_iter().enumerate() {
                    if gives(&row) {
                        given.push(row);
                        given_at.push(i);
                    } else {
                        generated.push(row);
                        generated_at.push(i);
                    }
                }
                given_at.extend(generated_at);
                let mixed = Mixed {
                    generated: generated.into_iter(),
                    order: given_at,
                };
                (given, Some(Box::new(mixed)))
            };
        Insert {
            d,
            rows: rows.into_iter(),
            mixed,
            per_statement: (max_values(d.kind) / width.max(1)).max(1),
            sent: Vec::new(),
            stored: Vec::new(),
            count: 0,
            _out: PhantomData,
        }
    }

    /// The number of statements the insert takes.
    fn statements(&self) -> usize {
        let more = self.mixed.as_ref().map_or(0, |m| m.generated.len());
        self.rows.len().div_ceil(self.per_statement) + more.div_ceil(self.per_statement)
    }

    /// The next statement's rows: the rest of one kind in the vector they
    /// came in, or a statement's worth of them.
    fn batch(&mut self) -> Vec<M> {
        let rows = match (self.rows.len(), &mut self.mixed) {
            (0, Some(mixed)) => &mut mixed.generated,
            _ => &mut self.rows,
        };
        if rows.len() == 0 {
            Vec::new()
        } else if rows.len() <= self.per_statement {
            std::mem::take(rows).collect()
        } else {
            rows.by_ref().take(self.per_statement).collect()
        }
    }

    /// The next statement, or the outcome once every row is sent.
    fn next(&mut self) -> Result<Step<O>> {
        let batch = self.batch();
        if batch.is_empty() {
            let stored = std::mem::take(&mut self.stored);
            let stored = match self.mixed.take() {
                Some(mixed) if O::ROWS => in_order(stored, &mixed.order)?,
                _ => stored,
            };
            return Ok(Step::Done(O::of(stored, self.count)));
        }
        // A statement's rows all give their keys or all leave them.
        if batch.first().is_some_and(InsertMany::<M>::generates_key) {
            schema::check_generated_key(self.d, M::META)?;
        }
        let d = self.d;
        Ok(Step::Run(match (O::ROWS, d.returning()) {
            // The stored rows come back: the values move out of these.
            (true, true) => Action::Query(InsertMany::<M>::build_owned(batch, d, true)?),
            // MySQL: these rows come back, with their generated keys set.
            (true, false) => {
                let stmt = InsertMany::<M>::build(&batch, d, true)?;
                self.sent = batch;
                Action::Execute(stmt)
            }
            (false, _) => Action::Execute(InsertMany::<M>::build_owned(batch, d, false)?),
        }))
    }

    /// Rows stored by one statement.
    fn keep(&mut self, rows: Vec<M>) {
        if self.stored.is_empty() {
            self.stored = rows;
        } else {
            self.stored.extend(rows);
        }
    }
}

/// `rows`, sent in the input order `order` gives, put back in input order.
fn in_order<M>(rows: Vec<M>, order: &[usize]) -> Result<Vec<M>> {
    if rows.len() != order.len() {
        return Err(Error::new(
            ErrorKind::Query,
            format!("the insert stored {} rows of {}", rows.len(), order.len()),
        ));
    }
    let mut placed: Vec<Option<M>> = std::iter::repeat_with(|| None).take(rows.len()).collect();
    for (row, &at) in rows.into_iter().zip(order) {
        placed[at] = Some(row);
    }
    placed.into_iter().map(|r| r.ok_or_else(replayed)).collect()
}

impl<M: Model, O: Inserted<M>> Plan for Insert<M, O> {
    type Output = O;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<O>> {
        match reply.transpose()? {
            None => {}
            Some(Reply::Rows(stored)) => {
                self.count += stored.len() as u64;
                self.keep(models::<M>(stored)?);
            }
            Some(Reply::Done(done)) => {
                self.count += done.rows_affected;
                if O::ROWS {
                    let mut rows = std::mem::take(&mut self.sent);
                    set_generated_keys(&mut rows, done)?;
                    self.keep(rows);
                }
            }
        }
        self.next()
    }
}

/// MySQL: the generated keys of the rows of one statement, if they left
/// theirs to the server (the rows of a statement all do, or none does),
/// from the first the server reports, a step of the session's
/// `auto_increment_increment` apart: one statement's keys are so under
/// innodb_autoinc_lock_mode 0 and 1 (MariaDB's default), and 2 for an
/// insert of given rows (tests/models.rs,
/// `insert_many_keys_follow_the_servers_increment`).
fn set_generated_keys<M: Model>(rows: &mut [M], done: ExecResult) -> Result<()> {
    if !rows.first().is_some_and(InsertMany::<M>::generates_key) {
        return Ok(());
    }
    let first = done
        .last_insert_id
        .ok_or_else(|| Error::new(ErrorKind::Query, "the server reported no generated key"))?;
    for (i, row) in rows.iter_mut().enumerate() {
        let key = (i as u64)
            .checked_mul(done.id_step.max(1))
            .and_then(|off| first.checked_add(off))
            .and_then(|k| i64::try_from(k).ok())
            .ok_or_else(|| Error::decode("generated key out of range"))?;
        row.set_primary_key(ValueRef::I64(key))?;
    }
    Ok(())
}

/// An insert of `rows`, all-or-nothing in however many statements it takes.
pub(super) fn insert<M: Model, O: Inserted<M>>(
    d: Dialect,
    rows: Vec<M>,
) -> Atomically<Insert<M, O>> {
    let insert = Insert::new(d, rows);
    let statements = insert.statements();
    Atomically::new(d.kind, d.in_tx, insert, statements)
}

pub(super) fn create<M: Model>(d: Dialect, model: M) -> impl Plan<Output = M> {
    Map(Insert::<M, Vec<M>>::new(d, vec![model]), |mut v: Vec<M>| {
        v.pop()
            .ok_or_else(|| Error::new(ErrorKind::Query, "the insert returned no row"))
    })
}

fn by_pk<M: Model>(model: &M) -> crate::model::Filter<M> {
    crate::model::key::filter(crate::model::key::of(model))
}

/// An update of one row by its key, returning the rows it matched: 1 when
/// the row exists, even if it held these values already, as PostgreSQL and
/// SQLite count. MySQL counts the rows it changed, so there a count of 0 is
/// followed by a locking read of the key (the update has locked the row if
/// it exists), which tells a row left as it was from no row
/// (tests/models.rs, `an_update_counts_its_row_even_if_nothing_changed`).
pub(super) struct UpdateByKey {
    update: Option<Stmt>,
    /// MySQL: the table and the key's condition, for the count of rows with
    /// the key, built and sent only if the update changed none.
    exists: Option<(Dialect, &'static str, sea_query::Condition)>,
}

/// The update of `model`'s row: every column but the key's, or those of
/// `only`; none to set (a model of key columns alone, an empty or key-only
/// list) is a `Usage` error before any I/O (tests/models.rs,
/// `an_update_counts_its_row_even_if_nothing_changed`).
pub(super) fn update<M: Model>(
    d: Dialect,
    model: &M,
    only: Option<&[&dyn ColumnOf<M>]>,
) -> Result<UpdateByKey> {
    let mut q = sea_query::Query::update();
    q.table(M::META.table);
    let mut set = 0;
    for (i, c) in M::META.columns.iter().enumerate() {
        let listed = only.is_none_or(|cols| cols.iter().any(|col| col.index() == i));
        if !c.primary_key && listed {
            q.value(c.name, sea_query::Expr::val(to_sea(model.value(i))));
            set += 1;
        }
    }
    if set == 0 {
        let what = match only {
            Some(_) => "update_only: no column to set among those given (key columns are not set)",
            None => "update: the model has no column besides its key to set",
        };
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{what} ({})", M::META.name),
        ));
    }
    let key = by_pk(model).cond();
    let exists = (d.kind == BackendKind::Mysql).then(|| (d, M::META.table, key.clone()));
    q.cond_where(key);
    Ok(UpdateByKey {
        update: Some(d.query(&q)),
        exists,
    })
}

impl Plan for UpdateByKey {
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        if let Some(stmt) = self.update.take() {
            return Ok(Step::Run(Action::Execute(stmt)));
        }
        let reply = reply.ok_or_else(replayed)??;
        if let Reply::Rows(rows) = reply {
            let count = rows.first().map(|r| r.get::<i64>(0)).transpose()?;
            return Ok(Step::Done(count.unwrap_or(0).max(0) as u64));
        }
        let changed = reply.done()?.rows_affected;
        match self.exists.take() {
            Some((d, table, key)) if changed == 0 => {
                let mut q = sea_query::Query::select();
                q.expr(sea_query::Expr::cust("COUNT(*)"))
                    .from(table)
                    .cond_where(key);
                let mut stmt = d.query(&q);
                stmt.sql
                    .push_str(crate::model::query::row_lock(d.kind, false));
                Ok(Step::Run(Action::Query(stmt)))
            }
            _ => Ok(Step::Done(changed)),
        }
    }
}
