//! `fold_rows` and `fold`: rows handed over one at a time as they arrive,
//! on every backend and both halves, inside and outside transactions; an
//! error from the closure stops the statement and leaves the connection
//! clean.

mod common;

use common::{HALVES, Half, finishes_within, isolated_all};
use dualdb::{Database, Error, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "stream_items")]
struct Item {
    #[model(primary_key)]
    id: i64,
    label: String,
}

const ROWS: i64 = 5_000;

async fn fill(db: &Database) {
    db.aio().drop_table::<Item>().await.unwrap();
    db.aio().create_table::<Item>().await.unwrap();
    for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(500) {
        let items = chunk
            .iter()
            .map(|&id| Item {
                id,
                label: format!("item {id}"),
            })
            .collect();
        db.aio()
            .execute_query(Item::insert_many(items))
            .await
            .unwrap();
    }
}

fn stop() -> Error {
    Error::new(ErrorKind::Usage, "stop here")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_arrive_one_at_a_time_on_every_backend_and_half() {
    for db in isolated_all("stream") {
        fill(&db).await;
        let sql = "SELECT id, label FROM stream_items ORDER BY id";
        for half in HALVES {
            // Every row, in order, as it arrives.
            let (n, sum, in_order) = call!(
                half,
                db,
                fold_rows(sql, &[], (0i64, 0i64, true), |(n, sum, ok), row| {
                    let id: i64 = row.get("id")?;
                    let label: String = row.get("label")?;
                    Ok::<_, dualdb::Error>((
                        n + 1,
                        sum + id,
                        ok && id == n + 1 && label == format!("item {id}"),
                    ))
                })
            )
            .unwrap();
            assert_eq!(
                (n, sum, in_order),
                (ROWS, ROWS * (ROWS + 1) / 2, true),
                "{half:?}"
            );

            // Models, with a filter.
            let labels = call!(
                half,
                db,
                fold(
                    Item::select()
                        .filter(Item::ID.le(3))
                        .order_by(Item::ID.asc()),
                    Vec::new(),
                    |mut v, item: Item| {
                        v.push(item.label);
                        Ok::<_, dualdb::Error>(v)
                    }
                )
            )
            .unwrap();
            assert_eq!(labels, ["item 1", "item 2", "item 3"]);

            // Rows the closure keeps hold their own values: the next row
            // does not reuse a kept row's buffers.
            let kept = call!(
                half,
                db,
                fold_rows(sql, &[], Vec::new(), |mut kept, row| {
                    kept.push(row);
                    Ok::<_, dualdb::Error>(kept)
                })
            )
            .unwrap();
            assert_eq!(kept.len() as i64, ROWS);
            for (i, row) in kept.iter().enumerate().step_by(97) {
                let id = i as i64 + 1;
                assert_eq!(row.get::<i64>("id").unwrap(), id, "{half:?}");
                assert_eq!(row.get::<String>("label").unwrap(), format!("item {id}"));
            }

            // A decode error and a closure error stop the statement early;
            // the connection is clean for the next call.
            let err = call!(
                half,
                db,
                fold_rows(sql, &[], (), |(), row| row.get::<bool>("label").map(drop))
            )
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode);
            let seen = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
            let counter = seen.clone();
            let err = call!(
                half,
                db,
                fold_rows(sql, &[], (), move |(), _| {
                    if counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 9 {
                        return Err(stop());
                    }
                    Ok(())
                })
            )
            .unwrap_err();
            assert_eq!(err.message(), "stop here");
            assert_eq!(
                seen.load(std::sync::atomic::Ordering::Relaxed),
                10,
                "rows after the error"
            );
            let n: i64 = half
                .query_one(&db, "SELECT COUNT(*) FROM stream_items", &[])
                .await
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(n, ROWS);
            assert_eq!(db.sync().status().in_use(), 0);
            assert_eq!(db.aio().status().in_use(), 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_transaction_the_fold_sees_its_uncommitted_rows() {
    for db in isolated_all("stream_tx") {
        fill(&db).await;
        let extra = Item {
            id: ROWS + 1,
            label: "uncommitted".into(),
        };
        for half in HALVES {
            let counted = match half {
                Half::Sync => db
                    .sync()
                    .atomic(|tx| {
                        tx.create(extra.clone())?;
                        // through the plain handle: joins the transaction
                        let n = db.sync().fold(Item::select(), 0, |n, _: Item| {
                            Ok::<_, dualdb::Error>(n + 1)
                        })?;
                        Err::<(), _>(Error::new(ErrorKind::Usage, format!("{n}")))
                    })
                    .unwrap_err(),
                Half::Async => db
                    .aio()
                    .atomic(async |tx| {
                        tx.create(extra.clone()).await?;
                        let n = tx
                            .fold(Item::select(), 0, |n, _: Item| {
                                Ok::<_, dualdb::Error>(n + 1)
                            })
                            .await?;
                        Err::<(), _>(Error::new(ErrorKind::Usage, format!("{n}")))
                    })
                    .await
                    .unwrap_err(),
            };
            assert_eq!(counted.message(), (ROWS + 1).to_string(), "{half:?}");
            // rolled back
            assert_eq!(call!(half, db, count(Item::select(), false)).unwrap(), ROWS);
        }
    }
}

/// Legacy code in a blocking fold's closure may block as it likes: the
/// closure runs outside any runtime, so starting one of its own (as
/// `reqwest::blocking` or the `postgres` crate do) works, and so does a
/// blocking call on the same database (another connection of the pool).
#[test]
fn a_blocking_folds_closure_may_run_a_runtime_of_its_own() {
    let theirs = std::sync::Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    for db in isolated_all("stream_nested") {
        theirs.block_on(fill(&db));
        let sql = "SELECT id, label FROM stream_items ORDER BY id";
        let (rt, same) = (theirs.clone(), db.clone());
        let (n, outside) = db
            .sync()
            .fold_rows(sql, &[], (0i64, true), move |(n, outside), row| {
                let id: i64 = rt.block_on(async { row.get("id") })?;
                let outside = outside && tokio::runtime::Handle::try_current().is_err();
                if id % 1_000 == 0 {
                    // Nested: a second connection while the first streams.
                    let one = Item::select().filter(Item::ID.eq(id));
                    assert_eq!(same.sync().count(one, false)?, 1);
                }
                Ok::<_, dualdb::Error>((n + 1, outside))
            })
            .unwrap();
        assert_eq!((n, outside), (ROWS, true), "{}", db.backend());
        assert_eq!(db.sync().status().in_use(), 0);
    }
}

/// A blocking fold's closure that calls its own transaction (through the
/// transaction's handle, or the plain handle, which joins it) gets a
/// `Usage` error at once instead of waiting forever for the connection its
/// own statement holds; the fold stops with that error and the
/// transaction goes on, its connection clean.
#[test]
fn a_blocking_folds_closure_calling_its_own_transaction_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for db in isolated_all("stream_reenter") {
        rt.block_on(fill(&db));
        let db2 = db.clone();
        let out = finishes_within(std::time::Duration::from_secs(60), move || {
            let db = db2;
            db.sync().atomic(|tx| {
                let mine = Item {
                    id: ROWS + 1,
                    label: "mine".into(),
                };
                tx.create(mine)?;
                let by_tx = tx.fold(Item::select(), 0, |n, _: Item| {
                    tx.count(Item::select(), false)?;
                    Ok::<_, Error>(n + 1)
                });
                let sql = "SELECT id FROM stream_items";
                let by_plain = db.sync().fold_rows(sql, &[], 0, |n, _| {
                    let changed = Item::update_query().set(Item::LABEL, "changed");
                    db.sync().execute_query(changed)?;
                    Ok::<_, Error>(n + 1)
                });
                let after = tx.count(Item::select(), false)?;
                let changed = tx.count(Item::select().filter(Item::LABEL.eq("changed")), false)?;
                Ok::<_, Error>((by_tx, by_plain, after, changed))
            })
        });
        let (by_tx, by_plain, after, changed) = out.unwrap();
        for e in [by_tx.unwrap_err(), by_plain.unwrap_err()] {
            assert_eq!(e.kind(), ErrorKind::Usage, "{}: {e}", db.backend());
            assert!(e.message().contains("busy"), "{e}");
        }
        assert_eq!((after, changed), (ROWS + 1, 0), "{}", db.backend());
        // Committed: the transaction's row is there.
        assert_eq!(db.sync().count(Item::select(), false).unwrap(), ROWS + 1);
        assert_eq!(db.sync().status().in_use(), 0);
    }
}
