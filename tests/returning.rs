//! `RETURNING` on updates and deletes (inserts return their rows already),
//! on both halves of every backend, in and out of transactions: the rows
//! returned are the rows as stored after the update, or as they were before
//! the delete; on MySQL, which has no `RETURNING` for them, the emulation
//! (a locking read, the change by keys, a second read) returns the same,
//! even with other writers on the same row.

mod common;

use common::{HALVES, isolated_all};
use dualdb::{Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "returning_items")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    qty: i32,
}

async fn fresh(db: &Database) {
    db.aio().drop_table::<Item>().await.unwrap();
    db.aio().create_table::<Item>().await.unwrap();
    let rows = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
        .map(|(name, qty)| Item {
            id: 0,
            name: name.into(),
            qty,
        })
        .to_vec();
    db.aio()
        .execute_query(Item::insert_many(rows))
        .await
        .unwrap();
}

fn sorted(mut items: Vec<Item>) -> Vec<(String, i32)> {
    items.sort_by_key(|i| i.id);
    items.into_iter().map(|i| (i.name, i.qty)).collect()
}

fn pairs(v: &[(&str, i32)]) -> Vec<(String, i32)> {
    v.iter().map(|(n, q)| (n.to_string(), *q)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_deletes_return_their_rows() {
    for db in isolated_all("returning") {
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{:?} {half:?}", db.backend());
            let q = Item::update_query()
                .set_expr(Item::QTY, Item::QTY * 10)
                .filter(Item::QTY.ge(3))
                .returning();
            let changed = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                sorted(changed.clone()),
                pairs(&[("c", 30), ("d", 40)]),
                "{what}"
            );
            for item in &changed {
                assert_eq!(&db.aio().get(Item::by_id(item.id)).await.unwrap(), item);
            }
            // Nothing matched: nothing returned, nothing changed.
            let q = Item::update_query()
                .set(Item::QTY, 0)
                .filter(Item::NAME.eq("z"))
                .returning();
            assert!(
                call!(half, db, execute_query(q)).unwrap().is_empty(),
                "{what}"
            );
            // A delete returns the rows as they were.
            let q = Item::delete_query().filter(Item::QTY.lt(3)).returning();
            let gone = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(sorted(gone), pairs(&[("a", 1), ("b", 2)]), "{what}");
            assert_eq!(db.aio().count(Item::select(), false).await.unwrap(), 2);
            // Every row, no filter.
            let q = Item::delete_query().returning();
            assert_eq!(
                call!(half, db, execute_query(q)).unwrap().len(),
                2,
                "{what}"
            );
            // An update that sets nothing is refused before any I/O.
            let q = Item::update_query().filter(Item::QTY.gt(0)).returning();
            let err = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
        }
    }
}

/// Inside a transaction the returned rows are the transaction's; a
/// rollback undoes the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_in_transactions() {
    for db in isolated_all("returning_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(Item {
                    id: 0,
                    name: "e".into(),
                    qty: 5,
                })
                .await?;
                let q = Item::update_query()
                    .set_expr(Item::QTY, Item::QTY + 1)
                    .filter(Item::QTY.ge(4))
                    .returning();
                let got = tx.execute_query(q).await?;
                assert_eq!(sorted(got), pairs(&[("d", 5), ("e", 6)]), "{what}");
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        assert_eq!(
            db.aio().get(Item::NAME.eq("d")).await.unwrap().qty,
            4,
            "{what}"
        );
        let gone = db
            .sync()
            .atomic(|tx| {
                tx.execute_query(Item::delete_query().filter(Item::NAME.eq("a")).returning())
            })
            .unwrap();
        assert_eq!(sorted(gone), pairs(&[("a", 1)]), "{what}");
        assert_eq!(db.aio().count(Item::select(), false).await.unwrap(), 3);
    }
}

/// Inside a transaction whose snapshot was taken before another connection
/// changed a row, an update that sets the row to what it already holds
/// returns the row as stored, not as the snapshot saw it: MySQL's second
/// read is a locking one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_in_a_transaction_returns_a_row_changed_after_its_snapshot() {
    for db in isolated_all("returning_snapshot") {
        if db.backend() == dualdb::BackendKind::Sqlite {
            // Its transaction holds the write lock: no other writer.
            continue;
        }
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let set_to = |qty: i32| {
            Item::update_query()
                .set(Item::QTY, qty)
                .filter(Item::NAME.eq("b"))
                .returning()
        };
        let got = db
            .aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                assert_eq!(tx.get(Item::NAME.eq("b")).await?.qty, 2);
                // On a task of its own: outside this task's transaction.
                let other = db.clone();
                tokio::spawn(async move { other.aio().execute_query(set_to(7)).await })
                    .await
                    .unwrap()?;
                tx.execute_query(set_to(7)).await
            })
            .await
            .unwrap();
        assert_eq!(sorted(got), pairs(&[("b", 7)]), "{what} async");
        let got = db
            .sync()
            .atomic(|tx| {
                assert_eq!(tx.get(Item::NAME.eq("b"))?.qty, 7);
                // On a thread of its own: outside this thread's transaction.
                std::thread::scope(|s| {
                    s.spawn(|| db.sync().execute_query(set_to(8)))
                        .join()
                        .unwrap()
                })?;
                tx.execute_query(set_to(8))
            })
            .unwrap();
        assert_eq!(sorted(got), pairs(&[("b", 8)]), "{what} blocking");
    }
}

/// Tasks and threads updating one row at once, each update returning it:
/// every update sees the row as it left it (sixty distinct values), and
/// none is lost. (Updates of many rows at once can deadlock on PostgreSQL,
/// which locks rows in scan order; one row cannot.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn returned_rows_are_the_stored_ones_under_concurrent_writers() {
    for db in isolated_all("returning_concurrent") {
        fresh(&db).await;
        let bump = |by: i32| {
            Item::update_query()
                .set_expr(Item::QTY, Item::QTY + by)
                .filter(Item::NAME.eq("a"))
                .returning()
        };
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    for _ in 0..10 {
                        let rows = db.aio().execute_query(bump(1)).await.unwrap();
                        assert_eq!(rows.len(), 1);
                        seen.push(rows[0].qty);
                    }
                    seen
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    for _ in 0..10 {
                        seen.push(db.sync().execute_query(bump(100)).unwrap()[0].qty);
                    }
                    seen
                })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.extend(t.await.unwrap());
        }
        for t in threads {
            seen.extend(t.join().unwrap());
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 60, "{:?}: {seen:?}", db.backend());
        let a = db.aio().get(Item::NAME.eq("a")).await.unwrap();
        assert_eq!(a.qty, 1 + 40 + 2000, "{:?}", db.backend());
        assert_eq!(seen.last(), Some(&a.qty), "{:?}", db.backend());
    }
}
