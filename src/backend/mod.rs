//! The two thin adapters per backend. Each moves statements and rows and
//! nothing else; everything else (policy, pools, row-count rules, value
//! conversion) is shared.
//!
//! Two layers: each backend's rows and values (`row.rs`, `postgres/types.rs`,
//! `mysql/row.rs`, `sqlite/rows.rs`) sit below the neutral row and the plans,
//! which read them through [`RowRead`](crate::row::RowRead); the connections
//! ([`conn`]'s traits) sit above the plans, whose rows they hand to a
//! sink (`plan/sink.rs`).

use std::sync::Arc;

use crate::config::{BackendKind, Config};
use crate::error::Result;

#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

mod cache;
mod conn;
mod row;
mod setup;
pub(crate) use cache::StmtCache;
pub(crate) use conn::{
    AsyncConn, Backend, BoxFuture, NotifyConn, SharedConn, SyncConn, connect_within,
};
pub(crate) use row::{DriverRow, InPlaceRow};

/// The backend the config names, if its feature is compiled in.
pub(crate) fn open(config: &Config) -> Result<Arc<dyn Backend>> {
    let backend: Arc<dyn Backend> = match config.kind {
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => Arc::new(postgres::PgBackend::new(config)?),
        #[cfg(feature = "mysql")]
        BackendKind::Mysql => Arc::new(mysql::MyBackend::new(config)?),
        #[cfg(feature = "sqlite")]
        BackendKind::Sqlite => Arc::new(sqlite::LiteBackend::new(config)?),
        #[allow(unreachable_patterns)]
        other => {
            return Err(crate::Error::config(format!(
                "dualdb was built without the `{other}` feature"
            )));
        }
    };
    Ok(setup::WithSetup::wrap(
        backend,
        config.after_connect.clone(),
    ))
}
