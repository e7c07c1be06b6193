//! PostgreSQL through `tokio-postgres`, on both halves: the async half
//! ([`aio`]) and the blocking half ([`blocking`], which drives the same
//! client on a runtime of its own) share connecting ([`connect`]), sending,
//! reading rows and retrying ([`client`]), and the value forms ([`types`]);
//! a LISTEN connection is polled by its owner ([`listen`]).

use std::sync::Arc;

use crate::backend::{AsyncConn, Backend, BoxFuture, NotifyConn, SharedConn, SyncConn};
use crate::error::Result;

mod aio;
mod blocking;
mod client;
mod connect;
mod copy;
mod listen;
pub(crate) mod types;

use aio::PgAsync;
use blocking::PgSync;
pub(crate) use connect::PgBackend;

impl Backend for PgBackend {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        Ok(Box::new(PgSync::connect(self)?))
    }

    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>> {
        Box::pin(async move { Ok(Box::new(PgAsync::connect(self).await?) as Box<dyn AsyncConn>) })
    }

    fn connect_shared(&self) -> Option<BoxFuture<'_, Result<Arc<dyn SharedConn>>>> {
        Some(Box::pin(async move {
            Ok(Arc::new(PgAsync::connect(self).await?) as Arc<dyn SharedConn>)
        }))
    }

    fn connect_notify(&self) -> Option<BoxFuture<'_, Result<Box<dyn NotifyConn>>>> {
        Some(Box::pin(async move {
            Ok(Box::new(listen::PgNotify::connect(self).await?) as Box<dyn NotifyConn>)
        }))
    }
}
