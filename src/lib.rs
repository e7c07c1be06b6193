//! # dualdb
//!
//! One database handle, two halves: a blocking half for setup scripts and
//! legacy synchronous code, and an async half for request handlers, over
//! PostgreSQL, MySQL/MariaDB and SQLite. The Rust answer to Python's
//! peewee-async, for moving a sync codebase to async one function at a time.
//!
//! ```
//! use dualdb::{Database, SyncCheck};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = Database::open("sqlite::memory:")?;
//! db.sync().execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", &[])?;
//! db.set_allow_sync(SyncCheck::Error); // from here on, only the async half
//! db.aio().execute("INSERT INTO t (name) VALUES (?)", &[&"ada"]).await?;
//! let row = db.aio().query_one("SELECT name FROM t", &[]).await?;
//! assert_eq!(row.get::<String>("name")?, "ada");
//! # Ok::<(), dualdb::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Guide
//!
//! **Opening.** [`Database::open`] takes `postgres://…`, `mysql://…`,
//! `sqlite://path` or `sqlite::memory:`; [`Database::builder`] sets pool
//! sizes and every timeout ([`Builder`]). Nothing connects until the first
//! call (or `connect()`); `close()` drains a half's pool and the next call
//! reconnects. A `Database` is cheap to clone and shared by both halves.
//!
//! **The two halves.** [`Database::sync`] ([`SyncDb`]) blocks; it runs on
//! `tokio-postgres` (driven on a runtime of its own), `mysql` and `rusqlite`
//! connections pooled for threaded code.
//! [`Database::aio`] ([`AsyncDb`]) returns futures; it runs on
//! `tokio-postgres` (a few connections shared and pipelined between tasks
//! outside transactions), `mysql_async`, and `rusqlite` on Tokio's blocking
//! threads. Every method has the same name on both, so moving a function to
//! async means `sync()` becoming `aio()` and an `.await` after each call.
//! A blocking call made inside a Tokio runtime never panics (it moves off the
//! worker, or onto a helper thread on a current-thread runtime).
//!
//! **`allow_sync`.** [`SyncCheck`] is checked on every blocking call: `Off`,
//! `Warn` (a `tracing` warning with the caller's file and line) or `Error`
//! ([`ErrorKind::SyncNotAllowed`] before any I/O). [`Database::allow_sync`]
//! is a guard that lets blocking calls through on its thread, for setup and
//! cleanup code.
//!
//! **Models.** `#[derive(Model)]` maps a struct to a table and gives each
//! field a typed column constant for filters (`User::NAME.eq("ada")`). The
//! Manager operations of peewee-async exist on both halves and inside
//! transactions: `get`, `get_or_none`, `create`, `update`, `update_only`,
//! `delete`, `delete_recursive`, `get_or_create`, `create_or_get`,
//! `execute_query`, `prefetch`, `count`, `exists`, `scalar`, `raw`, and the
//! schema calls. See [`model`].
//!
//! ```
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug, Clone, PartialEq)]
//! struct User {
//!     #[model(primary_key, auto)]
//!     id: i64,
//!     #[model(unique, max_length = 40)]
//!     name: String,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = Database::open("sqlite::memory:")?;
//! db.sync().create_table::<User>()?;                       // setup: blocking
//! let ada = db.aio().create(User { id: 0, name: "ada".into() }).await?;
//! let (same, created) = db.aio().get_or_create(User::NAME.eq("ada"), || unreachable!()).await?;
//! assert!(!created && same == ada);
//! # Ok::<(), dualdb::Error>(())
//! # }).unwrap();
//! ```
//!
//! **Transactions.** `atomic`, `transaction` and `savepoint` take a closure
//! (committed on `Ok`, rolled back on `Err`, panic or, on the async half,
//! cancellation); `begin()` returns a guard ([`SyncTx`], [`AsyncTx`]) that
//! rolls back when dropped. Calls through the plain handle in the same task
//! (async) or thread (blocking) join the open scope or guard; spawned tasks
//! do not. Sub-blocks started at once in one task take turns, each in its
//! own savepoint.
//! No connection goes back to a pool inside a transaction or mid-statement.
//!
//! **Types.** [`types`] lists what maps to what on each backend: integers,
//! floats, exact decimals ([`types::Numeric`], `rust_decimal`), text, bytes,
//! dates and times (`chrono`, `time`), UUIDs, JSON, PostgreSQL arrays,
//! `hstore` and enums (`#[derive(SqlEnum)]`). Columns decode through
//! [`FromSql`] from a [`Row`]; parameters bind through [`ToSql`].
//!
//! **Errors.** One [`Error`] with a [`kind`](Error::kind) to branch on and
//! the server's [`code`](Error::code); no password ever appears in an error,
//! a `Debug` print or a log line.
//!
//! **Observability.** Each statement runs in a `tracing` span (target
//! `dualdb::sql`) with its SQL, rows and duration, never its values;
//! `status()` on either half gives the pool's [`PoolStatus`].
//!
//! **Features.** `postgres`, `mysql`, `sqlite` (default: all three), `uuid`,
//! `chrono`, `time`, `decimal`, `json`, `tls` (rustls, verified).
//!
//! Raw SQL uses the backend's own placeholders: `$1` on PostgreSQL, `?` on
//! MySQL and SQLite (which also takes `$1`, bound by its number).

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The derive names `::dualdb`; this lets the crate use it on itself (tests).
extern crate self as dualdb;

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!("enable at least one of the features `postgres`, `mysql`, `sqlite`");

mod async_db;
mod async_pool;
mod async_tx;
mod backend;
pub mod config;
mod database;
mod error;
pub mod model;
// SQLite alone needs only the count check; the lexer serves the servers.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
mod placeholders;
pub mod policy;
mod pool;
pub mod row;
mod runtime;
mod statement;
mod sync_db;
mod sync_tx;
#[cfg(all(feature = "tls", any(feature = "postgres", feature = "mysql")))]
mod tls;
mod transaction;
pub mod types;
pub mod value;

pub use async_db::AsyncDb;
pub use async_tx::AsyncTx;
pub use config::{BackendKind, Builder, Config};
pub use database::Database;
pub use error::{Error, ErrorKind, Result};
pub use model::{Column, Filter, Model, ModelRow, Select};
pub use policy::{AllowSyncGuard, SyncCheck};
pub use pool::PoolStatus;
pub use row::FromRow;
pub use row::Row;
pub use sync_db::SyncDb;
pub use sync_tx::SyncTx;
pub use value::{FromSql, ToSql, Value, ValueRef};

/// `#[derive(Model)]`: see [`Model`] and [`dualdb_derive::Model`].
pub use dualdb_derive::Model;

/// `#[derive(SqlEnum)]`: a Rust enum of unit variants stored as text.
///
/// Each variant is stored as its name in snake case, or as
/// `#[sql(rename = "…")]`; the text suits a `TEXT` column, a MySQL `ENUM` and
/// a PostgreSQL enum type. Text that names no variant is a
/// [`Decode`](ErrorKind::Decode) error.
///
/// ```
/// use dualdb::{Database, SqlEnum};
///
/// #[derive(SqlEnum, Debug, PartialEq)]
/// enum Mood {
///     Happy,
///     #[sql(rename = "so-so")]
///     SoSo,
/// }
///
/// let db = Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT ? AS a, 'happy' AS b", &[&Mood::SoSo]).unwrap();
/// assert_eq!(row.get::<String>("a").unwrap(), "so-so");
/// assert_eq!(row.get::<Mood>("b").unwrap(), Mood::Happy);
/// assert_eq!(Mood::SQL_NAMES, ["happy", "so-so"]);
/// ```
pub use dualdb_derive::SqlEnum;

#[doc(hidden)]
pub mod __private {
    pub use crate::model::ops::MANAGER_OPERATIONS;
    pub use inventory;
}
