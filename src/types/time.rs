//! `time` dates and times (feature `time`), through the neutral forms of
//! [`temporal`](super::temporal): `Date`, `Time`, `PrimitiveDateTime` and
//! `OffsetDateTime` (stored in UTC, read back with offset zero).
//! Sub-microsecond digits are cut: every backend stores microseconds.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::datetime;
use super::temporal::{self, MICROS_PER_DAY};
use crate::error::{Error, Result};
use crate::value::{FromSql, ToSql, Value, ValueRef};

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

fn out_of_range(what: &str) -> Error {
    Error::decode(format!("the value is out of time's {what} range"))
}

fn days(date: Date) -> i32 {
    date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY
}

fn date(days: i32) -> Result<Date> {
    days.checked_add(UNIX_EPOCH_JULIAN_DAY)
        .and_then(|jd| Date::from_julian_day(jd).ok())
        .ok_or_else(|| out_of_range("Date"))
}

fn time_micros(t: Time) -> i64 {
    let (h, m, s, us) = t.as_hms_micro();
    ((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s)) * 1_000_000 + i64::from(us)
}

fn time(micros: i64) -> Result<Time> {
    let (h, m, s, us) = temporal::clock(micros);
    Time::from_hms_micro(h as u8, m as u8, s as u8, us).map_err(|_| out_of_range("Time"))
}

impl ToSql for Date {
    fn to_sql(&self) -> Value {
        Value::Date(days(*self))
    }
}

impl FromSql for Date {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        date(datetime::date_of(value)?)
    }
}

impl ToSql for Time {
    fn to_sql(&self) -> Value {
        Value::Time(time_micros(*self))
    }
}

impl FromSql for Time {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        time(datetime::time_of(value)?)
    }
}

impl ToSql for PrimitiveDateTime {
    fn to_sql(&self) -> Value {
        Value::Timestamp(i64::from(days(self.date())) * MICROS_PER_DAY + time_micros(self.time()))
    }
}

impl FromSql for PrimitiveDateTime {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        let (d, t) = temporal::split(datetime::timestamp_of(value)?);
        let d = i32::try_from(d).map_err(|_| out_of_range("Date"))?;
        Ok(PrimitiveDateTime::new(date(d)?, time(t)?))
    }
}

impl ToSql for OffsetDateTime {
    fn to_sql(&self) -> Value {
        let micros = self.unix_timestamp_nanos().div_euclid(1000);
        // `time` years end at ±9999 (±999,999 with large-dates): fits.
        Value::TimestampTz(micros as i64)
    }
}

impl FromSql for OffsetDateTime {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        let micros = datetime::timestamp_tz_of(value)?;
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .map_err(|_| out_of_range("OffsetDateTime"))
    }
}

crate::model::column_types!(
    Date => Date, Time => Time, PrimitiveDateTime => Timestamp, OffsetDateTime => TimestampTz,
);
super::array::arrays_of!(Date, Time, PrimitiveDateTime, OffsetDateTime);
