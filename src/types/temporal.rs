//! Dates and times in one neutral form for every backend, so that the
//! `chrono` and `time` features are thin conversions:
//!
//! | neutral value | meaning | PostgreSQL | MySQL | SQLite (text) |
//! |---|---|---|---|---|
//! | `Date(i32)` | days since 1970-01-01 | `DATE` | `DATE` | `YYYY-MM-DD` |
//! | `Time(i64)` | microseconds since midnight | `TIME` | `TIME` | `HH:MM:SS[.ffffff]` |
//! | `Timestamp(i64)` | microseconds since 1970-01-01 00:00, no zone | `TIMESTAMP` | `DATETIME` | `YYYY-MM-DD HH:MM:SS[.ffffff]` |
//! | `TimestampTz(i64)` | microseconds since the Unix epoch (UTC) | `TIMESTAMPTZ` | `DATETIME`/`TIMESTAMP`, as UTC | `YYYY-MM-DD HH:MM:SS[.ffffff]+00:00` |
//!
//! MySQL/MariaDB sessions start in UTC (`time_zone = '+00:00'`), so that
//! the server's conversions of `TIMESTAMP` values and `NOW()` agree with
//! these UTC wall times. A `DATETIME` filled by `NOW()` or `DEFAULT
//! CURRENT_TIMESTAMP` in dualdb's sessions then holds UTC wall time too: an
//! application that shares such a table with clients writing local time
//! sets its zone with an `after_connect` statement (`SET time_zone =
//! 'Europe/Berlin'`), which runs after dualdb's. PostgreSQL's `TIMESTAMPTZ`
//! travels as an instant, whatever the session's zone.
//!
//! SQLite has no date type: text in the forms above is read back (a `T`
//! between date and time, a `Z` or `±HH:MM` offset are accepted too), and so
//! are integers, as Unix seconds.
//!
//! ```
//! use dualdb::{Database, Value};
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let row = db.sync().query_one("SELECT ?, ?", &[&Value::Date(19_782), &Value::Time(3_600_000_001)]).unwrap();
//! assert_eq!(row.get::<String>(0).unwrap(), "2024-02-29");
//! assert_eq!(row.get::<String>(1).unwrap(), "01:00:00.000001");
//! ```

/// Microseconds in a day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: (year, month 1–12, day 1–31).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A timestamp's day and its microseconds since midnight.
pub(crate) fn split(micros: i64) -> (i64, i64) {
    (
        micros.div_euclid(MICROS_PER_DAY),
        micros.rem_euclid(MICROS_PER_DAY),
    )
}

/// (hour, minute, second, microsecond) of microseconds since midnight.
pub(crate) fn clock(micros: i64) -> (u32, u32, u32, u32) {
    let s = micros / 1_000_000;
    (
        (s / 3600) as u32,
        (s / 60 % 60) as u32,
        (s % 60) as u32,
        (micros % 1_000_000) as u32,
    )
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(days.into());
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS`, with `.ffffff` when there are microseconds.
pub(crate) fn format_time(micros: i64) -> String {
    let (h, mi, s, us) = clock(micros);
    if us == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{us:06}")
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub(crate) fn format_timestamp(micros: i64) -> String {
    let (days, time) = split(micros);
    let days = i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX });
    format!("{} {}", format_date(days), format_time(time))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`.
pub(crate) fn format_timestamp_tz(micros: i64) -> String {
    format!("{}+00:00", format_timestamp(micros))
}

/// A fixed number of ASCII digits.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn expect(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

/// `YYYY-MM-DD` (four-digit year), checked against the calendar.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let (days, rest) = date_prefix(s)?;
    rest.is_empty().then_some(days)
}

fn date_prefix(s: &str) -> Option<(i32, &str)> {
    let (y, s) = digits(s, 4)?;
    let (m, s) = digits(expect(s, '-')?, 2)?;
    let (d, s) = digits(expect(s, '-')?, 2)?;
    let y = i64::from(y);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some((i32::try_from(days_from_civil(y, m, d)).ok()?, s))
}

/// `HH:MM[:SS[.f…]]`, up to microseconds (more digits are cut).
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let (micros, rest) = time_prefix(s)?;
    rest.is_empty().then_some(micros)
}

fn time_prefix(s: &str) -> Option<(i64, &str)> {
    let (h, s) = digits(s, 2)?;
    let (mi, mut s) = digits(expect(s, ':')?, 2)?;
    let (mut sec, mut us) = (0, 0);
    if let Some(rest) = s.strip_prefix(':') {
        (sec, s) = digits(rest, 2)?;
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let kept = &rest[..n.min(6)];
            us = kept.parse::<u32>().ok()? * 10u32.pow(6 - kept.len() as u32);
            s = &rest[n..];
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let micros = ((i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(sec)) * 1_000_000;
    Some((micros + i64::from(us), s))
}

/// A date and time, with an optional `Z` or `±HH[:MM]` offset: the
/// microseconds of the written civil time, and the offset in seconds.
pub(crate) fn parse_timestamp(s: &str) -> Option<(i64, Option<i32>)> {
    let (days, rest) = date_prefix(s)?;
    let day_micros = i64::from(days) * MICROS_PER_DAY;
    let Some(rest) = rest.strip_prefix([' ', 'T']) else {
        return rest.is_empty().then_some((day_micros, None));
    };
    let (time, rest) = time_prefix(rest)?;
    let offset = match rest {
        "" => None,
        "Z" | "z" => Some(0),
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, r) = digits(&rest[1..], 2)?;
            let (m, r) = match r.strip_prefix(':') {
                Some(r) => digits(r, 2)?,
                None if r.len() == 2 => digits(r, 2)?,
                None => (0, r),
            };
            if !r.is_empty() || h > 23 || m > 59 {
                return None;
            }
            Some(sign * (h as i32 * 3600 + m as i32 * 60))
        }
    };
    Some((day_micros + time, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn text_forms() {
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(format_date(19_782), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-01x",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_time("13:05"), Some(47_100_000_000));
        assert_eq!(parse_time("13:05:09.5"), Some(47_109_500_000));
        assert_eq!(parse_time("13:05:09.1234567"), Some(47_109_123_456));
        assert_eq!(format_time(47_109_500_000), "13:05:09.500000");
        assert_eq!(format_time(0), "00:00:00");
        for bad in ["24:00", "12:60", "12:00:00.", "1200"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        let t = 1_700_000_000_123_456;
        assert_eq!(format_timestamp(t), "2023-11-14 22:13:20.123456");
        assert_eq!(parse_timestamp(&format_timestamp(t)), Some((t, None)));
        assert_eq!(parse_timestamp(&format_timestamp_tz(t)), Some((t, Some(0))));
        assert_eq!(
            parse_timestamp("2023-11-14T23:13:20.123456+01:00"),
            Some((t + 3_600_000_000, Some(3600)))
        );
        assert_eq!(
            parse_timestamp("2023-11-14 22:13:20Z"),
            Some((t - 123_456, Some(0)))
        );
        assert_eq!(
            parse_timestamp("2023-11-14"),
            Some((19_675 * MICROS_PER_DAY, None))
        );
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
    }
}
