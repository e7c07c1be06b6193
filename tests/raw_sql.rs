//! The raw-SQL calls (execute, query, query_one, query_opt) on both halves of
//! every backend: bound parameters, typed decoding, the row-count errors, and
//! the server's errors mapped to kinds with their codes.

mod common;

use common::{HALVES, Half, blob, boolean, databases, double, phs, serial_pk, table};
use dualdb::{BackendKind, Database, ErrorKind};

async fn roundtrip(db: &Database, half: Half) {
    let t = table("raw");
    half.execute(
        db,
        &format!(
            "CREATE TABLE {t} ({}, name VARCHAR(100) NOT NULL UNIQUE, score {}, active {}, data {}, note VARCHAR(50))",
            serial_pk(db),
            double(db),
            boolean(db),
            blob(db)
        ),
        &[],
    )
    .await
    .unwrap();
    let insert = format!(
        "INSERT INTO {t} (name, score, active, data, note) VALUES ({})",
        phs(db, 5)
    );
    let bytes: Vec<u8> = vec![0, 159, 146, 150, 255];
    let n = half
        .execute(
            db,
            &insert,
            &[&"ada", &1.5f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap();
    assert_eq!(
        n,
        1,
        "{:?} {half:?}: rows affected by one insert",
        db.backend()
    );
    let n = half
        .execute(
            db,
            &insert,
            &[&"bob", &-2.25f64, &false, &Vec::<u8>::new(), &Some("hi")],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);

    let rows = half
        .query(
            db,
            &format!("SELECT id, name, score, active, data, note FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<String>("name").unwrap(), "ada");
    assert_eq!(rows[0].get::<f64>("score").unwrap(), 1.5);
    assert!(rows[0].get::<bool>("active").unwrap());
    assert_eq!(rows[0].get::<Vec<u8>>("data").unwrap(), bytes);
    assert_eq!(rows[0].get::<Option<String>>("note").unwrap(), None);
    assert!(!rows[1].get::<bool>(3).unwrap());
    assert_eq!(
        rows[1].get::<Option<String>>(5).unwrap().as_deref(),
        Some("hi")
    );
    let first_id: i64 = rows[0].get("id").unwrap();
    assert!(rows[1].get::<i64>("id").unwrap() > first_id);

    // Bound parameters select, and integers narrow to the column's type.
    let by_id = format!("SELECT name FROM {t} WHERE id = {}", phs(db, 1));
    let one = half.query_one(db, &by_id, &[&first_id]).await.unwrap();
    assert_eq!(one.get::<String>(0).unwrap(), "ada");
    let small_id = i32::try_from(first_id).unwrap();
    assert_eq!(
        half.query_one(db, &by_id, &[&small_id])
            .await
            .unwrap()
            .get::<String>(0)
            .unwrap(),
        "ada"
    );
    assert!(
        half.query_opt(db, &by_id, &[&-1i64])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        half.query_opt(db, &by_id, &[&first_id])
            .await
            .unwrap()
            .is_some()
    );

    // Row-count rules.
    let all = format!("SELECT name FROM {t}");
    assert_eq!(
        half.query_one(db, &all, &[]).await.unwrap_err().kind(),
        ErrorKind::TooManyRows
    );
    assert_eq!(
        half.query_opt(db, &all, &[]).await.unwrap_err().kind(),
        ErrorKind::TooManyRows
    );
    assert_eq!(
        half.query_one(db, &by_id, &[&-1i64])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // Decode errors name the column and leave the connection usable.
    let err = one.get::<i64>(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("column 0"), "{err}");
    assert_eq!(
        one.get::<i64>("nope").unwrap_err().kind(),
        ErrorKind::Decode
    );

    // A unique violation, typed and with the server's code.
    let err = half
        .execute(
            db,
            &insert,
            &[&"ada", &0.0f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err:?}");
    let expected = match db.backend() {
        BackendKind::Postgres => "23505",
        BackendKind::Mysql => "1062",
        _ => "2067",
    };
    assert_eq!(err.code(), Some(expected));

    // A NOT NULL violation is an integrity violation.
    let err = half
        .execute(
            db,
            &insert,
            &[&None::<String>, &0.0f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IntegrityViolation, "{err:?}");

    // A syntax error is a query error with the server's code.
    let err = half.query(db, "SELEC nonsense", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Query);
    let expected = match db.backend() {
        BackendKind::Postgres => "42601",
        BackendKind::Mysql => "1064",
        _ => "1",
    };
    assert_eq!(err.code(), Some(expected), "{err:?}");

    // Nothing above broke the connection or changed data.
    let count: i64 = half
        .query_one(db, &format!("SELECT COUNT(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, 2);

    // Updates and deletes report the rows they changed.
    let n = half
        .execute(
            db,
            &format!("UPDATE {t} SET note = {}", phs(db, 1)),
            &[&"x"],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = half
        .execute(
            db,
            &format!("DELETE FROM {t} WHERE id = {}", phs(db, 1)),
            &[&first_id],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    half.execute(db, &format!("DROP TABLE {t}"), &[])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_on_both_halves_of_every_backend() {
    for db in databases() {
        for half in HALVES {
            roundtrip(&db, half).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_halves_see_the_same_data() {
    for db in databases() {
        let t = table("shared");
        db.sync()
            .execute(&format!("CREATE TABLE {t} (x INTEGER)"), &[])
            .unwrap();
        db.aio()
            .execute(&format!("INSERT INTO {t} (x) VALUES (41)"), &[])
            .await
            .unwrap();
        db.sync()
            .execute(&format!("UPDATE {t} SET x = x + 1"), &[])
            .unwrap();
        let x: i32 = db
            .aio()
            .query_one(&format!("SELECT x FROM {t}"), &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(x, 42, "{:?}", db.backend());
        db.aio()
            .execute(&format!("DROP TABLE {t}"), &[])
            .await
            .unwrap();
    }
}
