//! PostgreSQL arrays as `Vec<T>` and `hstore` as a map of text to nullable
//! text. Both exist on PostgreSQL only; binding one elsewhere, or creating a
//! table with such a column, is a [`Usage`](crate::ErrorKind::Usage) error.
//!
//! `Vec<T>` is an array for every element type dualdb maps except `u8`
//! (`Vec<u8>` is bytes); `Vec<Option<T>>` holds `NULL` elements.

use std::collections::{BTreeMap, HashMap};

#[cfg(feature = "postgres")]
use crate::Result;
use crate::model::{ColumnKind, ColumnType};
#[cfg(feature = "postgres")]
use crate::value::{FromSql, ValueRef, mismatch};
use crate::value::{ToSql, Value};

/// `Vec<T>` and `[T]` bind as arrays, `Vec<T>` decodes from one and is an
/// array column in a model; for each `T` and `Option<T>` listed.
macro_rules! arrays_of {
    ($($t:ty),* $(,)?) => {$(
        $crate::types::array::arrays_of!(@one $t);
        $crate::types::array::arrays_of!(@one Option<$t>);
    )*};
    (@one $t:ty) => {
        impl $crate::ToSql for [$t] {
            fn to_sql(&self) -> $crate::Value {
                $crate::Value::Array(self.iter().map($crate::ToSql::to_sql).collect())
            }
        }
        impl $crate::ToSql for Vec<$t> {
            fn to_sql(&self) -> $crate::Value {
                self.as_slice().to_sql()
            }
            fn into_sql(self) -> $crate::Value {
                $crate::Value::Array(self.into_iter().map($crate::ToSql::into_sql).collect())
            }
        }
        #[cfg(feature = "postgres")]
        impl $crate::FromSql for Vec<$t> {
            fn from_sql(value: $crate::ValueRef<'_>) -> $crate::Result<Self> {
                $crate::types::array::elements(value)?
                    .into_iter()
                    .map(<$t as $crate::FromSql>::from_sql)
                    .collect()
            }
        }
        impl $crate::model::ColumnType for Vec<$t> {
            const KIND: $crate::model::ColumnKind =
                $crate::model::ColumnKind::Array(&<$t as $crate::model::ColumnType>::KIND);
        }
    };
}
pub(crate) use arrays_of;

arrays_of!(bool, i16, i32, i64, f32, f64, String, crate::types::Numeric);

/// The elements of an array column.
#[cfg(feature = "postgres")]
pub(crate) fn elements(value: ValueRef<'_>) -> Result<Vec<ValueRef<'_>>> {
    match value {
        ValueRef::Array(a) => a.elements(),
        v => Err(mismatch::<Vec<()>>(&v)),
    }
}

macro_rules! hstore_maps {
    ($($map:ident),*) => {$(
        impl ToSql for $map<String, Option<String>> {
            fn to_sql(&self) -> Value {
                Value::HStore(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
        }
        #[cfg(feature = "postgres")]
        impl FromSql for $map<String, Option<String>> {
            fn from_sql(value: ValueRef<'_>) -> Result<Self> {
                match value {
                    ValueRef::HStore(h) => Ok(h
                        .entries()?
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
                        .collect()),
                    v => Err(mismatch::<Self>(&v)),
                }
            }
        }
        impl ColumnType for $map<String, Option<String>> {
            const KIND: ColumnKind = ColumnKind::HStore;
        }
    )*};
}
hstore_maps!(HashMap, BTreeMap);
