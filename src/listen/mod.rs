//! LISTEN/NOTIFY on PostgreSQL: a [`Listener`] (async, a `Stream`) and a
//! [`SyncListener`] (blocking, an `Iterator`) on a connection of their own,
//! outside the pools. A lost connection is replaced at the next poll: the
//! listener connects again, listens to its channels again, and yields
//! [`ListenEvent::Reconnected`] before anything it receives after, since
//! notifications sent while it was down are gone. A failed reconnect is an
//! `Err` item that does not end the stream: the next poll tries again,
//! after a pause that doubles up to [`MAX_PAUSE`].
//!
//! Other backends have no notifications: `listen` there is a `Usage` error
//! before any I/O (tests/listen.rs).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;

use crate::backend::{Backend, BoxFuture, NotifyConn};
use crate::error::{Error, ErrorKind, Result};
use crate::policy::Policy;

pub(crate) mod event;

pub use event::{ListenEvent, Notification};

/// The longest pause between two reconnect attempts.
pub const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The first pause after a failed reconnect; it doubles after each.
const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// An async listener: notifications on its channels as a `Stream`, from
/// [`AsyncDb::listen`](crate::AsyncDb::listen).
///
/// ```no_run
/// # async fn f(db: dualdb::Database) -> dualdb::Result<()> {
/// use dualdb::ListenEvent;
/// use futures::StreamExt;
///
/// let mut listener = db.aio().listen(["orders"]).await?;
/// db.aio().notify("orders", "42").await?;
/// while let Some(event) = listener.next().await {
///     match event? {
///         ListenEvent::Notification(n) => println!("order {}", n.payload()),
///         // Some may have been missed: look at the table itself.
///         ListenEvent::Reconnected => println!("re-reading pending orders"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Listener {
    backend: Arc<dyn Backend>,
    channels: Vec<String>,
    state: State,
    /// Received while a statement ran, or on the way to the caller.
    early: VecDeque<Notification>,
    /// The connection was lost: `Reconnected` is owed once it is back.
    lost: bool,
    failures: u32,
}

enum State {
    Connected(Box<dyn NotifyConn>),
    Connecting(BoxFuture<'static, Result<Connected>>),
    Pausing(Pin<Box<tokio::time::Sleep>>),
}

/// A connection listening to its channels, and what arrived meanwhile.
struct Connected {
    conn: Box<dyn NotifyConn>,
    early: VecDeque<Notification>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("channels", &self.channels)
            .field("connected", &matches!(self.state, State::Connected(_)))
            .finish()
    }
}

/// `LISTEN` (or `UNLISTEN`) of `channel`, its name quoted as written: a
/// channel is the text `pg_notify` takes, case and all.
fn statement(verb: &str, channel: &str) -> Result<String> {
    if channel.is_empty() || channel.contains('\0') {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{channel:?} is not a channel name"),
        ));
    }
    Ok(format!("{verb} \"{}\"", channel.replace('"', "\"\"")))
}

/// Connects and listens to `channels`.
async fn subscribe(backend: Arc<dyn Backend>, channels: Vec<String>) -> Result<Connected> {
    let connect = backend.connect_notify().ok_or_else(not_here)?;
    let mut conn = connect.await?;
    let mut early = VecDeque::new();
    if !channels.is_empty() {
        let sql = (channels.iter())
            .map(|c| statement("LISTEN", c))
            .collect::<Result<Vec<_>>>()?
            .join("; ");
        conn.run(&sql, &mut early).await?;
    }
    Ok(Connected { conn, early })
}

fn not_here() -> Error {
    Error::new(
        ErrorKind::Usage,
        "LISTEN/NOTIFY is PostgreSQL's: this backend has no notifications",
    )
}

impl Listener {
    pub(crate) async fn open(backend: Arc<dyn Backend>, channels: Vec<String>) -> Result<Self> {
        if backend.connect_notify().is_none() {
            return Err(not_here());
        }
        for c in &channels {
            statement("LISTEN", c)?;
        }
        let Connected { conn, early } = subscribe(backend.clone(), channels.clone()).await?;
        Ok(Listener {
            backend,
            channels,
            state: State::Connected(conn),
            early,
            lost: false,
            failures: 0,
        })
    }

    /// The channels listened to.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// Listens to one more channel. While the connection is down, the
    /// channel is listened to when it is back.
    pub async fn listen(&mut self, channel: &str) -> Result<()> {
        let sql = statement("LISTEN", channel)?;
        if self.channels.iter().any(|c| c == channel) {
            return Ok(());
        }
        self.channels.push(channel.to_owned());
        match &mut self.state {
            State::Connected(conn) => {
                if let Err(e) = conn.run(&sql, &mut self.early).await {
                    self.channels.pop();
                    return Err(e);
                }
            }
            // The attempt under way listens to the channels it was given:
            // start it again with this one.
            State::Connecting(_) => self.reconnect(),
            State::Pausing(_) => {}
        }
        Ok(())
    }

    /// Stops listening to a channel (nothing if it was not listened to).
    pub async fn unlisten(&mut self, channel: &str) -> Result<()> {
        let sql = statement("UNLISTEN", channel)?;
        if let State::Connected(conn) = &mut self.state {
            conn.run(&sql, &mut self.early).await?;
        }
        self.channels.retain(|c| c != channel);
        if let State::Connecting(_) = self.state {
            self.reconnect();
        }
        self.early.retain(|n| n.channel != channel);
        Ok(())
    }

    fn reconnect(&mut self) {
        let fut = subscribe(self.backend.clone(), self.channels.clone());
        self.state = State::Connecting(Box::pin(fut));
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<ListenEvent>> {
        loop {
            if let State::Connected(_) = self.state {
                if std::mem::take(&mut self.lost) {
                    return Poll::Ready(Ok(ListenEvent::Reconnected));
                }
                if let Some(n) = self.early.pop_front() {
                    return Poll::Ready(Ok(ListenEvent::Notification(n)));
                }
            }
            match &mut self.state {
                State::Connected(conn) => match ready!(conn.poll_notification(cx)) {
                    Ok(n) => return Poll::Ready(Ok(ListenEvent::Notification(n))),
                    Err(_) => {
                        tracing::debug!(target: "dualdb::listen", "LISTEN connection lost; reconnecting");
                        self.lost = true;
                        self.reconnect();
                    }
                },
                State::Connecting(fut) => match ready!(fut.as_mut().poll(cx)) {
                    Ok(Connected { conn, early }) => {
                        self.failures = 0;
                        self.early.extend(early);
                        self.state = State::Connected(conn);
                    }
                    Err(e) => {
                        self.failures = self.failures.saturating_add(1);
                        let pause = FIRST_PAUSE
                            .saturating_mul(1 << self.failures.min(16))
                            .min(MAX_PAUSE);
                        self.state = State::Pausing(Box::pin(tokio::time::sleep(pause)));
                        return Poll::Ready(Err(e));
                    }
                },
                State::Pausing(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    self.reconnect();
                }
            }
        }
    }
}

impl Stream for Listener {
    type Item = Result<ListenEvent>;

    /// Never ends: a lost connection is replaced, and a failed attempt to
    /// replace it is an `Err` item after which the stream goes on.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx).map(Some)
    }
}

/// A blocking listener: notifications on its channels as an `Iterator`,
/// from [`SyncDb::listen`](crate::SyncDb::listen). It drives its connection
/// on a runtime of its own, so it works in any thread; like every blocking
/// call, each wait counts under [`SyncCheck`](crate::SyncCheck).
///
/// ```no_run
/// # fn f(db: dualdb::Database) -> dualdb::Result<()> {
/// use std::time::Duration;
/// use dualdb::ListenEvent;
///
/// let mut listener = db.sync().listen(["orders"])?;
/// db.sync().notify("orders", "42")?;
/// if let Some(ListenEvent::Notification(n)) = listener.recv_timeout(Duration::from_secs(1))? {
///     assert_eq!(n.payload(), "42");
/// }
/// # Ok(()) }
/// ```
pub struct SyncListener {
    inner: Listener,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    policy: Arc<Policy>,
}

impl Drop for SyncListener {
    /// Never waits: dropping a runtime the usual way inside another one
    /// panics, and the connection has nothing to finish.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for SyncListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncListener")
            .field("inner", &self.inner)
            .finish()
    }
}

impl SyncListener {
    pub(crate) fn open(
        backend: Arc<dyn Backend>,
        channels: Vec<String>,
        policy: Arc<Policy>,
    ) -> Result<Self> {
        if backend.connect_notify().is_none() {
            return Err(not_here());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Connect, "cannot start a runtime for a listener")
                    .with_source(e)
            })?;
        let opened =
            crate::runtime::run_blocking(|| runtime.block_on(Listener::open(backend, channels)));
        let inner = match opened {
            Ok(inner) => inner,
            Err(e) => {
                // Never the usual drop: this thread may be in a runtime.
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(SyncListener {
            inner,
            runtime: Some(runtime),
            policy,
        })
    }

    /// The channels listened to.
    pub fn channels(&self) -> &[String] {
        self.inner.channels()
    }

    fn parts(&mut self) -> Result<(&mut Listener, &tokio::runtime::Runtime)> {
        match &self.runtime {
            Some(runtime) => Ok((&mut self.inner, runtime)),
            None => Err(Error::new(ErrorKind::Usage, "the listener is closed")),
        }
    }

    /// Listens to one more channel.
    #[track_caller]
    pub fn listen(&mut self, channel: &str) -> Result<()> {
        self.policy.check("listen")?;
        let (inner, runtime) = self.parts()?;
        crate::runtime::run_blocking(|| runtime.block_on(inner.listen(channel)))
    }

    /// Stops listening to a channel.
    #[track_caller]
    pub fn unlisten(&mut self, channel: &str) -> Result<()> {
        self.policy.check("unlisten")?;
        let (inner, runtime) = self.parts()?;
        crate::runtime::run_blocking(|| runtime.block_on(inner.unlisten(channel)))
    }

    /// Waits for the next event. An `Err` (a failed reconnect) does not
    /// end the listener: call again to retry.
    #[track_caller]
    pub fn recv(&mut self) -> Result<ListenEvent> {
        self.policy.check("recv")?;
        let (inner, runtime) = self.parts()?;
        crate::runtime::run_blocking(|| {
            runtime.block_on(std::future::poll_fn(|cx| inner.poll_event(cx)))
        })
    }

    /// Waits at most `timeout` for the next event: `None` if none came.
    #[track_caller]
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ListenEvent>> {
        self.policy.check("recv_timeout")?;
        let (inner, runtime) = self.parts()?;
        crate::runtime::run_blocking(|| {
            runtime.block_on(async {
                let next = std::future::poll_fn(|cx| inner.poll_event(cx));
                match tokio::time::timeout(timeout, next).await {
                    Ok(event) => event.map(Some),
                    Err(_) => Ok(None),
                }
            })
        })
    }
}

impl Iterator for SyncListener {
    type Item = Result<ListenEvent>;

    /// [`recv`](SyncListener::recv): never `None`.
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.recv())
    }
}
