//! Tree walks (`Select::with_descendants`, `Select::with_ancestors`) over a
//! model whose foreign key references its own table: subtrees, paths to the
//! root, several start rows, start rows picked by order and limit, rows
//! that reference each other in a cycle, a chain deeper than MariaDB's and
//! MySQL's default limit on a recursive query's rounds, and the walk's query
//! counted, filtered, streamed and used to update; on both halves of every
//! backend, in a transaction and out, checked against the rows stored. A
//! walk that cannot be written is a `Usage` error before the query runs.

use crate::common::{HALVES, Half, assert_usage, isolated_all};
use dualdb::{Database, Model, Select};
use futures::TryStreamExt as _;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tree_cats")]
struct Cat {
    #[model(primary_key)]
    id: i64,
    #[model(references = Cat)]
    parent: Option<i64>,
    name: String,
}

/// A key of two columns: no walk.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tree_pairs")]
struct Pair {
    #[model(primary_key)]
    a: i64,
    #[model(primary_key)]
    b: i64,
    up: Option<i64>,
}

/// ```text
/// 1 root ── 2 a ── 4 a1 ── 6 a1x
///       │       └─ 5 a2
///       └─ 3 b
/// 7 other ── 8 o1
/// 9 ⇄ 10 (each the other's parent), 11 (its own parent)
/// ```
async fn plant(db: &Database) {
    let a = db.aio();
    a.drop_table::<Cat>().await.unwrap();
    a.create_table::<Cat>().await.unwrap();
    let rows = [
        (1, None, "root"),
        (2, Some(1), "a"),
        (3, Some(1), "b"),
        (4, Some(2), "a1"),
        (5, Some(2), "a2"),
        (6, Some(4), "a1x"),
        (7, None, "other"),
        (8, Some(7), "o1"),
        (9, None, "c9"),
        (10, Some(9), "c10"),
        (11, None, "c11"),
    ]
    .map(|(id, parent, name)| Cat {
        id,
        parent,
        name: name.into(),
    });
    a.execute_query(Cat::insert_many(rows.to_vec()))
        .await
        .unwrap();
    // The cycles, once both ends exist.
    for (id, parent) in [(9, 10), (11, 11)] {
        let q = Cat::update_query()
            .set(Cat::PARENT, Some(parent))
            .filter(Cat::ID.eq(id));
        assert_eq!(a.execute_query(q).await.unwrap(), 1);
    }
}

fn named(name: &str) -> Select<Cat> {
    Cat::select().filter(Cat::NAME.eq(name))
}

async fn ids(half: Half, db: &Database, q: Select<Cat>) -> Vec<i64> {
    let q = q.order_by(Cat::ID.asc());
    let rows = call!(half, db, execute_query(q)).unwrap();
    rows.into_iter().map(|c| c.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walks_down_and_up_from_any_start_rows() {
    for db in isolated_all("trees") {
        plant(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let down = |q: Select<Cat>| q.with_descendants(Cat::PARENT);
            let up = |q: Select<Cat>| q.with_ancestors(Cat::PARENT);
            assert_eq!(
                ids(half, &db, down(named("root"))).await,
                [1, 2, 3, 4, 5, 6],
                "{what}"
            );
            assert_eq!(
                ids(half, &db, down(named("a1x"))).await,
                [6],
                "{what} a leaf"
            );
            assert_eq!(
                ids(half, &db, up(named("a1x"))).await,
                [1, 2, 4, 6],
                "{what}"
            );
            assert_eq!(
                ids(half, &db, up(named("root"))).await,
                [1],
                "{what} a root"
            );
            assert!(
                ids(half, &db, down(named("nobody"))).await.is_empty(),
                "{what}"
            );
            // Two start rows, one under the other: each row once.
            let two = Cat::select().filter(Cat::NAME.is_in(["a", "a1", "other"]));
            assert_eq!(
                ids(half, &db, down(two)).await,
                [2, 4, 5, 6, 7, 8],
                "{what}"
            );
            // The start rows picked by order and limit: the last root.
            let last_root = Cat::select()
                .filter(Cat::PARENT.is_null())
                .order_by(Cat::ID.desc())
                .limit(1);
            assert_eq!(ids(half, &db, down(last_root)).await, [7, 8], "{what}");
            // Cycles end the walk, each row once, whichever way.
            assert_eq!(
                ids(half, &db, down(named("c9"))).await,
                [9, 10],
                "{what} cycle"
            );
            assert_eq!(
                ids(half, &db, up(named("c10"))).await,
                [9, 10],
                "{what} cycle"
            );
            assert_eq!(
                ids(half, &db, down(named("c11"))).await,
                [11],
                "{what} loop"
            );
            assert_eq!(ids(half, &db, up(named("c11"))).await, [11], "{what} loop");
            // The walk's query goes on like any other: filtered, counted,
            // checked for rows, read as fields, streamed.
            let subtree = || down(named("a"));
            let q = subtree().filter(Cat::NAME.starts_with("a1"));
            assert_eq!(ids(half, &db, q).await, [4, 6], "{what}");
            assert_eq!(
                call!(half, db, count(subtree(), false)).unwrap(),
                4,
                "{what}"
            );
            assert!(call!(half, db, exists(subtree())).unwrap(), "{what}");
            let names: Vec<String> = call!(
                half,
                db,
                execute_query(subtree().order_by(Cat::ID.asc()).select_fields(Cat::NAME))
            )
            .unwrap();
            assert_eq!(names, ["a", "a1", "a2", "a1x"], "{what}");
            let q = up(named("a1x")).order_by(Cat::ID.asc());
            let streamed: Vec<Cat> = match half {
                Half::Sync => db.sync().fetch(q).collect::<dualdb::Result<_>>().unwrap(),
                Half::Async => db.aio().fetch(q).try_collect().await.unwrap(),
            };
            let streamed: Vec<i64> = streamed.iter().map(|c| c.id).collect();
            assert_eq!(streamed, [1, 2, 4, 6], "{what} fetch");
            // Leaving the start rows out.
            let below = subtree().filter(Cat::ID.not_in(named("a")));
            assert_eq!(ids(half, &db, below).await, [4, 5, 6], "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_updates_a_subtree_in_and_out_of_transactions() {
    for db in isolated_all("tree_updates") {
        let b = db.backend();
        for half in HALVES {
            plant(&db).await;
            let what = format!("{b:?} {half:?}");
            let rename = |to: &'static str| {
                let subtree = named("a").with_descendants(Cat::PARENT);
                Cat::update_query()
                    .set(Cat::NAME, to)
                    .filter(Cat::ID.is_in(subtree))
            };
            let renamed = || Cat::select().filter(Cat::NAME.eq("moved"));
            // In a transaction: a child added inside it is walked too; the
            // rollback leaves every row as it was.
            match half {
                Half::Sync => {
                    let tx = db.sync().begin().unwrap();
                    tx.create(Cat {
                        id: 12,
                        parent: Some(6),
                        name: "new".into(),
                    })
                    .unwrap();
                    assert_eq!(tx.execute_query(rename("moved")).unwrap(), 5, "{what}");
                    assert_eq!(tx.count(renamed(), false).unwrap(), 5, "{what}");
                    // The walk's rows locked, as the refusal below advises.
                    let locked = Cat::select()
                        .filter(Cat::ID.eq(2))
                        .with_descendants(Cat::PARENT)
                        .for_update();
                    assert_eq!(tx.execute_query(locked).unwrap().len(), 5, "{what}");
                    tx.rollback().unwrap();
                }
                Half::Async => {
                    let tx = db.aio().begin().await.unwrap();
                    tx.create(Cat {
                        id: 12,
                        parent: Some(6),
                        name: "new".into(),
                    })
                    .await
                    .unwrap();
                    assert_eq!(
                        tx.execute_query(rename("moved")).await.unwrap(),
                        5,
                        "{what}"
                    );
                    assert_eq!(tx.count(renamed(), false).await.unwrap(), 5, "{what}");
                    let locked = Cat::select()
                        .filter(Cat::ID.eq(2))
                        .with_descendants(Cat::PARENT)
                        .for_update();
                    assert_eq!(tx.execute_query(locked).await.unwrap().len(), 5, "{what}");
                    tx.rollback().await.unwrap();
                }
            }
            assert_eq!(
                call!(half, db, count(renamed(), false)).unwrap(),
                0,
                "{what}"
            );
            assert_eq!(
                call!(half, db, count(Cat::select(), false)).unwrap(),
                11,
                "{what}"
            );
            // Out of one: the subtree's four rows, and no other.
            assert_eq!(
                call!(half, db, execute_query(rename("moved"))).unwrap(),
                4,
                "{what}"
            );
            assert_eq!(ids(half, &db, renamed()).await, [2, 4, 5, 6], "{what}");
        }
    }
}

/// MariaDB stops a recursive query after 1,000 rounds by default and
/// returns what it found with a warning; MySQL fails it. A chain of 1,500
/// rows is walked whole on every backend, each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_deeper_than_the_servers_default_is_walked_whole() {
    const LONG: i64 = 1_500;
    for db in isolated_all("tree_chain") {
        let a = db.aio();
        a.drop_table::<Cat>().await.unwrap();
        a.create_table::<Cat>().await.unwrap();
        let chain: Vec<Cat> = (1..=LONG)
            .map(|id| Cat {
                id,
                parent: (id > 1).then_some(id - 1),
                name: format!("n{id}"),
            })
            .collect();
        a.execute_query(Cat::insert_many(chain)).await.unwrap();
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let down = named("n1").with_descendants(Cat::PARENT);
            assert_eq!(call!(half, db, count(down, false)).unwrap(), LONG, "{what}");
            let up = named(&format!("n{LONG}")).with_ancestors(Cat::PARENT);
            assert_eq!(call!(half, db, count(up, false)).unwrap(), LONG, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_that_cannot_be_written_is_refused_before_it_runs() {
    for db in isolated_all("tree_refused") {
        plant(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let usage = |e: dualdb::Error, says: &str| assert_usage(&e, says, &what);
            // Not a foreign key to the model itself.
            let q = named("root").with_descendants(Cat::NAME);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Cat.name is not a foreign key of Cat to itself",
            );
            // A key of two columns (its table need not exist: nothing runs).
            let q = Pair::select().with_ancestors(Pair::UP);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Pair's key has 2 columns",
            );
            // A start query of fields.
            let q = named("root")
                .fields([Cat::NAME.field()])
                .with_descendants(Cat::PARENT);
            usage(
                call!(half, db, count(q, false)).unwrap_err(),
                "the start query selects fields",
            );
            // A start query that locks its rows.
            let q = named("root").for_update().with_descendants(Cat::PARENT);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "the start query locks its rows",
            );
            // Refused inside an update's filter too, and nothing changed.
            let q = Cat::update_query()
                .set(Cat::NAME, "x")
                .filter(Cat::ID.is_in(named("root").with_descendants(Cat::NAME)));
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "is not a foreign key",
            );
            let x = Cat::select().filter(Cat::NAME.eq("x"));
            assert_eq!(call!(half, db, count(x, false)).unwrap(), 0, "{what}");
        }
    }
}
