//! `chrono` dates and times (feature `chrono`), through the neutral forms of
//! [`temporal`](super::temporal): `NaiveDate`, `NaiveTime`, `NaiveDateTime`
//! and `DateTime<Utc>`. Sub-microsecond digits are cut: every backend
//! stores microseconds.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::datetime;
use super::temporal::MICROS_PER_DAY;
use crate::error::{Error, Result};
use crate::value::{FromSql, ToSql, Value, ValueRef};

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

fn out_of_range(what: &str) -> Error {
    Error::decode(format!("the value is out of chrono's {what} range"))
}

fn days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

fn time_micros(time: NaiveTime) -> i64 {
    // A leap second's nanoseconds run past 10^9: keep them in the second.
    let micros = (time.nanosecond() / 1000).min(999_999);
    i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(micros)
}

/// Microseconds since 1970-01-01 00:00 of a civil date and time.
fn micros(date: NaiveDate, time: NaiveTime) -> i64 {
    i64::from(days(date)) * MICROS_PER_DAY + time_micros(time)
}

impl ToSql for NaiveDate {
    fn to_sql(&self) -> Value {
        Value::Date(days(*self))
    }
}

impl FromSql for NaiveDate {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        datetime::date_of(value)?
            .checked_add(UNIX_EPOCH_CE_DAYS)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| out_of_range("NaiveDate"))
    }
}

impl ToSql for NaiveTime {
    fn to_sql(&self) -> Value {
        Value::Time(time_micros(*self))
    }
}

impl FromSql for NaiveTime {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        let t = datetime::time_of(value)?;
        NaiveTime::from_num_seconds_from_midnight_opt(
            (t / 1_000_000) as u32,
            (t % 1_000_000) as u32 * 1000,
        )
        .ok_or_else(|| out_of_range("NaiveTime"))
    }
}

impl ToSql for NaiveDateTime {
    fn to_sql(&self) -> Value {
        Value::Timestamp(micros(self.date(), self.time()))
    }
}

impl FromSql for NaiveDateTime {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        DateTime::from_timestamp_micros(datetime::timestamp_of(value)?)
            .map(|d| d.naive_utc())
            .ok_or_else(|| out_of_range("NaiveDateTime"))
    }
}

impl ToSql for DateTime<Utc> {
    fn to_sql(&self) -> Value {
        let naive = self.naive_utc();
        Value::TimestampTz(micros(naive.date(), naive.time()))
    }
}

impl FromSql for DateTime<Utc> {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        DateTime::from_timestamp_micros(datetime::timestamp_tz_of(value)?)
            .ok_or_else(|| out_of_range("DateTime"))
    }
}

crate::model::column_types!(
    NaiveDate => Date, NaiveTime => Time, NaiveDateTime => Timestamp, DateTime<Utc> => TimestampTz,
);
super::array::arrays_of!(NaiveDate, NaiveTime, NaiveDateTime, DateTime<Utc>);
