#![doc = include_str!("../README.md")]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The derive names `::dualdb`; this lets the crate use it on itself (tests).
extern crate self as dualdb;

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!("enable at least one of the features `postgres`, `mysql`, `sqlite`");

mod async_db;
mod async_scope;
mod async_tx;
mod backend;
pub mod config;
mod database;
mod doc_fixtures;
mod error;
pub mod guide;
pub mod listen;
pub mod migrate;
pub mod model;
mod named;
// SQLite alone needs only the count check; the lexer serves the servers.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
mod placeholders;
mod plan;
pub mod policy;
mod pool;
mod raw_transactions;
pub mod row;
mod runtime;
mod statement;
mod stream;
mod sync_db;
mod sync_scope;
mod sync_tx;
pub mod testing;
mod tls;
mod transaction;
pub mod types;
pub mod value;

pub use async_db::AsyncDb;
pub use async_tx::AsyncTx;
pub use config::{BackendKind, Builder, Config, TlsMode};
pub use database::Database;
pub use error::{Error, ErrorKind, Result};
pub use listen::{ListenEvent, Listener, Notification, SyncListener};
pub use model::ops::{AsyncExecutor, CopyRow, SyncExecutor};
pub use model::{Column, Filter, Model, ModelRow, Select};
pub use named::{Named, NamedValues};
pub use policy::{AllowSyncGuard, SyncCheck};
pub use pool::PoolStatus;
pub use row::FromRow;
pub use row::Row;
pub use stream::{RowIter, RowStream};
pub use sync_db::SyncDb;
pub use sync_tx::SyncTx;
pub use value::{FromSql, ToSql, Value, ValueRef};

/// `#[derive(Model)]`: see [`Model`] and [`dualdb_derive::Model`].
pub use dualdb_derive::Model;

/// `#[derive(FromRow)]`: see [`FromRow`](trait@FromRow) and
/// [`dualdb_derive::FromRow`].
pub use dualdb_derive::FromRow;

/// `migrate!("migrations")`: a folder of migration files, read at compile
/// time into a [`Migrator`](migrate::Migrator) with their texts embedded
/// (no file is read at run time).
///
/// The folder (relative to the crate's `Cargo.toml`) holds
/// `NNNN_name.up.sql` and, optionally, `NNNN_name.down.sql`; a file for one
/// backend (`NNNN_name.postgres.up.sql`, `.mysql.`, `.sqlite.`) is taken
/// there before the generic one. Versions must run on without a gap, one
/// name each: a gap, a duplicate version or a misnamed `.sql` file is a
/// compile error. Rust migrations join the sequence with `rust = [(version,
/// "name", up_fn[, down_fn])]`. An edited file rebuilds the crate; a new
/// file does not until something else does, so add `build.rs` with
/// `println!("cargo:rerun-if-changed=migrations");`.
///
/// ```ignore
/// static MIGRATOR: dualdb::migrate::Migrator = dualdb::migrate!("migrations");
/// db.sync().migrate(&MIGRATOR)?;
/// ```
pub use dualdb_derive::migrate;

/// `#[dualdb::test]`: a test given a fresh database (a
/// [`TestDb`](testing::TestDb) on the backend `DUALDB_TEST_URL` or
/// `DATABASE_URL` names, SQLite in memory otherwise), with the migrations
/// of `migrations = "folder"` applied, dropped when the test ends. The
/// function takes the database as its one argument; an `async fn` runs on
/// a runtime of its own (no Tokio macro needed).
///
/// ```ignore
/// #[dualdb::test(migrations = "migrations")]
/// async fn a_note_is_stored(db: &dualdb::Database) -> dualdb::Result<()> {
///     db.aio().execute("INSERT INTO note (body) VALUES ('x')", &[]).await?;
///     Ok(())
/// }
/// ```
pub use dualdb_derive::test;

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
    pub use crate::row::RowRead;
    pub use crate::row::derived::{
        column, column_named, column_or_default, flattened, take_at, take_named,
    };
    pub use inventory;

    /// The runtime an async `#[dualdb::test]` runs on.
    pub fn test_runtime() -> std::io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
}
