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
//! - [`Database`]: open from a URL or a [`Builder`]; [`Database::sync`] and
//!   [`Database::aio`] are the halves, with the same method names.
//! - [`SyncCheck`]: the `allow_sync` policy, checked on every blocking call.
//! - [`Error`] with an [`ErrorKind`]; [`Row`], [`Value`], [`ToSql`], [`FromSql`].
//!
//! Raw SQL uses the backend's own placeholders: `$1` on PostgreSQL, `?` on
//! MySQL and SQLite.

#![warn(missing_docs)]

// The derive names `::dualdb`; this lets the crate use it on itself (tests).
extern crate self as dualdb;

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!("enable at least one of the features `postgres`, `mysql`, `sqlite`");

mod async_db;
mod async_tx;
mod backend;
pub mod config;
mod database;
mod error;
pub mod model;
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
pub use model::{Column, Filter, Model, Select};
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
