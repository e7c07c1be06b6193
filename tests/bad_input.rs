//! Bad input gets a clear, typed error, the connection stays usable, and no
//! data changes: injection payloads in every bound value and filter, NUL
//! bytes, invalid UTF-8 read as text, 16 MiB values, wrong column types,
//! unknown columns.

mod common;

use common::models::{User, reset, user};
use common::{HALVES, isolated_all, ph};
use dualdb::{BackendKind, ErrorKind, Model};

const PAYLOADS: &[&str] = &[
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "1; DELETE FROM users",
    "ada' OR 'a'='a",
    "\\'; SELECT pg_sleep(5); --",
    "`users`; TRUNCATE users",
    "%' OR username LIKE '%",
    "$1",
    "?",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_payloads_are_data() {
    for db in isolated_all("inject") {
        for half in HALVES {
            reset(&db, half).await;
            let ada = call!(half, db, create(user("ada", 1))).unwrap();
            for p in PAYLOADS {
                // In filters: they match nothing and change nothing.
                assert_eq!(
                    call!(half, db, get_or_none(User::USERNAME.eq(*p))).unwrap(),
                    None
                );
                assert_eq!(
                    call!(half, db, count(User::USERNAME.like(p), false)).unwrap(),
                    0
                );
                assert_eq!(
                    call!(half, db, count(User::USERNAME.is_in([*p, "x"]), false)).unwrap(),
                    0
                );
                // As values: stored and read back byte for byte.
                let stored = call!(half, db, create(user(p, 2))).unwrap();
                assert_eq!(
                    call!(half, db, get(User::by_id(stored.id)))
                        .unwrap()
                        .username,
                    *p
                );
                let raw = format!("SELECT username FROM users WHERE username = {}", ph(&db, 1));
                let row = call!(half, db, query_one(&raw, &[p])).unwrap();
                assert_eq!(row.get::<String>(0).unwrap(), *p);
            }
            assert_eq!(
                call!(half, db, count(User::select(), false)).unwrap(),
                1 + PAYLOADS.len() as i64
            );
            assert_eq!(call!(half, db, get(User::by_id(ada.id))).unwrap(), ada);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_values_are_typed_errors_or_round_trip() {
    for db in isolated_all("awkward") {
        let b = db.backend();
        let blob = match b {
            BackendKind::Postgres => "BYTEA",
            _ => "BLOB",
        };
        let text = match b {
            BackendKind::Mysql => "LONGTEXT",
            _ => "TEXT",
        };
        db.sync()
            .execute(
                &format!("CREATE TABLE t (id INTEGER NOT NULL, s {text}, b {blob})"),
                &[],
            )
            .unwrap();
        let insert = format!(
            "INSERT INTO t (id, s, b) VALUES ({}, {}, {})",
            ph(&db, 1),
            ph(&db, 2),
            ph(&db, 3)
        );
        for half in HALVES {
            // NUL in text: PostgreSQL refuses it (typed); the others keep it.
            let nul = "a\0b";
            let r = call!(half, db, execute(&insert, &[&1, &nul, &None::<Vec<u8>>]));
            match b {
                BackendKind::Postgres => assert_eq!(r.unwrap_err().kind(), ErrorKind::Query),
                _ => {
                    r.unwrap();
                    let got: String =
                        call!(half, db, query_one("SELECT s FROM t WHERE id = 1", &[]))
                            .unwrap()
                            .get(0)
                            .unwrap();
                    assert_eq!(got, nul);
                }
            }
            // Invalid UTF-8 in a blob, read as text: a decode error, bytes fine.
            let bad: Vec<u8> = vec![0xff, 0xfe, b'a'];
            call!(half, db, execute(&insert, &[&2, &"ok", &bad])).unwrap();
            let row = call!(half, db, query_one("SELECT b FROM t WHERE id = 2", &[])).unwrap();
            assert_eq!(row.get::<String>(0).unwrap_err().kind(), ErrorKind::Decode);
            assert_eq!(row.get::<Vec<u8>>(0).unwrap(), bad);
            // The same read in place (SQLite decodes `query_as` from the
            // statement's row, not a copy), and empty text both ways.
            let sql = "SELECT b FROM t WHERE id = 2";
            let e = call!(half, db, query_as::<String>(sql, &[])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{e:?}");
            call!(half, db, execute(&insert, &[&4, &"", &None::<Vec<u8>>])).unwrap();
            let sql = "SELECT s FROM t WHERE id = 4";
            let got: Vec<String> = call!(half, db, query_as(sql, &[])).unwrap();
            assert_eq!(got, [""]);
            let row = call!(half, db, query_one(sql, &[])).unwrap();
            assert_eq!(row.get::<String>(0).unwrap(), "");
            // A 16 MiB value: stored and read back, or (MariaDB's
            // max_allowed_packet) a Usage error before it is sent; the
            // connection stays usable.
            let big = "x".repeat(16 << 20);
            match call!(half, db, execute(&insert, &[&3, &big, &None::<Vec<u8>>])) {
                Ok(_) => {
                    let got: String =
                        call!(half, db, query_one("SELECT s FROM t WHERE id = 3", &[]))
                            .unwrap()
                            .get(0)
                            .unwrap();
                    assert_eq!(got, big);
                    let sql = "SELECT s FROM t WHERE id = 3";
                    let got: Vec<String> = call!(half, db, query_as(sql, &[])).unwrap();
                    assert_eq!(got, [big]);
                }
                Err(e) => {
                    assert_eq!(b, BackendKind::Mysql, "{e}");
                    assert_eq!(e.kind(), ErrorKind::Usage, "{b:?}: {e:?}");
                    assert!(e.message().contains("max_allowed_packet"), "{e}");
                }
            }
            // Wrong types: a typed error, before or from the server.
            let r = call!(
                half,
                db,
                execute(&insert, &[&"not a number", &"s", &None::<Vec<u8>>])
            );
            if b != BackendKind::Sqlite {
                // SQLite's dynamic typing stores it; the servers refuse it.
                assert!(matches!(
                    r.unwrap_err().kind(),
                    ErrorKind::Query | ErrorKind::Decode
                ));
            }
            // Unknown columns and tables in raw SQL.
            let e = call!(half, db, query("SELECT nope FROM t", &[])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Query);
            assert!(e.code().is_some(), "{e:?}");
            let e = call!(half, db, query("SELECT * FROM no_such_table", &[])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Query);
            // Too few parameters: refused before the statement runs.
            let e = call!(half, db, execute(&insert, &[&1])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{e:?}");
            assert!(e.message().contains("take 3 values, 1 were given"), "{e:?}");
            // Still usable, and nothing else changed.
            call!(half, db, query_one("SELECT 1", &[])).unwrap();
            call!(half, db, execute("DELETE FROM t", &[])).unwrap();
        }
    }
}

/// At the limits: more bound values than the backend allows, and (MySQL) a
/// value larger than the server's `max_allowed_packet`, are `Usage` errors
/// naming the limit and what was given, before anything is sent; the
/// connection stays usable. Both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_beyond_the_backends_limits_are_named_before_sending() {
    for db in isolated_all("limits") {
        let (allowed, given) = match db.backend() {
            BackendKind::Sqlite => (32_766, 40_000),
            _ => (65_535, 70_000),
        };
        let list: Vec<String> = (1..=given).map(|i| ph(&db, i)).collect();
        let sql = format!("SELECT 1 WHERE 1 IN ({})", list.join(", "));
        let values: Vec<i64> = (0..given as i64).collect();
        let params: Vec<&(dyn dualdb::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn dualdb::ToSql + Sync))
            .collect();
        for half in HALVES {
            let err = call!(half, db, query(&sql, &params)).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Usage,
                "{:?} {half:?}: {err}",
                db.backend()
            );
            let (allowed, given) = (allowed.to_string(), given.to_string());
            assert!(
                err.message().contains(&allowed) && err.message().contains(&given),
                "{err}"
            );
            call!(half, db, query_one("SELECT 1", &[])).unwrap();
        }
        if db.backend() == BackendKind::Mysql {
            db.sync()
                .execute("CREATE TABLE big (b LONGBLOB)", &[])
                .unwrap();
            let max: i64 = db
                .sync()
                .query_one("SELECT @@max_allowed_packet", &[])
                .unwrap()
                .get(0)
                .unwrap();
            let too_big = vec![7u8; max as usize + 1024];
            let fits = vec![7u8; 1 << 20];
            for half in HALVES {
                let err = call!(
                    half,
                    db,
                    execute("INSERT INTO big (b) VALUES (?)", &[&too_big])
                )
                .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage, "{half:?}: {err}");
                assert!(err.message().contains("max_allowed_packet"), "{err}");
                assert!(err.message().contains(&max.to_string()), "{err}");
                call!(
                    half,
                    db,
                    execute("INSERT INTO big (b) VALUES (?)", &[&fits])
                )
                .unwrap();
            }
            let n: i64 = db
                .sync()
                .query_one("SELECT COUNT(*) FROM big", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(n, 2, "only the values that fit are stored");
        }
    }
}

/// A value that does not fit its column (a string past its length, an
/// integer past its type) is an error and nothing is stored, on every
/// backend and half; also on a MySQL/MariaDB server whose `sql_mode` is
/// lenient (set here for the test, as older servers are configured), which
/// would cut or clamp the value with a warning: dualdb's sessions add
/// `STRICT_TRANS_TABLES`. SQLite has neither limit: the value is stored
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_fit_are_errors_even_on_a_lenient_server() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "fits")]
    struct Fit {
        #[model(primary_key, auto)]
        id: i64,
        #[model(max_length = 5)]
        code: String,
        small: i16,
    }
    for url in common::urls() {
        let url = common::isolated_url(&url, "fits");
        let admin = dualdb::Database::open(&url).unwrap();
        let restore = match admin.backend() {
            BackendKind::Mysql => {
                let was: String = admin
                    .sync()
                    .query_one("SELECT @@global.sql_mode", &[])
                    .unwrap()
                    .get(0)
                    .unwrap();
                admin
                    .sync()
                    .execute("SET GLOBAL sql_mode = ''", &[])
                    .unwrap();
                Some(format!("SET GLOBAL sql_mode = '{was}'"))
            }
            _ => None,
        };
        // Connections made while the server is lenient, one a half.
        let db = dualdb::Database::builder(&url)
            .sync_pool_size(1)
            .async_pool_size(1)
            .build()
            .unwrap();
        let opened = (
            db.sync().create_table::<Fit>(),
            db.aio().count(Fit::select(), false).await,
        );
        if let Some(restore) = restore {
            admin.sync().execute(&restore, &[]).unwrap();
        }
        opened.0.unwrap();
        opened.1.unwrap();
        let kind = db.backend();
        let long = Fit {
            id: 0,
            code: "too-long".into(),
            small: 1,
        };
        let big = "INSERT INTO fits (code, small) VALUES (?, ?)";
        for half in HALVES {
            let stored = call!(half, db, create(long.clone()));
            let out_of_range = half.execute(&db, big, &[&"ok", &100_000_i32]).await;
            match kind {
                BackendKind::Sqlite => {
                    assert_eq!(stored.unwrap().code, "too-long");
                    assert_eq!(out_of_range.unwrap(), 1);
                }
                _ => {
                    let err = stored.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::Query, "{kind:?} {half:?}: {err}");
                    let err = out_of_range.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::Query, "{kind:?} {half:?}: {err}");
                }
            }
        }
        let stored = db.sync().count(Fit::select(), false).unwrap();
        let expected = if kind == BackendKind::Sqlite { 4 } else { 0 };
        assert_eq!(stored, expected, "{kind:?}");
    }
}
