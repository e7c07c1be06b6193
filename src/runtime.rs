//! Running blocking driver calls safely when the caller is inside Tokio.
//!
//! The blocking PostgreSQL half drives its connection with a runtime of its
//! own, which panics ("Cannot start a runtime from within a runtime") when
//! entered from a Tokio task. Every blocking call of
//! dualdb goes through [`run_blocking`]:
//!
//! - outside any runtime, or on a `spawn_blocking` thread: the call runs here;
//! - on a multi-thread runtime: inside [`tokio::task::block_in_place`], which
//!   hands this worker's other tasks to another worker while the call blocks;
//! - on a current-thread runtime (`#[tokio::test]`'s default), where
//!   `block_in_place` is not allowed: on a scoped helper thread, while the
//!   runtime's only thread waits for it.
//!
//! None of these panics. A blocking call from async code still stalls the
//! task that makes it: that is what [`SyncCheck`](crate::SyncCheck) is for.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::{Error, ErrorKind, Result};

/// True where [`run_blocking`] has to hand each call to a helper thread
/// (inside a current-thread runtime): a row iterator then reads its whole
/// statement on one thread of its own rather than a thread a batch.
pub(crate) fn blocking_needs_thread() -> bool {
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
}

/// This thread's number, taken in turn at its first call: distinct from
/// every other thread's, and never `usize::MAX`. The blocking pool's shards
/// and a transaction's lock holder (`src/sync_scope.rs`) go by it. Inlined:
/// the pool reads it on each call (benches/instructions, SQLite's get).
#[inline]
pub(crate) fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| match m.get() {
        usize::MAX => {
            let i = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            m.set(i);
            i
        }
        i => i,
    })
}

/// Runs `f`, which may block, without upsetting a Tokio runtime the caller is in.
pub(crate) fn run_blocking<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| {
            // The helper thread logs into the caller's subscriber and span.
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            let span = tracing::Span::current();
            let handle = std::thread::Builder::new()
                .name("dualdb-blocking".into())
                .spawn_scoped(s, move || {
                    tracing::dispatcher::with_default(&dispatch, || span.in_scope(f))
                })
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Usage,
                        "cannot start a helper thread for a blocking call",
                    )
                    .with_source(e)
                })?;
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }),
    }
}
