//! Dates and times read from a column of any backend into the neutral forms
//! of [`temporal`](super::temporal): the backends' own date types, SQLite's
//! text, and Unix seconds. The `chrono` and `time` features decode through
//! these.

use super::temporal::{MICROS_PER_DAY, parse_date, parse_time, parse_timestamp};
use crate::error::{Error, Result};
use crate::value::ValueRef;

fn not_a(what: &str, v: &ValueRef<'_>) -> Error {
    match v {
        ValueRef::Text(t) => {
            Error::decode(format!("{:?} is not a {what}", String::from_utf8_lossy(t)))
        }
        v => Error::decode(format!(
            "cannot decode a {} value as a {what}",
            v.kind_name()
        )),
    }
}

fn text<'a>(v: &ValueRef<'a>) -> Option<&'a str> {
    match v {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// Days since 1970-01-01 of a date column.
pub(crate) fn date_of(v: ValueRef<'_>) -> Result<i32> {
    match v {
        ValueRef::Date(d) => Ok(d),
        _ => text(&v)
            .and_then(parse_date)
            .ok_or_else(|| not_a("date", &v)),
    }
}

/// Microseconds since midnight of a time column.
pub(crate) fn time_of(v: ValueRef<'_>) -> Result<i64> {
    match v {
        ValueRef::Time(t) if (0..MICROS_PER_DAY).contains(&t) => Ok(t),
        ValueRef::Time(t) => Err(Error::decode(format!(
            "{t} µs is not a time of day (MySQL TIME holds durations)"
        ))),
        _ => text(&v)
            .and_then(parse_time)
            .ok_or_else(|| not_a("time", &v)),
    }
}

/// Microseconds of a timestamp without a zone.
pub(crate) fn timestamp_of(v: ValueRef<'_>) -> Result<i64> {
    match v {
        ValueRef::Timestamp(t) => Ok(t),
        ValueRef::Date(d) => Ok(i64::from(d) * MICROS_PER_DAY),
        ValueRef::I64(secs) => unix_seconds(secs),
        _ => match text(&v).and_then(parse_timestamp) {
            Some((t, None)) => Ok(t),
            Some((_, Some(_))) => Err(Error::decode(
                "a timestamp with a time zone offset cannot be decoded as one without; \
                 use a zoned type",
            )),
            None => Err(not_a("timestamp", &v)),
        },
    }
}

/// Microseconds since the Unix epoch of a timestamp in UTC. A timestamp
/// without a zone (MySQL `DATETIME`, SQLite text without offset) is taken as
/// UTC.
pub(crate) fn timestamp_tz_of(v: ValueRef<'_>) -> Result<i64> {
    match v {
        ValueRef::TimestampTz(t) | ValueRef::Timestamp(t) => Ok(t),
        ValueRef::I64(secs) => unix_seconds(secs),
        _ => match text(&v).and_then(parse_timestamp) {
            Some((t, offset)) => Ok(t - i64::from(offset.unwrap_or(0)) * 1_000_000),
            None => Err(not_a("timestamp", &v)),
        },
    }
}

fn unix_seconds(secs: i64) -> Result<i64> {
    secs.checked_mul(1_000_000)
        .ok_or_else(|| Error::decode(format!("{secs} Unix seconds is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_accepts_the_neutral_forms_text_and_unix_seconds() {
        assert_eq!(date_of(ValueRef::Text(b"1970-01-02")).unwrap(), 1);
        assert!(date_of(ValueRef::I64(1)).is_err());
        assert_eq!(timestamp_of(ValueRef::I64(2)).unwrap(), 2_000_000);
        assert!(timestamp_of(ValueRef::Text(b"1970-01-01 00:00:00+01:00")).is_err());
        assert_eq!(
            timestamp_tz_of(ValueRef::Text(b"1970-01-01 01:00:00+01:00")).unwrap(),
            0
        );
        assert!(time_of(ValueRef::Time(MICROS_PER_DAY)).is_err());
        let err = date_of(ValueRef::Text(b"soon")).unwrap_err();
        assert!(err.to_string().contains("\"soon\" is not a date"), "{err}");
    }
}
