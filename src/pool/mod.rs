//! Connection pools of both halves and their statistics.
//!
//! - The blocking half uses [`BlockingPool`] ([`blocking`]).
//! - The async half lends exclusive connections from an [`AsyncPool`]
//!   ([`exclusive`]) for transactions, and on every backend but PostgreSQL
//!   for everything; on PostgreSQL, statements outside transactions go to
//!   a [`SharedPool`] ([`shared`]) of pipelined connections.
//!
//! On both, a connection goes back to the pool only if the last operation on
//! it finished and the driver still calls it usable; anything else (a future
//! dropped mid-query, a broken socket, a panic) discards it.

mod atomic_box;
mod blocking;
mod exclusive;
mod shared;
mod slot;
mod status;

pub(crate) use blocking::{BlockingPool, PooledConn};
pub(crate) use exclusive::{AsyncPool, GetError, Lease};
pub(crate) use shared::SharedPool;
pub(crate) use slot::AsyncSlot;
pub use status::PoolStatus;
