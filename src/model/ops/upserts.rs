//! The upsert's plan: its statements in turn (all or nothing, in
//! [`Atomically`](crate::plan::Atomically)), the rows they return or
//! MySQL's read-back, and the counts each backend can tell.

use crate::error::Result;
use crate::model::upsert::{UpsertStatements, Upserted};
use crate::model::{Model, models};
use crate::plan::{Action, Plan, Reply, Step};

pub(super) struct UpsertPlan<M> {
    statements: UpsertStatements<M>,
    rows: Vec<M>,
    inserted: u64,
    updated: u64,
    affected: u64,
    rereading: bool,
}

impl<M: Model> UpsertPlan<M> {
    pub(super) fn new(statements: UpsertStatements<M>) -> Self {
        UpsertPlan {
            statements,
            rows: Vec::new(),
            inserted: 0,
            updated: 0,
            affected: 0,
            rereading: false,
        }
    }

    /// How many statements it sends.
    pub(super) fn len(&self) -> usize {
        self.statements.statements.len() + usize::from(self.statements.reread.is_some())
    }

    fn done(&mut self) -> Upserted<M> {
        let s = &self.statements;
        let (inserted, updated) = match (s.flagged, s.ignore, s.returning) {
            (true, ..) => (Some(self.inserted), Some(self.updated)),
            (false, true, true) => (Some(self.rows.len() as u64), Some(0)),
            (false, true, false) => (Some(self.affected), Some(0)),
            (false, false, _) => (None, None),
        };
        Upserted {
            rows: std::mem::take(&mut self.rows),
            inserted,
            updated,
        }
    }
}

impl<M: Model> Plan for UpsertPlan<M> {
    type Output = Upserted<M>;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Upserted<M>>> {
        match reply.transpose()? {
            None => {}
            Some(Reply::Rows(rows)) if self.rereading => self.rows = models::<M>(rows)?,
            Some(Reply::Rows(rows)) => {
                if self.statements.flagged {
                    let flag = M::META.columns.len();
                    for row in &rows {
                        if row.get::<bool>(flag)? {
                            self.inserted += 1;
                        } else {
                            self.updated += 1;
                        }
                    }
                }
                let stored = models::<M>(rows)?;
                self.rows.extend(stored);
            }
            Some(Reply::Done(done)) => self.affected += done.rows_affected,
        }
        if let Some(stmt) = self.statements.statements.pop_front() {
            return Ok(Step::Run(if self.statements.returning {
                Action::Query(stmt)
            } else {
                Action::Execute(stmt)
            }));
        }
        if let Some(stmt) = self.statements.reread.take() {
            self.rereading = true;
            return Ok(Step::Run(Action::Query(stmt)));
        }
        Ok(Step::Done(self.done()))
    }
}
