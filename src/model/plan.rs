//! Operations written once, driven twice.
//!
//! A [`Plan`] is a small state machine: it yields the next statement to run
//! ([`Step::Run`]) and consumes its result ([`Reply`]), until it yields its
//! output ([`Step::Done`]). Everything an operation decides (which SQL, what
//! to do on a unique violation, how to decode) lives in the plan; the
//! blocking half's [`drive_sync`] and the async half's [`drive_async`] only
//! move statements and replies, so the two halves cannot drift apart.

use std::time::Instant;

use tracing::Instrument;

use crate::backend::InPlaceRow;
use crate::backend::{AsyncConn, SharedConn, Sink, SyncConn};
use crate::error::Result;
use crate::row::Row;
use crate::statement::{ExecResult, Stmt};

/// What to run next.
#[derive(Debug)]
pub(crate) enum Action {
    /// Run a statement for its rows, all returned at once ([`Reply::Rows`]).
    Query(Stmt),
    /// Run a statement and hand its rows to [`Plan::row`] one at a time,
    /// where the connection may read them all first if that is quicker;
    /// the reply is the row count. Models decode this way, without a
    /// vector of rows in between.
    Rows(Stmt),
    /// Run a statement for its count of changed rows.
    Execute(Stmt),
    /// Run a statement and hand its rows to [`Plan::row`] one at a time as
    /// they arrive, never all in memory; the reply is the row count.
    Stream(Stmt),
}

fn streamed(rows_affected: u64) -> Reply {
    Reply::Done(ExecResult {
        rows_affected,
        last_insert_id: None,
    })
}

/// The result of an [`Action`], handed back to the plan, errors included.
#[derive(Debug)]
pub(crate) enum Reply {
    Rows(Vec<Row>),
    Done(ExecResult),
}

pub(crate) enum Step<T> {
    Run(Action),
    Done(T),
}

/// An operation as a state machine over statements.
pub(crate) trait Plan: Send {
    type Output: Send;
    /// Called first with `None`, then with the result of each action.
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Self::Output>>;

    /// True if the plan only reads: outside a transaction it may run on a
    /// read replica.
    fn read_only(&self) -> bool {
        false
    }

    /// Takes one row of an [`Action::Rows`] or [`Action::Stream`], taking
    /// it out of its slot only to keep it; an error stops the statement.
    fn row(&mut self, _row: &mut Option<Row>) -> Result<()> {
        Err(crate::Error::new(
            crate::ErrorKind::Usage,
            "internal: rows streamed to a plan that takes none",
        ))
    }

    /// Takes one row as [`row`](Self::row) does, read in place from a
    /// SQLite statement; `None` to have it copied and handed to `row`.
    fn in_place(&mut self, _row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        None
    }

    /// How many rows the statement's result has, where the connection knows
    /// before the first ([`Sink::expect`]).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn expect(&mut self, _rows: usize) {}

    /// True if the plan needs a connection to itself: it opens a
    /// transaction of its own, which statements of other tasks on a shared
    /// connection would run inside.
    fn exclusive(&self) -> bool {
        false
    }

    /// True if the plan began a transaction and neither committed nor
    /// rolled it back (its rollback failed): the connection is then rolled
    /// back before it goes back to its pool, or closed.
    fn left_open(&self) -> bool {
        false
    }
}

/// A plan driven where it was made: the async driver's futures hold a
/// pointer to it, not a copy (a select's plan is a couple of hundred bytes,
/// and a caller's `.await` copies its future twice).
impl<P: Plan> Plan for &mut P {
    type Output = P::Output;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<P::Output>> {
        (**self).step(reply)
    }
    fn read_only(&self) -> bool {
        (**self).read_only()
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        (**self).row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        (**self).in_place(row)
    }
    fn expect(&mut self, rows: usize) {
        (**self).expect(rows);
    }
    fn exclusive(&self) -> bool {
        (**self).exclusive()
    }
    fn left_open(&self) -> bool {
        (**self).left_open()
    }
}

/// A plan as the sink of its statement's rows.
struct Rows<'p, P>(&'p mut P);

impl<P: Plan> Sink for Rows<'_, P> {
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self.0.row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.0.in_place(row)
    }
    fn expect(&mut self, rows: usize) {
        self.0.expect(rows);
    }
}

/// A plan that only reads.
pub(crate) struct ReadOnly<P>(pub(crate) P);

impl<P: Plan> Plan for ReadOnly<P> {
    type Output = P::Output;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<P::Output>> {
        self.0.step(reply)
    }
    fn read_only(&self) -> bool {
        true
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self.0.row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.0.in_place(row)
    }
    fn expect(&mut self, rows: usize) {
        self.0.expect(rows);
    }
    fn exclusive(&self) -> bool {
        self.0.exclusive()
    }
    fn left_open(&self) -> bool {
        self.0.left_open()
    }
}

/// The span of one statement, when anyone listens: its SQL (never its bound
/// values), then the rows it returned or changed and how long it took.
/// Nobody listening, the statement enters no span and reads no clock (each
/// costs more than a small call's own work with `tracing`'s `log` feature
/// on, as axum turns it on; benches/instructions counts a call so).
struct Traced {
    span: tracing::Span,
    started: Instant,
}

impl Traced {
    fn start(action: &Action) -> Option<Self> {
        // The span macro's own first test, plus the one of its `log` path
        // (tracing's `log` feature: records go to a `log` logger while no
        // tracing subscriber is set). With neither listening, the macro
        // would still build the span's fields and format them for `log`,
        // for nothing.
        if !(tracing::level_enabled!(tracing::Level::DEBUG)
            || log::log_enabled!(target: "dualdb::sql", log::Level::Debug))
        {
            return None;
        }
        let sql = match action {
            Action::Query(s) | Action::Rows(s) | Action::Execute(s) | Action::Stream(s) => {
                s.sql.as_str()
            }
        };
        let span = tracing::debug_span!(
            target: "dualdb::sql",
            "statement",
            sql,
            rows = tracing::field::Empty,
            elapsed_us = tracing::field::Empty,
        );
        (!span.is_disabled()).then(|| Traced {
            span,
            started: Instant::now(),
        })
    }

    fn record(&self, reply: &Result<Reply>) {
        if let Ok(r) = reply {
            let rows = match r {
                Reply::Rows(rows) => rows.len() as u64,
                Reply::Done(d) => d.rows_affected,
            };
            self.span.record("rows", rows);
        }
        let elapsed = self.started.elapsed().as_micros() as u64;
        self.span.record("elapsed_us", elapsed);
    }
}

/// Runs a plan on a blocking connection. The plan stays where its caller
/// made it (a plan of a select with its statement and decoder is a couple
/// of hundred bytes, copied at every move into a closure).
pub(crate) fn drive_sync<P: Plan>(conn: &mut dyn SyncConn, plan: &mut P) -> Result<P::Output> {
    let mut reply = None;
    loop {
        let action = match plan.step(reply.take())? {
            Step::Done(out) => return Ok(out),
            Step::Run(action) => action,
        };
        let traced = Traced::start(&action);
        let _entered = traced.as_ref().map(|t| t.span.enter());
        let r = match action {
            Action::Query(s) => conn.query(&s).map(Reply::Rows),
            Action::Execute(s) => conn.execute(s).map(Reply::Done),
            Action::Rows(s) => conn.query_rows(&s, &mut Rows(plan)).map(streamed),
            Action::Stream(s) => conn.query_each(&s, &mut Rows(plan)).map(streamed),
        };
        if let Some(t) = &traced {
            t.record(&r);
        }
        reply = Some(r);
    }
}

/// Where an async plan runs: a connection lent to it alone, or one shared
/// with other tasks (PostgreSQL, outside transactions).
pub(crate) enum Target<'c> {
    Owned(&'c mut dyn AsyncConn),
    Shared(&'c dyn SharedConn),
}

impl Target<'_> {
    /// Runs one action, its rows (if it hands them over) going to `plan`.
    async fn run<P: Plan>(&mut self, action: Action, plan: &mut P) -> Result<Reply> {
        let mut sink = Rows(plan);
        match (self, action) {
            (Target::Owned(c), Action::Query(s)) => c.query(s).await.map(Reply::Rows),
            (Target::Shared(c), Action::Query(s)) => c.query(s).await.map(Reply::Rows),
            (Target::Owned(c), Action::Execute(s)) => c.execute(s).await.map(Reply::Done),
            (Target::Shared(c), Action::Execute(s)) => c.execute(s).await.map(Reply::Done),
            (Target::Owned(c), Action::Rows(s)) => c.query_rows(s, &mut sink).await.map(streamed),
            (Target::Shared(c), Action::Rows(s)) => c.query_rows(s, &mut sink).await.map(streamed),
            (Target::Owned(c), Action::Stream(s)) => c.query_each(s, &mut sink).await.map(streamed),
            (Target::Shared(c), Action::Stream(s)) => {
                c.query_each(s, &mut sink).await.map(streamed)
            }
        }
    }
}

/// Runs a plan on an async connection.
pub(crate) async fn drive_async<P: Plan>(mut target: Target<'_>, mut plan: P) -> Result<P::Output> {
    let mut reply = None;
    loop {
        let action = match plan.step(reply.take())? {
            Step::Done(out) => return Ok(out),
            Step::Run(action) => action,
        };
        let r = match Traced::start(&action) {
            None => target.run(action, &mut plan).await,
            // Boxed: the span and its future would otherwise be in every
            // call's future, listened to or not.
            Some(t) => Box::pin(traced(&mut target, action, &mut plan, t)).await,
        };
        reply = Some(r);
    }
}

/// One action run inside its statement's span, which records the outcome.
async fn traced<P: Plan>(
    target: &mut Target<'_>,
    action: Action,
    plan: &mut P,
    t: Traced,
) -> Result<Reply> {
    let r = target.run(action, plan).instrument(t.span.clone()).await;
    t.record(&r);
    r
}

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

pub(crate) fn replayed() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "internal: plan stepped after it finished",
    )
}

/// An empty row slot: a sink took the row, and a later one looked for it.
pub(crate) fn taken() -> crate::Error {
    crate::Error::new(crate::ErrorKind::Usage, "internal: the row was taken")
}

/// The row in a sink's slot.
pub(crate) fn slotted(row: &mut Option<Row>) -> Result<&mut Row> {
    row.as_mut().ok_or_else(taken)
}

impl Reply {
    pub(crate) fn rows(self) -> Result<Vec<Row>> {
        match self {
            Reply::Rows(r) => Ok(r),
            Reply::Done(_) => Err(crate::Error::new(
                crate::ErrorKind::Usage,
                "internal: expected rows, got a count",
            )),
        }
    }

    pub(crate) fn done(self) -> Result<ExecResult> {
        match self {
            Reply::Done(d) => Ok(d),
            Reply::Rows(rows) => Ok(ExecResult {
                rows_affected: rows.len() as u64,
                last_insert_id: None,
            }),
        }
    }
}
