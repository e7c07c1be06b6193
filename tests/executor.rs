//! The API's shapes on every backend and both halves: one function written
//! once for the database, a transaction and a savepoint (the executor
//! traits); the caller's own error type through every closure form, handed
//! back unchanged with the work rolled back; closures that borrow the
//! caller's locals; the async transaction's `savepoint` and `transaction`.

mod common;

use std::io::Write;

use common::models::{User, reset, user, usernames};
use common::{Half, isolated_all};
use dualdb::{AsyncExecutor, Database, Error, ErrorKind, Model, SyncExecutor};

/// Written once for any blocking handle. `make` borrows `name`: no
/// `'static` closure.
fn register_sync(db: &impl SyncExecutor, name: &str) -> dualdb::Result<(User, i64)> {
    let (u, _) = db.get_or_create(User::USERNAME.eq(name), || user(name, 30))?;
    let n = db.count(User::select(), false)?;
    Ok((u, n))
}

/// The same, for any async handle.
async fn register_async(db: &impl AsyncExecutor, name: &str) -> dualdb::Result<(User, i64)> {
    let (u, _) = db
        .get_or_create(User::USERNAME.eq(name), || user(name, 30))
        .await?;
    let n = db.count(User::select(), false).await?;
    Ok((u, n))
}

/// Compiles only if a generic function's future over the trait is `Send`
/// (so it can be spawned).
fn is_send<T: Send>(_: &T) {}
fn generic_future_is_send<X: AsyncExecutor>(db: &X) {
    is_send(&register_async(db, "never polled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_function_serves_the_database_a_transaction_and_a_savepoint() {
    for db in isolated_all("executor") {
        reset(&db, Half::Sync).await;
        let b = db.backend();

        // Blocking: the database, a guard, a savepoint guard rolled back,
        // a closure's transaction.
        let (a, n) = register_sync(db.sync(), "a").unwrap();
        assert_eq!((a.username.as_str(), n), ("a", 1), "{b:?}");
        let mut tx = db.sync().begin().unwrap();
        assert_eq!(register_sync(&tx, "b").unwrap().1, 2);
        let sp = tx.begin().unwrap();
        assert_eq!(register_sync(&sp, "c").unwrap().1, 3);
        sp.rollback().unwrap();
        tx.commit().unwrap();
        db.sync()
            .atomic(|tx| register_sync(tx, "d").map(drop))
            .unwrap();
        assert_eq!(usernames(&db), ["a", "b", "d"], "{b:?}");
        // allow_sync still names the caller's line through the trait.
        db.set_allow_sync(dualdb::SyncCheck::Error);
        let err = SyncExecutor::count(db.sync(), User::select(), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
        assert!(err.to_string().contains("executor.rs"), "{err}");
        db.set_allow_sync(dualdb::SyncCheck::Off);

        // Async: the same on the other half.
        register_async(db.aio(), "e").await.unwrap();
        let mut tx = db.aio().begin().await.unwrap();
        register_async(&tx, "f").await.unwrap();
        let sp = tx.begin().await.unwrap();
        assert_eq!(register_async(&sp, "g").await.unwrap().1, 6);
        sp.rollback().await.unwrap();
        tx.commit().await.unwrap();
        db.aio()
            .atomic(async |tx| register_async(tx, "h").await.map(drop))
            .await
            .unwrap();
        // Spawned: the generic function's future is Send.
        let spawned = db.clone();
        tokio::spawn(async move { register_async(spawned.aio(), "i").await.map(drop) })
            .await
            .unwrap()
            .unwrap();
        generic_future_is_send(db.aio());
        assert_eq!(usernames(&db), ["a", "b", "d", "e", "f", "h", "i"], "{b:?}");
    }
}

/// An application's error: a domain failure, or dualdb's.
#[derive(Debug)]
enum Transfer {
    Insufficient { short: i64 },
    Db(Error),
}

impl From<Error> for Transfer {
    fn from(e: Error) -> Self {
        Transfer::Db(e)
    }
}

fn count(db: &Database) -> i64 {
    db.sync().count(User::select(), false).unwrap()
}

#[test]
fn blocking_closures_hand_back_the_callers_error_and_roll_back() {
    for db in isolated_all("own_err_sync") {
        futures::executor::block_on(reset(&db, Half::Sync));
        let s = db.sync();
        let b = db.backend();
        let r: Result<(), Transfer> = s.atomic(|tx| {
            tx.create(user("x", 1))?;
            Err(Transfer::Insufficient { short: 5 })
        });
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 5 })),
            "{b:?}: {r:?}"
        );
        let r: Result<(), Transfer> = s.transaction(|tx| {
            tx.create(user("x", 1))?;
            Err(Transfer::Insufficient { short: 6 })
        });
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 6 })),
            "{r:?}"
        );
        let r: Result<(), Transfer> = s.atomic(|tx| {
            tx.create(user("kept", 1))?;
            let inner: Result<(), Transfer> = tx.savepoint(|sp| {
                sp.create(user("x", 1))?;
                Err(Transfer::Insufficient { short: 7 })
            });
            assert!(matches!(inner, Err(Transfer::Insufficient { short: 7 })));
            Ok(())
        });
        assert!(r.is_ok(), "{r:?}");
        let r: Result<(), Transfer> = s.session(|_| Err(Transfer::Insufficient { short: 8 }));
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 8 })),
            "{r:?}"
        );
        // dualdb's own error reaches the caller's type through `From`.
        let r: Result<(), Transfer> = s.atomic(|tx| {
            tx.create(user("dup", 1))?;
            tx.create(user("dup", 1))?;
            Ok(())
        });
        match r {
            Err(Transfer::Db(e)) => assert_eq!(e.kind(), ErrorKind::UniqueViolation, "{b:?}"),
            other => panic!("{b:?}: {other:?}"),
        }
        assert_eq!(
            usernames(&db),
            ["kept"],
            "{b:?}: the failed blocks left nothing"
        );

        // fold and fold_rows: the closure's error stops the statement and
        // comes back whole; the connection is clean after it, in a
        // transaction and out.
        for name in ["p", "q", "r"] {
            s.create(user(name, 1)).unwrap();
        }
        let r = s.fold(User::select(), 0i64, |seen, _| {
            if seen == 2 {
                return Err(Transfer::Insufficient { short: seen });
            }
            Ok(seen + 1)
        });
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 2 })),
            "{r:?}"
        );
        let r: Result<(), Transfer> = s.atomic(|tx| {
            let r = tx.fold_rows("SELECT username FROM users", &[], 0i64, |seen, _| {
                if seen == 1 {
                    return Err(Transfer::Insufficient { short: 9 });
                }
                Ok(seen + 1)
            });
            assert!(
                matches!(r, Err(Transfer::Insufficient { short: 9 })),
                "{r:?}"
            );
            assert_eq!(tx.count(User::select(), false)?, 4);
            Ok(())
        });
        assert!(r.is_ok(), "{b:?}: {r:?}");
        assert_eq!(count(&db), 4);

        // `?` on an I/O error inside a fold: kind Io, the source kept.
        let mut buf = [0u8; 3];
        let mut out = &mut buf[..];
        let err = s
            .fold(User::select(), (), |(), u| {
                out.write_all(u.username.as_bytes())?;
                Ok::<_, Error>(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        let source = std::error::Error::source(&err).unwrap();
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(count(&db), 4, "{b:?}: the connection is clean");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_closures_hand_back_the_callers_error_and_roll_back() {
    for db in isolated_all("own_err_async") {
        reset(&db, Half::Async).await;
        let a = db.aio();
        let b = db.backend();
        let r: Result<(), Transfer> = a
            .atomic(async |tx| {
                tx.create(user("x", 1)).await?;
                Err(Transfer::Insufficient { short: 5 })
            })
            .await;
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 5 })),
            "{b:?}: {r:?}"
        );
        let r: Result<(), Transfer> = a
            .transaction(async |tx| {
                tx.create(user("x", 1)).await?;
                Err(Transfer::Insufficient { short: 6 })
            })
            .await;
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 6 })),
            "{r:?}"
        );
        let r: Result<(), Transfer> = a
            .atomic(async |tx| {
                tx.create(user("kept", 1)).await?;
                let inner: Result<(), Transfer> = tx
                    .savepoint(async |sp| {
                        sp.create(user("x", 1)).await?;
                        Err(Transfer::Insufficient { short: 7 })
                    })
                    .await;
                assert!(matches!(inner, Err(Transfer::Insufficient { short: 7 })));
                Ok(())
            })
            .await;
        assert!(r.is_ok(), "{r:?}");
        let r: Result<(), Transfer> = a
            .session(async |_| Err(Transfer::Insufficient { short: 8 }))
            .await;
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 8 })),
            "{r:?}"
        );
        let r: Result<(), Transfer> = a
            .atomic(async |tx| {
                tx.create(user("dup", 1)).await?;
                tx.create(user("dup", 1)).await?;
                Ok(())
            })
            .await;
        match r {
            Err(Transfer::Db(e)) => assert_eq!(e.kind(), ErrorKind::UniqueViolation, "{b:?}"),
            other => panic!("{b:?}: {other:?}"),
        }
        assert_eq!(
            usernames(&db),
            ["kept"],
            "{b:?}: the failed blocks left nothing"
        );

        for name in ["p", "q", "r"] {
            a.create(user(name, 1)).await.unwrap();
        }
        let r = a
            .fold(User::select(), 0i64, |seen, _| {
                if seen == 2 {
                    return Err(Transfer::Insufficient { short: seen });
                }
                Ok(seen + 1)
            })
            .await;
        assert!(
            matches!(r, Err(Transfer::Insufficient { short: 2 })),
            "{r:?}"
        );
        let r: Result<(), Transfer> = a
            .atomic(async |tx| {
                let r = tx
                    .fold_rows("SELECT username FROM users", &[], 0i64, |seen, _| {
                        if seen == 1 {
                            return Err(Transfer::Insufficient { short: 9 });
                        }
                        Ok(seen + 1)
                    })
                    .await;
                assert!(
                    matches!(r, Err(Transfer::Insufficient { short: 9 })),
                    "{r:?}"
                );
                assert_eq!(tx.count(User::select(), false).await?, 4);
                Ok(())
            })
            .await;
        assert!(r.is_ok(), "{b:?}: {r:?}");
        assert_eq!(a.count(User::select(), false).await.unwrap(), 4);

        let mut buf = [0u8; 3];
        let mut out = &mut buf[..];
        let err = a
            .fold(User::select(), (), |(), u| {
                out.write_all(u.username.as_bytes())?;
                Ok::<_, Error>(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert_eq!(a.count(User::select(), false).await.unwrap(), 4, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closures_borrow_the_callers_locals() {
    for db in isolated_all("borrow") {
        reset(&db, Half::Async).await;
        let b = db.backend();
        // get_or_create's maker borrows a `&str` of the caller's.
        let name = String::from("ada");
        let who: &str = &name;
        let (ada, created) = db
            .aio()
            .get_or_create(User::USERNAME.eq(who), || user(who, 36))
            .await
            .unwrap();
        assert!(created && ada.username == "ada", "{b:?}");
        let (bob, _) = db
            .sync()
            .get_or_create(User::USERNAME.eq("bob"), || {
                user(&name[..0], 0).with_name("bob")
            })
            .unwrap();
        assert_eq!(bob.username, "bob");

        // fold and fold_rows write into the caller's own vector.
        let mut seen = Vec::new();
        db.aio()
            .fold(
                User::select().order_by(User::USERNAME.asc()),
                (),
                |(), u| {
                    seen.push(u.username);
                    Ok::<_, Error>(())
                },
            )
            .await
            .unwrap();
        db.sync()
            .fold_rows(
                "SELECT age FROM users ORDER BY username",
                &[],
                (),
                |(), row| {
                    seen.push(row.get::<i32>(0)?.to_string());
                    Ok::<_, Error>(())
                },
            )
            .unwrap();
        assert_eq!(seen, ["ada", "bob", "36", "0"], "{b:?}");

        // Transaction closures borrow too, on both halves.
        let mut log = Vec::new();
        db.aio()
            .atomic(async |tx| {
                log.push(tx.count(User::select(), false).await?);
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        db.sync()
            .atomic(|tx| {
                log.push(tx.count(User::select(), false)?);
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(log, [2, 2]);
    }
}

trait WithName {
    fn with_name(self, name: &str) -> Self;
}

impl WithName for User {
    fn with_name(mut self, name: &str) -> Self {
        self.username = name.into();
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transaction_handles_have_savepoint_and_transaction() {
    for db in isolated_all("tx_parity") {
        reset(&db, Half::Async).await;
        let b = db.backend();

        // A savepoint inside a guard: rolled back alone.
        let mut tx = db.aio().begin().await.unwrap();
        tx.create(user("kept", 1)).await.unwrap();
        let r = tx
            .savepoint(async |sp| {
                sp.create(user("gone", 1)).await?;
                Err::<(), _>(Error::new(ErrorKind::Usage, "no"))
            })
            .await;
        assert!(r.is_err());
        // transaction inside one: the same level, no savepoint.
        let level = tx
            .transaction(async |same| {
                same.create(user("joined", 1)).await?;
                Ok::<_, Error>(same.level())
            })
            .await
            .unwrap();
        assert_eq!(level, 1, "{b:?}");
        tx.commit().await.unwrap();
        assert_eq!(usernames(&db), ["joined", "kept"], "{b:?}");

        let mut tx = db.sync().begin().unwrap();
        tx.create(user("kept2", 1)).unwrap();
        let r = tx.savepoint(|sp| {
            sp.create(user("gone", 1))?;
            Err::<(), _>(Error::new(ErrorKind::Usage, "no"))
        });
        assert!(r.is_err());
        let level = tx.transaction(|same| Ok::<_, Error>(same.level())).unwrap();
        assert_eq!(level, 1);
        tx.commit().unwrap();
        assert_eq!(usernames(&db), ["joined", "kept", "kept2"], "{b:?}");

        // On a session's handle (no transaction): savepoint is a Usage
        // error, transaction opens one on the session's connection.
        let (err, rolled_back) = db
            .aio()
            .session(async |s| {
                let err = s.savepoint(async |_| Ok::<_, Error>(())).await.unwrap_err();
                let r = s
                    .transaction(async |t| {
                        assert_eq!(t.level(), 1);
                        t.create(user("session tx", 1)).await?;
                        Err::<(), _>(Error::new(ErrorKind::Usage, "undo"))
                    })
                    .await;
                Ok::<_, Error>((err, r.is_err()))
            })
            .await
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(rolled_back);
        let err = db
            .sync()
            .session(|s| {
                let err = s.savepoint(|_| Ok::<_, Error>(())).unwrap_err();
                s.transaction(|t| {
                    assert_eq!(t.level(), 1);
                    t.create(user("session tx", 1))?;
                    Err::<(), _>(Error::new(ErrorKind::Usage, "undo"))
                })
                .unwrap_err();
                Ok::<_, Error>(err)
            })
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert_eq!(usernames(&db), ["joined", "kept", "kept2"], "{b:?}");

        // close has one shape on both halves.
        db.aio().close().await.unwrap();
        db.sync().close().unwrap();
        assert_eq!(count(&db), 3);
    }
}
