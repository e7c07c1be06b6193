//! Operations written once, driven twice.
//!
//! A [`Plan`] is a small state machine: it yields the next statement to run
//! ([`Step::Run`]) and consumes its result ([`Reply`]), until it yields its
//! output ([`Step::Done`]). Everything an operation decides (which SQL, what
//! to do on a unique violation, how to decode) lives in the plan; the
//! blocking half's [`drive_sync`] and the async half's [`drive_async`] only
//! move statements and replies, so the two halves cannot drift apart.

mod combinators;
mod drive;
mod sink;
mod step;

pub(crate) use combinators::{Atomically, Either, Map, NoPlan, One, ReadOnly, Summed, either};
pub(crate) use drive::{Target, Traced, drive_async, drive_sync};
#[cfg(feature = "sqlite")]
pub(crate) use sink::feed;
pub(crate) use sink::{CopyIo, RowSink, Sink, keep_rows, next_row};
pub(crate) use step::{
    Action, CopyChunk, CopyIn, Plan, Reply, Step, forward_hooks, forward_rows, replayed, slotted,
    taken,
};
