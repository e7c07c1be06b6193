//! The open transactions and sessions of the async half: the connection
//! each holds and its levels ([`AsyncTxShared`]), and which calls join them
//! ([`Scope`], [`plain_scope`]): a closure scope's in its future, a guard's
//! in the task that began it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::BackendKind;
use crate::error::Result;
use crate::plan::{NoPlan, Plan, Target, drive_async};
use crate::pool::{AsyncSlot, Lease};
use crate::transaction::{Guards, Levels, Opener, Owner, Turn, TxOp, aborted, finished};

/// The connection of a transaction, or of a pinned session, shared by its
/// levels and its scope.
pub(crate) struct AsyncTxShared {
    db_id: u64,
    pub(crate) kind: BackendKind,
    /// A pinned session (level 0, no transaction of its own), not a
    /// transaction: at its end the connection is reset, not committed.
    pub(crate) session: bool,
    /// Behind an `Arc` so that a row stream's cursor can hold it locked
    /// for the stream's life ([`open_cursor`](Self::open_cursor)).
    pub(crate) lease: Arc<tokio::sync::Mutex<Option<Lease>>>,
    pub(crate) meta: Mutex<Meta>,
    /// Woken when a level closes: statements and sub-blocks waiting for
    /// their turn ([`Levels::turn`]) look again.
    pub(crate) turn: tokio::sync::Notify,
    /// Row streams open on the transaction: its other statements are
    /// refused meanwhile ([`crate::RowStream`]).
    pub(crate) streams: Arc<AtomicUsize>,
}

pub(crate) struct Meta {
    pub(crate) levels: Levels,
    /// Rollbacks of savepoints dropped uncommitted, run before the next
    /// statement (a destructor cannot await).
    pub(crate) pending: Vec<TxOp>,
}

pub(crate) fn meta(m: &Mutex<Meta>) -> MutexGuard<'_, Meta> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a call runs inside a transaction: the transaction, and the level
/// the call speaks for (its statements wait while a sibling block holds a
/// deeper one).
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) tx: Arc<AsyncTxShared>,
    pub(crate) level: u32,
}

tokio::task_local! {
    /// The closure scopes open in this task, innermost last.
    static SCOPES: Vec<Scope>;
}

/// Where a call through the plain handle of database `db_id` runs: the
/// innermost guard this task began inside its closure scope (or outside
/// any), else the innermost closure scope of this future, else `None`
/// (outside transactions).
pub(crate) fn plain_scope(db_id: u64, guards: &Guards<AsyncTxShared>) -> Option<Scope> {
    let scope = SCOPES
        .try_with(|s| s.iter().rev().find(|t| t.tx.db_id == db_id).cloned())
        .ok()
        .flatten();
    let below = scope.as_ref().map_or(0, |s| s.level);
    match guards.innermost(Owner::task, scope.as_ref().map(|s| &s.tx), below) {
        Some((tx, level)) => Some(Scope { tx, level }),
        None => scope,
    }
}

pub(crate) async fn in_scope<F: Future>(scope: Scope, fut: F) -> F::Output {
    let mut scopes = SCOPES.try_with(|s| s.clone()).unwrap_or_default();
    scopes.push(scope);
    SCOPES.scope(scopes, fut).await
}

impl Scope {
    pub(crate) async fn drive<P: Plan>(&self, plan: P) -> Result<P::Output> {
        self.tx.drive(self.level, plan).await
    }

    /// True inside a transaction; false at a pinned session's own level.
    pub(crate) fn in_transaction(&self) -> bool {
        self.level >= 1
    }
}

/// Closes a level in the bookkeeping when dropped, whether its closing
/// statements finished or their future was dropped mid-way (the connection
/// is then marked busy, and the transaction can only be rolled back).
pub(crate) struct CloseLevel<'a> {
    pub(crate) tx: &'a AsyncTxShared,
    pub(crate) level: u32,
}

impl Drop for CloseLevel<'_> {
    fn drop(&mut self) {
        meta(&self.tx.meta).levels.close(self.level);
        self.tx.turn.notify_waiters();
    }
}

impl AsyncTxShared {
    pub(crate) fn new(db_id: u64, kind: BackendKind, lease: Lease, levels: Levels) -> Arc<Self> {
        Arc::new(AsyncTxShared {
            db_id,
            kind,
            session: levels.floor() == 0,
            lease: Arc::new(tokio::sync::Mutex::new(Some(lease))),
            meta: Mutex::new(Meta {
                levels,
                pending: Vec::new(),
            }),
            turn: tokio::sync::Notify::new(),
            streams: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The transaction's connection, once statements of `level` may run on
    /// it ([`Levels::turn`]); waits while a sibling block holds a deeper level.
    async fn lock_turn(
        &self,
        level: u32,
        closing: bool,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<Lease>>> {
        if self.streams.load(Ordering::Acquire) > 0 {
            // The stream holds the connection until its reader is done:
            // waiting here would wait for ourselves (tests/streaming.rs).
            return Err(crate::stream::stream_open());
        }
        loop {
            let lease = self.lease.clone().lock_owned().await;
            let turn = || meta(&self.meta).levels.turn(level, closing);
            match turn() {
                Turn::Go => return Ok(lease),
                Turn::Refuse(e) => return Err(e),
                Turn::Wait => {}
            }
            // Listening, then looking again: a level that closed in between
            // is seen, one that closes after wakes this.
            let notified = self.turn.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if !matches!(turn(), Turn::Wait) {
                continue;
            }
            drop(lease);
            notified.await;
        }
    }

    /// Runs statements on the locked connection: first any pending
    /// savepoint rollbacks, then `ops`, then the plan.
    async fn run_on<P: Plan>(
        &self,
        lease: &mut Option<Lease>,
        ops: &[TxOp],
        plan: Option<P>,
    ) -> Result<Option<P::Output>> {
        let slot = self.ready_slot(lease, ops).await?;
        let out = match plan {
            // Boxed: this future is part of every async call's, in or
            // out of a transaction (`AsyncDb::drive`); inline, it made
            // them all larger, and each is moved twice per call.
            Some(mut plan) => {
                let out = Box::pin(drive_async(Target::Owned(&mut *slot.conn), &mut plan)).await;
                // A session's plan that began a transaction of its own
                // and could not end it: rolled back at the session's end.
                slot.in_tx |= plan.left_open();
                out.map(Some)
            }
            None => Ok(None),
        };
        slot.busy = false;
        out
    }

    /// The locked connection's slot, marked busy, once any pending
    /// savepoint rollbacks and then `ops` have run on it. `busy` stays set
    /// only if this future (or its caller's, before it clears it) is
    /// dropped mid-way; a failed statement leaves the slot idle.
    async fn ready_slot<'l>(
        &self,
        lease: &'l mut Option<Lease>,
        ops: &[TxOp],
    ) -> Result<&'l mut AsyncSlot> {
        let slot = lease.as_mut().ok_or_else(finished)?.slot()?;
        if slot.busy {
            return Err(aborted());
        }
        let pending = std::mem::take(&mut meta(&self.meta).pending);
        slot.busy = true;
        for op in pending.iter().chain(ops) {
            if let Err(e) = slot.conn.execute(op.stmt(self.kind)).await {
                slot.busy = false;
                return Err(e);
            }
        }
        Ok(slot)
    }

    /// Opens `stmt` as a cursor on the transaction's connection for a row
    /// stream of `level` (`AsyncConn::open_cursor`), after any pending
    /// savepoint rollbacks. The connection stays locked by the guard
    /// returned, and `shelf` counts the stream as open (the transaction's
    /// other statements are refused) until the stream closes the cursor.
    /// The connection is left busy while the cursor is open: a stream
    /// forgotten without its drop leaves the transaction only to roll back.
    pub(crate) async fn open_cursor<T>(
        &self,
        level: u32,
        stmt: crate::statement::Stmt,
        shelf: &crate::stream::Shelf<T>,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<Lease>>> {
        let mut lease = self.lock_turn(level, false).await?;
        let slot = self.ready_slot(&mut lease, &[]).await?;
        let opened = slot.conn.open_cursor(stmt).await;
        // Refused by the server, the connection is as clean as before.
        slot.busy = opened.is_ok();
        opened?;
        // Counted under the lock, where statements look for it.
        shelf.started();
        Ok(lease)
    }

    pub(crate) async fn drive<P: Plan>(&self, level: u32, plan: P) -> Result<P::Output> {
        let mut lease = self.lock_turn(level, false).await?;
        self.run_on(&mut lease, &[], Some(plan))
            .await?
            .ok_or_else(finished)
    }

    /// Opens a savepoint inside `parent` once `parent` is the innermost
    /// level; the new level.
    pub(crate) async fn open_savepoint(&self, parent: u32, opener: Opener) -> Result<u32> {
        let mut lease = self.lock_turn(parent, false).await?;
        self.run_on::<NoPlan>(&mut lease, &[TxOp::open(parent + 1)], None)
            .await?;
        Ok(meta(&self.meta).levels.open(parent, opener))
    }

    /// Commits or rolls back `level` and every level inside it. For the
    /// transaction itself, the connection then goes back to the pool: after
    /// a failed COMMIT, rolled back (SQLite keeps the transaction open after
    /// one), or closed if that fails too. A session's own level ends the
    /// session ([`end_session`](Self::end_session)).
    pub(crate) async fn close(&self, level: u32, commit: bool) -> Result<()> {
        let _closed = CloseLevel { tx: self, level };
        let mut lease = self.lock_turn(level, true).await?;
        if self.session && level == 0 {
            return self.end_session(&mut lease).await;
        }
        let ops = if commit {
            vec![TxOp::commit(level)]
        } else {
            TxOp::rollback(level)
        };
        let result = self
            .run_on::<NoPlan>(&mut lease, &ops, None)
            .await
            .map(drop);
        if !self.session
            && level == 1
            && let Some(mut l) = lease.take()
        {
            let slot = l.slot()?;
            match (&result, commit) {
                (Ok(()), _) => slot.in_tx = false,
                (Err(_), true) if !slot.busy => {
                    if slot.roll_back().await.is_err() {
                        l.discard();
                    }
                }
                (Err(_), _) => l.discard(),
            }
        }
        result
    }

    /// Ends a pinned session: a transaction left open in it is rolled back,
    /// the session reset (its settings, temporary tables, locks and
    /// listens: [`reset_session`](crate::backend::AsyncConn::reset_session)),
    /// and the connection given back; if that fails, it is closed instead.
    async fn end_session(&self, lease: &mut Option<Lease>) -> Result<()> {
        let Some(mut l) = lease.take() else {
            return Err(finished());
        };
        let open = meta(&self.meta).levels.innermost().is_some_and(|n| n > 0);
        let slot = l.slot()?;
        if slot.busy {
            l.discard();
            return Err(aborted());
        }
        slot.busy = true;
        let reset = async {
            if open || slot.in_tx {
                slot.conn
                    .execute(crate::transaction::rollback_stmt())
                    .await?;
            }
            slot.conn.reset_session().await
        }
        .await;
        slot.busy = false;
        slot.in_tx = false;
        if reset.is_err() {
            l.discard();
        }
        reset
    }
}
