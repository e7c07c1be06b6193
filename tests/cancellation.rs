//! Cancellation: transaction and query futures dropped at random points,
//! 1,000 times per backend. Afterwards no pooled connection is left in a
//! transaction, every connection the pool hands out works, no committed row
//! is lost, no rolled-back row is present, and every transaction is all or
//! nothing. Alone in its binary: it inspects server-wide transaction lists.

mod common;

use std::time::Duration;

use common::{DropAfterPolls, Lcg, isolated, urls};
use dualdb::{BackendKind, Database};

const ROUNDS: i64 = 1_000;
const SECOND: i64 = 1_000_000;

#[derive(Debug)]
enum Outcome {
    Committed,
    RolledBack,
    /// Dropped mid-way: the commit may or may not have reached the server.
    Unknown,
}

async fn one_round(db: &Database, kind: u64, a: i64) -> Option<dualdb::Result<()>> {
    let sql = |n: i64| format!("INSERT INTO c (id) VALUES ({n})");
    match kind {
        // closure form, committed
        0 => Some(
            db.aio()
                .atomic(async |tx| {
                    tx.execute(&sql(a), &[]).await?;
                    tokio::task::yield_now().await;
                    tx.execute(&sql(a + SECOND), &[]).await?;
                    Ok(())
                })
                .await,
        ),
        // guard form, committed
        1 => {
            let tx = db.aio().begin().await.ok()?;
            tx.execute(&sql(a), &[]).await.ok()?;
            tx.execute(&sql(a + SECOND), &[]).await.ok()?;
            Some(tx.commit().await)
        }
        // closure form, rolled back by an error
        2 => {
            let r = db
                .aio()
                .atomic(async |tx| {
                    tx.execute(&sql(a), &[]).await?;
                    tx.execute(&sql(a + SECOND), &[]).await?;
                    Err::<(), _>(dualdb::Error::new(dualdb::ErrorKind::Usage, "no"))
                })
                .await;
            Some(r.and(Err(dualdb::Error::new(
                dualdb::ErrorKind::Usage,
                "rolled back",
            ))))
        }
        // guard form with a savepoint, committed
        _ => {
            let mut tx = db.aio().begin().await.ok()?;
            tx.execute(&sql(a), &[]).await.ok()?;
            let sp = tx.begin().await.ok()?;
            sp.execute(&sql(a + SECOND), &[]).await.ok()?;
            sp.commit().await.ok()?;
            Some(tx.commit().await)
        }
    }
}

async fn open_transactions(db: &Database) -> i64 {
    let sql = match db.backend() {
        BackendKind::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        }
        BackendKind::Mysql => "SELECT COUNT(*) FROM information_schema.innodb_trx",
        _ => return 0,
    };
    db.aio().query_one(sql, &[]).await.unwrap().get(0).unwrap()
}

async fn stress(url: &str, seed: u64) {
    let base = isolated(url, "cancel");
    // A short busy timeout on SQLite: a leaked write transaction would make
    // the final writes fail instead of wait.
    let db = if base.backend() == BackendKind::Sqlite {
        Database::builder("sqlite::memory:")
            .acquire_timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    } else {
        base
    };
    db.aio()
        .execute("CREATE TABLE c (id BIGINT PRIMARY KEY)", &[])
        .await
        .unwrap();

    let mut rng = Lcg(seed);
    let mut outcomes = Vec::new();
    for a in 0..ROUNDS {
        let kind = rng.next() % 4;
        // Half the rounds are cut early, half late (the drivers poll a
        // different number of times per statement).
        let span = if rng.next().is_multiple_of(2) { 8 } else { 80 };
        let polls = 1 + (rng.next() % span) as u32;
        let round = DropAfterPolls {
            fut: Box::pin(one_round(&db, kind, a)),
            polls,
        };
        let outcome = match round.await {
            Some(Some(Ok(()))) => Outcome::Committed,
            Some(Some(Err(_))) if kind == 2 => Outcome::RolledBack,
            Some(other) => panic!("round {a} (kind {kind}) failed: {other:?}"),
            None => Outcome::Unknown,
        };
        outcomes.push((a, outcome));
    }

    // Rollbacks of dropped transactions run on spawned tasks: let them finish.
    for _ in 0..500 {
        if db.aio().status().in_use() == 0 && open_transactions(&db).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        db.aio().status().in_use(),
        0,
        "{:?}: connections still lent out",
        db.backend()
    );
    assert_eq!(
        open_transactions(&db).await,
        0,
        "{:?}: a pooled connection is in a transaction",
        db.backend()
    );

    let present = common::ids(&db, "c").await;
    let (mut committed, mut rolled_back, mut unknown) = (0, 0, 0);
    for (a, outcome) in &outcomes {
        let (x, y) = (present.contains(a), present.contains(&(a + SECOND)));
        match outcome {
            Outcome::Committed => {
                committed += 1;
                assert!(x && y, "{:?}: committed round {a} lost", db.backend());
            }
            Outcome::RolledBack => {
                rolled_back += 1;
                assert!(
                    !x && !y,
                    "{:?}: rolled-back round {a} present",
                    db.backend()
                );
            }
            Outcome::Unknown => {
                unknown += 1;
                assert_eq!(x, y, "{:?}: round {a} half committed", db.backend());
            }
        }
    }
    eprintln!(
        "{:?}: {committed} committed, {rolled_back} rolled back, {unknown} dropped mid-way",
        db.backend()
    );
    assert!(unknown >= 100, "too few drops to mean anything: {unknown}");
    assert!(
        committed >= 50,
        "too few commits to mean anything: {committed}"
    );

    // Every connection the pool hands out is idle and works: take them all
    // at once, each in a transaction of its own.
    let size = db.aio().status().size.max(1);
    let mut txs = Vec::new();
    for i in 0..size.min(8) as i64 {
        let tx = db.aio().begin().await.unwrap();
        tx.execute(
            &format!("INSERT INTO c (id) VALUES ({})", 10 * SECOND + i),
            &[],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        txs.push(i);
    }
    // The blocking half too.
    let sync_db = db.clone();
    tokio::task::spawn_blocking(move || {
        sync_db
            .sync()
            .atomic(|tx| {
                tx.execute("INSERT INTO c (id) VALUES (99999999)", &[])
                    .map(drop)
            })
            .unwrap()
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_futures_leave_no_dirty_connection_and_lose_no_row() {
    for (i, url) in urls().iter().enumerate() {
        stress(url, 0x5eed + i as u64).await;
    }
}
