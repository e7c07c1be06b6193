//! Expressions (`+ - * /`, `lower`, `upper`, `coalesce`) in filters,
//! selected fields and `set_expr` updates, on both halves of every
//! backend, in and out of transactions, checked against the rows stored:
//!
//! - concurrent `set_expr(VIEWS, VIEWS + 1)` updates lose no increment
//!   (the reason to compute on the server);
//! - injection payloads bound through every new path are stored and
//!   compared as the text they are, and the table survives.

mod common;

use common::{HALVES, Half, isolated_all};
use dualdb::{Database, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "expr_items")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    nick: Option<String>,
    qty: i32,
    price: f64,
    views: i64,
    rank: Option<i32>,
}

fn item(name: &str, qty: i32, price: f64, rank: Option<i32>) -> Item {
    Item {
        id: 0,
        name: name.into(),
        nick: None,
        qty,
        price,
        views: 0,
        rank,
    }
}

async fn fresh(db: &Database) {
    db.aio().drop_table::<Item>().await.unwrap();
    db.aio().create_table::<Item>().await.unwrap();
    let rows = vec![
        item("Apple", 3, 0.5, Some(2)),
        item("Pear", 10, 0.25, None),
        item("Fig", 7, 2.0, Some(1)),
    ];
    db.aio()
        .execute_query(Item::insert_many(rows))
        .await
        .unwrap();
}

async fn by_name(db: &Database, name: &str) -> Item {
    db.aio().get(Item::NAME.eq(name)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expressions_filter_select_and_update() {
    for db in isolated_all("expressions") {
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{:?} {half:?}", db.backend());
            // Filters on arithmetic.
            let n = call!(half, db, count((Item::QTY * 2).gt(10), false)).unwrap();
            assert_eq!(n, 2, "{what}");
            let n = call!(half, db, count((Item::QTY - 3).eq(0), false)).unwrap();
            assert_eq!(n, 1, "{what}");
            let n = call!(half, db, count((Item::PRICE * 4.0).le(2.0), false)).unwrap();
            assert_eq!(n, 2, "{what}");
            let n = call!(half, db, count((Item::PRICE / 0.5).ge(4.0), false)).unwrap();
            assert_eq!(n, 1, "{what}");
            // Column against column, through an expression.
            let n = call!(half, db, count((Item::QTY + 0).gt(Item::QTY - 1), false)).unwrap();
            assert_eq!(n, 3, "{what}");
            // Text functions and coalesce.
            let n = call!(half, db, count(Item::NAME.lower().eq("apple"), false)).unwrap();
            assert_eq!(n, 1, "{what}");
            let n = call!(half, db, count(Item::NAME.upper().eq("FIG"), false)).unwrap();
            assert_eq!(n, 1, "{what}");
            let n = call!(half, db, count(Item::RANK.coalesce(0).eq(0), false)).unwrap();
            assert_eq!(n, 1, "{what}: one NULL rank");
            // An expression as a selected field.
            let q = Item::select()
                .filter(Item::NAME.eq("Fig"))
                .fields([(Item::QTY * 3 + 1).field(), Item::NAME.upper().field()]);
            let (x, upper): (i32, String) = call!(half, db, scalar(q)).unwrap();
            assert_eq!((x, upper.as_str()), (22, "FIG"), "{what}");

            // Updates computed by the server, filtered by an expression.
            let q = Item::update_query()
                .set_expr(Item::QTY, Item::QTY * 2 + 1)
                .set_expr(Item::NAME, Item::NAME.upper())
                .set_expr(Item::RANK, Item::RANK.coalesce(9))
                .filter((Item::QTY * 2).gt(10));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 2, "{what}");
            let pear = db.aio().get(Item::NAME.eq("PEAR")).await.unwrap();
            assert_eq!((pear.qty, pear.rank), (21, Some(9)), "{what}");
            let fig = db.aio().get(Item::NAME.eq("FIG")).await.unwrap();
            assert_eq!((fig.qty, fig.rank), (15, Some(1)), "{what}");
            let apple = by_name(&db, "Apple").await;
            assert_eq!((apple.qty, apple.rank), (3, Some(2)), "{what}: not matched");
        }
    }
}

/// Tasks (or threads) each adding 1 to one row's views through
/// `set_expr`: no increment is lost, as it would be with read, add, write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_are_all_kept() {
    const WORKERS: i64 = 6;
    const EACH: i64 = 10;
    for db in isolated_all("expr_increments") {
        fresh(&db).await;
        let bump = || {
            Item::update_query()
                .set_expr(Item::VIEWS, Item::VIEWS + 1)
                .filter(Item::NAME.eq("Apple"))
        };
        common::both_halves_at_once(
            &db,
            WORKERS,
            EACH,
            move |db| async move {
                db.aio().execute_query(bump()).await.unwrap();
            },
            move |db| {
                db.sync().execute_query(bump()).unwrap();
            },
        )
        .await;
        let apple = by_name(&db, "Apple").await;
        assert_eq!(apple.views, 2 * WORKERS * EACH, "{:?}", db.backend());
    }
}

/// Inside transactions: an expression update is seen by the transaction,
/// undone by its rollback, kept by its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expression_updates_in_transactions() {
    for db in isolated_all("expr_tx") {
        fresh(&db).await;
        let add = |n: i32| {
            Item::update_query()
                .set_expr(Item::QTY, Item::QTY + n)
                .filter(Item::NAME.eq("Fig"))
        };
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.execute_query(add(100)).await?;
                let n = tx.count((Item::QTY - 100).eq(7), false).await?;
                assert_eq!(n, 1);
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        assert_eq!(by_name(&db, "Fig").await.qty, 7, "{:?}", db.backend());
        db.sync().atomic(|tx| tx.execute_query(add(5))).unwrap();
        db.aio()
            .atomic(async |tx| tx.execute_query(add(1)).await)
            .await
            .unwrap();
        assert_eq!(by_name(&db, "Fig").await.qty, 13, "{:?}", db.backend());
    }
}

const PAYLOADS: [&str; 4] = [
    "'; DROP TABLE expr_items; --",
    "\" OR 1=1 --",
    "` OR ``=`",
    "\\'); DELETE FROM expr_items; --",
];

/// Payloads bound through `set_expr`, `coalesce`, `lower`/`upper`
/// comparisons and `is_in`/`not_in`: stored and matched as text, nothing
/// else changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_payloads_stay_values() {
    for db in isolated_all("expr_injection") {
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{:?} {half:?}", db.backend());
            for p in PAYLOADS {
                let q = Item::update_query()
                    .set_expr(Item::NICK, p)
                    .filter(Item::NAME.eq("Apple"));
                assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1, "{what}");
                assert_eq!(by_name(&db, "Apple").await.nick.as_deref(), Some(p));
                let n = call!(half, db, count(Item::NICK.coalesce(p).eq(p), false)).unwrap();
                assert_eq!(n, 3, "{what}: {p}");
                let n = call!(half, db, count(Item::NAME.lower().eq(p), false)).unwrap();
                assert_eq!(n, 0, "{what}: {p}");
                let n = call!(half, db, count(Item::NAME.upper().ne(p), false)).unwrap();
                assert_eq!(n, 3, "{what}: {p}");
                let n = call!(half, db, count(Item::NICK.is_in([p, "x"]), false)).unwrap();
                assert_eq!(n, 1, "{what}: {p}");
                let n = call!(half, db, count(Item::NAME.not_in([p]), false)).unwrap();
                assert_eq!(n, 3, "{what}: {p}");
            }
            assert_eq!(call!(half, db, count(Item::select(), false)).unwrap(), 3);
            if half == Half::Sync {
                assert_eq!(db.sync().status().in_use(), 0);
            }
        }
    }
}

/// `case`, `concat` and (with chrono) `date`, selected, filtered on, ordered
/// by and written by `set_expr`, on both halves, in and out of
/// transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_and_concat_select_filter_order_and_update() {
    use dualdb::model::case;
    let size = || {
        case(Item::QTY.gt(5), "many")
            .when(Item::QTY.gt(2), "some")
            .otherwise("few")
    };
    for db in isolated_all("expr_case") {
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{:?} {half:?}", db.backend());
            // Selected, with the branch values bound.
            let q = Item::select()
                .order_by(Item::NAME.asc())
                .select_fields((Item::NAME, size()));
            let rows: Vec<(String, String)> = call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, &str)> =
                rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            assert_eq!(
                seen,
                [("Apple", "some"), ("Fig", "many"), ("Pear", "many")],
                "{what}"
            );
            // No ELSE: NULL where no branch holds.
            let q = Item::select()
                .order_by(Item::NAME.asc())
                .select_fields(case(Item::QTY.gt(8), Item::NAME).end());
            let rows: Vec<Option<String>> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows, [None, None, Some("Pear".to_string())], "{what}");
            // In a filter and an order: a NULL rank counts as 100.
            let ranked = || case(Item::RANK.is_null(), 100).otherwise(Item::QTY);
            let n = call!(half, db, count(ranked().gt(50), false)).unwrap();
            assert_eq!(n, 1, "{what}");
            let q = Item::select().order_by(ranked().field().desc());
            let got = call!(half, db, execute_query(q)).unwrap();
            let names: Vec<&str> = got.iter().map(|i| i.name.as_str()).collect();
            assert_eq!(names, ["Pear", "Fig", "Apple"], "{what}");
            // Concatenation: a NULL counts as empty text on every backend.
            let q = Item::select().order_by(Item::NAME.asc()).select_fields((
                Item::NAME.concat("-").concat(size()),
                Item::NICK.concat("!"),
            ));
            let rows: Vec<(String, String)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows[0],
                ("Apple-some".to_string(), "!".to_string()),
                "{what}"
            );
            assert_eq!(rows[2].0, "Pear-many", "{what}");
            let n = call!(
                half,
                db,
                count(Item::NAME.lower().concat("x").eq("figx"), false)
            )
            .unwrap();
            assert_eq!(n, 1, "{what}");
            // Written by the server.
            let q = Item::update_query()
                .set_expr(Item::NICK, Item::NAME.concat("/").concat(size()))
                .set_expr(Item::QTY, case(Item::QTY.gt(5), 0).otherwise(Item::QTY));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 3, "{what}");
            let fig = by_name(&db, "Fig").await;
            assert_eq!(
                (fig.nick.as_deref(), fig.qty),
                (Some("Fig/many"), 0),
                "{what}"
            );
            let apple = by_name(&db, "Apple").await;
            assert_eq!(
                (apple.nick.as_deref(), apple.qty),
                (Some("Apple/some"), 3),
                "{what}"
            );
            for p in PAYLOADS {
                let q = Item::select()
                    .filter(Item::NAME.eq("Fig"))
                    .select_fields((Item::NAME.concat(p), case(Item::QTY.eq(0), p).otherwise("")));
                let rows: Vec<(String, String)> = call!(half, db, execute_query(q)).unwrap();
                assert_eq!(rows, [(format!("Fig{p}"), p.to_string())], "{what}");
            }
            assert_eq!(call!(half, db, count(Item::select(), false)).unwrap(), 3);
        }
        // In transactions: the transaction's rows, rolled back or kept.
        let what = format!("{:?}", db.backend());
        fresh(&db).await;
        let mark = || Item::update_query().set_expr(Item::NICK, Item::NAME.concat("*"));
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.execute_query(mark()).await?;
                let q = Item::select()
                    .filter(Item::NICK.eq("Fig*"))
                    .select_fields(size());
                let got: Vec<String> = tx.execute_query(q).await?;
                assert_eq!(got, ["many"], "{what}");
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        assert_eq!(by_name(&db, "Fig").await.nick, None, "{what}");
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                tx.execute_query(mark())?;
                let q = Item::select()
                    .filter(Item::NICK.eq("Pear*"))
                    .select_fields(size());
                let got: Vec<String> = tx.execute_query(q)?;
                assert_eq!(got, ["many"], "{what}");
                Ok(())
            })
            .unwrap();
        assert_eq!(
            by_name(&db, "Fig").await.nick.as_deref(),
            Some("Fig*"),
            "{what}"
        );
    }
}

/// A `case` or `concat` naming a table the query does not read is a
/// `Usage` error before any I/O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_naming_an_unread_table_fails_before_any_io() {
    use dualdb::model::{Alias, case};
    const OTHER: Alias<Item> = Alias::new("other");
    for (url, db) in common::dead_and_live() {
        for half in HALVES {
            let what = format!("{url} {half:?}");
            let q = Item::select().select_fields(case(OTHER.col(Item::QTY).gt(1), 1).otherwise(0));
            let r: dualdb::Result<Vec<i32>> = call!(half, db, execute_query(q));
            common::assert_usage(&r.unwrap_err(), "Item as other", &what);
            let q =
                Item::update_query().set_expr(Item::NAME, Item::NAME.concat(OTHER.col(Item::NAME)));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            common::assert_usage(&e, "Item as other", &what);
        }
    }
}

#[cfg(feature = "chrono")]
mod dates {
    use super::common::{HALVES, isolated_all};
    use crate::call;
    use chrono::{NaiveDate, NaiveDateTime};
    use dualdb::Model;
    use dualdb::model::Field;

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "expr_visits")]
    struct Visit {
        #[model(primary_key, auto)]
        id: i64,
        at: NaiveDateTime,
        left: Option<NaiveDateTime>,
    }

    fn at(day: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 3, day)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    /// `date()`, `month_start()` and `year_start()` group and filter by the
    /// day, month and year, on both halves, in and out of a transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn date_groups_and_filters_by_the_day() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // The last second of 2023.
        let eve = ymd(2023, 12, 31).and_hms_opt(23, 59, 59).unwrap();
        for db in isolated_all("expr_dates") {
            db.aio().drop_table::<Visit>().await.unwrap();
            db.aio().create_table::<Visit>().await.unwrap();
            let visit = |at, left| Visit { id: 0, at, left };
            db.aio()
                .execute_query(Visit::insert_many(vec![
                    visit(at(1, 10, 0, 0), Some(at(1, 11, 0, 0))),
                    visit(at(1, 23, 59, 59), None),
                    visit(at(2, 0, 0, 1), Some(at(3, 0, 30, 0))),
                    visit(eve, Some(eve)),
                ]))
                .await
                .unwrap();
            for half in HALVES {
                let what = format!("{:?} {half:?}", db.backend());
                let q = Visit::select()
                    .group_by(Visit::AT.date())
                    .order_by(Visit::AT.date().field().asc())
                    .select_fields((Visit::AT.date(), Field::<Visit>::count_all()));
                let rows: Vec<(NaiveDate, i64)> = call!(half, db, execute_query(q)).unwrap();
                assert_eq!(
                    rows,
                    [(ymd(2023, 12, 31), 1), (day(1), 2), (day(2), 1)],
                    "{what}"
                );
                // By month and by year.
                let q = Visit::select()
                    .group_by(Visit::AT.month_start())
                    .order_by(Visit::AT.month_start().field().asc())
                    .select_fields((Visit::AT.month_start(), Field::<Visit>::count_all()));
                let rows: Vec<(NaiveDate, i64)> = call!(half, db, execute_query(q)).unwrap();
                assert_eq!(rows, [(ymd(2023, 12, 1), 1), (day(1), 3)], "{what}");
                let q = Visit::select()
                    .group_by(Visit::AT.year_start())
                    .order_by(Visit::AT.year_start().field().desc())
                    .select_fields((Visit::AT.year_start(), Field::<Visit>::count_all()));
                let rows: Vec<(NaiveDate, i64)> = call!(half, db, execute_query(q)).unwrap();
                assert_eq!(rows, [(ymd(2024, 1, 1), 3), (ymd(2023, 1, 1), 1)], "{what}");
                let n = call!(half, db, count(Visit::AT.month_start().eq(day(1)), false)).unwrap();
                assert_eq!(n, 3, "{what}");
                let n = call!(half, db, count(Visit::AT.date().eq(day(2)), false)).unwrap();
                assert_eq!(n, 1, "{what}");
                // A nullable timestamp's date is nullable.
                let q = Visit::select()
                    .order_by(Visit::ID.asc())
                    .select_fields(Visit::LEFT.date());
                let rows: Vec<Option<NaiveDate>> = call!(half, db, execute_query(q)).unwrap();
                assert_eq!(
                    rows,
                    [Some(day(1)), None, Some(day(3)), Some(ymd(2023, 12, 31))],
                    "{what}"
                );
                let q = Visit::select()
                    .order_by(Visit::ID.asc())
                    .select_fields((Visit::LEFT.month_start(), Visit::LEFT.year_start()));
                let rows: Vec<(Option<NaiveDate>, Option<NaiveDate>)> =
                    call!(half, db, execute_query(q)).unwrap();
                let (march, y24) = (Some(day(1)), Some(ymd(2024, 1, 1)));
                let dec = (Some(ymd(2023, 12, 1)), Some(ymd(2023, 1, 1)));
                assert_eq!(
                    rows,
                    [(march, y24), (None, None), (march, y24), dec],
                    "{what}"
                );
            }
            let what = format!("{:?}", db.backend());
            db.sync()
                .atomic(|tx| -> dualdb::Result<()> {
                    tx.create(visit(at(2, 12, 0, 0), None))?;
                    let n = tx.count(Visit::AT.date().eq(day(2)), false)?;
                    assert_eq!(n, 2, "{what}");
                    let n = tx.count(Visit::AT.month_start().eq(day(1)), false)?;
                    assert_eq!(n, 4, "{what}");
                    Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
                })
                .unwrap_err();
            let n = db
                .aio()
                .count(Visit::AT.date().eq(day(2)), false)
                .await
                .unwrap();
            assert_eq!(n, 1, "{what}");
        }
    }
}

/// `eq(None)` is `IS NULL` and `ne(None)` is `IS NOT NULL` (peewee's
/// `== None` and `!= None`), so a filter on an `Option` finds the rows
/// whatever the option holds; on every backend and half, in counts, reads
/// and deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eq_none_is_is_null_and_ne_none_is_not_null() {
    use common::models::{User, reset, user};
    for db in common::isolated_all("eq_none") {
        let kind = db.backend();
        for half in common::HALVES {
            reset(&db, half).await;
            let mut with = user("with", 1);
            with.email = Some("w@x".into());
            call!(half, db, create(with)).unwrap();
            call!(half, db, create(user("without", 2))).unwrap();
            for (email, name) in [(None, "without"), (Some("w@x".to_string()), "with")] {
                let found = call!(half, db, get(User::EMAIL.eq(email.clone()))).unwrap();
                assert_eq!(found.username, name, "{kind:?} {half:?} eq({email:?})");
            }
            let other = call!(half, db, get(User::EMAIL.ne(None::<String>))).unwrap();
            assert_eq!(other.username, "with", "{kind:?} {half:?} ne(None)");
            // A value: as in SQL, the NULL row is neither equal nor unequal.
            let q = User::select().filter(User::EMAIL.ne("w@x"));
            assert_eq!(
                call!(half, db, count(q, false)).unwrap(),
                0,
                "{kind:?} {half:?}"
            );
            let q = User::delete_query().filter(User::EMAIL.eq(None::<String>));
            assert_eq!(
                call!(half, db, execute_query(q)).unwrap(),
                1,
                "{kind:?} {half:?}"
            );
            assert_eq!(call!(half, db, count(User::select(), false)).unwrap(), 1);
        }
    }
}

/// `contains`, `starts_with` and `ends_with` match text in any case, with
/// `%`, `_`, `!` (the escape) and quotes in the text matched as themselves;
/// `between` includes both ends. Every backend, both halves, and inside a
/// transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contains_starts_with_and_ends_with_escape_wildcards() {
    for db in isolated_all("matching") {
        let b = db.backend();
        db.aio().drop_table::<Item>().await.unwrap();
        db.aio().create_table::<Item>().await.unwrap();
        let names = [
            "50% off",
            "50 percent",
            "A_B",
            "AxB",
            "Hello World",
            "hello",
            "it's!",
            "wow",
            "Émile",
        ];
        let rows: Vec<Item> = (0..)
            .zip(names)
            .map(|(i, n)| item(n, i, 1.0, None))
            .collect();
        db.aio()
            .execute_query(Item::insert_many(rows))
            .await
            .unwrap();
        for half in HALVES {
            let found = async |f: dualdb::model::Filter<Item>| -> Vec<String> {
                let q = Item::select().filter(f).order_by(Item::QTY.asc());
                let rows: Vec<Item> = call!(half, db, execute_query(q)).unwrap();
                rows.into_iter().map(|i| i.name).collect()
            };
            let what = format!("{b:?} {half:?}");
            assert_eq!(
                found(Item::NAME.contains("50%")).await,
                ["50% off"],
                "{what}"
            );
            assert_eq!(found(Item::NAME.contains("_")).await, ["A_B"], "{what}");
            assert_eq!(found(Item::NAME.contains("!")).await, ["it's!"], "{what}");
            assert_eq!(found(Item::NAME.contains("'S!")).await, ["it's!"], "{what}");
            assert_eq!(
                found(Item::NAME.starts_with("HELLO")).await,
                ["Hello World", "hello"],
                "{what}"
            );
            assert_eq!(
                found(Item::NAME.ends_with("world")).await,
                ["Hello World"],
                "{what}"
            );
            assert_eq!(
                found(Item::NAME.ends_with("%")).await,
                Vec::<String>::new(),
                "{what}"
            );
            assert_eq!(
                found(Item::NAME.lower().contains("W")).await.len(),
                2,
                "{what}"
            );
            assert_eq!(
                found(Item::QTY.between(2, 4)).await,
                ["A_B", "AxB", "Hello World"],
                "{what}"
            );
            assert_eq!(
                found(Item::NICK.contains("x")).await,
                Vec::<String>::new(),
                "{what}"
            );
            // Letters beyond ASCII match as written everywhere; their case
            // is folded on PostgreSQL and MySQL (SQLite's LOWER is ASCII's).
            assert_eq!(found(Item::NAME.contains("Émi")).await, ["Émile"], "{what}");
            let folded = found(Item::NAME.starts_with("émile")).await.len();
            assert_eq!(
                folded,
                usize::from(b != dualdb::BackendKind::Sqlite),
                "{what}"
            );
        }
        let tx = db.aio().begin().await.unwrap();
        let n = tx.count(Item::NAME.contains("50"), false).await.unwrap();
        assert_eq!(n, 2, "{b:?} in a transaction");
        tx.commit().await.unwrap();
    }
}
