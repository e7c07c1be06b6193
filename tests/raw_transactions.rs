//! Raw statements that begin or end a transaction (`BEGIN`, `COMMIT`,
//! `SAVEPOINT`, MySQL's `SET autocommit = 0` and `XA START`, …) are refused by `execute`
//! (and `query`)
//! with a `Usage` error before any I/O, on both halves of every backend, on
//! the pooled handle, inside a transaction and in a session: run, `BEGIN` on
//! a pooled connection left it inside a transaction that later writes on it
//! joined and nothing committed. After a refusal the writes that follow are
//! committed (another database handle reads them), and a transaction goes
//! on to commit.

mod common;

use common::models::{User, user, usernames};
use common::{HALVES, shared_url, urls};
use dualdb::{Database, ErrorKind};

const REFUSED: [&str; 10] = [
    "BEGIN",
    " /* why */ start transaction",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT x",
    "RELEASE SAVEPOINT x",
    "END",
    "SET autocommit = 0",
    "# MySQL's comment\nBEGIN",
    "XA START 'x'",
];

/// A database of its own on `url`'s backend with one connection a half (a
/// transaction left open on it would hold every write that follows), and
/// another handle on it that reads what was committed.
fn one_connection_a_half(url: &str, name: &str) -> (Database, Database) {
    let url = shared_url(url, name);
    let db = Database::builder(&url)
        .sync_pool_size(1)
        .async_pool_size(1)
        .build()
        .unwrap();
    (db, Database::open(&url).unwrap())
}

fn refused(what: &str, out: dualdb::Result<u64>) {
    let err = out.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
    assert!(err.to_string().contains("run raw"), "{what}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_statements_are_refused_and_nothing_is_left_open() {
    for url in urls() {
        let (db, other) = one_connection_a_half(&url, "raw_tx");
        db.sync().create_table::<User>().unwrap();
        let kind = db.backend();
        let mut expected = Vec::new();
        for half in HALVES {
            for sql in REFUSED {
                let what = format!("{kind:?} {half:?} pooled `{sql}`");
                refused(&what, half.execute(&db, sql, &[]).await);
                let queried = half
                    .query(&db, sql, &[])
                    .await
                    .map(|rows| rows.len() as u64);
                refused(&format!("{what} as a query"), queried);
            }
            let name = format!("pooled-{half:?}");
            call!(half, db, create(user(&name, 1))).unwrap();
            expected.push(name);
        }
        expected.sort();
        assert_eq!(usernames(&other), expected, "{kind:?}");

        // Inside a transaction: refused, and the transaction commits.
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                for sql in REFUSED {
                    refused(
                        &format!("{kind:?} async tx `{sql}`"),
                        tx.execute(sql, &[]).await,
                    );
                }
                tx.create(user("tx-async", 1)).await?;
                Ok(())
            })
            .await
            .unwrap();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                for sql in REFUSED {
                    refused(
                        &format!("{kind:?} blocking tx `{sql}`"),
                        tx.execute(sql, &[]),
                    );
                }
                tx.create(user("tx-sync", 1))?;
                Ok(())
            })
            .unwrap();
        // In a pinned session, too.
        db.aio()
            .session(async |s| -> dualdb::Result<()> {
                for sql in REFUSED {
                    refused(
                        &format!("{kind:?} session `{sql}`"),
                        s.execute(sql, &[]).await,
                    );
                }
                s.create(user("session", 1)).await?;
                Ok(())
            })
            .await
            .unwrap();
        expected.extend(["session", "tx-async", "tx-sync"].map(String::from));
        expected.sort();
        assert_eq!(usernames(&other), expected, "{kind:?}");
    }
}

/// The row streams and iterators of raw SQL (`fetch_rows`, `fetch_as`),
/// `fold_rows`, `raw` and `query_as` refuse the same statements, on both halves of
/// every backend, and the pooled connection is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_folds_and_raw_models_refuse_them_too() {
    use futures::StreamExt as _;
    for url in urls() {
        let (db, other) = one_connection_a_half(&url, "raw_tx_streams");
        db.sync().create_table::<User>().unwrap();
        let kind = db.backend();
        for sql in ["BEGIN", "START TRANSACTION", "SET autocommit = 0"] {
            let what = |how: &str| format!("{kind:?} {how} `{sql}`");
            let first = db.sync().fetch_rows(sql, &[]).next().unwrap();
            refused(&what("blocking fetch_rows"), first.map(|_| 0));
            let first = db.aio().fetch_rows(sql, &[]).next().await.unwrap();
            refused(&what("async fetch_rows"), first.map(|_| 0));
            let first = db.sync().fetch_as::<(i64,)>(sql, &[]).next().unwrap();
            refused(&what("blocking fetch_as"), first.map(|_| 0));
            let first = db.aio().fetch_as::<(i64,)>(sql, &[]).next().await.unwrap();
            refused(&what("async fetch_as"), first.map(|_| 0));
            let folded = db
                .sync()
                .fold_rows(sql, &[], 0u64, |n, _| Ok::<_, dualdb::Error>(n + 1));
            refused(&what("blocking fold_rows"), folded);
            let folded = db
                .aio()
                .fold_rows(sql, &[], 0u64, |n, _| Ok::<_, dualdb::Error>(n + 1))
                .await;
            refused(&what("async fold_rows"), folded);
            let models = db.sync().raw::<User>(sql, &[]).map(|v| v.len() as u64);
            refused(&what("blocking raw"), models);
            let models = db.aio().raw::<User>(sql, &[]).await.map(|v| v.len() as u64);
            refused(&what("async raw"), models);
            let read = db
                .sync()
                .query_as::<(i64,)>(sql, &[])
                .map(|v| v.len() as u64);
            refused(&what("blocking query_as"), read);
            let read = db
                .aio()
                .query_as::<(i64,)>(sql, &[])
                .await
                .map(|v| v.len() as u64);
            refused(&what("async query_as"), read);
        }
        db.sync().create(user("after-sync", 1)).unwrap();
        db.aio().create(user("after-async", 1)).await.unwrap();
        assert_eq!(usernames(&other), ["after-async", "after-sync"], "{kind:?}");
    }
}
