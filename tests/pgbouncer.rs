//! Through PgBouncer in transaction pooling mode (started by `ci/test`):
//! with `prepared_statements(false)` every statement is sent unnamed in one
//! round trip, so consecutive statements of one client may run on different
//! server connections and nothing breaks.

mod common;

use std::sync::Arc;

use common::HALVES;
use dualdb::model::ColumnOf;
use dualdb::{Database, ErrorKind, Model, ToSql};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bouncer_items")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique, max_length = 60)]
    name: String,
    qty: i32,
    note: Option<String>,
}

fn bouncer() -> Option<Database> {
    let url = common::server_url("DUALDB_PGBOUNCER_URL")?;
    Some(
        Database::builder(&url)
            .prepared_statements(false)
            .async_pool_size(8)
            .build()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_models_and_transactions_work_through_pgbouncer() {
    let Some(db) = bouncer() else { return };
    // PgBouncer hands each transaction any server connection: a table per
    // run keeps parallel runs apart, and nothing session-level is relied on.
    let t = common::table("bouncer_raw");
    for half in HALVES {
        half.execute(&db, &format!("DROP TABLE IF EXISTS {t}"), &[])
            .await
            .unwrap();
        half.execute(
            &db,
            &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, at DATE)"),
            &[],
        )
        .await
        .unwrap();
        for id in 0..20i64 {
            let n = half
                .execute(
                    &db,
                    &format!("INSERT INTO {t} VALUES ($1, $2, $3, $4)"),
                    &[
                        &id,
                        &format!("n{id}"),
                        &(id as f64 / 2.0),
                        &dualdb::Value::Date(19_000),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        // NULL parameters are typed by the server; int8 compares with any integer column.
        let rows = half
            .query(
                &db,
                &format!("SELECT id, name FROM {t} WHERE id >= $1 AND ($2::text IS NULL OR name = $2) ORDER BY id"),
                &[&15i32, &None::<String>],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].get::<String>("name").unwrap(), "n15");
        let row = half
            .query_one(&db, &format!("SELECT SUM(score), MAX(at) FROM {t}"), &[])
            .await
            .unwrap();
        assert_eq!(row.get::<f64>(0).unwrap(), 95.0);
        assert_eq!(row.get::<String>(1).unwrap(), "2022-01-08");
        // Server errors stay typed.
        let err = half
            .execute(&db, &format!("INSERT INTO {t} (id) VALUES ($1)"), &[&1i64])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation);
        assert_eq!(err.code(), Some("23505"));
    }

    // The model layer and transactions.
    for half in HALVES {
        call!(half, db, drop_table::<Item>()).unwrap();
        call!(half, db, create_table::<Item>()).unwrap();
        let a = call!(
            half,
            db,
            create(Item {
                id: 0,
                name: "a".into(),
                qty: 1,
                note: None
            })
        )
        .unwrap();
        assert!(a.id > 0);
        let (b, created) = call!(
            half,
            db,
            get_or_create(Item::NAME.eq("b"), || Item {
                id: 0,
                name: "b".into(),
                qty: 2,
                note: Some("x".into())
            })
        )
        .unwrap();
        assert!(created);
        let (again, created) = call!(
            half,
            db,
            get_or_create(Item::NAME.eq("b"), || unreachable!())
        )
        .unwrap();
        assert!(!created);
        assert_eq!(again, b);
        assert_eq!(call!(half, db, count(Item::QTY.gt(0), false)).unwrap(), 2);
        assert_eq!(call!(half, db, get(Item::by_id(a.id))).unwrap(), a);
        // Rows set each to its own values, and rows copied with a constant:
        // here every value is typed by the client (an `i64` for an
        // `INTEGER`, NULL), not by the server.
        let mut both = [a.clone(), b.clone()];
        (both[0].qty, both[0].note) = (2, Some("n".into()));
        (both[1].qty, both[1].note) = (1, None);
        let q = Item::bulk_update(&both, &[&Item::QTY, &Item::NOTE]);
        assert_eq!(call!(half, db, execute_query(q)).unwrap(), 2);
        for item in &both {
            assert_eq!(&call!(half, db, get(Item::by_id(item.id))).unwrap(), item);
        }
        let into: [&dyn ColumnOf<Item>; 3] = [&Item::NAME, &Item::QTY, &Item::NOTE];
        let fields = (Item::NAME.concat(" copy"), 0i64.to_sql(), "c".to_sql());
        let q = Item::insert_from(&into, Item::select().filter(Item::ID.eq(a.id)), fields);
        assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1);
        let copy = call!(half, db, get(Item::NAME.eq("a copy"))).unwrap();
        assert_eq!((copy.qty, copy.note.as_deref()), (0, Some("c")));
    }

    // A rolled-back transaction leaves nothing; a committed one everything.
    let sync = db.sync();
    let failed: dualdb::Result<()> = sync.atomic(|tx| {
        tx.create(Item {
            id: 0,
            name: "rolled back".into(),
            qty: 3,
            note: None,
        })?;
        Err(dualdb::Error::new(ErrorKind::Usage, "no"))
    });
    assert!(failed.is_err());
    sync.atomic(|tx| {
        tx.create(Item {
            id: 0,
            name: "kept".into(),
            qty: 4,
            note: None,
        })?;
        tx.atomic(|sp| {
            sp.create(Item {
                id: 0,
                name: "savepoint".into(),
                qty: 5,
                note: None,
            })
            .map(drop)
        })
    })
    .unwrap();
    db.aio()
        .atomic(async |tx| -> dualdb::Result<_> {
            tx.create(Item {
                id: 0,
                name: "async kept".into(),
                qty: 6,
                note: None,
            })
            .await?;
            Ok(())
        })
        .await
        .unwrap();
    let names: Vec<String> = db
        .aio()
        .execute_query(
            Item::select()
                .filter(Item::QTY.gt(2))
                .order_by(Item::QTY.asc()),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["kept", "savepoint", "async kept"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_and_threads_share_few_server_connections() {
    let Some(db) = bouncer() else { return };
    let t = common::table("bouncer_load");
    db.aio()
        .execute(
            &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, v TEXT)"),
            &[],
        )
        .await
        .unwrap();
    db.aio()
        .execute(
            &format!("INSERT INTO {t} SELECT g, 'v' || g FROM generate_series(1, 500) g"),
            &[],
        )
        .await
        .unwrap();
    let sql: Arc<str> = format!("SELECT v FROM {t} WHERE id = $1").into();
    let mut tasks = Vec::new();
    for task in 0..64i64 {
        let (db, sql) = (db.clone(), sql.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                let id = 1 + (task * 25 + i) % 500;
                let row = db.aio().query_one(&sql, &[&id]).await.unwrap();
                assert_eq!(row.get::<String>(0).unwrap(), format!("v{id}"));
            }
        }));
    }
    let threads: Vec<_> = (0..4i64)
        .map(|th| {
            let (db, sql) = (db.clone(), sql.clone());
            std::thread::spawn(move || {
                for i in 0..50i64 {
                    let id = 1 + (th * 50 + i) % 500;
                    let row = db.sync().query_one(&sql, &[&id]).unwrap();
                    assert_eq!(row.get::<String>(0).unwrap(), format!("v{id}"));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for th in threads {
        th.join().unwrap();
    }
    db.aio()
        .execute(&format!("DROP TABLE {t}"), &[])
        .await
        .unwrap();
}
