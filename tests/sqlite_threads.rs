//! A program whose database is SQLite starts no thread for dualdb's blocking
//! half: opening a file waits on no server, so there is no connect to give up
//! on (a server's blocking connect runs on a helper thread, for its timeout).
//! A single-threaded program keeps glibc's single-threaded malloc.
//!
//! The only test of its binary: Rust numbers every thread it starts in turn,
//! and another test running beside this one would start threads too.

use std::thread;

/// The number Rust gave the thread `id` (`ThreadId(N)`).
fn number(id: thread::ThreadId) -> u64 {
    let text = format!("{id:?}");
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.parse().expect("a thread id has a number")
}

/// The number the next thread started gets, less one.
fn last_thread() -> u64 {
    number(thread::spawn(|| thread::current().id()).join().unwrap()) - 1
}

#[test]
fn sqlite_blocking_calls_start_no_thread() {
    let dir = std::env::temp_dir().join(format!("dualdb-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("t.sqlite").display());
    let db = dualdb::Database::open(&url).unwrap();

    let before = last_thread();
    let s = db.sync();
    s.execute(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO t (v) VALUES (?)", &[&"a"]).unwrap();
    let rows = s.query("SELECT v FROM t", &[]).unwrap();
    let after = last_thread();

    assert_eq!(rows.len(), 1);
    assert_eq!(
        after,
        before + 1,
        "the first blocking calls started {} thread(s)",
        after - before - 1
    );
    drop(db);
    std::fs::remove_dir_all(&dir).unwrap();
}
