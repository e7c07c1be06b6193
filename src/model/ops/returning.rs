//! The plan of an update or delete returning its rows: one statement with
//! `RETURNING` (PostgreSQL, SQLite), or on MySQL a locking read of the
//! rows, the change by their keys and (for an update) a second locking read, inside
//! [`Atomically`](crate::plan::Atomically).

use sea_query::{Cond, Condition, Expr, Query};

use crate::config::BackendKind;
use crate::error::Result;
use crate::model::query::row_lock;
use crate::model::returning::Change;
use crate::model::sql::Dialect;
use crate::model::{Model, key, models};
use crate::plan::{Action, Plan, Reply, Step, replayed};
use crate::value::Value;

pub(super) struct ReturningPlan<M> {
    d: Dialect,
    change: Option<Change>,
    filter: Option<Condition>,
    state: State<M>,
}

enum State<M> {
    Start,
    /// The one statement with `RETURNING` was sent.
    Returned,
    /// MySQL: the locking read was sent.
    Read,
    /// MySQL: the change by the keys read was sent.
    Changed {
        read: Vec<M>,
        keys: Vec<Value>,
        update: bool,
    },
    /// MySQL: an update's rows are being read again.
    Reread,
}

impl<M: Model> ReturningPlan<M> {
    pub(super) fn new(d: Dialect, change: Change, filter: Option<Condition>) -> Self {
        ReturningPlan {
            d,
            change: Some(change),
            filter,
            state: State::Start,
        }
    }

    /// How many statements it may send (for [`Atomically`](crate::plan::Atomically)).
    pub(super) fn statements(&self) -> usize {
        if self.d.kind == BackendKind::Mysql {
            3
        } else {
            1
        }
    }

    fn columns() -> impl Iterator<Item = Expr> {
        M::META
            .columns
            .iter()
            .map(|c| Expr::col((M::META.table, c.name)))
    }

    /// The rows of `keys` (each key's values in key order, one key after
    /// the other).
    fn by_keys(keys: &[Value]) -> Condition {
        let columns: Vec<&str> = M::META.key_columns().map(|c| c.name).collect();
        Cond::all().add(key::is_in(M::META.table, &columns, keys.to_vec()))
    }

    /// The statement with `RETURNING` every column.
    fn returning(&mut self) -> Result<Action> {
        let back = Query::returning().exprs(Self::columns());
        let stmt = match self.change.take().ok_or_else(replayed)? {
            Change::Update(mut q) => {
                if let Some(c) = self.filter.take() {
                    q.cond_where(c);
                }
                q.returning(back);
                self.d.query(&*q)
            }
            Change::Delete => {
                let mut q = Query::delete();
                q.from_table(M::META.table);
                if let Some(c) = self.filter.take() {
                    q.cond_where(c);
                }
                q.returning(back);
                self.d.query(&q)
            }
        };
        Ok(Action::Query(stmt))
    }

    /// MySQL: the rows the filter matches, locked.
    fn locking_read(&mut self) -> Action {
        let mut q = Query::select();
        q.from(M::META.table);
        q.exprs(Self::columns());
        if let Some(c) = self.filter.take() {
            q.cond_where(c);
        }
        let mut stmt = self.d.query(&q);
        stmt.sql.push_str(row_lock(self.d.kind, true));
        Action::Query(stmt)
    }

    /// MySQL: the change, by the keys read.
    fn change_by_keys(&mut self, keys: &[Value]) -> Result<Action> {
        let stmt = match self.change.take().ok_or_else(replayed)? {
            Change::Update(mut q) => {
                q.cond_where(Self::by_keys(keys));
                self.d.query(&*q)
            }
            Change::Delete => {
                let mut q = Query::delete();
                q.from_table(M::META.table).cond_where(Self::by_keys(keys));
                self.d.query(&q)
            }
        };
        Ok(Action::Execute(stmt))
    }
}

impl<M: Model> Plan for ReturningPlan<M> {
    type Output = Vec<M>;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Vec<M>>> {
        let rows = |reply: Option<Result<Reply>>| -> Result<Vec<M>> {
            models::<M>(reply.ok_or_else(replayed)??.rows()?)
        };
        match std::mem::replace(&mut self.state, State::Reread) {
            State::Start if self.d.kind == BackendKind::Mysql => {
                self.state = State::Read;
                Ok(Step::Run(self.locking_read()))
            }
            State::Start => {
                self.state = State::Returned;
                Ok(Step::Run(self.returning()?))
            }
            State::Returned | State::Reread => Ok(Step::Done(rows(reply)?)),
            State::Read => {
                let read = rows(reply)?;
                if read.is_empty() {
                    return Ok(Step::Done(read));
                }
                let mut keys = Vec::with_capacity(read.len() * M::META.key.len());
                read.iter().for_each(|m| key::push(m, &mut keys));
                let update = matches!(self.change, Some(Change::Update(_)));
                let action = self.change_by_keys(&keys)?;
                self.state = State::Changed { read, keys, update };
                Ok(Step::Run(action))
            }
            State::Changed { read, keys, update } => {
                reply.ok_or_else(replayed)??;
                if !update {
                    return Ok(Step::Done(read));
                }
                // Locking too (the rows are locked already): a plain read
                // would use the transaction's snapshot, which still shows a
                // row another transaction changed after it began if the
                // update left it as it was (tests/returning.rs,
                // `an_update_in_a_transaction_returns_a_row_changed_after_its_snapshot`).
                let mut q = Query::select();
                q.from(M::META.table);
                q.exprs(Self::columns());
                q.cond_where(Self::by_keys(&keys));
                let mut stmt = self.d.query(&q);
                stmt.sql.push_str(row_lock(self.d.kind, true));
                Ok(Step::Run(Action::Query(stmt)))
            }
        }
    }
}
