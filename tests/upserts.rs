//! Upserts on both halves of every backend, in and out of transactions,
//! checked against the rows stored and the counts each backend can tell:
//! `on_conflict_ignore`, `on_conflict(…)` with `preserve`, `set` and
//! `set_expr`, concurrent counters that lose no increment, more rows than
//! one statement binds, and the bad ones, refused before any I/O.

mod common;

use common::{HALVES, isolated_all};
use dualdb::{BackendKind, Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "upsert_counters")]
struct Counter {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique, max_length = 80)]
    name: String,
    hits: i64,
    note: Option<String>,
}

fn counter(name: &str, hits: i64, note: Option<&str>) -> Counter {
    Counter {
        id: 0,
        name: name.into(),
        hits,
        note: note.map(String::from),
    }
}

async fn fresh(db: &Database) {
    db.aio().drop_table::<Counter>().await.unwrap();
    db.aio().create_table::<Counter>().await.unwrap();
    db.aio().create(counter("ann", 10, None)).await.unwrap();
}

async fn stored(db: &Database, name: &str) -> Counter {
    db.aio().get(Counter::NAME.eq(name)).await.unwrap()
}

fn names(rows: &[Counter]) -> Vec<&str> {
    let mut n: Vec<&str> = rows.iter().map(|c| c.name.as_str()).collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_update_and_counts() {
    for db in isolated_all("upserts") {
        let kind = db.backend();
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{kind:?} {half:?}");
            // Conflicts skipped: ann stays as stored, bob is inserted.
            let q = Counter::insert_many(vec![
                counter("ann", 99, Some("new")),
                counter("bob", 1, None),
            ])
            .on_conflict_ignore();
            let done = call!(half, db, execute_query(q)).unwrap();
            assert_eq!((done.inserted, done.updated), (Some(1), Some(0)), "{what}");
            match kind {
                BackendKind::Mysql => assert!(done.rows.is_empty(), "{what}"),
                _ => assert_eq!(names(&done.rows), ["bob"], "{what}"),
            }
            assert_eq!(stored(&db, "ann").await.hits, 10, "{what}");
            assert_eq!(stored(&db, "bob").await.hits, 1, "{what}");
            // Conflicts update: ann's note taken from the insert, her hits
            // counted up from the stored row; cy inserted as given.
            let q =
                Counter::insert_many(vec![counter("ann", 0, Some("x")), counter("cy", 5, None)])
                    .on_conflict(&[&Counter::NAME])
                    .preserve(&[&Counter::NOTE])
                    .set_expr(Counter::HITS, Counter::HITS + 1);
            let done = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(names(&done.rows), ["ann", "cy"], "{what}: the stored rows");
            let ann = done.rows.iter().find(|c| c.name == "ann").unwrap();
            assert_eq!((ann.hits, ann.note.as_deref()), (11, Some("x")), "{what}");
            assert_eq!(ann, &stored(&db, "ann").await, "{what}: as stored");
            assert_eq!(stored(&db, "cy").await.hits, 5, "{what}");
            let counts = (done.inserted, done.updated);
            match kind {
                BackendKind::Postgres => assert_eq!(counts, (Some(1), Some(1)), "{what}"),
                _ => assert_eq!(counts, (None, None), "{what}"),
            }
            // A plain value on conflict.
            let q = Counter::insert_many(vec![counter("bob", 0, None)])
                .on_conflict(&[&Counter::NAME])
                .set(Counter::NOTE, "fixed");
            call!(half, db, execute_query(q)).unwrap();
            let bob = stored(&db, "bob").await;
            assert_eq!(
                (bob.hits, bob.note.as_deref()),
                (1, Some("fixed")),
                "{what}"
            );
            // Payloads stay values.
            for p in [
                "x'); DROP TABLE upsert_counters; --",
                "\" OR 1=1 --",
                "`; --",
            ] {
                let q = Counter::insert_many(vec![counter("ann", 0, Some(p))])
                    .on_conflict(&[&Counter::NAME])
                    .preserve(&[&Counter::NOTE])
                    .set(Counter::NAME, "ann");
                call!(half, db, execute_query(q)).unwrap();
                assert_eq!(stored(&db, "ann").await.note.as_deref(), Some(p), "{what}");
            }
            assert_eq!(db.aio().count(Counter::select(), false).await.unwrap(), 3);
        }
    }
}

/// More rows than one statement may bind: split, all in one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_split_under_the_limit() {
    const N: usize = 25_000; // three values a row: more than any backend binds at once
    for db in isolated_all("upserts_bulk") {
        fresh(&db).await;
        let rows = |hits| -> Vec<Counter> {
            (0..N)
                .map(|i| counter(&format!("c{i}"), hits, None))
                .collect()
        };
        let done = db
            .aio()
            .execute_query(Counter::insert_many(rows(1)).on_conflict_ignore())
            .await
            .unwrap();
        assert_eq!(done.inserted, Some(N as u64), "{:?}", db.backend());
        let q = Counter::insert_many(rows(7))
            .on_conflict(&[&Counter::NAME])
            .preserve(&[&Counter::HITS]);
        let done = db.sync().execute_query(q).unwrap();
        assert_eq!(done.rows.len(), N, "{:?}", db.backend());
        assert!(done.rows.iter().all(|c| c.hits == 7));
        let total: i64 = db
            .aio()
            .scalar(Counter::select().fields([Counter::HITS.sum()]))
            .await
            .unwrap();
        assert_eq!(total, 10 + 7 * N as i64, "{:?}", db.backend());
    }
}

/// Tasks and threads counting visits to one name at once, each visit an
/// upsert adding 1: no visit is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_counters_lose_nothing() {
    const WORKERS: i64 = 6;
    const EACH: i64 = 5;
    for db in isolated_all("upserts_counters") {
        fresh(&db).await;
        let visit = || {
            Counter::insert_many(vec![counter("page", 1, None)])
                .on_conflict(&[&Counter::NAME])
                .set_expr(Counter::HITS, Counter::HITS + 1)
        };
        common::both_halves_at_once(
            &db,
            WORKERS,
            EACH,
            move |db| async move {
                db.aio().execute_query(visit()).await.unwrap();
            },
            move |db| {
                db.sync().execute_query(visit()).unwrap();
            },
        )
        .await;
        assert_eq!(
            stored(&db, "page").await.hits,
            2 * WORKERS * EACH,
            "{:?}",
            db.backend()
        );
    }
}

/// Inside transactions an upsert is undone by the rollback; bad upserts
/// are `Usage` errors before any I/O (the transaction goes on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_in_transactions_and_bad_ones() {
    for db in isolated_all("upserts_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let bump = || {
            Counter::insert_many(vec![counter("ann", 0, None), counter("dee", 4, None)])
                .on_conflict(&[&Counter::NAME])
                .set_expr(Counter::HITS, Counter::HITS * 2)
        };
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.execute_query(bump()).await?;
                assert_eq!(tx.get(Counter::NAME.eq("ann")).await?.hits, 20);
                // No conflict columns for an update; keys half given, half not.
                let q = Counter::insert_many(vec![counter("ann", 0, None)])
                    .on_conflict(&[])
                    .set(Counter::HITS, 0);
                let err = tx.execute_query(q).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
                let mut given = counter("eve", 0, None);
                given.id = 1000;
                let q =
                    Counter::insert_many(vec![given, counter("fay", 0, None)]).on_conflict_ignore();
                let err = tx.execute_query(q).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
                assert_eq!(tx.count(Counter::select(), false).await?, 2, "still usable");
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        assert_eq!(stored(&db, "ann").await.hits, 10, "{what}: rolled back");
        db.sync().atomic(|tx| tx.execute_query(bump())).unwrap();
        assert_eq!(stored(&db, "ann").await.hits, 20, "{what}");
        assert_eq!(stored(&db, "dee").await.hits, 4, "{what}");
    }
}

/// Inside a transaction whose snapshot was taken before another connection
/// stored a conflicting row, an updating upsert that leaves that row as it
/// is still returns it: MySQL's read-back reads the latest committed rows,
/// not the snapshot (it locks them; the upsert holds them already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_in_a_transaction_returns_a_row_committed_after_its_snapshot() {
    for db in isolated_all("upserts_snapshot") {
        if db.backend() == BackendKind::Sqlite {
            // Its transaction holds the write lock: no other writer.
            continue;
        }
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let upsert = || {
            Counter::insert_many(vec![counter("kim", 5, None), counter("lou", 1, None)])
                .on_conflict(&[&Counter::NAME])
                .preserve(&[&Counter::HITS])
        };
        let done = db
            .aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                assert_eq!(tx.count(Counter::select(), false).await?, 1);
                // On a task of its own: outside this task's transaction.
                let other = db.clone();
                tokio::spawn(async move { other.aio().create(counter("kim", 5, None)).await })
                    .await
                    .unwrap()?;
                tx.execute_query(upsert()).await
            })
            .await
            .unwrap();
        assert_eq!(names(&done.rows), ["kim", "lou"], "{what} async");
        db.aio()
            .execute_query(Counter::delete_query())
            .await
            .unwrap();
        let done = db
            .sync()
            .atomic(|tx| {
                assert_eq!(tx.count(Counter::select(), false)?, 0);
                // On a thread of its own: outside this thread's transaction.
                std::thread::scope(|s| {
                    s.spawn(|| db.sync().create(counter("kim", 5, None)))
                        .join()
                        .unwrap()
                })?;
                tx.execute_query(upsert())
            })
            .unwrap();
        assert_eq!(names(&done.rows), ["kim", "lou"], "{what} blocking");
    }
}
