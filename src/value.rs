//! Values going in and out: [`Value`] (an owned parameter), [`ValueRef`] (a
//! borrowed column of a row), and the conversion traits [`ToSql`] and
//! [`FromSql`].
//!
//! Every backend turns its own column representation into a [`ValueRef`], and
//! every Rust type decodes from a [`ValueRef`] once, so a type works the same
//! on PostgreSQL, MySQL and SQLite, and on the blocking and async halves.
//!
//! ```
//! use dualdb::{FromSql, ToSql, Value, ValueRef};
//!
//! assert_eq!(42i32.to_sql(), Value::I64(42));
//! assert_eq!(Some("x").to_sql(), Value::Text("x".into()));
//! assert_eq!(i32::from_sql(ValueRef::I64(7)).unwrap(), 7);
//! assert!(i8::from_sql(ValueRef::I64(1000)).is_err());
//! assert_eq!(Option::<String>::from_sql(ValueRef::Null).unwrap(), None);
//! ```

use crate::error::{Error, Result};
use crate::types::Numeric;
use crate::types::temporal;
#[cfg(feature = "postgres")]
pub use crate::types::{ArrayRef, HStoreRef};

/// An owned SQL value, as bound to a statement parameter.
///
/// ```
/// use dualdb::{ToSql, Value};
/// assert_eq!(true.to_sql(), Value::Bool(true));
/// assert_eq!("x".to_sql(), Value::Text("x".into()));
/// assert_eq!(None::<i32>.to_sql(), Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A boolean (`BOOLEAN` on PostgreSQL, `TINYINT(1)` on MySQL, `INTEGER` on SQLite).
    Bool(bool),
    /// A signed integer; narrowed to the parameter's type on PostgreSQL, with a
    /// typed error if it does not fit.
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// Text.
    Text(String),
    /// Raw bytes (`BYTEA`, `BLOB`).
    Bytes(Vec<u8>),
    /// A UUID: PostgreSQL `UUID`, elsewhere its 36-character text form.
    #[cfg(feature = "uuid")]
    Uuid(uuid::Uuid),
    /// An exact decimal: PostgreSQL `NUMERIC`, MySQL `DECIMAL`, text on SQLite.
    Numeric(Numeric),
    /// A date, as days since 1970-01-01 (see [`types`](crate::types)).
    Date(i32),
    /// A time of day, as microseconds since midnight.
    Time(i64),
    /// A date and time without a zone, as microseconds since 1970-01-01 00:00.
    Timestamp(i64),
    /// An instant, as microseconds since the Unix epoch (UTC).
    TimestampTz(i64),
    /// JSON text: PostgreSQL `JSON`/`JSONB`, MySQL `JSON`, text on SQLite.
    Json(String),
    /// A one-dimensional array (PostgreSQL only).
    Array(Vec<Value>),
    /// An `hstore` map of text to nullable text (PostgreSQL only).
    HStore(Vec<(String, Option<String>)>),
    /// A value whose [`ToSql`] failed (a `Json<T>` that does not serialize):
    /// the statement fails with [`ErrorKind::Usage`](crate::ErrorKind::Usage)
    /// before anything is sent.
    #[doc(hidden)]
    Unencodable(String),
}

impl Value {
    /// True for a generated key's "unset" values, which leave the key to
    /// the server: NULL, 0, the nil UUID, empty text.
    pub(crate) fn is_unset(&self) -> bool {
        match self {
            Value::Null | Value::I64(0) => true,
            Value::Text(s) => s.is_empty(),
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => u.is_nil(),
            _ => false,
        }
    }

    /// A short description of the variant, for error messages.
    ///
    /// ```
    /// assert_eq!(dualdb::Value::Date(0).kind_name(), "a date");
    /// ```
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "a boolean",
            Value::I64(_) => "an integer",
            Value::F64(_) => "a float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            #[cfg(feature = "uuid")]
            Value::Uuid(_) => "a UUID",
            Value::Numeric(_) => "a decimal",
            Value::Date(_) => "a date",
            Value::Time(_) => "a time",
            Value::Timestamp(_) => "a timestamp",
            Value::TimestampTz(_) => "a timestamp with time zone",
            Value::Json(_) => "JSON",
            Value::Array(_) => "an array",
            Value::HStore(_) => "an hstore",
            Value::Unencodable(_) => "an unencodable value",
        }
    }

    /// The error of a value that cannot be sent: an [`Value::Unencodable`],
    /// an array or hstore on a backend other than PostgreSQL, or a float
    /// the backend cannot store (NaN on SQLite, which would store NULL, and
    /// on MySQL; infinities on MySQL).
    #[inline]
    pub(crate) fn check(&self, backend: crate::BackendKind) -> Result<()> {
        match self {
            Value::Unencodable(_) | Value::Array(_) | Value::HStore(_) => self.refused(backend),
            Value::F64(f) if !f.is_finite() => self.refused(backend),
            _ => Ok(()),
        }
    }

    /// [`check`](Self::check) of each of a statement's values, before any
    /// is converted for the driver.
    pub(crate) fn check_all(values: &[Value], backend: crate::BackendKind) -> Result<()> {
        values.iter().try_for_each(|v| v.check(backend))
    }

    /// [`check`](Self::check) of the values that may be refused.
    #[cold]
    fn refused(&self, backend: crate::BackendKind) -> Result<()> {
        match self {
            Value::Unencodable(why) => Err(Error::new(
                crate::ErrorKind::Usage,
                format!("a parameter cannot be encoded: {why}"),
            )),
            Value::Array(_) | Value::HStore(_) if backend != crate::BackendKind::Postgres => {
                Err(Error::new(
                    crate::ErrorKind::Usage,
                    format!(
                        "{} is a PostgreSQL type; {backend} has none",
                        self.kind_name()
                    ),
                ))
            }
            Value::Array(items) => items.iter().try_for_each(|v| v.check(backend)),
            Value::F64(f) => {
                let stored = match backend {
                    crate::BackendKind::Postgres => true,
                    crate::BackendKind::Sqlite => !f.is_nan(),
                    crate::BackendKind::Mysql => false,
                };
                if stored {
                    Ok(())
                } else {
                    Err(Error::new(
                        crate::ErrorKind::Usage,
                        format!("{backend} cannot store the float {f} (PostgreSQL can)"),
                    ))
                }
            }
            _ => Ok(()),
        }
    }
}

/// A borrowed column value read from a row, normalised across backends.
///
/// ```
/// use dualdb::{Database, ValueRef};
/// let db = Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT 1.5, x'00ff'", &[]).unwrap();
/// assert_eq!(row.value(0).unwrap(), ValueRef::F64(1.5));
/// assert_eq!(row.value(1).unwrap(), ValueRef::Bytes(&[0, 255]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ValueRef<'a> {
    // The first five in the order of rusqlite's `ValueRef`, whose variants
    // they mirror: SQLite's rows translate without a jump a column
    // (benches/paired, SQLite's selects).
    /// SQL `NULL`.
    Null,
    /// A signed integer.
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// Text as the server sent it; expected to be UTF-8, checked on decode.
    Text(&'a [u8]),
    /// Binary data.
    Bytes(&'a [u8]),
    /// A boolean.
    Bool(bool),
    /// An unsigned integer too large for `i64` (MySQL `BIGINT UNSIGNED`).
    U64(u64),
    /// A UUID in binary form (PostgreSQL `UUID`).
    Uuid([u8; 16]),
    /// An exact decimal (PostgreSQL `NUMERIC`).
    Numeric(Numeric),
    /// A date, as days since 1970-01-01.
    Date(i32),
    /// A time of day (MySQL: a duration), as microseconds since midnight.
    Time(i64),
    /// A date and time without a zone, as microseconds since 1970-01-01 00:00.
    Timestamp(i64),
    /// An instant, as microseconds since the Unix epoch (UTC).
    TimestampTz(i64),
    /// JSON text (PostgreSQL `JSON` and `JSONB`).
    Json(&'a [u8]),
    /// A PostgreSQL array.
    #[cfg(feature = "postgres")]
    Array(ArrayRef<'a>),
    /// A PostgreSQL `hstore`.
    #[cfg(feature = "postgres")]
    HStore(HStoreRef<'a>),
    /// A value of a type dualdb has no variant for, in the backend's wire form,
    /// with the backend's type name.
    Other {
        /// The backend's name for the column type.
        type_name: &'a str,
        /// The raw bytes.
        raw: &'a [u8],
    },
}

impl ValueRef<'_> {
    /// A short name of the variant, for error messages.
    ///
    /// ```
    /// assert_eq!(dualdb::ValueRef::Text(b"x").kind_name(), "text");
    /// ```
    pub fn kind_name(&self) -> &str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Bool(_) => "boolean",
            ValueRef::I64(_) | ValueRef::U64(_) => "integer",
            ValueRef::F64(_) => "float",
            ValueRef::Text(_) => "text",
            ValueRef::Bytes(_) => "bytes",
            ValueRef::Uuid(_) => "uuid",
            ValueRef::Numeric(_) => "numeric",
            ValueRef::Date(_) => "date",
            ValueRef::Time(_) => "time",
            ValueRef::Timestamp(_) => "timestamp",
            ValueRef::TimestampTz(_) => "timestamptz",
            ValueRef::Json(_) => "json",
            #[cfg(feature = "postgres")]
            ValueRef::Array(_) => "array",
            #[cfg(feature = "postgres")]
            ValueRef::HStore(_) => "hstore",
            ValueRef::Other { type_name, .. } => type_name,
        }
    }

    /// This value as an owned [`Value`], if it has one.
    ///
    /// ```
    /// use dualdb::{Value, ValueRef};
    /// assert_eq!(ValueRef::Text(b"hi").to_owned_value().unwrap(), Value::Text("hi".into()));
    /// assert!(ValueRef::Text(&[0xff]).to_owned_value().is_err()); // not UTF-8
    /// ```
    pub fn to_owned_value(&self) -> Result<Value> {
        Ok(match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::I64(i) => Value::I64(i),
            ValueRef::U64(u) => Value::I64(
                i64::try_from(u).map_err(|_| Error::decode(format!("{u} does not fit in i64")))?,
            ),
            ValueRef::F64(f) => Value::F64(f),
            ValueRef::Text(t) => Value::Text(utf8(t)?.to_owned()),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Uuid(u) => Value::Text(hyphenated(&u)),
            ValueRef::Numeric(n) => Value::Numeric(n),
            ValueRef::Date(d) => Value::Date(d),
            ValueRef::Time(t) => Value::Time(t),
            ValueRef::Timestamp(t) => Value::Timestamp(t),
            ValueRef::TimestampTz(t) => Value::TimestampTz(t),
            ValueRef::Json(j) => Value::Json(utf8(j)?.to_owned()),
            #[cfg(feature = "postgres")]
            ValueRef::Array(a) => Value::Array(
                a.elements()?
                    .iter()
                    .map(ValueRef::to_owned_value)
                    .collect::<Result<_>>()?,
            ),
            #[cfg(feature = "postgres")]
            ValueRef::HStore(h) => Value::HStore(
                h.entries()?
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
                    .collect(),
            ),
            ValueRef::Other { type_name, .. } => {
                return Err(Error::decode(format!(
                    "no dualdb value for column type {type_name}"
                )));
            }
        })
    }
}

/// One column of a row in its backend's form, for
/// [`FromSql::from_column`]: each backend implements it for its columns
/// (PostgreSQL's type and binary value; the [`ValueRef`] of the others,
/// whose own forms are as cheap to read as one), so decoding is compiled
/// once per backend and reads the common types without a `ValueRef` in
/// between. The accessors answer `None` where the column holds something
/// else; the rest decode its [`value`](Self::value).
#[doc(hidden)]
pub trait RawColumn<'a>: Copy {
    /// The column as a [`ValueRef`], whatever it holds.
    fn value(&self) -> Result<ValueRef<'a>>;
    /// True for SQL `NULL`.
    fn is_null(&self) -> bool;
    /// An integer column's value.
    fn int(&self) -> Option<i64>;
    /// A floating-point column's value.
    fn float(&self) -> Option<f64>;
    /// A boolean column's value.
    fn boolean(&self) -> Option<bool>;
    /// A text column's bytes, not yet checked as UTF-8.
    fn text(&self) -> Option<&'a [u8]>;
    /// A binary column's bytes.
    fn bytes(&self) -> Option<&'a [u8]>;
}

impl<'a> RawColumn<'a> for ValueRef<'a> {
    #[inline]
    fn value(&self) -> Result<ValueRef<'a>> {
        Ok(*self)
    }
    #[inline]
    fn is_null(&self) -> bool {
        *self == ValueRef::Null
    }
    #[inline]
    fn int(&self) -> Option<i64> {
        match *self {
            ValueRef::I64(i) => Some(i),
            _ => None,
        }
    }
    #[inline]
    fn float(&self) -> Option<f64> {
        match *self {
            ValueRef::F64(f) => Some(f),
            _ => None,
        }
    }
    #[inline]
    fn boolean(&self) -> Option<bool> {
        match *self {
            ValueRef::Bool(b) => Some(b),
            _ => None,
        }
    }
    #[inline]
    fn text(&self) -> Option<&'a [u8]> {
        match *self {
            ValueRef::Text(t) => Some(t),
            _ => None,
        }
    }
    #[inline]
    fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            ValueRef::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The 36-character text form of a UUID.
pub(crate) fn hyphenated(u: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The 16 bytes of a UUID written as text (with or without hyphens).
#[cfg(feature = "postgres")]
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || s.len() - hex.len() > 4 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(not_utf8)
}

/// `bytes`, checked as UTF-8, as an owned `String`: what a text column
/// decodes to. It allocates by itself rather than through `str::to_owned`,
/// whose allocation (`RawVec`'s, a call of its own) LLVM keeps out of line
/// in a large decoder: a model's read inlined into a plan's or a cursor's
/// row loop. The instruction gate's 1,000-row select guards it
/// (benches/instructions); SQLite's `fold` and row iterator gain the most.
#[inline(always)]
fn owned_text(bytes: &[u8]) -> Result<String> {
    let text = utf8(bytes)?;
    if text.is_empty() {
        return Ok(String::new());
    }
    let layout = std::alloc::Layout::for_value(text);
    // SAFETY: `layout`'s size is not zero. The block is allocated by the
    // global allocator with the layout of `text.len()` bytes (the capacity),
    // which `String` deallocates it with, and holds a copy of `text`, valid
    // UTF-8 (tests/bad_input.rs reads empty, 16 MiB and invalid text, from
    // copied rows and in place).
    unsafe {
        let block = std::alloc::alloc(layout);
        if block.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        std::ptr::copy_nonoverlapping(text.as_ptr(), block, text.len());
        Ok(String::from_raw_parts(block, text.len(), text.len()))
    }
}

fn not_utf8(e: std::str::Utf8Error) -> Error {
    Error::decode(format!("text is not valid UTF-8: {e}")).with_source(e)
}

pub(crate) fn mismatch<T>(v: &ValueRef<'_>) -> Error {
    Error::decode(format!(
        "cannot decode a {} value as {}",
        v.kind_name(),
        std::any::type_name::<T>()
    ))
}

/// Turns a Rust value into a [`Value`] to bind as a parameter.
///
/// ```
/// use dualdb::{ToSql, Value};
///
/// struct Cents(i64);
/// impl ToSql for Cents {
///     fn to_sql(&self) -> Value {
///         Value::I64(self.0)
///     }
/// }
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT ? + 1", &[&Cents(99)]).unwrap();
/// assert_eq!(row.get::<i64>(0).unwrap(), 100);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a parameter",
    note = "the types dualdb binds are listed in `dualdb::types`; a type of your own can implement `ToSql`"
)]
pub trait ToSql {
    /// The value to bind.
    fn to_sql(&self) -> Value;

    /// The value to bind, from a value given up: the same as
    /// [`to_sql`](Self::to_sql), which it defaults to; text and bytes move
    /// into the [`Value`] without a copy (an insert of owned models uses it).
    ///
    /// ```
    /// use dualdb::{ToSql, Value};
    /// assert_eq!(String::from("ada").into_sql(), Value::Text("ada".into()));
    /// assert_eq!(Some(vec![1u8]).into_sql(), Value::Bytes(vec![1]));
    /// assert_eq!(None::<String>.into_sql(), Value::Null);
    /// ```
    fn into_sql(self) -> Value
    where
        Self: Sized,
    {
        self.to_sql()
    }
}

/// Builds a Rust value from a column.
///
/// ```
/// use dualdb::{FromSql, Result, ValueRef};
///
/// #[derive(Debug, PartialEq)]
/// struct Cents(i64);
/// impl FromSql for Cents {
///     fn from_sql(value: ValueRef<'_>) -> Result<Self> {
///         i64::from_sql(value).map(Cents)
///     }
/// }
/// let db = dualdb::Database::open("sqlite::memory:").unwrap();
/// let row = db.sync().query_one("SELECT 250", &[]).unwrap();
/// assert_eq!(row.get::<Cents>(0).unwrap(), Cents(250));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a column",
    note = "the types dualdb decodes are listed in `dualdb::types`; a type of your own can implement `FromSql`"
)]
pub trait FromSql: Sized {
    /// Decodes `value`, or says why it cannot.
    fn from_sql(value: ValueRef<'_>) -> Result<Self>;

    /// Decodes a text value whose bytes the row gives up: the same result as
    /// `from_sql(ValueRef::Text(&bytes))`, which it defaults to; `String`
    /// keeps the bytes instead of copying them.
    #[doc(hidden)]
    fn from_owned_text(bytes: Vec<u8>) -> Result<Self> {
        Self::from_sql(ValueRef::Text(&bytes))
    }

    /// Decodes a column in its backend's own form (PostgreSQL's binary
    /// values): the same result as `from_sql` of its [`ValueRef`], which it
    /// defaults to; the common types read that form without building one.
    #[doc(hidden)]
    #[inline]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        Self::from_sql(column.value()?)
    }

    /// The value of a column a query did not return at all (no row):
    /// `Some(None)` for an `Option<T>`, for which nothing is a value;
    /// `None`, no value, for every other type. `scalar` of an empty result
    /// gives it, or [`NotFound`](crate::ErrorKind::NotFound).
    #[doc(hidden)]
    fn absent() -> Option<Self> {
        None
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> Value {
        self.clone()
    }
    fn into_sql(self) -> Value {
        self
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Value {
        (**self).to_sql()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Value {
        match self {
            Some(v) => v.to_sql(),
            None => Value::Null,
        }
    }
    fn into_sql(self) -> Value {
        match self {
            Some(v) => v.into_sql(),
            None => Value::Null,
        }
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! int_to_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Value {
                Value::I64(i64::from(*self))
            }
        }
    )*};
}
int_to_sql!(i8, i16, i32, i64, u8, u16, u32);

impl ToSql for f32 {
    fn to_sql(&self) -> Value {
        Value::F64(f64::from(*self))
    }
}

impl ToSql for f64 {
    fn to_sql(&self) -> Value {
        Value::F64(*self)
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Value {
        Value::Text(self.clone())
    }
    fn into_sql(self) -> Value {
        Value::Text(self)
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Value {
        Value::Bytes(self.clone())
    }
    fn into_sql(self) -> Value {
        Value::Bytes(self)
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn absent() -> Option<Self> {
        Some(None)
    }
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::from_sql(v).map(Some),
        }
    }
    fn from_owned_text(bytes: Vec<u8>) -> Result<Self> {
        T::from_owned_text(bytes).map(Some)
    }
    #[inline(always)]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        if column.is_null() {
            return Ok(None);
        }
        T::from_column(column).map(Some)
    }
}

impl FromSql for bool {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Bool(b) => Ok(b),
            ValueRef::I64(i) => Ok(i != 0),
            ValueRef::U64(u) => Ok(u != 0),
            v => Err(mismatch::<Self>(&v)),
        }
    }
    #[inline]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        match column.boolean() {
            Some(b) => Ok(b),
            None => Self::from_sql(column.value()?),
        }
    }
}

macro_rules! int_from_sql {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_sql(value: ValueRef<'_>) -> Result<Self> {
                let out_of_range = |n: &dyn std::fmt::Display| {
                    Error::decode(format!("{n} is out of range for {}", stringify!($t)))
                };
                match value {
                    ValueRef::I64(i) => <$t>::try_from(i).map_err(|_| out_of_range(&i)),
                    ValueRef::U64(u) => <$t>::try_from(u).map_err(|_| out_of_range(&u)),
                    ValueRef::Bool(b) => Ok(<$t>::from(b)),
                    ValueRef::Numeric(n) => n
                        .to_i64()
                        .and_then(|i| <$t>::try_from(i).ok())
                        .ok_or_else(|| out_of_range(&n)),
                    v => Err(mismatch::<Self>(&v)),
                }
            }
            #[inline(always)]
            fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
                match column.int() {
                    Some(i) => <$t>::try_from(i).or_else(|_| Self::from_sql(ValueRef::I64(i))),
                    None => Self::from_sql(column.value()?),
                }
            }
        }
    )*};
}
int_from_sql!(i8, i16, i32, i64, u8, u16, u32, u64);

impl FromSql for f64 {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::F64(f) => Ok(f),
            ValueRef::I64(i) => Ok(i as f64),
            ValueRef::Numeric(n) => Ok(n.to_f64()),
            v => Err(mismatch::<Self>(&v)),
        }
    }
    #[inline]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        match column.float() {
            Some(f) => Ok(f),
            None => Self::from_sql(column.value()?),
        }
    }
}

impl FromSql for f32 {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        f64::from_sql(value).map(|f| f as f32)
    }
    #[inline]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        f64::from_column(column).map(|f| f as f32)
    }
}

impl FromSql for String {
    fn from_owned_text(bytes: Vec<u8>) -> Result<Self> {
        String::from_utf8(bytes).map_err(|e| not_utf8(e.utf8_error()))
    }
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Text(t) | ValueRef::Bytes(t) | ValueRef::Json(t) => owned_text(t),
            ValueRef::Uuid(u) => Ok(hyphenated(&u)),
            ValueRef::Numeric(n) => Ok(n.to_string()),
            ValueRef::Date(d) => Ok(temporal::format_date(d)),
            ValueRef::Time(t) => Ok(temporal::format_time(t)),
            ValueRef::Timestamp(t) => Ok(temporal::format_timestamp(t)),
            ValueRef::TimestampTz(t) => Ok(temporal::format_timestamp_tz(t)),
            v => Err(mismatch::<Self>(&v)),
        }
    }
    // Always inlined, as are the integer and `Option` forms and SQLite's
    // `CurrentRow::take`: a call of its own per text column (the column passed
    // through memory, a frame saved and restored) was most of what a SQLite
    // select ran over rusqlite a row (benches/instructions, the 1,000-row
    // select, guards it).
    #[inline(always)]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        match column.text() {
            Some(t) => owned_text(t),
            None => Self::from_sql(column.value()?),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Bytes(b) | ValueRef::Text(b) => Ok(b.to_vec()),
            v => Err(mismatch::<Self>(&v)),
        }
    }
    #[inline]
    fn from_column<'c>(column: impl RawColumn<'c>) -> Result<Self> {
        match column.bytes() {
            Some(b) => Ok(b.to_vec()),
            None => Self::from_sql(column.value()?),
        }
    }
}

impl FromSql for Value {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        value.to_owned_value()
    }
}

impl ToSql for Numeric {
    fn to_sql(&self) -> Value {
        Value::Numeric(*self)
    }
}

impl FromSql for Numeric {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Numeric(n) => Ok(n),
            ValueRef::I64(i) => Ok(i.into()),
            ValueRef::U64(u) => Ok(Numeric::new(u.into(), 0)),
            ValueRef::F64(f) => Numeric::from_f64(f),
            ValueRef::Text(t) | ValueRef::Bytes(t) => utf8(t)?.parse(),
            v => Err(mismatch::<Self>(&v)),
        }
    }
}

#[cfg(feature = "uuid")]
impl ToSql for uuid::Uuid {
    fn to_sql(&self) -> Value {
        Value::Uuid(*self)
    }
}

#[cfg(feature = "uuid")]
impl FromSql for uuid::Uuid {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        let parsed = match value {
            ValueRef::Uuid(b) => return Ok(uuid::Uuid::from_bytes(b)),
            ValueRef::Bytes(b) if b.len() == 16 => uuid::Uuid::from_slice(b),
            ValueRef::Text(t) | ValueRef::Bytes(t) => uuid::Uuid::try_parse_ascii(t),
            v => return Err(mismatch::<Self>(&v)),
        };
        parsed.map_err(|e| Error::decode(format!("not a UUID: {e}")).with_source(e))
    }
}
