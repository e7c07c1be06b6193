//! LISTEN/NOTIFY (PostgreSQL) on both halves: notifications arrive with
//! their channel and payload, in and out of transactions (at commit, never
//! after a rollback), channels can be added and dropped; a listener whose
//! connection is killed says `Reconnected` and hears what is sent after,
//! never what was sent while it was down; a listener whose server cannot
//! be reached yields errors and goes on, and recovers when the server is
//! back (through a TCP relay the test cuts); many listeners at once; and
//! other backends refuse with a `Usage` error before any I/O.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::pg_url;
use dualdb::{Database, Error, ErrorKind, ListenEvent, Listener, Notification};
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(10);

/// The next event, within [`WAIT`].
async fn next(listener: &mut Listener) -> dualdb::Result<ListenEvent> {
    tokio::time::timeout(WAIT, listener.next())
        .await
        .expect("no event in time")
        .expect("listeners never end")
}

async fn notification(listener: &mut Listener) -> Notification {
    match next(listener).await.unwrap() {
        ListenEvent::Notification(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

/// Nothing arrives within a short while.
async fn quiet(listener: &mut Listener) {
    let got = tokio::time::timeout(Duration::from_millis(300), listener.next()).await;
    assert!(got.is_err(), "unexpected event: {got:?}");
}

fn unique(prefix: &str) -> String {
    common::table(prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_in_and_out_of_transactions_on_both_halves() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    // A channel of mixed case and a quote: taken as written.
    let (orders, jobs) = (unique("Orders\"x"), unique("jobs"));
    let mut listener = db
        .aio()
        .listen([orders.as_str(), jobs.as_str()])
        .await
        .unwrap();
    assert_eq!(listener.channels(), [orders.clone(), jobs.clone()]);

    db.aio().notify(&orders, "from async").await.unwrap();
    db.sync().notify(&jobs, "from blocking").unwrap();
    let n = notification(&mut listener).await;
    assert_eq!((n.channel(), n.payload()), (orders.as_str(), "from async"));
    assert!(n.process_id() > 0);
    let n = notification(&mut listener).await;
    assert_eq!((n.channel(), n.payload()), (jobs.as_str(), "from blocking"));

    // In a transaction: sent at commit.
    db.aio()
        .transaction(async |tx| {
            tx.notify(&orders, "committed").await?;
            // Not yet: the transaction is open.
            quiet(&mut listener).await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
    assert_eq!(notification(&mut listener).await.payload(), "committed");
    // Rolled back: never sent.
    let rolled: Result<(), Error> = db.sync().transaction(|tx| {
        tx.notify(&orders, "rolled back")?;
        Err(Error::other(std::io::Error::other("undo")))
    });
    assert!(rolled.is_err());
    db.sync()
        .transaction(|tx| tx.notify(&jobs, "blocking tx"))
        .unwrap();
    assert_eq!(notification(&mut listener).await.payload(), "blocking tx");
    quiet(&mut listener).await;

    // Channels added and dropped.
    let late = unique("late");
    listener.listen(&late).await.unwrap();
    listener.unlisten(&orders).await.unwrap();
    db.aio().notify(&orders, "not heard").await.unwrap();
    db.aio().notify(&late, "heard").await.unwrap();
    let n = notification(&mut listener).await;
    assert_eq!((n.channel(), n.payload()), (late.as_str(), "heard"));
    quiet(&mut listener).await;
}

#[test]
fn the_blocking_listener_is_an_iterator() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let channel = unique("sync");
    let mut listener = db.sync().listen([channel.as_str()]).unwrap();
    assert_eq!(
        listener.recv_timeout(Duration::from_millis(100)).unwrap(),
        None
    );
    for i in 0..3 {
        db.sync().notify(&channel, &i.to_string()).unwrap();
    }
    let got: Vec<String> = (&mut listener)
        .take(3)
        .map(|e| match e.unwrap() {
            ListenEvent::Notification(n) => n.payload().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, ["0", "1", "2"]);
    // Each wait is a blocking call under allow_sync.
    db.set_allow_sync(dualdb::SyncCheck::Error);
    let err = listener
        .recv_timeout(Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SyncNotAllowed);
    assert!(err.to_string().contains("listen.rs"), "{err}");
    db.set_allow_sync(dualdb::SyncCheck::Off);
    // Also from inside a Tokio runtime (it drives a runtime of its own).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        db.aio().notify(&channel, "inside").await.unwrap();
        match listener.recv().unwrap() {
            ListenEvent::Notification(n) => assert_eq!(n.payload(), "inside"),
            other => panic!("{other:?}"),
        }
    });
    // Dropped inside a runtime: no panic.
    rt.block_on(async move { drop(listener) });
}

/// The server process of the session listening to `channel`.
async fn listener_pid(db: &Database, channel: &str) -> i32 {
    let pattern = format!("%LISTEN \"{channel}\"%");
    for _ in 0..100 {
        let rows = db
            .aio()
            .query(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
                &[&pattern],
            )
            .await
            .unwrap();
        if let Some(row) = rows.first() {
            return row.get(0).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no session listens to {channel}");
}

/// Terminates the server process `pid` and waits until it is gone.
async fn kill(db: &Database, pid: i32) {
    let killed: bool = (db
        .aio()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await)
        .unwrap()
        .get(0)
        .unwrap();
    assert!(killed);
    for _ in 0..200 {
        let row = (db.aio())
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .unwrap();
        if row.get::<i64>(0).unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_replaced_and_the_gap_reported() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let channel = unique("killed");
    let mut listener = db.aio().listen([channel.as_str()]).await.unwrap();
    db.aio().notify(&channel, "before").await.unwrap();
    assert_eq!(notification(&mut listener).await.payload(), "before");

    for round in 0..3 {
        let pid = listener_pid(&db, &channel).await;
        kill(&db, pid).await;
        // Sent while no session listens: lost, and reported as such.
        db.aio().notify(&channel, "while down").await.unwrap();
        assert_eq!(
            next(&mut listener).await.unwrap(),
            ListenEvent::Reconnected,
            "round {round}"
        );
        let new_pid = listener_pid(&db, &channel).await;
        assert_ne!(new_pid, pid);
        db.aio()
            .notify(&channel, &format!("after {round}"))
            .await
            .unwrap();
        assert_eq!(
            notification(&mut listener).await.payload(),
            format!("after {round}")
        );
    }
    quiet(&mut listener).await;

    drop(listener);

    // The blocking listener the same way.
    let mut listener = db.sync().listen([channel.as_str()]).unwrap();
    let pid = listener_pid(&db, &channel).await;
    kill(&db, pid).await;
    db.aio().notify(&channel, "while down").await.unwrap();
    let mut recv = || tokio::task::block_in_place(|| listener.recv_timeout(WAIT)).unwrap();
    assert_eq!(recv(), Some(ListenEvent::Reconnected));
    db.aio().notify(&channel, "blocking after").await.unwrap();
    match recv() {
        Some(ListenEvent::Notification(n)) => assert_eq!(n.payload(), "blocking after"),
        other => panic!("{other:?}"),
    }
}

/// A TCP relay to `target` that the test can cut (closing every relayed
/// connection and refusing new ones) and restore.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = socket.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connect fails
                }
                let (target, cut) = (target.clone(), cut2.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        Relay { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_gives_errors_and_the_listener_recovers() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    let target = format!("127.0.0.1:{}", parsed.port().unwrap());
    let relay = Relay::start(target).await;
    let relayed = url.replacen(
        &format!(":{}/", parsed.port().unwrap()),
        &format!(":{}/", relay.port),
        1,
    );
    let through = Database::builder(&relayed)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let channel = unique("relay");
    let mut listener = through.aio().listen([channel.as_str()]).await.unwrap();
    db.aio().notify(&channel, "1").await.unwrap();
    assert_eq!(notification(&mut listener).await.payload(), "1");

    relay.cut();
    // Each failed attempt is an error item; the stream goes on.
    for _ in 0..3 {
        let err = next(&mut listener).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    }
    // A channel added while the server is out of reach is listened to
    // once it is back.
    let added = unique("added");
    listener.listen(&added).await.unwrap();
    relay.restore();
    assert_eq!(next(&mut listener).await.unwrap(), ListenEvent::Reconnected);
    db.aio().notify(&channel, "2").await.unwrap();
    assert_eq!(notification(&mut listener).await.payload(), "2");
    db.aio().notify(&added, "3").await.unwrap();
    let n = notification(&mut listener).await;
    assert_eq!((n.channel(), n.payload()), (added.as_str(), "3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_listeners_at_once_each_hear_every_notification() {
    let Some(url) = pg_url() else { return };
    let db = Database::open(&url).unwrap();
    let channel = unique("many");
    let mut tasks = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(16);
    for _ in 0..8 {
        let (db, channel, ready) = (db.clone(), channel.clone(), ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut listener = db.aio().listen([channel]).await.unwrap();
            ready.send(()).await.unwrap();
            let mut got = Vec::new();
            while got.len() < 20 {
                got.push(notification(&mut listener).await.payload().to_owned());
            }
            got
        }));
    }
    for _ in 0..8 {
        ready_rx.recv().await.unwrap();
    }
    // Senders on both halves at once.
    let sync_db = db.clone();
    let chan = channel.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        for i in 0..10 {
            sync_db.sync().notify(&chan, &format!("s{i}")).unwrap();
        }
    });
    for i in 0..10 {
        db.aio().notify(&channel, &format!("a{i}")).await.unwrap();
    }
    blocking.await.unwrap();
    for task in tasks {
        let mut got = task.await.unwrap();
        got.sort();
        let mut want: Vec<String> = (0..10)
            .flat_map(|i| [format!("a{i}"), format!("s{i}")])
            .collect();
        want.sort();
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn other_backends_refuse_before_any_io() {
    for url in common::non_postgres_urls() {
        let db = Database::open(&url).unwrap();
        assert_eq!(
            db.aio().listen(["a"]).await.unwrap_err().kind(),
            ErrorKind::Usage
        );
        assert_eq!(
            db.sync().listen(["a"]).unwrap_err().kind(),
            ErrorKind::Usage
        );
        assert_eq!(
            db.aio().notify("a", "b").await.unwrap_err().kind(),
            ErrorKind::Usage
        );
        assert_eq!(
            db.sync().notify("a", "b").unwrap_err().kind(),
            ErrorKind::Usage
        );
    }
    // A channel name that cannot be one: Usage, before any I/O.
    let db = Database::open("postgres://u:p@127.0.0.1:1/db").unwrap();
    assert_eq!(
        db.aio().listen([""]).await.unwrap_err().kind(),
        ErrorKind::Usage
    );
}
