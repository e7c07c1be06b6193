//! The `allow_sync` policy: every blocking entry point is checked, Warn logs
//! with the call site, Error refuses before any I/O, the guard allows calls
//! on its thread and closes the blocking connections when it ends.

mod common;

use common::databases;
use common::models::{Post, Setting, User, reset, user};
use common::{Capture, Half};
use dualdb::{Database, ErrorKind, Model, SyncCheck, SyncDb, SyncTx};

type Entry = (&'static str, fn(&SyncDb) -> dualdb::Result<()>);

fn ada() -> User {
    user("ada", 1)
}

/// Every blocking entry point of the blocking half, in an order that runs
/// cleanly when allowed. `every_entry_point_is_listed` checks that the list
/// covers every Manager operation the crate has.
const ENTRY_POINTS: &[Entry] = &[
    ("connect", |s| s.connect()),
    ("drop_table", |s| s.drop_table::<Setting>()),
    ("create_table", |s| s.create_table::<Setting>()),
    ("table_exists", |s| s.table_exists::<Setting>().map(drop)),
    ("create", |s| s.create(ada()).map(drop)),
    ("get", |s| s.get(User::USERNAME.eq("ada")).map(drop)),
    ("get_or_none", |s| s.get_or_none(User::by_id(1)).map(drop)),
    ("update", |s| s.update(&ada()).map(drop)),
    ("update_only", |s| {
        s.update_only(&ada(), &[&User::AGE]).map(drop)
    }),
    ("get_or_create", |s| {
        s.get_or_create(User::USERNAME.eq("ada"), ada).map(drop)
    }),
    ("create_or_get", |s| s.create_or_get(ada()).map(drop)),
    ("execute_query", |s| {
        s.execute_query(User::select()).map(drop)
    }),
    ("prefetch", |s| {
        s.prefetch(User::select(), Post::select()).map(drop)
    }),
    ("count", |s| s.count(User::select(), false).map(drop)),
    ("exists", |s| s.exists(User::select()).map(drop)),
    ("scalar", |s| {
        s.scalar::<User, i64>(User::select().fields([User::ID.count()]))
            .map(drop)
    }),
    ("raw", |s| {
        s.raw::<User>("SELECT * FROM users", &[]).map(drop)
    }),
    ("fold", |s| {
        s.fold(User::select(), 0, |n, _| Ok(n + 1)).map(drop)
    }),
    ("fold_rows", |s| {
        s.fold_rows("SELECT 1", &[], 0, |n, _| Ok(n + 1)).map(drop)
    }),
    ("execute", |s| s.execute("SELECT 1", &[]).map(drop)),
    ("query", |s| s.query("SELECT 1", &[]).map(drop)),
    ("query_one", |s| s.query_one("SELECT 1", &[]).map(drop)),
    ("query_opt", |s| s.query_opt("SELECT 1", &[]).map(drop)),
    ("query_as", |s| s.query_as::<i64>("SELECT 1", &[]).map(drop)),
    ("delete", |s| s.delete(&ada()).map(drop)),
    ("delete_recursive", |s| {
        s.delete_recursive(&ada(), false).map(drop)
    }),
    ("truncate", |s| s.truncate::<Setting>()),
    ("tables", |s| s.tables().map(drop)),
    ("columns", |s| s.columns("settings").map(drop)),
    ("indexes", |s| s.indexes("settings").map(drop)),
    ("add_index", |s| s.add_index("settings", &["name"], false)),
    ("drop_index", |s| s.drop_index("settings", "settings_name")),
    ("drop_not_null", |s| s.drop_not_null("settings", "value")),
    ("add_not_null", |s| s.add_not_null("settings", "value")),
    ("rename_column", |s| {
        s.rename_column("settings", "value", "value2")
    }),
    ("drop_column", |s| s.drop_column("settings", "value2")),
    ("add_column", |s| s.add_column(&SettingValue::VALUE)),
    ("rename_table", |s| {
        s.rename_table("settings", "settings_x")?;
        s.rename_table("settings_x", "settings")
    }),
    ("begin", |s| s.begin().map(drop)),
    ("atomic", |s| s.atomic(|_| Ok(()))),
    ("transaction", |s| s.transaction(|_| Ok(()))),
    ("savepoint", |s| s.atomic(|tx| tx.savepoint(|_| Ok(())))),
    ("close", |s| s.close()),
    ("fetch", |s| {
        s.fetch(User::select()).next().transpose().map(drop)
    }),
    ("fetch_rows", |s| {
        s.fetch_rows("SELECT 1", &[]).next().transpose().map(drop)
    }),
    ("fetch_as", |s| {
        s.fetch_as::<i64>("SELECT 1", &[])
            .next()
            .transpose()
            .map(drop)
    }),
    ("migrate", |s| s.migrate(&NO_MIGRATIONS).map(drop)),
    ("migrate_status", |s| {
        s.migrate_status(&NO_MIGRATIONS).map(drop)
    }),
    ("migrate_dry_run", |s| {
        s.migrate_dry_run(&NO_MIGRATIONS).map(drop)
    }),
    ("migrate_revert_to", |s| {
        s.migrate_revert_to(&NO_MIGRATIONS, 0).map(drop)
    }),
];

/// The settings table's `value` column, with a default: added back to the
/// table's rows by `add_column`.
#[derive(dualdb::Model)]
#[model(table = "settings")]
struct SettingValue {
    #[model(primary_key, max_length = 40)]
    name: String,
    #[model(default = "''")]
    value: String,
}

static NO_MIGRATIONS: dualdb::migrate::Migrator = dualdb::migrate::Migrator::new(&[]);

/// The blocking entry points PostgreSQL alone serves: refused under Error
/// everywhere before any I/O, run when allowed on PostgreSQL, a `Usage`
/// error elsewhere.
const POSTGRES_ENTRY_POINTS: &[Entry] = &[
    ("notify", |s| s.notify("allow_sync", "")),
    ("sequence_exists", |s| {
        s.sequence_exists("allow_sync").map(drop)
    }),
    ("listen", |s| s.listen(["allow_sync"]).map(drop)),
    ("copy_out", |s| {
        s.copy_out("COPY (SELECT 1) TO STDOUT", |_| Ok::<_, dualdb::Error>(()))
            .map(drop)
    }),
    ("copy_in", |s| {
        let sql = format!("COPY {} (username) FROM STDIN", User::META.table);
        s.copy_in(&sql, std::iter::empty::<&str>()).map(drop)
    }),
    ("copy_in_rows", |s| {
        s.copy_in_rows(
            User::META.table,
            &["username"],
            std::iter::empty::<(String,)>(),
        )
        .map(drop)
    }),
];

type TxEntry = (&'static str, fn(&mut SyncTx<'_>) -> dualdb::Result<()>);

/// The blocking entry points of a transaction handle: its own steps, and a
/// sample of the Manager operations it shares with the database handle (the
/// same macro gives both their methods).
const TX_ENTRY_POINTS: &[TxEntry] = &[
    ("execute", |t| t.execute("SELECT 1", &[]).map(drop)),
    ("get_or_none", |t| t.get_or_none(User::by_id(1)).map(drop)),
    ("count", |t| t.count(User::select(), false).map(drop)),
    ("savepoint", |t| t.begin().map(drop)),
    ("savepoint", |t| t.atomic(|_| Ok(()))),
];

#[test]
fn every_entry_point_is_listed() {
    let listed: Vec<&str> = (ENTRY_POINTS.iter().chain(POSTGRES_ENTRY_POINTS))
        .map(|(n, _)| *n)
        .collect();
    for op in dualdb::__private::MANAGER_OPERATIONS {
        assert!(
            listed.contains(op),
            "blocking entry point `{op}` is not tested"
        );
    }
}

#[test]
fn error_refuses_every_blocking_entry_point_before_any_io() {
    for db in common::isolated_all("policy") {
        db.set_allow_sync(SyncCheck::Error);
        for (name, call) in ENTRY_POINTS.iter().chain(POSTGRES_ENTRY_POINTS) {
            let err = call(db.sync()).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::SyncNotAllowed,
                "{name} on {:?}",
                db.backend()
            );
            assert!(
                err.to_string().contains("allow_sync.rs"),
                "call site missing: {err}"
            );
            assert_eq!(db.sync().status().size, 0, "{name} opened a connection");
        }
        // Switchable at runtime: Off lets every entry point through.
        db.set_allow_sync(SyncCheck::Off);
        futures::executor::block_on(reset(&db, Half::Sync));
        for (name, call) in ENTRY_POINTS {
            call(db.sync()).unwrap_or_else(|e| panic!("{name} on {:?}: {e}", db.backend()));
        }
        for (name, call) in POSTGRES_ENTRY_POINTS {
            match (call(db.sync()), db.backend()) {
                (Ok(()), dualdb::BackendKind::Postgres) => {}
                (Err(e), dualdb::BackendKind::Postgres) => panic!("{name}: {e}"),
                (r, kind) => assert_eq!(
                    r.unwrap_err().kind(),
                    ErrorKind::Usage,
                    "{name} on {kind:?}"
                ),
            }
        }

        // A transaction's own steps and operations are checked too; its
        // rollback on drop is not (cleanup is never refused).
        let mut tx = db.sync().begin().unwrap();
        db.set_allow_sync(SyncCheck::Error);
        for (name, call) in TX_ENTRY_POINTS {
            let err = call(&mut tx).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::SyncNotAllowed, "tx {name}");
        }
        assert_eq!(tx.commit().unwrap_err().kind(), ErrorKind::SyncNotAllowed);
        assert_eq!(
            db.sync().status().in_use(),
            0,
            "the refused transaction rolled back on drop"
        );
        db.set_allow_sync(SyncCheck::Off);
    }
}

/// The number in the first `ThreadId(..)` of `text`: the subscriber pads
/// it with zeros (`ThreadId(02)`), `Debug` does not.
fn thread_number(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once("ThreadId(")?;
    rest.split_once(')')?.0.parse().ok()
}

/// Runs `f` and returns what it logged on this thread. The subscriber is
/// global (installed once): a scoped one misses events when other test
/// threads race on tracing's per-callsite cache. Lines carry thread ids, so
/// other tests' lines are left out.
fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
    static LOG: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(|| {
        let cap = Capture::default();
        let writer = cap.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_thread_ids(true)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        cap
    });
    let start = log.0.lock().unwrap().len();
    let out = f();
    let me = thread_number(&format!("{:?}", std::thread::current().id()));
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()[start..])
        .lines()
        .filter(|l| me.is_some() && thread_number(l) == me)
        .collect::<Vec<_>>()
        .join("\n");
    (out, text)
}

#[test]
fn warn_logs_each_blocking_call_with_its_call_site() {
    for db in common::isolated_all("warn") {
        futures::executor::block_on(reset(&db, Half::Sync));
        db.set_allow_sync(SyncCheck::Warn);
        for (name, call) in ENTRY_POINTS {
            let (result, logs) = captured(|| call(db.sync()));
            result.unwrap_or_else(|e| panic!("{name} under Warn: {e}"));
            assert!(logs.contains("WARN"), "{name}: {logs}");
            assert!(
                logs.contains(&format!("operation=\"{name}\"")),
                "{name}: {logs}"
            );
            assert!(
                logs.contains("allow_sync.rs:"),
                "{name} without call site: {logs}"
            );
        }
        db.set_allow_sync(SyncCheck::Off);
        let (result, logs) = captured(|| db.sync().execute("SELECT 1", &[]));
        result.unwrap();
        assert!(!logs.contains("allow_sync"), "Off must not log: {logs}");
    }
}

#[test]
fn guard_allows_blocking_calls_on_its_thread_and_closes_on_exit() {
    for db in databases() {
        db.set_allow_sync(SyncCheck::Error);
        {
            let _outer = db.allow_sync();
            db.sync().query("SELECT 1", &[]).unwrap();
            {
                let _inner = db.allow_sync();
                db.sync().query("SELECT 1", &[]).unwrap();
            }
            // The inner guard ending neither disallows nor closes.
            assert_eq!(db.sync().status().size, 1);
            db.sync().query("SELECT 1", &[]).unwrap();

            // Another thread is not covered by this thread's guard.
            let other = db.clone();
            let err = std::thread::spawn(move || other.sync().query("SELECT 1", &[]).unwrap_err())
                .join()
                .unwrap();
            assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
        }
        assert_eq!(
            db.sync().status().size,
            0,
            "the guard closes the blocking connections"
        );
        let err = db.sync().query("SELECT 1", &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
    }
}

#[tokio::test]
async fn the_async_half_is_not_subject_to_the_policy() {
    for db in databases() {
        db.set_allow_sync(SyncCheck::Error);
        assert_eq!(db.allow_sync_mode(), SyncCheck::Error);
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
        db.aio().connect().await.unwrap();
        db.aio().close().await.unwrap();
    }
}

#[test]
fn builder_sets_the_starting_policy() {
    let db = Database::builder("sqlite::memory:")
        .allow_sync(SyncCheck::Error)
        .build()
        .unwrap();
    assert_eq!(
        db.sync().connect().unwrap_err().kind(),
        ErrorKind::SyncNotAllowed
    );
}
