//! `Model::bulk_update`: many rows set by their keys, each to its own
//! values, in batches run all or nothing; checked against the rows stored,
//! on both halves of every backend, in a transaction and out, by single and
//! composite keys, with columns of several types (PostgreSQL types each
//! bound value by its column) and from concurrent callers. What cannot be
//! set is a `Usage` error before any statement.

use crate::common::{HALVES, Half, assert_usage, isolated_all};
use dualdb::model::ColumnOf;
use dualdb::{Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bu_gadgets")]
struct Gadget {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique, max_length = 40)]
    name: String,
    weight: f64,
    active: bool,
    note: Option<String>,
    stock: i32,
}

/// A key of two columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bu_slots")]
struct Slot {
    #[model(primary_key)]
    shelf: i64,
    #[model(primary_key)]
    pos: i32,
    label: String,
}

/// A model whose table is never made: a statement on it would fail.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bu_nowhere")]
struct Nowhere {
    #[model(primary_key)]
    id: i64,
    label: String,
}

fn gadget(i: i64) -> Gadget {
    Gadget {
        id: 0,
        name: format!("g{i}"),
        weight: i as f64 / 2.0,
        active: i % 2 == 0,
        note: None,
        stock: i as i32,
    }
}

/// `n` gadgets made anew, as stored.
async fn plant(db: &Database, n: i64) -> Vec<Gadget> {
    let a = db.aio();
    a.drop_table::<Gadget>().await.unwrap();
    a.create_table::<Gadget>().await.unwrap();
    let rows = (1..=n).map(gadget).collect();
    a.execute_query(Gadget::insert_many(rows)).await.unwrap()
}

async fn stored(half: Half, db: &Database) -> Vec<Gadget> {
    call!(
        half,
        db,
        execute_query(Gadget::select().order_by(Gadget::ID.asc()))
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_row_is_set_to_its_own_values_by_its_key() {
    for db in isolated_all("bulk_update") {
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let rows = plant(&db, 6).await;
            // Rows 2, 4 and 5 change; every column type is bound as its
            // column takes it, NULL included.
            let mut changed: Vec<Gadget> = [1, 3, 4].iter().map(|&i| rows[i].clone()).collect();
            for (k, g) in changed.iter_mut().enumerate() {
                g.name = format!("renamed {k}");
                g.weight += 0.25;
                g.active = !g.active;
                g.note = (k != 1).then(|| format!("note {k}"));
                g.stock = 100 + k as i32;
            }
            changed[1].note = None;
            let all: [&dyn ColumnOf<Gadget>; 5] = [
                &Gadget::NAME,
                &Gadget::WEIGHT,
                &Gadget::ACTIVE,
                &Gadget::NOTE,
                &Gadget::STOCK,
            ];
            let n = call!(half, db, execute_query(Gadget::bulk_update(&changed, &all))).unwrap();
            assert_eq!(n, 3, "{what}");
            let mut want = rows.clone();
            for g in &changed {
                want[(g.id - 1) as usize] = g.clone();
            }
            assert_eq!(stored(half, &db).await, want, "{what}");
            // Only the columns named are set (a key column among them is
            // not): the rest keep what is stored.
            let mut other = changed.clone();
            for g in &mut other {
                g.stock = -1;
                g.name = "not written".into();
            }
            let q = Gadget::bulk_update(&other, &[&Gadget::ID, &Gadget::STOCK]);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 3, "{what}");
            for g in &mut want {
                if changed.iter().any(|c| c.id == g.id) {
                    g.stock = -1;
                }
            }
            assert_eq!(stored(half, &db).await, want, "{what}");
            // A key given twice: the later row is written, in one batch
            // and across two.
            for batch in [100, 1] {
                let (mut first, mut last) = (rows[5].clone(), rows[5].clone());
                first.stock = 7;
                last.stock = 8;
                let q = Gadget::bulk_update(&[first, last], &[&Gadget::STOCK]).batch_size(batch);
                call!(half, db, execute_query(q)).unwrap();
                let six = call!(half, db, get(Gadget::by_id(6))).unwrap();
                assert_eq!(six.stock, 8, "{what} batch {batch}");
            }
            // A key that is not stored changes nothing.
            let mut ghost = gadget(99);
            ghost.id = 99;
            let q = Gadget::bulk_update(&[ghost], &[&Gadget::STOCK]);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 0, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_run_all_or_nothing_by_single_and_composite_keys() {
    for db in isolated_all("bulk_update_batches") {
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            // 250 rows: three statements of the default 100.
            let rows = plant(&db, 250).await;
            let moved: Vec<Gadget> = rows
                .iter()
                .map(|g| Gadget {
                    stock: g.stock * 10,
                    ..g.clone()
                })
                .collect();
            let q = Gadget::bulk_update(&moved, &[&Gadget::STOCK]);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 250, "{what}");
            assert_eq!(stored(half, &db).await, moved, "{what}");
            // The second of two batches breaks the unique name: the first
            // is rolled back with it.
            let mut clash = vec![moved[0].clone(), moved[1].clone()];
            clash[0].name = "same".into();
            clash[1].name = "same".into();
            let q = Gadget::bulk_update(&clash, &[&Gadget::NAME]).batch_size(1);
            let e = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UniqueViolation, "{what}: {e}");
            assert_eq!(stored(half, &db).await, moved, "{what} rolled back");
            // A key of two columns.
            let a = db.aio();
            a.drop_table::<Slot>().await.unwrap();
            a.create_table::<Slot>().await.unwrap();
            let slots: Vec<Slot> = [(1, 1), (1, 2), (2, 1), (2, 2)]
                .map(|(shelf, pos)| Slot {
                    shelf,
                    pos,
                    label: format!("{shelf}.{pos}"),
                })
                .into();
            a.execute_query(Slot::insert_many(slots.clone()))
                .await
                .unwrap();
            let relabelled = [slots[1].clone(), slots[2].clone()].map(|s| Slot {
                label: format!("moved {}", s.label),
                ..s
            });
            let q = Slot::bulk_update(&relabelled, &[&Slot::LABEL]);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 2, "{what}");
            let all = Slot::select()
                .order_by(Slot::SHELF.asc())
                .order_by(Slot::POS.asc());
            let labels: Vec<String> = call!(half, db, execute_query(all))
                .unwrap()
                .into_iter()
                .map(|s| s.label)
                .collect();
            assert_eq!(labels, ["1.1", "moved 1.2", "moved 2.1", "2.2"], "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_transaction_it_is_seen_inside_and_rolled_back_with_it() {
    for db in isolated_all("bulk_update_tx") {
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let rows = plant(&db, 5).await;
            let heavier: Vec<Gadget> = rows
                .iter()
                .map(|g| Gadget {
                    weight: g.weight + 1.0,
                    ..g.clone()
                })
                .collect();
            // Two batches: a savepoint inside the transaction.
            let q = || Gadget::bulk_update(&heavier, &[&Gadget::WEIGHT]).batch_size(3);
            for commit in [false, true] {
                let seen = match half {
                    Half::Sync => {
                        let tx = db.sync().begin().unwrap();
                        assert_eq!(tx.execute_query(q()).unwrap(), 5, "{what}");
                        let seen = tx.execute_query(Gadget::select().order_by(Gadget::ID.asc()));
                        match commit {
                            true => tx.commit().unwrap(),
                            false => tx.rollback().unwrap(),
                        }
                        seen.unwrap()
                    }
                    Half::Async => {
                        let tx = db.aio().begin().await.unwrap();
                        assert_eq!(tx.execute_query(q()).await.unwrap(), 5, "{what}");
                        let seen = tx
                            .execute_query(Gadget::select().order_by(Gadget::ID.asc()))
                            .await;
                        match commit {
                            true => tx.commit().await.unwrap(),
                            false => tx.rollback().await.unwrap(),
                        }
                        seen.unwrap()
                    }
                };
                assert_eq!(seen, heavier, "{what} inside");
                let after = if commit { &heavier } else { &rows };
                assert_eq!(&stored(half, &db).await, after, "{what} commit {commit}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_each_set_their_own_rows() {
    for db in isolated_all("bulk_update_concurrent") {
        let b = db.backend();
        let rows = plant(&db, 40).await;
        // Four async callers and four threads, each its own fifth of the
        // rows, two batches each, at once.
        let part = |k: usize| -> Vec<Gadget> {
            rows.iter()
                .skip(k * 5)
                .take(5)
                .map(|g| Gadget {
                    stock: 1000 + g.stock,
                    ..g.clone()
                })
                .collect()
        };
        let tasks = (0..4).map(|k| {
            let (db, mine) = (db.clone(), part(k));
            tokio::spawn(async move {
                let q = Gadget::bulk_update(&mine, &[&Gadget::STOCK]).batch_size(3);
                db.aio().execute_query(q).await
            })
        });
        let threads: Vec<_> = (4..8)
            .map(|k| {
                let (db, mine) = (db.clone(), part(k));
                std::thread::spawn(move || {
                    let q = Gadget::bulk_update(&mine, &[&Gadget::STOCK]).batch_size(3);
                    db.sync().execute_query(q)
                })
            })
            .collect();
        for t in futures::future::join_all(tasks).await {
            assert_eq!(t.unwrap().unwrap(), 5, "{b:?}");
        }
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), 5, "{b:?}");
        }
        let stocks: Vec<i32> = stored(Half::Async, &db)
            .await
            .iter()
            .map(|g| g.stock)
            .collect();
        assert_eq!(stocks, (1001..=1040).collect::<Vec<_>>(), "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_set_is_refused_before_any_statement() {
    for db in isolated_all("bulk_update_refused") {
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let row = Nowhere {
                id: 1,
                label: "x".into(),
            };
            // Its table does not exist: any statement would fail otherwise.
            let usage = |e: dualdb::Error, says: &str| assert_usage(&e, says, &what);
            let q = Nowhere::bulk_update(std::slice::from_ref(&row), &[&Nowhere::ID]);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "no column to set among those given",
            );
            let q = Nowhere::bulk_update(std::slice::from_ref(&row), &[]);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "no column to set",
            );
            let q =
                Nowhere::bulk_update(std::slice::from_ref(&row), &[&Nowhere::LABEL]).batch_size(0);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "batch size of 0",
            );
            // No rows: nothing to send, and nothing sent.
            let q = Nowhere::bulk_update(&[], &[&Nowhere::LABEL]);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 0, "{what}");
        }
    }
}
