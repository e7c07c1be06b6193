//! `#[derive(FromRow)]` structs read by `query_as`, `fetch_as` and the
//! builder's `select_fields`, on both halves of every backend, in and out of
//! transactions, checked against the rows stored: columns by name,
//! `rename`, `default`, `Option` for NULL, `flatten`, tuple structs by
//! position; a missing or ill-typed column is a `Decode` error naming the
//! column and the field.

mod common;

use common::{HALVES, isolated_all};
use dualdb::{Database, ErrorKind, FromRow, Model};
use futures::TryStreamExt;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "from_row_people")]
struct Person {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    city: String,
    nick: Option<String>,
}

#[derive(FromRow, Debug, PartialEq)]
struct Place {
    city: String,
}

/// A report that is no table: renamed, defaulted, nullable and flattened
/// fields.
#[derive(FromRow, Debug, PartialEq)]
struct Report {
    name: String,
    #[row(rename = "n")]
    count: i64,
    #[row(default)]
    rank: i64,
    nick: Option<String>,
    #[row(flatten)]
    place: Place,
}

/// By position.
#[derive(FromRow, Debug, PartialEq)]
struct Pair(String, i64);

/// Two fields of one column: each reads it (none takes it from the other).
#[derive(FromRow, Debug, PartialEq)]
struct Twice {
    name: String,
    #[row(rename = "name")]
    again: String,
}

/// No flattened field: each column at its field's place is taken from the
/// row rather than copied, wherever the query puts it.
#[derive(FromRow, Debug, PartialEq)]
struct Plain {
    name: String,
    nick: Option<String>,
    city: String,
}

async fn fresh(db: &Database) {
    db.aio().drop_table::<Person>().await.unwrap();
    db.aio().create_table::<Person>().await.unwrap();
    let person = |name: &str, city: &str, nick: Option<&str>| Person {
        id: 0,
        name: name.into(),
        city: city.into(),
        nick: nick.map(Into::into),
    };
    db.aio()
        .execute_query(Person::insert_many(vec![
            person("ann", "Oslo", Some("a")),
            person("bob", "Oslo", None),
            person("cy", "Rome", None),
        ]))
        .await
        .unwrap();
}

const REPORT: &str = "SELECT name, COUNT(*) AS n, nick, city FROM from_row_people \
                      GROUP BY name, nick, city ORDER BY name";

fn report(name: &str, nick: Option<&str>, city: &str) -> Report {
    Report {
        name: name.into(),
        count: 1,
        rank: 0,
        nick: nick.map(Into::into),
        place: Place { city: city.into() },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_structs_read_raw_sql_and_builder_rows() {
    for db in isolated_all("from_row") {
        fresh(&db).await;
        let want = [
            report("ann", Some("a"), "Oslo"),
            report("bob", None, "Oslo"),
            report("cy", None, "Rome"),
        ];
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let got: Vec<Report> = call!(half, db, query_as(REPORT, &[])).unwrap();
            assert_eq!(got, want, "{what}");
            // `default` takes the column where there is one.
            let sql =
                "SELECT name, 1 AS n, 7 AS rank, nick, city FROM from_row_people ORDER BY name";
            let got: Vec<Report> = call!(half, db, query_as(sql, &[])).unwrap();
            assert_eq!(got[0].rank, 7, "{what}");
            // By position, with a bound value.
            let sql = "SELECT city, COUNT(*) FROM from_row_people WHERE city <> ? GROUP BY city";
            let sql = common::placeholders(&db, sql);
            let got: Vec<Pair> = call!(half, db, query_as(&sql, &[&"Rome"])).unwrap();
            assert_eq!(got, [Pair("Oslo".into(), 2)], "{what}");
            // In the struct's order, in another, and streamed.
            let in_order = "SELECT name, nick, city FROM from_row_people ORDER BY name";
            let shuffled = "SELECT city, name, nick FROM from_row_people ORDER BY name";
            let a: Vec<Plain> = call!(half, db, query_as(in_order, &[])).unwrap();
            let b: Vec<Plain> = call!(half, db, query_as(shuffled, &[])).unwrap();
            assert_eq!(a, b, "{what}");
            assert_eq!(
                a[0],
                Plain {
                    name: "ann".into(),
                    nick: Some("a".into()),
                    city: "Oslo".into()
                },
                "{what}"
            );
            let bad = "SELECT nick AS name, nick, city FROM from_row_people ORDER BY name";
            let r: dualdb::Result<Vec<Plain>> = call!(half, db, query_as(bad, &[]));
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{what}: {e}");
            assert!(
                e.to_string().contains("Plain.name") && e.to_string().contains("column name"),
                "{what}: {e}"
            );
            let twice: Vec<Twice> = call!(
                half,
                db,
                query_as("SELECT name FROM from_row_people ORDER BY name", &[])
            )
            .unwrap();
            assert_eq!(
                twice[0],
                Twice {
                    name: "ann".into(),
                    again: "ann".into()
                },
                "{what}"
            );
            // The builder's columns, by name.
            #[derive(FromRow, Debug, PartialEq)]
            struct NameNick {
                name: String,
                nick: Option<String>,
            }
            let q = Person::select()
                .order_by(Person::NAME.asc())
                .select_fields((Person::NAME, Person::NICK));
            let got: Vec<NameNick> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                got[0],
                NameNick {
                    name: "ann".into(),
                    nick: Some("a".into())
                },
                "{what}"
            );
            assert_eq!(got[2].nick, None, "{what}");
        }
        // Streamed, both halves.
        let streamed: Vec<Report> = db.aio().fetch_as(REPORT, &[]).try_collect().await.unwrap();
        assert_eq!(streamed, want);
        let iterated: Vec<Report> = db
            .sync()
            .fetch_as(REPORT, &[])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(iterated, want);
        let sql = "SELECT name, nick, city FROM from_row_people ORDER BY name";
        let plain: Vec<Plain> = db.aio().fetch_as(sql, &[]).try_collect().await.unwrap();
        let again: Vec<Plain> = db
            .sync()
            .fetch_as(sql, &[])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!((plain.len(), &plain), (3, &again));
    }
}

/// In transactions: the transaction's rows, through `query_as` and
/// `fetch_as` on both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_structs_in_transactions() {
    for db in isolated_all("from_row_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let dee = Person {
            id: 0,
            name: "dee".into(),
            city: "Rome".into(),
            nick: None,
        };
        let rome = "SELECT name, COUNT(*) AS n, nick, city FROM from_row_people \
                    WHERE city = 'Rome' GROUP BY name, nick, city ORDER BY name";
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(dee.clone()).await?;
                let got: Vec<Report> = tx.query_as(rome, &[]).await?;
                assert_eq!(got.len(), 2, "{what}");
                let streamed: Vec<Report> = tx.fetch_as(rome, &[]).try_collect().await?;
                assert_eq!(streamed, got, "{what}");
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                assert_eq!(tx.query_as::<Report>(rome, &[])?.len(), 1, "{what}");
                tx.create(dee.clone())?;
                let iterated: Vec<Report> = tx.fetch_as(rome, &[]).collect::<Result<_, _>>()?;
                assert_eq!(iterated[1], report("dee", None, "Rome"), "{what}");
                Ok(())
            })
            .unwrap();
        let got: Vec<Report> = db.aio().query_as(rome, &[]).await.unwrap();
        assert_eq!(got.len(), 2, "{what}");
    }
}

/// A missing column, a NULL into a non-`Option` field, text into an integer:
/// `Decode` errors naming the struct's field and the column; the
/// connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_ill_typed_columns_name_the_field() {
    for db in isolated_all("from_row_bad") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let decode = |e: dualdb::Error, says: &[&str]| {
                assert_eq!(e.kind(), ErrorKind::Decode, "{what}: {e}");
                for s in says {
                    assert!(e.to_string().contains(s), "{what}: {e} lacks {s}");
                }
            };
            // No `n` column.
            let sql = "SELECT name, nick, city FROM from_row_people";
            let r: dualdb::Result<Vec<Report>> = call!(half, db, query_as(sql, &[]));
            decode(r.unwrap_err(), &["Report.count", "no column named \"n\""]);
            // The flattened struct's column missing.
            let sql = "SELECT name, 1 AS n, nick FROM from_row_people";
            let r: dualdb::Result<Vec<Report>> = call!(half, db, query_as(sql, &[]));
            decode(r.unwrap_err(), &["Report.place", "Place.city", "\"city\""]);
            // NULL into a String.
            let sql = "SELECT nick AS name, 1 AS n, nick, city FROM from_row_people ORDER BY name";
            let r: dualdb::Result<Vec<Report>> = call!(half, db, query_as(sql, &[]));
            decode(r.unwrap_err(), &["Report.name", "column name"]);
            // Text into an integer.
            let sql = "SELECT name, city AS n, nick, city FROM from_row_people";
            let r: dualdb::Result<Vec<Report>> = call!(half, db, query_as(sql, &[]));
            decode(r.unwrap_err(), &["Report.count", "column n"]);
            // Still usable.
            let got: Vec<Report> = call!(half, db, query_as(REPORT, &[])).unwrap();
            assert_eq!(got.len(), 3, "{what}");
        }
    }
}

#[derive(FromRow, Debug, PartialEq)]
struct Ab {
    a: i64,
    b: String,
}

/// A struct read in column order from a statement whose columns were found
/// in its fields' order is read by name again once the table under the
/// statement changed (SQLite prepares the kept statement anew, and dualdb's
/// memo of the checked names goes with it): both halves, the same SQL text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_table_under_a_kept_statement_is_read_by_name_again() {
    let db = Database::builder("sqlite::memory:")
        .sync_pool_size(1)
        .async_pool_size(1)
        .build()
        .unwrap();
    let sql = "SELECT * FROM pairs";
    // The table made with `columns` and its one row, read twice on each
    // half (the second time through the kept statement), and streamed.
    let read = async |columns: &str, row: &str, want: Ab| {
        db.sync()
            .execute("DROP TABLE IF EXISTS pairs", &[])
            .unwrap();
        db.sync()
            .execute(&format!("CREATE TABLE pairs ({columns})"), &[])
            .unwrap();
        db.sync()
            .execute(&format!("INSERT INTO pairs VALUES {row}"), &[])
            .unwrap();
        for _ in 0..2 {
            assert_eq!(
                db.sync().query_as::<Ab>(sql, &[]).unwrap(),
                std::slice::from_ref(&want)
            );
            let got: Vec<Ab> = db.aio().query_as(sql, &[]).await.unwrap();
            assert_eq!(got, std::slice::from_ref(&want));
            let streamed: Vec<Ab> = db
                .sync()
                .fetch_as(sql, &[])
                .collect::<dualdb::Result<_>>()
                .unwrap();
            assert_eq!(streamed, std::slice::from_ref(&want));
        }
    };
    let want = |a: i64, b: &str| Ab { a, b: b.into() };
    read("a INTEGER, b TEXT", "(1, 'x')", want(1, "x")).await;
    read("b TEXT, a INTEGER", "('y', 2)", want(2, "y")).await;
}

/// The derives' generated code names no type a user's struct could be
/// called: a model and a row struct named `R` (the name a generic
/// parameter of the derive once had) compile and read their rows.
mod named_like_a_generic {
    use dualdb::{Database, FromRow, Model};

    #[derive(Model, Debug, PartialEq)]
    #[model(table = "named_r")]
    pub struct R {
        #[model(primary_key)]
        pub id: i64,
        pub label: String,
    }

    pub mod row {
        #[derive(dualdb::FromRow, Debug, PartialEq)]
        pub struct R {
            pub id: i64,
            pub label: String,
        }
    }

    #[test]
    fn structs_named_r_derive_and_read() {
        let db = Database::open("sqlite::memory:").unwrap();
        let s = db.sync();
        s.create_table::<R>().unwrap();
        let made = s
            .create(R {
                id: 3,
                label: "c".into(),
            })
            .unwrap();
        assert_eq!(s.get(R::by_id(3)).unwrap(), made);
        let read: Vec<row::R> = s.query_as("SELECT id, label FROM named_r", &[]).unwrap();
        assert_eq!(
            read,
            [row::R {
                id: 3,
                label: "c".into()
            }]
        );
        let _ = <row::R as FromRow>::from_row;
    }
}
