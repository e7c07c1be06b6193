//! PostgreSQL's binary forms of dualdb's values, for both halves (both
//! drive tokio-postgres, through `postgres-types`): a column
//! as a [`ValueRef`], a [`Value`] as a parameter, and the wire forms
//! `postgres-types` has no neutral type for (`NUMERIC`, arrays, `hstore`).

use std::error::Error as StdError;
use std::fmt;

use bytes::{BufMut, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::types as wire;
use postgres_types::{FromSql, IsNull, Kind, ToSql, Type};

use crate::error::{Error, Result};
use crate::row::{RowRead, in_column, within};
use crate::types::Numeric;
use crate::types::{ArrayRef, HStoreRef};
use crate::value::{RawColumn, Value, ValueRef};

type BoxError = Box<dyn StdError + Sync + Send>;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from the Unix epoch to PostgreSQL's.
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * crate::types::temporal::MICROS_PER_DAY;

impl<'a> ArrayRef<'a> {
    /// The elements of a one-dimensional array, in order; `NULL` elements
    /// are [`ValueRef::Null`].
    ///
    /// ```
    /// use dualdb::ValueRef;
    /// # fn demo(db: &dualdb::Database) -> dualdb::Result<()> {
    /// let row = db.sync().query_one("SELECT ARRAY['a', 'b']", &[])?;
    /// let ValueRef::Array(array) = row.value(0)? else { unreachable!() };
    /// assert_eq!(array.elements()?, [ValueRef::Text(b"a"), ValueRef::Text(b"b")]);
    /// # Ok(()) }
    /// ```
    pub fn elements(&self) -> Result<Vec<ValueRef<'a>>> {
        let array = wire::array_from_sql(self.raw).map_err(wire_error)?;
        let dims = array.dimensions().count().map_err(wire_error)?;
        if dims > 1 {
            return Err(Error::decode(format!(
                "a {dims}-dimensional array; dualdb decodes one dimension"
            )));
        }
        array
            .values()
            .map(|raw| decode(self.member, raw))
            .collect::<Vec<_>>()
            .map_err(wire_error)
    }
}

impl fmt::Debug for ArrayRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.elements() {
            Ok(items) => f.debug_list().entries(items).finish(),
            Err(_) => f.write_str("<undecodable array>"),
        }
    }
}

impl<'a> HStoreRef<'a> {
    /// The key-value pairs, in the server's order.
    ///
    /// ```
    /// use dualdb::ValueRef;
    /// # fn demo(db: &dualdb::Database) -> dualdb::Result<()> {
    /// let row = db.sync().query_one("SELECT 'k=>v'::hstore", &[])?;
    /// let ValueRef::HStore(h) = row.value(0)? else { unreachable!() };
    /// assert_eq!(h.entries()?, [("k", Some("v"))]);
    /// # Ok(()) }
    /// ```
    pub fn entries(&self) -> Result<Vec<(&'a str, Option<&'a str>)>> {
        wire::hstore_from_sql(self.raw)
            .and_then(|e| e.collect())
            .map_err(wire_error)
    }
}

impl fmt::Debug for HStoreRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entries() {
            Ok(entries) => f.debug_map().entries(entries).finish(),
            Err(_) => f.write_str("<undecodable hstore>"),
        }
    }
}

fn wire_error(e: BoxError) -> Error {
    Error::decode(format!("malformed PostgreSQL value: {e}"))
}

/// A column's bytes as they came, of any type; [`decode`] reads them.
pub(crate) struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Column `i` of a row as a [`ValueRef`].
#[inline]
pub(crate) fn value_ref(row: &tokio_postgres::Row, i: usize) -> Result<ValueRef<'_>> {
    column(row, i)?
        .value()
        .map_err(|e| Error::decode(format!("column {i}: {}", e.message())))
}

/// Column `i` of a row, as its type and binary form. Inlined into each
/// reader of a row by position, its error made out of line (the paired
/// bench's `stream_rows` and `fold_rows`).
#[inline(always)]
pub(crate) fn column(row: &tokio_postgres::Row, i: usize) -> Result<PgColumn<'_>> {
    match row.try_get(i) {
        Ok(Raw(raw)) => Ok(PgColumn {
            ty: row.columns()[i].type_(),
            raw,
        }),
        Err(e) => Err(column_error(i, e)),
    }
}

#[cold]
fn column_error(i: usize, e: tokio_postgres::Error) -> Error {
    Error::decode(format!("column {i}: {e}")).with_source(e)
}

/// A PostgreSQL row read by position, for model decoding.
impl RowRead for tokio_postgres::Row {
    #[inline]
    fn take<T: crate::value::FromSql>(&mut self, i: usize) -> Result<T> {
        within(i, self.len())?;
        let column = column(self, i)?;
        T::from_column(column).map_err(|e| in_column(i, e))
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        within(i, self.len())?;
        // The binary form's presence: nothing decoded.
        Ok(column(self, i)?.is_null())
    }
}

/// One PostgreSQL column as it came: its type and its binary form (`None`
/// for SQL `NULL`), read by [`RawColumn`](crate::value::RawColumn)'s
/// accessors without a [`ValueRef`] in between.
#[derive(Clone, Copy)]
pub(crate) struct PgColumn<'a> {
    ty: &'a Type,
    raw: Option<&'a [u8]>,
}

impl<'a> RawColumn<'a> for PgColumn<'a> {
    fn value(&self) -> Result<ValueRef<'a>> {
        decode(self.ty, self.raw).map_err(|e| Error::decode(e.to_string()))
    }

    /// True for SQL `NULL`.
    #[inline]
    fn is_null(&self) -> bool {
        self.raw.is_none()
    }

    /// An `INT2`, `INT4` or `INT8` value; `None` for any other column.
    #[inline]
    fn int(&self) -> Option<i64> {
        let raw = self.raw?;
        match *self.ty {
            Type::INT4 => Some(i32::from_be_bytes(raw.try_into().ok()?).into()),
            Type::INT8 => Some(i64::from_be_bytes(raw.try_into().ok()?)),
            Type::INT2 => Some(i16::from_be_bytes(raw.try_into().ok()?).into()),
            _ => None,
        }
    }

    /// A `FLOAT4` or `FLOAT8` value; `None` for any other column.
    #[inline]
    fn float(&self) -> Option<f64> {
        let raw = self.raw?;
        match *self.ty {
            Type::FLOAT8 => Some(f64::from_be_bytes(raw.try_into().ok()?)),
            Type::FLOAT4 => Some(f32::from_be_bytes(raw.try_into().ok()?).into()),
            _ => None,
        }
    }

    /// A `BOOL` value; `None` for any other column.
    #[inline]
    fn boolean(&self) -> Option<bool> {
        match (self.ty, self.raw?) {
            (&Type::BOOL, [b]) => Some(*b != 0),
            _ => None,
        }
    }

    /// The bytes of a text column (`TEXT`, `VARCHAR`, `CHAR(n)`, `NAME`),
    /// not yet checked as UTF-8; `None` for any other column.
    #[inline]
    fn text(&self) -> Option<&'a [u8]> {
        let raw = self.raw?;
        match *self.ty {
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Some(raw),
            _ => None,
        }
    }

    /// The bytes of a `BYTEA` column; `None` for any other column.
    #[inline]
    fn bytes(&self) -> Option<&'a [u8]> {
        match (self.ty, self.raw?) {
            (&Type::BYTEA, raw) => Some(raw),
            _ => None,
        }
    }
}

/// A value of type `ty` in PostgreSQL's binary form.
#[inline]
fn decode<'a>(ty: &'a Type, raw: Option<&'a [u8]>) -> std::result::Result<ValueRef<'a>, BoxError> {
    let Some(raw) = raw else {
        return Ok(ValueRef::Null);
    };
    Ok(match *ty {
        Type::BOOL => ValueRef::Bool(bool::from_sql(ty, raw)?),
        Type::CHAR => ValueRef::I64(i8::from_sql(ty, raw)?.into()),
        Type::INT2 => ValueRef::I64(i16::from_sql(ty, raw)?.into()),
        Type::INT4 => ValueRef::I64(i32::from_sql(ty, raw)?.into()),
        Type::INT8 => ValueRef::I64(i64::from_sql(ty, raw)?),
        Type::OID => ValueRef::I64(u32::from_sql(ty, raw)?.into()),
        Type::FLOAT4 => ValueRef::F64(f32::from_sql(ty, raw)?.into()),
        Type::FLOAT8 => ValueRef::F64(f64::from_sql(ty, raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            ValueRef::Text(raw)
        }
        Type::BYTEA => ValueRef::Bytes(raw),
        Type::UUID => ValueRef::Uuid(
            raw.try_into()
                .map_err(|_| -> BoxError { "a UUID of the wrong length".into() })?,
        ),
        Type::NUMERIC => ValueRef::Numeric(numeric_from_sql(raw)?),
        Type::DATE => ValueRef::Date(finite(i32::from_sql(ty, raw)?, "date")? + PG_EPOCH_DAYS),
        Type::TIME => ValueRef::Time(i64::from_sql(&Type::INT8, raw)?),
        Type::TIMESTAMP => ValueRef::Timestamp(micros(raw)?),
        Type::TIMESTAMPTZ => ValueRef::TimestampTz(micros(raw)?),
        Type::JSON => ValueRef::Json(raw),
        Type::JSONB => match raw.split_first() {
            Some((1, json)) => ValueRef::Json(json),
            _ => return Err("unsupported JSONB version".into()),
        },
        _ => match ty.kind() {
            Kind::Enum(_) => ValueRef::Text(raw),
            Kind::Array(member) => ValueRef::Array(ArrayRef { raw, member }),
            Kind::Domain(base) => decode(base, Some(raw))?,
            _ if ty.name() == "citext" => ValueRef::Text(raw),
            _ if ty.name() == "hstore" => ValueRef::HStore(HStoreRef { raw }),
            _ => ValueRef::Other {
                type_name: ty.name(),
                raw,
            },
        },
    })
}

fn finite(days: i32, what: &str) -> std::result::Result<i32, BoxError> {
    if days == i32::MAX || days == i32::MIN {
        return Err(format!("an infinite {what}").into());
    }
    days.checked_add(PG_EPOCH_DAYS)
        .map(|_| days)
        .ok_or_else(|| format!("a {what} out of range").into())
}

fn micros(raw: &[u8]) -> std::result::Result<i64, BoxError> {
    let t = i64::from_sql(&Type::INT8, raw)?;
    if t == i64::MAX || t == i64::MIN {
        return Err("an infinite timestamp".into());
    }
    t.checked_add(PG_EPOCH_MICROS)
        .ok_or_else(|| "a timestamp out of range".into())
}

/// `NUMERIC` in binary: digit count, weight, sign, display scale, then
/// base-10000 digits, the first worth `10000^weight`.
fn numeric_from_sql(mut raw: &[u8]) -> std::result::Result<Numeric, BoxError> {
    let mut next = || -> std::result::Result<i16, BoxError> {
        let (head, rest) = raw.split_first_chunk::<2>().ok_or("a truncated NUMERIC")?;
        raw = rest;
        Ok(i16::from_be_bytes(*head))
    };
    let (ndigits, weight, sign, dscale) = (next()?, next()?, next()? as u16, next()? as u16);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN is not a number dualdb's Numeric holds".into()),
        _ => return Err("an infinite NUMERIC".into()),
    }
    let overflow =
        || -> BoxError { "a NUMERIC with more digits than dualdb's Numeric holds".into() };
    let mut mantissa: i128 = 0;
    for _ in 0..ndigits {
        mantissa = mantissa
            .checked_mul(10_000)
            .and_then(|m| m.checked_add(next().ok()?.into()))
            .ok_or_else(overflow)?;
    }
    // The last digit is worth 10000^(weight - ndigits + 1): bring it to
    // 10^-dscale.
    let exp10 = 4 * (i32::from(weight) - i32::from(ndigits) + 1) + i32::from(dscale);
    let pow = |e: i32| 10i128.checked_pow(e.unsigned_abs()).ok_or_else(overflow);
    if exp10 >= 0 {
        mantissa = mantissa.checked_mul(pow(exp10)?).ok_or_else(overflow)?;
    } else {
        // Only zeros past the display scale.
        mantissa /= pow(-exp10)?;
    }
    if sign == 0x4000 {
        mantissa = -mantissa;
    }
    Ok(Numeric::new(mantissa, dscale.into()))
}

fn numeric_to_sql(n: Numeric, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
    let scale = n.scale();
    // Whole base-10000 groups after the point: pad the fraction to 4k digits.
    let pad = (4 - scale % 4) % 4;
    let mut abs = n
        .mantissa()
        .unsigned_abs()
        .checked_mul(10u128.pow(pad))
        .ok_or("a decimal too large to send")?;
    let frac_groups = ((scale + pad) / 4) as i32;
    let mut groups = Vec::new(); // least significant first
    while abs > 0 {
        groups.push((abs % 10_000) as i16);
        abs /= 10_000;
    }
    let mut weight = groups.len() as i32 - frac_groups - 1;
    while groups.last() == Some(&0) {
        groups.pop();
        weight -= 1;
    }
    let trailing = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..trailing);
    if groups.is_empty() {
        weight = 0;
    }
    let i16_of = |v: i64| {
        i16::try_from(v).map_err(|_| -> BoxError { "a decimal out of NUMERIC's range".into() })
    };
    out.put_i16(i16_of(groups.len() as i64)?);
    out.put_i16(i16_of(weight.into())?);
    out.put_u16(if n.mantissa() < 0 { 0x4000 } else { 0 });
    out.put_i16(i16_of(scale.into())?);
    for g in groups.iter().rev() {
        out.put_i16(*g);
    }
    Ok(IsNull::No)
}

/// The type a value is sent as when no server-side statement says
/// (`prepared_statements(false)`). `NULL` is left for the server to infer.
pub(crate) fn implied_type(v: &Value) -> Result<Type> {
    Ok(match v {
        Value::Null => Type::new(String::new(), 0, Kind::Pseudo, String::new()),
        Value::Bool(_) => Type::BOOL,
        Value::I64(_) => Type::INT8,
        Value::F64(_) => Type::FLOAT8,
        Value::Text(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        #[cfg(feature = "uuid")]
        Value::Uuid(_) => Type::UUID,
        Value::Numeric(_) => Type::NUMERIC,
        Value::Date(_) => Type::DATE,
        Value::Time(_) => Type::TIME,
        Value::Timestamp(_) => Type::TIMESTAMP,
        Value::TimestampTz(_) => Type::TIMESTAMPTZ,
        Value::Json(_) => Type::JSONB,
        Value::Array(items) => {
            let element = match items.iter().find(|v| !matches!(v, Value::Null)) {
                Some(first) => implied_type(first)?,
                None => Type::TEXT,
            };
            match element {
                Type::BOOL => Type::BOOL_ARRAY,
                Type::INT8 => Type::INT8_ARRAY,
                Type::FLOAT8 => Type::FLOAT8_ARRAY,
                Type::BYTEA => Type::BYTEA_ARRAY,
                Type::UUID => Type::UUID_ARRAY,
                Type::NUMERIC => Type::NUMERIC_ARRAY,
                Type::DATE => Type::DATE_ARRAY,
                Type::TIME => Type::TIME_ARRAY,
                Type::TIMESTAMP => Type::TIMESTAMP_ARRAY,
                Type::TIMESTAMPTZ => Type::TIMESTAMPTZ_ARRAY,
                Type::JSONB => Type::JSONB_ARRAY,
                _ => Type::TEXT_ARRAY,
            }
        }
        Value::HStore(_) | Value::Unencodable(_) => {
            return Err(Error::new(
                crate::ErrorKind::Usage,
                format!(
                    "{} needs prepared statements (its type is looked up on the server)",
                    v.kind_name()
                ),
            ));
        }
    })
}

fn text_types(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || ty.name() == "citext"
        || matches!(ty.kind(), Kind::Enum(_))
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        if let Kind::Domain(base) = ty.kind() {
            return self.to_sql(base, out);
        }
        let mismatch = || -> BoxError {
            format!(
                "cannot bind {} to a parameter of type {ty}",
                self.kind_name()
            )
            .into()
        };
        let bytes = |out: &mut BytesMut, b: &[u8]| {
            out.extend_from_slice(b);
            Ok(IsNull::No)
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::I64(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::OID => u32::try_from(*i)?.to_sql(ty, out),
                Type::CHAR => i8::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::NUMERIC => numeric_to_sql(Numeric::from(*i), out),
                _ => Err(mismatch()),
            },
            Value::F64(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::NUMERIC => numeric_to_sql(Numeric::from_f64(*f)?, out),
                _ => Err(mismatch()),
            },
            Value::Numeric(n) => match *ty {
                Type::NUMERIC => numeric_to_sql(*n, out),
                Type::FLOAT4 | Type::FLOAT8 => Value::F64(n.to_f64()).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(s) => match *ty {
                Type::JSON => bytes(out, s.as_bytes()),
                Type::JSONB => {
                    out.put_u8(1);
                    bytes(out, s.as_bytes())
                }
                Type::UUID => {
                    let parsed = crate::value::parse_uuid(s)
                        .ok_or_else(|| -> BoxError { format!("{s:?} is not a UUID").into() })?;
                    bytes(out, &parsed)
                }
                _ if text_types(ty) => bytes(out, s.as_bytes()),
                _ => Err(mismatch()),
            },
            Value::Json(s) => match *ty {
                Type::JSONB => {
                    out.put_u8(1);
                    bytes(out, s.as_bytes())
                }
                Type::JSON => bytes(out, s.as_bytes()),
                _ if text_types(ty) => bytes(out, s.as_bytes()),
                _ => Err(mismatch()),
            },
            Value::Bytes(b) => match *ty {
                Type::BYTEA => bytes(out, b),
                _ => Err(mismatch()),
            },
            Value::Date(d) => match *ty {
                Type::DATE => {
                    (d.checked_sub(PG_EPOCH_DAYS).ok_or("a date out of range")?).to_sql(ty, out)
                }
                _ => Err(mismatch()),
            },
            Value::Time(t) => match *ty {
                Type::TIME => t.to_sql(&Type::INT8, out),
                _ => Err(mismatch()),
            },
            Value::Timestamp(t) => match *ty {
                Type::TIMESTAMP => (t - PG_EPOCH_MICROS).to_sql(&Type::INT8, out),
                _ => Err(mismatch()),
            },
            Value::TimestampTz(t) => match *ty {
                Type::TIMESTAMPTZ => (t - PG_EPOCH_MICROS).to_sql(&Type::INT8, out),
                _ => Err(mismatch()),
            },
            Value::Array(items) => match ty.kind() {
                Kind::Array(member) => {
                    let dimension = wire::ArrayDimension {
                        len: i32::try_from(items.len())?,
                        lower_bound: 1,
                    };
                    wire::array_to_sql(
                        Some(dimension),
                        member.oid(),
                        items,
                        |item, buf| match item {
                            Value::Array(_) => Err("nested arrays are not supported".into()),
                            item => Ok(match item.to_sql(member, buf)? {
                                IsNull::Yes => postgres_protocol::IsNull::Yes,
                                IsNull::No => postgres_protocol::IsNull::No,
                            }),
                        },
                        out,
                    )?;
                    Ok(IsNull::No)
                }
                _ => Err(mismatch()),
            },
            Value::HStore(entries) if ty.name() == "hstore" => {
                wire::hstore_to_sql(entries.iter().map(|(k, v)| (k.as_str(), v.as_deref())), out)?;
                Ok(IsNull::No)
            }
            Value::HStore(_) => Err(mismatch()),
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => match *ty {
                Type::UUID => bytes(out, u.as_bytes()),
                _ if text_types(ty) => bytes(out, u.hyphenated().to_string().as_bytes()),
                _ => Err(mismatch()),
            },
            Value::Unencodable(why) => Err(why.clone().into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres_types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> Numeric {
        let n: Numeric = s.parse().unwrap();
        let mut buf = BytesMut::new();
        numeric_to_sql(n, &mut buf).unwrap();
        numeric_from_sql(&buf).unwrap()
    }

    #[test]
    fn numeric_wire_form_round_trips() {
        for s in [
            "0",
            "1",
            "-1",
            "10000",
            "12345678",
            "0.0001",
            "-0.5",
            "1.50",
            "123.456",
            "99999999999999999999999999999999999999",
            "0.00000000000000000000000000000000000001",
            "-1234567890.0987654321",
            "100.00",
        ] {
            let back = round_trip(s);
            assert_eq!(back.to_string(), s, "{s}");
        }
    }

    #[test]
    fn numeric_wire_form_matches_postgres() {
        // 1.50 as PostgreSQL sends it: 2 digits, weight 0, positive, dscale 2, [1, 5000]
        let pg = [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88];
        assert_eq!(numeric_from_sql(&pg).unwrap(), Numeric::new(150, 2));
        let mut buf = BytesMut::new();
        numeric_to_sql(Numeric::new(150, 2), &mut buf).unwrap();
        assert_eq!(&buf[..], &pg);
        // NaN
        assert!(numeric_from_sql(&[0, 0, 0, 0, 0xC0, 0, 0, 0]).is_err());
    }
}
