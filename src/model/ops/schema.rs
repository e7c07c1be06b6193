//! The schema calls: `create_table`, `drop_table`, `truncate`,
//! `table_exists`.

use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::model::schema;
use crate::model::sql::Dialect;
use crate::model::{Model, ModelMeta};
use crate::plan::{Action, Atomically, One, Plan, Reply, Step, either, replayed};

pub(super) fn create_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    let create = schema::create_table(d, M::META).map(|s| {
        // PostgreSQL only: a MySQL `CREATE TABLE` commits the transaction.
        let guarded = d.kind == BackendKind::Postgres && d.in_tx;
        let create = One::new(Action::Execute(s), |_: Reply| Ok(()));
        CreateTable {
            d,
            meta: M::META,
            create: Atomically::guarded(d.kind, guarded, create),
            race: None,
        }
    });
    either(create)
}

/// `CREATE TABLE IF NOT EXISTS`. PostgreSQL checks for the table before it
/// takes the catalog's locks, so two sessions creating it at once can both
/// pass the check, and the second then fails (`relation already exists`,
/// `type already exists`, or a unique violation in `pg_type`): such an
/// error is followed by a look for the table, and if it is there, as the
/// other session made it, the call succeeds, as `IF NOT EXISTS` promises
/// (tests/models.rs, `tables_created_at_once_are_created_once`). Inside a
/// transaction the statement runs in a savepoint ([`Atomically::guarded`]),
/// so that the failure does not abort the transaction.
struct CreateTable<P> {
    d: Dialect,
    meta: &'static ModelMeta,
    create: P,
    /// A lost race's error, while the look for the table runs.
    race: Option<Error>,
}

/// A PostgreSQL error that a concurrent creation of the same table gives.
fn lost_race(d: Dialect, e: &Error) -> bool {
    d.kind == BackendKind::Postgres && matches!(e.code(), Some("42P07" | "42710" | "23505"))
}

impl<P: Plan<Output = ()>> Plan for CreateTable<P> {
    type Output = ();
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<()>> {
        if let Some(race) = self.race.take() {
            let found = !reply.ok_or_else(replayed)??.rows()?.is_empty();
            return if found { Ok(Step::Done(())) } else { Err(race) };
        }
        match self.create.step(reply) {
            Err(e) if lost_race(self.d, &e) => {
                self.race = Some(e);
                let look = schema::table_exists(self.d, self.meta);
                Ok(Step::Run(Action::Query(look)))
            }
            step => step,
        }
    }
}

pub(super) fn drop_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::drop_table(d, M::META)), |_| Ok(()))
}

pub(super) fn truncate<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::truncate(d, M::META)), |_| Ok(()))
}

pub(super) fn table_exists<M: Model>(d: Dialect) -> impl Plan<Output = bool> {
    One::new(Action::Query(schema::table_exists(d, M::META)), |r| {
        Ok(!r.rows()?.is_empty())
    })
}
