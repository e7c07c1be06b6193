//! PostgreSQL's COPY on both halves, in and out of transactions: a million
//! rows in from an iterator and from a stream, typed rows in the binary
//! format, output to a closure; bad data stores nothing and leaves the
//! connection usable; a caller's error comes back unchanged; a COPY
//! cancelled part-way stores nothing; several at once; other backends
//! refuse with a `Usage` error before any I/O.

mod common;

use std::time::Duration;

use common::{finishes_within, pg_url, table};
use dualdb::{Database, Error, ErrorKind, Value};

fn setup(db: &Database, name: &str) -> String {
    let t = table(name);
    db.sync()
        .execute(
            &format!(
                "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION, ok BOOLEAN, data BYTEA)"
            ),
            &[],
        )
        .unwrap();
    t
}

async fn count(db: &Database, t: &str) -> (i64, i64) {
    let row = db
        .aio()
        .query_one(
            &format!("SELECT count(*), coalesce(sum(id), 0)::bigint FROM {t}"),
            &[],
        )
        .await
        .unwrap();
    (row.get(0).unwrap(), row.get(1).unwrap())
}

const MILLION: i64 = 1_000_000;
const SUM: i64 = MILLION * (MILLION - 1) / 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_in_from_an_iterator_and_from_a_stream() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    // Blocking: CSV lines from an iterator.
    let t = setup(&db, "copy_million_sync");
    let lines = (0..MILLION).map(|i| format!("{i},name {i}\n"));
    let sql = format!("COPY {t} (id, name) FROM STDIN (FORMAT csv)");
    let n = tokio::task::block_in_place(|| db.sync().copy_in(&sql, lines)).unwrap();
    assert_eq!(n, MILLION as u64);
    assert_eq!(count(&db, &t).await, (MILLION, SUM));
    // Async: text-format lines from a stream, several to a chunk.
    let t = setup(&db, "copy_million_async");
    let chunks = futures::stream::iter((0..MILLION / 100).map(|k| {
        let mut chunk = String::new();
        for i in k * 100..(k + 1) * 100 {
            chunk.push_str(&format!("{i}\tname {i}\n"));
        }
        chunk
    }));
    let n = db
        .aio()
        .copy_in(&format!("COPY {t} (id, name) FROM STDIN"), chunks)
        .await
        .unwrap();
    assert_eq!(n, MILLION as u64);
    assert_eq!(count(&db, &t).await, (MILLION, SUM));
    let name: String = (db
        .aio()
        .query_one(&format!("SELECT name FROM {t} WHERE id = 777777"), &[])
        .await)
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(name, "name 777777");
}

type Stored = (i64, String, Option<f64>, Option<bool>, Option<Vec<u8>>);

async fn stored(db: &Database, t: &str) -> Vec<Stored> {
    let rows = db
        .aio()
        .query(
            &format!("SELECT id, name, score, ok, data FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.get(0).unwrap(),
                r.get(1).unwrap(),
                r.get(2).unwrap(),
                r.get(3).unwrap(),
                r.get(4).unwrap(),
            )
        })
        .collect()
}

fn typed(range: std::ops::Range<i64>) -> Vec<Stored> {
    range
        .map(|i| {
            (
                i,
                format!("n'{i}\t\"x\"\n"),
                (i % 3 != 0).then(|| i as f64 / 2.0),
                (i % 2 == 0).then_some(i % 4 == 0),
                (i % 5 != 0).then(|| vec![0, 1, 2, 255, i as u8]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_rows_in_and_out_of_transactions_on_both_halves() {
    let Some(url) = pg_url() else { return };
    // after_connect: COPY goes through the session-setup wrapper too.
    let db = Database::builder(&url)
        .after_connect("SET application_name = 'copy-test'")
        .build()
        .unwrap();
    let t = setup(&db, "copy_typed");
    let cols = ["id", "name", "score", "ok", "data"];
    let n =
        tokio::task::block_in_place(|| db.sync().copy_in_rows(&t, &cols, typed(0..100))).unwrap();
    assert_eq!(n, 100);
    let rows = futures::stream::iter(typed(100..200));
    assert_eq!(db.aio().copy_in_rows(&t, &cols, rows).await.unwrap(), 100);
    // Vec<Value> rows, into a subset of the columns, schema-qualified.
    let vecs = (200..210).map(|i| vec![Value::I64(i as i64), Value::Text(format!("v{i}"))]);
    let n = tokio::task::block_in_place(|| {
        db.sync()
            .copy_in_rows(&format!("public.{t}"), &["id", "name"], vecs)
    })
    .unwrap();
    assert_eq!(n, 10);
    let mut want = typed(0..200);
    want.extend((200..210).map(|i| (i, format!("v{i}"), None, None, None)));
    assert_eq!(stored(&db, &t).await, want);

    // In transactions: kept at commit, gone at rollback, on both halves.
    db.aio()
        .transaction(async |tx| {
            tx.copy_in_rows(&t, &cols, futures::stream::iter(typed(300..310)))
                .await?;
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {t} WHERE id >= 300"), &[])
                .await?
                .get(0)?;
            assert_eq!(n, 10, "seen inside the transaction");
            Err::<(), _>(Error::other(std::io::Error::other("roll back")))
        })
        .await
        .unwrap_err();
    tokio::task::block_in_place(|| {
        db.sync().transaction(|tx| {
            tx.copy_in_rows(&t, &cols, typed(400..410))?;
            tx.atomic(|sp| sp.copy_in(&format!("COPY {t} (id, name) FROM STDIN"), ["500\tsp\n"]))
        })
    })
    .unwrap();
    let (n, _) = count(&db, &t).await;
    assert_eq!(n, 210 + 10 + 1);
    assert!(
        stored(&db, &t)
            .await
            .iter()
            .all(|r| !(300..310).contains(&r.0))
    );

    // Out: CSV through a closure, on both halves, in a transaction too.
    let sql =
        format!("COPY (SELECT id, name FROM {t} WHERE id < 3 ORDER BY id) TO STDOUT (FORMAT csv)");
    let mut out = Vec::new();
    let bytes = tokio::task::block_in_place(|| {
        db.sync().copy_out(&sql, |chunk| {
            out.extend_from_slice(chunk);
            Ok::<_, Error>(())
        })
    })
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(bytes as usize, text.len());
    assert_eq!(
        text,
        "0,\"n'0\t\"\"x\"\"\n\"\n1,\"n'1\t\"\"x\"\"\n\"\n2,\"n'2\t\"\"x\"\"\n\"\n"
    );
    let mut lines = 0;
    db.aio()
        .transaction(async |tx| {
            tx.copy_out(&format!("COPY {t} TO STDOUT"), |chunk| {
                lines += chunk.iter().filter(|&&b| b == b'\n').count();
                Ok::<_, Error>(())
            })
            .await
        })
        .await
        .unwrap();
    assert_eq!(lines as i64, count(&db, &t).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_stores_nothing_and_the_connection_goes_on() {
    let Some(url) = pg_url() else { return };
    let db = Database::builder(&url)
        .sync_pool_size(1)
        .async_pool_size(1)
        .build()
        .unwrap();
    let t = setup(&db, "copy_bad");
    let cols = ["id", "name"];
    // A malformed line far into the data: the server refuses the COPY.
    let lines = (0..5000).map(|i| {
        if i == 4000 {
            "oops\n".to_owned()
        } else {
            format!("{i}\tn\n")
        }
    });
    let sql = format!("COPY {t} (id, name) FROM STDIN");
    let err = tokio::task::block_in_place(|| db.sync().copy_in(&sql, lines)).unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Usage, "{err:?}");
    let lines = futures::stream::iter(
        (0..5000).map(|i| format!("{i}\t{}\n", if i == 10 { "\\N" } else { "n" })),
    );
    let err = db.aio().copy_in(&sql, lines).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IntegrityViolation, "{err:?}");
    // A row of the wrong width, and a value its column cannot take.
    let err = tokio::task::block_in_place(|| {
        db.sync().copy_in_rows(
            &t,
            &cols,
            (0..100).map(|i| {
                if i == 50 {
                    vec![Value::I64(1)]
                } else {
                    vec![Value::I64(i as i64), Value::Text("n".into())]
                }
            }),
        )
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage, "{err:?}");
    let rows = futures::stream::iter((0..100).map(|i| {
        if i == 70 {
            vec![Value::Text("x".into()), Value::Text("n".into())]
        } else {
            vec![Value::I64(i as i64), Value::Text("n".into())]
        }
    }));
    db.aio().copy_in_rows(&t, &cols, rows).await.unwrap_err();
    // A table that is not there.
    let err = db
        .aio()
        .copy_in_rows(
            "no_such_table_here",
            &cols,
            futures::stream::iter([(1_i64, "a")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Query, "{err:?}");
    // Nothing stored, and the one connection of each pool still works.
    assert_eq!(count(&db, &t).await, (0, 0));
    assert_eq!(
        tokio::task::block_in_place(|| db.sync().copy_in(&sql, ["1\tok\n"])).unwrap(),
        1
    );
    assert_eq!(
        db.aio()
            .copy_in_rows(&t, &cols, futures::stream::iter([(2_i64, "ok")]))
            .await
            .unwrap(),
        1
    );

    // The caller's error from copy_out: handed back unchanged.
    #[derive(Debug, PartialEq)]
    struct Full;
    #[derive(Debug)]
    enum AppError {
        #[allow(dead_code)]
        Db(Error),
        Full(Full),
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Db(e)
        }
    }
    let big = "COPY (SELECT g, 'x' FROM generate_series(1, 100000) g) TO STDOUT";
    let mut seen = 0;
    let err = db
        .aio()
        .copy_out(big, |chunk| {
            seen += chunk.len();
            if seen > 1000 {
                Err(AppError::Full(Full))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Full(Full)), "{err:?}");
    let err = tokio::task::block_in_place(|| {
        db.sync()
            .copy_out(big, |_| Err::<(), _>(AppError::Full(Full)))
    })
    .unwrap_err();
    assert!(matches!(err, AppError::Full(Full)), "{err:?}");
    // A COPY OUT of a bad statement: the server's error.
    let err = db
        .aio()
        .copy_out("COPY no_such_table_here TO STDOUT", |_| Ok::<_, Error>(()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Query, "{err:?}");
    assert_eq!(count(&db, &t).await, (2, 3));
    let n: i64 = tokio::task::block_in_place(|| db.sync().query_one("SELECT 1::bigint", &[]))
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_cancelled_part_way_stores_nothing() {
    let Some(url) = pg_url() else { return };
    let db = Database::builder(&url).async_pool_size(1).build().unwrap();
    let t = setup(&db, "copy_cancel");
    // A stream that sends some rows, then waits forever.
    let rows = futures::StreamExt::chain(
        futures::stream::iter((0..1000_i64).map(|i| (i, "n"))),
        futures::stream::pending(),
    );
    let copying = db.aio().copy_in_rows(&t, &["id", "name"], rows);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), copying)
            .await
            .is_err()
    );
    assert_eq!(count(&db, &t).await, (0, 0));
    let n = db
        .aio()
        .copy_in_rows(
            &t,
            &["id", "name"],
            futures::stream::iter([(1_i64, "after")]),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_copies_at_once() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let t = setup(&db, "copy_many");
    let mut tasks = Vec::new();
    for k in 0..6_i64 {
        let (db, t) = (db.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let rows = futures::stream::iter((k * 10_000..(k + 1) * 10_000).map(|i| (i, "n")));
            db.aio()
                .copy_in_rows(&t, &["id", "name"], rows)
                .await
                .unwrap()
        }));
    }
    let (db2, t2) = (db.clone(), t.clone());
    let blocking = tokio::task::spawn_blocking(move || {
        db2.sync()
            .copy_in_rows(&t2, &["id", "name"], (60_000..70_000_i64).map(|i| (i, "n")))
            .unwrap()
    });
    let mut total = blocking.await.unwrap();
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 70_000);
    assert_eq!(count(&db, &t).await, (70_000, 70_000 * 69_999 / 2));
}

#[tokio::test]
async fn other_backends_refuse_before_any_io() {
    for url in common::non_postgres_urls() {
        let db = Database::open(&url).unwrap();
        let errors = [
            db.sync().copy_in("COPY t FROM STDIN", ["1\n"]).unwrap_err(),
            db.aio()
                .copy_in("COPY t FROM STDIN", futures::stream::iter(["1\n"]))
                .await
                .unwrap_err(),
            db.sync().copy_in_rows("t", &["a"], [(1_i64,)]).unwrap_err(),
            db.aio()
                .copy_in_rows("t", &["a"], futures::stream::iter([(1_i64,)]))
                .await
                .unwrap_err(),
            db.sync()
                .copy_out("COPY t TO STDOUT", |_| Ok::<_, Error>(()))
                .unwrap_err(),
            db.aio()
                .copy_out("COPY t TO STDOUT", |_| Ok::<_, Error>(()))
                .await
                .unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), ErrorKind::Usage, "{url}: {err:?}");
        }
    }
    // Names COPY cannot take, and no columns: Usage, before any I/O.
    let db = Database::open("postgres://u:p@127.0.0.1:1/db").unwrap();
    for (table, cols) in [
        ("", &["a"][..]),
        ("t", &[][..]),
        ("t", &[""][..]),
        ("a..b", &["a"][..]),
    ] {
        let err = db.sync().copy_in_rows(table, cols, [(1_i64,)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{table:?} {cols:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_executor_traits() {
    use dualdb::{AsyncExecutor, SyncExecutor};
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let t = setup(&db, "copy_traits");
    async fn load(db: &impl AsyncExecutor, t: &str, from: i64) -> dualdb::Result<u64> {
        let rows = futures::stream::iter((from..from + 10).map(|i| (i, "a")));
        db.copy_in_rows(t, &["id", "name"], rows).await
    }
    fn load_blocking(db: &impl SyncExecutor, t: &str, from: i64) -> dualdb::Result<u64> {
        let lines = (from..from + 10).map(|i| format!("{i}\tb\n"));
        db.copy_in(&format!("COPY {t} (id, name) FROM STDIN"), lines)
    }
    assert_eq!(load(db.aio(), &t, 0).await.unwrap(), 10);
    let n = db
        .aio()
        .transaction(async |tx| load(tx, &t, 10).await)
        .await
        .unwrap();
    assert_eq!(n, 10);
    tokio::task::block_in_place(|| {
        assert_eq!(load_blocking(db.sync(), &t, 20).unwrap(), 10);
        assert_eq!(
            db.sync()
                .transaction(|tx| load_blocking(tx, &t, 30))
                .unwrap(),
            10
        );
    });
    assert_eq!(count(&db, &t).await, (40, 40 * 39 / 2));
}

/// COPY's rows come from the caller's iterator while the transaction's
/// connection is in the COPY: a call of the same transaction from inside
/// that iterator is a `Usage` error at once (it waited forever for the
/// lock its own statement held), and the COPY and the transaction go on.
#[test]
fn a_call_of_its_own_transaction_from_copys_rows_is_refused() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let t = setup(&db, "copy_reenter");
    let (db2, t2) = (db.clone(), t.clone());
    let out = finishes_within(Duration::from_secs(60), move || {
        let (db, t) = (db2, t2);
        db.sync().atomic(|tx| {
            let refused = std::sync::Mutex::new(Vec::new());
            let lines = (0..10).map(|i| {
                if i == 5 {
                    let count = format!("SELECT count(*) FROM {t}");
                    let e = tx.query_one(&count, &[]).err();
                    refused.lock().unwrap().extend(e);
                }
                format!("{i},name {i}\n")
            });
            let sql = format!("COPY {t} (id, name) FROM STDIN (FORMAT csv)");
            let n = tx.copy_in(&sql, lines)?;
            let row = tx.query_one(&format!("SELECT count(*) FROM {t}"), &[])?;
            let seen: i64 = row.get(0)?;
            Ok::<_, Error>((n, seen, refused.into_inner().unwrap()))
        })
    });
    let (n, seen, refused) = out.unwrap();
    assert_eq!((n, seen), (10, 10));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].kind(), ErrorKind::Usage, "{}", refused[0]);
    assert!(refused[0].message().contains("busy"), "{}", refused[0]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(count(&db, &t)), (10, 45));
}
