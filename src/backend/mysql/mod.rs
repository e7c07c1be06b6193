//! MySQL and MariaDB through `mysql` (blocking) and `mysql_async` (async).
//!
//! Both crates share `mysql_common` (its `Value`, `Row` and `Params`), so the
//! value conversion, the row decoding and the error mapping below serve both
//! halves. Statements go through the binary protocol, prepared once per
//! connection (see [`Prepared`]). The blocking half never touches
//! `mysql_async`: its pool task would die with whichever runtime first ran it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use mysql_common::params::Params;
use mysql_common::value::Value as MyValue;

use super::{AsyncConn, Backend, BoxFuture, StmtCache, SyncConn};
use crate::backend::DriverRow;
use crate::config::{BackendKind, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::placeholders::{check_count, hint};
use crate::plan::{RowSink, next_row};
use crate::row::Row;
use crate::statement::{ExecResult, SqlText, Stmt};
use crate::types::temporal;
use crate::value::Value;

mod cursor;
pub(crate) mod row;
#[cfg(feature = "tls")]
mod tls;

pub(crate) struct MyBackend {
    /// The driver options for each host of the URL (`h1:p1,h2:p2`).
    hosts: Vec<HostOpts>,
    /// Where the next connection goes first: connections are spread over
    /// the hosts in turn, and a host that refuses is skipped.
    next: AtomicUsize,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
    cache_size: usize,
    /// Holds what the TLS options refer to (the system roots' file).
    #[cfg(feature = "tls")]
    _tls: Option<tls::MyTls>,
}

/// One host's driver options, blocking and async.
struct HostOpts {
    sync: mysql::Opts,
    aio: mysql_async::Opts,
    /// `TlsMode::Prefer`: the same options without TLS, for a server that
    /// offers none.
    plain: Option<(mysql::Opts, mysql_async::Opts)>,
    /// `TlsMode::VerifyCa`, async half: `aio` with the name the server's
    /// certificate carries, once learned (`tls::name_in_certificate`).
    #[cfg(feature = "tls")]
    aio_named: std::sync::Mutex<Option<mysql_async::Opts>>,
    #[cfg(feature = "tls")]
    verify_ca: Option<mysql_async::SslOpts>,
}

impl MyBackend {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        #[cfg(feature = "tls")]
        let tls = tls::MyTls::new(&config.tls)?;
        let hosts = crate::config::split_hosts(config.url.expose())
            .iter()
            .map(|url| {
                host_opts(
                    url,
                    config,
                    #[cfg(feature = "tls")]
                    tls.as_ref(),
                )
            })
            .collect::<Result<_>>()?;
        Ok(MyBackend {
            #[cfg(feature = "tls")]
            _tls: tls,
            hosts,
            next: AtomicUsize::new(0),
            connect_timeout: config.connect_timeout,
            statement_timeout: config.statement_timeout,
            cache_size: config.statement_cache_size,
        })
    }

    /// The hosts in the order the next connection tries them.
    fn hosts_in_turn(&self) -> impl Iterator<Item = &HostOpts> {
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(move |k| &self.hosts[(start + k) % n])
    }
}

/// The blocking and async driver options for one host's URL.
fn host_opts(
    url: &str,
    config: &Config,
    #[cfg(feature = "tls")] tls: Option<&tls::MyTls>,
) -> Result<HostOpts> {
    // mysql_async and mysql know only the `mysql` scheme.
    let url = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
            format!("mysql://{rest}")
        }
        _ => url.to_owned(),
    };
    let bad_url = |e: &dyn std::fmt::Display| {
        Error::config(format!(
            "invalid MySQL URL {}: {e}",
            crate::config::redact(&url)
        ))
    };
    let sync_opts = mysql::Opts::from_url(&url).map_err(|e| bad_url(&e))?;
    // The read and write timeouts bound each step of the handshake, which
    // the TCP connect timeout does not cover (a server that accepts and
    // never answers); they are lifted once connected (`no_io_timeouts`).
    let sync_opts = mysql::OptsBuilder::from_opts(sync_opts)
        .tcp_connect_timeout(Some(config.connect_timeout))
        .read_timeout(Some(config.connect_timeout))
        .write_timeout(Some(config.connect_timeout))
        .stmt_cache_size(config.statement_cache_size);
    let async_opts = mysql_async::Opts::from_url(&url).map_err(|e| bad_url(&e))?;
    let async_opts = mysql_async::OptsBuilder::from_opts(async_opts)
        .stmt_cache_size(config.statement_cache_size);
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        // TLS applies to TCP only: never switch to the local socket.
        let (sync_opts, async_opts) = (
            sync_opts.prefer_socket(false),
            async_opts.prefer_socket(false),
        );
        let plain = (tls.mode == crate::config::TlsMode::Prefer)
            .then(|| (sync_opts.clone().into(), async_opts.clone().into()));
        return Ok(HostOpts {
            sync: sync_opts.ssl_opts(Some(tls.sync.clone())).into(),
            aio: async_opts.ssl_opts(Some(tls.aio.clone())).into(),
            plain,
            aio_named: std::sync::Mutex::new(None),
            verify_ca: (tls.mode == crate::config::TlsMode::VerifyCa).then(|| tls.aio.clone()),
        });
    }
    Ok(HostOpts {
        sync: sync_opts.into(),
        aio: async_opts.into(),
        plain: None,
        #[cfg(feature = "tls")]
        aio_named: std::sync::Mutex::new(None),
        #[cfg(feature = "tls")]
        verify_ca: None,
    })
}

/// What every session starts with, tried in turn until the server knows
/// the variables (error 1193 for one it does not):
///
/// - UTC as the session's time zone: then `TIMESTAMP` columns and `NOW()`
///   agree with the instants dualdb reads and writes, which are UTC (a
///   `DateTime<Utc>` is sent as its UTC wall time); in a session in another
///   zone the server converts a `TIMESTAMP` from and to that zone's wall
///   time, and each read or write came out that zone's offset away
///   (tests/types.rs,
///   `timestamps_are_the_same_instants_whatever_the_servers_time_zone`);
/// - `STRICT_TRANS_TABLES` added to the server's `sql_mode`: without it a
///   value too long or out of range for its column is cut or clamped with
///   a warning, and the statement succeeds (tests/bad_input.rs,
///   `values_that_do_not_fit_are_errors_even_on_a_lenient_server`);
/// - no limit on a recursive common table expression's rounds (MariaDB's
///   variable, then MySQL's): MariaDB stops one after 1,000 rounds and
///   returns the rows found so far with only a warning, MySQL fails it, and
///   PostgreSQL and SQLite set no limit. A tree walk
///   ([`Select::with_descendants`](crate::Select::with_descendants)) ends
///   on its own, as it joins its rounds by `UNION` (tests/queries/trees.rs,
///   `a_chain_deeper_than_the_servers_default_is_walked_whole`);
/// - the statement timeout, if one is set (MariaDB's variable, then MySQL's).
///
/// `after_connect` statements run after these, and may set either back.
fn session_statements(timeout: Option<Duration>) -> Vec<String> {
    const START: &str = "SET SESSION time_zone = '+00:00', \
                         sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_TRANS_TABLES')";
    const MARIADB: &str = "max_recursive_iterations = 4294967295";
    const MYSQL: &str = "cte_max_recursion_depth = 4294967295";
    match timeout {
        None => vec![
            format!("{START}, {MARIADB}"),
            format!("{START}, {MYSQL}"),
            START.to_string(),
        ],
        Some(t) => vec![
            format!(
                "{START}, {MARIADB}, max_statement_time = {}",
                t.as_secs_f64()
            ),
            format!(
                "{START}, {MYSQL}, max_execution_time = {}",
                t.as_millis().max(1)
            ),
            START.to_string(),
        ],
    }
}

const UNKNOWN_SYSTEM_VARIABLE: &str = "1193";

/// Read when a session starts (connected, reset, or its `after_connect`
/// statements run): the most bytes one packet to the server may hold; the
/// step between the keys one multi-row insert generates (1 unless a
/// replication setup or Galera says otherwise), as an insert's keys are its
/// first key plus steps of it (tests/models.rs,
/// `insert_many_keys_follow_the_servers_increment`); and whether Galera sets
/// that step (`wsrep_auto_increment_control`), which it changes in open
/// sessions when the cluster gains or loses a node: then the step is read
/// again after each insert that generated several keys ([`STEP`];
/// tests/galera.rs reads the keys back after a node is killed).
const SESSION: &str = "SELECT @@max_allowed_packet, @@auto_increment_increment, \
                       @@wsrep_on AND @@wsrep_auto_increment_control";

/// [`SESSION`] for a server without Galera's variables (MySQL, error 1193).
const SESSION_PLAIN: &str = "SELECT @@max_allowed_packet, @@auto_increment_increment, 0";

/// The step alone, read again where Galera may have changed it.
const STEP: &str = "SELECT @@auto_increment_increment";

/// What [`SESSION`] read.
#[derive(Clone, Copy)]
struct Session {
    max_packet: u64,
    id_step: u64,
    /// Galera sets `id_step`, and may change it in an open session.
    cluster_step: bool,
    /// [`SESSION`], or [`SESSION_PLAIN`] once the server did not know it.
    sql: &'static str,
}

impl Session {
    const START: Session = Session {
        max_packet: u64::MAX,
        id_step: 1,
        cluster_step: false,
        sql: SESSION,
    };

    fn read(&mut self, (max_packet, step, cluster): (u64, u64, u64)) {
        (self.max_packet, self.id_step) = (max_packet, step.max(1));
        self.cluster_step = cluster != 0;
    }

    /// Whether `e`, [`SESSION`]'s error, means a server without Galera's
    /// variables: [`SESSION_PLAIN`] is read instead, from then on.
    fn falls_back(&mut self, e: &Error) -> bool {
        let plain = self.sql == SESSION && e.code() == Some(UNKNOWN_SYSTEM_VARIABLE);
        if plain {
            self.sql = SESSION_PLAIN;
        }
        plain
    }

    /// Whether an insert's result needs the step read again ([`STEP`]).
    fn step_may_have_moved(&self, done: &ExecResult) -> bool {
        self.cluster_step && done.rows_affected > 1 && done.last_insert_id.is_some()
    }
}

/// A connect failure: `Connect`, naming where it tried, with the server's
/// code if it answered (the caller adds the driver's error as the source).
fn connect_error(target: &str, err: &Error) -> Error {
    let out = Error::new(
        ErrorKind::Connect,
        format!("cannot connect to MySQL at {target}: {}", err.message()),
    );
    match err.code() {
        Some(c) => out.with_code(c),
        None => out,
    }
}

/// The error of a server that offers no TLS where the mode requires it.
fn no_tls() -> Error {
    Error::new(
        ErrorKind::Connect,
        "the server does not offer TLS, which the TLS mode requires",
    )
}

/// Where a host's options connect: `host:port`, or the socket path.
fn target(host: &str, port: u16, socket: Option<&str>) -> String {
    match socket {
        Some(path) => path.to_owned(),
        None => format!("{host}:{port}"),
    }
}

/// Lifts the read and write timeouts the handshake ran under: statements
/// may take as long as they take (or the statement timeout).
#[cfg(unix)]
fn no_io_timeouts(conn: &mysql::Conn) -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    // SAFETY: the descriptor is the connection's open socket, borrowed for
    // the two calls below while `conn` is alive.
    let fd = unsafe { BorrowedFd::borrow_raw(conn.as_raw_fd()) };
    let socket = socket2::SockRef::from(&fd);
    socket.set_read_timeout(None)?;
    socket.set_write_timeout(None)
}

impl Backend for MyBackend {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        let mut last = None;
        for host in self.hosts_in_turn() {
            match self.connect_sync_to(host) {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config("a MySQL URL with no host")))
    }

    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>> {
        Box::pin(async move {
            let mut last = None;
            for host in self.hosts_in_turn() {
                match self.connect_async_to(host).await {
                    Ok(conn) => return Ok(conn),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| Error::config("a MySQL URL with no host")))
        })
    }
}

impl MyBackend {
    fn connect_sync_to(&self, host: &HostOpts) -> Result<Box<dyn SyncConn>> {
        let opts = &host.sync;
        let target = target(
            &opts.get_ip_or_hostname(),
            opts.get_tcp_port(),
            opts.get_socket(),
        );
        let failed = |e: Error| connect_error(&target, &e);
        let conn = match (mysql::Conn::new(opts.clone()), &host.plain) {
            // `Prefer`, and the server offers no TLS (tests/tls.rs).
            (Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)), Some(plain)) => {
                mysql::Conn::new(plain.0.clone())
            }
            (tried, _) => tried,
        }
        .map_err(|e| {
            let plain = match e {
                mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => no_tls(),
                _ => sync_error_plain(&e),
            };
            connect_error(&target, &plain).with_source(e)
        })?;
        let mut conn = MySync {
            held: cursor::Held::new(conn),
            broken: false,
            prepared: Prepared::new(self.cache_size),
            session: Session::START,
            statement_timeout: self.statement_timeout,
        };
        conn.read_session().map_err(failed)?;
        conn.set_up().map_err(failed)?;
        #[cfg(unix)]
        no_io_timeouts(conn.conn()?).map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("cannot connect to MySQL at {target}: {e}"),
            )
            .with_source(e)
        })?;
        Ok(Box::new(conn))
    }

    async fn connect_async_to(&self, host: &HostOpts) -> Result<Box<dyn AsyncConn>> {
        let opts = &host.aio;
        let target = target(opts.ip_or_hostname(), opts.tcp_port(), opts.socket());
        let failed = |e: Error| connect_error(&target, &e);
        #[cfg(feature = "tls")]
        let first_opts = (host.aio_named.lock().map(|o| o.clone()).unwrap_or(None))
            .unwrap_or_else(|| opts.clone());
        #[cfg(not(feature = "tls"))]
        let first_opts = opts.clone();
        let connect = async {
            let first = mysql_async::Conn::new(first_opts).await;
            #[cfg(feature = "tls")]
            let first = match (&first, &host.verify_ca) {
                (Err(e), Some(ssl)) => match tls::name_in_certificate(e) {
                    Some(name) => {
                        let ssl = ssl.clone().with_danger_tls_hostname_override(Some(name));
                        let named: mysql_async::Opts =
                            mysql_async::OptsBuilder::from_opts(opts.clone())
                                .ssl_opts(Some(ssl))
                                .into();
                        let again = mysql_async::Conn::new(named.clone()).await;
                        if again.is_ok()
                            && let Ok(mut slot) = host.aio_named.lock()
                        {
                            *slot = Some(named);
                        }
                        again
                    }
                    None => first,
                },
                _ => first,
            };
            match (first, &host.plain) {
                // `Prefer`, and the server offers no TLS (tests/tls.rs).
                (
                    Err(mysql_async::Error::Driver(
                        mysql_async::DriverError::NoClientSslFlagFromServer,
                    )),
                    Some(plain),
                ) => mysql_async::Conn::new(plain.1.clone()).await,
                (tried, _) => tried,
            }
        };
        let conn = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Connect,
                    format!(
                        "cannot connect to MySQL at {target}: connect timed out after {:?}",
                        self.connect_timeout
                    ),
                )
            })?
            .map_err(|e| {
                let plain = match e {
                    mysql_async::Error::Driver(
                        mysql_async::DriverError::NoClientSslFlagFromServer,
                    ) => no_tls(),
                    _ => async_error_plain(&e),
                };
                connect_error(&target, &plain).with_source(e)
            })?;
        let mut conn = MyAsync {
            held: cursor::Held::new(conn),
            unclosed: Vec::new(),
            broken: false,
            prepared: Prepared::new(self.cache_size),
            session: Session::START,
            statement_timeout: self.statement_timeout,
            runtime: RuntimeAlive::here(),
        };
        conn.read_session().await.map_err(failed)?;
        conn.set_up().await.map_err(failed)?;
        Ok(Box::new(conn) as Box<dyn AsyncConn>)
    }
}

/// The parameters as `mysql_common` wants them, or the error of one that
/// MySQL has no form for, or of more than the server takes
/// ([`sendable`]). A query keeps its values (a statement the server no
/// longer knows runs once more with them): its text is copied.
fn params(values: &[Value], max_packet: u64) -> Result<Params> {
    if values.is_empty() {
        return Ok(Params::Empty);
    }
    // Checked first, then collected from an iterator of known length: a
    // fallible collect cannot size its vector and grows it.
    Value::check_all(values, BackendKind::Mysql)?;
    sendable(values, max_packet)?;
    Ok(Params::Positional(values.iter().map(to_mysql).collect()))
}

/// [`params`] moving the values: text and bytes go to the driver as they
/// are. A write's values (an insert's hundreds of texts) are not copied:
/// that copy doubled the allocations of an insert (benches/instructions,
/// the MySQL insert, guards it).
fn params_moved(values: crate::statement::Params, max_packet: u64) -> Result<Params> {
    if values.is_empty() {
        return Ok(Params::Empty);
    }
    Value::check_all(&values, BackendKind::Mysql)?;
    sendable(&values, max_packet)?;
    let moved = |v: Value| match v {
        Value::Text(s) | Value::Json(s) => MyValue::Bytes(s.into_bytes()),
        Value::Bytes(b) => MyValue::Bytes(b),
        v => to_mysql(&v),
    };
    Ok(Params::Positional(values.into_iter().map(moved).collect()))
}

/// A `Usage` error, before they are sent, for values whose packet may be
/// larger than the server's `max_allowed_packet`: its header, and per value
/// a type, a length (at most 9 bytes) and its bytes (at most 48 for a
/// number, date or decimal). Sent, the server would close the connection,
/// and the driver report only a broken pipe.
#[inline]
fn sendable(values: &[Value], max_packet: u64) -> Result<()> {
    let bytes: usize = (values.iter())
        .map(|v| match v {
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 48,
        })
        .sum();
    let size = (12 + values.len() * (2 + 9) + bytes) as u64;
    if size <= max_packet {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Usage,
        format!(
            "the statement's values take {size} bytes, more than the server's \
             max_allowed_packet of {max_packet} bytes: raise it (SET GLOBAL \
             max_allowed_packet) or send less at once"
        ),
    ))
}

fn to_mysql(v: &Value) -> MyValue {
    let text = |s: String| MyValue::Bytes(s.into_bytes());
    match v {
        Value::Null => MyValue::NULL,
        Value::Bool(b) => MyValue::Int(i64::from(*b)),
        Value::I64(i) => MyValue::Int(*i),
        Value::F64(f) => MyValue::Double(*f),
        Value::Text(s) | Value::Json(s) => MyValue::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => MyValue::Bytes(b.clone()),
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => text(u.hyphenated().to_string()),
        Value::Numeric(n) => text(n.to_string()),
        Value::Date(d) => match civil(i64::from(*d) * temporal::MICROS_PER_DAY) {
            Some(date) => date,
            None => text(temporal::format_date(*d)),
        },
        Value::Time(t) => {
            let (days, micros) = temporal::split(t.abs());
            let (h, m, s, us) = temporal::clock(micros);
            match u32::try_from(days) {
                Ok(days) => MyValue::Time(*t < 0, days, h as u8, m as u8, s as u8, us),
                Err(_) => text(temporal::format_time(*t)),
            }
        }
        Value::Timestamp(t) | Value::TimestampTz(t) => match civil(*t) {
            Some(date) => date,
            None => text(temporal::format_timestamp(*t)),
        },
        // Refused by `Value::check` before this is reached.
        Value::Array(_) | Value::HStore(_) | Value::Unencodable(_) => MyValue::NULL,
    }
}

/// A MySQL `DATETIME` value, if the year is one MySQL has (0–9999).
fn civil(micros: i64) -> Option<MyValue> {
    let (days, time) = temporal::split(micros);
    let (y, m, d) = temporal::civil_from_days(days);
    let (h, mi, s, us) = temporal::clock(time);
    let y = u16::try_from(y).ok().filter(|y| *y <= 9999)?;
    Some(MyValue::Date(
        y, m as u8, d as u8, h as u8, mi as u8, s as u8, us,
    ))
}

fn counted(rows_affected: u64, last_insert_id: u64, id_step: u64) -> ExecResult {
    ExecResult {
        rows_affected,
        last_insert_id: (last_insert_id != 0).then_some(last_insert_id),
        id_step,
    }
}

/// A connection's prepared statements by SQL text, so that a statement run
/// again goes to the server without the driver parsing its SQL for named
/// parameters and looking it up in its own cache (benches/instructions, the
/// MySQL get, guards it). The drivers' own caches, of the same size, still own the
/// statements and close what they evict; since every statement is prepared
/// through this cache, which starts over when full, the ones it holds are
/// the ones the driver prepared last, which it keeps. A statement the server
/// no longer knows (error 1243, refused before anything ran) leaves the
/// cache, so that its next run prepares it anew; a query is run once more
/// at once, while a write, whose values went to the driver with the first
/// try, returns that error. With a cache size of 0 each statement is closed
/// after its run.
struct Prepared<S> {
    cache: StmtCache<S>,
}

/// `ER_UNKNOWN_STMT_HANDLER`: the server has no statement of that id.
const UNKNOWN_STATEMENT: u16 = 1243;

/// True for the server's refusal of a statement it no longer knows.
fn forgotten(e: &Error) -> bool {
    server_code(e) == Some(UNKNOWN_STATEMENT)
}

impl<S: Clone> Prepared<S> {
    fn new(capacity: usize) -> Self {
        Prepared {
            cache: StmtCache::new(capacity),
        }
    }

    fn get(&self, sql: &SqlText) -> Option<S> {
        self.cache.get(sql)
    }

    /// Keeps a statement just prepared; false if it is not kept (and must
    /// be closed after its run).
    fn keep(&mut self, sql: &SqlText, statement: &S) -> bool {
        self.cache.insert(sql, statement.clone());
        self.cache.keeps()
    }

    /// True if `out`, the outcome of a run of `sql`, is the server's
    /// refusal of a statement it no longer knows; the statement then leaves
    /// the cache, so that its next run prepares it anew.
    fn forgot<T>(&mut self, out: &Result<T>, sql: &SqlText) -> bool {
        let forgot = matches!(out, Err(e) if forgotten(e));
        if forgot {
            self.cache.remove(sql);
        }
        forgot
    }
}

struct MySync {
    /// The connection, lent to an open cursor's statement while one is
    /// open ([`cursor`]).
    held: cursor::Held<cursor::SyncLent>,
    /// Set after an I/O or protocol error: the connection is not reused.
    broken: bool,
    prepared: Prepared<mysql::Statement>,
    /// The session's `max_allowed_packet` and key step ([`SESSION`]).
    session: Session,
    statement_timeout: Option<Duration>,
}

impl MySync {
    /// Reads [`SESSION`]'s values.
    fn read_session(&mut self) -> Result<()> {
        use mysql::prelude::Queryable;
        let sql = self.session.sql;
        let read = self.conn()?.query_first(sql);
        let read = match self.check(read) {
            Err(e) if self.session.falls_back(&e) => {
                let read = self.conn()?.query_first(SESSION_PLAIN);
                self.check(read)?
            }
            read => read?,
        };
        if let Some(read) = read {
            self.session.read(read);
        }
        Ok(())
    }

    /// `done`, with the key step read again where Galera may have moved it.
    /// If that read fails, its error is returned, not keys that may be
    /// wrong (the insert itself stands, as after any error past a commit).
    fn with_step(&mut self, mut done: ExecResult) -> Result<ExecResult> {
        use mysql::prelude::Queryable;
        if self.session.step_may_have_moved(&done) {
            let read = self.conn()?.query_first::<u64, _>(STEP);
            if let Some(step) = self.check(read)? {
                self.session.id_step = step.max(1);
            }
            done.id_step = self.session.id_step;
        }
        Ok(done)
    }

    /// What every session of this connection starts with
    /// ([`session_statements`]): UTC, strict mode, and the statement timeout
    /// if one is set.
    fn set_up(&mut self) -> Result<()> {
        for sql in session_statements(self.statement_timeout) {
            match self.execute(Stmt::bare(sql)) {
                Err(e) if e.code() == Some(UNKNOWN_SYSTEM_VARIABLE) => continue,
                other => return other.map(drop),
            }
        }
        Ok(())
    }

    fn check<T>(&mut self, r: std::result::Result<T, mysql::Error>) -> Result<T> {
        r.map_err(|e| {
            self.broken |= e.is_connectivity_error();
            sync_error(e)
        })
    }

    /// Runs `run` with the prepared statement of `sql`, once more with it
    /// prepared anew if the server no longer knew it.
    fn with_statement<T>(
        &mut self,
        sql: &SqlText,
        mut run: impl FnMut(&mut Self, &mysql::Statement) -> Result<T>,
    ) -> Result<T> {
        match self.with_statement_once(sql, &mut run) {
            Err(e) if forgotten(&e) => self.with_statement_once(sql, run),
            out => out,
        }
    }

    /// Runs `run` once with the prepared statement of `sql`.
    fn with_statement_once<T>(
        &mut self,
        sql: &SqlText,
        run: impl FnOnce(&mut Self, &mysql::Statement) -> Result<T>,
    ) -> Result<T> {
        let (statement, kept) = self.statement(sql)?;
        let out = run(self, &statement);
        if !kept {
            self.close_statement(statement)?;
        }
        self.prepared.forgot(&out, sql);
        out
    }

    /// The prepared statement of `sql`, and whether the connection keeps
    /// it (else it is closed after its run: [`close_statement`](Self::close_statement)).
    #[inline]
    fn statement(&mut self, sql: &SqlText) -> Result<(mysql::Statement, bool)> {
        use mysql::prelude::Queryable;
        if let Some(s) = self.prepared.get(sql) {
            return Ok((s, true));
        }
        let r = self.conn()?.prep(sql.as_str());
        let s = (self.check(r)).map_err(|e| hint(sql, e))?;
        let kept = self.prepared.keep(sql, &s);
        Ok((s, kept))
    }

    fn close_statement(&mut self, statement: mysql::Statement) -> Result<()> {
        use mysql::prelude::Queryable;
        let r = self.conn()?.close(statement);
        self.check(r)
    }

    /// The connection, idle: a cursor still open is closed first.
    #[inline]
    fn conn(&mut self) -> Result<&mut mysql::Conn> {
        self.end_cursor();
        self.held.idle()
    }

    /// Runs `stmt` for a cursor, its rows then read by
    /// [`Held::read`](cursor::Held::read).
    fn open_once(&mut self, stmt: &Stmt) -> Result<()> {
        let (statement, kept) = self.statement(&stmt.sql)?;
        let out = params(&stmt.params, self.session.max_packet).and_then(|params| {
            let unkept = (!kept).then(|| statement.clone());
            let r = (self.held).lend(unkept, |conn| {
                cursor::SyncLent::open(conn, &statement, params)
            })?;
            self.check(r)
        });
        if out.is_err() && !kept {
            self.close_statement(statement)?;
        }
        self.prepared.forgot(&out, &stmt.sql);
        out
    }

    /// Closes the open cursor, if any, and its statement if the connection
    /// does not keep it.
    #[inline]
    fn end_cursor(&mut self) {
        if let Some(statement) = self.held.close() {
            let _ = self.close_statement(statement);
        }
    }
}

impl SyncConn for MySync {
    /// Run once: its values go to the driver (see [`Prepared`]).
    fn execute(&mut self, stmt: Stmt) -> Result<ExecResult> {
        use mysql::prelude::Queryable;
        if stmt.script {
            let step = self.session.id_step;
            let conn = self.conn()?;
            let r = conn.query_drop(&*stmt.sql);
            let done = counted(conn.affected_rows(), conn.last_insert_id(), step);
            self.check(r)?;
            return self.with_step(done);
        }
        check_count(BackendKind::Mysql, stmt.params.len())?;
        let done = self.with_statement_once(&stmt.sql, |c, statement| {
            let params = params_moved(stmt.params, c.session.max_packet)?;
            let step = c.session.id_step;
            let conn = c.conn()?;
            let r = conn.exec_drop(statement, params);
            let done = counted(conn.affected_rows(), conn.last_insert_id(), step);
            c.check(r).map(|()| done)
        })?;
        self.with_step(done)
    }
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        use mysql::prelude::Queryable;
        check_count(BackendKind::Mysql, stmt.params.len())?;
        self.with_statement(&stmt.sql, |c, statement| {
            let params = params(&stmt.params, c.session.max_packet)?;
            let mut broken = false;
            let mut fail = |e: mysql::Error| {
                broken |= e.is_connectivity_error();
                sync_error(e)
            };
            let out = (|| {
                // Rows the sink did not take are read and dropped when the
                // result goes: the connection comes back clean.
                let result = (c.conn()?)
                    .exec_iter(statement, params)
                    .map_err(&mut fail)?;
                let mut n = 0;
                for row in result {
                    sink.row(&mut Some(Row {
                        inner: DriverRow::My(row.map_err(&mut fail)?),
                    }))?;
                    n += 1;
                }
                Ok(n)
            })();
            c.broken |= broken;
            out
        })
    }
    fn open_cursor(&mut self, stmt: &Stmt) -> Result<()> {
        check_count(BackendKind::Mysql, stmt.params.len())?;
        self.end_cursor();
        match self.open_once(stmt) {
            Err(e) if forgotten(&e) => self.open_once(stmt),
            out => out,
        }
    }
    fn cursor_rows(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool> {
        let Some(lent) = self.held.lent() else {
            return Ok(true);
        };
        let broken = &mut self.broken;
        let out = lent.read(max, |row| {
            let row = row.map_err(|e| {
                *broken |= e.is_connectivity_error();
                sync_error(e)
            })?;
            sink.row(&mut Some(Row {
                inner: DriverRow::My(row),
            }))
        });
        if !matches!(out, Ok(false)) {
            self.end_cursor();
        }
        out
    }
    fn close_cursor(&mut self) {
        self.end_cursor();
    }
    /// A cursor its iterator left open is closed before the connection is
    /// lent again.
    fn is_usable(&mut self) -> bool {
        self.end_cursor();
        !self.broken && !self.held.is_gone()
    }
    fn ping(&mut self) -> Result<()> {
        let r = self.conn()?.ping();
        self.check(r)
    }
    fn session_changed(&mut self) -> Result<()> {
        self.read_session()
    }
    /// `COM_RESET_CONNECTION`: the server forgets the session's prepared
    /// statements too (the driver's cache is emptied; this one is here).
    fn reset_session(&mut self) -> Result<()> {
        let r = self.conn()?.reset();
        self.prepared = Prepared::new(self.prepared.cache.capacity());
        self.check(r)?;
        self.set_up()?;
        self.read_session()
    }
}

struct MyAsync {
    /// The connection, lent to an open cursor's statement while one is
    /// open ([`cursor`]).
    held: cursor::Held<cursor::AsyncLent>,
    /// Statements the cache did not keep whose cursors ended: closed
    /// before the connection's next statement (closing one is a round trip,
    /// which `close_cursor` cannot wait for).
    unclosed: Vec<mysql_async::Statement>,
    /// Set after an I/O or protocol error: the connection is not reused.
    broken: bool,
    prepared: Prepared<mysql_async::Statement>,
    /// The session's `max_allowed_packet` and key step ([`SESSION`]).
    session: Session,
    statement_timeout: Option<Duration>,
    /// Whether the runtime the connection was made on still runs: its
    /// socket is registered with that runtime's I/O driver, and fails on any
    /// other once it has shut down.
    runtime: RuntimeAlive,
}

/// Tells whether the Tokio runtime current when it was made still runs: a
/// task spawned there holds a token until the runtime shuts down (its
/// tasks are dropped then) or this is dropped (tests/runtime.rs
/// `the_async_half_outlives_the_runtime_that_made_its_connections`).
struct RuntimeAlive {
    token: std::sync::Weak<()>,
    /// Dropped with this: ends the task.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RuntimeAlive {
    fn here() -> Self {
        let token = std::sync::Arc::new(());
        let weak = std::sync::Arc::downgrade(&token);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _token = token;
            let _ = stopped.await;
        });
        RuntimeAlive {
            token: weak,
            _stop: stop,
        }
    }

    fn alive(&self) -> bool {
        self.token.strong_count() > 0
    }
}

impl MyAsync {
    /// [`MySync::read_session`], on the async half.
    async fn read_session(&mut self) -> Result<()> {
        use mysql_async::prelude::Queryable;
        let sql = self.session.sql;
        let read = self.conn()?.query_first(sql).await;
        let read = match self.check(read) {
            Err(e) if self.session.falls_back(&e) => {
                let read = self.conn()?.query_first(SESSION_PLAIN).await;
                self.check(read)?
            }
            read => read?,
        };
        if let Some(read) = read {
            self.session.read(read);
        }
        Ok(())
    }

    /// [`MySync::with_step`], on the async half.
    async fn with_step(&mut self, mut done: ExecResult) -> Result<ExecResult> {
        use mysql_async::prelude::Queryable;
        if self.session.step_may_have_moved(&done) {
            let read = self.conn()?.query_first::<u64, _>(STEP).await;
            if let Some(step) = self.check(read)? {
                self.session.id_step = step.max(1);
            }
            done.id_step = self.session.id_step;
        }
        Ok(done)
    }

    /// [`MySync::set_up`], on the async half.
    async fn set_up(&mut self) -> Result<()> {
        for sql in session_statements(self.statement_timeout) {
            match self.execute(Stmt::bare(sql)).await {
                Err(e) if e.code() == Some(UNKNOWN_SYSTEM_VARIABLE) => continue,
                other => return other.map(drop),
            }
        }
        Ok(())
    }

    fn check<T>(&mut self, r: std::result::Result<T, mysql_async::Error>) -> Result<T> {
        r.map_err(|e| {
            self.broken |= e.is_fatal();
            async_error(e)
        })
    }

    /// The connection, idle: a cursor still open is closed first.
    #[inline]
    fn conn(&mut self) -> Result<&mut mysql_async::Conn> {
        self.end_cursor();
        self.held.idle()
    }

    /// Closes the open cursor, if any; its statement, if the cache did not
    /// keep it, is closed before the next statement.
    #[inline]
    fn end_cursor(&mut self) {
        self.unclosed.extend(self.held.close());
    }

    /// Closes the statements [`unclosed`](Self::unclosed) holds.
    async fn close_unclosed(&mut self) -> Result<()> {
        while let Some(statement) = self.unclosed.pop() {
            self.done_with(statement, false).await?;
        }
        Ok(())
    }

    /// Sends `stmt` for a cursor, whose rows [`AsyncLent::poll_row`]
    /// then reads.
    async fn open_once(&mut self, stmt: &Stmt) -> Result<()> {
        let (statement, kept) = self.statement(&stmt.sql).await?;
        let unkept = (!kept).then(|| statement.clone());
        let params = match params(&stmt.params, self.session.max_packet) {
            Ok(params) => params,
            Err(e) => {
                self.unclosed.extend(unkept);
                return Err(e);
            }
        };
        let Ok(()) = (self.held).lend(unkept, |conn| {
            let lent = cursor::AsyncLent::open(conn, statement, params);
            Ok::<_, (_, std::convert::Infallible)>(lent)
        })?;
        let opened = std::future::poll_fn(|cx| match self.held.lent() {
            Some(lent) => lent.poll_open(cx),
            None => Poll::Ready(Ok(())),
        })
        .await;
        let out = self.check(opened);
        if out.is_err() {
            self.end_cursor();
        }
        self.prepared.forgot(&out, &stmt.sql);
        out
    }

    /// The prepared statement of `sql`, and whether the cache kept it.
    async fn statement(&mut self, sql: &SqlText) -> Result<(mysql_async::Statement, bool)> {
        use mysql_async::prelude::Queryable;
        self.end_cursor();
        if !self.unclosed.is_empty() {
            self.close_unclosed().await?;
        }
        if let Some(s) = self.prepared.get(sql) {
            return Ok((s, true));
        }
        let r = self.conn()?.prep(sql.as_str()).await;
        let s = (self.check(r)).map_err(|e| hint(sql, e))?;
        let kept = self.prepared.keep(sql, &s);
        Ok((s, kept))
    }

    /// Closes a statement the cache did not keep.
    async fn done_with(&mut self, statement: mysql_async::Statement, kept: bool) -> Result<()> {
        use mysql_async::prelude::Queryable;
        if kept {
            return Ok(());
        }
        let r = self.conn()?.close(statement).await;
        self.check(r)
    }

    async fn execute_once(
        &mut self,
        values: crate::statement::Params,
        statement: &mysql_async::Statement,
    ) -> Result<ExecResult> {
        use mysql_async::prelude::Queryable;
        let params = params_moved(values, self.session.max_packet)?;
        let step = self.session.id_step;
        let conn = self.conn()?;
        let r = conn.exec_drop(statement, params).await;
        let done = counted(
            conn.affected_rows(),
            conn.last_insert_id().unwrap_or(0),
            step,
        );
        self.check(r).map(|()| done)
    }

    async fn query_each_once(
        &mut self,
        stmt: &Stmt,
        statement: &mysql_async::Statement,
        sink: RowSink<'_>,
    ) -> Result<u64> {
        use mysql_async::prelude::Queryable;
        let params = params(&stmt.params, self.session.max_packet)?;
        let mut broken = false;
        let out = async {
            let mut fail = |e: mysql_async::Error| {
                broken |= e.is_fatal();
                async_error(e)
            };
            // Rows the sink did not take are dropped by mysql_async
            // before the connection's next statement.
            let mut result = (self.conn()?)
                .exec_iter(statement, params)
                .await
                .map_err(&mut fail)?;
            let mut n = 0;
            let paced = sink.paced();
            loop {
                let row = if paced {
                    let mut next = std::pin::pin!(result.next());
                    next_row(&mut *sink, |cx| next.as_mut().poll(cx)).await?
                } else {
                    result.next().await
                };
                let Some(row) = row.map_err(&mut fail)? else {
                    break;
                };
                sink.row(&mut Some(Row {
                    inner: DriverRow::My(row),
                }))?;
                n += 1;
            }
            Ok(n)
        }
        .await;
        self.broken |= broken;
        out
    }
}

impl AsyncConn for MyAsync {
    /// Run once: its values go to the driver (see [`Prepared`]).
    fn execute(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>> {
        Box::pin(async move {
            check_count(BackendKind::Mysql, stmt.params.len())?;
            let (statement, kept) = self.statement(&stmt.sql).await?;
            let out = self.execute_once(stmt.params, &statement).await;
            self.done_with(statement, kept).await?;
            self.prepared.forgot(&out, &stmt.sql);
            self.with_step(out?).await
        })
    }
    fn query_each<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            check_count(BackendKind::Mysql, stmt.params.len())?;
            let mut retried = false;
            loop {
                let (statement, kept) = self.statement(&stmt.sql).await?;
                let out = self.query_each_once(&stmt, &statement, &mut *sink).await;
                self.done_with(statement, kept).await?;
                if !self.prepared.forgot(&out, &stmt.sql) || retried {
                    return out;
                }
                retried = true;
            }
        })
    }
    fn open_cursor(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            check_count(BackendKind::Mysql, stmt.params.len())?;
            match self.open_once(&stmt).await {
                Err(e) if forgotten(&e) => self.open_once(&stmt).await,
                out => out,
            }
        })
    }
    fn poll_cursor(
        &mut self,
        cx: &mut std::task::Context<'_>,
        row: &mut Option<Row>,
    ) -> Poll<Option<Result<()>>> {
        let Some(lent) = self.held.lent() else {
            return Poll::Ready(None);
        };
        let next = match std::task::ready!(lent.poll_row(cx)) {
            Some(Ok(r)) => {
                *row = Some(Row {
                    inner: DriverRow::My(r),
                });
                return Poll::Ready(Some(Ok(())));
            }
            Some(Err(e)) => Some(self.check::<()>(Err(e))),
            None => None,
        };
        self.end_cursor();
        Poll::Ready(next)
    }
    /// The rest of its rows are read and dropped by the driver before the
    /// connection's next statement, as for any result dropped part-way.
    fn close_cursor(&mut self) {
        self.end_cursor();
    }
    /// A cursor its stream left open is closed before the connection is
    /// lent again.
    fn is_usable(&mut self) -> bool {
        self.end_cursor();
        !self.broken && !self.held.is_gone() && self.runtime.alive()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            use mysql_async::prelude::Queryable;
            let r = self.conn()?.ping().await;
            self.check(r)
        })
    }
    fn session_changed(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.read_session())
    }
    /// [`MySync::reset_session`], on the async half; a server that cannot
    /// reset a session is an error (the connection is then closed).
    fn reset_session(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.end_cursor();
            self.close_unclosed().await?;
            let r = self.conn()?.reset().await;
            self.prepared = Prepared::new(self.prepared.cache.capacity());
            if !self.check(r)? {
                self.broken = true;
                return Err(Error::new(
                    ErrorKind::Query,
                    "the server cannot reset a session (COM_RESET_CONNECTION)",
                ));
            }
            self.set_up().await?;
            self.read_session().await
        })
    }
}

/// The kind for a server error number.
fn server_kind(code: u16) -> ErrorKind {
    match code {
        // ER_DUP_ENTRY, ER_DUP_KEY, ER_DUP_UNIQUE
        1062 | 1022 | 1169 => ErrorKind::UniqueViolation,
        // not null, foreign keys (parent and child), check constraints
        1048 | 1216 | 1217 | 1451 | 1452 | 3819 | 4025 => ErrorKind::IntegrityViolation,
        _ => ErrorKind::Query,
    }
}

fn server_error(code: u16, message: &str) -> Error {
    Error::new(server_kind(code), message.to_owned()).with_code(code.to_string())
}

/// The server's error number of `e`, if the server refused.
fn server_code(e: &Error) -> Option<u16> {
    e.code()?.parse().ok()
}

/// dualdb's error for a `mysql` error.
fn sync_error(e: mysql::Error) -> Error {
    sync_error_plain(&e).with_source(e)
}

/// [`sync_error`] without the source.
fn sync_error_plain(e: &mysql::Error) -> Error {
    match e {
        mysql::Error::MySqlError(s) => server_error(s.code, &s.message),
        mysql::Error::DriverError(mysql::DriverError::MismatchedStmtParams(takes, given)) => {
            crate::placeholders::count_mismatch(usize::from(*takes), *given)
        }
        _ => Error::new(ErrorKind::Query, e.to_string()),
    }
}

/// dualdb's error for a `mysql_async` error.
fn async_error(e: mysql_async::Error) -> Error {
    async_error_plain(&e).with_source(e)
}

/// [`async_error`] without the source.
fn async_error_plain(e: &mysql_async::Error) -> Error {
    match e {
        mysql_async::Error::Server(s) => server_error(s.code, &s.message),
        mysql_async::Error::Driver(mysql_async::DriverError::StmtParamsMismatch {
            required,
            supplied,
        }) => crate::placeholders::count_mismatch(usize::from(*required), *supplied),
        _ => Error::new(ErrorKind::Query, e.to_string()),
    }
}
