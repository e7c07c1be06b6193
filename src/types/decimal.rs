//! `rust_decimal::Decimal` (feature `decimal`), through [`Numeric`]:
//! PostgreSQL `NUMERIC`, MySQL `DECIMAL`, text on SQLite.

use rust_decimal::Decimal;

use super::Numeric;
use crate::error::{Error, Result};
use crate::value::{FromSql, ToSql, Value, ValueRef};

impl ToSql for Decimal {
    fn to_sql(&self) -> Value {
        Value::Numeric(Numeric::new(self.mantissa(), self.scale()))
    }
}

impl FromSql for Decimal {
    /// Trailing zeros are dropped where the digits would not fit otherwise
    /// (MySQL pads `DECIMAL(65,30)` to 30 places; Decimal holds 28); digits
    /// that still do not fit are an error, never a rounding.
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        let n = Numeric::from_sql(value)?;
        Decimal::try_from_i128_with_scale(n.mantissa(), n.scale())
            .or_else(|_| {
                let short = n.normalized();
                Decimal::try_from_i128_with_scale(short.mantissa(), short.scale())
            })
            .map_err(|e| {
                Error::decode(format!("{n} does not fit in rust_decimal::Decimal: {e}"))
                    .with_source(e)
            })
    }
}

crate::model::column_types!(Decimal => Numeric);
super::array::arrays_of!(Decimal);
