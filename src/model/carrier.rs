//! How dualdb values that sea-query has no variant for (dates, decimals,
//! JSON, arrays, …) travel through a sea-query statement unchanged.
//!
//! The model layer builds SQL with sea-query, whose statements own their
//! values as `sea_query::Value`. Every dualdb value without a plain sea-query
//! twin, raw bytes included, is packed into `sea_query::Value::Bytes` with a
//! tag and unpacked when the statement is built. Since raw bytes are packed
//! too, every `Bytes` that comes back out is a packed value: the two never
//! mix. sea-query only collects these values as parameters; it never reads
//! them.

use crate::types::Numeric;
use crate::value::Value;

const NULL: u8 = 0;
const BOOL: u8 = 1;
const I64: u8 = 2;
const F64: u8 = 3;
const TEXT: u8 = 4;
const BYTES: u8 = 5;
#[cfg_attr(not(feature = "uuid"), allow(dead_code))]
const UUID: u8 = 6;
const NUMERIC: u8 = 7;
const DATE: u8 = 8;
const TIME: u8 = 9;
const TIMESTAMP: u8 = 10;
const TIMESTAMP_TZ: u8 = 11;
const JSON: u8 = 12;
const ARRAY: u8 = 13;
const HSTORE: u8 = 14;
const UNENCODABLE: u8 = 15;

/// Packs `v` (any variant).
pub(crate) fn pack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put(v, &mut out);
    out
}

/// Unpacks what [`pack`] made. Anything else becomes a value that fails its
/// statement with a typed error rather than a panic.
pub(crate) fn unpack(bytes: &[u8]) -> Value {
    let mut r = Reader(bytes);
    match r.value() {
        Some(v) if r.0.is_empty() => v,
        _ => Value::Unencodable("internal: a malformed packed value".into()),
    }
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_opt_text(s: Option<&str>, out: &mut Vec<u8>) {
    match s {
        Some(s) => {
            out.push(1);
            put_bytes(s.as_bytes(), out);
        }
        None => out.push(0),
    }
}

fn put(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::I64(i) => {
            out.push(I64);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::F64(f) => {
            out.push(F64);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Text(s) => {
            out.push(TEXT);
            put_bytes(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            put_bytes(b, out);
        }
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => {
            out.push(UUID);
            out.extend_from_slice(u.as_bytes());
        }
        Value::Numeric(n) => {
            out.push(NUMERIC);
            out.extend_from_slice(&n.mantissa().to_le_bytes());
            out.extend_from_slice(&n.scale().to_le_bytes());
        }
        Value::Date(d) => {
            out.push(DATE);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => {
            out.push(match v {
                Value::Time(_) => TIME,
                Value::Timestamp(_) => TIMESTAMP,
                _ => TIMESTAMP_TZ,
            });
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Json(s) => {
            out.push(JSON);
            put_bytes(s.as_bytes(), out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|item| put(item, out));
        }
        Value::HStore(entries) => {
            out.push(HSTORE);
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (k, v) in entries {
                put_bytes(k.as_bytes(), out);
                put_opt_text(v.as_deref(), out);
            }
        }
        Value::Unencodable(why) => {
            out.push(UNENCODABLE);
            put_bytes(why.as_bytes(), out);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.array()?)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn value(&mut self) -> Option<Value> {
        let [tag] = self.array()?;
        Some(match tag {
            NULL => Value::Null,
            BOOL => Value::Bool(self.array::<1>()?[0] != 0),
            I64 => Value::I64(i64::from_le_bytes(self.array()?)),
            F64 => Value::F64(f64::from_le_bytes(self.array()?)),
            TEXT => Value::Text(self.text()?),
            BYTES => Value::Bytes(self.bytes()?.to_vec()),
            #[cfg(feature = "uuid")]
            UUID => Value::Uuid(uuid::Uuid::from_bytes(self.array()?)),
            NUMERIC => Value::Numeric(Numeric::new(
                i128::from_le_bytes(self.array()?),
                u32::from_le_bytes(self.array()?),
            )),
            DATE => Value::Date(i32::from_le_bytes(self.array()?)),
            TIME => Value::Time(i64::from_le_bytes(self.array()?)),
            TIMESTAMP => Value::Timestamp(i64::from_le_bytes(self.array()?)),
            TIMESTAMP_TZ => Value::TimestampTz(i64::from_le_bytes(self.array()?)),
            JSON => Value::Json(self.text()?),
            ARRAY => {
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(self.0.len()));
                for _ in 0..n {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
            HSTORE => {
                let n = self.len()?;
                let mut entries = Vec::with_capacity(n.min(self.0.len()));
                for _ in 0..n {
                    let k = self.text()?;
                    let v = match self.array::<1>()?[0] {
                        0 => None,
                        _ => Some(self.text()?),
                    };
                    entries.push((k, v));
                }
                Value::HStore(entries)
            }
            UNENCODABLE => Value::Unencodable(self.text()?),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_comes_back_unchanged() {
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::I64(-7),
            Value::F64(2.5),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 255, 1]),
            Value::Numeric(Numeric::new(-12345, 3)),
            Value::Date(-3),
            Value::Time(1),
            Value::Timestamp(i64::MIN),
            Value::TimestampTz(i64::MAX),
            Value::Json("{\"a\":[1,null]}".into()),
            Value::Array(vec![Value::I64(1), Value::Null, Value::Text("x".into())]),
            Value::HStore(vec![("k".into(), Some("v".into())), ("n".into(), None)]),
            Value::Unencodable("why".into()),
        ];
        for v in values {
            assert_eq!(unpack(&pack(&v)), v);
        }
    }

    #[test]
    fn garbage_is_an_unencodable_value_not_a_panic() {
        for bytes in [&[][..], &[99], &[TEXT, 200, 0, 0, 0, 0, 0, 0, 0], &[I64, 1]] {
            assert!(matches!(unpack(bytes), Value::Unencodable(_)));
        }
    }
}
