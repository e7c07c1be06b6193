//! [`Executable`]: the queries `execute_query` runs, each with a plan type
//! of its own.

use super::collect::Collect;
use super::reads::{QueryAs, rows_as, select};
use super::returning::ReturningPlan;
use super::upserts::UpsertPlan;
use super::writes::{Insert, insert};
use crate::error::Result;
use crate::model::links::{AddLinks, RemoveLinks};
use crate::model::query::{DeleteQuery, InsertCounted, InsertMany, Select, UpdateQuery};
use crate::model::returning::{Change, Returning};
use crate::model::sql::Dialect;
use crate::model::tuples::{SelectFields, SelectModels};
use crate::model::upsert::{Upsert, Upserted};
use crate::model::{BulkUpdate, InsertFrom};
use crate::model::{Model, ModelRow};
use crate::plan::{Action, Atomically, Either, One, Plan, ReadOnly, Reply, Step, Summed, either};
use crate::row::FromRow;
use crate::statement::Stmt;

/// A query `execute` can run: [`Select`] (returns models), [`UpdateQuery`]
/// and [`DeleteQuery`] (return counts), [`InsertMany`] (returns the stored
/// rows with their keys), [`InsertCounted`](crate::model::InsertCounted) (returns
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
    ($(#[$doc:meta])* $name:ident <$($g:ident: $bound:path),*> ($inner:ty) -> $out:ty) => {
        $(#[$doc])*
        #[doc(hidden)]
        pub struct $name<$($g: $bound),*>($inner);

        impl<$($g: $bound),*> std::fmt::Debug for $name<$($g),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl<$($g: $bound),*> Plan for $name<$($g),*> {
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
    SelectPlan<M: Model>(Collect<M, Vec<M>>) -> Vec<M>
);
named_plan!(
    /// [`InsertMany`]'s plan: the rows stored.
    InsertPlan<M: Model>(Atomically<Insert<M, Vec<M>>>) -> Vec<M>
);
named_plan!(
    /// [`UpdateQuery`]'s and [`DeleteQuery`]'s plan: the rows changed.
    ChangePlan<>(Either<One<u64, fn(Reply) -> Result<u64>>>) -> u64
);
named_plan!(
    /// [`InsertCounted`](crate::model::InsertCounted)'s plan: the rows inserted.
    CountedInsertPlan<M: Model>(Atomically<Insert<M, u64>>) -> u64
);

named_plan!(
    /// [`SelectModels`]'s plan: its rows as tuples of models.
    ModelsPlan<T: ModelRow>(Collect<T, Vec<T>>) -> Vec<T>
);

impl<M: Model, T: ModelRow> Executable for SelectModels<M, T> {
    type Output = Vec<T>;
    type Plan = ModelsPlan<T>;
    fn into_plan(self, d: Dialect) -> ModelsPlan<T> {
        let read_only = !self.locks();
        ModelsPlan(match self.build(d) {
            Ok(stmt) => Collect {
                read_only,
                ..Collect::new(stmt)
            },
            Err(e) => Collect::failing(e),
        })
    }
}

/// [`SelectFields`]'s plan: its rows as values, each decoded as it is
/// read, as `query_as` decodes (benches/paired `window`). Written out, not
/// by `named_plan!`, for its two bounds.
#[doc(hidden)]
pub struct FieldsPlan<R: FromRow + Send>(Either<ReadOnly<QueryAs<R>>>);

impl<R: FromRow + Send> std::fmt::Debug for FieldsPlan<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldsPlan")
    }
}

impl<R: FromRow + Send> Plan for FieldsPlan<R> {
    type Output = Vec<R>;
    #[inline]
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Vec<R>>> {
        self.0.step(reply)
    }
    crate::plan::forward_hooks!(.0);
}

impl<M: Model, R: FromRow + Send + 'static> Executable for SelectFields<M, R> {
    type Output = Vec<R>;
    type Plan = FieldsPlan<R>;
    fn into_plan(self, d: Dialect) -> FieldsPlan<R> {
        let locks = self.locks();
        FieldsPlan(either(
            self.build(d)
                .map(|stmt| ReadOnly::unless(locks, rows_as(stmt))),
        ))
    }
}

named_plan!(
    /// [`Upsert`]'s plan: what it stored.
    UpsertPlanOf<M: Model>(Either<Atomically<UpsertPlan<M>>>) -> Upserted<M>
);

impl<M: Model> Executable for Upsert<M> {
    type Output = Upserted<M>;
    type Plan = UpsertPlanOf<M>;
    fn into_plan(self, d: Dialect) -> UpsertPlanOf<M> {
        UpsertPlanOf(either(self.build(d).map(|built| {
            let plan = UpsertPlan::new(built);
            let statements = plan.len();
            Atomically::new(d.kind, d.in_tx, plan, statements)
        })))
    }
}

named_plan!(
    /// [`Returning`]'s plan: the rows changed.
    ReturningPlanOf<M: Model>(Either<Atomically<ReturningPlan<M>>>) -> Vec<M>
);

/// The plan of an update or delete returning its rows, from its parts.
fn returning<M: Model>(
    d: Dialect,
    parts: Result<(Change, Option<sea_query::Condition>)>,
) -> ReturningPlanOf<M> {
    ReturningPlanOf(either(parts.map(|(change, filter)| {
        let plan = ReturningPlan::new(d, change, filter);
        let statements = plan.statements();
        Atomically::new(d.kind, d.in_tx, plan, statements)
    })))
}

impl<M: Model> Executable for Returning<UpdateQuery<M>> {
    type Output = Vec<M>;
    type Plan = ReturningPlanOf<M>;
    fn into_plan(self, d: Dialect) -> ReturningPlanOf<M> {
        returning(d, self.parts())
    }
}

impl<M: Model> Executable for Returning<DeleteQuery<M>> {
    type Output = Vec<M>;
    type Plan = ReturningPlanOf<M>;
    fn into_plan(self, d: Dialect) -> ReturningPlanOf<M> {
        returning(d, self.parts())
    }
}

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
        ChangePlan(either(self.build(d).map(|stmt| {
            One::new(Action::Execute(stmt), rows_changed as fn(_) -> _)
        })))
    }
}

impl<M: Model, X: Model> Executable for InsertFrom<M, X> {
    type Output = u64;
    type Plan = ChangePlan;
    fn into_plan(self, d: Dialect) -> ChangePlan {
        ChangePlan(either(self.build(d).map(|stmt| {
            One::new(Action::Execute(stmt), rows_changed as fn(_) -> _)
        })))
    }
}

impl<M: Model> Executable for DeleteQuery<M> {
    type Output = u64;
    type Plan = ChangePlan;
    fn into_plan(self, d: Dialect) -> ChangePlan {
        ChangePlan(either(self.build(d).map(|stmt| {
            One::new(Action::Execute(stmt), rows_changed as fn(_) -> _)
        })))
    }
}

/// The plan of a write split into statements ([`AddLinks`],
/// [`RemoveLinks`], [`BulkUpdate`]): the rows they wrote, summed (none, and
/// no statement, for none given).
#[doc(hidden)]
pub struct SummedPlan(Either<Atomically<Summed>>);

impl std::fmt::Debug for SummedPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SummedPlan")
    }
}

impl Plan for SummedPlan {
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        self.0.step(reply)
    }
    // Several statements run in a transaction of their own: a connection
    // lent to it alone (`exclusive`).
    crate::plan::forward_hooks!(.0);
}

impl<L: Model> Executable for AddLinks<L> {
    type Output = u64;
    type Plan = SummedPlan;
    fn into_plan(self, d: Dialect) -> SummedPlan {
        summed_plan(d, self.build(d))
    }
}

impl<L: Model> Executable for RemoveLinks<L> {
    type Output = u64;
    type Plan = SummedPlan;
    fn into_plan(self, d: Dialect) -> SummedPlan {
        summed_plan(d, self.build(d))
    }
}

impl<M: Model> Executable for BulkUpdate<M> {
    type Output = u64;
    type Plan = SummedPlan;
    fn into_plan(self, d: Dialect) -> SummedPlan {
        summed_plan(d, self.build(d))
    }
}

/// `stmts` run all or nothing, their counts summed.
fn summed_plan(d: Dialect, stmts: Result<Vec<Stmt>>) -> SummedPlan {
    SummedPlan(either(stmts.map(|stmts| {
        let n = stmts.len();
        Atomically::new(d.kind, d.in_tx, Summed::new(stmts), n)
    })))
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
