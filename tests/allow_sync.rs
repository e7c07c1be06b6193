//! The `allow_sync` policy: every blocking entry point is checked, Warn logs
//! with the call site, Error refuses before any I/O, the guard allows calls
//! on its thread and closes the blocking connections when it ends.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::databases;
use dualdb::{Database, ErrorKind, SyncCheck, SyncDb};

type Entry = (&'static str, fn(&SyncDb) -> dualdb::Result<()>);

/// Every blocking entry point of the blocking half. A new blocking method
/// belongs in this list.
const ENTRY_POINTS: &[Entry] = &[
    ("connect", |s| s.connect()),
    ("close", |s| s.close()),
    ("execute", |s| s.execute("SELECT 1", &[]).map(drop)),
    ("query", |s| s.query("SELECT 1", &[]).map(drop)),
    ("query_one", |s| s.query_one("SELECT 1", &[]).map(drop)),
    ("query_opt", |s| s.query_opt("SELECT 1", &[]).map(drop)),
];

#[test]
fn error_refuses_every_blocking_entry_point_before_any_io() {
    for db in databases() {
        db.set_allow_sync(SyncCheck::Error);
        for (name, call) in ENTRY_POINTS {
            let err = call(db.sync()).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::SyncNotAllowed,
                "{name} on {:?}",
                db.backend()
            );
            assert!(err.to_string().contains(name), "{err}");
            assert!(
                err.to_string().contains("allow_sync.rs"),
                "call site missing: {err}"
            );
            assert_eq!(db.sync().status().size, 0, "{name} opened a connection");
        }
        // Switchable at runtime: Off lets every entry point through.
        db.set_allow_sync(SyncCheck::Off);
        for (name, call) in ENTRY_POINTS {
            call(db.sync()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
    let cap = Capture::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn warn_logs_each_blocking_call_with_its_call_site() {
    for db in databases() {
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
        db.aio().close().await;
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
