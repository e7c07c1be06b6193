//! Migrations on every backend and both halves: the folder tests/migrations/app
//! embedded by `migrate!` (generic and per-backend files, a Rust migration,
//! triggers with `BEGIN … END` bodies, a PostgreSQL function in a
//! dollar-quoted body, `CREATE INDEX CONCURRENTLY` outside a transaction),
//! applied, reported, reverted and applied again; changed files, failures
//! part-way and bad migrators refused; eight runners at once applying each
//! migration exactly once. Each check reads the schema and the record table
//! back.

mod common;

use common::{dead_and_live, isolated_all, isolated_url, urls};
use dualdb::migrate::{Migration, MigrationState, Migrator, Resolution, SqlFile};
use dualdb::{BackendKind, Database, ErrorKind, SyncTx};

fn seed(tx: &mut SyncTx<'_>) -> dualdb::Result<()> {
    tx.execute(
        "INSERT INTO mig_author (id, name) VALUES (1, 'ada'), (2, 'bo')",
        &[],
    )?;
    Ok(())
}

fn unseed(tx: &mut SyncTx<'_>) -> dualdb::Result<()> {
    tx.execute("DELETE FROM mig_book", &[])?;
    tx.execute("DELETE FROM mig_author", &[])?;
    Ok(())
}

static APP: Migrator = dualdb::migrate!("tests/migrations/app", rust = [(3, "seed", seed, unseed)]);

/// The versions recorded as applied, in order.
fn recorded(db: &Database) -> Vec<(i64, bool)> {
    let rows = db
        .sync()
        .query(
            "SELECT version, success FROM dualdb_migrations ORDER BY version",
            &[],
        )
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect()
}

fn versions(ran: &[dualdb::migrate::Ran]) -> Vec<i64> {
    ran.iter().map(|r| r.version).collect()
}

fn table_exists(db: &Database, table: &str) -> bool {
    db.sync()
        .query(&format!("SELECT 1 FROM {table}"), &[])
        .is_ok()
}

/// The title the trigger of migration 4 stored for a book titled `title`.
fn stored_title(db: &Database, id: i64, title: &str) -> String {
    let s = db.sync();
    s.execute(
        "INSERT INTO mig_book (id, author, title) VALUES (?, 1, ?)",
        &[&id, &title],
    )
    .unwrap();
    s.query_one("SELECT title FROM mig_book WHERE id = ?", &[&id])
        .unwrap()
        .get(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_of_migrations_applies_reverts_and_reports_on_both_halves() {
    for db in isolated_all("mig_app") {
        let b = db.backend();
        let s = db.sync();
        let status = s.migrate_status(&APP).unwrap();
        assert_eq!(status.len(), 5, "{b:?}");
        assert!(
            status.iter().all(|m| m.state == MigrationState::Pending),
            "{b:?}"
        );
        let plan = s.migrate_dry_run(&APP).unwrap();
        assert!(
            plan.starts_with("-- 0001_create_author.up.sql\n"),
            "{b:?}: {plan}"
        );
        assert!(plan.contains("-- 0003_seed: a Rust migration"), "{b:?}");
        let own = if b == BackendKind::Postgres {
            "0002_create_book.postgres.up.sql"
        } else {
            "0002_create_book.up.sql"
        };
        assert!(plan.contains(own), "{b:?}: {plan}");
        assert!(!table_exists(&db, "dualdb_migrations") || recorded(&db).is_empty());

        // Blocking: all five, then nothing more.
        let ran = s.migrate(&APP).unwrap();
        assert_eq!(versions(&ran), [1, 2, 3, 4, 5], "{b:?}");
        assert!(s.migrate(&APP).unwrap().is_empty(), "{b:?}");
        assert_eq!(
            recorded(&db),
            [(1, true), (2, true), (3, true), (4, true), (5, true)]
        );
        let authors: i64 = s
            .query_one("SELECT COUNT(*) FROM mig_author", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(authors, 2, "{b:?}: the Rust migration seeded");
        assert_eq!(stored_title(&db, 1, "dune"), "DUNE", "{b:?}: the trigger");
        assert_eq!(stored_title(&db, 2, ""), "untitled", "{b:?}");
        // Arrays are read with the `postgres` feature (a build of one other
        // backend compiles this file too).
        #[cfg(feature = "postgres")]
        if b == BackendKind::Postgres {
            let tags: Vec<String> = s
                .query_one("SELECT tags FROM mig_book WHERE id = 1", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert!(tags.is_empty(), "PostgreSQL's own file ran");
        }
        let status = s.migrate_status(&APP).unwrap();
        for m in &status {
            let MigrationState::Applied {
                applied_at,
                changed,
                ..
            } = &m.state
            else {
                panic!("{b:?}: {m:?}");
            };
            assert!(
                !changed && applied_at.len() == 19 && applied_at.starts_with("20"),
                "{b:?}: {m:?}"
            );
        }

        // Reverted to 2 (the books, the trigger and the index go; the seed's
        // down empties the tables), then the async half applies 3..5 again.
        let reverted = s.migrate_revert_to(&APP, 2).unwrap();
        assert_eq!(versions(&reverted), [5, 4, 3], "{b:?}");
        assert_eq!(recorded(&db), [(1, true), (2, true)]);
        let authors: i64 = s
            .query_one("SELECT COUNT(*) FROM mig_author", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(authors, 0, "{b:?}");
        let ran = db.aio().migrate(&APP).await.unwrap();
        assert_eq!(versions(&ran), [3, 4, 5], "{b:?}");
        assert_eq!(
            stored_title(&db, 3, "emma"),
            "EMMA",
            "{b:?}: the trigger again"
        );
        let status = db.aio().migrate_status(&APP).await.unwrap();
        assert!(
            status
                .iter()
                .all(|m| matches!(m.state, MigrationState::Applied { .. }))
        );
        assert_eq!(db.aio().migrate_dry_run(&APP).await.unwrap(), "");

        // Everything reverted from the async half: the schema is empty.
        let reverted = db.aio().migrate_revert_to(&APP, 0).await.unwrap();
        assert_eq!(versions(&reverted), [5, 4, 3, 2, 1], "{b:?}");
        assert!(recorded(&db).is_empty(), "{b:?}");
        assert!(
            !table_exists(&db, "mig_book") && !table_exists(&db, "mig_author"),
            "{b:?}"
        );
        assert_eq!(
            versions(&s.migrate(&APP).unwrap()),
            [1, 2, 3, 4, 5],
            "{b:?}"
        );
    }
}

const V1: SqlFile = SqlFile::any("0001_t.up.sql", "CREATE TABLE mig_t (x INTEGER);");
const V1_EDITED: SqlFile = SqlFile::any(
    "0001_t.up.sql",
    "CREATE TABLE mig_t (x INTEGER, y INTEGER);",
);
static FIRST: Migrator = Migrator::new(&[Migration::sql(1, "t", &[V1])]);
static EDITED: Migrator = Migrator::new(&[Migration::sql(1, "t", &[V1_EDITED])]);
static OLDER: Migrator = Migrator::new(&[]);
/// Version 2's second statement fails (a table that does not exist).
static BROKEN: Migrator = Migrator::new(&[
    Migration::sql(1, "t", &[V1]),
    Migration::sql(
        2,
        "half",
        &[SqlFile::any(
            "0002_half.up.sql",
            "CREATE TABLE mig_half (x INTEGER);\n\n-- then\nINSERT INTO mig_missing VALUES (1);\n",
        )],
    ),
]);
/// Version 2 repaired.
const HALF_FIXED: Migration = Migration::sql(
    2,
    "half",
    &[SqlFile::any(
        "0002_half.up.sql",
        "CREATE TABLE mig_half2 (x INTEGER);",
    )],
);
static FIXED: Migrator = Migrator::new(&[Migration::sql(1, "t", &[V1]), HALF_FIXED]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_failures_part_way_and_missing_versions_are_refused() {
    for db in isolated_all("mig_refuse") {
        let b = db.backend();
        let s = db.sync();
        s.migrate(&FIRST).unwrap();
        // The applied file changed: refused, unless allowed.
        let e = s.migrate(&EDITED).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Migration, "{b:?}: {e}");
        assert!(
            e.to_string()
                .contains("0001_t was applied from a different text"),
            "{e}"
        );
        let e = db.aio().migrate(&EDITED).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Migration, "{b:?}: {e}");
        assert!(s.migrate(&EDITED.allow_changed()).unwrap().is_empty());
        let status = s.migrate_status(&EDITED).unwrap();
        assert!(
            matches!(
                status[0].state,
                MigrationState::Applied { changed: true, .. }
            ),
            "{status:?}"
        );
        // A version the migrator lacks: refused, unless ignored.
        let e = s.migrate(&OLDER).unwrap_err();
        assert!(
            e.to_string().contains("not among the migrations"),
            "{b:?}: {e}"
        );
        assert!(s.migrate(&OLDER.ignore_missing()).unwrap().is_empty());
        assert_eq!(
            s.migrate_status(&OLDER).unwrap()[0].state,
            MigrationState::Missing
        );

        // A script failing at its second statement: the error names the
        // file and the statement's line, and keeps the server's code.
        let e = s.migrate(&BROKEN).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Migration, "{b:?}: {e}");
        assert!(
            e.to_string().contains("0002_half.up.sql, line 4"),
            "{b:?}: {e}"
        );
        assert!(e.to_string().contains("mig_missing"), "{b:?}: {e}");
        assert!(e.code().is_some(), "{b:?}: {e}");
        assert!(std::error::Error::source(&e).is_some());
        match b {
            // DDL commits as it goes: the first table stays, the record is
            // dirty, and the next run refuses until resolved.
            BackendKind::Mysql => {
                assert!(table_exists(&db, "mig_half"));
                assert_eq!(recorded(&db), [(1, true), (2, false)]);
                assert_eq!(
                    s.migrate_status(&BROKEN).unwrap()[1].state,
                    MigrationState::Dirty
                );
                let e = db.aio().migrate(&FIXED).await.unwrap_err();
                assert!(e.to_string().contains("failed part-way"), "{e}");
                let e = s.migrate_revert_to(&FIXED, 0).unwrap_err();
                assert!(e.to_string().contains("dirty"), "{e}");
                s.execute("DROP TABLE mig_half", &[]).unwrap();
                db.aio()
                    .migrate_resolve(&FIXED, 2, Resolution::Pending)
                    .await
                    .unwrap();
                assert_eq!(recorded(&db), [(1, true)]);
            }
            // In a transaction: nothing of it stays, no record.
            _ => {
                assert!(!table_exists(&db, "mig_half"), "{b:?}");
                assert_eq!(recorded(&db), [(1, true)], "{b:?}");
                let e = s
                    .migrate_resolve(&FIXED, 2, Resolution::Applied)
                    .unwrap_err();
                assert!(e.to_string().contains("no dirty record"), "{e}");
            }
        }
        assert_eq!(versions(&s.migrate(&FIXED).unwrap()), [2], "{b:?}");
        assert!(table_exists(&db, "mig_half2"), "{b:?}");
        // A migration older than one applied: refused.
        static GAP: Migrator = Migrator::new(&[
            Migration::sql(1, "t", &[V1]),
            HALF_FIXED,
            // Recorded below with version 1's checksum: the same text.
            Migration::sql(3, "late", &[SqlFile::any("0003_late.up.sql", V1.sql)]),
        ]);
        s.execute("DELETE FROM dualdb_migrations WHERE version = 2", &[])
            .unwrap();
        s.execute("INSERT INTO dualdb_migrations SELECT 3, 'late', checksum, applied_at, 0, success FROM dualdb_migrations WHERE version = 1", &[]).unwrap();
        let e = s.migrate(&GAP).unwrap_err();
        assert!(
            e.to_string()
                .contains("0002_half is pending but 3 is applied"),
            "{b:?}: {e}"
        );
    }
}

/// Misuse fails before any I/O: the same error on a dead server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_migrators_and_migrations_in_transactions_are_refused_before_any_io() {
    static DESCENDING: Migrator = Migrator::new(&[
        Migration::sql(2, "b", &[SqlFile::any("0002_b.up.sql", "SELECT 1;")]),
        Migration::sql(1, "a", &[SqlFile::any("0001_a.up.sql", "SELECT 1;")]),
    ]);
    static PG_ONLY: Migrator = Migrator::new(&[Migration::sql(
        1,
        "a",
        &[SqlFile::only(
            BackendKind::Postgres,
            "0001_a.postgres.up.sql",
            "SELECT 1;",
        )],
    )]);
    for (url, db) in dead_and_live() {
        let e = db.sync().migrate(&DESCENDING).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Migration, "{url}: {e}");
        assert!(e.to_string().contains("ascending"), "{url}: {e}");
        let e = db.aio().migrate_status(&DESCENDING).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Migration, "{url}: {e}");
        if db.backend() != BackendKind::Postgres {
            let e = db.sync().migrate(&PG_ONLY).unwrap_err();
            assert!(e.to_string().contains("has no SQL for"), "{url}: {e}");
        }
    }
    for url in urls() {
        let db = Database::open(&url).unwrap();
        let e = db.sync().atomic(|_| db.sync().migrate(&FIRST)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{url}: {e}");
        let e = db
            .aio()
            .atomic(async |_| db.aio().migrate(&FIRST).await)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{url}: {e}");
    }
}

/// Eight runners on eight `Database`s (four blocking threads, four async
/// tasks) migrate one database at once: each migration is applied once,
/// and every runner succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_runners_at_once_apply_each_migration_exactly_once() {
    let dir = std::env::temp_dir().join(format!("dualdb-migrate-{}", std::process::id()));
    // A run killed part-way leaves its file: a process of the same id must
    // not find it migrated.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut targets: Vec<String> = urls()
        .into_iter()
        .filter(|u| !u.starts_with("sqlite"))
        .map(|u| isolated_url(&u, "mig_race"))
        .collect();
    targets.push(format!("sqlite://{}", dir.join("race.sqlite").display()));
    for url in targets {
        let dbs: Vec<Database> = (0..8).map(|_| Database::open(&url).unwrap()).collect();
        let kind = dbs[0].backend();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for (i, db) in dbs.iter().cloned().enumerate() {
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                match i % 2 {
                    0 => db.aio().migrate(&APP).await,
                    _ => tokio::task::spawn_blocking(move || db.sync().migrate(&APP))
                        .await
                        .unwrap(),
                }
            }));
        }
        let mut applied = Vec::new();
        for t in tasks {
            let ran = t.await.unwrap().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            applied.extend(versions(&ran));
        }
        applied.sort();
        assert_eq!(applied, [1, 2, 3, 4, 5], "{kind:?}: each applied once");
        assert_eq!(recorded(&dbs[0]).len(), 5, "{kind:?}");
        let authors: i64 = dbs[0]
            .sync()
            .query_one("SELECT COUNT(*) FROM mig_author", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(authors, 2, "{kind:?}: the seed ran once");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
