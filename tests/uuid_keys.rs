//! UUID keys: given UUIDs on every backend, generated ones on PostgreSQL
//! (and a clear error where the server cannot hand one back).
#![cfg(feature = "uuid")]

mod common;

use common::{HALVES, isolated_all};
use dualdb::{BackendKind, ErrorKind, Model};
use uuid::Uuid;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "documents")]
struct Document {
    #[model(primary_key)]
    id: Uuid,
    title: String,
    parent: Option<Uuid>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "events")]
struct Event {
    #[model(primary_key, auto)]
    id: Uuid,
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_keys_on_every_backend() {
    for db in isolated_all("uuid") {
        for half in HALVES {
            call!(half, db, drop_table::<Document>()).unwrap();
            call!(half, db, create_table::<Document>()).unwrap();
            let a = Document {
                id: Uuid::new_v4(),
                title: "a".into(),
                parent: None,
            };
            let b = Document {
                id: Uuid::new_v4(),
                title: "b".into(),
                parent: Some(a.id),
            };
            assert_eq!(call!(half, db, create(a.clone())).unwrap(), a);
            assert_eq!(call!(half, db, create(b.clone())).unwrap(), b);
            assert_eq!(call!(half, db, get(Document::by_id(a.id))).unwrap(), a);
            assert_eq!(call!(half, db, get(Document::PARENT.eq(a.id))).unwrap(), b);
            assert_eq!(
                call!(half, db, count(Document::PARENT.is_null(), false)).unwrap(),
                1
            );
            let mut renamed = b.clone();
            renamed.title = "renamed".into();
            assert_eq!(call!(half, db, update(&renamed)).unwrap(), 1);
            assert_eq!(
                call!(half, db, get(Document::by_id(b.id))).unwrap(),
                renamed
            );
            // raw SQL: a UUID parameter, a UUID column decoded
            let sql = match db.backend() {
                BackendKind::Postgres => "SELECT id FROM documents WHERE id = $1",
                _ => "SELECT id FROM documents WHERE id = ?",
            };
            let row = call!(half, db, query_one(sql, &[&a.id])).unwrap();
            assert_eq!(row.get::<Uuid>(0).unwrap(), a.id);
            assert_eq!(row.get::<String>(0).unwrap(), a.id.hyphenated().to_string());
            assert_eq!(call!(half, db, delete(&a)).unwrap(), 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_uuid_keys_on_postgres_and_a_clear_error_elsewhere() {
    for db in isolated_all("uuid_auto") {
        for half in HALVES {
            if db.backend() != BackendKind::Postgres {
                let err = call!(half, db, create_table::<Event>()).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage);
                assert!(err.to_string().contains("PostgreSQL"), "{err}");
                continue;
            }
            call!(half, db, drop_table::<Event>()).unwrap();
            call!(half, db, create_table::<Event>()).unwrap();
            let e = call!(
                half,
                db,
                create(Event {
                    id: Uuid::nil(),
                    name: "boot".into()
                })
            )
            .unwrap();
            assert_ne!(e.id, Uuid::nil(), "the server generated the key");
            assert_eq!(call!(half, db, get(Event::by_id(e.id))).unwrap(), e);
            let many = call!(
                half,
                db,
                execute_query(Event::insert_many(vec![
                    Event {
                        id: Uuid::nil(),
                        name: "x".into()
                    },
                    Event {
                        id: Uuid::nil(),
                        name: "y".into()
                    },
                ]))
            )
            .unwrap();
            assert_eq!(many.len(), 2);
            assert!(many.iter().all(|e| !e.id.is_nil()) && many[0].id != many[1].id);
        }
    }
}
