//! The one error type of dualdb, and its [`ErrorKind`].
//!
//! Every fallible call returns [`Result<T>`](crate::Result). The error carries a
//! [`kind`](Error::kind) to branch on, the server's code where there is one
//! ([`code`](Error::code): a PostgreSQL SQLSTATE such as `23505`, a MySQL error
//! number such as `1062`, or an SQLite extended result code), and the driver's
//! error as its [`source`](std::error::Error::source).
//!
//! ```
//! use dualdb::{Database, ErrorKind};
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let err = db.sync().query_one("SELECT 1 WHERE 0", &[]).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! ```

use std::fmt;

/// A `Result` whose error is dualdb's [`Error`].
///
/// ```
/// fn first_name(db: &dualdb::Database) -> dualdb::Result<String> {
///     db.sync().query_one("SELECT 'ada'", &[])?.get(0)
/// }
/// assert_eq!(first_name(&dualdb::Database::open("sqlite::memory:").unwrap()).unwrap(), "ada");
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarse enough to branch on.
///
/// ```
/// use dualdb::{Database, ErrorKind};
/// let db = Database::open("sqlite::memory:").unwrap();
/// db.sync().execute("CREATE TABLE u (name TEXT UNIQUE)", &[]).unwrap();
/// db.sync().execute("INSERT INTO u VALUES ('ada')", &[]).unwrap();
/// let err = db.sync().execute("INSERT INTO u VALUES ('ada')", &[]).unwrap_err();
/// match err.kind() {
///     ErrorKind::UniqueViolation => {} // taken: tell the user
///     other => panic!("unexpected {other}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL or a builder option is invalid. Nothing was sent to a server.
    Config,
    /// A connection could not be opened (refused, authentication failed, TLS,
    /// connect timeout).
    Connect,
    /// The call waited too long: no pooled connection became free within
    /// the acquire timeout, or, on SQLite, another connection held the
    /// database's write lock past it (`SQLITE_BUSY`, its code kept). Both
    /// mean an overload; retrying later may succeed.
    PoolTimeout,
    /// A blocking call was refused because the [`SyncCheck`](crate::SyncCheck)
    /// policy is `Error`.
    SyncNotAllowed,
    /// A query that must return a row returned none.
    NotFound,
    /// A query that must return at most one row returned more.
    TooManyRows,
    /// A unique or primary-key constraint was violated.
    UniqueViolation,
    /// Another integrity constraint was violated: foreign key, not null, check.
    IntegrityViolation,
    /// The server rejected the statement (syntax, unknown column, type error,
    /// statement timeout, …), or the connection broke while it ran.
    Query,
    /// A column could not be decoded into the requested Rust type.
    Decode,
    /// The handle was used in a state that does not allow the call (for
    /// example a blocking call from a Tokio runtime that cannot block).
    Usage,
    /// An I/O error of the caller's own, turned into dualdb's error by `?`
    /// (a file written inside a [`fold`](crate::AsyncDb::fold)): the
    /// [`std::io::Error`] is the source.
    Io,
    /// Any other error of the caller's, wrapped with [`Error::other`]: the
    /// wrapped error is the source.
    Other,
    /// A migration was refused (a changed script, a dirty record, a
    /// version out of order) or failed: the message names the migration,
    /// and for a failed statement its file and line; the server's error is
    /// the source and its code kept ([`migrate`](mod@crate::migrate)).
    Migration,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::Connect => "connection error",
            ErrorKind::PoolTimeout => "pool timeout",
            ErrorKind::SyncNotAllowed => "blocking call not allowed",
            ErrorKind::NotFound => "no row found",
            ErrorKind::TooManyRows => "more than one row",
            ErrorKind::UniqueViolation => "unique violation",
            ErrorKind::IntegrityViolation => "integrity violation",
            ErrorKind::Query => "query error",
            ErrorKind::Decode => "decode error",
            ErrorKind::Usage => "usage error",
            ErrorKind::Io => "I/O error",
            ErrorKind::Other => "error",
            ErrorKind::Migration => "migration error",
        })
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// dualdb's error: a [`kind`](Error::kind), a message, the server's code if
/// any, and the underlying driver error as the source.
///
/// Neither `Debug` nor `Display` ever contains a password: URLs are redacted
/// before they reach a message, and driver errors are produced after the
/// password was handed to the driver's own config type.
///
/// ```
/// use dualdb::{Database, ErrorKind};
/// let db = Database::open("sqlite::memory:").unwrap();
/// let err = db.sync().query("SELECT * FROM missing_table", &[]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Query);
/// assert!(err.to_string().contains("missing_table"));
/// assert!(std::error::Error::source(&err).is_some()); // the driver's error
/// ```
pub struct Error(Box<Inner>);

/// Boxed, so that a `Result<T>` is no wider than `T` and a pointer: results
/// move through every decoded column, and an unboxed error (72 bytes) made
/// each of those moves a copy of its width.
struct Inner {
    kind: ErrorKind,
    message: String,
    code: Option<String>,
    source: Option<Source>,
    /// The caller's own error, carried unchanged through a plan from the
    /// closure that returned it to the method that hands it back
    /// ([`Error::carrying`], [`Error::into_caller`]).
    carried: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Error {
    /// A new error of `kind` with a message.
    ///
    /// ```
    /// use dualdb::{Error, ErrorKind};
    /// let err = Error::new(ErrorKind::Usage, "quantity must be positive");
    /// assert_eq!(err.kind(), ErrorKind::Usage);
    /// assert_eq!(err.message(), "quantity must be positive");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            code: None,
            source: None,
            carried: None,
        }))
    }

    /// Wraps an error of the caller's own as kind
    /// [`Other`](ErrorKind::Other): its `Display` is the message, and it is
    /// the [`source`](std::error::Error::source), to downcast back.
    ///
    /// ```
    /// use dualdb::{Error, ErrorKind};
    /// let err = Error::other(std::fmt::Error);
    /// assert_eq!(err.kind(), ErrorKind::Other);
    /// let source = std::error::Error::source(&err).unwrap();
    /// assert!(source.downcast_ref::<std::fmt::Error>().is_some());
    /// ```
    pub fn other(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::new(ErrorKind::Other, source.to_string()).with_source(source)
    }

    /// An error of a closure's own error type `E`, kept whole inside this
    /// error while it travels through a plan, so that the method that ran
    /// the closure hands `E` back unchanged ([`into_caller`](Self::into_caller)).
    pub(crate) fn carrying<E: Send + Sync + 'static>(error: E) -> Self {
        let mut e = Error::new(ErrorKind::Other, "the caller's error");
        e.0.carried = Some(Box::new(error));
        e
    }

    /// The caller's `E`: the one this error carries, else this error made
    /// into an `E` (a failure of dualdb's own, before or after the closure).
    pub(crate) fn into_caller<E: From<Error> + 'static>(mut self) -> E {
        match self.0.carried.take().map(|c| c.downcast::<E>()) {
            Some(Ok(e)) => *e,
            Some(Err(other)) => {
                self.0.carried = Some(other);
                E::from(self)
            }
            None => E::from(self),
        }
    }

    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }

    /// The error with `hint` added to its message, in parentheses.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn with_hint(mut self, hint: &str) -> Self {
        self.0.message = format!("{} ({hint})", self.0.message);
        self
    }

    /// The same kind, message and code, without the source: the outcome of
    /// one attempt handed to several callers.
    pub(crate) fn copy(&self) -> Self {
        Error(Box::new(Inner {
            kind: self.0.kind,
            message: self.0.message.clone(),
            code: self.0.code.clone(),
            source: None,
            carried: None,
        }))
    }

    /// This error with `source` as its
    /// [`source`](std::error::Error::source): for an application's own
    /// error under one of dualdb's kinds.
    ///
    /// ```
    /// use dualdb::{Error, ErrorKind};
    /// let io = std::io::Error::other("disk full");
    /// let err = Error::new(ErrorKind::Usage, "export failed").with_source(io);
    /// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "disk full");
    /// ```
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// What kind of error this is.
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let err = db.sync().query_one("SELECT 1 WHERE 0", &[]).unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::NotFound);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's error code: a PostgreSQL SQLSTATE (`"23505"`), a MySQL
    /// error number (`"1062"`), or an SQLite extended result code (`"2067"`).
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// db.sync().execute("CREATE TABLE u (id INTEGER PRIMARY KEY)", &[]).unwrap();
    /// db.sync().execute("INSERT INTO u VALUES (1)", &[]).unwrap();
    /// let err = db.sync().execute("INSERT INTO u VALUES (1)", &[]).unwrap_err();
    /// assert_eq!(err.code(), Some("1555")); // SQLITE_CONSTRAINT_PRIMARYKEY
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The message, without kind or code.
    ///
    /// ```
    /// let err = dualdb::Error::new(dualdb::ErrorKind::Usage, "bad");
    /// assert_eq!(err.message(), "bad");
    /// assert!(err.to_string().contains("bad"));
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// True for [`ErrorKind::NotFound`].
    ///
    /// ```
    /// let db = dualdb::Database::open("sqlite::memory:").unwrap();
    /// let found = match db.sync().query_one("SELECT 1 WHERE 0", &[]) {
    ///     Ok(row) => Some(row),
    ///     Err(e) if e.is_not_found() => None,
    ///     Err(e) => return Err(e),
    /// };
    /// assert!(found.is_none());
    /// # Ok::<(), dualdb::Error>(())
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.0.kind == ErrorKind::NotFound
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode, message)
    }

    pub(crate) fn not_found() -> Self {
        Error::new(ErrorKind::NotFound, "query returned no rows")
    }

    pub(crate) fn too_many_rows() -> Self {
        Error::new(ErrorKind::TooManyRows, "query returned more than one row")
    }

    pub(crate) fn pool_timeout(after: std::time::Duration) -> Self {
        Error::new(
            ErrorKind::PoolTimeout,
            format!("no connection became free within {after:?}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.message)?;
        if let Some(code) = &self.0.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(code) = &self.0.code {
            d.field("code", code);
        }
        if let Some(source) = &self.0.source {
            // The driver's Display, not its Debug: driver Debug impls may print
            // their whole config, password included.
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

/// `?` on an I/O error inside a closure that returns dualdb's `Result`
/// (a `fold` writing a file): kind [`Io`](ErrorKind::Io), the I/O error as
/// the source.
///
/// ```
/// fn read(path: &str) -> dualdb::Result<String> {
///     Ok(std::fs::read_to_string(path)?)
/// }
/// assert_eq!(read("/no/such/file").unwrap_err().kind(), dualdb::ErrorKind::Io);
/// ```
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string()).with_source(e)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_stay_narrow() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<Result<i64>>() <= 16);
    }
}
