//! An application that logs through the `log` crate only (no tracing
//! subscriber) still sees each statement's SQL, through tracing's `log`
//! feature, and never its bound values. The test installs the process's
//! global logger: it is alone in this file.

use std::sync::{Arc, Mutex};

use dualdb::Database;

#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<(String, String)>>>);

impl log::Log for Records {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = (r.target().to_string(), r.args().to_string());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

#[test]
fn a_log_only_application_sees_each_statement_sql_but_no_values() {
    let records = Records::default();
    log::set_boxed_logger(Box::new(records.clone())).unwrap();
    log::set_max_level(log::LevelFilter::Debug);

    const SECRET: &str = "s3cr3t-bound-value";
    let db = Database::open("sqlite::memory:").unwrap();
    db.sync()
        .execute("CREATE TABLE notes (id INTEGER, note TEXT)", &[])
        .unwrap();
    let blocking = "SELECT id FROM notes WHERE note = ? AND id > 0";
    let in_async = "SELECT id FROM notes WHERE note = ? AND id > 1";
    db.sync().query(blocking, &[&SECRET]).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(db.aio().query(in_async, &[&SECRET]))
        .unwrap();

    let seen = records.0.lock().unwrap().clone();
    for sql in [blocking, in_async] {
        assert!(
            seen.iter()
                .any(|(target, line)| target == "dualdb::sql" && line.contains(sql)),
            "no dualdb::sql record of {sql:?} in {seen:#?}"
        );
    }
    assert!(
        !seen.iter().any(|(_, line)| line.contains(SECRET)),
        "a bound value was logged: {seen:#?}"
    );
}
