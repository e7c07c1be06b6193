//! Sub-blocks of one transaction run at once in one task (`join!`,
//! `select!`, `FuturesUnordered`): each gets a savepoint of its own, one
//! after another, so a block that fails rolls back only its own rows and a
//! block that succeeds keeps all of its own, on every backend.

mod common;

use std::collections::BTreeSet;

use common::isolated_all;
use dualdb::{Database, Error, ErrorKind};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

fn oops() -> Error {
    Error::new(ErrorKind::Usage, "rolled back on purpose")
}

async fn setup(db: &Database) {
    db.aio()
        .execute("CREATE TABLE t (x INTEGER NOT NULL)", &[])
        .await
        .unwrap();
}

async fn stored(db: &Database) -> BTreeSet<i64> {
    db.aio()
        .query("SELECT x FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

fn insert(x: i64) -> String {
    format!("INSERT INTO t (x) VALUES ({x})")
}

/// A sub-block through the plain handle: two inserts with a yield between
/// them (so that sibling blocks interleave if they can), `Err` when `i` is
/// odd. Its rows are `10 * i + 1` and `10 * i + 2`.
async fn block(db: &Database, i: i64) -> dualdb::Result<i64> {
    db.aio()
        .atomic(async |sp| {
            sp.execute(&insert(10 * i + 1), &[]).await?;
            tokio::task::yield_now().await;
            db.aio().execute(&insert(10 * i + 2), &[]).await?;
            if i % 2 == 1 { Err(oops()) } else { Ok(i) }
        })
        .await
}

/// The rows blocks that returned `Ok(i)` stored, and the outer block's.
fn expected(ok: impl IntoIterator<Item = i64>) -> BTreeSet<i64> {
    let mut rows: BTreeSet<i64> = ok
        .into_iter()
        .flat_map(|i| [10 * i + 1, 10 * i + 2])
        .collect();
    rows.insert(1000);
    rows
}

/// Checks what each block returned against what it should, and gives the
/// blocks that succeeded.
fn check(results: Vec<(i64, dualdb::Result<i64>)>) -> Vec<i64> {
    results
        .into_iter()
        .filter_map(|(i, r)| match r {
            Ok(v) => {
                assert_eq!(v, i);
                assert_eq!(i % 2, 0, "block {i} should have failed");
                Some(i)
            }
            Err(e) => {
                assert_eq!(i % 2, 1, "block {i} should have succeeded: {e}");
                assert_eq!(e.message(), "rolled back on purpose", "block {i}: {e}");
                None
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum How {
    Join,
    Unordered,
    Select,
}

/// Runs `n` sub-blocks at once inside one transaction, beside a statement
/// of the outer block, and checks the rows the commit stored.
async fn run(db: &Database, n: i64, how: How) {
    db.aio().execute("DELETE FROM t", &[]).await.unwrap();
    let ok = db
        .aio()
        .atomic(async |tx| {
            let sql = insert(1000);
            let outer = tx.execute(&sql, &[]);
            let ok = match how {
                How::Join if n == 2 => {
                    let (o, a, b) = tokio::join!(outer, block(db, 0), block(db, 1));
                    o?;
                    check(vec![(0, a), (1, b)])
                }
                How::Join => {
                    let all = futures::future::join_all(
                        (0..n).map(|i| async move { (i, block(db, i).await) }),
                    );
                    let (o, results) = tokio::join!(outer, all);
                    o?;
                    check(results)
                }
                How::Unordered => {
                    let mut set: FuturesUnordered<_> = (0..n)
                        .map(|i| async move { (i, block(db, i).await) })
                        .collect();
                    outer.await?;
                    let mut results = Vec::new();
                    while let Some(r) = set.next().await {
                        results.push(r);
                    }
                    check(results)
                }
                How::Select => {
                    // The first block to finish wins; the others are dropped
                    // wherever they are.
                    let mut rest: FuturesUnordered<_> = (1..n)
                        .map(|i| async move { (i, block(db, i).await) })
                        .collect();
                    let first = tokio::select! {
                        r = block(db, 0) => (0, r),
                        Some(r) = rest.next() => r,
                    };
                    drop(rest);
                    outer.await?;
                    check(vec![first])
                }
            };
            Ok::<_, dualdb::Error>(ok)
        })
        .await
        .unwrap_or_else(|e| panic!("{:?} {how:?} of {n}: {e}", db.backend()));
    assert_eq!(
        stored(db).await,
        expected(ok.iter().copied()),
        "{:?}: {how:?} of {n} blocks",
        db.backend()
    );
    match how {
        How::Select => assert!(ok.len() <= 1),
        _ => assert_eq!(ok.len() as i64, n / 2, "every even block succeeded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_blocks_run_at_once_in_one_task_each_keep_their_own_rows() {
    for db in isolated_all("concurrent_blocks") {
        setup(&db).await;
        for how in [How::Join, How::Unordered, How::Select] {
            for n in [2, 16] {
                run(&db, n, how).await;
            }
        }
        assert_eq!(db.aio().status().in_use(), 0, "no connection kept");
    }
}

/// On a current-thread runtime too (every future on one thread).
#[tokio::test(flavor = "current_thread")]
async fn sub_blocks_at_once_on_a_current_thread_runtime() {
    for db in isolated_all("concurrent_blocks_ct") {
        setup(&db).await;
        run(&db, 16, How::Join).await;
        run(&db, 2, How::Select).await;
    }
}

/// A sub-block dropped while its savepoint is open (a `select!` whose other
/// branch is a timer) rolls back alone; the next block gets the same
/// savepoint name and the transaction commits the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_block_dropped_mid_way_rolls_back_alone() {
    for db in isolated_all("dropped_block") {
        setup(&db).await;
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                tx.execute(&insert(1000), &[]).await?;
                tokio::select! {
                    _ = db.aio().atomic(async |sp| -> dualdb::Result<_> {
                        sp.execute(&insert(1), &[]).await?;
                        std::future::pending::<()>().await;
                        Ok(())
                    }) => unreachable!(),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                }
                let (a, b) = tokio::join!(block(&db, 2), block(&db, 3));
                assert_eq!(check(vec![(2, a), (3, b)]), vec![2]);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(stored(&db).await, expected([2]), "{:?}", db.backend());
    }
}
