//! Plans made of plans: a plan of one statement ([`One`]), all-or-nothing
//! ([`Atomically`]), reads only ([`ReadOnly`]), a mapped output ([`Map`]), and a plan that failed to
//! build ([`Failed`], [`Either`]).

use std::marker::PhantomData;

use super::step::{Action, Plan, Reply, Step, forward_hooks, forward_rows, replayed};
use crate::backend::InPlaceRow;
use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::row::Row;
use crate::statement::Stmt;
use crate::transaction::TxOp;

/// A one-statement plan: run `action`, then `finish` its reply.
pub(crate) struct One<T, F> {
    action: Option<Action>,
    finish: Option<F>,
    _out: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> One<T, F>
where
    F: FnOnce(Reply) -> Result<T> + Send,
{
    pub(crate) fn new(action: Action, finish: F) -> Self {
        One {
            action: Some(action),
            finish: Some(finish),
            _out: std::marker::PhantomData,
        }
    }
}

impl<T: Send, F> Plan for One<T, F>
where
    F: FnOnce(Reply) -> Result<T> + Send,
{
    type Output = T;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<T>> {
        match reply {
            None => Ok(Step::Run(self.action.take().ok_or_else(replayed)?)),
            Some(r) => {
                let finish = self.finish.take().ok_or_else(replayed)?;
                finish(r?).map(Step::Done)
            }
        }
    }
}

/// The plan of no statements, for running only transaction statements.
pub(crate) struct NoPlan;

impl Plan for NoPlan {
    type Output = ();
    fn step(&mut self, _: Option<Result<Reply>>) -> Result<Step<()>> {
        Ok(Step::Done(()))
    }
}

/// A plan that only reads (a read replica may serve it), unless it takes
/// row locks (`FOR UPDATE`), which only the primary can hold
/// (tests/replication.rs `locking_reads_go_to_the_primary`).
pub(crate) struct ReadOnly<P> {
    plan: P,
    locks: bool,
}

impl<P> ReadOnly<P> {
    pub(crate) fn new(plan: P) -> Self {
        ReadOnly { plan, locks: false }
    }

    /// `plan`, read-only unless it `locks`.
    pub(crate) fn unless(locks: bool, plan: P) -> Self {
        ReadOnly { plan, locks }
    }
}

impl<P: Plan> Plan for ReadOnly<P> {
    type Output = P::Output;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<P::Output>> {
        self.plan.step(reply)
    }
    fn read_only(&self) -> bool {
        !self.locks
    }
    forward_rows!(.plan);
    fn exclusive(&self) -> bool {
        self.plan.exclusive()
    }
    fn left_open(&self) -> bool {
        self.plan.left_open()
    }
}

/// Runs statements in order and returns the rows they changed, summed (a
/// write split into statements under the backend's limit on bound values).
pub(crate) struct Summed {
    stmts: std::vec::IntoIter<Stmt>,
    total: u64,
}

impl Summed {
    pub(crate) fn new(stmts: Vec<Stmt>) -> Self {
        Summed {
            stmts: stmts.into_iter(),
            total: 0,
        }
    }
}

impl Plan for Summed {
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        if let Some(r) = reply {
            self.total += r?.done()?.rows_affected;
        }
        Ok(match self.stmts.next() {
            Some(s) => Step::Run(Action::Execute(s)),
            None => Step::Done(self.total),
        })
    }
}

/// Runs a plan of several statements all-or-nothing: outside a transaction
/// in one of its own (`BEGIN` … `COMMIT`, on a connection lent to it alone:
/// [`Plan::exclusive`]), inside one in a savepoint; on an error, rolled
/// back and the error returned. A plan of one statement runs as it is.
pub(crate) struct Atomically<P: Plan> {
    inner: P,
    kind: BackendKind,
    /// Inside a transaction: a savepoint, not a transaction.
    in_tx: bool,
    /// False for a plan of one statement.
    wrap: bool,
    state: Atomic<P::Output>,
    /// Opened, and not yet committed or rolled back.
    open: bool,
}

enum Atomic<T> {
    Start,
    Opening,
    Running,
    Closing(T),
    Undoing(Error),
}

/// The savepoint of an [`Atomically`] inside a transaction: a name of its
/// own (MySQL replaces a savepoint of the same name).
const BATCH_SAVEPOINT: &str = "dualdb_batch";

impl<P: Plan> Atomically<P> {
    pub(crate) fn new(kind: BackendKind, in_tx: bool, inner: P, statements: usize) -> Self {
        Atomically {
            inner,
            kind,
            in_tx,
            wrap: statements > 1,
            state: Atomic::Start,
            open: false,
        }
    }

    /// A plan whose failed statement must not end the transaction it runs
    /// in (PostgreSQL aborts a transaction at its first failed statement):
    /// inside one, in a savepoint, rolled back to on an error and the error
    /// returned, whatever its number of statements; outside one, as it is.
    pub(crate) fn guarded(kind: BackendKind, in_tx: bool, inner: P) -> Self {
        Atomically {
            wrap: in_tx,
            ..Atomically::new(kind, in_tx, inner, 1)
        }
    }

    fn run(&self, op: TxOp, savepoint: &str) -> Step<P::Output> {
        Step::Run(Action::Execute(if self.in_tx {
            Stmt::bare(format!("{savepoint} {BATCH_SAVEPOINT}"))
        } else {
            op.stmt(self.kind)
        }))
    }

    /// What follows a step of the plan inside.
    fn after(&mut self, step: Result<Step<P::Output>>) -> Result<Step<P::Output>> {
        match step {
            Ok(Step::Run(a)) => Ok(Step::Run(a)),
            Ok(Step::Done(out)) => {
                self.state = Atomic::Closing(out);
                Ok(self.run(TxOp::Commit, "RELEASE SAVEPOINT"))
            }
            Err(e) => {
                self.state = Atomic::Undoing(e);
                Ok(self.run(TxOp::Rollback, "ROLLBACK TO SAVEPOINT"))
            }
        }
    }
}

impl<P: Plan> Plan for Atomically<P> {
    type Output = P::Output;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<P::Output>> {
        if !self.wrap {
            return self.inner.step(reply);
        }
        match std::mem::replace(&mut self.state, Atomic::Running) {
            Atomic::Start => {
                self.state = Atomic::Opening;
                Ok(self.run(TxOp::Begin, "SAVEPOINT"))
            }
            Atomic::Opening => {
                reply.ok_or_else(replayed)??;
                self.open = true;
                let step = self.inner.step(None);
                self.after(step)
            }
            Atomic::Running => {
                let step = self.inner.step(reply);
                self.after(step)
            }
            Atomic::Closing(out) => match reply.ok_or_else(replayed)? {
                Ok(_) => {
                    self.open = false;
                    Ok(Step::Done(out))
                }
                // A failed COMMIT: roll back (SQLite keeps the transaction
                // open after one).
                Err(e) => {
                    self.state = Atomic::Undoing(e);
                    Ok(self.run(TxOp::Rollback, "ROLLBACK TO SAVEPOINT"))
                }
            },
            Atomic::Undoing(e) => {
                if matches!(reply, Some(Ok(_))) {
                    self.open = false;
                }
                Err(e)
            }
        }
    }
    fn read_only(&self) -> bool {
        self.inner.read_only()
    }
    forward_rows!(.inner);
    fn exclusive(&self) -> bool {
        (self.wrap && !self.in_tx) || self.inner.exclusive()
    }
    fn left_open(&self) -> bool {
        (self.open && !self.in_tx) || self.inner.left_open()
    }
}

/// A plan whose output goes through a function.
pub(crate) struct Map<P, F>(pub(crate) P, pub(crate) F);

impl<P: Plan, T: Send, F: Fn(P::Output) -> Result<T> + Send> Plan for Map<P, F> {
    type Output = T;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<T>> {
        Ok(match self.0.step(reply)? {
            Step::Run(a) => Step::Run(a),
            Step::Done(out) => Step::Done((self.1)(out)?),
        })
    }
    forward_hooks!(.0);
}

/// Plans that can fail while being built (bad arguments) still go through a
/// plan, so the error comes back from the call like any other.
pub(crate) struct Failed<T>(Option<Error>, PhantomData<fn() -> T>);

impl<T: Send> Plan for Failed<T> {
    type Output = T;
    fn step(&mut self, _: Option<Result<Reply>>) -> Result<Step<T>> {
        Err(self.0.take().unwrap_or_else(replayed))
    }
    fn failed(&mut self) -> Option<Error> {
        self.0.take()
    }
}

/// Either a plan or the error building it.
pub(crate) enum Either<P: Plan> {
    Plan(P),
    Failed(Failed<P::Output>),
}

// Each hook by hand, as an enum must: the failed side takes no rows.
impl<P: Plan> Plan for Either<P> {
    type Output = P::Output;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<P::Output>> {
        match self {
            Either::Plan(p) => p.step(reply),
            Either::Failed(f) => f.step(reply),
        }
    }
    fn read_only(&self) -> bool {
        matches!(self, Either::Plan(p) if p.read_only())
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        match self {
            Either::Plan(p) => p.row(row),
            Either::Failed(f) => f.row(row),
        }
    }
    fn size_hint(&mut self, rows: usize) {
        if let Either::Plan(p) = self {
            p.size_hint(rows);
        }
    }
    fn exclusive(&self) -> bool {
        matches!(self, Either::Plan(p) if p.exclusive())
    }
    fn failed(&mut self) -> Option<Error> {
        match self {
            Either::Plan(p) => p.failed(),
            Either::Failed(f) => f.failed(),
        }
    }
    fn poll_copy(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<super::step::CopyChunk>>> {
        match self {
            Either::Plan(p) => p.poll_copy(cx),
            Either::Failed(_) => std::task::Poll::Ready(None),
        }
    }
    fn copy_out(&mut self, chunk: &[u8]) -> Result<()> {
        match self {
            Either::Plan(p) => p.copy_out(chunk),
            Either::Failed(_) => Ok(()),
        }
    }
    fn left_open(&self) -> bool {
        matches!(self, Either::Plan(p) if p.left_open())
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        match self {
            Either::Plan(p) => p.in_place(row),
            Either::Failed(_) => None,
        }
    }
}

pub(crate) fn either<P: Plan>(r: Result<P>) -> Either<P> {
    match r {
        Ok(p) => Either::Plan(p),
        Err(e) => Either::Failed(Failed(Some(e), PhantomData)),
    }
}
