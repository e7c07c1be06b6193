//! The [`Plan`] trait: what a plan asks for ([`Action`]), what it gets
//! back ([`Reply`]), and the hooks through which it takes rows.

use crate::backend::InPlaceRow;
use crate::error::{Error, Result};
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
    /// Run a `COPY … FROM STDIN` (PostgreSQL), sending what
    /// [`Plan::poll_copy`] gives; the reply is the row count.
    CopyIn(CopyIn),
    /// Run a `COPY … TO STDOUT` (PostgreSQL), handing its output to
    /// [`Plan::copy_out`] a chunk at a time; the reply is the byte count.
    CopyOut(Stmt),
}

/// What a COPY IN sends (read by PostgreSQL's connections only).
#[derive(Debug)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum CopyIn {
    /// The caller's `COPY` statement, sent data in its own format.
    Raw(Stmt),
    /// Rows of values into `table`'s `columns` (quoted), sent in the
    /// binary format as the columns' types take them.
    Rows { table: String, columns: String },
}

/// One piece of a COPY IN's data (read by PostgreSQL's connections only).
#[derive(Debug)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum CopyChunk {
    Bytes(Vec<u8>),
    Row(Vec<crate::value::Value>),
}

impl Action {
    /// The SQL the action sends first (for its span).
    pub(crate) fn sql(&self) -> &str {
        match self {
            Action::Query(s) | Action::Rows(s) | Action::Execute(s) | Action::Stream(s) => {
                s.sql.as_str()
            }
            Action::CopyIn(CopyIn::Raw(s)) | Action::CopyOut(s) => s.sql.as_str(),
            Action::CopyIn(CopyIn::Rows { table, .. }) => table,
        }
    }
}

/// The reply to a statement whose rows went to a sink: their count.
pub(super) fn streamed(rows_affected: u64) -> Reply {
    Reply::Done(ExecResult {
        rows_affected,
        last_insert_id: None,
        id_step: 1,
    })
}

/// The result of an [`Action`], handed back to the plan, errors included.
#[derive(Debug)]
pub(crate) enum Reply {
    Rows(Vec<Row>),
    Done(ExecResult),
}

/// What a plan does next: run an action, or finish with its output.
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
    /// before the first ([`Sink::size_hint`](super::sink::Sink::size_hint)).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn size_hint(&mut self, _rows: usize) {}

    /// Whether the plan takes another row now
    /// ([`Sink::poll_ready`](super::sink::Sink::poll_ready)).
    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    /// The connection waits for the next row
    /// ([`Sink::pending`](super::sink::Sink::pending)).
    fn pending(&mut self) {}

    /// True if the plan sets the pace of its rows
    /// ([`Sink::paced`](super::sink::Sink::paced)).
    fn paced(&self) -> bool {
        false
    }

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

    /// The error of a plan that failed while it was built (bad input),
    /// taken before the plan is given a connection, so that bad input
    /// costs no I/O (tests/listen.rs: `notify` on a backend without it, at
    /// an address where nothing listens).
    fn failed(&mut self) -> Option<Error> {
        None
    }

    /// The next piece of an [`Action::CopyIn`]'s data, `None` at its end.
    /// The blocking half polls with a waker that never wakes: its sources
    /// (iterators) are always ready.
    fn poll_copy(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<CopyChunk>>> {
        std::task::Poll::Ready(None)
    }

    /// A chunk of an [`Action::CopyOut`]'s output.
    fn copy_out(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Forwards the hooks through which a plan takes rows ([`Plan::row`],
/// [`Plan::in_place`], [`Plan::size_hint`], [`Plan::poll_ready`],
/// [`Plan::pending`]) to the plan it wraps: `self`
/// followed by the tokens given, as in `forward_rows!(.0)`. Every wrapper
/// uses it or [`forward_hooks!`], so none forgets a hook and silently loses
/// the in-place read of SQLite rows (benches/instructions, the SQLite
/// selects, guards it).
macro_rules! forward_rows {
    ($($inner:tt)+) => {
        fn row(
            &mut self,
            row: &mut Option<$crate::row::Row>,
        ) -> $crate::error::Result<()> {
            self $($inner)+ .row(row)
        }
        #[inline]
        fn in_place(
            &mut self,
            row: &mut $crate::backend::InPlaceRow<'_>,
        ) -> Option<$crate::error::Result<()>> {
            self $($inner)+ .in_place(row)
        }
        fn size_hint(&mut self, rows: usize) {
            self $($inner)+ .size_hint(rows)
        }
        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<$crate::error::Result<()>> {
            self $($inner)+ .poll_ready(cx)
        }
        fn pending(&mut self) {
            self $($inner)+ .pending()
        }
        fn paced(&self) -> bool {
            self $($inner)+ .paced()
        }
    };
}
pub(crate) use forward_rows;

/// Forwards every hook of [`Plan`] but `step` to the plan it wraps, as
/// [`forward_rows!`] does: the row hooks, and [`Plan::read_only`],
/// [`Plan::exclusive`] and [`Plan::left_open`], which keep a wrapped
/// plan's transaction off shared connections and out of the pool.
macro_rules! forward_hooks {
    ($($inner:tt)+) => {
        $crate::plan::forward_rows!($($inner)+);
        fn read_only(&self) -> bool {
            self $($inner)+ .read_only()
        }
        fn exclusive(&self) -> bool {
            self $($inner)+ .exclusive()
        }
        fn left_open(&self) -> bool {
            self $($inner)+ .left_open()
        }
        fn failed(&mut self) -> Option<$crate::error::Error> {
            self $($inner)+ .failed()
        }
        fn poll_copy(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<$crate::error::Result<$crate::plan::CopyChunk>>> {
            self $($inner)+ .poll_copy(cx)
        }
        fn copy_out(&mut self, chunk: &[u8]) -> $crate::error::Result<()> {
            self $($inner)+ .copy_out(chunk)
        }
    };
}
pub(crate) use forward_hooks;

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
    fn size_hint(&mut self, rows: usize) {
        (**self).size_hint(rows);
    }
    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        (**self).poll_ready(cx)
    }
    fn pending(&mut self) {
        (**self).pending();
    }
    fn paced(&self) -> bool {
        (**self).paced()
    }
    fn failed(&mut self) -> Option<Error> {
        (**self).failed()
    }
    fn poll_copy(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<CopyChunk>>> {
        (**self).poll_copy(cx)
    }
    fn copy_out(&mut self, chunk: &[u8]) -> Result<()> {
        (**self).copy_out(chunk)
    }
    fn exclusive(&self) -> bool {
        (**self).exclusive()
    }
    fn left_open(&self) -> bool {
        (**self).left_open()
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
                id_step: 1,
            }),
        }
    }
}
