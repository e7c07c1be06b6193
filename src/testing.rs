//! Tests against real servers without boilerplate: [`TestDb`] is a fresh
//! database for one test, on the backend the environment names, with a
//! [`Migrator`]'s migrations applied, dropped when the test ends; the
//! [`#[dualdb::test]`](crate::test) attribute makes one for a test function.
//!
//! The backend is `DUALDB_TEST_URL`'s, else `DATABASE_URL`'s, else SQLite
//! in memory. Fresh means: a schema of its own on PostgreSQL (the URL's
//! `search_path` set to it), a database of its own on MySQL/MariaDB, a file
//! of its own in the temporary directory for a SQLite file URL (a new
//! in-memory database for `sqlite::memory:`); each named
//! `dualdb_test_<process>_<n>`, so that tests run in parallel.
//!
//! ```
//! use dualdb::migrate::{Migration, Migrator, SqlFile};
//! use dualdb::testing::TestDb;
//!
//! static MIGRATOR: Migrator = Migrator::new(&[Migration::sql(1, "note", &[SqlFile::any(
//!     "0001_note.up.sql", "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);",
//! )])]);
//!
//! let db = TestDb::new(&MIGRATOR).unwrap();       // migrated, empty
//! db.sync().execute("INSERT INTO note (id, body) VALUES (1, 'x')", &[]).unwrap();
//! drop(db);                                        // its schema, database or file dropped
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::BackendKind;
use crate::database::Database;
use crate::error::{Error, ErrorKind, Result};
use crate::migrate::Migrator;

/// A fresh, migrated database for one test; dropped with the value. It
/// derefs to [`Database`].
pub struct TestDb {
    db: Database,
    url: String,
    /// What to drop afterwards.
    fresh: Fresh,
}

enum Fresh {
    /// `sqlite::memory:`: gone with its connections.
    Memory,
    /// A SQLite file (and its `-wal`, `-shm`).
    File(std::path::PathBuf),
    /// A PostgreSQL schema, dropped from a connection to `base`.
    Schema { base: String, name: String },
    /// A MySQL/MariaDB database, dropped from a connection to `base`.
    Database { base: String, name: String },
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The URL the environment names for tests.
fn base_url() -> String {
    ["DUALDB_TEST_URL", "DATABASE_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "sqlite::memory:".to_owned())
}

impl TestDb {
    /// A fresh database on the environment's backend with `migrations`
    /// applied, from blocking code (a plain `#[test]`).
    #[track_caller]
    pub fn new(migrations: &Migrator) -> Result<TestDb> {
        let t = Self::fresh(&base_url())?;
        t.db.sync().migrate(migrations)?;
        Ok(t)
    }

    /// The same, from async code.
    pub async fn new_async(migrations: &Migrator) -> Result<TestDb> {
        let base = base_url();
        let t = match tokio::task::spawn_blocking(move || Self::fresh(&base)).await {
            Ok(t) => t?,
            Err(e) => return Err(Error::new(ErrorKind::Other, format!("test database: {e}"))),
        };
        t.db.aio().migrate(migrations).await?;
        Ok(t)
    }

    /// A fresh database on `base`'s server (empty: no migrations).
    pub fn fresh(base: &str) -> Result<TestDb> {
        let name = format!(
            "dualdb_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::open(base)?;
        let _allowed = admin.allow_sync();
        let (url, fresh) = match admin.backend() {
            BackendKind::Postgres => {
                admin
                    .sync()
                    .execute(&format!("CREATE SCHEMA {name}"), &[])?;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
                let base = base.to_owned();
                (url, Fresh::Schema { base, name })
            }
            BackendKind::Mysql => {
                admin
                    .sync()
                    .execute(&format!("CREATE DATABASE {name}"), &[])?;
                let mut u = url::Url::parse(base).map_err(|e| Error::config(format!("{e}")))?;
                u.set_path(&format!("/{name}"));
                let base = base.to_owned();
                (u.to_string(), Fresh::Database { base, name })
            }
            BackendKind::Sqlite if base.contains(":memory:") => (base.to_owned(), Fresh::Memory),
            BackendKind::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.sqlite"));
                // Left by a process of the same id that did not end well.
                drop_fresh(&Fresh::File(path.clone()));
                (format!("sqlite://{}", path.display()), Fresh::File(path))
            }
        };
        admin.sync().close()?;
        let db = match Database::open(&url) {
            Ok(db) => db,
            Err(e) => {
                drop_fresh(&fresh);
                return Err(e);
            }
        };
        Ok(TestDb { db, url, fresh })
    }

    /// The fresh database's URL (with its password: do not log it).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::ops::Deref for TestDb {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.db
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.fresh {
            Fresh::Memory => "memory".to_owned(),
            Fresh::File(p) => p.display().to_string(),
            Fresh::Schema { name, .. } | Fresh::Database { name, .. } => name.clone(),
        };
        f.debug_struct("TestDb")
            .field("backend", &self.db.backend())
            .field("name", &name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDb {
    /// Closes the test's connections, then drops what was made for it
    /// (tests/testing.rs checks that it is gone); a failure is logged, not
    /// raised: the test's own outcome stands.
    fn drop(&mut self) {
        let _allowed = self.db.allow_sync();
        let _ = self.db.sync().close();
        drop_fresh(&self.fresh);
    }
}

fn drop_fresh(fresh: &Fresh) {
    let dropped = match fresh {
        Fresh::Memory => Ok(()),
        Fresh::File(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            Ok(())
        }
        Fresh::Schema { base, name } => {
            drop_on(base, &format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        }
        Fresh::Database { base, name } => drop_on(base, &format!("DROP DATABASE IF EXISTS {name}")),
    };
    if let Err(e) = dropped {
        tracing::warn!(target: "dualdb::testing", error = %e, "the test database was not dropped");
    }
}

fn drop_on(base: &str, sql: &str) -> Result<()> {
    let admin = Database::open(base)?;
    let _allowed = admin.allow_sync();
    admin.sync().execute(sql, &[])?;
    admin.sync().close()
}
