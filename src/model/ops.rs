//! The Manager operations, each a [`Plan`] written once, and the macro that
//! gives both halves the same methods over them.

use std::marker::PhantomData;

use super::column::ColumnOf;
use super::prefetch::{Prefetch, Related};
use super::query::{DeleteQuery, InsertCounted, InsertMany, Select, UpdateQuery};
use super::schema;
use super::shapes::KeyColumn;
use super::sql::{Dialect, to_sea};
use super::{Decoder, Model, ModelMeta, ModelRow, models};
use crate::backend::InPlaceRow;
use crate::error::{Error, ErrorKind, Result};
use crate::placeholders::max_values;
use crate::plan::{
    Action, Atomically, Map, One, Plan, ReadOnly, Reply, Sequence, Step, either, replayed, slotted,
    taken,
};
use crate::row::{FromRow, Row};
use crate::statement::{ExecResult, Stmt, at_most_one, exactly_one};
use crate::value::{ToSql, Value, ValueRef};

fn not_found<M: Model>() -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("no {} matches the query", M::META.name),
    )
}

/// The first row of a reply as a model.
fn first<M: Model>(reply: Reply) -> Result<Option<M>> {
    let mut rows = reply.rows()?;
    rows.truncate(1);
    Ok(models::<M>(rows)?.pop())
}

/// Where a [`Collect`] keeps its models: every one (`Vec`), or only the
/// first (`Option`, and [`Found`] where there must be one: `get` and
/// `get_or_none` allocate no vector for it).
pub(crate) trait Kept<M>: Default + Send {
    /// What the plan returns once the rows are in.
    type Out: Send;
    /// Room for the rows a query's `LIMIT` allows, where that is worth it.
    fn for_limit(_limit: Option<u64>) -> Self {
        Self::default()
    }
    fn keep(&mut self, model: M);
    /// Room for `rows` more models, where they are all kept.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn reserve(&mut self, _rows: usize) {}
    fn finish(self) -> Result<Self::Out>;
}

impl<M: Send> Kept<M> for Vec<M> {
    type Out = Self;
    fn for_limit(limit: Option<u64>) -> Self {
        // Room for the one row of a `LIMIT 1` up front, not grown into.
        match limit {
            Some(n @ 0..=1) => Vec::with_capacity(n as usize),
            _ => Vec::new(),
        }
    }
    #[inline]
    fn keep(&mut self, model: M) {
        self.push(model);
    }
    fn reserve(&mut self, rows: usize) {
        Vec::reserve(self, rows);
    }
    fn finish(self) -> Result<Self> {
        Ok(self)
    }
}

impl<M: Send> Kept<M> for Option<M> {
    type Out = Self;
    #[inline]
    fn keep(&mut self, model: M) {
        if self.is_none() {
            *self = Some(model);
        }
    }
    fn finish(self) -> Result<Self> {
        Ok(self)
    }
}

/// The first model, which must be there: `get`'s
/// [`NotFound`](ErrorKind::NotFound) without a plan around the plan.
pub(crate) struct Found<M>(Option<M>);

impl<M> Default for Found<M> {
    fn default() -> Self {
        Found(None)
    }
}

impl<M: Model> Kept<M> for Found<M> {
    type Out = M;
    #[inline]
    fn keep(&mut self, model: M) {
        self.0.keep(model);
    }
    fn finish(self) -> Result<M> {
        self.0.ok_or_else(not_found::<M>)
    }
}

/// Runs a statement, decoding its rows into models (or models side by side,
/// for `raw`) as they arrive.
pub(crate) struct Collect<M: ModelRow, K = Vec<M>> {
    stmt: Option<Stmt>,
    decoder: Decoder<M>,
    out: K,
    /// False for raw SQL, which may write.
    read_only: bool,
}

impl<M: ModelRow, K: Kept<M>> Collect<M, K> {
    fn new(stmt: Stmt) -> Self {
        Collect {
            stmt: Some(stmt),
            decoder: Decoder::new(),
            out: K::default(),
            read_only: true,
        }
    }
}

impl<M: Model, K: Kept<M>> Collect<M, K> {
    /// The models of a query: where it names no fields of its own, its
    /// columns are the model's, in the model's order, so the decoder need
    /// not look for them, nor the rows carry their names.
    fn select(d: Dialect, q: Select<M>) -> Self {
        let out = K::for_limit(q.row_limit());
        if q.selects_model_columns() {
            Collect {
                decoder: Decoder::in_model_order(),
                out,
                ..Collect::new(q.into_stmt(d).by_position())
            }
        } else {
            Collect {
                out,
                ..Collect::new(q.into_stmt(d))
            }
        }
    }
}

impl<M: ModelRow, K: Kept<M>> Plan for Collect<M, K> {
    type Output = K::Out;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<K::Out>> {
        match reply {
            None => Ok(Step::Run(Action::Rows(
                self.stmt.take().ok_or_else(replayed)?,
            ))),
            Some(r) => {
                r?;
                std::mem::take(&mut self.out).finish().map(Step::Done)
            }
        }
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let model = self.decoder.decode(slotted(row)?)?;
        self.out.keep(model);
        Ok(())
    }
    #[inline]
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        match self.decoder.read(row)? {
            Ok(m) => self.out.keep(m),
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(()))
    }
    fn size_hint(&mut self, rows: usize) {
        self.out.reserve(rows);
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}

pub(crate) fn get<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = M> {
    Collect::<M, Found<M>>::select(d, q.first())
}

pub(crate) fn get_or_none<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = Option<M>> {
    Collect::<M, Option<M>>::select(d, q.first())
}

pub(crate) fn select<M: Model>(d: Dialect, q: Select<M>) -> Collect<M, Vec<M>> {
    Collect::<M, Vec<M>>::select(d, q)
}

pub(crate) fn count<M: Model>(
    d: Dialect,
    q: Select<M>,
    clear_limit: bool,
) -> impl Plan<Output = i64> {
    let q = if clear_limit { q.clear_limit() } else { q };
    ReadOnly(One::new(Action::Query(q.count_statement(d)), |r| {
        let rows = r.rows()?;
        rows.first().ok_or_else(Error::not_found)?.get(0)
    }))
}

pub(crate) fn exists<M: Model>(d: Dialect, q: Select<M>) -> impl Plan<Output = bool> {
    ReadOnly(One::new(Action::Query(q.exists_statement(d)), |r| {
        Ok(!r.rows()?.is_empty())
    }))
}

pub(crate) fn scalar<M: Model, T: FromRow + Send>(
    d: Dialect,
    q: Select<M>,
) -> impl Plan<Output = T> {
    ReadOnly(One::new(Action::Query(q.first().build(d)), |r| {
        match r.rows()?.first() {
            Some(row) => T::from_row(row),
            None => T::from_no_row(),
        }
    }))
}

pub(crate) fn raw<T: ModelRow>(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> impl Plan<Output = Vec<T>> + use<T> {
    Collect::<T, Vec<T>> {
        read_only: false,
        ..Collect::new(Stmt::new(sql, params))
    }
}

/// Inserts rows, returning them as stored with their generated keys (or
/// only their count: [`Inserted`]): in as many statements as the
/// backend's limit on bound values asks, each of at most `per_statement`
/// rows. Rows that give their generated key and rows that leave it to the
/// server go in statements of their own, the first first; the stored rows
/// come back in the order given. Run inside [`Atomically`], more than one
/// statement is all-or-nothing (tests/models.rs
/// `insert_many_splits_under_the_limit`,
/// `given_keys_of_generated_key_models_are_written`).
pub(crate) struct Insert<M, O> {
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
pub(crate) trait Inserted<M>: Send + Sized {
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
    pub(crate) fn new(d: Dialect, rows: Vec<M>) -> Self {
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
/// from the first the server reports: one statement's are consecutive
/// under innodb_autoinc_lock_mode 0 and 1 (MariaDB's default).
fn set_generated_keys<M: Model>(rows: &mut [M], done: ExecResult) -> Result<()> {
    if !rows.first().is_some_and(InsertMany::<M>::generates_key) {
        return Ok(());
    }
    let first = done
        .last_insert_id
        .ok_or_else(|| Error::new(ErrorKind::Query, "the server reported no generated key"))?;
    for (i, row) in rows.iter_mut().enumerate() {
        let key = i64::try_from(first + i as u64)
            .map_err(|_| Error::decode("generated key out of range"))?;
        row.set_primary_key(ValueRef::I64(key))?;
    }
    Ok(())
}

/// An insert of `rows`, all-or-nothing in however many statements it takes.
pub(crate) fn insert<M: Model, O: Inserted<M>>(
    d: Dialect,
    rows: Vec<M>,
) -> Atomically<Insert<M, O>> {
    let insert = Insert::new(d, rows);
    let statements = insert.statements();
    Atomically::new(d.kind, d.in_tx, insert, statements)
}

pub(crate) fn create<M: Model>(d: Dialect, model: M) -> impl Plan<Output = M> {
    Map(Insert::<M, Vec<M>>::new(d, vec![model]), |mut v: Vec<M>| {
        v.pop()
            .ok_or_else(|| Error::new(ErrorKind::Query, "the insert returned no row"))
    })
}

/// Streams a raw statement's rows into `f` one at a time (`fold_rows`);
/// raw SQL may write, so it never goes to a replica.
pub(crate) struct Fold<A, F> {
    stmt: Option<Stmt>,
    acc: Option<A>,
    f: F,
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
}

pub(crate) fn fold_rows<A: Send, F: FnMut(A, Row) -> Result<A> + Send>(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    init: A,
    mut f: F,
) -> impl Plan<Output = A> + use<A, F> {
    Fold {
        stmt: Some(Stmt::new(sql, params)),
        acc: Some(init),
        f: move |acc, row: &mut Option<Row>| f(acc, row.take().ok_or_else(taken)?),
    }
}

pub(crate) fn fold<M: Model, A: Send, F: FnMut(A, M) -> Result<A> + Send>(
    d: Dialect,
    q: Select<M>,
    init: A,
    f: F,
) -> impl Plan<Output = A> + use<M, A, F> {
    // The statement and decoder of a select (its `out` is not used).
    let Collect { stmt, decoder, .. } = Collect::<M, Option<M>>::select(d, q);
    FoldModels {
        stmt,
        decoder,
        acc: Some(init),
        f,
    }
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

fn by_pk<M: Model>(model: &M) -> super::Filter<M> {
    super::Filter::raw_eq(M::META.primary_key, M::META.pk().name, model.primary_key())
}

pub(crate) fn update<M: Model>(
    d: Dialect,
    model: &M,
    only: Option<&[&dyn ColumnOf<M>]>,
) -> impl Plan<Output = u64> + use<M> {
    let mut q = sea_query::Query::update();
    q.table(M::META.table);
    for (i, c) in M::META.columns.iter().enumerate() {
        let listed = only.is_none_or(|cols| cols.iter().any(|col| col.index() == i));
        if !c.primary_key && listed {
            q.value(c.name, sea_query::Expr::val(to_sea(model.value(i))));
        }
    }
    q.cond_where(by_pk(model).cond());
    One::new(Action::Execute(d.query(&q)), |r| {
        Ok(r.done()?.rows_affected)
    })
}

/// Deletes one row; with `recursive`, first its dependants, found through
/// the registered foreign keys: rows whose foreign key is nullable get it
/// set to NULL unless `delete_nullable`, the others are deleted, deepest
/// first, each level selected by a sub-query on the level above; all or
/// nothing ([`Atomically`]).
pub(crate) fn delete<M: Model>(
    d: Dialect,
    model: &M,
    recursive: bool,
    delete_nullable: bool,
) -> Atomically<Sequence> {
    let mut stmts = Vec::new();
    if recursive {
        dependants(
            d,
            M::META,
            by_pk(model).cond(),
            delete_nullable,
            &mut Vec::new(),
            &mut stmts,
        );
    }
    let mut q = sea_query::Query::delete();
    q.from_table(M::META.table).cond_where(by_pk(model).cond());
    stmts.push(d.query(&q));
    let statements = stmts.len();
    Atomically::new(d.kind, d.in_tx, Sequence(stmts.into_iter()), statements)
}

/// Appends, for every dependant of the rows of `parent` matching `rows`, the
/// statements that clear it, deepest first.
fn dependants(
    d: Dialect,
    parent: &'static ModelMeta,
    rows: sea_query::Condition,
    delete_nullable: bool,
    path: &mut Vec<&'static str>,
    out: &mut Vec<Stmt>,
) {
    use sea_query::{Cond, Expr, ExprTrait, Query};
    if path.contains(&parent.table) {
        return; // a cycle of foreign keys: the first visit handles it
    }
    path.push(parent.table);
    for (child, fk) in parent.dependents() {
        let mut parent_keys = Query::select();
        parent_keys
            .column(parent.pk().name)
            .from(parent.table)
            .cond_where(rows.clone());
        let child_rows = Cond::all().add(Expr::col(fk.name).in_subquery(parent_keys));
        if fk.nullable && !delete_nullable {
            let mut q = Query::update();
            q.table(child.table)
                .value(fk.name, Expr::val(to_sea(Value::Null)))
                .cond_where(child_rows);
            out.push(d.query(&q));
        } else {
            dependants(d, child, child_rows.clone(), delete_nullable, path, out);
            let mut q = Query::delete();
            q.from_table(child.table).cond_where(child_rows);
            out.push(d.query(&q));
        }
    }
    path.pop();
}

/// An insert that, inside a transaction, runs in a savepoint: a failed
/// statement would otherwise abort the whole transaction on PostgreSQL. A
/// failure is rolled back to the savepoint and then returned.
struct GuardedInsert<M> {
    insert: Insert<M, Vec<M>>,
    d: Dialect,
    state: GuardState<M>,
}

enum GuardState<M> {
    Start,
    Opening,
    Running,
    Releasing(Vec<M>),
    RollingBack(Error),
}

const OP_SAVEPOINT: &str = "dualdb_op";

fn savepoint_stmt(verb: &str) -> Action {
    Action::Execute(Stmt::bare(format!("{verb} {OP_SAVEPOINT}")))
}

impl<M: Model> GuardedInsert<M> {
    fn new(d: Dialect, model: M) -> Self {
        GuardedInsert {
            insert: Insert::new(d, vec![model]),
            d,
            state: GuardState::Start,
        }
    }

    /// Like [`Plan::step`], ending in the created row.
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<M>> {
        let guarded = self.d.in_tx;
        match std::mem::replace(&mut self.state, GuardState::Running) {
            GuardState::Start if guarded => {
                self.state = GuardState::Opening;
                Ok(Step::Run(savepoint_stmt("SAVEPOINT")))
            }
            GuardState::Start => self.inner(None),
            GuardState::Opening => {
                reply.ok_or_else(replayed)??;
                self.inner(None)
            }
            GuardState::Running => self.inner(reply),
            GuardState::Releasing(mut rows) => {
                reply.ok_or_else(replayed)??;
                rows.pop().map(Step::Done).ok_or_else(replayed)
            }
            GuardState::RollingBack(e) => {
                reply.ok_or_else(replayed)??;
                Err(e)
            }
        }
    }

    fn inner(&mut self, reply: Option<Result<Reply>>) -> Result<Step<M>> {
        let guarded = self.d.in_tx;
        match self.insert.step(reply) {
            Ok(Step::Run(a)) => Ok(Step::Run(a)),
            Ok(Step::Done(rows)) if guarded => {
                self.state = GuardState::Releasing(rows);
                Ok(Step::Run(savepoint_stmt("RELEASE SAVEPOINT")))
            }
            Ok(Step::Done(mut rows)) => rows.pop().map(Step::Done).ok_or_else(replayed),
            Err(e) if guarded => {
                self.state = GuardState::RollingBack(e);
                Ok(Step::Run(savepoint_stmt("ROLLBACK TO SAVEPOINT")))
            }
            Err(e) => Err(e),
        }
    }
}

/// get_or_create: select; if absent, insert; if the insert hits a unique
/// violation (another task won the race), select again, as a locking read
/// inside a transaction ([`Select::build_locking`]).
pub(crate) struct GetOrCreate<M, F> {
    d: Dialect,
    lookup: Select<M>,
    make: Option<F>,
    state: GocState<M>,
}

enum GocState<M> {
    Start,
    Selected,
    Inserting(GuardedInsert<M>),
    Reselected(Error),
}

impl<M: Model, F: FnOnce() -> M + Send> GetOrCreate<M, F> {
    pub(crate) fn new(d: Dialect, lookup: Select<M>, make: F) -> Self {
        GetOrCreate {
            d,
            lookup: lookup.first(),
            make: Some(make),
            state: GocState::Start,
        }
    }

    fn inserting(
        &mut self,
        mut insert: GuardedInsert<M>,
        reply: Option<Result<Reply>>,
    ) -> Result<Step<(M, bool)>> {
        match insert.step(reply) {
            Ok(Step::Run(a)) => {
                self.state = GocState::Inserting(insert);
                Ok(Step::Run(a))
            }
            Ok(Step::Done(created)) => Ok(Step::Done((created, true))),
            Err(e) if e.kind() == ErrorKind::UniqueViolation => {
                self.state = GocState::Reselected(e);
                Ok(Step::Run(Action::Query(self.lookup.build_locking(self.d))))
            }
            Err(e) => Err(e),
        }
    }
}

impl<M: Model, F: FnOnce() -> M + Send> Plan for GetOrCreate<M, F> {
    type Output = (M, bool);
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<(M, bool)>> {
        match std::mem::replace(&mut self.state, GocState::Start) {
            GocState::Start => {
                self.state = GocState::Selected;
                Ok(Step::Run(Action::Query(self.lookup.build(self.d))))
            }
            GocState::Selected => {
                let reply = reply.ok_or_else(replayed)??;
                if let Some(found) = first::<M>(reply)? {
                    return Ok(Step::Done((found, false)));
                }
                let make = self.make.take().ok_or_else(replayed)?;
                self.inserting(GuardedInsert::new(self.d, make()), None)
            }
            GocState::Inserting(insert) => self.inserting(insert, reply),
            GocState::Reselected(unique) => {
                let reply = reply.ok_or_else(replayed)??;
                match first::<M>(reply)? {
                    Some(found) => Ok(Step::Done((found, false))),
                    // The conflict was on another unique column than the lookup's.
                    None => Err(unique),
                }
            }
        }
    }
}

/// create_or_get: insert; on a unique violation, get the row that holds the
/// conflicting unique values (a locking read inside a transaction).
pub(crate) struct CreateOrGet<M> {
    d: Dialect,
    lookup: Option<Select<M>>,
    insert: GuardedInsert<M>,
    conflict: Option<Error>,
}

impl<M: Model> CreateOrGet<M> {
    pub(crate) fn new(d: Dialect, model: M) -> Self {
        use sea_query::{Cond, Expr, ExprTrait};
        let mut any = Cond::any();
        for (i, c) in M::META.columns.iter().enumerate() {
            let given_key = c.primary_key && !c.auto_increment;
            if c.unique || given_key {
                any = any.add(Expr::col(c.name).eq(Expr::val(to_sea(model.value(i)))));
            }
        }
        let lookup =
            (!any.is_empty()).then(|| Select::new().filter(super::Filter::new(any)).first());
        CreateOrGet {
            d,
            lookup,
            insert: GuardedInsert::new(d, model),
            conflict: None,
        }
    }
}

impl<M: Model> Plan for CreateOrGet<M> {
    type Output = (M, bool);
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<(M, bool)>> {
        if let Some(conflict) = self.conflict.take() {
            let found = first::<M>(reply.ok_or_else(replayed)??)?;
            return found.map(|m| Step::Done((m, false))).ok_or(conflict);
        }
        match self.insert.step(reply) {
            Ok(Step::Run(a)) => Ok(Step::Run(a)),
            Ok(Step::Done(created)) => Ok(Step::Done((created, true))),
            Err(e) if e.kind() == ErrorKind::UniqueViolation => match &self.lookup {
                Some(lookup) => {
                    let stmt = lookup.build_locking(self.d);
                    self.conflict = Some(e);
                    Ok(Step::Run(Action::Query(stmt)))
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn create_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    let stmt = schema::create_table(d, M::META);
    either(stmt.map(|s| One::new(Action::Execute(s), |_: Reply| Ok(()))))
}

pub(crate) fn drop_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::drop_table(d, M::META)), |_| Ok(()))
}

pub(crate) fn truncate<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::truncate(d, M::META)), |_| Ok(()))
}

pub(crate) fn table_exists<M: Model>(d: Dialect) -> impl Plan<Output = bool> {
    One::new(Action::Query(schema::table_exists(d, M::META)), |r| {
        Ok(!r.rows()?.is_empty())
    })
}

/// A query `execute` can run: [`Select`] (returns models), [`UpdateQuery`]
/// and [`DeleteQuery`] (return counts), [`InsertMany`] (returns the stored
/// rows with their keys), [`InsertCounted`](super::InsertCounted) (returns
/// the count).
///
/// ```
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// let stored: Vec<User> = db.sync().execute_query(User::insert_many(vec![user("a"), user("b")]))?;
/// let changed: u64 = db.aio().execute_query(User::update_query().set(User::AGE, 30)).await?;
/// let found: Vec<User> = db.aio().execute_query(User::select().filter(User::AGE.eq(30))).await?;
/// let deleted: u64 = db.sync().execute_query(User::delete_query())?;
/// assert_eq!((stored.len(), changed, found.len(), deleted), (2, 2, 2, 2));
/// # Ok(())
/// # });
/// ```
pub trait Executable: Send {
    /// What `execute` returns.
    type Output: Send + 'static;
    /// The plan `execute` drives: a type of its own, not a boxed one (a
    /// box was an allocation a call and an indirect call a row).
    #[doc(hidden)]
    #[allow(private_bounds)] // `Plan` is the crate's own: sealed
    type Plan: Plan<Output = Self::Output> + 'static;
    #[doc(hidden)]
    fn into_plan(self, d: Dialect) -> Self::Plan;
}

/// A plan an [`Executable`] names, wrapping one of this module's: an
/// associated type of a public trait cannot name a crate-private type, and
/// this one keeps them all in its private field.
macro_rules! named_plan {
    ($(#[$doc:meta])* $name:ident <$($g:ident),*> ($inner:ty) -> $out:ty) => {
        $(#[$doc])*
        #[doc(hidden)]
        pub struct $name<$($g: Model),*>($inner);

        impl<$($g: Model),*> std::fmt::Debug for $name<$($g),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl<$($g: Model),*> Plan for $name<$($g),*> {
            type Output = $out;
            #[inline]
            fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<$out>> {
                self.0.step(reply)
            }
            crate::plan::forward_hooks!(.0);
        }
    };
}

named_plan!(
    /// [`Select`]'s plan: its models.
    SelectPlan<M>(Collect<M, Vec<M>>) -> Vec<M>
);
named_plan!(
    /// [`InsertMany`]'s plan: the rows stored.
    InsertPlan<M>(Atomically<Insert<M, Vec<M>>>) -> Vec<M>
);
named_plan!(
    /// [`UpdateQuery`]'s and [`DeleteQuery`]'s plan: the rows changed.
    ChangePlan<>(One<u64, fn(Reply) -> Result<u64>>) -> u64
);
named_plan!(
    /// [`InsertCounted`](super::InsertCounted)'s plan: the rows inserted.
    CountedInsertPlan<M>(Atomically<Insert<M, u64>>) -> u64
);

impl<M: Model> Executable for Select<M> {
    type Output = Vec<M>;
    type Plan = SelectPlan<M>;
    fn into_plan(self, d: Dialect) -> SelectPlan<M> {
        SelectPlan(select(d, self))
    }
}

/// The rows an `UPDATE` or `DELETE` changed.
fn rows_changed(r: Reply) -> Result<u64> {
    Ok(r.done()?.rows_affected)
}

impl<M: Model> Executable for UpdateQuery<M> {
    type Output = u64;
    type Plan = ChangePlan;
    fn into_plan(self, d: Dialect) -> ChangePlan {
        ChangePlan(One::new(Action::Execute(self.build(d)), rows_changed))
    }
}

impl<M: Model> Executable for DeleteQuery<M> {
    type Output = u64;
    type Plan = ChangePlan;
    fn into_plan(self, d: Dialect) -> ChangePlan {
        ChangePlan(One::new(Action::Execute(self.build(d)), rows_changed))
    }
}

impl<M: Model> Executable for InsertMany<M> {
    type Output = Vec<M>;
    type Plan = InsertPlan<M>;
    fn into_plan(self, d: Dialect) -> InsertPlan<M> {
        InsertPlan(insert(d, self.rows))
    }
}

impl<M: Model> Executable for InsertCounted<M> {
    type Output = u64;
    type Plan = CountedInsertPlan<M>;
    fn into_plan(self, d: Dialect) -> CountedInsertPlan<M> {
        CountedInsertPlan(insert(d, self.rows))
    }
}

/// Gives [`SyncDb`](crate::SyncDb) and [`AsyncDb`](crate::AsyncDb) the same
/// method for each operation: the blocking one drives the plan on a pooled
/// blocking connection (after the `allow_sync` check), the async one on a
/// pooled async connection. The plan is built before the call, so the
/// returned future does not borrow the arguments.
macro_rules! manager_methods {
    ($(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> (&self $(, $arg:ident : $ty:ty)*) -> $out:ty
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        /// The names of the Manager operations every half and transaction
        /// handle has (for tests that must cover each one).
        #[doc(hidden)]
        pub const MANAGER_OPERATIONS: &[&str] = &[$(stringify!($name)),*];
        manager_methods!(@sync crate::SyncDb; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@sync crate::SyncTx<'_>; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@async crate::AsyncDb; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@async crate::AsyncTx<'_>; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out where [$($bounds)*] = |$d| $plan;)*);
    };
    (@sync $target:ty; $(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> ($($arg:ident : $ty:ty),*) -> $out:ty
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        impl $target {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name <$($g),*> (&self $(, $arg: $ty)*) -> Result<$out>
                where $($bounds)*
                {
                    let (scope, $d) = self.context();
                    let plan = $plan;
                    self.drive(stringify!($name), scope, plan)
                }
            )*
        }
    };
    (@async $target:ty; $(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> ($($arg:ident : $ty:ty),*) -> $out:ty
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        impl $target {
            $(
                $(#[$doc])*
                pub fn $name <$($g),*> (&self $(, $arg: $ty)*)
                    -> impl std::future::Future<Output = Result<$out>> + Send + use<'_, $($g),*>
                where $($bounds)*
                {
                    let (scope, $d) = self.context();
                    self.drive(scope, $plan)
                }
            )*
        }
    };
}

manager_methods! {
    /// Runs a statement and returns the number of rows it changed.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute("CREATE TABLE t (x INTEGER)", &[])?;
    /// let n = db.aio().execute("INSERT INTO t VALUES (?), (?)", &[&1, &2]).await?;
    /// assert_eq!(n, 2);
    /// assert_eq!(db.sync().execute("DELETE FROM t", &[])?, 2);
    /// # Ok(())
    /// # });
    /// ```
    fn execute<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> u64
        where [] = |_d| One::new(Action::Execute(Stmt::new(sql, params)), |r| Ok(r.done()?.rows_affected));

    /// Runs a statement and returns all its rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let rows = db.aio().query("SELECT 1 AS n UNION ALL SELECT 2", &[]).await?;
    /// assert_eq!(rows.len(), 2);
    /// assert_eq!(db.sync().query("SELECT ?", &[&"x"])?[0].get::<String>(0)?, "x");
    /// # Ok(())
    /// # });
    /// ```
    fn query<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<Row>
        where [] = |_d| One::new(Action::Query(Stmt::new(sql, params)), Reply::rows);

    /// Runs a statement that must return exactly one row;
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it returns none,
    /// [`ErrorKind::TooManyRows`](crate::ErrorKind::TooManyRows) if more.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let n: i64 = db.aio().query_one("SELECT COUNT(*) FROM user", &[]).await?.get(0)?;
    /// assert_eq!(n, 0);
    /// let err = db.sync().query_one("SELECT 1 UNION ALL SELECT 2", &[]).unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::TooManyRows);
    /// # Ok(())
    /// # });
    /// ```
    fn query_one<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Row
        where [] = |_d| One::new(Action::Query(Stmt::new(sql, params)), |r| exactly_one(r.rows()?));

    /// Runs a statement that returns at most one row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(db.aio().query_opt("SELECT name FROM user", &[]).await?.is_none());
    /// db.sync().create(user("ada"))?;
    /// assert!(db.sync().query_opt("SELECT name FROM user", &[])?.is_some());
    /// # Ok(())
    /// # });
    /// ```
    fn query_opt<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Option<Row>
        where [] = |_d| One::new(Action::Query(Stmt::new(sql, params)), |r| at_most_one(r.rows()?));

    /// `CREATE TABLE IF NOT EXISTS` for the model, with its keys, unique
    /// columns and foreign keys.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create_table::<User>()?; // again: IF NOT EXISTS, no error
    /// db.aio().create_table::<User>().await?;
    /// assert!(db.aio().table_exists::<User>().await?);
    /// # Ok(())
    /// # });
    /// ```
    fn create_table<M>(&self) -> ()
        where [M: Model] = |d| create_table::<M>(d);

    /// `DROP TABLE IF EXISTS` for the model.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().drop_table::<Post>()?;
    /// db.aio().drop_table::<Post>().await?; // IF EXISTS: no error
    /// assert!(!db.sync().table_exists::<Post>()?);
    /// # Ok(())
    /// # });
    /// ```
    fn drop_table<M>(&self) -> ()
        where [M: Model] = |d| drop_table::<M>(d);

    /// Whether the model's table exists.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(db.sync().table_exists::<User>()?);
    /// db.aio().drop_table::<Post>().await?;
    /// assert!(!db.aio().table_exists::<Post>().await?);
    /// # Ok(())
    /// # });
    /// ```
    fn table_exists<M>(&self) -> bool
        where [M: Model] = |d| table_exists::<M>(d);

    /// Deletes every row of the model's table (`TRUNCATE`; `DELETE` on SQLite).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create(user("ada"))?;
    /// db.aio().truncate::<User>().await?;
    /// assert_eq!(db.sync().count(User::select(), false)?, 0);
    /// # Ok(())
    /// # });
    /// ```
    fn truncate<M>(&self) -> ()
        where [M: Model] = |d| truncate::<M>(d);

    /// The first row matching a query or filter (`User::by_id(1)`,
    /// `User::NAME.eq("x")`, `User::select()…`);
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if none.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.aio().get(User::by_id(ada.id)).await?, ada);
    /// assert_eq!(db.sync().get(User::NAME.eq("ada"))?, ada);
    /// let err = db.aio().get(User::NAME.eq("nobody")).await.unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::NotFound);
    /// # Ok(())
    /// # });
    /// ```
    fn get<M, L>(&self, lookup: L) -> M
        where [M: Model, L: Into<Select<M>>] = |d| get(d, lookup.into());

    /// The first row matching a query or filter, or `None`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert_eq!(db.aio().get_or_none(User::NAME.eq("ada")).await?, None);
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.sync().get_or_none(User::NAME.eq("ada"))?, Some(ada));
    /// # Ok(())
    /// # });
    /// ```
    fn get_or_none<M, L>(&self, lookup: L) -> Option<M>
        where [M: Model, L: Into<Select<M>>] = |d| get_or_none(d, lookup.into());

    /// Inserts the model and returns it as stored, with its generated key
    /// (`RETURNING` on PostgreSQL and SQLite, `LAST_INSERT_ID()` on MySQL).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// let bob = db.aio().create(user("bob")).await?;
    /// assert!(ada.id > 0 && bob.id > ada.id); // generated keys filled in
    /// let err = db.sync().create(user("ada")).unwrap_err(); // name is unique
    /// assert_eq!(err.kind(), dualdb::ErrorKind::UniqueViolation);
    /// # Ok(())
    /// # });
    /// ```
    fn create<M>(&self, model: M) -> M
        where [M: Model] = |d| create(d, model);

    /// Updates every column of the model's row (found by primary key);
    /// returns the rows changed.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let mut ada = db.sync().create(user("ada"))?;
    /// ada.age = Some(36);
    /// assert_eq!(db.aio().update(&ada).await?, 1);
    /// assert_eq!(db.sync().get(User::by_id(ada.id))?.age, Some(36));
    /// # Ok(())
    /// # });
    /// ```
    fn update<M>(&self, model: &M) -> u64
        where [M: Model] = |d| update(d, model, None);

    /// Updates only the listed columns: `update_only(&user, &[&User::NAME])`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let mut ada = db.sync().create(user("ada"))?;
    /// ada.age = Some(36);
    /// ada.name = "not saved".into();
    /// db.aio().update_only(&ada, &[&User::AGE]).await?;
    /// let stored = db.sync().get(User::by_id(ada.id))?;
    /// assert_eq!((stored.name.as_str(), stored.age), ("ada", Some(36)));
    /// # Ok(())
    /// # });
    /// ```
    fn update_only<M>(&self, model: &M, columns: &[&dyn ColumnOf<M>]) -> u64
        where [M: Model] = |d| update(d, model, Some(columns));

    /// Deletes the model's row; returns the rows deleted.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.aio().delete(&ada).await?, 1);
    /// assert_eq!(db.sync().delete(&ada)?, 0); // already gone
    /// # Ok(())
    /// # });
    /// ```
    fn delete<M>(&self, model: &M) -> u64
        where [M: Model] = |d| delete(d, model, false, false);

    /// Deletes the model's row and, first, its dependants through every
    /// registered foreign key: dependants with a nullable key get it set to
    /// NULL unless `delete_nullable`, the others are deleted (recursively).
    /// Returns the rows of the model's own table deleted.
    ///
    /// ```rust,standalone_crate
    /// # // standalone: the model registry would see the other examples' models
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// db.sync().create(Post { id: 0, author: ada.id, title: "hello".into() })?;
    /// // the post goes first (its key is not nullable), then the user
    /// assert_eq!(db.aio().delete_recursive(&ada, false).await?, 1);
    /// assert_eq!(db.sync().count(Post::select(), false)?, 0);
    /// # Ok(())
    /// # });
    /// ```
    fn delete_recursive<M>(&self, model: &M, delete_nullable: bool) -> u64
        where [M: Model] = |d| delete(d, model, true, delete_nullable);

    /// The first row matching `lookup`, or, if there is none, `make()`
    /// inserted; `true` if it was created. `make` runs only when creating.
    /// Safe when two callers race on a unique key: the loser gets the
    /// winner's row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let make = || User { id: 0, name: "ada".into(), age: None }; // runs only when creating
    /// let (ada, created) = db.aio().get_or_create(User::NAME.eq("ada"), make).await?;
    /// assert!(created);
    /// let (again, created) = db.sync().get_or_create(User::NAME.eq("ada"), || unreachable!())?;
    /// assert!(!created);
    /// assert_eq!(again, ada);
    /// # Ok(())
    /// # });
    /// ```
    fn get_or_create<M, L, F>(&self, lookup: L, make: F) -> (M, bool)
        where [M: Model, L: Into<Select<M>>, F: FnOnce() -> M + Send + 'static] = |d| GetOrCreate::new(d, lookup.into(), make);

    /// Inserts the model, or, if a unique column already holds one of its
    /// values, returns that row; `true` if it was created.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let (ada, created) = db.sync().create_or_get(user("ada"))?;
    /// assert!(created);
    /// let (same, created) = db.aio().create_or_get(user("ada")).await?; // name is unique
    /// assert!(!created);
    /// assert_eq!(same.id, ada.id);
    /// # Ok(())
    /// # });
    /// ```
    fn create_or_get<M>(&self, model: M) -> (M, bool)
        where [M: Model] = |d| CreateOrGet::new(d, model);

    /// Runs a query: a [`Select`] returns models, an [`UpdateQuery`] or
    /// [`DeleteQuery`] the rows changed, an [`InsertMany`] the stored rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b"), user("c")]))?;
    /// let two = db.aio().execute_query(User::select().order_by(User::NAME.desc()).limit(2)).await?;
    /// assert_eq!(two[0].name, "c");
    /// assert_eq!(db.sync().execute_query(User::delete_query().filter(User::NAME.ne("a")))?, 2);
    /// # Ok(())
    /// # });
    /// ```
    fn execute_query<Q>(&self, query: Q) -> Q::Output
        where [Q: Executable] = |d| query.into_plan(d);

    /// Parents and what is related to them through foreign keys: the parent
    /// query, then one query per sub-query (no N+1). `related` is a
    /// [`Select`] of a model with a foreign key to `P`, a tuple of such, or
    /// nested with [`Select::with`]; see [`prefetch`](super::prefetch).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// db.sync().create(user("bob"))?;
    /// for title in ["one", "two"] {
    ///     db.sync().create(Post { id: 0, author: ada.id, title: title.into() })?;
    /// }
    /// // two queries in all, however many users
    /// let rows = db.aio().prefetch(User::select().order_by(User::NAME.asc()), Post::select()).await?;
    /// assert_eq!(rows[0].1.len(), 2); // ada's posts
    /// assert!(rows[1].1.is_empty()); // bob's
    /// # Ok(())
    /// # });
    /// ```
    fn prefetch<P, R>(&self, parents: Select<P>, related: R) -> Vec<(P, R::Output)>
        where [P: Model, R: Related<P>] = |d| Prefetch::new(d, parents, related);

    /// `SELECT COUNT(*)` of the query, respecting its `LIMIT`/`OFFSET` unless
    /// `clear_limit`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b"), user("c")]))?;
    /// assert_eq!(db.aio().count(User::select().limit(2), false).await?, 2);
    /// assert_eq!(db.sync().count(User::select().limit(2), true)?, 3);
    /// assert_eq!(db.sync().count(User::NAME.eq("b"), false)?, 1);
    /// # Ok(())
    /// # });
    /// ```
    fn count<M, L>(&self, query: L, clear_limit: bool) -> i64
        where [M: Model, L: Into<Select<M>>] = |d| count(d, query.into(), clear_limit);

    /// Whether the query matches any row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(!db.aio().exists(User::NAME.eq("ada")).await?);
    /// db.sync().create(user("ada"))?;
    /// assert!(db.sync().exists(User::NAME.eq("ada"))?);
    /// # Ok(())
    /// # });
    /// ```
    fn exists<M, L>(&self, query: L) -> bool
        where [M: Model, L: Into<Select<M>>] = |d| exists(d, query.into());

    /// The first row of a query on [`Select::fields`], as one value or a
    /// tuple: `scalar::<_, (i64, Option<i32>)>(User::select().fields([…]))`.
    /// A query that returns no row gives `None` for an `Option<T>` (a tuple
    /// of `None`s for a tuple of `Option`s), and a
    /// [`NotFound`](crate::ErrorKind::NotFound) error for any other type.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// use dualdb::model::Field;
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b")]))?;
    /// let n: i64 = db.aio().scalar(User::select().fields([Field::count_all()])).await?;
    /// let (first, last): (String, String) =
    ///     db.sync().scalar(User::select().fields([User::NAME.min(), User::NAME.max()]))?;
    /// assert_eq!((n, first.as_str(), last.as_str()), (2, "a", "b"));
    /// // No row: None for an Option, NotFound otherwise.
    /// let none: Option<String> = db.aio().scalar(User::select().filter(User::NAME.eq("zed")).fields([User::NAME.field()])).await?;
    /// assert_eq!(none, None);
    /// let err = db.sync().scalar::<_, String>(User::select().filter(User::NAME.eq("zed")).fields([User::NAME.field()]));
    /// assert_eq!(err.unwrap_err().kind(), dualdb::ErrorKind::NotFound);
    /// # Ok(())
    /// # });
    /// ```
    fn scalar<M, T>(&self, query: Select<M>) -> T
        where [M: Model, T: FromRow + Send + 'static] = |d| scalar::<M, T>(d, query);

    /// Runs a statement and folds its rows into `init` with `f`, one row at
    /// a time as the server sends them: the rows are never all in memory, so
    /// a million-row export takes no more memory than one row (and the
    /// driver's buffer). An error from `f` stops the statement and is
    /// returned; the connection is left clean.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n";
    /// // 100,000 rows, one in memory at a time
    /// let sum = db.aio().fold_rows(sql, &[], 0i64, |sum, row| Ok(sum + row.get::<i64>(0)?)).await?;
    /// assert_eq!(sum, 5_000_050_000);
    /// let (n, last) = db.sync().fold_rows(sql, &[], (0, 0i64), |(n, _), row| Ok((n + 1, row.get(0)?)))?;
    /// assert_eq!((n, last), (100_000, 100_000));
    /// // An error from the closure stops the statement:
    /// let err = db.sync().fold_rows(sql, &[], (), |_, _| Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "enough")));
    /// assert_eq!(err.unwrap_err().message(), "enough");
    /// # Ok(())
    /// # });
    /// ```
    fn fold_rows<A, F>(&self, sql: &str, params: &[&(dyn ToSql + Sync)], init: A, f: F) -> A
        where [A: Send + 'static, F: FnMut(A, Row) -> Result<A> + Send + 'static] = |_d| fold_rows(sql, params, init, f);

    /// [`fold_rows`](Self::fold_rows) over a model query: each row decoded
    /// into `M` as it arrives (on the read replica, if there is one).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![
    ///     User { id: 0, name: "ada".into(), age: Some(36) },
    ///     User { id: 0, name: "bob".into(), age: None },
    /// ]))?;
    /// let names = db.aio().fold(User::select().order_by(User::NAME.asc()), String::new(), |mut s, u: User| {
    ///     s.push_str(&u.name);
    ///     Ok(s)
    /// }).await?;
    /// assert_eq!(names, "adabob");
    /// let ages: i32 = db.sync().fold(User::select(), 0, |sum, u: User| Ok(sum + u.age.unwrap_or(0)))?;
    /// assert_eq!(ages, 36);
    /// # Ok(())
    /// # });
    /// ```
    fn fold<M, A, F>(&self, query: Select<M>, init: A, f: F) -> A
        where [M: Model, A: Send + 'static, F: FnMut(A, M) -> Result<A> + Send + 'static] = |d| fold(d, query, init, f);

    /// Raw SQL, each row mapped to a model by column name, or to a tuple of
    /// models side by side for a join (see [`ModelRow`](crate::ModelRow)).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create(user("ada"))?;
    /// let found: Vec<User> = db.aio().raw("SELECT * FROM user WHERE name LIKE ?", &[&"a%"]).await?;
    /// assert_eq!(found[0].name, "ada");
    /// let none: Vec<User> = db.sync().raw("SELECT * FROM user WHERE age > ?", &[&100])?;
    /// assert!(none.is_empty());
    /// let joined: Vec<(User, Option<Post>)> = db
    ///     .aio()
    ///     .raw("SELECT user.*, post.* FROM user LEFT JOIN post ON post.author = user.id", &[])
    ///     .await?;
    /// assert!(joined[0].1.is_none()); // ada has no posts
    /// # Ok(())
    /// # });
    /// ```
    fn raw<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<T>
        where [T: ModelRow] = |_d| raw::<T>(sql, params);
}
