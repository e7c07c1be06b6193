//! `Select::limit_per`: the first rows of each group, in the query's order
//! (each team's best scores), with the query's filter, joins (a group of a
//! joined model's column), `LIMIT` after the groups, counted, streamed and
//! used to update; on both halves of every backend, in a transaction and
//! out, checked against the rows stored. What cannot be ranked is a `Usage`
//! error before the query runs.

use crate::common::models::{Score, Team, plant_scores};
use crate::common::{HALVES, Half, assert_usage, isolated_all};
use dualdb::model::case;
use dualdb::{Database, Model, Select};
use futures::TryStreamExt as _;

/// A key of two columns: nothing to pick rows by.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "pg_pairs")]
struct Pair {
    #[model(primary_key)]
    a: i64,
    #[model(primary_key)]
    b: i64,
}

/// Most points first, ties by id.
fn best() -> Select<Score> {
    Score::select()
        .order_by(Score::POINTS.desc())
        .order_by(Score::ID.asc())
}

async fn players(half: Half, db: &Database, q: Select<Score>) -> Vec<String> {
    let rows = call!(half, db, execute_query(q)).unwrap();
    rows.into_iter().map(|s| s.player).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_rows_of_each_group_in_the_querys_order() {
    for db in isolated_all("per_group") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let top = |n| best().limit_per(Score::TEAM, n);
            assert_eq!(players(half, &db, top(1)).await, ["bob", "dee"], "{what}");
            assert_eq!(
                players(half, &db, top(2)).await,
                ["bob", "cid", "dee", "eve"],
                "{what}"
            );
            assert_eq!(players(half, &db, top(9)).await.len(), 5, "{what}");
            assert!(players(half, &db, top(0)).await.is_empty(), "{what}");
            // The query's LIMIT pages what the groups gave.
            assert_eq!(
                players(half, &db, top(2).limit(3)).await,
                ["bob", "cid", "dee"],
                "{what}"
            );
            // The filter comes first: the fewest points of at least 10.
            let q = Score::select()
                .filter(Score::POINTS.ge(10))
                .order_by(Score::POINTS.asc())
                .limit_per(Score::TEAM, 1);
            assert_eq!(players(half, &db, q).await, ["ann", "dee"], "{what}");
            // Groups by a joined model's column, and by an expression.
            let q = best().join::<Team>().limit_per(Team::NAME, 1);
            assert_eq!(players(half, &db, q).await, ["bob", "dee"], "{what}");
            let high = case(Score::POINTS.ge(20), "high").otherwise("low");
            let q = best().limit_per(high, 1);
            assert_eq!(players(half, &db, q).await, ["bob", "ann"], "{what}");
            // Counted, read as fields, streamed.
            assert_eq!(call!(half, db, count(top(2), false)).unwrap(), 4, "{what}");
            let points: Vec<i32> =
                call!(half, db, execute_query(top(1).select_fields(Score::POINTS))).unwrap();
            assert_eq!(points, [30, 20], "{what}");
            let streamed: Vec<Score> = match half {
                Half::Sync => db
                    .sync()
                    .fetch(top(1))
                    .collect::<dualdb::Result<_>>()
                    .unwrap(),
                Half::Async => db.aio().fetch(top(1)).try_collect().await.unwrap(),
            };
            let streamed: Vec<&str> = streamed.iter().map(|s| s.player.as_str()).collect();
            assert_eq!(streamed, ["bob", "dee"], "{what} fetch");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_groups_first_rows_in_and_out_of_transactions() {
    for db in isolated_all("per_group_tx") {
        let b = db.backend();
        for half in HALVES {
            plant_scores(&db).await;
            let what = format!("{b:?} {half:?}");
            let blue = Team::select().filter(Team::NAME.eq("blue"));
            let blue = call!(half, db, get(blue)).unwrap().id;
            let fay = Score {
                id: 0,
                team: blue,
                player: "fay".into(),
                points: 99,
            };
            // Each team's best, marked with a bonus point.
            let bonus = || {
                let best = best().limit_per(Score::TEAM, 1);
                Score::update_query()
                    .set_expr(Score::POINTS, Score::POINTS + 1)
                    .filter(Score::ID.is_in(best))
            };
            // In a transaction: a row added inside it is ranked; the
            // rollback leaves the rows as they were.
            match half {
                Half::Sync => {
                    let tx = db.sync().begin().unwrap();
                    tx.create(fay.clone()).unwrap();
                    let q = best().limit_per(Score::TEAM, 1);
                    let firsts: Vec<String> = tx
                        .execute_query(q)
                        .unwrap()
                        .into_iter()
                        .map(|s| s.player)
                        .collect();
                    assert_eq!(firsts, ["fay", "bob"], "{what}");
                    assert_eq!(tx.execute_query(bonus()).unwrap(), 2, "{what}");
                    tx.rollback().unwrap();
                }
                Half::Async => {
                    let tx = db.aio().begin().await.unwrap();
                    tx.create(fay.clone()).await.unwrap();
                    let q = best().limit_per(Score::TEAM, 1);
                    let firsts: Vec<String> = tx
                        .execute_query(q)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|s| s.player)
                        .collect();
                    assert_eq!(firsts, ["fay", "bob"], "{what}");
                    assert_eq!(tx.execute_query(bonus()).await.unwrap(), 2, "{what}");
                    tx.rollback().await.unwrap();
                }
            }
            let all = Score::select().order_by(Score::ID.asc());
            let points = |rows: Vec<Score>| rows.into_iter().map(|s| s.points).collect::<Vec<_>>();
            let stored = call!(half, db, execute_query(all.clone())).unwrap();
            assert_eq!(points(stored), [10, 30, 30, 20, 5], "{what} rolled back");
            // Out of one.
            assert_eq!(
                call!(half, db, execute_query(bonus())).unwrap(),
                2,
                "{what}"
            );
            let stored = call!(half, db, execute_query(all)).unwrap();
            assert_eq!(points(stored), [10, 31, 30, 21, 5], "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_ranked_is_refused_before_it_runs() {
    for db in isolated_all("per_group_refused") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let usage = |e: dualdb::Error, says: &str| assert_usage(&e, says, &what);
            // A group of a model the query does not read.
            let q = best().limit_per(Team::NAME, 1);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "the groups name teams, which the query does not read",
            );
            // A key of two columns (its table need not exist).
            let q = Pair::select().limit_per(Pair::A, 1);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Pair's key has 2 columns",
            );
            // A grouped query, a combined one.
            let q = Score::select()
                .group_by(Score::TEAM)
                .limit_per(Score::TEAM, 1);
            usage(
                call!(half, db, count(q, false)).unwrap_err(),
                "groups or combines",
            );
            let q = best().union(Score::select()).limit_per(Score::TEAM, 1);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "groups or combines",
            );
            // Inside an update's filter, and nothing changed.
            let q = Score::update_query()
                .set(Score::POINTS, 0)
                .filter(Score::ID.is_in(best().limit_per(Team::NAME, 1)));
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "does not read",
            );
            let zero = Score::select().filter(Score::POINTS.eq(0));
            assert_eq!(call!(half, db, count(zero, false)).unwrap(), 0, "{what}");
        }
    }
}
