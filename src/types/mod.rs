//! The SQL types dualdb maps, on every backend and both halves.
//!
//! | Rust | PostgreSQL | MySQL / MariaDB | SQLite | feature |
//! |---|---|---|---|---|
//! | `bool` | `BOOLEAN` | `BOOL` (`TINYINT(1)`) | `INTEGER` 0/1 | |
//! | `i8`–`i64`, `u8`–`u32` | `SMALLINT`, `INTEGER`, `BIGINT` | same | `INTEGER` | |
//! | `f32`, `f64` | `REAL`, `DOUBLE PRECISION` | `FLOAT`, `DOUBLE` | `REAL` | |
//! | [`Numeric`] | `NUMERIC` | `DECIMAL` | `TEXT` (exact digits) | |
//! | `rust_decimal::Decimal` | `NUMERIC` | `DECIMAL` | `TEXT` | `decimal` |
//! | `String`, `&str` | `TEXT`, `VARCHAR`, `citext`, enums | `TEXT`, `VARCHAR`, `ENUM` | `TEXT` | |
//! | `Vec<u8>`, `&[u8]` | `BYTEA` | `BLOB` | `BLOB` | |
//! | `chrono::NaiveDate`, `time::Date` | `DATE` | `DATE` | `TEXT` `YYYY-MM-DD` | `chrono`, `time` |
//! | `chrono::NaiveTime`, `time::Time` | `TIME` | `TIME` | `TEXT` | `chrono`, `time` |
//! | `chrono::NaiveDateTime`, `time::PrimitiveDateTime` | `TIMESTAMP` | `DATETIME` | `TEXT` | `chrono`, `time` |
//! | `chrono::DateTime<Utc>`, `time::OffsetDateTime` | `TIMESTAMPTZ` | `DATETIME` in UTC | `TEXT` with `+00:00` | `chrono`, `time` |
//! | `uuid::Uuid` | `UUID` | `CHAR(36)` | `TEXT` | `uuid` |
//! | [`Json<T>`], `serde_json::Value` | `JSONB`, `JSON` | `JSON` | `TEXT` | `json` |
//! | `Vec<T>`, `Vec<Option<T>>` | `T[]` | — | — | |
//! | `HashMap<String, Option<String>>` | `hstore` | — | — | |
//! | `#[derive(SqlEnum)]` enums | `TEXT` or a native enum type | `TEXT` or `ENUM` | `TEXT` | |
//!
//! Floats that are not finite: PostgreSQL stores NaN and the infinities;
//! SQLite stores the infinities and refuses NaN (it would store NULL);
//! MySQL stores neither. A value a backend cannot store is a
//! [`Usage`](crate::ErrorKind::Usage) error before anything is sent.
//!
//! `Option<T>` is the nullable form of each. PostgreSQL's `SUM` and `AVG`
//! return `NUMERIC` and MySQL's return `DECIMAL`: those decode into integers
//! (when whole), floats, `String` and [`Numeric`] alike. Dates and times
//! travel in one neutral form ([`temporal`] tells which), so `chrono` and
//! `time` are thin layers over it; SQLite keeps them as ISO 8601 text, which
//! sorts in time order.
//!
//! ```
//! use dualdb::Database;
//! use dualdb::types::Numeric;
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let row = db.sync().query_one("SELECT ? AS price", &[&"19.90".parse::<Numeric>().unwrap()]).unwrap();
//! assert_eq!(row.get::<Numeric>("price").unwrap().to_string(), "19.90");
//! ```

pub(crate) mod array;
#[cfg(feature = "chrono")]
mod chrono;
#[cfg(any(feature = "chrono", feature = "time"))]
mod datetime;
#[cfg(feature = "decimal")]
mod decimal;
#[cfg(feature = "json")]
mod json;
mod numeric;
#[cfg(feature = "postgres")]
mod pg;
// Text parsing and decoding serve the `chrono` and `time` features.
#[cfg_attr(not(any(feature = "chrono", feature = "time")), allow(dead_code))]
pub mod temporal;
#[cfg(feature = "time")]
mod time;

#[cfg(feature = "json")]
pub use json::Json;
pub use numeric::Numeric;
#[cfg(feature = "postgres")]
pub use pg::{ArrayRef, HStoreRef};
