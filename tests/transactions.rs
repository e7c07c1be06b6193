//! Transactions on both halves of every backend: nesting, the closure and
//! guard forms, per-task and per-thread scoping, isolation, and typed errors
//! from BEGIN/COMMIT that leak no connection.

mod common;

use std::time::Duration;

use common::isolated_all;
use dualdb::{BackendKind, Database, Error, ErrorKind, SyncCheck};

fn setup(db: &Database, table: &str) {
    db.sync()
        .execute(&format!("DROP TABLE IF EXISTS {table}"), &[])
        .unwrap();
    db.sync()
        .execute(&format!("CREATE TABLE {table} (x INTEGER NOT NULL)"), &[])
        .unwrap();
}

fn values(db: &Database, table: &str) -> Vec<i64> {
    db.sync()
        .query(&format!("SELECT x FROM {table} ORDER BY x"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

fn insert(n: i64, table: &str) -> String {
    format!("INSERT INTO {table} (x) VALUES ({n})")
}

fn oops() -> Error {
    Error::new(ErrorKind::Usage, "rolled back on purpose")
}

#[test]
fn blocking_nesting_keeps_and_discards_the_right_changes() {
    for db in isolated_all("sync_nest") {
        let s = db.sync();
        setup(&db, "t");
        // A rolled-back savepoint keeps the outer changes.
        s.atomic(|tx| {
            tx.execute(&insert(1, "t"), &[])?;
            let inner = tx.atomic(|tx| {
                tx.execute(&insert(2, "t"), &[])?;
                Err::<(), _>(oops())
            });
            assert!(inner.is_err());
            tx.savepoint(|tx| tx.execute(&insert(3, "t"), &[]).map(drop))?;
            Ok::<_, dualdb::Error>(())
        })
        .unwrap();
        assert_eq!(values(&db, "t"), vec![1, 3], "{:?}", db.backend());

        // An outer rollback discards inner savepoints' changes.
        let r = s.atomic(|tx| {
            tx.execute(&insert(4, "t"), &[])?;
            tx.atomic(|tx| tx.execute(&insert(5, "t"), &[]).map(drop))?;
            Err::<(), _>(oops())
        });
        assert!(r.is_err());
        assert_eq!(values(&db, "t"), vec![1, 3]);

        // Guards: a dropped savepoint rolls back alone; commit keeps the rest.
        let mut tx = s.begin().unwrap();
        assert_eq!(tx.level(), 1);
        tx.execute(&insert(6, "t"), &[]).unwrap();
        {
            let sp = tx.begin().unwrap();
            assert_eq!(sp.level(), 2);
            sp.execute(&insert(7, "t"), &[]).unwrap();
        }
        let sp = tx.begin().unwrap();
        sp.execute(&insert(8, "t"), &[]).unwrap();
        sp.commit().unwrap();
        tx.commit().unwrap();
        assert_eq!(values(&db, "t"), vec![1, 3, 6, 8]);

        // A dropped outer guard rolls back everything.
        {
            let mut tx = s.begin().unwrap();
            tx.execute(&insert(9, "t"), &[]).unwrap();
            let sp = tx.begin().unwrap();
            sp.execute(&insert(10, "t"), &[]).unwrap();
            sp.commit().unwrap();
        }
        assert_eq!(values(&db, "t"), vec![1, 3, 6, 8]);
        assert_eq!(s.status().in_use(), 0, "no connection leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nesting_keeps_and_discards_the_right_changes() {
    for db in isolated_all("async_nest") {
        let a = db.aio();
        setup(&db, "t");
        a.atomic(async |tx| -> dualdb::Result<_> {
            tx.execute(&insert(1, "t"), &[]).await?;
            let inner = tx
                .atomic(async |tx| {
                    tx.execute(&insert(2, "t"), &[]).await?;
                    Err::<(), _>(oops())
                })
                .await;
            assert!(inner.is_err());
            tx.atomic(async |tx| tx.execute(&insert(3, "t"), &[]).await.map(drop))
                .await?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(values(&db, "t"), vec![1, 3], "{:?}", db.backend());

        let r = a
            .atomic(async |tx| {
                tx.execute(&insert(4, "t"), &[]).await?;
                tx.atomic(async |tx| tx.execute(&insert(5, "t"), &[]).await.map(drop))
                    .await?;
                Err::<(), _>(oops())
            })
            .await;
        assert!(r.is_err());
        assert_eq!(values(&db, "t"), vec![1, 3]);

        let mut tx = a.begin().await.unwrap();
        tx.execute(&insert(6, "t"), &[]).await.unwrap();
        {
            let sp = tx.begin().await.unwrap();
            sp.execute(&insert(7, "t"), &[]).await.unwrap();
            // dropped: rolled back before the next statement
        }
        let sp = tx.begin().await.unwrap();
        sp.execute(&insert(8, "t"), &[]).await.unwrap();
        sp.commit().await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(values(&db, "t"), vec![1, 3, 6, 8]);

        {
            let tx = a.begin().await.unwrap();
            tx.execute(&insert(9, "t"), &[]).await.unwrap();
        }
        // The dropped guard rolls back on a spawned task.
        let mut seen = values(&db, "t");
        for _ in 0..100 {
            if a.status().in_use() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            seen = values(&db, "t");
        }
        assert_eq!(seen, vec![1, 3, 6, 8]);
        assert_eq!(a.status().in_use(), 0, "no connection leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_scope_rolls_back() {
    for db in isolated_all("panic") {
        setup(&db, "t");
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            db2.aio()
                .atomic(async |tx| -> dualdb::Result<_> {
                    tx.execute(&insert(1, "t"), &[]).await?;
                    panic!("boom");
                    #[allow(unreachable_code)]
                    Ok(())
                })
                .await
        })
        .await;
        assert!(joined.unwrap_err().is_panic());

        let db3 = db.clone();
        let caught = std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                db3.sync().atomic(|tx| {
                    tx.execute(&insert(2, "t"), &[])?;
                    panic!("boom");
                    #[allow(unreachable_code)]
                    Ok::<_, dualdb::Error>(())
                })
            }))
        })
        .join()
        .unwrap();
        assert!(caught.is_err());

        for _ in 0..100 {
            if db.aio().status().in_use() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(values(&db, "t"), Vec::<i64>::new(), "{:?}", db.backend());
        db.aio().execute(&insert(3, "t"), &[]).await.unwrap();
        assert_eq!(values(&db, "t"), vec![3]);
    }
}

async fn count_async(db: &Database, table: &str) -> i64 {
    db.aio()
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_calls_in_the_same_task_join_spawned_tasks_do_not() {
    for db in isolated_all("scope") {
        setup(&db, "t");
        let outside = db.clone();
        let r = db
            .aio()
            .atomic(async |_tx| {
                // Through the plain handle, in this task: joins the transaction.
                db.aio().execute(&insert(1, "t"), &[]).await?;
                assert_eq!(count_async(&db, "t").await, 1, "sees its own write");
                // Model operations join too.
                assert_eq!(db.aio().query("SELECT x FROM t", &[]).await?.len(), 1);
                // A spawned task runs outside: it does not see the write.
                let seen = tokio::spawn(async move { count_async(&outside, "t").await })
                    .await
                    .unwrap();
                assert_eq!(seen, 0, "{:?}: the spawned task is outside", db.backend());
                // Nested plain-handle scopes become savepoints of this one.
                let inner = db
                    .aio()
                    .atomic(async |_| {
                        db.aio().execute(&insert(2, "t"), &[]).await?;
                        Err::<(), _>(oops())
                    })
                    .await;
                assert!(inner.is_err());
                // transaction() inside a scope joins it: no savepoint.
                db.aio()
                    .transaction(async |_| db.aio().execute(&insert(3, "t"), &[]).await.map(drop))
                    .await?;
                assert_eq!(count_async(&db, "t").await, 2);
                Err::<(), _>(oops())
            })
            .await;
        assert!(r.is_err());
        assert_eq!(count_async(&db, "t").await, 0, "all rolled back together");

        // savepoint() outside any transaction is a usage error.
        let err = db
            .aio()
            .savepoint(async |_| Ok::<(), dualdb::Error>(()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);

        // The blocking half: calls on the same thread join, other threads do not.
        let r = db.sync().atomic(|_tx| {
            db.sync().execute(&insert(5, "t"), &[])?;
            assert_eq!(db.sync().query("SELECT x FROM t", &[])?.len(), 1);
            let other = db.clone();
            let seen = std::thread::spawn(move || {
                other.sync().query("SELECT x FROM t", &[]).unwrap().len()
            })
            .join()
            .unwrap();
            assert_eq!(seen, 0);
            Err::<(), _>(oops())
        });
        assert!(r.is_err());
        assert_eq!(values(&db, "t"), Vec::<i64>::new());
        let err = db
            .sync()
            .savepoint(|_| Ok::<(), dualdb::Error>(()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_are_isolated() {
    for db in isolated_all("isolation") {
        setup(&db, "t");
        // Async: a task's uncommitted write is invisible to another task.
        let tx = db.aio().begin().await.unwrap();
        tx.execute(&insert(1, "t"), &[]).await.unwrap();
        let other = db.clone();
        let seen = tokio::spawn(async move { count_async(&other, "t").await })
            .await
            .unwrap();
        assert_eq!(seen, 0, "{:?}", db.backend());
        tx.commit().await.unwrap();
        let other = db.clone();
        let seen = tokio::spawn(async move { count_async(&other, "t").await })
            .await
            .unwrap();
        assert_eq!(seen, 1);

        // Blocking: the same across threads.
        let tx = db.sync().begin().unwrap();
        tx.execute(&insert(2, "t"), &[]).unwrap();
        let other = db.clone();
        let seen = std::thread::spawn(move || values(&other, "t"))
            .join()
            .unwrap();
        assert_eq!(seen, vec![1]);
        tx.commit().unwrap();
        assert_eq!(values(&db, "t"), vec![1, 2]);

        // Two writers in separate transactions (PostgreSQL, MariaDB: row
        // locks; SQLite: the second waits for the first's write lock).
        let (a, b) = (db.clone(), db.clone());
        let t1 = tokio::spawn(async move {
            a.aio()
                .atomic(async |tx| -> dualdb::Result<_> {
                    tx.execute(&insert(10, "t"), &[]).await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(())
                })
                .await
        });
        let t2 = tokio::spawn(async move {
            b.aio()
                .atomic(async |tx| {
                    tx.execute(&insert(20, "t"), &[]).await?;
                    Err::<(), _>(oops())
                })
                .await
        });
        t1.await.unwrap().unwrap();
        assert!(t2.await.unwrap().is_err());
        assert_eq!(values(&db, "t"), vec![1, 2, 10]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_errors_are_typed_and_leak_nothing() {
    for db in isolated_all("txerr") {
        // Refused by the policy before any I/O.
        db.set_allow_sync(SyncCheck::Error);
        assert_eq!(
            db.sync().begin().unwrap_err().kind(),
            ErrorKind::SyncNotAllowed
        );
        assert_eq!(
            db.sync()
                .atomic(|_| Ok::<_, dualdb::Error>(()))
                .unwrap_err()
                .kind(),
            ErrorKind::SyncNotAllowed
        );
        assert_eq!(db.sync().status().size, 0);
        db.set_allow_sync(SyncCheck::Off);

        // A failing COMMIT: a deferred constraint checked at commit time.
        let ddl = match db.backend() {
            BackendKind::Postgres => Some(
                "CREATE TABLE d (x INTEGER, CONSTRAINT d_x UNIQUE (x) DEFERRABLE INITIALLY DEFERRED)",
            ),
            BackendKind::Sqlite => Some(
                "CREATE TABLE d (x INTEGER REFERENCES nothing_here(id) DEFERRABLE INITIALLY DEFERRED)",
            ),
            _ => None, // MySQL has no deferred constraints
        };
        let Some(ddl) = ddl else { continue };
        if db.backend() == BackendKind::Sqlite {
            // Rows 3 and 4 exist, so only 1 and 2 violate the key at commit.
            db.sync()
                .execute("CREATE TABLE nothing_here (id INTEGER PRIMARY KEY)", &[])
                .unwrap();
            db.sync()
                .execute("INSERT INTO nothing_here (id) VALUES (3), (4)", &[])
                .unwrap();
        }
        db.sync().execute(ddl, &[]).unwrap();
        let expected = match db.backend() {
            BackendKind::Postgres => ErrorKind::UniqueViolation,
            _ => ErrorKind::IntegrityViolation,
        };
        let err = db
            .sync()
            .atomic(|tx| {
                tx.execute("INSERT INTO d (x) VALUES (1)", &[])?;
                tx.execute("INSERT INTO d (x) VALUES (1)", &[])?;
                Ok::<_, dualdb::Error>(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), expected, "{err:?}");
        let err = db
            .aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                tx.execute("INSERT INTO d (x) VALUES (2)", &[]).await?;
                tx.execute("INSERT INTO d (x) VALUES (2)", &[]).await?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), expected, "{err:?}");
        // Nothing committed, and the connections are clean and reused.
        assert_eq!(values(&db, "d"), Vec::<i64>::new());
        db.aio()
            .execute("INSERT INTO d (x) VALUES (3)", &[])
            .await
            .unwrap();
        db.sync()
            .execute("INSERT INTO d (x) VALUES (4)", &[])
            .unwrap();
        assert_eq!(values(&db, "d"), vec![3, 4]);
        assert_eq!(db.sync().status().in_use(), 0);
        assert_eq!(db.aio().status().in_use(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_create_inside_a_transaction_survives_the_race() {
    // On PostgreSQL a failed INSERT aborts the transaction unless it ran in
    // a savepoint: get_or_create must keep the transaction usable.
    use common::models::*;
    use dualdb::Model;
    for db in isolated_all("goc_tx") {
        reset(&db, common::Half::Async).await;
        db.aio().create(user("taken", 1)).await.unwrap();
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                // The lookup misses (other age), the insert hits the unique name.
                let err = tx
                    .get_or_create(
                        User::select().filter(User::USERNAME.eq("taken") & User::AGE.eq(2)),
                        || user("taken", 2),
                    )
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::UniqueViolation);
                let (u, created) = tx.create_or_get(user("taken", 3)).await?;
                assert!(!created);
                assert_eq!(u.age, 1);
                // still usable
                tx.create(user("fresh", 4)).await?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(db.aio().count(User::select(), false).await.unwrap(), 2);
    }
}
