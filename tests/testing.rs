//! The test helpers: `TestDb` makes a fresh database on every backend
//! (a schema, a database, a file), migrated, isolated from another made at
//! the same time, and dropped with the value; `#[dualdb::test]` gives one
//! to blocking and async test functions.

mod common;

use common::urls;
use dualdb::migrate::Migrator;
use dualdb::testing::TestDb;
use dualdb::{BackendKind, Database};

static APP: Migrator = dualdb::migrate!("tests/migrations/testing");

/// Whether what a test database was made in still exists, seen from `base`
/// (a PostgreSQL schema or a MySQL database: both are listed there).
fn exists(base: &str, name: &str) -> bool {
    let admin = Database::open(base).unwrap();
    let sql = "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?";
    !admin.sync().query(sql, &[&name]).unwrap().is_empty()
}

#[test]
fn fresh_databases_are_migrated_isolated_and_dropped_on_every_backend() {
    let dir = std::env::temp_dir();
    let mut bases = urls();
    bases.push(format!(
        "sqlite://{}",
        dir.join("dualdb-testing-base.sqlite").display()
    ));
    for base in bases {
        let (a, b) = (TestDb::fresh(&base).unwrap(), TestDb::fresh(&base).unwrap());
        let kind = a.backend();
        assert_eq!(a.sync().migrate(&APP).unwrap().len(), 1, "{kind:?}");
        assert_eq!(b.sync().migrate(&APP).unwrap().len(), 1, "{kind:?}");
        a.sync()
            .execute("INSERT INTO helper_note (id, body) VALUES (1, 'a')", &[])
            .unwrap();
        let in_b: i64 = b
            .sync()
            .query_one("SELECT COUNT(*) FROM helper_note", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(in_b, 0, "{kind:?}: isolated");
        assert!(!format!("{a:?}").contains('@'), "{a:?}");
        let name = format!("{a:?}");
        let name = name
            .split("name: \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        match kind {
            BackendKind::Sqlite if base.contains(":memory:") => {}
            BackendKind::Sqlite => {
                assert!(std::path::Path::new(&name).exists(), "{name}");
                drop(a);
                assert!(!std::path::Path::new(&name).exists(), "{name}: removed");
            }
            _ => {
                assert!(exists(&base, &name), "{kind:?}: {name}");
                drop(a);
                assert!(!exists(&base, &name), "{kind:?}: {name} dropped");
            }
        }
        drop(b);
    }
}

#[dualdb::test(migrations = "tests/migrations/testing")]
fn a_blocking_test_gets_a_migrated_database(db: &Database) {
    // On the backend the environment names (ci/test runs this file again
    // with DUALDB_TEST_URL set to each server).
    if let Ok(url) = std::env::var("DUALDB_TEST_URL") {
        assert_eq!(db.backend(), Database::open(&url).unwrap().backend());
    }
    db.sync()
        .execute("INSERT INTO helper_note (id, body) VALUES (1, 'x')", &[])
        .unwrap();
    let n: i64 = db
        .sync()
        .query_one("SELECT COUNT(*) FROM helper_note", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 1);
}

#[dualdb::test(migrations = "tests/migrations/testing")]
async fn an_async_test_gets_one_too(db: &Database) -> dualdb::Result<()> {
    db.aio()
        .execute("INSERT INTO helper_note (id, body) VALUES (2, 'y')", &[])
        .await?;
    let n: i64 = db
        .aio()
        .query_one("SELECT COUNT(*) FROM helper_note", &[])
        .await?
        .get(0)?;
    assert_eq!(n, 1, "a fresh database each test");
    Ok(())
}

#[dualdb::test]
async fn without_migrations_the_database_is_empty(db: &Database) {
    let rows = db.aio().query("SELECT 1", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
}
