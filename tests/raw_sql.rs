//! The raw-SQL calls (execute, query, query_one, query_opt) on both halves of
//! every backend: bound parameters, typed decoding, the row-count errors, and
//! the server's errors mapped to kinds with their codes.

mod common;

use common::{HALVES, Half, blob, boolean, databases, double, phs, serial_pk, table};
use dualdb::{BackendKind, Database, ErrorKind};

async fn roundtrip(db: &Database, half: Half) {
    let t = table("raw");
    half.execute(
        db,
        &format!(
            "CREATE TABLE {t} ({}, name VARCHAR(100) NOT NULL UNIQUE, score {}, active {}, data {}, note VARCHAR(50))",
            serial_pk(db),
            double(db),
            boolean(db),
            blob(db)
        ),
        &[],
    )
    .await
    .unwrap();
    let insert = format!(
        "INSERT INTO {t} (name, score, active, data, note) VALUES ({})",
        phs(db, 5)
    );
    let bytes: Vec<u8> = vec![0, 159, 146, 150, 255];
    let n = half
        .execute(
            db,
            &insert,
            &[&"ada", &1.5f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap();
    assert_eq!(
        n,
        1,
        "{:?} {half:?}: rows affected by one insert",
        db.backend()
    );
    let n = half
        .execute(
            db,
            &insert,
            &[&"bob", &-2.25f64, &false, &Vec::<u8>::new(), &Some("hi")],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);

    let rows = half
        .query(
            db,
            &format!("SELECT id, name, score, active, data, note FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<String>("name").unwrap(), "ada");
    assert_eq!(rows[0].get::<f64>("score").unwrap(), 1.5);
    assert!(rows[0].get::<bool>("active").unwrap());
    assert_eq!(rows[0].get::<Vec<u8>>("data").unwrap(), bytes);
    assert_eq!(rows[0].get::<Option<String>>("note").unwrap(), None);
    assert!(!rows[1].get::<bool>(3).unwrap());
    assert_eq!(
        rows[1].get::<Option<String>>(5).unwrap().as_deref(),
        Some("hi")
    );
    let first_id: i64 = rows[0].get("id").unwrap();
    assert!(rows[1].get::<i64>("id").unwrap() > first_id);

    // Bound parameters select, and integers narrow to the column's type.
    let by_id = format!("SELECT name FROM {t} WHERE id = {}", phs(db, 1));
    let one = half.query_one(db, &by_id, &[&first_id]).await.unwrap();
    assert_eq!(one.get::<String>(0).unwrap(), "ada");
    let small_id = i32::try_from(first_id).unwrap();
    assert_eq!(
        half.query_one(db, &by_id, &[&small_id])
            .await
            .unwrap()
            .get::<String>(0)
            .unwrap(),
        "ada"
    );
    assert!(
        half.query_opt(db, &by_id, &[&-1i64])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        half.query_opt(db, &by_id, &[&first_id])
            .await
            .unwrap()
            .is_some()
    );

    // Row-count rules.
    let all = format!("SELECT name FROM {t}");
    assert_eq!(
        half.query_one(db, &all, &[]).await.unwrap_err().kind(),
        ErrorKind::TooManyRows
    );
    assert_eq!(
        half.query_opt(db, &all, &[]).await.unwrap_err().kind(),
        ErrorKind::TooManyRows
    );
    assert_eq!(
        half.query_one(db, &by_id, &[&-1i64])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // Decode errors name the column and leave the connection usable.
    let err = one.get::<i64>(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("column 0"), "{err}");
    assert_eq!(
        one.get::<i64>("nope").unwrap_err().kind(),
        ErrorKind::Decode
    );

    // A unique violation, typed and with the server's code.
    let err = half
        .execute(
            db,
            &insert,
            &[&"ada", &0.0f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err:?}");
    let expected = match db.backend() {
        BackendKind::Postgres => "23505",
        BackendKind::Mysql => "1062",
        _ => "2067",
    };
    assert_eq!(err.code(), Some(expected));

    // A NOT NULL violation is an integrity violation.
    let err = half
        .execute(
            db,
            &insert,
            &[&None::<String>, &0.0f64, &true, &bytes, &None::<String>],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IntegrityViolation, "{err:?}");

    // A syntax error is a query error with the server's code.
    let err = half.query(db, "SELEC nonsense", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Query);
    let expected = match db.backend() {
        BackendKind::Postgres => "42601",
        BackendKind::Mysql => "1064",
        _ => "1",
    };
    assert_eq!(err.code(), Some(expected), "{err:?}");

    // Nothing above broke the connection or changed data.
    let count: i64 = half
        .query_one(db, &format!("SELECT COUNT(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, 2);

    // Updates and deletes report the rows they changed.
    let n = half
        .execute(
            db,
            &format!("UPDATE {t} SET note = {}", phs(db, 1)),
            &[&"x"],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = half
        .execute(
            db,
            &format!("DELETE FROM {t} WHERE id = {}", phs(db, 1)),
            &[&first_id],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    half.execute(db, &format!("DROP TABLE {t}"), &[])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_on_both_halves_of_every_backend() {
    for db in databases() {
        for half in HALVES {
            roundtrip(&db, half).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_halves_see_the_same_data() {
    for db in databases() {
        let t = table("shared");
        db.sync()
            .execute(&format!("CREATE TABLE {t} (x INTEGER)"), &[])
            .unwrap();
        db.aio()
            .execute(&format!("INSERT INTO {t} (x) VALUES (41)"), &[])
            .await
            .unwrap();
        db.sync()
            .execute(&format!("UPDATE {t} SET x = x + 1"), &[])
            .unwrap();
        let x: i32 = db
            .aio()
            .query_one(&format!("SELECT x FROM {t}"), &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(x, 42, "{:?}", db.backend());
        db.aio()
            .execute(&format!("DROP TABLE {t}"), &[])
            .await
            .unwrap();
    }
}

/// A statement prepared and cached before `ALTER TABLE` still runs after it,
/// with the table's new shape: PostgreSQL refuses a cached plan whose result
/// type changed ("cached plan must not change result type").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_select_star_follows_an_alter_table() {
    for db in databases() {
        for half in HALVES {
            let t = table("alter");
            half.execute(
                &db,
                &format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY)"),
                &[],
            )
            .await
            .unwrap();
            half.execute(&db, &format!("INSERT INTO {t} (id) VALUES (1)"), &[])
                .await
                .unwrap();
            let select = format!("SELECT * FROM {t}");
            // Twice, on every connection the half may use: cached everywhere.
            for _ in 0..8 {
                let row = half.query_one(&db, &select, &[]).await.unwrap();
                assert_eq!(row.len(), 1);
            }
            half.execute(
                &db,
                &format!("ALTER TABLE {t} ADD COLUMN note VARCHAR(20)"),
                &[],
            )
            .await
            .unwrap();
            for _ in 0..8 {
                let row = half
                    .query_one(&db, &select, &[])
                    .await
                    .unwrap_or_else(|e| panic!("{:?} {half:?}: {e}", db.backend()));
                assert_eq!(row.len(), 2, "{:?} {half:?}", db.backend());
                assert_eq!(row.column_name(1), Some("note"));
            }
            half.execute(&db, &format!("DROP TABLE {t}"), &[])
                .await
                .unwrap();
        }
    }
}

/// Inside a transaction a stale cached plan cannot be retried (the server
/// aborted the transaction with it): the error is the server's own, not the
/// "transaction aborted" of a retry. Every connection of the pool, on both
/// halves, then forgets its statements: the transactions after it all run,
/// on every connection, where before each connection failed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_fails_once_across_the_pool() {
    let Some(url) = common::pg_url() else { return };
    stale_plan_fails_once(&url).await;
}

/// The same under `lc_messages` in German: the stale plan is known by its
/// SQLSTATE and the server routine that raises it, not its English message
/// (outside a transaction it is retried, and the call works). `ci/test`
/// makes the `de_DE.UTF-8` locale before it starts PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_is_known_in_any_language() {
    let Some(url) = common::pg_url() else { return };
    let sep = if url.contains('?') { '&' } else { '?' };
    let german = format!("{url}{sep}options=-c%20lc_messages%3Dde_DE.UTF-8");
    let db = Database::open(&german).unwrap();
    if let Err(e) = db.sync().query("SELECT 1", &[]) {
        assert!(
            std::env::var("CI").is_err(),
            "the server has no German locale ({e}): ci/test makes one with localedef"
        );
        eprintln!("no German locale on the server ({e}): skipped");
        return;
    }
    let err = db
        .sync()
        .query("SELECT * FROM no_such_table", &[])
        .unwrap_err();
    assert!(
        !err.message().contains("does not exist"),
        "not German: {err}"
    );
    for half in HALVES {
        let t = table("alter_de");
        half.execute(
            &db,
            &format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY)"),
            &[],
        )
        .await
        .unwrap();
        let select = format!("SELECT * FROM {t}");
        for _ in 0..8 {
            half.query(&db, &select, &[]).await.unwrap();
        }
        half.execute(&db, &format!("ALTER TABLE {t} ADD COLUMN note TEXT"), &[])
            .await
            .unwrap();
        for _ in 0..8 {
            let rows = half.query(&db, &select, &[]).await;
            let rows = rows.unwrap_or_else(|e| panic!("{half:?}: {e}"));
            assert!(rows.is_empty());
        }
    }
    stale_plan_fails_once(&german).await;
}

async fn stale_plan_fails_once(url: &str) {
    const CONNECTIONS: usize = 6;
    let db = Database::builder(url)
        .sync_pool_size(CONNECTIONS)
        .async_pool_size(CONNECTIONS)
        .build()
        .unwrap();
    let t = table("alter_tx");
    db.sync()
        .execute(&format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY)"), &[])
        .unwrap();
    db.sync()
        .execute(&format!("INSERT INTO {t} (id) VALUES (1)"), &[])
        .unwrap();
    let select = format!("SELECT * FROM {t}");
    // Cached on every connection either half lends to transactions: that
    // many transactions open at once (on threads and tasks of their own: a
    // second begin() on one thread would join the first), each running the
    // statement.
    let all_open = std::sync::Barrier::new(CONNECTIONS);
    std::thread::scope(|s| {
        for _ in 0..CONNECTIONS {
            s.spawn(|| {
                let tx = db.sync().begin().unwrap();
                assert_eq!(tx.query_one(&select, &[]).unwrap().len(), 1);
                all_open.wait();
                tx.commit().unwrap();
            });
        }
    });
    let warm: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (db, select) = (db.clone(), select.clone());
            tokio::spawn(async move {
                let tx = db.aio().begin().await.unwrap();
                assert_eq!(tx.query_one(&select, &[]).await.unwrap().len(), 1);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for w in warm {
        w.await.unwrap();
    }
    assert_eq!(db.sync().status().size, CONNECTIONS);

    db.sync()
        .execute(&format!("ALTER TABLE {t} ADD COLUMN note TEXT"), &[])
        .unwrap();

    // The first transaction fails with the server's own error.
    let tx = db.sync().begin().unwrap();
    let err = tx.query_one(&select, &[]).unwrap_err();
    assert_eq!(err.code(), Some("0A000"), "{err}");
    tx.rollback().unwrap();
    // Every later one works, on every connection of both halves: the
    // blocking half's all at once, the async half's in turn (an idle async
    // connection is lent oldest first).
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..CONNECTIONS {
            let (all_open, failed, db, select) = (&all_open, &failed, &db, &select);
            s.spawn(move || {
                let tx = db.sync().begin().unwrap();
                match tx.query_one(select, &[]) {
                    Ok(row) => assert_eq!(row.len(), 2),
                    Err(e) => failed.lock().unwrap().push(format!("blocking {i}: {e}")),
                }
                all_open.wait();
                tx.rollback().unwrap();
            });
        }
    });
    let mut failed = failed.into_inner().unwrap();
    assert_eq!(db.sync().status().size, CONNECTIONS);
    for i in 0..CONNECTIONS * 2 {
        let tx = db.aio().begin().await.unwrap();
        match tx.query_one(&select, &[]).await {
            Ok(row) => assert_eq!(row.len(), 2),
            Err(e) => failed.push(format!("async {i}: {e}")),
        }
        tx.rollback().await.unwrap();
    }
    assert!(failed.is_empty(), "after the first failure: {failed:?}");
    db.sync().execute(&format!("DROP TABLE {t}"), &[]).unwrap();
}

/// `Com_stmt_prepare` and `Com_stmt_close` of this session so far.
async fn prepares_and_closes(db: &Database, half: Half) -> (u64, u64) {
    let rows = half
        .query(
            db,
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_close')",
            &[],
        )
        .await
        .unwrap();
    let count = |name: &str| -> u64 {
        let row = rows
            .iter()
            .find(|r| r.get::<String>(0).unwrap() == name)
            .unwrap();
        row.get::<String>(1).unwrap().parse().unwrap()
    };
    (count("Com_stmt_prepare"), count("Com_stmt_close"))
}

/// On MySQL a statement run again on a connection is not prepared again,
/// also after more statements than the cache holds have come and gone; with
/// no cache each statement is closed after its run, so none pile up on the
/// server (each is one of the server's `max_prepared_stmt_count`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_prepares_a_statement_once_per_connection_and_closes_what_it_does_not_keep() {
    let Some(url) = common::mysql_url() else {
        return;
    };
    for half in HALVES {
        let db = Database::builder(&url)
            .statement_cache_size(3)
            .sync_pool_size(1)
            .async_pool_size(1)
            .build()
            .unwrap();
        let (prepared, _) = prepares_and_closes(&db, half).await;
        for k in 0..5i64 {
            let row = half.query_one(&db, "SELECT ? + 1", &[&k]).await.unwrap();
            assert_eq!(row.get::<i64>(0).unwrap(), k + 1);
        }
        let (now, _) = prepares_and_closes(&db, half).await;
        assert_eq!(now - prepared, 1, "{half:?}: five runs, one prepare");
        // More distinct statements than the cache holds, then the first
        // ones again: every one still runs, with its own result.
        for round in 0..3i64 {
            for add in 1..=6i64 {
                let sql = format!("SELECT ? + {add}");
                let row = half.query_one(&db, &sql, &[&round]).await.unwrap();
                assert_eq!(row.get::<i64>(0).unwrap(), round + add, "{half:?}: {sql}");
            }
        }

        let uncached = Database::builder(&url)
            .statement_cache_size(0)
            .sync_pool_size(1)
            .async_pool_size(1)
            .build()
            .unwrap();
        let (prepared, closed) = prepares_and_closes(&uncached, half).await;
        for k in 0..3i64 {
            let row = half
                .query_one(&uncached, "SELECT ? * 2", &[&k])
                .await
                .unwrap();
            assert_eq!(row.get::<i64>(0).unwrap(), k * 2);
        }
        let (prepared_now, closed_now) = prepares_and_closes(&uncached, half).await;
        // Three runs and the second status query; each run closed, and so
        // was the first status query.
        assert_eq!(prepared_now - prepared, 4, "{half:?}");
        assert_eq!(closed_now - closed, 4, "{half:?}");
        // A row iterator's or stream's statement (a cursor of the
        // connection) is closed once it ends: read to its end, dropped
        // part-way, or failed on a row (on the async half, before the
        // connection's next statement).
        let sql = "SELECT n FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) t \
                   WHERE n > ? ORDER BY n";
        let failing = "SELECT CAST(n AS SIGNED) FROM (SELECT 1 AS n UNION ALL \
                       SELECT 2 UNION ALL SELECT 3) t WHERE 1 / (n - ?) IS NOT NULL \
                       OR (SELECT 1 UNION ALL SELECT 2) > 0";
        let int = |r: dualdb::Result<dualdb::Row>| r.unwrap().get::<i64>(0).unwrap();
        match half {
            Half::Sync => {
                let s = uncached.sync();
                let all: Vec<i64> = s.fetch_rows(sql, &[&0i64]).map(int).collect();
                assert_eq!(all, [1, 2, 3]);
                let first = s.fetch_rows(sql, &[&1i64]).next().unwrap();
                assert_eq!(int(first), 2);
                let rows: Vec<_> = s.fetch_rows(failing, &[&2i64]).collect();
                assert!(rows.last().unwrap().is_err(), "{rows:?}");
            }
            Half::Async => {
                use futures::StreamExt;
                let a = uncached.aio();
                let all: Vec<i64> = a.fetch_rows(sql, &[&0i64]).map(int).collect().await;
                assert_eq!(all, [1, 2, 3]);
                let first = a.fetch_rows(sql, &[&1i64]).next().await.unwrap();
                assert_eq!(int(first), 2);
                let rows: Vec<_> = a.fetch_rows(failing, &[&2i64]).collect().await;
                assert!(rows.last().unwrap().is_err(), "{rows:?}");
            }
        }
        let (prepared_after, closed_after) = prepares_and_closes(&uncached, half).await;
        assert_eq!(
            prepared_after - prepared_now,
            4,
            "{half:?}: three streams, a query"
        );
        assert_eq!(
            closed_after - closed_now,
            4,
            "{half:?}: every statement closed"
        );
        let row = half.query_one(&uncached, "SELECT 5", &[]).await.unwrap();
        assert_eq!(row.get::<i64>(0).unwrap(), 5);
    }
}

/// SQLite numbers a `$2` by where it first appears; dualdb binds it to the
/// second value, as PostgreSQL does: `SELECT $2, $1` with `[1, 2]` is
/// `(2, 1)`, both halves, in and out of a transaction. A highest `$N` that
/// is not the number of values, or `$N` mixed with `?`, is a `Usage` error
/// naming the counts or the form, before the statement runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_binds_dollar_placeholders_by_their_number() {
    let db = Database::open("sqlite::memory:").unwrap();
    db.sync()
        .execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
        .unwrap();
    for half in HALVES {
        let row = half
            .query_one(
                &db,
                "SELECT $2 AS a, $1 AS b, $2 + $2 AS c",
                &[&1i64, &2i64],
            )
            .await
            .unwrap();
        let got: (i64, i64, i64) = (
            row.get("a").unwrap(),
            row.get("b").unwrap(),
            row.get("c").unwrap(),
        );
        assert_eq!(got, (2, 1, 4), "{half:?}");
        half.execute(
            &db,
            "INSERT INTO t (b, a) VALUES ($2, $1)",
            &[&7i64, &"seven"],
        )
        .await
        .unwrap();
        let err = half
            .query(&db, "SELECT $3 AS a", &[&1i64, &2i64])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
        assert!(
            err.message().contains("take 3 values, 2 were given"),
            "{err}"
        );
        let err = half
            .query(&db, "SELECT $1, ?", &[&1i64, &2i64])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
        assert!(err.message().contains("$N"), "{err}");
        // The plain forms still bind in order.
        let row = half
            .query_one(&db, "SELECT ? AS a, ?2 AS b", &[&1i64, &2i64])
            .await
            .unwrap();
        assert_eq!(
            (row.get::<i64>("a").unwrap(), row.get::<i64>("b").unwrap()),
            (1, 2)
        );
    }
    db.aio()
        .atomic(async |tx| -> dualdb::Result<_> {
            let row = tx
                .query_one("SELECT $2 AS a, $1 AS b", &[&1i64, &2i64])
                .await?;
            assert_eq!(row.get::<i64>("a")?, 2);
            Ok(())
        })
        .await
        .unwrap();
    db.sync()
        .atomic(|tx| {
            let row = tx.query_one("SELECT $2 AS a, $1 AS b", &[&1i64, &2i64])?;
            assert_eq!(row.get::<i64>("a")?, 2);
            Ok::<_, dualdb::Error>(())
        })
        .unwrap();
    let rows = db.sync().query("SELECT a, b FROM t", &[]).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.get::<i64>(0).unwrap() == 7 && r.get::<String>(1).unwrap() == "seven")
    );
}

/// A `$1` sent to MariaDB fails with the server's error and MySQL's
/// placeholder rule in its message; the same `?` statement runs on
/// PostgreSQL (rewritten: tests/placeholders.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_backends_placeholders_get_an_error_naming_the_rule() {
    for db in databases() {
        for half in HALVES {
            let portable = "SELECT * FROM (SELECT 1 AS id) t WHERE id = ?";
            let rows = half.query(&db, portable, &[&1i32]).await.unwrap();
            assert_eq!(rows.len(), 1, "{:?} {half:?}", db.backend());
            if db.backend() != BackendKind::Mysql {
                continue;
            }
            let (sql, rule) = ("SELECT * FROM (SELECT 1 AS id) t WHERE id = $1", "`?`");
            let err = half.query(&db, sql, &[&1i64]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Query, "{err}");
            assert!(err.message().contains(rule), "{half:?}: {err}");
            // The same syntax error with the placeholder in a literal or a
            // comment: no rule.
            for quoted in ["SELECT '?', '$1' AS q FROM", "SELECT 1 /* ? $1 */ FROM"] {
                let err = half.query(&db, quoted, &[]).await.unwrap_err();
                assert_eq!(err.code(), Some("1064"), "{err}");
                assert!(!err.message().contains(rule), "{err}");
            }
        }
    }
}
