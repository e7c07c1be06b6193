//! PostgreSQL's shared connections: statements of many tasks pipelined on a
//! few connections, outside transactions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::backend::{Backend, connect_within};
use crate::config::Lifetimes;
use crate::error::{Error, ErrorKind, Result};

/// The shared connections of the async half (PostgreSQL): statements outside
/// transactions go to the one with the fewest statements in flight (among
/// equals, the first) and are pipelined there, so many tasks need few
/// connections and no checkout. A broken one is replaced on its next use.
///
/// Fewest in flight rather than strictly in turn: a statement does not queue
/// behind a slow one on a busy connection while another is free. Among
/// equals the first, not the next in turn: one task's statements in a row
/// stay on one connection and one server process, as on a raw client, and a
/// lightly loaded application opens one connection, not all of them. Taking
/// turns sent a lone task's statements round every server process, each
/// with cold caches (`benches/paired.rs`, PostgreSQL's async get, guards it;
/// BENCHMARKS.md has both sides of the measurement).
pub(crate) struct SharedPool {
    backend: Arc<dyn Backend>,
    connect_timeout: Duration,
    /// A shared connection past its maximum lifetime is replaced at its
    /// next use.
    lifetimes: Lifetimes,
    slots: Vec<SharedSlot>,
}

/// A shared connection, and when it was opened if its age matters.
type Opened = (
    Arc<dyn crate::backend::SharedConn>,
    Option<std::time::Instant>,
);

struct SharedSlot {
    conn: std::sync::RwLock<Option<Opened>>,
    /// One connect at a time per slot; the count of attempts made, and the
    /// failure of the last if it failed. Callers that waited while an
    /// attempt ran take its outcome instead of making one of their own, so
    /// that no caller waits for more than one attempt (tests/connect.rs
    /// `many_callers_against_a_silent_server_each_wait_one_connect_timeout`).
    connecting: tokio::sync::Mutex<(u64, Option<Error>)>,
    /// Statements running on this slot's connection now.
    in_flight: AtomicUsize,
}

/// A shared connection lent to one plan's statements, counted in its
/// slot's `in_flight` until dropped.
pub(crate) struct SharedLease<'p> {
    pub(crate) conn: Arc<dyn crate::backend::SharedConn>,
    _count: InFlight<'p>,
}

/// One count in a slot's `in_flight`, given back when dropped (also when a
/// connect fails or its future is dropped).
struct InFlight<'p>(&'p SharedSlot);

impl<'p> InFlight<'p> {
    fn new(slot: &'p SharedSlot) -> Self {
        slot.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(slot)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SharedPool {
    /// `size` shared connections if the backend has them, else none.
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        size: usize,
        connect_timeout: Duration,
        lifetimes: Lifetimes,
    ) -> Self {
        let size = if backend.connect_shared().is_some() {
            size
        } else {
            0
        };
        SharedPool {
            backend,
            connect_timeout,
            lifetimes,
            slots: (0..size)
                .map(|_| SharedSlot {
                    conn: std::sync::RwLock::new(None),
                    connecting: tokio::sync::Mutex::new((0, None)),
                    in_flight: AtomicUsize::new(0),
                })
                .collect(),
        }
    }

    /// The slot's connection, if it is usable and not past its lifetime
    /// (in-flight statements on a replaced one finish on it: each holds it).
    fn current(&self, slot: &SharedSlot) -> Option<Arc<dyn crate::backend::SharedConn>> {
        let conn = slot.conn.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (conn, born) = conn?;
        (conn.is_usable() && !self.lifetimes.outlived(born)).then_some(conn)
    }

    /// The shared connection with the fewest statements in flight, opened
    /// if needed; `None` if the backend has none.
    pub(crate) async fn get(&self) -> Option<Result<SharedLease<'_>>> {
        // `min_by_key` keeps the first of equals.
        let slot = (self.slots.iter()).min_by_key(|s| s.in_flight.load(Ordering::Relaxed))?;
        let count = InFlight::new(slot);
        Some(self.ready(slot).await.map(|conn| SharedLease {
            conn,
            _count: count,
        }))
    }

    /// The slot's connection, opened if it has none or a broken one.
    async fn ready(&self, slot: &SharedSlot) -> Result<Arc<dyn crate::backend::SharedConn>> {
        if let Some(c) = self.current(slot) {
            return Ok(c);
        }
        // Boxed: the connect's timer and lock would otherwise be in every
        // statement's future.
        Box::pin(self.reopen(slot)).await
    }

    /// Opens the slot's connection, one connect at a time: a caller that
    /// waited while another's attempt ran takes that attempt's outcome, and
    /// none waits longer than the connect timeout for the attempt to end.
    async fn reopen(&self, slot: &SharedSlot) -> Result<Arc<dyn crate::backend::SharedConn>> {
        let made = match slot.connecting.try_lock() {
            Ok(state) => state.0,
            Err(_) => u64::MAX, // an attempt is under way: its outcome is ours
        };
        let limit = self.connect_timeout;
        let mut state = connect_within(limit, async { Ok(slot.connecting.lock().await) }).await?;
        if let Some(c) = self.current(slot) {
            return Ok(c);
        }
        if made != state.0
            && let Some(failed) = &state.1
        {
            return Err(failed.copy());
        }
        let connect = self
            .backend
            .connect_shared()
            .ok_or_else(|| Error::new(ErrorKind::Usage, "no shared connections here"))?;
        let opened = connect_within(limit, connect).await;
        state.0 += 1;
        let conn = opened.inspect_err(|e| state.1 = Some(e.copy()))?;
        state.1 = None;
        let born = self.lifetimes.birth();
        *slot.conn.write().unwrap_or_else(|e| e.into_inner()) = Some((conn.clone(), born));
        Ok(conn)
    }

    /// Opens the first shared connection now.
    pub(crate) async fn connect(&self) -> Option<Result<()>> {
        Some(self.ready(self.slots.first()?).await.map(drop))
    }

    /// Drops every shared connection; statements in flight finish on theirs.
    pub(crate) fn close(&self) {
        for slot in &self.slots {
            slot.conn.write().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Shared connections open now.
    pub(crate) fn open(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| self.current(s).is_some())
            .count()
    }
}
