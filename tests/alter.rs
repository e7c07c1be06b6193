//! Schema changes and introspection (peewee's `playhouse.migrate`) on every
//! backend and both halves, in and out of transactions and inside a Rust
//! migration: each change checked by reading the schema back
//! (`columns`, `indexes`, `tables`) and the rows kept; SQLite's rebuilds
//! keep the rows, the unique index and the foreign keys of and to the
//! table; names with quotes stay names.

mod common;

use common::{dead_and_live, isolated_all};
use dualdb::migrate::{Migration, Migrator};
use dualdb::{BackendKind, Database, ErrorKind, Model, SyncTx};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alt_shelf")]
struct Shelf {
    #[model(primary_key, auto)]
    id: i64,
    #[model(max_length = 40)]
    name: String,
    note: Option<String>,
}

/// The same table, a column more.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alt_shelf")]
struct ShelfV2 {
    #[model(primary_key, auto)]
    id: i64,
    #[model(max_length = 40)]
    name: String,
    note: Option<String>,
    #[model(max_length = 10, default = "'red'")]
    color: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alt_book")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Shelf)]
    shelf: i64,
}

fn names(db: &Database, table: &str) -> Vec<String> {
    db.sync()
        .columns(table)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

fn count(db: &Database, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    db.sync().query_one(&sql, &[]).unwrap().get(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_indexes_and_tables_change_and_read_back_on_every_backend() {
    for db in isolated_all("alter") {
        let b = db.backend();
        let s = db.sync();
        s.create_table::<Shelf>().unwrap();
        s.create_table::<Book>().unwrap();
        let a = s
            .create(Shelf {
                id: 0,
                name: "a".into(),
                note: Some("n".into()),
            })
            .unwrap();
        s.create(Shelf {
            id: 0,
            name: "b".into(),
            note: None,
        })
        .unwrap();
        s.create(Book { id: 0, shelf: a.id }).unwrap();
        let tables = db.aio().tables().await.unwrap();
        assert!(
            tables.contains(&"alt_shelf".into()) && tables.contains(&"alt_book".into()),
            "{b:?}: {tables:?}"
        );
        assert_eq!(names(&db, "alt_shelf"), ["id", "name", "note"], "{b:?}");
        let cols = s.columns("alt_shelf").unwrap();
        assert!(
            cols[0].primary_key && !cols[0].nullable && !cols[1].nullable && cols[2].nullable,
            "{b:?}: {cols:?}"
        );
        assert!(s.columns("alt_missing").unwrap().is_empty());

        // A column from the model, with its default filled in for the rows.
        db.aio().add_column(&ShelfV2::COLOR).await.unwrap();
        let color = s.columns("alt_shelf").unwrap().pop().unwrap();
        assert_eq!(color.name, "color", "{b:?}");
        assert!(
            color.default.as_deref().is_some_and(|d| d.contains("red")),
            "{b:?}: {color:?}"
        );
        assert_eq!(s.get(ShelfV2::by_id(a.id)).unwrap().color, "red", "{b:?}");
        s.rename_column("alt_shelf", "color", "colour").unwrap();
        assert_eq!(
            names(&db, "alt_shelf"),
            ["id", "name", "note", "colour"],
            "{b:?}"
        );

        // A unique index, read back and enforced.
        s.add_index("alt_shelf", &["name"], true).unwrap();
        let ix = s.indexes("alt_shelf").unwrap();
        let ours: Vec<_> = ix.iter().filter(|i| i.name == "alt_shelf_name").collect();
        assert_eq!(ours.len(), 1, "{b:?}: {ix:?}");
        assert!(
            ours[0].unique && ours[0].columns == ["name"],
            "{b:?}: {ix:?}"
        );
        let dup = s
            .execute(
                "INSERT INTO alt_shelf (name, colour) VALUES ('a', 'x')",
                &[],
            )
            .unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::UniqueViolation, "{b:?}: {dup}");
        // An index on an expression lists it as its text (MariaDB has none).
        if b != BackendKind::Mysql {
            let sql = "CREATE INDEX alt_shelf_lower ON alt_shelf (lower(name), id)";
            s.execute(sql, &[]).unwrap();
            let ix = s.indexes("alt_shelf").unwrap();
            let lower = ix.iter().find(|i| i.name == "alt_shelf_lower");
            let columns = lower.map(|i| i.columns.clone()).unwrap_or_default();
            // PostgreSQL writes it as it keeps it: `lower(name::text)`.
            let ok = matches!(&columns[..], [e, id] if e.starts_with("lower(name") && id == "id");
            assert!(ok, "{b:?}: {ix:?}");
            s.drop_index("alt_shelf", "alt_shelf_lower").unwrap();
        }

        // NOT NULL dropped, then set again once no NULL is left. On SQLite
        // the table is rebuilt with foreign keys off: alt_book references it.
        db.aio().drop_not_null("alt_shelf", "name").await.unwrap();
        s.execute(
            "INSERT INTO alt_shelf (id, name, colour) VALUES (50, NULL, 'x')",
            &[],
        )
        .unwrap();
        let e = s.add_not_null("alt_shelf", "name").unwrap_err();
        assert_ne!(e.kind(), ErrorKind::Usage, "{b:?}: {e}");
        assert!(
            s.columns("alt_shelf").unwrap()[1].nullable,
            "{b:?}: nothing changed"
        );
        s.execute("DELETE FROM alt_shelf WHERE id = 50", &[])
            .unwrap();
        s.add_not_null("alt_shelf", "name").unwrap();
        assert!(!s.columns("alt_shelf").unwrap()[1].nullable, "{b:?}");

        // A column dropped: the rows, the unique index and the foreign key
        // from alt_book stay.
        s.drop_column("alt_shelf", "note").unwrap();
        assert_eq!(names(&db, "alt_shelf"), ["id", "name", "colour"], "{b:?}");
        assert_eq!(count(&db, "alt_shelf"), 2, "{b:?}");
        assert!(
            s.indexes("alt_shelf")
                .unwrap()
                .iter()
                .any(|i| i.name == "alt_shelf_name" && i.unique),
            "{b:?}"
        );
        let orphan = s
            .execute("INSERT INTO alt_book (shelf) VALUES (999)", &[])
            .unwrap_err();
        assert_eq!(
            orphan.kind(),
            ErrorKind::IntegrityViolation,
            "{b:?}: {orphan}"
        );
        let dup = s
            .execute(
                "INSERT INTO alt_shelf (name, colour) VALUES ('b', 'x')",
                &[],
            )
            .unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::UniqueViolation, "{b:?}: {dup}");
        if b == BackendKind::Sqlite {
            let fk: i64 = s
                .query_one("PRAGMA foreign_keys", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(fk, 1, "foreign keys on again after the rebuild");
            // In a transaction, a table others reference cannot be rebuilt.
            let e = s
                .atomic(|tx| tx.drop_column("alt_shelf", "colour"))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
            assert_eq!(names(&db, "alt_shelf"), ["id", "name", "colour"]);
        }

        // Changes in a transaction (async), and in one rolled back where DDL
        // is transactional.
        db.aio()
            .atomic(async |tx| {
                tx.add_index("alt_book", &["id", "shelf"], false).await?;
                tx.rename_column("alt_book", "shelf", "shelf_id").await
            })
            .await
            .unwrap();
        assert_eq!(names(&db, "alt_book"), ["id", "shelf_id"], "{b:?}");
        assert!(
            s.indexes("alt_book")
                .unwrap()
                .iter()
                .any(|i| i.name == "alt_book_id_shelf"
                    && !i.unique
                    && i.columns == ["id", "shelf_id"])
        );
        if b != BackendKind::Mysql {
            let tx = db.aio().begin().await.unwrap();
            tx.drop_index("alt_book", "alt_book_id_shelf")
                .await
                .unwrap();
            tx.rename_table("alt_book", "alt_book_gone").await.unwrap();
            tx.rollback().await.unwrap();
            assert!(
                s.tables().unwrap().contains(&"alt_book".into()),
                "{b:?}: rolled back"
            );
            assert!(
                s.indexes("alt_book")
                    .unwrap()
                    .iter()
                    .any(|i| i.name == "alt_book_id_shelf")
            );
        }
        s.drop_index("alt_book", "alt_book_id_shelf").unwrap();
        assert!(
            !s.indexes("alt_book")
                .unwrap()
                .iter()
                .any(|i| i.name == "alt_book_id_shelf"),
            "{b:?}"
        );
        db.aio()
            .rename_table("alt_book", "alt_book2")
            .await
            .unwrap();
        let tables = s.tables().unwrap();
        assert!(
            tables.contains(&"alt_book2".into()) && !tables.contains(&"alt_book".into()),
            "{b:?}"
        );

        // A name with a quote and a statement in it stays a name.
        let evil = "x\"`; DROP TABLE alt_book2; --";
        s.rename_column("alt_book2", "shelf_id", evil).unwrap();
        assert_eq!(names(&db, "alt_book2"), ["id", evil], "{b:?}");

        // Sequences: PostgreSQL's.
        match b {
            BackendKind::Postgres => {
                assert!(!s.sequence_exists("alt_seq").unwrap());
                s.execute("CREATE SEQUENCE alt_seq", &[]).unwrap();
                assert!(db.aio().sequence_exists("alt_seq").await.unwrap());
            }
            _ => {
                let e = s.sequence_exists("alt_seq").unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Usage, "{b:?}");
            }
        }
    }
}

fn widen(tx: &mut SyncTx<'_>) -> dualdb::Result<()> {
    // A migration that checks before it acts.
    if !tx.columns("alt_plain")?.iter().any(|c| c.name == "color") {
        tx.add_column(&Plain2::COLOR)?;
    }
    tx.add_index("alt_plain", &["color"], false)?;
    tx.drop_not_null("alt_plain", "name")
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alt_plain")]
struct Plain {
    #[model(primary_key)]
    id: i64,
    #[model(max_length = 20)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alt_plain")]
struct Plain2 {
    #[model(primary_key)]
    id: i64,
    #[model(max_length = 20)]
    name: String,
    #[model(max_length = 10, default = "'blue'")]
    color: String,
}

static WIDEN: Migrator = Migrator::new(&[Migration::rust(1, "widen", widen)]);

#[test]
fn a_rust_migration_changes_the_schema_in_its_transaction() {
    for db in isolated_all("alter_mig") {
        let b = db.backend();
        db.sync().create_table::<Plain>().unwrap();
        db.sync()
            .create(Plain {
                id: 1,
                name: "p".into(),
            })
            .unwrap();
        db.sync().migrate(&WIDEN).unwrap();
        let cols = db.sync().columns("alt_plain").unwrap();
        let got: Vec<(&str, bool)> = cols.iter().map(|c| (c.name.as_str(), c.nullable)).collect();
        assert_eq!(
            got,
            [("id", false), ("name", true), ("color", false)],
            "{b:?}"
        );
        assert!(
            db.sync()
                .indexes("alt_plain")
                .unwrap()
                .iter()
                .any(|i| i.columns == ["color"]),
            "{b:?}"
        );
        assert_eq!(
            db.sync().get(Plain2::by_id(1)).unwrap().color,
            "blue",
            "{b:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schema_calls_are_refused_before_any_io() {
    for (url, db) in dead_and_live() {
        let e = db.sync().add_index("t", &[], false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{url}: {e}");
        if db.backend() != BackendKind::Postgres {
            let e = db.aio().sequence_exists("s").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{url}: {e}");
        }
    }
}

/// A table written as SQLite users write them, with what the pragmas do not
/// describe: an `AUTOINCREMENT` key, a column whose name holds `check`, an
/// expression default, a generated column, a `COLLATE NOCASE` unique column,
/// a `CHECK` constraint, `STRICT`; an index, an expression index, a
/// partial index that reads the column to drop (it goes with it), a trigger
/// of its own, a view of it, and another table's trigger that writes it.
const KEPT: [&str; 9] = [
    "CREATE TABLE kept (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        checked_at TEXT,
        qty INTEGER DEFAULT (1 + 1),
        twice INTEGER GENERATED ALWAYS AS (qty * 2) STORED,
        code TEXT COLLATE NOCASE UNIQUE,
        note TEXT,
        CHECK (qty >= 0)
    ) STRICT",
    "CREATE INDEX kept_checked ON kept (checked_at)",
    "CREATE INDEX kept_lower ON kept (lower(code))",
    "CREATE INDEX kept_note ON kept (checked_at) WHERE note IS NOT NULL",
    "CREATE TABLE kept_log (what TEXT)",
    "CREATE TRIGGER kept_added AFTER INSERT ON kept
     BEGIN INSERT INTO kept_log VALUES ('added ' || new.code); END",
    "CREATE VIEW kept_codes AS SELECT id, code, twice FROM kept",
    "CREATE TABLE feed (code TEXT)",
    "CREATE TRIGGER feed_kept AFTER INSERT ON feed
     BEGIN INSERT INTO kept (code) VALUES (new.code); END",
];

fn plant_kept(db: &Database) {
    let s = db.sync();
    for stmt in [
        "DROP VIEW IF EXISTS kept_codes",
        "DROP VIEW IF EXISTS kept_notes",
        "DROP TABLE IF EXISTS feed",
        "DROP TABLE IF EXISTS kept_log",
        "DROP TABLE IF EXISTS kept",
    ] {
        s.execute(stmt, &[]).unwrap();
    }
    for stmt in KEPT {
        s.execute(stmt, &[]).unwrap();
    }
    for (code, qty) in [("A", 1), ("B", 2), ("C", 3)] {
        s.execute(
            "INSERT INTO kept (checked_at, qty, code, note) VALUES ('today', ?, ?, 'n')",
            &[&qty, &code],
        )
        .unwrap();
    }
    // The highest key goes: AUTOINCREMENT never hands it out again.
    s.execute("DELETE FROM kept WHERE code = 'C'", &[]).unwrap();
}

fn table_sql(db: &Database, name: &str) -> String {
    let sql = "SELECT sql FROM sqlite_master WHERE name = ?";
    db.sync().query_one(sql, &[&name]).unwrap().get(0).unwrap()
}

/// SQLite's rebuilds (`drop_column`, `add_not_null`, `drop_not_null`) write
/// the new table from the old one's own text: everything above survives,
/// each still at work (the collation, the check, the generated column, the
/// sequence, the triggers, the view); a view of a dropped column fails the
/// rebuild and nothing changes; inside a transaction rolled back, nothing
/// changes either. On both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rebuilds_keep_what_the_table_says() {
    let db = Database::open(&common::sqlite_file_url("alter_kept")).unwrap();
    for sync in [true, false] {
        plant_kept(&db);
        let s = db.sync();
        let before = table_sql(&db, "kept");
        // Rolled back inside a transaction: nothing changes.
        s.atomic(|tx| -> dualdb::Result<()> {
            tx.drop_column("kept", "note")?;
            tx.add_not_null("kept", "checked_at")?;
            Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
        })
        .unwrap_err();
        assert_eq!(table_sql(&db, "kept"), before);
        match sync {
            true => {
                s.drop_column("kept", "note").unwrap();
                s.add_not_null("kept", "checked_at").unwrap();
                s.drop_not_null("kept", "checked_at").unwrap();
                s.add_not_null("kept", "checked_at").unwrap();
            }
            false => {
                let a = db.aio();
                a.drop_column("kept", "note").await.unwrap();
                a.add_not_null("kept", "checked_at").await.unwrap();
                a.drop_not_null("kept", "checked_at").await.unwrap();
                a.add_not_null("kept", "checked_at").await.unwrap();
            }
        }
        let after = table_sql(&db, "kept");
        for kept in [
            "AUTOINCREMENT",
            "DEFAULT (1 + 1)",
            "GENERATED ALWAYS AS (qty * 2) STORED",
            "COLLATE NOCASE UNIQUE",
            "CHECK (qty >= 0)",
            ") STRICT",
            "checked_at TEXT NOT NULL",
        ] {
            assert!(after.contains(kept), "{kept} lost: {after}");
        }
        assert!(!after.contains("note"), "{after}");
        assert_eq!(
            names(&db, "kept"),
            ["id", "checked_at", "qty", "twice", "code"]
        );
        // The rows, with the generated column computed again.
        let rows: Vec<(i64, String, i64)> = s
            .query("SELECT id, code, twice FROM kept_codes ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
            .collect();
        assert_eq!(rows, [(1, "A".to_string(), 2), (2, "B".to_string(), 4)]);
        // Still at work: the collation (unique without case), the check, the
        // NOT NULL, the sequence, both triggers, the indexes.
        let dup = s.execute("INSERT INTO kept (checked_at, code) VALUES ('x', 'a')", &[]);
        assert_eq!(dup.unwrap_err().kind(), ErrorKind::UniqueViolation);
        let neg = s.execute(
            "INSERT INTO kept (checked_at, qty, code) VALUES ('x', -1, 'n')",
            &[],
        );
        assert_eq!(neg.unwrap_err().kind(), ErrorKind::IntegrityViolation);
        let null = s.execute("INSERT INTO kept (code) VALUES ('z')", &[]);
        assert_eq!(null.unwrap_err().kind(), ErrorKind::IntegrityViolation);
        s.execute("INSERT INTO kept (checked_at, code) VALUES ('x', 'D')", &[])
            .unwrap();
        let d: i64 = s
            .query_one("SELECT id FROM kept WHERE code = 'D'", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(d, 4, "the deleted key 3 is not handed out again");
        let log: i64 = s
            .query_one("SELECT COUNT(*) FROM kept_log WHERE what = 'added D'", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(log, 1);
        let fed = s.execute("INSERT INTO feed VALUES ('E')", &[]);
        // feed's trigger writes kept, whose checked_at is now NOT NULL
        assert_eq!(fed.unwrap_err().kind(), ErrorKind::IntegrityViolation);
        s.drop_not_null("kept", "checked_at").unwrap();
        s.execute("INSERT INTO feed VALUES ('E')", &[]).unwrap();
        assert_eq!(count(&db, "kept"), 4);
        let mut indexes: Vec<String> = s
            .indexes("kept")
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .filter(|n| n.starts_with("kept_"))
            .collect();
        indexes.sort();
        assert_eq!(
            indexes,
            ["kept_checked", "kept_lower"].map(String::from).to_vec()
        );

        let lower = s
            .indexes("kept")
            .unwrap()
            .into_iter()
            .find(|i| i.name == "kept_lower");
        assert_eq!(lower.unwrap().columns, ["lower(code)"]);

        // A trigger that names the column to drop: refused before it starts.
        let sql = "CREATE TRIGGER kept_qty AFTER UPDATE ON kept BEGIN \
                   INSERT INTO kept_log VALUES (new.qty); END";
        s.execute(sql, &[]).unwrap();
        let e = s.drop_column("kept", "qty").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
        assert!(e.to_string().contains("kept_qty"), "{e}");
        assert!(names(&db, "kept").contains(&"qty".to_string()));
        s.execute("DROP TRIGGER kept_qty", &[]).unwrap();

        // A view of the column to drop: the rebuild fails, nothing changes.
        s.execute("CREATE VIEW kept_notes AS SELECT twice FROM kept", &[])
            .unwrap();
        let before = table_sql(&db, "kept");
        let e = match sync {
            true => s.drop_column("kept", "twice").unwrap_err(),
            false => db.aio().drop_column("kept", "twice").await.unwrap_err(),
        };
        assert!(e.to_string().contains("twice"), "{e}");
        assert_eq!(table_sql(&db, "kept"), before);
        assert_eq!(count(&db, "kept"), 4);
        assert_eq!(count(&db, "kept_notes"), 4);
    }
}

/// MySQL's `add_not_null` and `drop_not_null` restate the column from the
/// server's own `SHOW CREATE TABLE`: its collation, comment,
/// `AUTO_INCREMENT` and `ON UPDATE` stay (a `MODIFY` from the type and
/// default alone dropped them all). On both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_not_null_changes_keep_the_rest_of_the_column() {
    let Some(url) = common::mysql_url() else {
        return;
    };
    let db = Database::open(&common::isolated_url(&url, "alter_my")).unwrap();
    let s = db.sync();
    s.execute(
        "CREATE TABLE kept (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         code VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin COMMENT 'the code', \
         updated DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, n INT) \
         DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO kept (code, n) VALUES ('A', 1)", &[])
        .unwrap();
    let show = || -> String {
        let row = db.sync().query_one("SHOW CREATE TABLE kept", &[]).unwrap();
        row.get(1).unwrap()
    };
    for column in ["id", "code", "updated"] {
        s.add_not_null("kept", column).unwrap();
    }
    db.aio().add_not_null("kept", "n").await.unwrap();
    let after = show();
    for kept in [
        "`id` bigint(20) NOT NULL AUTO_INCREMENT",
        "COLLATE utf8mb4_bin NOT NULL COMMENT 'the code'",
        "`updated` datetime NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()",
        "`n` int(11) NOT NULL",
    ] {
        assert!(after.contains(kept), "{kept} lost: {after}");
    }
    // Still at work: the key is generated, the collation tells case apart.
    s.execute("INSERT INTO kept (code, n) VALUES ('a', 2)", &[])
        .unwrap();
    let n: i64 = s
        .query_one("SELECT COUNT(*) FROM kept WHERE code = 'a'", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 1, "binary collation: 'a' is not 'A'");
    let null = s.execute("INSERT INTO kept (code, n) VALUES ('b', NULL)", &[]);
    assert_eq!(null.unwrap_err().kind(), ErrorKind::IntegrityViolation);
    db.aio().drop_not_null("kept", "code").await.unwrap();
    let after = show();
    assert!(
        after.contains("COLLATE utf8mb4_bin DEFAULT NULL COMMENT 'the code'"),
        "{after}"
    );
    let e = s.add_not_null("kept", "nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
}

/// Another connection changes the table between a SQLite rebuild's reads
/// and its write lock (here: adds a column while the rebuild waits for the
/// lock it holds): the rebuild stops with nothing changed instead of
/// writing the table from the text it read, which would lose the column.
#[test]
fn a_sqlite_rebuild_stops_if_the_table_changed_since_it_read_it() {
    let url = common::sqlite_file_url("alter_race");
    let db = Database::open(&url).unwrap();
    let other = Database::open(&url).unwrap();
    let s = db.sync();
    s.execute(
        "CREATE TABLE race (id INTEGER PRIMARY KEY, b TEXT, c TEXT)",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO race VALUES (1, 'b', 'c')", &[])
        .unwrap();
    let tx = other.sync().begin().unwrap();
    tx.execute("ALTER TABLE race ADD COLUMN d TEXT DEFAULT 'd'", &[])
        .unwrap();
    let rebuild = std::thread::spawn(move || db.sync().drop_column("race", "c"));
    // The rebuild has read the table and waits for the write lock.
    std::thread::sleep(std::time::Duration::from_millis(300));
    tx.commit().unwrap();
    let e = rebuild.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query, "{e}");
    assert!(
        e.to_string().contains("changed by another connection"),
        "{e}"
    );
    assert_eq!(names(&other, "race"), ["id", "b", "c", "d"]);
    let row = other
        .sync()
        .query_one("SELECT b, c, d FROM race", &[])
        .unwrap();
    let got: (String, String, String) = (
        row.get(0).unwrap(),
        row.get(1).unwrap(),
        row.get(2).unwrap(),
    );
    assert_eq!(got, ("b".into(), "c".into(), "d".into()));
    // Run again, it goes through.
    other.sync().drop_column("race", "c").unwrap();
    assert_eq!(names(&other, "race"), ["id", "b", "d"]);
}

/// SQLite matches table names without case: a rebuild named `legacy` of a
/// table made as `"Legacy"` finds it, keeps its spelling, its index, its
/// trigger and its sequence, and sees the other table's foreign key to it
/// (so that inside a transaction it is refused, foreign keys being on). On
/// both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_rebuild_finds_its_table_whatever_the_case() {
    let db = Database::open(&common::sqlite_file_url("alter_case")).unwrap();
    let s = db.sync();
    for sql in [
        "CREATE TABLE \"Legacy\" (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT NOT NULL, b TEXT)",
        "CREATE INDEX legacy_a ON \"Legacy\" (a)",
        "CREATE TABLE legacy_log (id INTEGER, what TEXT)",
        "CREATE TRIGGER legacy_logged AFTER INSERT ON \"Legacy\" \
         BEGIN INSERT INTO legacy_log VALUES (new.id, new.a); END",
        "CREATE TABLE legacy_ref (id INTEGER PRIMARY KEY, l INTEGER REFERENCES LEGACY (id))",
        "INSERT INTO \"Legacy\" (a, b) VALUES ('x', 'y'), ('z', 'w'), ('gone', 'g')",
        "DELETE FROM \"Legacy\" WHERE id = 3",
    ] {
        s.execute(sql, &[]).unwrap();
    }
    // The other table's key to it is seen: refused in a transaction.
    let e = s.atomic(|tx| tx.drop_column("legacy", "b")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    assert!(e.to_string().contains("since other tables"), "{e}");
    s.drop_column("legacy", "b").unwrap();
    db.aio().drop_not_null("LEGACY", "a").await.unwrap();
    let (name, sql): (String, String) = {
        let r = s
            .query_one(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = 'Legacy'",
                &[],
            )
            .unwrap();
        (r.get(0).unwrap(), r.get(1).unwrap())
    };
    assert_eq!(name, "Legacy");
    assert!(
        sql.contains("AUTOINCREMENT") && !sql.contains(" b "),
        "{sql}"
    );
    assert_eq!(names(&db, "Legacy"), ["id", "a"]);
    let indexes = s.indexes("Legacy").unwrap();
    assert!(indexes.iter().any(|i| i.name == "legacy_a"), "{indexes:?}");
    // The sequence goes on past the deleted key, and the trigger fires.
    s.execute("INSERT INTO legacy (a) VALUES (NULL)", &[])
        .unwrap();
    let id: i64 = s
        .query_one("SELECT MAX(id) FROM legacy", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(id, 4);
    let logged: i64 = s
        .query_one("SELECT COUNT(*) FROM legacy_log WHERE id = 4", &[])
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(logged, 1);
}
