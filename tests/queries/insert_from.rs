//! `Model::insert_from`: the rows a query selects inserted into a model's
//! table by the server, `INSERT … SELECT`, with the query's filter, joins,
//! grouping and limit, expressions, aggregates and bound constants; on both
//! halves of every backend, in a transaction and out, from concurrent
//! callers, checked against the rows stored. What cannot be inserted is a
//! `Usage` error before any statement.

use crate::common::models::{Score, Team, plant_scores};
use crate::common::{HALVES, Half, assert_usage, isolated_all};
use dualdb::model::ColumnOf;
use dualdb::{Database, Model, ToSql};

/// A score kept in an archive, with where it came from.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "if_archive")]
struct Archived {
    #[model(primary_key, auto)]
    id: i64,
    player: String,
    points: i64,
    source: String,
    note: Option<String>,
}

/// Each team's total, a row a team.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "if_totals")]
struct Total {
    #[model(primary_key)]
    team: String,
    players: i64,
    points: i64,
}

async fn fresh<M: Model>(db: &Database) {
    db.aio().drop_table::<M>().await.unwrap();
    db.aio().create_table::<M>().await.unwrap();
}

/// The archive's rows as (player, points, source, note), in id order.
async fn archive(half: Half, db: &Database) -> Vec<(String, i64, String, Option<String>)> {
    let all = Archived::select().order_by(Archived::ID.asc());
    let rows = call!(half, db, execute_query(all)).unwrap();
    rows.into_iter()
        .map(|a| (a.player, a.points, a.source, a.note))
        .collect()
}

fn row(player: &str, points: i64, source: &str) -> (String, i64, String, Option<String>) {
    (player.into(), points, source.into(), None)
}

const INTO: [&dyn ColumnOf<Archived>; 3] =
    [&Archived::PLAYER, &Archived::POINTS, &Archived::SOURCE];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rows_a_query_selects_are_inserted_by_the_server() {
    for db in isolated_all("insert_from") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            fresh::<Archived>(&db).await;
            // A filter and an order, an expression and a bound constant.
            let high = Score::select()
                .filter(Score::POINTS.ge(20))
                .order_by(Score::ID.asc());
            let fields = (Score::PLAYER.upper(), Score::POINTS * 10, "high".to_sql());
            let q = Archived::insert_from(&INTO, high, fields);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 3, "{what}");
            let want = vec![
                row("BOB", 300, "high"),
                row("CID", 300, "high"),
                row("DEE", 200, "high"),
            ];
            assert_eq!(archive(half, &db).await, want, "{what}");
            // Through a join, a column of the joined model; a limit.
            let blue = Score::select()
                .join::<Team>()
                .filter(Team::NAME.eq("blue"))
                .order_by(Score::POINTS.asc())
                .limit(1);
            let q = Archived::insert_from(&INTO, blue, (Score::PLAYER, Score::POINTS, Team::NAME));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1, "{what}");
            // A NULL constant into a nullable column; nothing selected.
            let into: [&dyn ColumnOf<Archived>; 4] = [
                &Archived::PLAYER,
                &Archived::POINTS,
                &Archived::SOURCE,
                &Archived::NOTE,
            ];
            let none = Score::select().filter(Score::POINTS.gt(1000));
            let fields = (
                Score::PLAYER,
                Score::POINTS,
                "none".to_sql(),
                None::<String>.to_sql(),
            );
            let q = Archived::insert_from(&into, none, fields);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 0, "{what}");
            let mut want = want;
            want.push(row("eve", 5, "blue"));
            assert_eq!(archive(half, &db).await, want, "{what}");
            // Grouped, with aggregates: one row a team.
            fresh::<Total>(&db).await;
            let into: [&dyn ColumnOf<Total>; 3] = [&Total::TEAM, &Total::PLAYERS, &Total::POINTS];
            let per_team = Score::select().join::<Team>().group_by(Team::NAME);
            let fields = (Team::NAME, Score::ID.count(), Score::POINTS.sum());
            let q = Total::insert_from(&into, per_team, fields);
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 2, "{what}");
            let totals = Total::select().order_by(Total::TEAM.asc());
            let totals: Vec<(String, i64, i64)> = call!(half, db, execute_query(totals))
                .unwrap()
                .into_iter()
                .map(|t| (t.team, t.players, t.points))
                .collect();
            assert_eq!(
                totals,
                [("blue".into(), 2, 25), ("red".into(), 3, 70)],
                "{what}"
            );
            // Into the table it reads from: each score copied once.
            let q = Score::insert_from(
                &[&Score::TEAM, &Score::PLAYER, &Score::POINTS],
                Score::select().filter(Score::TEAM.eq(2)),
                (Score::TEAM, Score::PLAYER.concat("2"), Score::POINTS),
            );
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 2, "{what}");
            assert_eq!(
                call!(half, db, count(Score::select(), false)).unwrap(),
                7,
                "{what}"
            );
            plant_scores(&db).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_transaction_the_copy_is_seen_inside_and_rolled_back_with_it() {
    for db in isolated_all("insert_from_tx") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            fresh::<Archived>(&db).await;
            let q = || {
                let red = Score::select().filter(Score::TEAM.eq(1));
                Archived::insert_from(&INTO, red, (Score::PLAYER, Score::POINTS, "red".to_sql()))
            };
            for commit in [false, true] {
                let seen = match half {
                    Half::Sync => {
                        let tx = db.sync().begin().unwrap();
                        assert_eq!(tx.execute_query(q()).unwrap(), 3, "{what}");
                        let seen = tx.count(Archived::select(), false).unwrap();
                        match commit {
                            true => tx.commit().unwrap(),
                            false => tx.rollback().unwrap(),
                        }
                        seen
                    }
                    Half::Async => {
                        let tx = db.aio().begin().await.unwrap();
                        assert_eq!(tx.execute_query(q()).await.unwrap(), 3, "{what}");
                        let seen = tx.count(Archived::select(), false).await.unwrap();
                        match commit {
                            true => tx.commit().await.unwrap(),
                            false => tx.rollback().await.unwrap(),
                        }
                        seen
                    }
                };
                assert_eq!(seen, 3, "{what} inside");
                let after = call!(half, db, count(Archived::select(), false)).unwrap();
                assert_eq!(after, if commit { 3 } else { 0 }, "{what} commit {commit}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_each_copy_their_rows() {
    for db in isolated_all("insert_from_concurrent") {
        plant_scores(&db).await;
        fresh::<Archived>(&db).await;
        let b = db.backend();
        // Four async callers and four threads, each copying every score
        // under a source of its own, at once.
        let q = |k: usize| {
            let fields = (Score::PLAYER, Score::POINTS, format!("caller {k}").to_sql());
            Archived::insert_from(&INTO, Score::select(), fields)
        };
        let tasks = (0..4).map(|k| {
            let (db, q) = (db.clone(), q(k));
            tokio::spawn(async move { db.aio().execute_query(q).await })
        });
        let threads: Vec<_> = (4..8)
            .map(|k| {
                let (db, q) = (db.clone(), q(k));
                std::thread::spawn(move || db.sync().execute_query(q))
            })
            .collect();
        for t in futures::future::join_all(tasks).await {
            assert_eq!(t.unwrap().unwrap(), 5, "{b:?}");
        }
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), 5, "{b:?}");
        }
        for k in 0..8 {
            let mine = Archived::select().filter(Archived::SOURCE.eq(format!("caller {k}")));
            let n = db.aio().count(mine, false).await.unwrap();
            assert_eq!(n, 5, "{b:?} caller {k}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_inserted_is_refused_before_any_statement() {
    for db in isolated_all("insert_from_refused") {
        let b = db.backend();
        // Neither table exists: any statement would fail otherwise.
        for half in HALVES {
            let what = format!("{b:?} {half:?}");
            let usage = |e: dualdb::Error, says: &str| assert_usage(&e, says, &what);
            let two = (Score::PLAYER, Score::POINTS);
            let q = Archived::insert_from(&INTO, Score::select(), two);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "3 column(s) of Archived and 2 field(s) to fill them",
            );
            let q = Archived::insert_from(&[], Score::select(), two);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "no column to insert into",
            );
            let twice: [&dyn ColumnOf<Archived>; 2] = [&Archived::PLAYER, &Archived::PLAYER];
            let q = Archived::insert_from(&twice, Score::select(), two);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "column Archived.player given twice (columns 1 and 2)",
            );
            // A field of a model the query does not read.
            let q = Archived::insert_from(
                &INTO,
                Score::select(),
                (Score::PLAYER, Score::POINTS, Team::NAME),
            );
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "names Team, which the query of Score does not read",
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_constants_read_back_as_their_own_types() {
    for db in isolated_all("insert_from_constants") {
        plant_scores(&db).await;
        let b = db.backend();
        for half in HALVES {
            // `select_fields` reads a bound value as the value's own type on
            // every backend (PostgreSQL would read a lone parameter as text).
            type Row = (String, i64, bool, f64, String, Option<i64>);
            let q = Score::select()
                .filter(Score::ID.le(2))
                .order_by(Score::ID.asc())
                .select_fields::<Row>((
                    Score::PLAYER,
                    7i64.to_sql(),
                    true.to_sql(),
                    1.5f64.to_sql(),
                    "k".to_sql(),
                    None::<i64>.to_sql(),
                ));
            let rows = call!(half, db, execute_query(q)).unwrap();
            let want = ["ann", "bob"].map(|p| (p.to_string(), 7, true, 1.5, "k".to_string(), None));
            assert_eq!(rows, want, "{b:?} {half:?}");
        }
    }
}
