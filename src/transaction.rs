//! What both halves' transactions share: the statements that open and close
//! a level (a transaction, or a savepoint inside one), and the scopes that
//! let plain database calls join the transaction of the closure they run in.
//!
//! Levels: level 1 is the transaction (`BEGIN` … `COMMIT`/`ROLLBACK`); level
//! `n > 1` is savepoint `dualdb_sp{n}` (`SAVEPOINT` … `RELEASE`/`ROLLBACK TO`).
//!
//! Scopes: inside `atomic(|tx| …)` (or `transaction`, `savepoint`), calls
//! made through the plain handle of the same database join the scope's
//! transaction: on the blocking half, calls on the same thread; on the async
//! half, calls in the same task. A task spawned inside the closure, or
//! another thread, does not join: it runs on its own connection outside the
//! transaction (peewee-async shares the transaction with spawned tasks, its
//! issue #260; dualdb does not).

use crate::config::BackendKind;
use crate::statement::Stmt;

/// One step of opening or closing a transaction level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxOp {
    Begin,
    Commit,
    Rollback,
    Savepoint(u32),
    Release(u32),
    RollbackTo(u32),
}

impl TxOp {
    pub(crate) fn stmt(self, kind: BackendKind) -> Stmt {
        let sql = match self {
            // SQLite: take the write lock up front, so that two
            // transactions that read then write wait for each other
            // (busy timeout) instead of failing with SQLITE_BUSY.
            TxOp::Begin if kind == BackendKind::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            TxOp::Begin if kind == BackendKind::Mysql => "START TRANSACTION".to_owned(),
            TxOp::Begin => "BEGIN".to_owned(),
            TxOp::Commit => "COMMIT".to_owned(),
            TxOp::Rollback => "ROLLBACK".to_owned(),
            TxOp::Savepoint(n) => format!("SAVEPOINT dualdb_sp{n}"),
            TxOp::Release(n) => format!("RELEASE SAVEPOINT dualdb_sp{n}"),
            TxOp::RollbackTo(n) => format!("ROLLBACK TO SAVEPOINT dualdb_sp{n}"),
        };
        Stmt::bare(sql)
    }

    /// What opens level `level`.
    pub(crate) fn open(level: u32) -> Self {
        if level == 1 {
            TxOp::Begin
        } else {
            TxOp::Savepoint(level)
        }
    }

    /// What commits level `level`.
    pub(crate) fn commit(level: u32) -> Self {
        if level == 1 {
            TxOp::Commit
        } else {
            TxOp::Release(level)
        }
    }

    /// What rolls back level `level`, in order.
    pub(crate) fn rollback(level: u32) -> Vec<Self> {
        if level == 1 {
            vec![TxOp::Rollback]
        } else {
            vec![TxOp::RollbackTo(level), TxOp::Release(level)]
        }
    }
}

/// `ROLLBACK`, the same on every backend.
pub(crate) fn rollback_stmt() -> Stmt {
    TxOp::Rollback.stmt(BackendKind::Postgres)
}

/// How a closure-form transaction relates to one already open in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nesting {
    /// `atomic`: a transaction, or a savepoint inside one.
    Atomic,
    /// `transaction`: a transaction, or, inside one, the same transaction
    /// (peewee flattens nested transaction blocks).
    Transaction,
    /// `savepoint`: a savepoint; outside a transaction, an error.
    Savepoint,
}

pub(crate) fn savepoint_outside_transaction() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "savepoint() needs an open transaction: use atomic() or begin() first",
    )
}

pub(crate) fn finished() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Usage,
        "the transaction is already committed or rolled back",
    )
}

pub(crate) fn aborted() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Query,
        "an operation of this transaction was cancelled mid-way; the transaction can only be rolled back",
    )
}
