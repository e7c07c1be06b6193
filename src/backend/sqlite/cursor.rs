//! A SQLite statement read by a cursor: a row iterator's rows stepped a
//! batch at a time on the reader's own thread, the statement left open on
//! its connection in between (`SyncConn::open_cursor`).
//!
//! The statement is taken out of the connection's kept statements while the
//! cursor is open, so nothing else the connection runs can step or reset
//! it, and put back when it closes. Between batches it is simply not
//! stepped: rusqlite's `Rows` resets its statement when dropped, so the
//! batch's `Rows` is not dropped unless the statement is to stop (SQLite
//! resets a statement itself once it has stepped past its last row or
//! failed). tests/row_streams.rs reads cursors to the end, drops them at
//! random rows and runs the connection's next statement after.

use std::mem::ManuallyDrop;

use super::{Handed, Kept, LiteConn, copies};
use crate::config::BackendKind;
use crate::error::Result;
use crate::plan::RowSink;
use crate::statement::{SqlText, Stmt};
use crate::value::Value;

/// The statement of an open cursor and what its rows keep between batches.
pub(super) struct Open<'c> {
    sql: SqlText,
    positional: bool,
    /// Text or blobs were bound: cleared when the cursor closes.
    copied: bool,
    kept: Kept<'c>,
    handed: Handed,
}

/// Prepares (or takes from the kept statements) and binds `stmt`, which
/// the next [`rows`] steps; a cursor still open is closed first.
pub(super) fn open(conn: &mut LiteConn, stmt: &Stmt) -> Result<()> {
    Value::check_all(&stmt.params, BackendKind::Sqlite)?;
    crate::placeholders::check_count(BackendKind::Sqlite, stmt.params.len())?;
    close(conn);
    let opened = conn.cell.with_dependent(|db, prepared| {
        let taken = prepared.kept.borrow_mut().take(&stmt.sql);
        let mut kept = match taken {
            Some(kept) => kept,
            None => {
                let flags = rusqlite::PrepFlags::SQLITE_PREPARE_PERSISTENT;
                Kept::new(db.prepare_with_flags(stmt.sql.trim(), flags)?)?
            }
        };
        let copied = copies(&stmt.params);
        if let Err(e) = bind(&mut kept, &stmt.params) {
            if copied {
                kept.st.clear_bindings();
            }
            prepared.kept.borrow_mut().insert(&stmt.sql, kept);
            return Err(e);
        }
        *prepared.cursor.borrow_mut() = Some(Open {
            sql: stmt.sql.clone(),
            positional: stmt.positional,
            copied,
            kept,
            handed: Handed::default(),
        });
        Ok(())
    });
    opened.map_err(|e| conn.error(e))?;
    conn.cursor_open = true;
    Ok(())
}

/// Binds `params` to `kept`'s parameters, in the order they take them; as
/// rusqlite's `query` does, a count that differs from the statement's is an
/// `InvalidParameterCount` error.
fn bind(kept: &mut Kept<'_>, params: &[Value]) -> rusqlite::Result<()> {
    let bound = super::Bound::new(params, kept.numbered.as_deref())?;
    let expected = kept.st.parameter_count();
    let given = kept.numbered.as_ref().map_or(params.len(), |n| n.len());
    if given != expected {
        return Err(rusqlite::Error::InvalidParameterCount(given, expected));
    }
    for (i, value) in bound.into_iter().enumerate() {
        kept.st.raw_bind_parameter(i + 1, value)?;
    }
    Ok(())
}

/// Steps the open cursor's statement, handing up to `max` rows to `sink`,
/// under the statement timeout (each batch its own); `true` once the
/// statement ended, when the cursor is closed, as it is after an error.
pub(super) fn rows(conn: &mut LiteConn, sink: RowSink<'_>, max: usize) -> Result<bool> {
    let this = &*conn;
    let mut stopped = None;
    this.deadline.arm(this.statement_timeout);
    let stepped = this.cell.with_dependent(|_, prepared| {
        let mut cursor = prepared.cursor.borrow_mut();
        let Some(open) = cursor.as_mut() else {
            return Ok(true);
        };
        // Not dropped while the statement goes on: its drop resets it.
        let mut rows = ManuallyDrop::new(open.kept.st.raw_query());
        for _ in 0..max {
            // At its end or an error, SQLite has reset the statement.
            let Some(r) = rows.next()? else {
                return Ok(true);
            };
            let of = (&open.sql, open.positional, &open.kept.names_checked);
            if let Err(e) = open.handed.hand(this, of, r, sink)? {
                stopped = Some(e);
                return Ok(true);
            }
        }
        Ok(false)
    });
    let stepped = stepped.map_err(|e| this.error(e));
    this.deadline.arm(None);
    match (stepped, stopped) {
        (Ok(false), None) => Ok(false),
        (Ok(_), None) => {
            close(conn);
            Ok(true)
        }
        (Err(e), _) | (Ok(_), Some(e)) => {
            close(conn);
            Err(e)
        }
    }
}

/// Closes the open cursor, if any: its statement is reset (stopped, if it
/// had rows left), its text and blobs let go of, and it goes back among the
/// kept statements; the last row's buffers are kept for the next statement.
pub(super) fn close(conn: &mut LiteConn) {
    conn.cursor_open = false;
    let this = &*conn;
    this.cell.with_dependent(|_, prepared| {
        let Some(mut open) = prepared.cursor.borrow_mut().take() else {
            return;
        };
        drop(open.kept.st.raw_query());
        if open.copied {
            open.kept.st.clear_bindings();
        }
        open.handed.finish(this);
        prepared.kept.borrow_mut().insert(&open.sql, open.kept);
    });
}
