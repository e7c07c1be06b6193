//! A MySQL row read as dualdb's: the driver's row, its columns by
//! position, text moved out of it rather than copied.

use mysql_common::constants::ColumnType;
use mysql_common::row::Row as MyRow;
use mysql_common::value::Value as MyValue;

use crate::error::{Error, Result};
use crate::row::{RowRead, in_column, within};
use crate::types::temporal;
use crate::value::{FromSql, ValueRef};

pub(crate) fn column_name(row: &MyRow, i: usize) -> Option<&str> {
    row.columns_ref()
        .get(i)
        .and_then(|c| std::str::from_utf8(c.name_ref()).ok())
}

/// The character set number MySQL gives binary columns.
const BINARY_CHARSET: u16 = 63;

/// Whether a column's bytes are text: neither a decimal (decoded as a
/// number) nor binary.
fn is_text(column: &mysql_common::packets::Column) -> bool {
    !matches!(
        column.column_type(),
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL
    ) && column.character_set() != BINARY_CHARSET
}

/// Column `i` (in the row) as `T`: an integer read directly, text moved out
/// of the row, anything else through its [`ValueRef`]. The value is looked
/// at once.
#[inline(always)]
pub(crate) fn take<T: FromSql>(row: &mut MyRow, i: usize) -> Result<T> {
    match row.as_ref(i) {
        Some(MyValue::Int(v)) => return T::from_column(ValueRef::I64(*v)),
        Some(MyValue::Bytes(_)) if row.columns_ref().get(i).is_some_and(is_text) => {
            // Taken as a `Value`, the one conversion of mysql_common's that
            // cannot fail (`take::<T>` panics when the value does not
            // convert to `T`).
            if let Some(MyValue::Bytes(bytes)) = row.take::<MyValue, usize>(i) {
                return T::from_owned_text(bytes);
            }
        }
        _ => {}
    }
    T::from_column(value_ref(row, i)?)
}

impl RowRead for MyRow {
    // Always: inlined into the derive's field list, which a hint did not
    // get (benches/instructions, MySQL's 1,000-row select, guards it).
    #[inline(always)]
    fn take<T: FromSql>(&mut self, i: usize) -> Result<T> {
        within(i, self.len())?;
        take(self, i).map_err(|e| in_column(i, e))
    }
    fn is_null(&mut self, i: usize) -> Result<bool> {
        within(i, self.len())?;
        let value = self.as_ref(i).ok_or_else(|| not_in_row(i))?;
        Ok(matches!(value, MyValue::NULL))
    }
}

/// The error of a column taken out of the row before.
fn not_in_row(i: usize) -> Error {
    Error::decode(format!("column {i} is not in the row"))
}

/// A column as a [`ValueRef`].
pub(crate) fn value_ref(row: &MyRow, i: usize) -> Result<ValueRef<'_>> {
    let value = row.as_ref(i).ok_or_else(|| not_in_row(i))?;
    let column = &row.columns_ref()[i];
    Ok(match value {
        MyValue::NULL => ValueRef::Null,
        MyValue::Int(i) => ValueRef::I64(*i),
        MyValue::UInt(u) => match i64::try_from(*u) {
            Ok(i) => ValueRef::I64(i),
            Err(_) => ValueRef::U64(*u),
        },
        MyValue::Float(f) => ValueRef::F64(f64::from(*f)),
        MyValue::Double(f) => ValueRef::F64(*f),
        MyValue::Bytes(b) => match column.column_type() {
            // `SUM` and `AVG` return DECIMAL: neutral, so integers and floats decode it.
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                match std::str::from_utf8(b).ok().and_then(|t| t.parse().ok()) {
                    Some(n) => ValueRef::Numeric(n),
                    None => ValueRef::Text(b),
                }
            }
            _ if is_text(column) => ValueRef::Text(b),
            _ => ValueRef::Bytes(b),
        },
        MyValue::Date(y, mo, d, h, mi, s, us) => {
            let days = temporal::days_from_civil((*y).into(), (*mo).into(), (*d).into());
            match column.column_type() {
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => ValueRef::Date(
                    i32::try_from(days).map_err(|_| Error::decode("a date out of range"))?,
                ),
                _ => ValueRef::Timestamp(
                    days * temporal::MICROS_PER_DAY
                        + ((i64::from(*h) * 60 + i64::from(*mi)) * 60 + i64::from(*s)) * 1_000_000
                        + i64::from(*us),
                ),
            }
        }
        MyValue::Time(negative, days, h, mi, s, us) => {
            let micros = (((i64::from(*days) * 24 + i64::from(*h)) * 60 + i64::from(*mi)) * 60
                + i64::from(*s))
                * 1_000_000
                + i64::from(*us);
            ValueRef::Time(if *negative { -micros } else { micros })
        }
    })
}
