//! The Manager operations, each a [`Plan`](crate::plan::Plan) written
//! once: reading models out of rows ([`collect`]), the reads, the writes,
//! the races of `get_or_create` and `create_or_get`, upserts, the schema calls, the
//! queries `execute_query` runs ([`executable`]), PostgreSQL's COPY
//! ([`copy`]), and the methods both halves get over them ([`methods`]).

mod alter;
mod collect;
mod copy;
mod executable;
mod fetch;
mod methods;
mod races;
mod reads;
mod recursive;
mod returning;
mod schema;
mod upserts;
mod writes;

pub use copy::CopyRow;
pub use executable::Executable;
pub use fetch::Fetchable;
pub use methods::{AsyncExecutor, MANAGER_OPERATIONS, SyncExecutor};
