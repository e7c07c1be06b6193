//! The reads: `get`, `select`, `count`, `exists`, `scalar`, `raw`, and the
//! streamed `fold` and `fold_rows`.

use super::collect::{Collect, Found};
use crate::backend::InPlaceRow;
use crate::error::{Error, Result};
use crate::model::query::Select;
use crate::model::sql::Dialect;
use crate::model::{Decoder, Model, ModelRow};
use crate::plan::{Action, One, Plan, ReadOnly, Reply, Step, either, replayed, slotted, taken};
use crate::row::{FromRow, InOrder, Row};
use crate::statement::Stmt;
use crate::value::ToSql;

pub(super) fn get<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = M> {
    Collect::<M, Found<M>>::select(d, q.first())
}

pub(super) fn get_or_none<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = Option<M>> {
    Collect::<M, Option<M>>::select(d, q.first())
}

pub(super) fn select<M: Model>(d: Dialect, q: Select<M>) -> Collect<M, Vec<M>> {
    Collect::<M, Vec<M>>::select(d, q)
}

pub(super) fn count<M: Model>(
    d: Dialect,
    q: Select<M>,
    clear_limit: bool,
) -> impl Plan<Output = i64> {
    let q = if clear_limit { q.clear_limit() } else { q };
    either(q.check(&[]).map(|()| {
        ReadOnly::new(One::new(Action::Query(q.count_statement(d)), |r| {
            let rows = r.rows()?;
            rows.first().ok_or_else(Error::not_found)?.get(0)
        }))
    }))
}

pub(super) fn exists<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = bool> {
    either(q.check(&[]).map(|()| {
        let plan = One::new(Action::Query(q.exists_statement(d)), |r| {
            Ok(!r.rows()?.is_empty())
        });
        ReadOnly::unless(q.locks(), plan)
    }))
}

pub(super) fn scalar<M: Model, T: FromRow + Send>(
    d: Dialect,
    q: Select<M>,
) -> impl Plan<Output = T> {
    either(q.check(&[]).map(|()| {
        let locks = q.locks();
        let plan = One::new(Action::Query(q.first().build(d)), |r| {
            match r.rows()?.first() {
                Some(row) => T::from_row(row),
                None => T::from_no_row(),
            }
        });
        ReadOnly::unless(locks, plan)
    }))
}

pub(super) fn raw<T: ModelRow>(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> impl Plan<Output = Vec<T>> + use<T> {
    // A statement that begins or ends a transaction is refused, as
    // `execute` refuses it.
    let plan = match crate::raw_transactions::refuse(sql) {
        Ok(()) => Collect::new(Stmt::new(sql, params)),
        Err(e) => Collect::failing(e),
    };
    Collect::<T, Vec<T>> {
        read_only: false,
        ..plan
    }
}

/// Streams a raw statement's rows into `f` one at a time (`fold_rows`);
/// raw SQL may write, so it never goes to a replica.
struct Fold<A, F> {
    stmt: Option<Stmt>,
    acc: Option<A>,
    f: F,
    /// The statement's refusal, before any I/O: a field, not an `Either`
    /// around the plan, which would dispatch each of its rows.
    failed: Option<Error>,
}

impl<A: Send, F: FnMut(A, &mut Option<Row>) -> Result<A> + Send> Plan for Fold<A, F> {
    type Output = A;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<A>> {
        streamed_step(&mut self.stmt, &mut self.acc, reply)
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let acc = self.acc.take().ok_or_else(replayed)?;
        self.acc = Some((self.f)(acc, row)?);
        Ok(())
    }
    fn read_only(&self) -> bool {
        false
    }
    fn failed(&mut self) -> Option<Error> {
        self.failed.take()
    }
}

pub(super) fn fold_rows<A, E, F>(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    init: A,
    mut f: F,
) -> impl Plan<Output = A> + use<A, E, F>
where
    A: Send,
    E: Send + Sync + 'static,
    F: FnMut(A, Row) -> Result<A, E> + Send,
{
    // A statement that begins or ends a transaction is refused, as
    // `execute` refuses it.
    let refused = crate::raw_transactions::refuse(sql).err();
    Fold {
        stmt: refused.is_none().then(|| Stmt::new(sql, params)),
        acc: Some(init),
        f: move |acc, row: &mut Option<Row>| {
            f(acc, row.take().ok_or_else(taken)?).map_err(Error::carrying)
        },
        failed: refused,
    }
}

/// `f`'s own error carried whole through the plan (the method hands it back
/// with [`Error::into_caller`]).
pub(super) fn fold<M, A, E, F>(
    d: Dialect,
    q: Select<M>,
    init: A,
    mut f: F,
) -> impl Plan<Output = A> + use<M, A, E, F>
where
    M: Model,
    A: Send,
    E: Send + Sync + 'static,
    F: FnMut(A, M) -> Result<A, E> + Send,
{
    let f = move |acc, model| f(acc, model).map_err(Error::carrying);
    // The statement and decoder of a select (its `out` is not used).
    let c = Collect::<M, Option<M>>::select(d, q);
    let plan = FoldModels {
        stmt: c.stmt,
        decoder: c.decoder,
        acc: Some(init),
        f,
    };
    either(c.failed.map_or(Ok(plan), Err))
}

/// A fold's step: stream its statement, then hand over what it folded.
fn streamed_step<A>(
    stmt: &mut Option<Stmt>,
    acc: &mut Option<A>,
    reply: Option<Result<Reply>>,
) -> Result<Step<A>> {
    match reply {
        None => Ok(Step::Run(Action::Stream(stmt.take().ok_or_else(replayed)?))),
        Some(r) => {
            r?;
            Ok(Step::Done(acc.take().ok_or_else(replayed)?))
        }
    }
}

/// Streams a query's models into `f` one at a time (`fold`), decoded as
/// [`Collect::select`] decodes them: on SQLite, in place.
struct FoldModels<M: Model, A, F> {
    stmt: Option<Stmt>,
    decoder: Decoder<M>,
    acc: Option<A>,
    f: F,
}

impl<M: Model, A: Send, F: FnMut(A, M) -> Result<A> + Send> FoldModels<M, A, F> {
    fn fold(&mut self, model: M) -> Result<()> {
        let acc = self.acc.take().ok_or_else(replayed)?;
        self.acc = Some((self.f)(acc, model)?);
        Ok(())
    }
}

impl<M: Model, A: Send, F: FnMut(A, M) -> Result<A> + Send> Plan for FoldModels<M, A, F> {
    type Output = A;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<A>> {
        streamed_step(&mut self.stmt, &mut self.acc, reply)
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let model = self.decoder.decode(slotted(row)?)?;
        self.fold(model)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        let model = self.decoder.read(row)?;
        Some(model.and_then(|m| self.fold(m)))
    }
    fn read_only(&self) -> bool {
        true
    }
}

/// `query_as`: each row decoded into `T` as it arrives, not kept as a
/// [`Row`] first (benches/paired `query_as`). Raw SQL may write: never on
/// a replica.
pub(super) struct QueryAs<T> {
    stmt: Option<Stmt>,
    out: Vec<T>,
    rows: InOrder,
}

pub(super) fn query_as<T: FromRow>(sql: &str, params: &[&(dyn ToSql + Sync)]) -> QueryAs<T> {
    rows_as(Stmt::new(sql, params))
}

/// The rows of `stmt` decoded as `query_as` decodes them (`select_fields`).
pub(super) fn rows_as<T: FromRow>(stmt: Stmt) -> QueryAs<T> {
    QueryAs {
        stmt: Some(stmt),
        out: Vec::new(),
        rows: InOrder::default(),
    }
}

impl<T: FromRow + Send> Plan for QueryAs<T> {
    type Output = Vec<T>;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Vec<T>>> {
        match reply {
            None => {
                let stmt = self.stmt.take().ok_or_else(replayed)?;
                // Refused before any I/O, as `execute` refuses it.
                crate::raw_transactions::refuse(&stmt.sql)?;
                Ok(Step::Run(Action::Rows(stmt)))
            }
            Some(r) => {
                r?;
                Ok(Step::Done(std::mem::take(&mut self.out)))
            }
        }
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let item = self.rows.read(slotted(row)?)?;
        self.keep(item);
        Ok(())
    }
    #[inline]
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        let item = self.rows.read_in_place(row)?;
        Some(item.map(|item| self.keep(item)))
    }
    fn size_hint(&mut self, rows: usize) {
        self.out.reserve(rows);
    }
}

impl<T> QueryAs<T> {
    /// Keeps a decoded row. The first of an unknown count makes the vector
    /// with room for four, as `collect` does, rather than through `push`'s
    /// path of growth (benches/instructions, SQLite's one-row `query_as`).
    #[inline]
    fn keep(&mut self, item: T) {
        if self.out.capacity() == 0 {
            self.out = Vec::with_capacity(4);
        }
        self.out.push(item);
    }
}
