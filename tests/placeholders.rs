//! Portable SQL text: raw SQL written with `?` placeholders runs on every
//! backend and half, in and out of transactions (rewritten to `$1, $2, …`
//! on PostgreSQL, where a `?` inside a string literal, a quoted identifier,
//! a dollar-quoted string or a comment stays as written); each backend's own
//! style keeps working; PostgreSQL's jsonb operators `?|` and `?&` stay
//! operators and `??` is the `?` operator; a placeholder count that does not
//! match the values is a `Usage` error naming both counts, and on
//! PostgreSQL nothing reaches the server (the transaction it ran in goes on,
//! and no statement was prepared).

mod common;

use common::{HALVES, Half, databases, pg_url, table};
use dualdb::{BackendKind, Database, ErrorKind};
use futures::TryStreamExt;

#[derive(dualdb::FromRow, Debug, PartialEq)]
struct Named {
    id: i64,
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_marks_bind_in_order_on_every_backend_half_and_transaction() {
    for db in databases() {
        let b = db.backend();
        let t = table("qmark");
        db.sync()
            .execute(
                &format!(
                    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, note VARCHAR(50))"
                ),
                &[],
            )
            .unwrap();
        // A `?` in a literal, a comment and after the last placeholder's
        // value: only the two outside them are placeholders.
        let insert = format!(
            "INSERT INTO {t} (id, name, note) VALUES (?, ? /* not ? */, 'what? -- ?') -- nor ?\n"
        );
        let select = format!(
            "SELECT id, name, note, '?' AS q FROM {t} WHERE id >= ? AND name <> ? ORDER BY id"
        );
        for (k, half) in HALVES.into_iter().enumerate() {
            let id = k as i64 * 10;
            let n = half
                .execute(&db, &insert, &[&(id + 1), &"ada"])
                .await
                .unwrap();
            assert_eq!(n, 1, "{b:?} {half:?}");
            let rows = half.query(&db, &select, &[&id, &"bob"]).await.unwrap();
            assert_eq!(rows.len(), 1, "{b:?} {half:?}");
            assert_eq!(rows[0].get::<i64>("id").unwrap(), id + 1);
            assert_eq!(rows[0].get::<String>("name").unwrap(), "ada");
            assert_eq!(rows[0].get::<String>("note").unwrap(), "what? -- ?");
            assert_eq!(rows[0].get::<String>("q").unwrap(), "?");
        }
        // In transactions of both halves, through every raw read.
        let by_name = format!("SELECT id, name FROM {t} WHERE name = ? AND id > ? ORDER BY id");
        let tx = db.sync().begin().unwrap();
        tx.execute(&insert, &[&100i64, &"tx"]).unwrap();
        let got = tx.query_as::<Named>(&by_name, &[&"tx", &0i64]).unwrap();
        assert_eq!(
            got,
            [Named {
                id: 100,
                name: "tx".into()
            }],
            "{b:?}"
        );
        let ids: Vec<i64> = tx
            .fetch_as::<Named>(&by_name, &[&"ada", &0i64])
            .map(|n| n.unwrap().id)
            .collect();
        assert_eq!(ids, [1, 11], "{b:?}");
        tx.rollback().unwrap();
        let tx = db.aio().begin().await.unwrap();
        tx.execute(&insert, &[&200i64, &"tx"]).await.unwrap();
        let one = tx.query_one(&by_name, &[&"tx", &0i64]).await.unwrap();
        assert_eq!(one.get::<i64>(0).unwrap(), 200, "{b:?}");
        let ids: Vec<i64> = tx
            .fetch_as::<Named>(&by_name, &[&"ada", &0i64])
            .map_ok(|n| n.id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ids, [1, 11], "{b:?}");
        tx.commit().await.unwrap();
        let names: Vec<Named> = db.aio().query_as(&by_name, &[&"tx", &0i64]).await.unwrap();
        assert_eq!(
            names,
            [Named {
                id: 200,
                name: "tx".into()
            }],
            "{b:?}"
        );
        // The backend's own style still works.
        let own = match b {
            BackendKind::Postgres => format!("SELECT name FROM {t} WHERE id = $1"),
            _ => format!("SELECT name FROM {t} WHERE id = ?"),
        };
        let row = db.sync().query_one(&own, &[&1i64]).unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), "ada");
    }
}

/// PostgreSQL: `?` beside dollar-quoted strings, quoted identifiers,
/// nested comments, `E''` escapes and `::` casts; the jsonb operators; and
/// a statement mixing `?` with `$N` refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rewrites_only_the_placeholders() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    for half in HALVES {
        let row = half
            .query_one(
                &db,
                "SELECT $$ ? $1 $$ AS a, $q$it's ?$q$ AS b, ?::int AS n, \"we?rd\".x, \
                 E'\\'?' AS e /* outer /* ? */ still ? */ FROM (SELECT ?::bigint AS x) \"we?rd\"",
                &[&5i32, &7i64],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<String>("a").unwrap(), " ? $1 ", "{half:?}");
        assert_eq!(row.get::<String>("b").unwrap(), "it's ?");
        assert_eq!(row.get::<i32>("n").unwrap(), 5);
        assert_eq!(row.get::<i64>("x").unwrap(), 7);
        assert_eq!(row.get::<String>("e").unwrap(), "'?");

        let row = half
            .query_one(
                &db,
                "SELECT j ?? 'a' AS has, j ?| array['a', 'z'] AS some, j ?& array['a', 'z'] AS every, \
                 ?::text AS t FROM (SELECT '{\"a\": 1}'::jsonb AS j) s",
                &[&"x"],
            )
            .await
            .unwrap();
        let got: (bool, bool, bool, String) = (
            row.get("has").unwrap(),
            row.get("some").unwrap(),
            row.get("every").unwrap(),
            row.get("t").unwrap(),
        );
        assert_eq!(got, (true, true, false, "x".into()), "{half:?}");

        let err = half
            .query(&db, "SELECT $1::int, ?::int", &[&1i32, &2i32])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
        assert!(err.message().contains("`$N`"), "{err}");
    }
}

/// Two placeholders and one value, or one and two: a `Usage` error naming
/// both counts, on every backend and half; the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_that_does_not_match_is_a_usage_error_naming_both() {
    for db in databases() {
        let b = db.backend();
        for half in HALVES {
            let err = half
                .query(&db, "SELECT ? AS a, ? AS b", &[&1i64])
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{b:?} {half:?}: {err}");
            assert!(
                err.message().contains("take 2 values, 1 were given"),
                "{b:?} {half:?}: {err}"
            );
            let err = half
                .execute(&db, "SELECT ? AS a", &[&1i64, &2i64])
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{b:?} {half:?}: {err}");
            assert!(
                err.message().contains("take 1 values, 2 were given"),
                "{b:?} {half:?}: {err}"
            );
            let row = half.query_one(&db, "SELECT ? AS a", &[&"3"]).await.unwrap();
            assert_eq!(row.get::<String>(0).unwrap(), "3");
        }
    }
}

/// On PostgreSQL the count is checked before anything is sent: inside a
/// transaction, a statement the server refused would abort it, and a
/// statement it prepared would be listed in `pg_prepared_statements`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_checks_the_count_before_sending_anything() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    const PREPARED: &str = "SELECT count(*) FROM pg_prepared_statements";
    for half in HALVES {
        let tx = db.sync().begin().unwrap();
        tx.query_one(PREPARED, &[]).unwrap(); // prepared now, counted from here
        let before: i64 = tx.query_one(PREPARED, &[]).unwrap().get(0).unwrap();
        let sql = format!("SELECT ?::int + ?::int AS s, '{half:?}' AS h");
        let err = match half {
            Half::Sync => tx.query(&sql, &[&1i32]).unwrap_err(),
            Half::Async => {
                drop(tx);
                let tx = db.aio().begin().await.unwrap();
                tx.query_one(PREPARED, &[]).await.unwrap();
                let before: i64 = tx.query_one(PREPARED, &[]).await.unwrap().get(0).unwrap();
                let err = tx.query(&sql, &[&1i32]).await.unwrap_err();
                let after: i64 = tx.query_one(PREPARED, &[]).await.unwrap().get(0).unwrap();
                assert_eq!(after, before, "async: nothing prepared");
                tx.commit().await.unwrap();
                assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
                continue;
            }
        };
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
        let after: i64 = tx.query_one(PREPARED, &[]).unwrap().get(0).unwrap();
        assert_eq!(after, before, "blocking: nothing prepared");
        tx.commit().unwrap();
    }
}

/// Random statements against the PostgreSQL server: each a select of
/// expressions that read as text (placeholders with `::` casts, literals,
/// `E''` strings and dollar-quoted bodies holding `?` and `$1`, jsonb
/// operators, comments between them), on both halves; every column is what
/// the expression says, so only the placeholders were rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_statements_read_back_what_they_say_on_postgres() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let mut rng = common::Lcg(0x9e37_79b9);
    let bits = [
        "?", "$1", "'", "''", "$$", "--", "/*", "*/", "\"", "a", " ", "é",
    ];
    let text = |rng: &mut common::Lcg| -> String {
        (0..rng.next() % 6)
            .map(|_| bits[(rng.next() % bits.len() as u64) as usize])
            .collect()
    };
    for round in 0..120 {
        let mut sql = String::from("SELECT ");
        let mut want: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        for c in 0..1 + rng.next() % 6 {
            if c > 0 {
                sql.push_str(match rng.next() % 3 {
                    0 => ", /* ? $1 */ ",
                    1 => ", -- ? '\n",
                    _ => ", ",
                });
            }
            let t = text(&mut rng);
            let (expr, value) = match rng.next() % 7 {
                0 => {
                    values.push(t.clone());
                    ("?::text".to_owned(), t)
                }
                1 => (format!("'{}'", t.replace('\'', "''")), t),
                2 => {
                    let e = t.replace('\\', "\\\\").replace('\'', "\\'");
                    (format!("E'{e}'"), t)
                }
                3 if !t.contains("$q$") => (format!("$q${t}$q$"), t),
                4 => (
                    "('{\"a\": 1}'::jsonb ?| array['a', ?::text])::text".to_owned(),
                    {
                        values.push(t);
                        "true".to_owned()
                    },
                ),
                5 => (
                    "('{\"a\": 1}'::jsonb ?? 'b')::text".to_owned(),
                    "false".into(),
                ),
                _ => (
                    "('{\"a\": 1}'::jsonb ?& array['a', 'b'])::text".to_owned(),
                    "false".into(),
                ),
            };
            sql.push_str(&format!("{expr} AS c{c}"));
            want.push(value);
        }
        let params: Vec<&(dyn dualdb::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn dualdb::ToSql + Sync))
            .collect();
        for half in HALVES {
            let row = half
                .query_one(&db, &sql, &params)
                .await
                .unwrap_or_else(|e| panic!("round {round} {half:?}: {sql}: {e}"));
            let got: Vec<String> = (0..want.len()).map(|i| row.get(i).unwrap()).collect();
            assert_eq!(got, want, "round {round} {half:?}: {sql}");
        }
    }
}

#[derive(dualdb::Model, Debug, Clone, PartialEq)]
#[model(table = "named_pet")]
struct Pet {
    #[model(primary_key)]
    id: i64,
    name: String,
    kind: String,
}

/// `:name` parameters from pairs, a map and a model, on every backend and
/// half, in and out of transactions; a name used twice; `:` in literals,
/// comments and `::` casts left alone; and the misuses refused before any
/// I/O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_parameters_bind_by_name_on_every_backend_half_and_transaction() {
    for db in databases() {
        let b = db.backend();
        db.sync().drop_table::<Pet>().unwrap();
        db.sync().create_table::<Pet>().unwrap();
        let insert =
            "INSERT INTO named_pet (id, name, kind) VALUES (:id, :name, :kind) -- :nothing";
        for (k, half) in HALVES.into_iter().enumerate() {
            // From a model: its columns by name.
            let rex = Pet {
                id: k as i64 * 10 + 1,
                name: "Rex".into(),
                kind: "dog".into(),
            };
            let q = db.named(insert, &rex).unwrap();
            half.execute(&db, q.sql(), &q.params()).await.unwrap();
            // From pairs.
            let id = k as i64 * 10 + 2;
            let q = db
                .named(
                    insert,
                    &[
                        ("id", &id as &(dyn dualdb::ToSql + Sync)),
                        ("name", &"Tom"),
                        ("kind", &"cat"),
                    ],
                )
                .unwrap();
            half.execute(&db, q.sql(), &q.params()).await.unwrap();
            // From a map, a name used twice, a `:` in a literal.
            let by = std::collections::BTreeMap::from([("kind", "dog")]);
            let q = db
                .named(
                    "SELECT name, ':kind' AS lit FROM named_pet WHERE kind = :kind OR name = :kind ORDER BY id",
                    &by,
                )
                .unwrap();
            let rows = half.query(&db, q.sql(), &q.params()).await.unwrap();
            assert_eq!(rows.len(), k + 1, "{b:?} {half:?}: {}", q.sql());
            assert_eq!(rows[0].get::<String>("name").unwrap(), "Rex");
            assert_eq!(rows[0].get::<String>("lit").unwrap(), ":kind");
        }
        // In transactions of both halves.
        let tx = db.sync().begin().unwrap();
        let q = db
            .named(
                insert,
                &Pet {
                    id: 100,
                    name: "Tx".into(),
                    kind: "eel".into(),
                },
            )
            .unwrap();
        tx.execute(q.sql(), &q.params()).unwrap();
        let q = db
            .named(
                "SELECT id, name FROM named_pet WHERE kind = :kind",
                &[("kind", &"eel" as &(dyn dualdb::ToSql + Sync))],
            )
            .unwrap();
        let got = tx.query_as::<Named>(q.sql(), &q.params()).unwrap();
        assert_eq!(
            got,
            [Named {
                id: 100,
                name: "Tx".into()
            }],
            "{b:?}"
        );
        tx.rollback().unwrap();
        let tx = db.aio().begin().await.unwrap();
        let q = db
            .named(
                insert,
                &Pet {
                    id: 200,
                    name: "Tx".into(),
                    kind: "eel".into(),
                },
            )
            .unwrap();
        tx.execute(q.sql(), &q.params()).await.unwrap();
        let q = db
            .named(
                "SELECT id, name FROM named_pet WHERE kind = :kind",
                &[("kind", &"eel" as &(dyn dualdb::ToSql + Sync))],
            )
            .unwrap();
        let n = tx.query(q.sql(), &q.params()).await.unwrap().len();
        assert_eq!(n, 1, "{b:?}");
        tx.commit().await.unwrap();
        let n: i64 = db
            .sync()
            .query_one("SELECT COUNT(*) FROM named_pet", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 5, "{b:?}: four inserted outside, one committed");

        // Misuse: a name without a value, a value never used, mixed forms.
        let one = [("kind", &"dog" as &(dyn dualdb::ToSql + Sync))];
        for (sql, says) in [
            (
                "SELECT * FROM named_pet WHERE name = :name",
                ":name was given no value",
            ),
            (
                "SELECT * FROM named_pet WHERE kind = :kind AND id = ?",
                "cannot also have",
            ),
            (
                "SELECT * FROM named_pet",
                ":kind, which the statement does not use",
            ),
        ] {
            let err = db.named(sql, &one).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{b:?}: {err}");
            assert!(err.message().contains(says), "{b:?}: {err}");
        }
    }
    // PostgreSQL: `::` casts are not names; a name used twice binds once.
    if let Some(url) = pg_url() {
        let db = Database::open(&url).unwrap();
        let q = db
            .named(
                "SELECT :n::int + :n::int AS twice, '{\"a\":1}'::jsonb ?? 'a' AS has",
                &[("n", &21i32 as &(dyn dualdb::ToSql + Sync))],
            )
            .unwrap();
        assert_eq!(
            q.sql(),
            "SELECT $1::int + $1::int AS twice, '{\"a\":1}'::jsonb ?? 'a' AS has"
        );
        assert_eq!(q.params().len(), 1);
        let row = db.sync().query_one(q.sql(), &q.params()).unwrap();
        assert_eq!(row.get::<i32>("twice").unwrap(), 42);
        assert!(row.get::<bool>("has").unwrap());
    }
}
