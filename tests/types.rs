//! Every mapped type round-trips on every backend and both halves, NULL
//! included; PostgreSQL's own types (arrays, hstore, native enums) on
//! PostgreSQL, and a typed error elsewhere.
#![cfg(all(
    feature = "chrono",
    feature = "time",
    feature = "decimal",
    feature = "json",
    feature = "uuid"
))]

mod common;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use common::{HALVES, isolated_all, ph};
use dualdb::types::{Json, Numeric};
use dualdb::{BackendKind, Database, ErrorKind, Model, SqlEnum};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
enum Status {
    Active,
    OnHold,
    #[sql(rename = "X")]
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Prefs {
    theme: String,
    sizes: Vec<u32>,
}

/// One nullable column of every portable type.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "all_types")]
struct AllTypes {
    #[model(primary_key, auto)]
    id: i64,
    c_bool: Option<bool>,
    c_i16: Option<i16>,
    c_i32: Option<i32>,
    c_i64: Option<i64>,
    c_f32: Option<f32>,
    c_f64: Option<f64>,
    c_numeric: Option<Numeric>,
    c_decimal: Option<Decimal>,
    c_text: Option<String>,
    c_bytes: Option<Vec<u8>>,
    c_date: Option<NaiveDate>,
    c_time: Option<NaiveTime>,
    c_timestamp: Option<NaiveDateTime>,
    c_timestamptz: Option<DateTime<Utc>>,
    t_date: Option<time::Date>,
    t_time: Option<time::Time>,
    t_timestamp: Option<time::PrimitiveDateTime>,
    t_timestamptz: Option<time::OffsetDateTime>,
    c_uuid: Option<Uuid>,
    c_json: Option<Json<Prefs>>,
    c_value: Option<serde_json::Value>,
    c_enum: Option<Status>,
}

fn full() -> AllTypes {
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let clock = NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    let t_date = time::Date::from_calendar_date(1999, time::Month::December, 31).unwrap();
    let t_clock = time::Time::from_hms_micro(0, 0, 1, 999_999).unwrap();
    AllTypes {
        id: 0,
        c_bool: Some(true),
        c_i16: Some(-32_768),
        c_i32: Some(2_147_483_647),
        c_i64: Some(-9_007_199_254_740_993),
        c_f32: Some(1.5),
        c_f64: Some(-0.1),
        c_numeric: Some("-12345678901234567890.0123456789".parse().unwrap()),
        c_decimal: Some(Decimal::new(-1_999_999, 4)),
        c_text: Some("héllo, 'world'; --".into()),
        c_bytes: Some(vec![0, 1, 2, 255, 0]),
        c_date: Some(date),
        c_time: Some(clock),
        c_timestamp: Some(date.and_time(clock)),
        c_timestamptz: Some(DateTime::from_timestamp_micros(1_700_000_000_654_321).unwrap()),
        t_date: Some(t_date),
        t_time: Some(t_clock),
        t_timestamp: Some(time::PrimitiveDateTime::new(t_date, t_clock)),
        t_timestamptz: Some(
            time::OffsetDateTime::from_unix_timestamp_nanos(-86_400_000_001_000).unwrap(),
        ),
        c_uuid: Some(Uuid::new_v4()),
        c_json: Some(Json(Prefs {
            theme: "dark".into(),
            sizes: vec![1, 2, 3],
        })),
        c_value: Some(serde_json::json!({"a": [1, null, "x"], "b": {"c": true}})),
        c_enum: Some(Status::OnHold),
    }
}

fn empty() -> AllTypes {
    AllTypes {
        id: 0,
        c_bool: None,
        c_i16: None,
        c_i32: None,
        c_i64: None,
        c_f32: None,
        c_f64: None,
        c_numeric: None,
        c_decimal: None,
        c_text: None,
        c_bytes: None,
        c_date: None,
        c_time: None,
        c_timestamp: None,
        c_timestamptz: None,
        t_date: None,
        t_time: None,
        t_timestamp: None,
        t_timestamptz: None,
        c_uuid: None,
        c_json: None,
        c_value: None,
        c_enum: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_with_null_on_every_backend_and_half() {
    for db in isolated_all("types") {
        for half in HALVES {
            call!(half, db, drop_table::<AllTypes>()).unwrap();
            call!(half, db, create_table::<AllTypes>()).unwrap();
            let a = call!(half, db, create(full())).unwrap();
            let b = call!(half, db, create(empty())).unwrap();
            let kind = db.backend();
            assert_eq!(
                call!(half, db, get(AllTypes::by_id(a.id))).unwrap(),
                a,
                "{kind} {half:?}"
            );
            assert_eq!(
                call!(half, db, get(AllTypes::by_id(b.id))).unwrap(),
                b,
                "{kind} {half:?}"
            );
            // Filters carry the new types through sea-query unchanged.
            let by_date = AllTypes::C_DATE.eq(a.c_date.unwrap())
                & AllTypes::C_DECIMAL.eq(a.c_decimal.unwrap())
                & AllTypes::T_TIMESTAMPTZ.eq(a.t_timestamptz.unwrap())
                & AllTypes::C_ENUM.eq(Status::OnHold);
            assert_eq!(call!(half, db, get(by_date)).unwrap().id, a.id);
            assert_eq!(
                call!(half, db, count(AllTypes::C_TIMESTAMP.is_null(), false)).unwrap(),
                1
            );
            // update_only with new types
            let mut changed = a.clone();
            changed.c_time = Some(NaiveTime::from_hms_opt(1, 2, 3).unwrap());
            changed.c_enum = Some(Status::Closed);
            call!(
                half,
                db,
                update_only(&changed, &[&AllTypes::C_TIME, &AllTypes::C_ENUM])
            )
            .unwrap();
            assert_eq!(
                call!(half, db, get(AllTypes::by_id(a.id))).unwrap(),
                changed
            );
            // The enum is stored as its text.
            let sql = format!("SELECT c_enum FROM all_types WHERE id = {}", ph(&db, 1));
            let row = half.query_one(&db, &sql, &[&a.id]).await.unwrap();
            assert_eq!(row.get::<String>(0).unwrap(), "X");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_decode_into_integers_floats_and_decimals() {
    for db in isolated_all("aggregates") {
        for half in HALVES {
            let t = common::table("agg");
            half.execute(&db, &format!("CREATE TABLE {t} (v BIGINT)"), &[])
                .await
                .unwrap();
            for v in [3i64, 4, 5] {
                let sql = format!("INSERT INTO {t} (v) VALUES ({})", ph(&db, 1));
                half.execute(&db, &sql, &[&v]).await.unwrap();
            }
            // PostgreSQL: SUM(bigint) is NUMERIC; MySQL: DECIMAL; SQLite: INTEGER.
            let row = half
                .query_one(&db, &format!("SELECT SUM(v), AVG(v) FROM {t}"), &[])
                .await
                .unwrap();
            assert_eq!(row.get::<i64>(0).unwrap(), 12, "{}", db.backend());
            assert_eq!(row.get::<f64>(1).unwrap(), 4.0);
            assert_eq!(row.get::<Decimal>(1).unwrap(), Decimal::new(4, 0));
            assert_eq!(row.get::<Numeric>(0).unwrap(), Numeric::from(12));
            // A non-whole decimal does not silently become an integer.
            let row = half
                .query_one(&db, &format!("SELECT SUM(v) / 8.0 FROM {t}"), &[])
                .await
                .unwrap();
            assert_eq!(row.get::<f64>(0).unwrap(), 1.5);
            assert_eq!(row.get::<i64>(0).unwrap_err().kind(), ErrorKind::Decode);
        }
    }
}

#[derive(Serialize)]
struct NotJson(HashMap<(i32, i32), i32>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_cannot_be_encoded_fails_before_anything_is_sent() {
    for db in isolated_all("unencodable") {
        for half in HALVES {
            let t = common::table("enc");
            half.execute(&db, &format!("CREATE TABLE {t} (doc TEXT)"), &[])
                .await
                .unwrap();
            let bad = Json(NotJson(HashMap::from([((1, 2), 3)])));
            let sql = format!("INSERT INTO {t} (doc) VALUES ({})", ph(&db, 1));
            let err = half.execute(&db, &sql, &[&bad]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
            assert!(err.to_string().contains("JSON"), "{err}");
            let n: i64 = half
                .query_one(&db, &format!("SELECT COUNT(*) FROM {t}"), &[])
                .await
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(n, 0);
            // the connection is still good
            half.execute(&db, &sql, &[&"{}"]).await.unwrap();
        }
    }
}

/// PostgreSQL's own types.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "pg_types")]
struct PgTypes {
    #[model(primary_key, auto)]
    id: i64,
    ints: Vec<i32>,
    names: Option<Vec<Option<String>>>,
    days: Vec<NaiveDate>,
    amounts: Vec<Decimal>,
    attrs: Option<HashMap<String, Option<String>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_arrays_hstore_and_native_enums() {
    let Some(url) = common::pg_url() else { return };
    // hstore lives in `public`; the test's tables in a schema of its own.
    let admin = Database::open(&url).unwrap();
    let schema = common::table("pgtypes");
    admin
        .sync()
        .execute(
            "CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public",
            &[],
        )
        .unwrap();
    admin
        .sync()
        .execute(&format!("CREATE SCHEMA {schema}"), &[])
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = Database::open(&format!(
        "{url}{sep}options=-c%20search_path%3D{schema}%2Cpublic"
    ))
    .unwrap();
    db.sync()
        .execute("CREATE TYPE status AS ENUM ('active', 'on_hold', 'X')", &[])
        .unwrap();
    for half in HALVES {
        call!(half, db, drop_table::<PgTypes>()).unwrap();
        call!(half, db, create_table::<PgTypes>()).unwrap();
        let full = PgTypes {
            id: 0,
            ints: vec![1, -2, i32::MAX],
            names: Some(vec![Some("a".into()), None, Some("ü".into())]),
            days: vec![NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()],
            amounts: vec![Decimal::new(150, 2), Decimal::new(-1, 10)],
            attrs: Some(HashMap::from([
                ("k".to_string(), Some("v".to_string())),
                ("nothing".to_string(), None),
            ])),
        };
        let empty = PgTypes {
            id: 0,
            ints: vec![],
            names: None,
            days: vec![],
            amounts: vec![],
            attrs: None,
        };
        for model in [full, empty] {
            let stored = call!(half, db, create(model)).unwrap();
            assert_eq!(
                call!(half, db, get(PgTypes::by_id(stored.id))).unwrap(),
                stored,
                "{half:?}"
            );
        }
        // An array parameter in raw SQL, and `= ANY($1)`.
        let rows = half
            .query(
                &db,
                "SELECT id FROM pg_types WHERE id = ANY($1) ORDER BY id",
                &[&vec![1i64, 2, 99]],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);

        // A native enum type, bound and read through SqlEnum.
        half.execute(
            &db,
            "CREATE TABLE IF NOT EXISTS tickets (id INT PRIMARY KEY, s status)",
            &[],
        )
        .await
        .unwrap();
        half.execute(&db, "DELETE FROM tickets", &[]).await.unwrap();
        half.execute(
            &db,
            "INSERT INTO tickets VALUES (1, $1), (2, $2)",
            &[&Status::Closed, &Status::Active],
        )
        .await
        .unwrap();
        let row = half
            .query_one(
                &db,
                "SELECT s FROM tickets WHERE s = $1",
                &[&Status::Closed],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<Status>(0).unwrap(), Status::Closed);
        let err = half
            .execute(&db, "INSERT INTO tickets VALUES (3, $1)", &[&"nope"])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Query, "{err}");
        // A text value that names no variant is a decode error.
        let row = half
            .query_one(&db, "SELECT 'nope'::text", &[])
            .await
            .unwrap();
        let err = row.get::<Status>(0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.to_string().contains("active, on_hold, X"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_types_elsewhere_are_a_usage_error() {
    for db in isolated_all("pgonly") {
        if db.backend() == BackendKind::Postgres {
            continue;
        }
        for half in HALVES {
            let err = call!(half, db, create_table::<PgTypes>()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
            assert!(err.to_string().contains("PostgreSQL"), "{err}");
            let err = half
                .query(&db, "SELECT ?", &[&vec![1i32, 2]])
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
            // the connection is still good
            half.query_one(&db, "SELECT 1", &[]).await.unwrap();
        }
    }
}

/// A model of one field `id` of type `$t`, and a check that decoding it from
/// a query's only column gives what `row.get::<$t>(0)` gives, on both
/// halves: models decode through each backend's own forms where they can
/// (PostgreSQL's binary values, MySQL's owned text), `row.get` through
/// [`dualdb::ValueRef`].
macro_rules! one_field {
    ($name:ident, $t:ty) => {
        #[derive(Model, Debug, PartialEq)]
        #[model(table = "unused")]
        struct $name {
            id: $t,
        }

        impl $name {
            async fn decoded(db: &Database, sql: &str) -> Result<$t, String> {
                let mut seen = Vec::new();
                for half in HALVES {
                    let as_model = call!(half, db, raw::<$name>(sql, &[]))
                        .map(|mut v| v.remove(0).id)
                        .map_err(|e| e.to_string());
                    let by_get = half
                        .query_one(db, sql, &[])
                        .await
                        .and_then(|row| row.get::<$t>(0))
                        .map_err(|e| e.to_string());
                    assert_eq!(as_model, by_get, "{} {half:?}: {sql}", db.backend());
                    seen.push(as_model);
                }
                assert_eq!(seen[0], seen[1], "{}: {sql}", db.backend());
                seen.remove(0)
            }
        }
    };
}
one_field!(OneI16, i16);
one_field!(OneI32, i32);
one_field!(OneI64, i64);
one_field!(OneOptI64, Option<i64>);
one_field!(OneF32, f32);
one_field!(OneF64, f64);
one_field!(OneBool, bool);
one_field!(OneText, String);
one_field!(OneOptText, Option<String>);
one_field!(OneBytes, Vec<u8>);

/// The SQL of `pg` on PostgreSQL, `my` on MariaDB and `lite` on SQLite.
fn per_backend(db: &Database, pg: &str, my: &str, lite: &str) -> String {
    match db.backend() {
        BackendKind::Postgres => pg,
        BackendKind::Mysql => my,
        _ => lite,
    }
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_fields_decode_as_row_get_does_widening_narrowing_and_null() {
    for db in common::databases() {
        let sql = |pg: &str, my: &str, lite: &str| per_backend(&db, pg, my, lite);
        fn err<T: std::fmt::Debug>(r: Result<T, String>, says: &str) {
            let e = r.expect_err(says);
            assert!(e.contains(says), "{e}");
        }
        // Integers widen from every integer type and narrow only when they fit.
        let small = sql(
            "SELECT CAST(12 AS SMALLINT) AS id",
            "SELECT 12 AS id",
            "SELECT 12 AS id",
        );
        assert_eq!(OneI64::decoded(&db, &small).await, Ok(12));
        assert_eq!(OneI16::decoded(&db, &small).await, Ok(12));
        let big = sql(
            "SELECT CAST(3000000000 AS BIGINT) AS id",
            "SELECT 3000000000 AS id",
            "SELECT 3000000000 AS id",
        );
        assert_eq!(OneI64::decoded(&db, &big).await, Ok(3_000_000_000));
        err(OneI32::decoded(&db, &big).await, "out of range for i32");
        let int4 = sql(
            "SELECT CAST(-40000 AS INTEGER) AS id",
            "SELECT -40000 AS id",
            "SELECT -40000 AS id",
        );
        assert_eq!(OneI32::decoded(&db, &int4).await, Ok(-40_000));
        err(OneI16::decoded(&db, &int4).await, "out of range for i16");
        // NULL is None, and an error for a field that cannot hold it.
        let null = sql(
            "SELECT CAST(NULL AS BIGINT) AS id",
            "SELECT NULL AS id",
            "SELECT NULL AS id",
        );
        assert_eq!(OneOptI64::decoded(&db, &null).await, Ok(None));
        assert_eq!(OneOptText::decoded(&db, &null).await, Ok(None));
        err(
            OneI64::decoded(&db, &null).await,
            "cannot decode a NULL value as i64",
        );
        // Floats from floats of either width and from integers.
        let real = sql(
            "SELECT CAST(1.5 AS REAL) AS id",
            "SELECT 1.5e0 AS id",
            "SELECT 1.5 AS id",
        );
        assert_eq!(OneF64::decoded(&db, &real).await, Ok(1.5));
        assert_eq!(OneF32::decoded(&db, &real).await, Ok(1.5));
        assert_eq!(OneF64::decoded(&db, &small).await, Ok(12.0));
        // Booleans, text, bytes; text is not an integer, nor an integer text.
        let yes = sql("SELECT true AS id", "SELECT true AS id", "SELECT 1 AS id");
        assert_eq!(OneBool::decoded(&db, &yes).await, Ok(true));
        let text = sql(
            "SELECT CAST('héllo' AS VARCHAR(9)) AS id",
            "SELECT 'héllo' AS id",
            "SELECT 'héllo' AS id",
        );
        assert_eq!(OneText::decoded(&db, &text).await, Ok("héllo".to_string()));
        assert_eq!(
            OneOptText::decoded(&db, &text).await,
            Ok(Some("héllo".to_string()))
        );
        err(
            OneI64::decoded(&db, &text).await,
            "cannot decode a text value as i64",
        );
        err(
            OneText::decoded(&db, &small).await,
            "cannot decode a integer value",
        );
        let bytes = sql(
            "SELECT CAST('ab' AS BYTEA) AS id",
            "SELECT CAST('ab' AS BINARY) AS id",
            "SELECT x'6162' AS id",
        );
        assert_eq!(OneBytes::decoded(&db, &bytes).await, Ok(b"ab".to_vec()));
        // A decimal reads as its text.
        let decimal = sql(
            "SELECT CAST(1.50 AS NUMERIC(4, 2)) AS id",
            "SELECT CAST(1.50 AS DECIMAL(4, 2)) AS id",
            "SELECT '1.50' AS id",
        );
        assert_eq!(
            OneText::decoded(&db, &decimal).await,
            Ok("1.50".to_string())
        );
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "in_place")]
struct InPlace {
    #[model(primary_key)]
    id: i32,
    name: String,
    note: Option<String>,
}

/// SQLite hands the rows of a model's own select to the model in place (not
/// copied out of the statement first): they decode, and fail, exactly as
/// the copied rows of `raw` and `Row::get` do, row after row.
#[test]
fn sqlite_rows_read_in_place_decode_and_fail_as_copied_rows() {
    let db = Database::open("sqlite::memory:").unwrap();
    let s = db.sync();
    // Loose column types: SQLite stores what it is given.
    s.execute("CREATE TABLE in_place (id, name, note)", &[])
        .unwrap();
    let fill = |rows: &str| {
        s.execute("DELETE FROM in_place", &[]).unwrap();
        s.execute(&format!("INSERT INTO in_place VALUES {rows}"), &[])
            .unwrap();
    };
    let by_row = || -> Result<Vec<InPlace>, String> {
        let rows = s.query("SELECT id, name, note FROM in_place", &[]).unwrap();
        rows.iter()
            .map(|r| {
                Ok(InPlace {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    note: r.get(2)?,
                })
            })
            .collect::<dualdb::Result<_>>()
            .map_err(|e| e.to_string())
    };
    let good = "(1, 'ada', NULL), (2, 'bob', 'héllo'), (3, '', 'x')";
    fill(good);
    let expected = by_row().unwrap();
    assert_eq!(expected.len(), 3);
    assert_eq!(s.execute_query(InPlace::select()).unwrap(), expected);
    let folded = || {
        s.fold(InPlace::select(), Vec::new(), |mut v, m: InPlace| {
            v.push(m);
            Ok::<_, dualdb::Error>(v)
        })
    };
    assert_eq!(folded().unwrap(), expected);
    // Each bad value in the second row, after a good first one.
    for bad in [
        "(2, NULL, NULL)",
        "(3000000000, 'bob', NULL)",
        "(2, 7, NULL)",
        "(2, CAST(x'ff' AS TEXT), NULL)",
        "(2, 'bob', 1.5)",
    ] {
        fill(&format!("(1, 'ada', NULL), {bad}"));
        let copied = by_row().expect_err(bad);
        let in_place = s.execute_query(InPlace::select()).unwrap_err();
        assert_eq!(in_place.kind(), ErrorKind::Decode, "{bad}");
        assert_eq!(in_place.to_string(), copied, "{bad}");
        let raw = s.raw::<InPlace>("SELECT id, name, note FROM in_place", &[]);
        assert_eq!(raw.unwrap_err().to_string(), copied, "{bad}");
        assert_eq!(folded().unwrap_err().to_string(), copied, "{bad}");
    }
}

/// NaN and the infinities: stored and read back where the backend can
/// store them (PostgreSQL all three, SQLite the infinities), a `Usage`
/// error before anything is sent where it cannot (NaN on SQLite, which
/// would store NULL; all three on MySQL); both halves, in and out of a
/// transaction, with the rows checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floats_that_are_not_finite_round_trip_or_are_refused() {
    for db in isolated_all("nan") {
        let t = common::table("floats");
        let double = common::double(&db);
        db.sync()
            .execute(&format!("CREATE TABLE {t} (k INTEGER, x {double})"), &[])
            .unwrap();
        let insert = format!(
            "INSERT INTO {t} (k, x) VALUES ({}, {})",
            ph(&db, 1),
            ph(&db, 2)
        );
        let stores = |f: f64| match db.backend() {
            BackendKind::Postgres => true,
            BackendKind::Sqlite => !f.is_nan(),
            _ => false,
        };
        let mut k = 0i64;
        for half in HALVES {
            for in_tx in [false, true] {
                for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    k += 1;
                    let done = if in_tx {
                        match half {
                            common::Half::Sync => {
                                db.sync().atomic(|tx| tx.execute(&insert, &[&k, &f]))
                            }
                            common::Half::Async => {
                                db.aio()
                                    .atomic(async |tx| tx.execute(&insert, &[&k, &f]).await)
                                    .await
                            }
                        }
                    } else {
                        half.execute(&db, &insert, &[&k, &f]).await
                    };
                    let sql = format!("SELECT x FROM {t} WHERE k = {k}");
                    let back = half.query(&db, &sql, &[]).await.unwrap();
                    if stores(f) {
                        assert_eq!(done.unwrap(), 1);
                        let got: f64 = back[0].get(0).unwrap();
                        assert!(
                            got == f || (got.is_nan() && f.is_nan()),
                            "{:?}: {f} came back {got}",
                            db.backend()
                        );
                    } else {
                        let err = done.unwrap_err();
                        assert_eq!(
                            err.kind(),
                            ErrorKind::Usage,
                            "{:?} {f}: {err}",
                            db.backend()
                        );
                        assert!(err.message().contains(&f.to_string()), "{err}");
                        assert!(
                            back.is_empty(),
                            "{:?}: nothing stored for {f}",
                            db.backend()
                        );
                    }
                }
            }
            // The connection is still good.
            half.execute(&db, &insert, &[&0i64, &1.5f64]).await.unwrap();
        }
    }
}

/// A `DateTime<Utc>` is the same instant for dualdb and for the server
/// whatever time zone the server's sessions start in: MySQL/MariaDB
/// converts `TIMESTAMP` values from and to the session's zone, which dualdb
/// sets to UTC (here the server's global zone is set two hours east for the
/// test, as a server run in local time has); PostgreSQL's `TIMESTAMPTZ`
/// travels as an instant (a session zone set by `after_connect`). A value
/// the server stores (`FROM_UNIXTIME`, `NOW()`) reads as that instant, and
/// one dualdb writes is stored as it, on both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_the_same_instants_whatever_the_servers_time_zone() {
    let when = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    for url in common::urls() {
        let url = common::isolated_url(&url, "time_zones");
        let admin = Database::open(&url).unwrap();
        let (db, column, epoch, restore) = match admin.backend() {
            BackendKind::Mysql => {
                let was: String = admin
                    .sync()
                    .query_one("SELECT @@global.time_zone", &[])
                    .unwrap()
                    .get(0)
                    .unwrap();
                admin
                    .sync()
                    .execute("SET GLOBAL time_zone = '+02:00'", &[])
                    .unwrap();
                let db = Database::open(&url).unwrap();
                let restore = format!("SET GLOBAL time_zone = '{was}'");
                (db, "TIMESTAMP(6)", "UNIX_TIMESTAMP(ts)", Some(restore))
            }
            BackendKind::Postgres => {
                let db = Database::builder(&url)
                    .after_connect("SET TIME ZONE 'Asia/Kolkata'")
                    .build()
                    .unwrap();
                (db, "TIMESTAMPTZ", "EXTRACT(EPOCH FROM ts)", None)
            }
            // SQLite has no time zone.
            _ => continue,
        };
        let kind = db.backend();
        // The server's zone as dualdb's sessions see it, checked before the
        // global zone is put back.
        // The global zone goes back before anything can fail.
        let row = db.sync().query_one("SELECT NOW()", &[]);
        if let Some(restore) = restore {
            admin.sync().execute(&restore, &[]).unwrap();
        }
        let now: DateTime<Utc> = row.unwrap().get(0).unwrap();
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (now.timestamp() - clock).abs() < 60,
            "{kind:?}: NOW() is {now}"
        );
        db.sync()
            .execute(&format!("CREATE TABLE stamps (id INT, ts {column})"), &[])
            .unwrap();
        let from_epoch = match kind {
            BackendKind::Mysql => "FROM_UNIXTIME(1700000000)",
            _ => "TO_TIMESTAMP(1700000000)",
        };
        db.sync()
            .execute(&format!("INSERT INTO stamps VALUES (1, {from_epoch})"), &[])
            .unwrap();
        for (id, half) in [(2, HALVES[0]), (3, HALVES[1])] {
            let sql = "INSERT INTO stamps VALUES (?, ?)";
            half.execute(&db, sql, &[&id, &when]).await.unwrap();
        }
        let int = if kind == BackendKind::Mysql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        let sql = format!("SELECT id, ts, CAST({epoch} AS {int}) FROM stamps ORDER BY id");
        for half in HALVES {
            let rows = half.query(&db, &sql, &[]).await.unwrap();
            assert_eq!(rows.len(), 3);
            for r in rows {
                let id: i32 = r.get(0).unwrap();
                let ts: DateTime<Utc> = r.get(1).unwrap();
                let server: i64 = r.get(2).unwrap();
                assert_eq!(ts, when, "{kind:?} {half:?} row {id}: read");
                assert_eq!(
                    server,
                    when.timestamp(),
                    "{kind:?} {half:?} row {id}: stored"
                );
            }
        }
    }
}
