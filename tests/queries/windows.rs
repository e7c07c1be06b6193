//! Window functions (`Model::window()`, `Field::over`): ranking, offsets,
//! running and partition totals, frames in rows and in range, windows over
//! a joined model (read whole and streamed); on both halves of every
//! backend, in a transaction and out, checked against the values worked out
//! by hand. A window function where SQL computes none (a filter, `GROUP BY`,
//! `HAVING`, `ORDER BY`, a partition), a window given to what is not an
//! aggregate, and a window naming a model the query does not read are
//! `Usage` errors before the query runs.

use crate::common::models::{Score, Team, plant_scores};
use crate::common::{HALVES, assert_usage, isolated_all};
use dualdb::model::{Field, FrameBound};
use dualdb::{ErrorKind, Model};
use futures::TryStreamExt as _;

fn by_id() -> dualdb::Select<Score> {
    Score::select().order_by(Score::ID.asc())
}

fn per_team() -> dualdb::model::Window<Score> {
    Score::window().partition_by(Score::TEAM)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_functions_rank_offset_and_total() {
    for db in isolated_all("windows") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            // Ranks within each team by points, most first.
            let most = || per_team().order_by(Score::POINTS.desc());
            let q = by_id().select_fields((
                most().order_by(Score::ID.asc()).row_number(),
                most().rank(),
                Score::window().order_by(Score::POINTS.desc()).dense_rank(),
                Score::window().order_by(Score::ID.asc()).ntile(2),
            ));
            let rows: Vec<(i64, i64, i64, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [
                    (3, 3, 3, 1),
                    (1, 1, 1, 1),
                    (2, 1, 1, 1),
                    (1, 1, 2, 2),
                    (2, 2, 4, 2)
                ],
                "{what}"
            );
            // Relative ranks: (rank - 1) / (rows - 1), and rows at or before.
            let q = by_id().select_fields((most().percent_rank(), most().cume_dist()));
            let rows: Vec<(f64, f64)> = call!(half, db, execute_query(q)).unwrap();
            let third = 1.0 / 3.0;
            let want = [
                (1.0, 1.0),
                (0.0, 2.0 * third),
                (0.0, 2.0 * third),
                (0.0, 0.5),
                (1.0, 1.0),
            ];
            for (got, want) in rows.iter().zip(want) {
                assert!(
                    (got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9,
                    "{what}: {rows:?}"
                );
            }
            assert_eq!(rows.len(), 5, "{what}");
            // Running totals, partition totals and counts.
            let q = by_id().select_fields((
                Score::POINTS
                    .sum()
                    .over(per_team().order_by(Score::ID.asc())),
                Score::POINTS.sum().over(per_team()),
                Field::count_all().over(per_team()),
                Score::POINTS.max().over(Score::window()),
            ));
            let rows: Vec<(i64, i64, i64, i32)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [
                    (10, 70, 3, 30),
                    (40, 70, 3, 30),
                    (70, 70, 3, 30),
                    (20, 25, 2, 30),
                    (25, 25, 2, 30)
                ],
                "{what}"
            );
            // The rows before and after, and the frame's ends.
            let in_order = || per_team().order_by(Score::ID.asc());
            let whole = in_order().rows(
                FrameBound::UnboundedPreceding,
                FrameBound::UnboundedFollowing,
            );
            let q = by_id().select_fields((
                in_order().lag(Score::POINTS, 1),
                in_order().lead(Score::POINTS, 1),
                most().order_by(Score::ID.asc()).first_value(Score::PLAYER),
                whole.last_value(Score::PLAYER),
            ));
            type Around = (Option<i32>, Option<i32>, String, String);
            let rows: Vec<Around> = call!(half, db, execute_query(q)).unwrap();
            let s = |v: &str| v.to_string();
            assert_eq!(
                rows,
                [
                    (None, Some(30), s("bob"), s("cid")),
                    (Some(10), Some(30), s("bob"), s("cid")),
                    (Some(30), None, s("bob"), s("cid")),
                    (None, Some(5), s("dee"), s("eve")),
                    (Some(20), None, s("dee"), s("eve")),
                ],
                "{what}"
            );
            // Frames: the row and its neighbours; points within 10 below.
            let near = Score::window()
                .order_by(Score::ID.asc())
                .rows(FrameBound::Preceding(1), FrameBound::Following(1));
            let within = Score::window()
                .order_by(Score::POINTS.asc())
                .range(FrameBound::Preceding(10), FrameBound::CurrentRow);
            // The filter's value is bound after the offsets written in
            // (PostgreSQL's `$N` numbered again); it keeps every row.
            let q = by_id().filter(Score::PLAYER.ne("nobody")).select_fields((
                Score::POINTS.sum().over(near),
                Score::POINTS.sum().over(within),
            ));
            let rows: Vec<(i64, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [(40, 15), (70, 80), (80, 80), (55, 30), (25, 5)],
                "{what}"
            );
            // A window over a joined model's column; the filter comes first.
            let q = Score::select()
                .join::<Team>()
                .filter(Score::POINTS.gt(5))
                .order_by(Score::ID.asc())
                .select_fields((
                    Team::NAME,
                    Score::window()
                        .partition_by(Team::NAME)
                        .order_by(Score::POINTS.asc())
                        .order_by(Score::ID.asc())
                        .row_number(),
                    Score::POINTS
                        .sum()
                        .over(Score::window().partition_by(Team::NAME)),
                ));
            let rows: Vec<(String, i64, i64)> = call!(half, db, execute_query(q.clone())).unwrap();
            assert_eq!(
                rows,
                [
                    (s("red"), 1, 70),
                    (s("red"), 2, 70),
                    (s("red"), 3, 70),
                    (s("blue"), 1, 20)
                ],
                "{what}"
            );
            // Streamed (`fetch`), each row decoded as it is read: the same rows.
            let streamed: Vec<(String, i64, i64)> = match half {
                crate::common::Half::Sync => {
                    db.sync().fetch(q.clone()).collect::<dualdb::Result<_>>()
                }
                crate::common::Half::Async => db.aio().fetch(q.clone()).try_collect().await,
            }
            .unwrap();
            assert_eq!(streamed, rows, "{what} fetch");
            // Through `fields` and `scalar`.
            let q = Score::select()
                .filter(Score::PLAYER.eq("cid"))
                .fields([Score::POINTS.sum().over(Score::window())]);
            let total: i64 = call!(half, db, scalar(q)).unwrap();
            assert_eq!(total, 30, "{what}");
        }
        // In a transaction: a row added is ranked; rolled back, it is gone.
        let top = || {
            by_id().select_fields::<i64>(
                Score::window()
                    .order_by(Score::POINTS.desc())
                    .order_by(Score::ID.asc())
                    .row_number(),
            )
        };
        let added = |team| Score {
            id: 0,
            team,
            player: "fay".into(),
            points: 99,
        };
        let team = db.aio().get(Team::NAME.eq("red")).await.unwrap().id;
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(added(team)).await?;
                let ranks = tx.execute_query(top()).await?;
                assert_eq!(ranks, [5, 2, 3, 4, 6, 1], "{b:?} async transaction");
                Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                tx.create(added(team))?;
                let ranks = tx.execute_query(top())?;
                assert_eq!(ranks, [5, 2, 3, 4, 6, 1], "{b:?} blocking transaction");
                Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
            })
            .unwrap_err();
        let ranks: Vec<i64> = db.sync().execute_query(top()).unwrap();
        assert_eq!(ranks, [4, 1, 2, 3, 5], "{b:?} after both");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_functions_where_sql_computes_none_are_refused_before_they_run() {
    for db in isolated_all("windows_refused") {
        plant_scores(&db).await;
        let b = db.backend();
        let total = || Score::POINTS.sum().over(per_team());
        let refused = |e: dualdb::Error, what: &str, says: &str| {
            assert_usage(&e, says, &format!("{b:?} {what}"))
        };
        for half in HALVES {
            let q = by_id().group_by(total()).select_fields::<i64>(Score::TEAM);
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "group_by", "in a GROUP BY");
            let q = Score::select().group_by(Score::TEAM).having(total().gt(1));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "having", "in a filter or HAVING");
            // The message names the way to the first rows of each group.
            let q = Score::select().filter(per_team().row_number().le(1));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "filter", "use `Select::limit_per`");
            let q = Score::select().order_by(total().desc());
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "order_by", "in an ORDER BY");
            let q = by_id().select_fields::<i64>(Score::window().partition_by(total()).rank());
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "partition_by", "in a PARTITION BY");
            let q = by_id().select_fields::<i64>(Score::PLAYER.count_distinct().over(per_team()));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "count_distinct", "`over` takes an aggregate");
            let q = by_id().select_fields::<i32>(Score::POINTS.field().over(per_team()));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "a column", "`over` takes an aggregate");
            let q = by_id().select_fields::<i64>(total().over(per_team()));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "over twice", "`over` takes an aggregate");
            let q = by_id().select_fields::<i64>(Score::window().ntile(0));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "ntile(0)", "one bucket or more");
            // Team is not joined.
            let q = by_id().select_fields::<i64>(Score::window().partition_by(Team::NAME).rank());
            let e = call!(half, db, execute_query(q)).unwrap_err();
            refused(e, "an unjoined model", "names Team");
        }
        // Nothing was changed by any of them.
        let n = db.sync().count(Score::select(), false).unwrap();
        assert_eq!(n, 5, "{b:?}");
    }
}
