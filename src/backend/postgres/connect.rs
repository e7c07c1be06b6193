//! Connecting to PostgreSQL, for both halves: the driver's config from
//! dualdb's, TLS, the whole attempt under the connect deadline, and the
//! error that names where it tried.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio_postgres::NoTls;

use super::client::{PgClient, describe};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

pub(crate) struct PgBackend {
    config: tokio_postgres::Config,
    /// Where connections go, for connect errors: `host:port`, comma-separated.
    targets: String,
    /// Stale plans seen on this backend's connections ([`PgClient::schema`]).
    schema: Arc<AtomicU64>,
    connect_timeout: std::time::Duration,
    cache_size: usize,
    /// `prepared_statements`: false sends statements unnamed.
    prepared: bool,
    /// Set unless the TLS mode is `Disable`.
    #[cfg(feature = "tls")]
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgBackend {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let mut pg: tokio_postgres::Config = config.url.expose().parse().map_err(|e| {
            Error::config(format!(
                "invalid PostgreSQL URL {}: {e}",
                crate::config::redact(config.url.expose())
            ))
        })?;
        pg.connect_timeout(config.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("dualdb");
        }
        if let Some(t) = config.statement_timeout {
            let mut options = pg.get_options().unwrap_or_default().to_owned();
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c statement_timeout={}", t.as_millis().max(1)));
            pg.options(&options);
        }
        #[cfg(feature = "tls")]
        let tls = {
            use crate::config::TlsMode;
            use tokio_postgres::config::SslMode;
            match config.tls.mode() {
                TlsMode::Disable => None,
                mode => {
                    // `Prefer` falls back to plain text where the server
                    // refuses TLS; the others fail the connect.
                    pg.ssl_mode(match mode {
                        TlsMode::Prefer => SslMode::Prefer,
                        _ => SslMode::Require,
                    });
                    Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                        crate::tls::verify::client_config(&config.tls)?,
                    ))
                }
            }
        };
        Ok(PgBackend {
            targets: targets(&pg),
            schema: Arc::new(AtomicU64::new(0)),
            connect_timeout: config.connect_timeout,
            config: pg,
            cache_size: config.statement_cache_size,
            prepared: config.prepared_statements,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

/// `host:port` of each host the config names, comma-separated.
fn targets(pg: &tokio_postgres::Config) -> String {
    let ports = pg.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = (pg.get_hosts().iter().enumerate())
        .map(|(i, h)| match h {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{}", port(i)),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => format!("{}", path.display()),
        })
        .collect();
    if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(", ")
    }
}

impl PgBackend {
    /// A connect failure: `Connect`, naming where it tried, with the
    /// server's code if it answered, and the driver's error as the source.
    fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        let (_, message, code) = describe(&e);
        let out = Error::new(
            ErrorKind::Connect,
            format!(
                "cannot connect to PostgreSQL at {}: {message}",
                self.targets
            ),
        );
        match code {
            Some(c) => out.with_code(c).with_source(e),
            None => out.with_source(e),
        }
    }
}

/// A connection's I/O, to be polled until it ends (the client dropped or
/// the server gone): boxed, so that one type serves with TLS and without.
pub(super) type Driver =
    Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>>;

/// A connection's I/O as the stream of what the server sends unasked
/// (notifications, notices), polled by its owner: a LISTEN connection.
pub(super) type Messages = Pin<
    Box<
        dyn futures_core::Stream<
                Item = std::result::Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>,
            > + Send,
    >,
>;

/// What a new connection's I/O becomes, whichever stream type TLS gave it.
pub(super) trait Wrap {
    type Io;
    fn wrap<T>(connection: tokio_postgres::Connection<tokio_postgres::Socket, T>) -> Self::Io
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
}

/// I/O driven to its end by a task or a runtime of its own.
pub(super) struct AsDriver;

impl Wrap for AsDriver {
    type Io = Driver;
    fn wrap<T>(connection: tokio_postgres::Connection<tokio_postgres::Socket, T>) -> Driver
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        Box::pin(connection)
    }
}

/// I/O polled message by message.
pub(super) struct AsMessages;

impl Wrap for AsMessages {
    type Io = Messages;
    fn wrap<T>(connection: tokio_postgres::Connection<tokio_postgres::Socket, T>) -> Messages
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        Box::pin(MessageStream(Box::new(connection)))
    }
}

/// `Connection::poll_message` as a stream (boxed: the connection need not
/// be `Unpin`).
struct MessageStream<T>(Box<tokio_postgres::Connection<tokio_postgres::Socket, T>>);

impl<T> futures_core::Stream for MessageStream<T>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    type Item = std::result::Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_message(cx)
    }
}

impl PgBackend {
    /// Connects: the client, and the I/O that the caller must drive. The
    /// whole attempt (TCP, TLS, start-up) ends by the connect timeout: the
    /// driver's own covers only the TCP connect.
    pub(super) async fn open(&self) -> Result<(tokio_postgres::Client, Driver)> {
        self.open_as::<AsDriver>().await
    }

    /// [`open`](Self::open), the I/O wrapped by `W`.
    pub(super) async fn open_as<W: Wrap>(&self) -> Result<(tokio_postgres::Client, W::Io)> {
        crate::backend::connect_within(self.connect_timeout, async {
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.tls {
                let (client, connection) =
                    (self.config.connect(tls.clone()).await).map_err(|e| self.connect_error(e))?;
                return Ok((client, W::wrap(connection)));
            }
            let (client, connection) =
                (self.config.connect(NoTls).await).map_err(|e| self.connect_error(e))?;
            Ok((client, W::wrap(connection)))
        })
        .await
    }

    /// `client` with an empty statement cache of this backend's size.
    pub(super) fn client(&self, client: tokio_postgres::Client) -> PgClient {
        PgClient::new(client, self.cache_size, self.schema.clone(), self.prepared)
    }
}
