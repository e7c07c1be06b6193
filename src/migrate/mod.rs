//! Versioned migrations for setup scripts and services: a [`Migrator`] of
//! [`Migration`]s, embedded at compile time by [`migrate!`](crate::migrate!)
//! from a folder of `NNNN_name.up.sql` / `NNNN_name.down.sql` files (with
//! `NNNN_name.postgres.up.sql`, `.mysql.`, `.sqlite.` variants where the SQL
//! differs), or written in Rust for data migrations; run by
//! `db.sync().migrate(&MIGRATOR)` or `db.aio().migrate(&MIGRATOR).await`.
//!
//! What a run does, on every backend:
//! - it takes the migrations lock (PostgreSQL: a session advisory lock;
//!   MySQL/MariaDB: `GET_LOCK`; SQLite: each migration's `BEGIN IMMEDIATE`),
//!   so that runners started at once apply each migration exactly once;
//! - it keeps a record table, `dualdb_migrations` (version, name, checksum,
//!   applied_at, duration_ms, success), and refuses, before applying
//!   anything, a migration applied from a text that changed since (unless
//!   [`Migrator::allow_changed`]), a record left dirty by a migration that
//!   failed part-way, an applied version the migrator no longer has, and a
//!   pending migration older than an applied one;
//! - it applies each pending migration in a transaction of its own with its
//!   record (PostgreSQL, SQLite; a file whose first line is
//!   `-- dualdb:no-transaction` runs outside one, for `CREATE INDEX
//!   CONCURRENTLY`). MySQL commits DDL as it goes, so there a migration's
//!   record is written first as not successful and marked successful at the
//!   end: one that fails half-way stays dirty, and the next run refuses
//!   until [`migrate_resolve`](crate::SyncDb::migrate_resolve) says what the
//!   schema is.
//!
//! A script is split into statements at each `;` outside literals, quoted
//! identifiers, dollar-quoted bodies, comments and `BEGIN … END` blocks, and
//! each runs as written through the backend's text protocol (no
//! placeholders: a `?` stays SQL); an error names the file, the line the
//! statement starts on and the server's message.
//!
//! ```
//! use dualdb::migrate::{Migration, Migrator, SqlFile};
//! use dualdb::{Database, SyncTx};
//!
//! fn seed(tx: &mut SyncTx<'_>) -> dualdb::Result<()> {
//!     tx.execute("INSERT INTO note (body) VALUES ('hello')", &[])?;
//!     Ok(())
//! }
//!
//! static MIGRATOR: Migrator = Migrator::new(&[
//!     Migration::sql(1, "create_note", &[SqlFile::any(
//!         "0001_create_note.up.sql",
//!         "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
//!     )])
//!     .with_down(&[SqlFile::any("0001_create_note.down.sql", "DROP TABLE note;")]),
//!     Migration::rust(2, "seed", seed),
//! ]);
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let ran = db.sync().migrate(&MIGRATOR).unwrap();
//! assert_eq!(ran.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
//! assert!(db.sync().migrate(&MIGRATOR).unwrap().is_empty()); // nothing pending
//! let n: i64 = db.sync().query_one("SELECT COUNT(*) FROM note", &[]).unwrap().get(0).unwrap();
//! assert_eq!(n, 1);
//! ```

mod record;
mod run;

pub use run::{MigrationState, MigrationStatus, Ran, Resolution};

use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::sync_tx::SyncTx;

/// A migration written in Rust: given the transaction it runs in (the
/// blocking half's, on either half: [`AsyncDb::migrate`](crate::AsyncDb::migrate)
/// runs migrations on a blocking thread), so one function serves both.
pub type RustStep = fn(&mut SyncTx<'_>) -> Result<()>;

/// The ordered migrations of an application, and how to run them.
#[derive(Debug, Clone, Copy)]
pub struct Migrator {
    migrations: &'static [Migration],
    allow_changed: bool,
    ignore_missing: bool,
}

impl Migrator {
    /// The migrations, in ascending version order (the runner checks it,
    /// and [`migrate!`](crate::migrate!) at compile time).
    pub const fn new(migrations: &'static [Migration]) -> Self {
        Migrator {
            migrations,
            allow_changed: false,
            ignore_missing: false,
        }
    }

    /// Runs even where an applied migration's text changed since (its
    /// record keeps the checksum it was applied with).
    pub const fn allow_changed(mut self) -> Self {
        self.allow_changed = true;
        self
    }

    /// Runs even where the record table has versions this migrator does not
    /// (a deploy of older code against a newer schema).
    pub const fn ignore_missing(mut self) -> Self {
        self.ignore_missing = true;
        self
    }

    /// The migrations, in version order.
    pub fn migrations(&self) -> &'static [Migration] {
        self.migrations
    }

    /// The refusal of a migrator whose versions are not ascending and
    /// positive, or a migration with no up script for `kind`: before any
    /// I/O.
    pub(crate) fn check(&self, kind: BackendKind) -> Result<()> {
        let mut last = 0;
        for m in self.migrations {
            if m.version <= last {
                return Err(refused(format!(
                    "migration versions must be positive and ascending: {} follows {last}",
                    m.version
                )));
            }
            last = m.version;
            m.up.file(kind, m)?;
        }
        Ok(())
    }

    pub(crate) fn find(&self, version: i64) -> Option<&'static Migration> {
        self.migrations.iter().find(|m| m.version == version)
    }
}

/// One version of the schema: its up script, and the down script that
/// undoes it (for [`migrate_revert_to`](crate::SyncDb::migrate_revert_to)).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version, unique and ascending (the file's `NNNN`).
    pub version: i64,
    /// The name (the file's `_name`).
    pub name: &'static str,
    /// What applies it.
    pub up: Script,
    /// What undoes it, if anything.
    pub down: Option<Script>,
}

impl Migration {
    /// A migration of SQL files: one for every backend (`SqlFile::any`), or
    /// a file per backend where the SQL differs.
    pub const fn sql(version: i64, name: &'static str, up: &'static [SqlFile]) -> Self {
        Migration {
            version,
            name,
            up: Script::Sql(up),
            down: None,
        }
    }

    /// A migration written in Rust, run in a transaction with its record.
    pub const fn rust(version: i64, name: &'static str, up: RustStep) -> Self {
        Migration {
            version,
            name,
            up: Script::Rust(up),
            down: None,
        }
    }

    /// This migration with SQL that undoes it.
    pub const fn with_down(mut self, down: &'static [SqlFile]) -> Self {
        self.down = Some(Script::Sql(down));
        self
    }

    /// This migration with a Rust function that undoes it.
    pub const fn with_rust_down(mut self, down: RustStep) -> Self {
        self.down = Some(Script::Rust(down));
        self
    }

    /// `NNNN_name`, as the files are named.
    pub(crate) fn label(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }
}

/// What a migration runs: SQL files, or a Rust function.
#[derive(Clone, Copy)]
pub enum Script {
    /// SQL: the file for the backend, or the one for every backend.
    Sql(&'static [SqlFile]),
    /// A Rust function given the migration's transaction.
    Rust(RustStep),
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Script::Sql(files) => f.debug_tuple("Sql").field(files).finish(),
            Script::Rust(_) => f.write_str("Rust"),
        }
    }
}

/// What a script is on one backend.
pub(crate) enum Chosen {
    Sql(&'static SqlFile),
    Rust(RustStep),
}

impl Script {
    /// The file for `kind` (its own, else the one for every backend), or
    /// the Rust function; no file for `kind` is refused.
    pub(crate) fn file(&self, kind: BackendKind, m: &Migration) -> Result<Chosen> {
        match self {
            Script::Rust(f) => Ok(Chosen::Rust(*f)),
            Script::Sql(files) => (files.iter().find(|f| f.backend == Some(kind)))
                .or_else(|| files.iter().find(|f| f.backend.is_none()))
                .map(Chosen::Sql)
                .ok_or_else(|| {
                    refused(format!(
                        "migration {} has no SQL for {kind}: add {}.{}.up.sql or {}.up.sql",
                        m.label(),
                        m.label(),
                        backend_tag(kind),
                        m.label()
                    ))
                }),
        }
    }
}

/// One SQL file of a migration.
#[derive(Debug, Clone, Copy)]
pub struct SqlFile {
    /// The file's name, for messages.
    pub file: &'static str,
    /// The backend it is for; `None`: every backend without a file of its own.
    pub backend: Option<BackendKind>,
    /// Its text.
    pub sql: &'static str,
}

impl SqlFile {
    /// A file for every backend.
    pub const fn any(file: &'static str, sql: &'static str) -> Self {
        SqlFile {
            file,
            backend: None,
            sql,
        }
    }

    /// A file for one backend.
    pub const fn only(backend: BackendKind, file: &'static str, sql: &'static str) -> Self {
        SqlFile {
            file,
            backend: Some(backend),
            sql,
        }
    }

    /// False if the file's first line is `-- dualdb:no-transaction`.
    pub fn in_transaction(&self) -> bool {
        let first = self.sql.trim_start().lines().next().unwrap_or("");
        first.trim() != "-- dualdb:no-transaction"
    }
}

/// The name the files of `kind` carry (`NNNN_name.postgres.up.sql`).
pub(crate) fn backend_tag(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Postgres => "postgres",
        BackendKind::Mysql => "mysql",
        BackendKind::Sqlite => "sqlite",
    }
}

/// A migration refused, or failed: [`ErrorKind::Migration`].
pub(crate) fn refused(message: String) -> Error {
    Error::new(ErrorKind::Migration, message)
}
