//! `get_or_create` and `create_or_get`: an insert that may lose a race to
//! another caller's, and the look-up of the winner's row.

use super::collect::first;
use super::writes::Insert;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Model;
use crate::model::query::Select;
use crate::model::sql::{Dialect, to_sea};
use crate::plan::{Action, Atomically, Map, Plan, Reply, Step, replayed};

/// The insert of one row, which inside a transaction runs in a savepoint
/// ([`Atomically::guarded`]): a failed statement would otherwise abort the
/// whole transaction on PostgreSQL. A failure is rolled back to the
/// savepoint and then returned.
type GuardedInsert<M> = Map<Atomically<Insert<M, Vec<M>>>, fn(Vec<M>) -> Result<M>>;

fn guarded_insert<M: Model>(d: Dialect, model: M) -> GuardedInsert<M> {
    let one: fn(Vec<M>) -> Result<M> = |mut rows| rows.pop().ok_or_else(replayed);
    Map(
        Atomically::guarded(d.kind, d.in_tx, Insert::new(d, vec![model])),
        one,
    )
}

/// get_or_create: select; if absent, insert; if the insert hits a unique
/// violation (another task won the race), select again, as a locking read
/// inside a transaction ([`Select::build_locking`]).
pub(super) struct GetOrCreate<M: Model, F> {
    d: Dialect,
    lookup: Select<M>,
    make: Option<F>,
    state: GocState<M>,
}

enum GocState<M: Model> {
    Start,
    Selected,
    Inserting(GuardedInsert<M>),
    Reselected(Error),
}

impl<M: Model, F: FnOnce() -> M + Send> GetOrCreate<M, F> {
    pub(super) fn new(d: Dialect, lookup: Select<M>, make: F) -> Self {
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
                self.inserting(guarded_insert(self.d, make()), None)
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
pub(super) struct CreateOrGet<M: Model> {
    d: Dialect,
    lookup: Option<Select<M>>,
    insert: GuardedInsert<M>,
    conflict: Option<Error>,
}

impl<M: Model> CreateOrGet<M> {
    pub(super) fn new(d: Dialect, model: M) -> Self {
        use sea_query::{Cond, Expr, ExprTrait};
        let eq =
            |i: usize| Expr::col(M::META.columns[i].name).eq(Expr::val(to_sea(model.value(i))));
        let mut any = Cond::any();
        // A given key (every column of a composite one) or any unique column.
        let given_key = !M::META.auto_key();
        if given_key {
            any = any.add(
                M::META
                    .key
                    .iter()
                    .fold(Cond::all(), |all, &i| all.add(eq(i))),
            );
        }
        for (i, c) in M::META.columns.iter().enumerate() {
            if c.unique && !(given_key && M::META.key == [i]) {
                any = any.add(eq(i));
            }
        }
        let lookup = (!any.is_empty()).then(|| {
            Select::new()
                .filter(crate::model::Filter::<M>::new(any))
                .first()
        });
        CreateOrGet {
            d,
            lookup,
            insert: guarded_insert(d, model),
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
