//! The schema calls: `create_table`, `drop_table`, `truncate`,
//! `table_exists`.

use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::model::schema;
use crate::model::sql::Dialect;
use crate::model::{Model, ModelMeta};
use crate::plan::{Action, One, Plan, Reply, Step, either, replayed};
use crate::statement::Stmt;

pub(super) fn create_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    either(schema::create_table(d, M::META).map(|s| CreateTable::new(d, M::META, s)))
}

/// `CREATE TABLE IF NOT EXISTS`. PostgreSQL checks for the table before it
/// takes the catalog's locks, so two sessions creating it at once can both
/// pass the check, and the second then fails (`relation already exists`,
/// `type already exists`, or a unique violation in `pg_type`): such an
/// error is followed by a look for the table, and if it is there, as the
/// other session made it, the call succeeds, as `IF NOT EXISTS` promises
/// (tests/models.rs, `tables_created_at_once_are_created_once`). Inside a
/// transaction the statement runs in a savepoint, so that the failure does
/// not abort the transaction.
struct CreateTable {
    d: Dialect,
    meta: &'static ModelMeta,
    create: Option<Stmt>,
    state: Creating,
}

enum Creating {
    Start,
    /// The savepoint was opened (PostgreSQL, in a transaction).
    Opened,
    /// The `CREATE` was sent.
    Sent,
    /// The `CREATE` failed in the savepoint: the rollback to it was sent.
    RolledBack(Error),
    /// The look for the table was sent.
    Looked(Error),
    /// The savepoint is being released.
    Releasing,
}

const SAVEPOINT: &str = "dualdb_create";

impl CreateTable {
    fn new(d: Dialect, meta: &'static ModelMeta, create: Stmt) -> Self {
        CreateTable {
            d,
            meta,
            create: Some(create),
            state: Creating::Start,
        }
    }

    fn guarded(&self) -> bool {
        self.d.kind == BackendKind::Postgres && self.d.in_tx
    }

    fn send(&mut self) -> Result<Step<()>> {
        self.state = Creating::Sent;
        Ok(Step::Run(Action::Execute(
            self.create.take().ok_or_else(replayed)?,
        )))
    }

    fn look(&mut self, race: Error) -> Step<()> {
        self.state = Creating::Looked(race);
        Step::Run(Action::Query(schema::table_exists(self.d, self.meta)))
    }
}

/// A PostgreSQL error that a concurrent creation of the same table gives.
fn lost_race(d: Dialect, e: &Error) -> bool {
    d.kind == BackendKind::Postgres && matches!(e.code(), Some("42P07" | "42710" | "23505"))
}

fn savepoint(verb: &str) -> Action {
    Action::Execute(Stmt::bare(format!("{verb} {SAVEPOINT}")))
}

impl Plan for CreateTable {
    type Output = ();
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<()>> {
        match std::mem::replace(&mut self.state, Creating::Start) {
            Creating::Start if self.guarded() => {
                self.state = Creating::Opened;
                Ok(Step::Run(savepoint("SAVEPOINT")))
            }
            Creating::Start => self.send(),
            Creating::Opened => {
                reply.ok_or_else(replayed)??;
                self.send()
            }
            Creating::Sent => match reply.ok_or_else(replayed)? {
                Ok(_) if self.guarded() => {
                    self.state = Creating::Releasing;
                    Ok(Step::Run(savepoint("RELEASE SAVEPOINT")))
                }
                Ok(_) => Ok(Step::Done(())),
                Err(e) if self.guarded() => {
                    self.state = Creating::RolledBack(e);
                    Ok(Step::Run(savepoint("ROLLBACK TO SAVEPOINT")))
                }
                Err(e) if lost_race(self.d, &e) => Ok(self.look(e)),
                Err(e) => Err(e),
            },
            Creating::RolledBack(e) => {
                reply.ok_or_else(replayed)??;
                match lost_race(self.d, &e) {
                    true => Ok(self.look(e)),
                    false => Err(e),
                }
            }
            Creating::Looked(race) => {
                let found = !reply.ok_or_else(replayed)??.rows()?.is_empty();
                if found { Ok(Step::Done(())) } else { Err(race) }
            }
            Creating::Releasing => {
                reply.ok_or_else(replayed)??;
                Ok(Step::Done(()))
            }
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
