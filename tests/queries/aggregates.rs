//! Aggregates of only some rows (`Field::filter`, peewee's
//! `fn.COUNT(…).filter(cond)`) and aggregates of expressions (`(a * 2).sum()`,
//! a `case` counted): per group, in `HAVING`, over no rows, with two
//! conditions, with a condition on a joined model, over a window (either
//! order); on both halves of every backend, in a transaction and out,
//! checked against the values worked out by hand. `filter` on what is not an
//! aggregate is a `Usage` error before the query runs.

use crate::common::models::{Score, Team, plant_scores};
use crate::common::{HALVES, assert_usage, isolated_all};
use dualdb::Model;
use dualdb::model::{Field, case};

fn high() -> dualdb::Filter<Score> {
    Score::POINTS.ge(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_of_some_rows_and_of_expressions() {
    for db in isolated_all("aggregates") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let per_team = || {
                Score::select()
                    .group_by(Score::TEAM)
                    .order_by(Score::TEAM.asc())
            };
            // Per team: all rows, the high ones counted and summed, the
            // low ones' best, two conditions at once.
            let q = per_team().select_fields((
                Score::TEAM,
                Field::<Score>::count_all(),
                Field::<Score>::count_all().filter(high()),
                Score::POINTS.sum().filter(high()),
                Score::POINTS.max().filter(Score::POINTS.lt(20)),
                Score::ID
                    .count()
                    .filter(Score::POINTS.ge(10))
                    .filter(Score::POINTS.le(20)),
            ));
            type Row = (i64, i64, i64, Option<i64>, Option<i32>, i64);
            let rows: Vec<Row> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [
                    (1, 3, 2, Some(60), Some(10), 1),
                    (2, 2, 1, Some(20), Some(5), 1)
                ],
                "{what}"
            );
            // Where the condition holds for no row: 0, and NULL.
            let none = || Score::POINTS.gt(100);
            let q = Score::select().select_fields((
                Score::ID.count().filter(none()),
                Score::POINTS.sum().filter(none()),
                Score::POINTS.avg().filter(none()),
                Score::POINTS.min().filter(none()),
            ));
            type Nothing = (i64, Option<i64>, Option<f64>, Option<i32>);
            let rows: Vec<Nothing> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows, [(0, None, None, None)], "{what}");
            // The average and the different values of some rows.
            let q = Score::select().select_fields((
                Score::POINTS.avg().filter(Score::TEAM.eq(1)),
                Score::POINTS.count_distinct().filter(Score::TEAM.eq(1)),
            ));
            let rows: Vec<(f64, i64)> = call!(half, db, execute_query(q)).unwrap();
            // MySQL averages integers to four decimal places.
            assert!((rows[0].0 - 70.0 / 3.0).abs() < 1e-3, "{what}: {rows:?}");
            assert_eq!(rows[0].1, 2, "{what}");
            // In HAVING: the teams with two high scores.
            let q = per_team()
                .having(Field::<Score>::count_all().filter(high()).ge(2))
                .select_fields(Score::TEAM);
            let teams: Vec<i64> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(teams, [1], "{what}");
            // A condition on a joined model.
            let q = Score::select()
                .join::<Team>()
                .fields([Score::ID.count().filter(Team::NAME.eq("blue"))]);
            let blue: i64 = call!(half, db, scalar(q)).unwrap();
            assert_eq!(blue, 2, "{what}");
            // Over a window, the condition given before or after it.
            let w = || Score::window().partition_by(Score::TEAM);
            let q = Score::select().order_by(Score::ID.asc()).select_fields((
                Score::POINTS.sum().filter(high()).over(w()),
                Score::POINTS.sum().over(w()).filter(high()),
            ));
            let rows: Vec<(i64, i64)> = call!(half, db, execute_query(q)).unwrap();
            let want = [(60, 60), (60, 60), (60, 60), (20, 20), (20, 20)];
            assert_eq!(rows, want, "{what}");
            // Aggregates of expressions.
            let q = Score::select().select_fields((
                (Score::POINTS * 2).sum(),
                case(high(), "high").end().count(),
                (Score::POINTS + 1).max(),
                (Score::POINTS - 1).min(),
                case(high(), "high").otherwise("low").count_distinct(),
            ));
            let rows: Vec<(i64, i64, i32, i32, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows, [(190, 3, 31, 4, 2)], "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_aggregates_in_a_transaction_see_its_rows() {
    for db in isolated_all("aggregates_tx") {
        plant_scores(&db).await;
        let b = db.backend();
        let high_count = || {
            Score::select().select_fields((
                Score::ID.count().filter(high()),
                Score::POINTS.sum().filter(high()),
            ))
        };
        let fay = Score {
            id: 0,
            team: 2,
            player: "fay".into(),
            points: 40,
        };
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let inside: Vec<(i64, Option<i64>)> = match half {
                crate::common::Half::Sync => {
                    let tx = db.sync().begin().unwrap();
                    tx.create(fay.clone()).unwrap();
                    let rows = tx.execute_query(high_count()).unwrap();
                    tx.rollback().unwrap();
                    rows
                }
                crate::common::Half::Async => {
                    let tx = db.aio().begin().await.unwrap();
                    tx.create(fay.clone()).await.unwrap();
                    let rows = tx.execute_query(high_count()).await.unwrap();
                    tx.rollback().await.unwrap();
                    rows
                }
            };
            assert_eq!(inside, [(4, Some(120))], "{what}");
            let after: Vec<(i64, Option<i64>)> =
                call!(half, db, execute_query(high_count())).unwrap();
            assert_eq!(after, [(3, Some(80))], "{what} rolled back");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_on_what_is_not_an_aggregate_is_refused_before_it_runs() {
    for db in isolated_all("aggregates_refused") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let refused = |e: dualdb::Error, says: &str| assert_usage(&e, says, &what);
            let q = Score::select().select_fields::<i32>(Score::POINTS.field().filter(high()));
            refused(
                call!(half, db, execute_query(q)).unwrap_err(),
                "`filter` takes an aggregate",
            );
            let rank = Score::window().order_by(Score::POINTS.desc()).rank();
            let q = Score::select().select_fields::<i64>(rank.filter(high()));
            refused(
                call!(half, db, execute_query(q)).unwrap_err(),
                "`filter` takes an aggregate",
            );
            // A window function in the condition.
            let first = Score::window().order_by(Score::ID.asc()).row_number().eq(1);
            let q = Score::select().select_fields::<i64>(Score::ID.count().filter(first));
            refused(
                call!(half, db, execute_query(q)).unwrap_err(),
                "a window function",
            );
        }
    }
}
