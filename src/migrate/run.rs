//! Running a [`Migrator`]: `migrate`, `migrate_revert_to`, `migrate_status`,
//! `migrate_dry_run` and `migrate_resolve` on both halves. The blocking
//! half runs them on one pinned connection (a session: the lock of the run
//! is a session's); the async half runs the same code on a blocking thread
//! (migrations are setup work, and a Rust migration is one function for
//! both halves), so the two halves behave alike by construction
//! (tests/migrations.rs runs both).

use std::time::{Duration, Instant};

use super::record::{self, TABLE};
use super::{Chosen, Migration, Migrator, Script, refused};
use crate::async_db::AsyncDb;
use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::placeholders::statements;
use crate::plan::{Action, One};
use crate::statement::Stmt;
use crate::sync_db::SyncDb;
use crate::sync_tx::SyncTx;

/// How often a PostgreSQL runner tries the lock another runner holds.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// A migration applied (or reverted) by this call, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// How long its script and record took.
    pub duration: Duration,
}

/// A migration's state, as [`migrate_status`](SyncDb::migrate_status) reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Its version.
    pub version: i64,
    /// Its name (the record's, for a version the migrator lacks).
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
}

/// Where a migration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Not applied yet.
    Pending,
    /// Applied, at `applied_at` (UTC, `YYYY-MM-DD HH:MM:SS`), in
    /// `duration_ms`; `changed` if its text is not the one applied.
    Applied {
        /// When (UTC).
        applied_at: String,
        /// How long it took.
        duration_ms: i64,
        /// Its script's text differs from the one applied.
        changed: bool,
    },
    /// Failed part-way (MySQL/MariaDB): see [`Resolution`].
    Dirty,
    /// Recorded as applied, but not among the migrator's migrations.
    Missing,
}

/// What a dirty migration's record becomes
/// ([`migrate_resolve`](SyncDb::migrate_resolve)), once the schema was
/// repaired by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The schema has all of it: recorded as applied.
    Applied,
    /// The schema has none of it: forgotten, to run again.
    Pending,
}

/// One row of the record table.
#[derive(Debug)]
struct Record {
    version: i64,
    name: String,
    checksum: String,
    applied_at: String,
    duration_ms: i64,
    success: bool,
}

/// A migration's script on one backend: its text (empty for Rust), its
/// checksum, whether it runs in a transaction.
struct Prepared {
    chosen: Chosen,
    checksum: String,
    in_tx: bool,
}

fn prepare(script: &Script, m: &Migration, kind: BackendKind) -> Result<Prepared> {
    let chosen = script.file(kind, m)?;
    let (checksum, in_tx) = match &chosen {
        Chosen::Sql(f) => (record::checksum(f.sql), f.in_transaction()),
        Chosen::Rust(_) => (String::new(), true),
    };
    Ok(Prepared {
        chosen,
        checksum,
        // MySQL commits DDL as it goes: no transaction would hold it.
        in_tx: in_tx && kind != BackendKind::Mysql,
    })
}

/// The runner on one pinned connection.
struct Runner<'s, 'a> {
    s: &'s mut SyncTx<'a>,
    kind: BackendKind,
    m: Migrator,
}

impl Runner<'_, '_> {
    fn script(tx: &SyncTx<'_>, sql: &str) -> Result<()> {
        let plan = One::new(Action::Execute(Stmt::script(sql)), |r| r.done().map(drop));
        tx.drive("migrate", (), plan)
    }

    fn records(&self) -> Result<Vec<Record>> {
        let exists = crate::model::named_table_exists(self.kind, TABLE);
        let plan = One::new(Action::Query(exists), |r| Ok(r.rows()?.is_empty()));
        if self.s.drive("migrate", (), plan)? {
            return Ok(Vec::new());
        }
        let rows = self.s.query(&record::select(self.kind), &[])?;
        rows.iter()
            .map(|r| {
                Ok(Record {
                    version: r.get(0)?,
                    name: r.get(1)?,
                    checksum: r.get(2)?,
                    applied_at: r.get(3)?,
                    duration_ms: r.get(4)?,
                    success: r.get(5)?,
                })
            })
            .collect()
    }

    /// Runs `f` holding the run's lock (PostgreSQL, MySQL), released after
    /// whatever `f` returned (the session's reset releases it too if this
    /// cannot: tests/migrations.rs).
    fn locked<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if let Some(lock) = record::lock(self.kind) {
            loop {
                let row = self.s.query_one(&lock, &[])?;
                match self.kind {
                    BackendKind::Postgres if !row.get::<bool>(0)? => {
                        std::thread::sleep(LOCK_POLL);
                    }
                    BackendKind::Mysql if row.get::<Option<i64>>(0)? != Some(1) => {
                        return Err(refused(format!(
                            "could not take the migrations lock ({TABLE})"
                        )));
                    }
                    _ => break,
                }
            }
        }
        let out = f(self);
        if let Some(unlock) = record::unlock(self.kind) {
            let released = self.s.query(&unlock, &[]);
            if out.is_ok() {
                released?;
            }
        }
        out
    }

    /// What stands in the way of applying `self.m`, from the records: a
    /// dirty record, a changed script, a missing version, a pending one
    /// older than an applied one.
    fn refusal(&self, records: &[Record]) -> Result<()> {
        let newest = records.iter().map(|r| r.version).max().unwrap_or(0);
        for r in records {
            if !r.success {
                return Err(refused(format!(
                    "migration {:04}_{} failed part-way on an earlier run (MySQL commits DDL as \
                     it goes): repair the schema, then call migrate_resolve with \
                     Resolution::Applied or Resolution::Pending",
                    r.version, r.name
                )));
            }
            match self.m.find(r.version) {
                None if self.m.ignore_missing => {}
                None => {
                    return Err(refused(format!(
                        "migration {:04}_{} is applied but not among the migrations \
                         (Migrator::ignore_missing runs anyway)",
                        r.version, r.name
                    )));
                }
                Some(m) => {
                    let now = prepare(&m.up, m, self.kind)?;
                    if now.checksum != r.checksum && !self.m.allow_changed {
                        return Err(refused(format!(
                            "migration {} was applied from a different text: its file changed \
                             since (restore it, or Migrator::allow_changed)",
                            m.label()
                        )));
                    }
                }
            }
        }
        let applied = |v: i64| records.iter().any(|r| r.version == v);
        if let Some(m) =
            (self.m.migrations.iter()).find(|m| !applied(m.version) && m.version < newest)
        {
            return Err(refused(format!(
                "migration {} is pending but {newest} is applied: migrations apply in version \
                 order (give it a version above {newest})",
                m.label()
            )));
        }
        Ok(())
    }

    fn up(&mut self) -> Result<Vec<Ran>> {
        self.locked(|r| {
            // Under the lock: PostgreSQL's `CREATE TABLE IF NOT EXISTS`
            // run at once by two sessions fails one of them.
            Self::script(r.s, &record::create(r.kind))?;
            let records = r.records()?;
            r.refusal(&records)?;
            let mut ran = Vec::new();
            for m in r.m.migrations {
                if records.iter().any(|rec| rec.version == m.version) {
                    continue;
                }
                if let Some(done) = r.apply(m, &m.up, true)? {
                    ran.push(done);
                }
            }
            Ok(ran)
        })
    }

    /// Applies (`forward`) or reverts migration `m` by `script`, with its
    /// record; `None` if another runner did it first (SQLite, whose lock
    /// is each migration's transaction).
    fn apply(&mut self, m: &Migration, script: &Script, forward: bool) -> Result<Option<Ran>> {
        let p = prepare(script, m, self.kind)?;
        let kind = self.kind;
        let start = Instant::now();
        let record_of = |m: &Migration| (m.version, m.name.to_owned(), p.checksum.clone());
        if p.in_tx {
            let mut tx = self.s.begin()?;
            let present = !tx
                .query(
                    &format!("SELECT 1 FROM {TABLE} WHERE version = ?"),
                    &[&m.version],
                )?
                .is_empty();
            if present == forward {
                tx.commit()?;
                return Ok(None);
            }
            let out = (|| {
                run_script(&mut tx, &p.chosen, m)?;
                let ms = elapsed_ms(start);
                match forward {
                    true => {
                        let (v, name, sum) = record_of(m);
                        tx.execute(&record::insert(kind), &[&v, &name, &sum, &ms, &true])?;
                    }
                    false => {
                        tx.execute(&record::delete(), &[&m.version])?;
                    }
                }
                Ok(())
            })();
            match out {
                Ok(()) => tx.commit()?,
                Err(e) => {
                    let _ = tx.rollback();
                    return Err(e);
                }
            }
        } else {
            // Outside a transaction: the record says "not done" until the
            // script ends, so a failure part-way leaves it dirty.
            let (v, name, sum) = record_of(m);
            match forward {
                true => self
                    .s
                    .execute(&record::insert(kind), &[&v, &name, &sum, &0i64, &false])?,
                false => self
                    .s
                    .execute(&record::succeeded(kind), &[&false, &0i64, &v])?,
            };
            run_script(self.s, &p.chosen, m)?;
            match forward {
                true => {
                    let ms = elapsed_ms(start);
                    self.s
                        .execute(&record::succeeded(kind), &[&true, &ms, &v])?
                }
                false => self.s.execute(&record::delete(), &[&v])?,
            };
        }
        Ok(Some(Ran {
            version: m.version,
            name: m.name.to_owned(),
            duration: start.elapsed(),
        }))
    }

    fn revert_to(&mut self, target: i64) -> Result<Vec<Ran>> {
        self.locked(|r| {
            // Under the lock: PostgreSQL's `CREATE TABLE IF NOT EXISTS`
            // run at once by two sessions fails one of them.
            Self::script(r.s, &record::create(r.kind))?;
            let records = r.records()?;
            if let Some(d) = records.iter().find(|d| !d.success) {
                return Err(refused(format!(
                    "migration {:04}_{} is dirty: resolve it before reverting",
                    d.version, d.name
                )));
            }
            // Every migration to revert must be known and have a down
            // script, checked before any is reverted.
            let mut plan = Vec::new();
            for rec in records.iter().rev().filter(|rec| rec.version > target) {
                let Some(m) = r.m.find(rec.version) else {
                    return Err(refused(format!(
                        "migration {:04}_{} is applied but not among the migrations: it cannot \
                         be reverted",
                        rec.version, rec.name
                    )));
                };
                let Some(down) = &m.down else {
                    return Err(refused(format!(
                        "migration {} has no down script",
                        m.label()
                    )));
                };
                prepare(down, m, r.kind)?;
                plan.push((m, down));
            }
            let mut ran = Vec::new();
            for (m, down) in plan {
                if let Some(done) = r.apply(m, down, false)? {
                    ran.push(done);
                }
            }
            Ok(ran)
        })
    }

    fn status(&self) -> Result<Vec<MigrationStatus>> {
        let records = self.records()?;
        let mut out: Vec<MigrationStatus> = Vec::new();
        for m in self.m.migrations {
            let state = match records.iter().find(|r| r.version == m.version) {
                None => MigrationState::Pending,
                Some(r) if !r.success => MigrationState::Dirty,
                Some(r) => MigrationState::Applied {
                    applied_at: r.applied_at.clone(),
                    duration_ms: r.duration_ms,
                    changed: prepare(&m.up, m, self.kind)?.checksum != r.checksum,
                },
            };
            out.push(MigrationStatus {
                version: m.version,
                name: m.name.to_owned(),
                state,
            });
        }
        for r in records.iter().filter(|r| self.m.find(r.version).is_none()) {
            out.push(MigrationStatus {
                version: r.version,
                name: r.name.clone(),
                state: MigrationState::Missing,
            });
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    fn dry_run(&self) -> Result<String> {
        let records = self.records()?;
        self.refusal(&records)?;
        let mut out = String::new();
        for m in self.m.migrations {
            if records.iter().any(|r| r.version == m.version) {
                continue;
            }
            match prepare(&m.up, m, self.kind)?.chosen {
                Chosen::Sql(f) => {
                    out.push_str(&format!("-- {}\n{}\n", f.file, f.sql.trim_end()));
                }
                Chosen::Rust(_) => {
                    out.push_str(&format!("-- {}: a Rust migration\n", m.label()));
                }
            }
        }
        Ok(out)
    }

    fn resolve(&mut self, version: i64, how: Resolution) -> Result<()> {
        let records = self.records()?;
        if !records.iter().any(|r| r.version == version && !r.success) {
            return Err(refused(format!(
                "migration {version} has no dirty record to resolve"
            )));
        }
        match how {
            Resolution::Applied => self
                .s
                .execute(&record::succeeded(self.kind), &[&true, &0i64, &version])?,
            Resolution::Pending => self.s.execute(&record::delete(), &[&version])?,
        };
        Ok(())
    }
}

/// Runs a migration's SQL, statement by statement, or its Rust function.
fn run_script(tx: &mut SyncTx<'_>, chosen: &Chosen, m: &Migration) -> Result<()> {
    match chosen {
        Chosen::Rust(f) => f(tx).map_err(|e| failed(&m.label(), None, e)),
        Chosen::Sql(file) => {
            for st in statements(file.sql, tx.db().kind()) {
                Runner::script(tx, st.sql).map_err(|e| failed(file.file, Some(st.line), e))?;
            }
            Ok(())
        }
    }
}

/// A script's failure: the file (or the Rust migration), the statement's
/// line, the server's message; its code kept, the server's error the source.
fn failed(file: &str, line: Option<usize>, e: Error) -> Error {
    let at = line.map(|l| format!(", line {l}")).unwrap_or_default();
    let mut out = refused(format!("migration {file}{at}: {}", e.message()));
    if let Some(code) = e.code() {
        out = out.with_code(code.to_owned());
    }
    out.with_source(e)
}

fn elapsed_ms(start: Instant) -> i64 {
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl SyncDb {
    /// Runs `f` with a runner on a pinned connection, after the checks made
    /// before any I/O: not inside a transaction or session (migrations
    /// open their own), and a migrator whose versions ascend, with SQL for
    /// this backend.
    #[track_caller]
    fn migrator<T>(
        &self,
        operation: &'static str,
        m: &Migrator,
        f: impl FnOnce(&mut Runner<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        self.check(operation)?;
        if self.context().0.is_some() {
            return Err(Error::new(
                crate::ErrorKind::Usage,
                format!("{operation} runs its own transactions: call it outside a transaction"),
            ));
        }
        m.check(self.kind())?;
        let kind = self.kind();
        self.session(|s| f(&mut Runner { s, kind, m: *m }))
    }

    /// Applies the pending migrations of `m`, in version order, each with
    /// its record, and returns those it applied (none if none were
    /// pending). Runners started at once, in one process or many, apply
    /// each migration once; each returns what it applied itself. See
    /// [the module](mod@crate::migrate) for what is refused before anything is
    /// applied.
    ///
    /// ```
    /// # use dualdb::migrate::{Migration, Migrator, SqlFile};
    /// static M: Migrator = Migrator::new(&[Migration::sql(
    ///     1, "t", &[SqlFile::any("0001_t.up.sql", "CREATE TABLE t (x INTEGER);")],
    /// )]);
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// assert_eq!(db.sync().migrate(&M).unwrap()[0].name, "t");
    /// ```
    #[track_caller]
    pub fn migrate(&self, m: &Migrator) -> Result<Vec<Ran>> {
        self.migrator("migrate", m, |r| r.up())
    }

    /// Reverts the applied migrations above `version`, newest first, each
    /// by its down script with its record removed (`0` reverts them all).
    /// A migration without a down script, or not among `m`'s, is refused
    /// before any is reverted.
    ///
    /// ```
    /// # use dualdb::migrate::{Migration, Migrator, SqlFile};
    /// static M: Migrator = Migrator::new(&[Migration::sql(
    ///     1, "t", &[SqlFile::any("0001_t.up.sql", "CREATE TABLE t (x INTEGER);")],
    /// ).with_down(&[SqlFile::any("0001_t.down.sql", "DROP TABLE t;")])]);
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// db.sync().migrate(&M).unwrap();
    /// assert_eq!(db.sync().migrate_revert_to(&M, 0).unwrap().len(), 1);
    /// assert!(db.sync().query("SELECT * FROM t", &[]).is_err());
    /// ```
    #[track_caller]
    pub fn migrate_revert_to(&self, m: &Migrator, version: i64) -> Result<Vec<Ran>> {
        self.migrator("migrate_revert_to", m, |r| r.revert_to(version))
    }

    /// Each migration's state (and the versions recorded that `m` lacks),
    /// in version order; nothing is written.
    ///
    /// ```
    /// # use dualdb::migrate::{Migration, MigrationState, Migrator, SqlFile};
    /// static M: Migrator = Migrator::new(&[Migration::sql(
    ///     1, "t", &[SqlFile::any("0001_t.up.sql", "CREATE TABLE t (x INTEGER);")],
    /// )]);
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// assert_eq!(db.sync().migrate_status(&M).unwrap()[0].state, MigrationState::Pending);
    /// ```
    #[track_caller]
    pub fn migrate_status(&self, m: &Migrator) -> Result<Vec<MigrationStatus>> {
        self.migrator("migrate_status", m, |r| r.status())
    }

    /// The SQL [`migrate`](Self::migrate) would run now, each file under a
    /// `-- file` line; nothing is written. Refuses what `migrate` would.
    ///
    /// ```
    /// # use dualdb::migrate::{Migration, Migrator, SqlFile};
    /// static M: Migrator = Migrator::new(&[Migration::sql(
    ///     1, "t", &[SqlFile::any("0001_t.up.sql", "CREATE TABLE t (x INTEGER);")],
    /// )]);
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// assert_eq!(db.sync().migrate_dry_run(&M).unwrap(), "-- 0001_t.up.sql\nCREATE TABLE t (x INTEGER);\n");
    /// ```
    #[track_caller]
    pub fn migrate_dry_run(&self, m: &Migrator) -> Result<String> {
        self.migrator("migrate_dry_run", m, |r| r.dry_run())
    }

    /// Settles the dirty record of migration `version` (one that failed
    /// part-way on MySQL/MariaDB), after the schema was repaired by hand:
    /// [`Resolution::Applied`] records it as applied, [`Resolution::Pending`]
    /// forgets it so that the next run applies it again.
    #[track_caller]
    pub fn migrate_resolve(&self, m: &Migrator, version: i64, how: Resolution) -> Result<()> {
        self.migrator("migrate_resolve", m, |r| r.resolve(version, how))
    }
}

impl AsyncDb {
    /// Runs `f` on the blocking half, on a blocking thread, as allowed
    /// blocking work (not counted by `allow_sync`: the caller is async).
    async fn on_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SyncDb) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.context().0.is_some() {
            return Err(Error::new(
                crate::ErrorKind::Usage,
                "migrations run their own transactions: call them outside a transaction",
            ));
        }
        let blocking = self.blocking();
        let run = move || {
            let _allowed = blocking.allowed_here();
            f(&blocking)
        };
        tokio::task::spawn_blocking(run).await.map_err(|e| {
            Error::new(
                crate::ErrorKind::Other,
                format!("the migration thread failed: {e}"),
            )
        })?
    }

    /// [`SyncDb::migrate`], from async code: the same runner on a blocking
    /// thread.
    ///
    /// ```
    /// # use dualdb::migrate::{Migration, Migrator, SqlFile};
    /// static M: Migrator = Migrator::new(&[Migration::sql(
    ///     1, "t", &[SqlFile::any("0001_t.up.sql", "CREATE TABLE t (x INTEGER);")],
    /// )]);
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = dualdb::Database::open("sqlite::memory:")?;
    /// assert_eq!(db.aio().migrate(&M).await?.len(), 1);
    /// # Ok::<(), dualdb::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn migrate(&self, m: &Migrator) -> Result<Vec<Ran>> {
        let m = *m;
        self.on_blocking(move |db| db.migrate(&m)).await
    }

    /// [`SyncDb::migrate_revert_to`], from async code.
    pub async fn migrate_revert_to(&self, m: &Migrator, version: i64) -> Result<Vec<Ran>> {
        let m = *m;
        self.on_blocking(move |db| db.migrate_revert_to(&m, version))
            .await
    }

    /// [`SyncDb::migrate_status`], from async code.
    pub async fn migrate_status(&self, m: &Migrator) -> Result<Vec<MigrationStatus>> {
        let m = *m;
        self.on_blocking(move |db| db.migrate_status(&m)).await
    }

    /// [`SyncDb::migrate_dry_run`], from async code.
    pub async fn migrate_dry_run(&self, m: &Migrator) -> Result<String> {
        let m = *m;
        self.on_blocking(move |db| db.migrate_dry_run(&m)).await
    }

    /// [`SyncDb::migrate_resolve`], from async code.
    pub async fn migrate_resolve(&self, m: &Migrator, version: i64, how: Resolution) -> Result<()> {
        let m = *m;
        self.on_blocking(move |db| db.migrate_resolve(&m, version, how))
            .await
    }
}
