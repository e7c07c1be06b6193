//! The two loops that run plans: [`drive_sync`] on a blocking connection,
//! [`drive_async`] on an async one. They only move statements and replies.

use std::time::Instant;

use tracing::Instrument;

use super::sink::{CopyIo, Sink};
use super::step::{Action, CopyChunk, Plan, Reply, Step, streamed};
use crate::backend::{AsyncConn, InPlaceRow, SharedConn, SyncConn};
use crate::error::Result;
use crate::row::Row;

/// A plan as the sink of its statement's rows.
struct Rows<'p, P>(&'p mut P);

/// A plan as the data of the COPY it runs (read by PostgreSQL's
/// connections only).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
struct Copying<'p, P>(&'p mut P);

impl<P: Plan> CopyIo for Copying<'_, P> {
    fn poll_chunk(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<CopyChunk>>> {
        self.0.poll_copy(cx)
    }
    fn chunk_out(&mut self, chunk: &[u8]) -> Result<()> {
        self.0.copy_out(chunk)
    }
}

impl<P: Plan> Sink for Rows<'_, P> {
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self.0.row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.0.in_place(row)
    }
    fn size_hint(&mut self, rows: usize) {
        self.0.size_hint(rows);
    }
    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        self.0.poll_ready(cx)
    }
    fn pending(&mut self) {
        self.0.pending();
    }
    fn paced(&self) -> bool {
        self.0.paced()
    }
}

/// The span of one statement, when anyone listens: its SQL (never its bound
/// values), then the rows it returned or changed and how long it took.
/// Nobody listening, the statement enters no span and reads no clock (each
/// costs more than a small call's own work with `tracing`'s `log` feature
/// on, as axum turns it on; benches/instructions counts a call so).
pub(crate) struct Traced {
    span: tracing::Span,
    started: Instant,
}

impl Traced {
    #[inline]
    fn start(action: &Action) -> Option<Self> {
        Self::statement(action.sql())
    }

    /// The span of a statement of `sql` (a row iterator's cursor, which no
    /// plan driver runs), if anyone listens. Inlined up to the test of
    /// whether anyone does, which is all a call pays when no one does.
    #[inline]
    pub(crate) fn statement(sql: &str) -> Option<Self> {
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
        Self::listened(sql)
    }

    /// The span, once a subscriber or logger may want it.
    #[cold]
    #[inline(never)]
    fn listened(sql: &str) -> Option<Self> {
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
        let rows = reply.as_ref().ok().map(|r| match r {
            Reply::Rows(rows) => rows.len() as u64,
            Reply::Done(d) => d.rows_affected,
        });
        self.ended(rows);
    }

    /// The statement ended, with `rows` rows if it succeeded.
    pub(crate) fn ended(&self, rows: Option<u64>) {
        if let Some(rows) = rows {
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
            Action::CopyIn(c) => conn.copy_in(c, &mut Copying(plan)).map(streamed),
            Action::CopyOut(s) => conn.copy_out(&s, &mut Copying(plan)).map(streamed),
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
            (Target::Owned(c), Action::CopyIn(copy)) => {
                c.copy_in(copy, &mut Copying(plan)).await.map(streamed)
            }
            (Target::Owned(c), Action::CopyOut(s)) => {
                c.copy_out(s, &mut Copying(plan)).await.map(streamed)
            }
            // COPY plans are exclusive: never on a shared connection.
            (Target::Shared(_), Action::CopyIn(_) | Action::CopyOut(_)) => Err(crate::Error::new(
                crate::ErrorKind::Usage,
                "COPY on a shared connection",
            )),
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
