//! Opening, connecting, closing, timeouts and secrets: bad URLs are config
//! errors, unreachable or refusing servers are connect errors, a full pool is
//! a pool timeout, a long statement hits the statement timeout, `close`
//! drains and a later call reconnects, and no password is ever printed.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{Capture, finishes_within, mysql_url, pg_url, urls};
use dualdb::{BackendKind, Database, ErrorKind};

#[test]
fn invalid_urls_and_options_are_config_errors() {
    for url in [
        "",
        "oracle://scott:tiger@localhost/db",
        "postgres://u:p@localhost:notaport/db",
        "mysql://u:p@localhost:99999999/db",
        "mysql://u:p@localhost/db?unknown_option=1",
        "sqlite:",
        "sqlite://",
    ] {
        let err = Database::open(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
        assert!(!err.to_string().contains(":p@"), "{err}");
    }
    for builder in [
        Database::builder("sqlite::memory:").sync_pool_size(0),
        Database::builder("sqlite::memory:").async_pool_size(0),
        Database::builder("sqlite::memory:").acquire_timeout(Duration::ZERO),
        Database::builder("sqlite::memory:").statement_timeout(Duration::ZERO),
    ] {
        assert_eq!(builder.build().unwrap_err().kind(), ErrorKind::Config);
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_errors() {
    let port = closed_port();
    for url in [
        format!("postgres://u:pw@127.0.0.1:{port}/db"),
        format!("mysql://u:pw@127.0.0.1:{port}/db"),
    ] {
        let db = Database::open(&url).unwrap();
        assert_eq!(db.sync().connect().unwrap_err().kind(), ErrorKind::Connect);
        assert_eq!(
            db.aio().connect().await.unwrap_err().kind(),
            ErrorKind::Connect
        );
        // Nothing leaked into the pools' counts.
        assert_eq!(db.sync().status().size, 0);
    }
}

/// Replaces the password of a server URL.
fn with_password(url: &str, password: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_password(Some(password)).unwrap();
    u.to_string()
}

#[test]
fn passwords_never_appear_in_errors_debug_or_logs() {
    const WRONG: &str = "Wr0ng-Pa55word-9731";
    let cap = Capture::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let servers: Vec<(String, &str)> = pg_url()
        .map(|u| (u, "28P01"))
        .into_iter()
        .chain(mysql_url().map(|u| (u, "1045")))
        .collect();
    for (url, code) in servers {
        let real_password = url::Url::parse(&url)
            .unwrap()
            .password()
            .unwrap()
            .to_string();
        // A good database prints no password.
        let db = Database::open(&url).unwrap();
        db.sync().query("SELECT 1", &[]).unwrap();
        for text in [format!("{db:?}"), format!("{:?}", db.config())] {
            assert!(!text.contains(&real_password), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        // A wrong password is a connect error with the server's code, and no password.
        let bad = Database::open(&with_password(&url, WRONG)).unwrap();
        let errors = [
            bad.sync().connect().unwrap_err(),
            rt.block_on(bad.aio().connect()).unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
            assert_eq!(err.code(), Some(code), "{err:?}");
            let mut texts = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                texts.push(s.to_string());
                texts.push(format!("{s:?}"));
                source = s.source();
            }
            for text in texts {
                assert!(!text.contains(WRONG), "password in {text}");
            }
        }
        assert!(!format!("{bad:?}").contains(WRONG));
    }
    // Bad URLs with passwords do not echo them either.
    let err = Database::open(&format!("postgres://u:{WRONG}@h:bad/db")).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(WRONG), "{err:?}");

    let logs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains(WRONG), "password in logs: {logs}");
    if let Some(url) = pg_url() {
        let real = url::Url::parse(&url)
            .unwrap()
            .password()
            .unwrap()
            .to_string();
        assert!(!logs.contains(&real), "password in logs: {logs}");
    }
}

#[test]
fn a_server_that_never_answers_hits_the_connect_timeout() {
    // Accepts TCP connections (the kernel does) but never speaks.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://u:pw@127.0.0.1:{port}/db");
        let db = Database::builder(&url)
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let sync_db = db.clone();
        let err = finishes_within(Duration::from_secs(30), move || {
            sync_db.sync().connect().unwrap_err()
        });
        assert_eq!(err.kind(), ErrorKind::Connect, "{scheme} blocking: {err:?}");
        let err = finishes_within(Duration::from_secs(30), move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(db.aio().connect())
                .unwrap_err()
        });
        assert_eq!(err.kind(), ErrorKind::Connect, "{scheme} async: {err:?}");
    }
    drop(silent);
}

/// An async checkout dropped while it connects, or while it waits for a
/// full pool, leaves nothing counted behind: the pool's size and waiters go
/// back to what they were, and the next call gets a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_dropped_while_connecting_or_waiting_leaves_no_count() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let db = Database::builder(&format!("mysql://u:pw@127.0.0.1:{port}/db"))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let connecting = tokio::time::timeout(Duration::from_millis(200), db.aio().connect()).await;
    assert!(
        connecting.is_err(),
        "the silent server answered: {connecting:?}"
    );
    let st = db.aio().status();
    assert_eq!((st.size, st.waiting), (0, 0), "{st:?}");
    drop(silent);

    let db = Database::builder("sqlite::memory:")
        .async_pool_size(1)
        .acquire_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let held = db.aio().begin().await.unwrap();
    // From another task: this one's plain calls would join the transaction.
    let other = db.clone();
    let waiting = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_millis(100), other.aio().begin())
            .await
            .map(drop)
    })
    .await
    .unwrap();
    assert!(waiting.is_err(), "a full pool lent a second connection");
    let st = db.aio().status();
    assert_eq!((st.size, st.in_use(), st.waiting), (1, 1, 0), "{st:?}");
    held.rollback().await.unwrap();
    db.aio().begin().await.unwrap().commit().await.unwrap();
    assert_eq!(db.aio().status().size, 1);
}

fn sleep_sql(db: &Database, secs: f64) -> String {
    match db.backend() {
        BackendKind::Postgres => format!("SELECT pg_sleep({secs})"),
        _ => format!("SELECT SLEEP({secs})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_times_out_with_a_typed_error() {
    let servers: Vec<String> = pg_url().into_iter().chain(mysql_url()).collect();
    for url in servers {
        let db = Database::builder(&url)
            .sync_pool_size(1)
            .async_pool_size(1)
            .acquire_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let sleep = sleep_sql(&db, 2.0);

        // Blocking half: one thread holds the only connection.
        let holder = {
            let (db, sleep) = (db.clone(), sleep.clone());
            std::thread::spawn(move || db.sync().query(&sleep, &[]).map(drop))
        };
        while db.sync().status().in_use() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let err = db.sync().query("SELECT 1", &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err:?}");
        holder.join().unwrap().unwrap();
        db.sync().query("SELECT 1", &[]).unwrap();

        // Async half: a transaction holds the only pooled connection; other
        // tasks (this one's plain calls would join it) find the pool full.
        let held = db.aio().begin().await.unwrap();
        let other = db.clone();
        let err = tokio::spawn(async move { other.aio().begin().await.map(drop) })
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err:?}");
        let other = db.clone();
        let plain = tokio::spawn(async move { other.aio().query("SELECT 1", &[]).await })
            .await
            .unwrap();
        match db.backend() {
            // Outside transactions PostgreSQL uses the shared connections.
            BackendKind::Postgres => assert_eq!(plain.unwrap().len(), 1),
            _ => assert_eq!(plain.unwrap_err().kind(), ErrorKind::PoolTimeout),
        }
        // A call that finds the pool full waits for the connection to come
        // back, and gets it.
        let waiter = {
            let db = db.clone();
            tokio::spawn(async move { db.aio().begin().await?.commit().await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.rollback().await.unwrap();
        waiter.await.unwrap().unwrap();
        db.aio().begin().await.unwrap().commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_statements_hit_the_statement_timeout() {
    for url in urls() {
        let db = Database::builder(&url)
            .statement_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let slow = match db.backend() {
            BackendKind::Sqlite => {
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                                   SELECT COUNT(*) FROM c"
                    .to_string()
            }
            _ => sleep_sql(&db, 30.0),
        };
        let e1 = db.sync().query(&slow, &[]).unwrap_err();
        let e2 = db.aio().query(&slow, &[]).await.unwrap_err();
        for err in [e1, e2] {
            assert_eq!(err.kind(), ErrorKind::Query, "{:?}: {err:?}", db.backend());
            let expected = match db.backend() {
                BackendKind::Postgres => "57014",
                BackendKind::Mysql => "1969",
                _ => "9",
            };
            assert_eq!(err.code(), Some(expected), "{err:?}");
            if db.backend() == BackendKind::Sqlite {
                // told from other interrupts by the deadline
                assert_eq!(err.message(), "statement timeout exceeded", "{err:?}");
            }
        }
        // Both connections are still good.
        db.sync().query_one("SELECT 1", &[]).unwrap();
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
    }
}

async fn backends_named(admin: &Database, app: &str) -> i64 {
    admin
        .aio()
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_drains_both_pools_and_later_calls_reconnect() {
    for url in urls() {
        let db = Database::open(&url).unwrap();
        db.sync().connect().unwrap();
        db.aio().connect().await.unwrap();
        assert_eq!(db.sync().status().size, 1);
        assert_eq!(db.aio().status().size, 1);
        db.sync().close().unwrap();
        db.aio().close().await.unwrap();
        assert_eq!(db.sync().status().size, 0);
        assert_eq!(db.aio().status().size, 0);
        db.sync().query_one("SELECT 1", &[]).unwrap();
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
        assert_eq!(db.sync().status().size, 1);
        assert_eq!(db.aio().status().size, 1);
    }

    // On the server: the closed sessions are gone, new ones come on demand.
    let Some(url) = pg_url() else { return };
    let app = format!("dualdb_close_{}", std::process::id());
    let db = Database::open(&format!("{url}?application_name={app}")).unwrap();
    let admin = Database::open(&url).unwrap();
    db.sync().connect().unwrap();
    db.aio().connect().await.unwrap();
    assert_eq!(backends_named(&admin, &app).await, 2);
    db.sync().close().unwrap();
    db.aio().close().await.unwrap();
    let mut left = 2;
    for _ in 0..100 {
        left = backends_named(&admin, &app).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "close left sessions open on the server");
    db.aio().query("SELECT 1", &[]).await.unwrap();
    assert_eq!(backends_named(&admin, &app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_stays_on_one_shared_connection() {
    let Some(url) = pg_url() else { return };
    let db = Database::builder(&url)
        .shared_connections(4)
        .build()
        .unwrap();
    // One task's statements in a row find every connection idle: each goes
    // to the same one (one server process), not round the four.
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let row = db
            .aio()
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap();
        pids.insert(row.get::<i32>(0).unwrap());
    }
    assert_eq!(pids.len(), 1, "server processes used: {pids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_pass_a_busy_shared_connection_by() {
    let Some(url) = pg_url() else { return };
    let db = Database::builder(&url)
        .shared_connections(2)
        .build()
        .unwrap();
    let slow_sql = "SELECT pg_sleep(3) AS slow";
    let slow = {
        let db = db.clone();
        tokio::spawn(async move { db.aio().query(slow_sql, &[]).await })
    };
    let running = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND query = '{slow_sql}'"
    );
    while db
        .aio()
        .query_one(&running, &[])
        .await
        .unwrap()
        .get::<i64>(0)
        .unwrap()
        == 0
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Pipelined behind the sleep, one of these would wait for it: each goes
    // to the connection with nothing in flight instead.
    for _ in 0..8 {
        db.aio().query_one("SELECT 1", &[]).await.unwrap();
    }
    assert!(
        !slow.is_finished(),
        "a statement waited behind the slow one"
    );
    slow.abort();
}

/// A server on loopback that accepts connections and then either never
/// says a word (silent) or forwards them to a real server (once
/// [`proxy_to`](FakeServer::proxy_to) is set), and tells how many of the
/// silent connections the client has not closed.
struct FakeServer {
    port: u16,
    proxy: std::sync::Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
    held: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl FakeServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = FakeServer {
            port,
            proxy: Default::default(),
            held: Default::default(),
        };
        let (proxy, held) = (server.proxy.clone(), server.held.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = *proxy.lock().unwrap();
                match target.map(std::net::TcpStream::connect) {
                    Some(Ok(upstream)) => {
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                            (upstream, client),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    _ => held.lock().unwrap().push(client),
                }
            }
        });
        server
    }

    /// `url` with its host and port replaced by this server's.
    fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }

    fn proxy_to(&self, url: &str) {
        let u = url::Url::parse(url).unwrap();
        let addr = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
        *self.proxy.lock().unwrap() = Some(addr.parse().unwrap());
    }

    /// The silent connections the client still holds open.
    fn open_silent(&self) -> usize {
        let held = self.held.lock().unwrap();
        held.iter()
            .filter(|s| {
                s.set_nonblocking(true).unwrap();
                let open = matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
                s.set_nonblocking(false).unwrap();
                open
            })
            .count()
    }

    /// Waits (at most `limit`) until the client has closed every silent connection.
    fn wait_all_closed(&self, limit: Duration) -> usize {
        let start = std::time::Instant::now();
        loop {
            let open = self.open_silent();
            if open == 0 || start.elapsed() > limit {
                return open;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A server that accepts and never answers: every connect attempt ends by
/// its deadline with its socket closed, and its pool slot comes back, so
/// that later calls get `Connect` errors of their own (not `PoolTimeout`)
/// and work at once when a healthy server is back at the address; both
/// halves. Before, the blocking half's abandoned connects kept their slots
/// until the sockets died (hours), and every later call timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_holds_no_slot_past_the_connect_timeout() {
    const T: Duration = Duration::from_secs(1);
    let servers: Vec<String> = pg_url().into_iter().chain(mysql_url()).collect();
    for real in servers {
        let fake = FakeServer::start();
        let db = Database::builder(&fake.url(&real))
            .sync_pool_size(2)
            .async_pool_size(2)
            .connect_timeout(T)
            .acquire_timeout(T)
            .build()
            .unwrap();
        for call in 0..4 {
            let (blocking, started) = (db.clone(), std::time::Instant::now());
            let err = tokio::task::spawn_blocking(move || blocking.sync().query("SELECT 1", &[]))
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Connect,
                "{:?} blocking call {call}: {err}",
                db.backend()
            );
            assert!(
                started.elapsed() < T * 2,
                "{:?}: {:?}",
                db.backend(),
                started.elapsed()
            );
            let started = std::time::Instant::now();
            let err = db.aio().query("SELECT 1", &[]).await.unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Connect,
                "{:?} async call {call}: {err}",
                db.backend()
            );
            assert!(
                started.elapsed() < T * 2,
                "{:?}: {:?}",
                db.backend(),
                started.elapsed()
            );
        }
        let open = tokio::task::block_in_place(|| fake.wait_all_closed(T * 2));
        assert_eq!(open, 0, "{:?}: silent sockets left open", db.backend());
        // A healthy server at the same address: the next calls just work.
        fake.proxy_to(&real);
        let blocking = db.clone();
        tokio::task::spawn_blocking(move || blocking.sync().query("SELECT 1", &[]))
            .await
            .unwrap()
            .unwrap();
        db.aio().query("SELECT 1", &[]).await.unwrap();
    }
}

/// Sixteen callers at once against a server that never answers, on each
/// half: none waits longer than the acquire timeout and the connect
/// timeout together (callers that queue behind an attempt take its
/// outcome); each gets `Connect` or `PoolTimeout`. Before, PostgreSQL's
/// async callers queued on a shared connection's reconnect lock and each
/// then made a full attempt of its own (the last returned after 4 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_against_a_silent_server_each_wait_one_connect_timeout() {
    const T: Duration = Duration::from_secs(1);
    let limit = T * 2 + Duration::from_millis(500);
    let servers: Vec<String> = pg_url().into_iter().chain(mysql_url()).collect();
    for real in servers {
        let fake = FakeServer::start();
        let db = Database::builder(&fake.url(&real))
            .sync_pool_size(2)
            .connect_timeout(T)
            .acquire_timeout(T)
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let r = db.aio().query("SELECT 1", &[]).await;
                    (r.map(drop), started.elapsed())
                })
            })
            .collect();
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let r = db.sync().query("SELECT 1", &[]);
                    (r.map(drop), started.elapsed())
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(("async", t.await.unwrap()));
        }
        for t in threads {
            results.push((
                "blocking",
                tokio::task::block_in_place(|| t.join().unwrap()),
            ));
        }
        for (half, (r, took)) in results {
            let err = r.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Connect | ErrorKind::PoolTimeout),
                "{:?} {half}: {err}",
                db.backend()
            );
            assert!(
                took < limit,
                "{:?} {half}: returned after {took:?} ({err})",
                db.backend()
            );
        }
    }
}

/// A refused connection names where it tried, and its `Debug` calls it a
/// connect failure, not a query error; both halves, both servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_names_the_host_and_port_it_tried() {
    let port = closed_port();
    for scheme in ["postgres", "mysql"] {
        let db = Database::open(&format!("{scheme}://u:pw@127.0.0.1:{port}/db")).unwrap();
        for err in [
            db.sync().connect().unwrap_err(),
            db.aio().connect().await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Connect);
            let target = format!("127.0.0.1:{port}");
            assert!(err.message().contains(&target), "{scheme}: {err}");
            assert!(
                err.message().to_lowercase().contains("refused"),
                "{scheme}: {err}"
            );
            let debug = format!("{err:?}");
            assert!(!debug.contains("query error"), "{scheme}: {debug}");
        }
    }
}
