//! Reading models out of a statement's rows: kept in a vector, or only the
//! first ([`Found`] for `get`, which must find one).

use crate::backend::InPlaceRow;
use crate::error::{Error, ErrorKind, Result};
use crate::model::query::Select;
use crate::model::sql::Dialect;
use crate::model::{Decoder, Model, ModelRow, models};
use crate::plan::{Action, Plan, Reply, Step, replayed, slotted};
use crate::row::Row;
use crate::statement::Stmt;

pub(super) fn not_found<M: Model>() -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("no {} matches the query", M::META.name),
    )
}

/// The first row of a reply as a model.
pub(super) fn first<M: Model>(reply: Reply) -> Result<Option<M>> {
    let mut rows = reply.rows()?;
    rows.truncate(1);
    Ok(models::<M>(rows)?.pop())
}

/// Where a [`Collect`] keeps its models: every one (`Vec`), or only the
/// first (`Option`, and [`Found`] where there must be one: `get` and
/// `get_or_none` allocate no vector for it).
pub(super) trait Kept<M>: Default + Send {
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

/// The first model, which must be there: no row is `get`'s
/// [`NotFound`](ErrorKind::NotFound), raised where the rows are kept, so
/// that `get` needs no second plan to map an `Option` to its error.
pub(super) struct Found<M>(Option<M>);

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
pub(super) struct Collect<M: ModelRow, K = Vec<M>> {
    pub(super) stmt: Option<Stmt>,
    pub(super) decoder: Decoder<M>,
    pub(super) out: K,
    /// False for raw SQL, which may write.
    pub(super) read_only: bool,
    /// The query's error, found before it runs (a join that cannot be
    /// made): the plan fails with it before any I/O. A field, not an
    /// `Either` around the plan, which would dispatch each of its rows.
    pub(super) failed: Option<Error>,
}

impl<M: ModelRow, K: Kept<M>> Collect<M, K> {
    pub(super) fn new(stmt: Stmt) -> Self {
        Collect {
            stmt: Some(stmt),
            decoder: Decoder::new(),
            out: K::default(),
            read_only: true,
            failed: None,
        }
    }

    /// A plan that fails with `error` before any I/O.
    pub(super) fn failing(error: Error) -> Self {
        Collect {
            stmt: None,
            decoder: Decoder::new(),
            out: K::default(),
            read_only: true,
            failed: Some(error),
        }
    }
}

impl<M: Model, K: Kept<M>> Collect<M, K> {
    /// The models of a query: where it names no fields of its own, its
    /// columns are the model's, in the model's order, so the decoder need
    /// not look for them, nor the rows carry their names.
    /// A locking read is not read-only: it never goes to a replica. A query
    /// naming a model it does not read from (or a join that cannot be made)
    /// is its [`Usage`](ErrorKind::Usage) error, before any I/O.
    pub(super) fn select(d: Dialect, q: Select<M>) -> Self {
        if let Err(e) = q.check(&[]) {
            return Collect::failing(e);
        }
        let out = K::for_limit(q.row_limit());
        let read_only = !q.locks();
        if q.selects_model_columns() {
            Collect {
                decoder: Decoder::in_model_order(),
                out,
                read_only,
                ..Collect::new(q.into_stmt(d).by_position())
            }
        } else {
            Collect {
                out,
                read_only,
                ..Collect::new(q.into_stmt(d))
            }
        }
    }
}

impl<M: ModelRow, K: Kept<M>> Plan for Collect<M, K> {
    type Output = K::Out;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<K::Out>> {
        match reply {
            None => match self.stmt.take() {
                Some(stmt) => Ok(Step::Run(Action::Rows(stmt))),
                None => Err(self.failed.take().unwrap_or_else(replayed)),
            },
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
    fn failed(&mut self) -> Option<Error> {
        self.failed.take()
    }
}
