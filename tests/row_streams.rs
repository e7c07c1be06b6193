//! `fetch` and `fetch_rows`: a `Stream` on the async half and an
//! `Iterator` on the blocking half, on every backend, in and out of
//! transactions: every row in order; dropped at random points, the
//! connection is left clean (pools of one connection, so the next call gets
//! the same one, or a fresh one); while one is open in a transaction, the
//! transaction's other statements are refused rather than left waiting.

mod common;

use common::{Lcg, isolated_url, urls};
use dualdb::{Database, Error, ErrorKind, Model};
use futures::{StreamExt, TryStreamExt};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "fetched")]
struct Item {
    #[model(primary_key)]
    id: i64,
    label: String,
}

const ROWS: i64 = 1_000;

fn open(url: &str, name: &str) -> Database {
    Database::builder(&isolated_url(url, name))
        .sync_pool_size(1)
        .async_pool_size(1)
        .shared_connections(1)
        .build()
        .unwrap()
}

async fn fill(db: &Database) {
    db.aio().drop_table::<Item>().await.unwrap();
    db.aio().create_table::<Item>().await.unwrap();
    let items = (1..=ROWS)
        .map(|id| Item {
            id,
            label: format!("item {id}"),
        })
        .collect();
    db.aio()
        .execute_query(Item::insert_many(items))
        .await
        .unwrap();
}

fn in_order(ids: &[i64]) -> bool {
    ids.iter().enumerate().all(|(i, id)| *id == i as i64 + 1)
}

const SQL: &str = "SELECT id, label FROM fetched ORDER BY id";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_in_order_on_both_halves_in_and_out_of_transactions() {
    for url in urls() {
        let db = open(&url, "fetch_all");
        fill(&db).await;
        let b = db.backend();
        let q = || Item::select().order_by(Item::ID.asc());

        let ids: Vec<i64> = db
            .aio()
            .fetch(q())
            .map_ok(|i| i.id)
            .try_collect()
            .await
            .unwrap();
        assert!(ids.len() == ROWS as usize && in_order(&ids), "{b:?} async");
        let ids: Vec<i64> = db
            .aio()
            .fetch_rows(SQL, &[])
            .and_then(async |r| r.get::<i64>("id"))
            .try_collect()
            .await
            .unwrap();
        assert!(
            ids.len() == ROWS as usize && in_order(&ids),
            "{b:?} async rows"
        );
        let ids: Vec<i64> = db.sync().fetch(q()).map(|i| i.unwrap().id).collect();
        assert!(
            ids.len() == ROWS as usize && in_order(&ids),
            "{b:?} blocking"
        );
        let ids: Vec<i64> = db
            .sync()
            .fetch_rows(SQL, &[])
            .map(|r| r.unwrap().get::<i64>("id").unwrap())
            .collect();
        assert!(
            ids.len() == ROWS as usize && in_order(&ids),
            "{b:?} blocking rows"
        );

        // In a transaction: its own uncommitted rows, through its handle
        // and through the plain handle that joins it.
        let tx = db.aio().begin().await.unwrap();
        tx.execute("DELETE FROM fetched WHERE id > 10", &[])
            .await
            .unwrap();
        let n = tx.fetch(q()).count().await;
        assert_eq!(n, 10, "{b:?}");
        let n = db.aio().fetch_rows(SQL, &[]).count().await;
        assert_eq!(n, 10, "{b:?}: the plain handle joins");
        tx.rollback().await.unwrap();
        let tx = db.sync().begin().unwrap();
        tx.execute("DELETE FROM fetched WHERE id > 20", &[])
            .unwrap();
        assert_eq!(tx.fetch(q()).count(), 20, "{b:?}");
        assert_eq!(db.sync().fetch_rows(SQL, &[]).count(), 20, "{b:?}");
        tx.rollback().unwrap();
        assert_eq!(db.sync().fetch(q()).count(), ROWS as usize);

        // A decode error ends the stream after the rows before it.
        let bad: Vec<Result<i64, Error>> = db
            .aio()
            .fetch_rows(SQL, &[])
            .map(|r| r.and_then(|r| r.get::<i64>("label")))
            .collect()
            .await;
        assert_eq!(bad[0].as_ref().unwrap_err().kind(), ErrorKind::Decode);
        let err = db
            .sync()
            .fetch_rows("SELECT * FROM no_such_table", &[])
            .next();
        assert_eq!(err.unwrap().unwrap_err().kind(), ErrorKind::Query, "{b:?}");
        let err = db
            .aio()
            .fetch_rows("SELECT * FROM no_such_table", &[])
            .next()
            .await;
        assert_eq!(err.unwrap().unwrap_err().kind(), ErrorKind::Query, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_at_random_points_the_connection_is_left_clean() {
    let mut rng = Lcg(0x5eed);
    for url in urls() {
        let db = open(&url, "fetch_drop");
        fill(&db).await;
        let b = db.backend();
        for round in 0..12 {
            // Across batch boundaries, and before the first row.
            let k = (rng.next() % 300) as usize;
            let q = Item::select().order_by(Item::ID.asc());

            // Out of a transaction: the next call on the one connection.
            let got = db.aio().fetch(q.clone()).take(k).count().await;
            assert_eq!(got, k);
            let n: i64 = db
                .aio()
                .query_one("SELECT COUNT(*) FROM fetched", &[])
                .await
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(n, ROWS, "{b:?} round {round}, async after {k}");
            let got = db.sync().fetch_rows(SQL, &[]).take(k).count();
            assert_eq!(got, k);
            let n: i64 = db
                .sync()
                .query_one("SELECT COUNT(*) FROM fetched", &[])
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(n, ROWS, "{b:?} round {round}, blocking after {k}");

            // In a transaction: it goes on after the drop, and commits.
            let id = 10_000 + round;
            let tx = db.aio().begin().await.unwrap();
            let mut s = tx.fetch(q.clone());
            for _ in 0..k {
                s.next().await.unwrap().unwrap();
            }
            drop(s);
            tx.execute(&format!("INSERT INTO fetched VALUES ({id}, 'async')"), &[])
                .await
                .unwrap_or_else(|e| panic!("{b:?} round {round}, after {k}: {e}"));
            tx.commit().await.unwrap();
            let tx = db.sync().begin().unwrap();
            let mut it = tx.fetch_rows(SQL, &[]);
            for _ in 0..k {
                it.next().unwrap().unwrap();
            }
            drop(it);
            tx.execute(
                &format!("INSERT INTO fetched VALUES ({}, 'blocking')", id + 100),
                &[],
            )
            .unwrap_or_else(|e| panic!("{b:?} round {round}, after {k}: {e}"));
            tx.commit().unwrap();
            db.sync()
                .execute("DELETE FROM fetched WHERE id > 9999", &[])
                .unwrap();
        }
        // Every connection that came back is idle and usable.
        assert!(db.sync().status().size <= 1 && db.aio().status().in_use() == 0);
        let n: i64 = db
            .aio()
            .query_one("SELECT COUNT(*) FROM fetched", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, ROWS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_statement_while_its_stream_is_open_is_refused() {
    for url in urls() {
        let db = open(&url, "fetch_open");
        fill(&db).await;
        let b = db.backend();
        let tx = db.aio().begin().await.unwrap();
        let mut s = tx.fetch_rows(SQL, &[]);
        s.next().await.unwrap().unwrap();
        let err = tx.execute("DELETE FROM fetched", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{b:?}: {err}");
        let err = db.aio().query("SELECT 1", &[]).await.unwrap_err(); // joins: refused too
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert_eq!(s.count().await, ROWS as usize - 1); // the rest, then free
        tx.execute("DELETE FROM fetched WHERE id = 1", &[])
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        let tx = db.sync().begin().unwrap();
        let mut it = tx.fetch(Item::select());
        it.next().unwrap().unwrap();
        let err = tx.execute("DELETE FROM fetched", &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{b:?}: {err}");
        drop(it);
        tx.execute("DELETE FROM fetched WHERE id = 1", &[]).unwrap();
        tx.rollback().unwrap();
        assert_eq!(db.sync().fetch(Item::select()).count(), ROWS as usize);
    }
}

/// A transaction's stream dropped after its first poll, while its
/// statement is still being sent: the transaction goes on (the statement
/// finishes on a task of its own and its cursor closes), and what it writes
/// next is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_stream_dropped_while_opening_leaves_it_usable() {
    for url in urls() {
        let db = open(&url, "fetch_opening");
        fill(&db).await;
        let b = db.backend();
        let mut opening = 0;
        // Six rounds at least, more until three drops met the opening (on a
        // loaded machine the first poll can find the reply in).
        for round in 0..60i64 {
            if round >= 6 && opening >= 3 {
                break;
            }
            let tx = db.aio().begin().await.unwrap();
            let mut s = tx.fetch_rows(SQL, &[]);
            if futures::poll!(s.next()).is_pending() {
                opening += 1;
            }
            drop(s);
            let id = 30_000 + round;
            let sql = format!("INSERT INTO fetched VALUES ({id}, 'after')");
            let n = tokio::time::timeout(std::time::Duration::from_secs(30), tx.execute(&sql, &[]))
                .await
                .unwrap_or_else(|_| panic!("{b:?} round {round}: hung"))
                .unwrap_or_else(|e| panic!("{b:?} round {round}: {e}"));
            assert_eq!(n, 1);
            tx.commit().await.unwrap();
            let label: String = db
                .aio()
                .query_one(&format!("SELECT label FROM fetched WHERE id = {id}"), &[])
                .await
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(label, "after", "{b:?} round {round}");
        }
        // The first poll waits for the server: the drop met the opening.
        assert!(opening > 0, "{b:?}");
        db.aio()
            .execute("DELETE FROM fetched WHERE id >= 30000", &[])
            .await
            .unwrap();
        assert_eq!(db.aio().status().in_use(), 0, "{b:?}");
    }
}

/// Statements of one transaction run beside its open stream, in one task
/// (`join!`, either polled first): each runs (before the stream took the
/// connection, or after it ended) or, while the stream is open, is refused
/// with a `Usage` error; none waits forever, the stream reads every row in
/// order (and the rows written before it), and what ran is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_statements_beside_its_stream_run_or_are_refused_and_commit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    for url in urls() {
        let db = open(&url, "fetch_beside");
        fill(&db).await;
        let b = db.backend();
        let (mut refused, mut before) = (0, 0);
        for round in 0..8i64 {
            let tx = db.aio().begin().await.unwrap();
            let reading = AtomicBool::new(false);
            let reader = async {
                let mut s = tx.fetch(Item::select().order_by(Item::ID.asc()));
                let mut ids = Vec::new();
                while let Some(item) = s.next().await {
                    ids.push(item?.id);
                    reading.store(true, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(ids)
            };
            let writer = async {
                let (mut ran, mut no) = (Vec::new(), 0);
                for k in 0..4 {
                    if k % 2 == 1 {
                        while !reading.load(Ordering::Relaxed) {
                            tokio::task::yield_now().await;
                        }
                    }
                    let id = 20_000 + round * 10 + k;
                    let sql = format!("INSERT INTO fetched VALUES ({id}, 'beside')");
                    match tx.execute(&sql, &[]).await {
                        Ok(n) => {
                            assert_eq!(n, 1);
                            ran.push(id);
                        }
                        Err(e) => {
                            assert_eq!(e.kind(), ErrorKind::Usage, "{b:?}: {e}");
                            no += 1;
                        }
                    }
                }
                (ran, no)
            };
            let both = async {
                if round % 2 == 0 {
                    tokio::join!(reader, writer)
                } else {
                    let (w, r) = tokio::join!(writer, reader);
                    (r, w)
                }
            };
            let limit = std::time::Duration::from_secs(30);
            let (ids, (ran, no)) = tokio::time::timeout(limit, both)
                .await
                .unwrap_or_else(|_| panic!("{b:?} round {round}: hung"));
            let ids = ids.unwrap_or_else(|e| panic!("{b:?} round {round}: {e}"));
            let (old, new) = ids.split_at(ROWS as usize);
            assert!(in_order(old), "{b:?} round {round}");
            assert!(new.iter().all(|id| ran.contains(id)), "{b:?} round {round}");
            refused += no;
            before += new.len();
            tx.commit().await.unwrap();
            let stored: Vec<i64> = db
                .aio()
                .query("SELECT id FROM fetched WHERE id >= 20000 ORDER BY id", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0).unwrap())
                .collect();
            assert_eq!(stored, ran, "{b:?} round {round}");
            db.aio()
                .execute("DELETE FROM fetched WHERE id >= 20000", &[])
                .await
                .unwrap();
        }
        // Both ways happened: statements refused while the stream was
        // open, and rows written before it that it read.
        assert!(
            refused > 0 && before > 0,
            "{b:?}: {refused} refused, {before} before"
        );
    }
}

/// Rows 1..=n, the `k`-th failing to decode (its `v` is NULL).
fn mixed(n: i64, k: i64) -> String {
    format!(
        "SELECT id, CASE WHEN id = {k} THEN NULL ELSE id END AS v FROM fetched WHERE id <= {n} ORDER BY id"
    )
}

#[derive(dualdb::FromRow, Debug)]
struct Numbered {
    id: i64,
    v: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_iterator_ends_at_an_error_part_way_and_its_connection_is_clean() {
    for url in urls() {
        let db = open(&url, "fetch_midway");
        fill(&db).await;
        let b = db.backend();
        // A decode error at row 150 (past the first reads of a batch): the
        // rows before it, the error, then nothing; the one connection then
        // runs the next statement, in and out of a transaction.
        for in_tx in [false, true] {
            let tx = in_tx.then(|| db.sync().begin().unwrap());
            let items: Vec<dualdb::Result<Numbered>> = match &tx {
                Some(tx) => tx.fetch_as::<Numbered>(&mixed(300, 150), &[]).collect(),
                None => db
                    .sync()
                    .fetch_as::<Numbered>(&mixed(300, 150), &[])
                    .collect(),
            };
            assert_eq!(items.len(), 150, "{b:?} in_tx {in_tx}");
            for (i, r) in items[..149].iter().enumerate() {
                let n = r.as_ref().unwrap_or_else(|e| panic!("{b:?} row {i}: {e}"));
                assert!(n.id == i as i64 + 1 && n.v == n.id, "{b:?}: {n:?}");
            }
            let err = items[149].as_ref().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{b:?}: {err}");
            let n: i64 = match &tx {
                Some(tx) => tx.query_one("SELECT COUNT(*) FROM fetched", &[]),
                None => db.sync().query_one("SELECT COUNT(*) FROM fetched", &[]),
            }
            .unwrap()
            .get(0)
            .unwrap();
            assert_eq!(n, ROWS, "{b:?} in_tx {in_tx}");
            if let Some(tx) = tx {
                tx.commit().unwrap();
            }
        }
        // The same statement again reads every row: the stopped one left
        // nothing behind (SQLite keeps the statement for the next run).
        let ids: Vec<i64> = db
            .sync()
            .fetch_as::<Numbered>(&mixed(300, 0), &[])
            .map(|n| n.unwrap().id)
            .collect();
        assert!(ids.len() == 300 && in_order(&ids), "{b:?}");
        // A server error after rows have come (SQLite fails at the row).
        let sql = match b {
            dualdb::BackendKind::Sqlite => {
                "SELECT id, json(CASE WHEN id = 200 THEN 'not json' ELSE '1' END) FROM fetched ORDER BY id"
            }
            dualdb::BackendKind::Postgres => {
                "SELECT id, CASE WHEN id = 200 THEN 1 / (id - id) ELSE 1 END FROM fetched ORDER BY id"
            }
            // MariaDB's 1/0 and bad JSON are NULL: a scalar sub-query of
            // two rows fails instead.
            _ => {
                "SELECT id, (SELECT 1 UNION ALL SELECT 2 FROM DUAL WHERE id = 200) FROM fetched ORDER BY id"
            }
        };
        let got: Vec<dualdb::Result<dualdb::Row>> = db.sync().fetch_rows(sql, &[]).collect();
        let last = got.last().unwrap();
        assert_eq!(
            last.as_ref().unwrap_err().kind(),
            ErrorKind::Query,
            "{b:?}: {} rows",
            got.len()
        );
        assert!(got[..got.len() - 1].iter().all(Result::is_ok));
        assert_eq!(
            db.sync().fetch_rows(SQL, &[]).count(),
            ROWS as usize,
            "{b:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_iterator_of_a_transaction_is_refused_while_the_first_is_open() {
    for url in urls() {
        let db = open(&url, "fetch_two");
        fill(&db).await;
        let b = db.backend();
        let tx = db.sync().begin().unwrap();
        let mut first = tx.fetch_rows(SQL, &[]);
        assert_eq!(first.next().unwrap().unwrap().get::<i64>(0).unwrap(), 1);
        // Refused, not run beside it (which would stop the first's statement).
        let mut second = tx.fetch(Item::select());
        let err = second.next().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{b:?}: {err}");
        assert!(second.next().is_none());
        drop(second);
        // From other threads too, at once: each refused, the first unharmed.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let err = tx.fetch_rows(SQL, &[]).next().unwrap().unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::Usage);
                });
            }
        });
        let rest: Vec<i64> = first.map(|r| r.unwrap().get::<i64>(0).unwrap()).collect();
        assert_eq!(rest.len(), ROWS as usize - 1, "{b:?}");
        assert!(rest.iter().enumerate().all(|(i, id)| *id == i as i64 + 2));
        assert_eq!(tx.fetch(Item::select()).count(), ROWS as usize);
        tx.commit().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iterator_read_part_way_leaves_the_pools_other_connections_free() {
    for url in urls() {
        let db = Database::builder(&isolated_url(&url, "fetch_hold"))
            .sync_pool_size(2)
            .build()
            .unwrap();
        fill(&db).await;
        let b = db.backend();
        let mut it = db.sync().fetch_rows(SQL, &[]);
        let mut ids = vec![it.next().unwrap().unwrap().get::<i64>(0).unwrap()];
        // A write on the other connection while the iterator is open.
        db.sync()
            .execute("UPDATE fetched SET label = 'changed' WHERE id = 1", &[])
            .unwrap();
        ids.extend(it.map(|r| r.unwrap().get::<i64>(0).unwrap()));
        assert!(ids.len() == ROWS as usize && in_order(&ids), "{b:?}");
        // Both connections idle again.
        assert_eq!(db.sync().status().in_use(), 0, "{b:?}");
        let label: String = db
            .sync()
            .query_one("SELECT label FROM fetched WHERE id = 1", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(label, "changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_at_once_each_read_every_row_and_give_their_connections_back() {
    for url in urls() {
        let db = Database::builder(&isolated_url(&url, "fetch_many"))
            .async_pool_size(2)
            .sync_pool_size(2)
            .build()
            .unwrap();
        fill(&db).await;
        let b = db.backend();
        // Six async readers on two connections, some stopping early, and
        // three blocking ones on threads beside them.
        let readers = (0..6).map(|k| {
            let db = db.clone();
            async move {
                let s = db.aio().fetch(Item::select().order_by(Item::ID.asc()));
                let ids: Vec<i64> = if k % 3 == 2 {
                    s.take(100).map(|i| i.unwrap().id).collect().await
                } else {
                    s.map_ok(|i| i.id).try_collect().await.unwrap()
                };
                (k, ids)
            }
        });
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    db.sync()
                        .fetch_rows(SQL, &[])
                        .map(|r| r.unwrap().get::<i64>(0).unwrap())
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        for (k, ids) in futures::future::join_all(readers).await {
            let want = if k % 3 == 2 { 100 } else { ROWS as usize };
            assert!(ids.len() == want && in_order(&ids), "{b:?} reader {k}");
        }
        for t in threads {
            let ids = t.join().unwrap();
            assert!(ids.len() == ROWS as usize && in_order(&ids), "{b:?}");
        }
        // A stream dropped part-way may finish its statement on a task of
        // its own (where no cursor reads it): its connection comes back then.
        let start = std::time::Instant::now();
        while db.aio().status().in_use() > 0 && start.elapsed().as_secs() < 10 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(db.aio().status().in_use(), 0, "{b:?}");
        assert_eq!(db.sync().status().in_use(), 0, "{b:?}");
        assert_eq!(db.aio().fetch(Item::select()).count().await, ROWS as usize);
    }
}
