//! A MySQL statement read by a cursor: a row iterator's rows taken a few at
//! a time on the reader's own thread (`SyncConn::open_cursor`), or a row
//! stream's polled one at a time (`AsyncConn::open_cursor`), the statement
//! left open on its connection in between.
//!
//! Both drivers hand rows over only through a result that borrows the
//! connection mutably for as long as the statement has rows (`mysql`'s
//! `QueryResult`, `mysql_async`'s `ResultSetStream`). To keep that result
//! between reads, the connection is lent to it: moved into a `self_cell`
//! ([`SyncLent`], [`AsyncLent`]) whose owner is the connection behind a
//! [`MutBorrow`], borrowed once by the result the cell owns, and moved back
//! out when the cursor closes, the result dropped first. Dropping a result
//! part-way leaves its rows to the driver: `mysql` reads and discards them
//! at once, `mysql_async` before the connection's next statement. Either
//! way the connection is clean for its next statement. tests/row_streams.rs
//! reads cursors to the end, drops them at random rows and runs the
//! connection's next statement after.

use std::task::{Context, Poll};

use futures_core::Stream;
use mysql_async::BinaryProtocol;
use mysql_async::prelude::Queryable as _;
use mysql_common::params::Params;
use self_cell::{MutBorrow, self_cell};

use super::BoxFuture;
use crate::error::{Error, ErrorKind, Result};

/// A connection lent to a result of its cursor's statement.
pub(super) trait Lent: Sized {
    type Conn;
    type Statement;
    /// The connection back, the result dropped first.
    fn give_back(self) -> Self::Conn;
}

/// A connection: idle, or lent to its open cursor's statement.
pub(super) struct Held<L: Lent>(State<L>);

enum State<L: Lent> {
    Idle(L::Conn),
    Reading {
        lent: L,
        /// The statement, when the connection does not keep it: closed
        /// once the cursor is.
        unkept: Option<L::Statement>,
    },
    /// Only while a cursor opens, if the driver panics: the connection is
    /// gone (`is_usable` is false).
    Gone,
}

impl<L: Lent> Held<L> {
    pub(super) fn new(conn: L::Conn) -> Self {
        Held(State::Idle(conn))
    }

    /// The idle connection; a cursor must be closed first
    /// ([`close`](Self::close)).
    #[inline(always)]
    pub(super) fn idle(&mut self) -> Result<&mut L::Conn> {
        match &mut self.0 {
            State::Idle(conn) => Ok(conn),
            State::Reading { .. } => Err(Error::new(
                ErrorKind::Usage,
                "internal: the MySQL connection is reading a cursor",
            )),
            State::Gone => Err(gone()),
        }
    }

    pub(super) fn is_gone(&self) -> bool {
        matches!(self.0, State::Gone)
    }

    /// Lends the idle connection to what `lend` makes of it, or keeps it
    /// if `lend` fails: `lend`'s outcome, inside an error if the connection
    /// is not idle.
    pub(super) fn lend<E>(
        &mut self,
        unkept: Option<L::Statement>,
        lend: impl FnOnce(L::Conn) -> std::result::Result<L, (L::Conn, E)>,
    ) -> Result<std::result::Result<(), E>> {
        self.idle()?;
        let State::Idle(conn) = std::mem::replace(&mut self.0, State::Gone) else {
            return Err(gone());
        };
        Ok(match lend(conn) {
            Ok(lent) => {
                self.0 = State::Reading { lent, unkept };
                Ok(())
            }
            Err((conn, e)) => {
                self.0 = State::Idle(conn);
                Err(e)
            }
        })
    }

    /// The open cursor's result, if one is open.
    pub(super) fn lent(&mut self) -> Option<&mut L> {
        match &mut self.0 {
            State::Reading { lent, .. } => Some(lent),
            _ => None,
        }
    }

    /// Closes the open cursor, if any: the connection is idle again.
    /// Returns the statement to close, if the connection does not keep it.
    /// Checked before every statement: the check is inlined, the closing
    /// is not (benches/instructions, MySQL's `trivial` of 1 row).
    #[inline(always)]
    pub(super) fn close(&mut self) -> Option<L::Statement> {
        match self.0 {
            State::Reading { .. } => self.close_open(),
            _ => None,
        }
    }

    #[cold]
    fn close_open(&mut self) -> Option<L::Statement> {
        match std::mem::replace(&mut self.0, State::Gone) {
            State::Reading { lent, unkept } => {
                self.0 = State::Idle(lent.give_back());
                unkept
            }
            other => {
                self.0 = other;
                None
            }
        }
    }
}

fn gone() -> Error {
    Error::new(
        ErrorKind::Connect,
        "the MySQL connection was lost opening a cursor",
    )
}

type Reading<'c> = mysql::QueryResult<'c, 'c, 'c, mysql::Binary>;

self_cell!(
    /// A blocking connection lent to the result of its cursor's statement.
    pub(super) struct SyncLent {
        owner: MutBorrow<mysql::Conn>,

        #[not_covariant]
        dependent: Reading,
    }
);

impl Lent for SyncLent {
    type Conn = mysql::Conn;
    type Statement = mysql::Statement;
    fn give_back(self) -> mysql::Conn {
        self.into_owner().into_inner()
    }
}

impl SyncLent {
    /// Runs `statement` with `params` on `conn`, lent to the result.
    pub(super) fn open(
        conn: mysql::Conn,
        statement: &mysql::Statement,
        params: Params,
    ) -> std::result::Result<Self, (mysql::Conn, mysql::Error)> {
        use mysql::prelude::Queryable;
        SyncLent::try_new_or_recover(MutBorrow::new(conn), |conn| {
            conn.borrow_mut().exec_iter(statement, params)
        })
        .map_err(|(conn, e)| (conn.into_inner(), e))
    }

    /// Hands up to `max` rows to `each`; `true` once the statement has no
    /// more.
    pub(super) fn read(
        &mut self,
        max: usize,
        mut each: impl FnMut(std::result::Result<mysql::Row, mysql::Error>) -> Result<()>,
    ) -> Result<bool> {
        self.with_dependent_mut(|_, result| {
            for _ in 0..max {
                match result.next() {
                    Some(row) => each(row)?,
                    None => return Ok(true),
                }
            }
            Ok(false)
        })
    }
}

/// `mysql_async`'s rows of a statement, borrowing its connection.
type AsyncRows<'c> =
    mysql_async::ResultSetStream<'c, 'c, 'static, mysql_async::Row, BinaryProtocol>;

/// An async cursor's statement: being sent, its rows, or ended.
pub(super) enum Phase<'c> {
    Opening(BoxFuture<'c, std::result::Result<Option<AsyncRows<'c>>, mysql_async::Error>>),
    Rows(AsyncRows<'c>),
    Ended,
}

self_cell!(
    /// An async connection lent to its cursor's statement.
    pub(super) struct AsyncLent {
        owner: MutBorrow<mysql_async::Conn>,

        #[not_covariant]
        dependent: Phase,
    }
);

impl Lent for AsyncLent {
    type Conn = mysql_async::Conn;
    type Statement = mysql_async::Statement;
    fn give_back(self) -> mysql_async::Conn {
        self.into_owner().into_inner()
    }
}

impl AsyncLent {
    /// `conn`, lent to the run of `statement` with `params`, which
    /// [`poll_open`](Self::poll_open) drives.
    pub(super) fn open(
        conn: mysql_async::Conn,
        statement: mysql_async::Statement,
        params: Params,
    ) -> Self {
        AsyncLent::new(MutBorrow::new(conn), |conn| {
            let conn = conn.borrow_mut();
            Phase::Opening(Box::pin(async move {
                let result = conn.exec_iter(statement, params).await?;
                result.stream_and_drop::<mysql_async::Row>().await
            }))
        })
    }

    /// Drives the statement's run until the server has answered.
    pub(super) fn poll_open(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<std::result::Result<(), mysql_async::Error>> {
        self.with_dependent_mut(|_, phase| {
            let Phase::Opening(opening) = phase else {
                return Poll::Ready(Ok(()));
            };
            let (next, out) = match std::task::ready!(opening.as_mut().poll(cx)) {
                Ok(Some(rows)) => (Phase::Rows(rows), Ok(())),
                Ok(None) => (Phase::Ended, Ok(())),
                Err(e) => (Phase::Ended, Err(e)),
            };
            *phase = next;
            Poll::Ready(out)
        })
    }

    /// The statement's next row; `None` once it has no more.
    pub(super) fn poll_row(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<mysql_async::Row, mysql_async::Error>>> {
        self.with_dependent_mut(|_, phase| match phase {
            Phase::Rows(rows) => std::pin::Pin::new(rows).poll_next(cx),
            _ => Poll::Ready(None),
        })
    }
}
