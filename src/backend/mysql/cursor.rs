//! A MySQL statement read by a cursor: a row iterator's rows taken a batch
//! at a time on the reader's own thread, the statement left open on its
//! connection in between (`SyncConn::open_cursor`).
//!
//! The `mysql` crate hands rows over only through a `QueryResult`, which
//! borrows the connection mutably for as long as the statement has rows.
//! To keep that result between batches, the connection is lent to it: moved
//! into a [`Lent`] (a `self_cell` whose owner is the connection behind a
//! [`MutBorrow`], borrowed once by the result it owns), and moved back out
//! when the cursor closes, the result dropped first. Dropping the result
//! reads and discards the rows left (the driver's own rule), so the
//! connection is clean for its next statement. tests/row_streams.rs reads
//! cursors to the end, drops them at random rows and runs the connection's
//! next statement after.

use mysql::{Binary, QueryResult, Statement};
use mysql_common::params::Params;
use self_cell::{MutBorrow, self_cell};

use crate::error::{Error, ErrorKind, Result};

type Reading<'c> = QueryResult<'c, 'c, 'c, Binary>;

self_cell!(
    /// A connection lent to the result of its cursor's statement.
    struct Lent {
        owner: MutBorrow<mysql::Conn>,

        #[not_covariant]
        dependent: Reading,
    }
);

/// A blocking connection: idle, or lent to its open cursor's statement.
pub(super) struct Held(State);

enum State {
    Idle(mysql::Conn),
    Reading {
        lent: Lent,
        /// The statement, when the connection does not keep it: closed
        /// once the cursor is.
        unkept: Option<Statement>,
    },
    /// Only while a cursor opens, if the driver panics: the connection is
    /// gone (`MySync::is_usable` is false).
    Gone,
}

impl Held {
    pub(super) fn new(conn: mysql::Conn) -> Self {
        Held(State::Idle(conn))
    }

    /// The idle connection; a cursor's statement must be closed first
    /// (`MySync::conn` does).
    pub(super) fn idle(&mut self) -> Result<&mut mysql::Conn> {
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

    /// Runs `statement` with `params` and lends the connection to its
    /// result: the driver's outcome, inside an error if the connection is
    /// not idle (a cursor must be closed first).
    pub(super) fn open(
        &mut self,
        statement: &Statement,
        params: Params,
        unkept: Option<Statement>,
    ) -> Result<std::result::Result<(), mysql::Error>> {
        use mysql::prelude::Queryable;
        self.idle()?;
        let State::Idle(conn) = std::mem::replace(&mut self.0, State::Gone) else {
            return Err(gone());
        };
        let lent = Lent::try_new_or_recover(MutBorrow::new(conn), |conn| {
            conn.borrow_mut().exec_iter(statement, params)
        });
        Ok(match lent {
            Ok(lent) => {
                self.0 = State::Reading { lent, unkept };
                Ok(())
            }
            Err((conn, e)) => {
                self.0 = State::Idle(conn.into_inner());
                Err(e)
            }
        })
    }

    /// Hands up to `max` rows of the open cursor's statement to `each`;
    /// `true` once it has no more (or no cursor is open).
    pub(super) fn read(
        &mut self,
        max: usize,
        mut each: impl FnMut(std::result::Result<mysql::Row, mysql::Error>) -> Result<()>,
    ) -> Result<bool> {
        let State::Reading { lent, .. } = &mut self.0 else {
            return Ok(true);
        };
        lent.with_dependent_mut(|_, result| {
            for _ in 0..max {
                match result.next() {
                    Some(row) => each(row)?,
                    None => return Ok(true),
                }
            }
            Ok(false)
        })
    }

    /// Closes the open cursor, if any: its rows left are read and dropped
    /// and the connection is idle again. Returns the statement to close,
    /// if the connection does not keep it.
    pub(super) fn close(&mut self) -> Option<Statement> {
        if !matches!(self.0, State::Reading { .. }) {
            return None;
        }
        match std::mem::replace(&mut self.0, State::Gone) {
            State::Reading { lent, unkept } => {
                self.0 = State::Idle(lent.into_owner().into_inner());
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
