//! JSON (feature `json`): [`Json<T>`] for any serde type, and
//! `serde_json::Value`. PostgreSQL `JSONB`/`JSON`, MySQL `JSON`, text on
//! SQLite.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::value::{FromSql, ToSql, Value, ValueRef, mismatch};

/// A value stored as JSON: `Json(settings)` binds `settings` serialized, and
/// a JSON column decodes into `Json<T>` with serde.
///
/// ```
/// use dualdb::{types::Json, Database};
/// use std::collections::BTreeMap;
///
/// let db = Database::open("sqlite::memory:").unwrap();
/// let tags = Json(BTreeMap::from([("color".to_string(), vec![1, 2])]));
/// let row = db.sync().query_one("SELECT ? AS doc", &[&tags]).unwrap();
/// let back: Json<BTreeMap<String, Vec<i32>>> = row.get("doc").unwrap();
/// assert_eq!(back, tags);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Json<T>(pub T);

impl<T: Serialize> ToSql for Json<T> {
    /// A `T` whose serialization fails (a map with non-text keys, say) fails
    /// the statement with a `Usage` error before anything is sent.
    fn to_sql(&self) -> Value {
        match serde_json::to_string(&self.0) {
            Ok(text) => Value::Json(text),
            Err(e) => Value::Unencodable(format!("JSON serialization failed: {e}")),
        }
    }
}

impl<T: DeserializeOwned> FromSql for Json<T> {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Json(j) | ValueRef::Text(j) | ValueRef::Bytes(j) => serde_json::from_slice(j)
                .map(Json)
                .map_err(|e| Error::decode(format!("invalid JSON: {e}")).with_source(e)),
            v => Err(mismatch::<Self>(&v)),
        }
    }
}

impl ToSql for serde_json::Value {
    fn to_sql(&self) -> Value {
        Value::Json(self.to_string())
    }
}

impl FromSql for serde_json::Value {
    fn from_sql(value: ValueRef<'_>) -> Result<Self> {
        Json::<serde_json::Value>::from_sql(value).map(|j| j.0)
    }
}

impl<T> crate::model::ColumnType for Json<T> {
    const KIND: crate::model::ColumnKind = crate::model::ColumnKind::Json;
}

crate::model::column_types!(serde_json::Value => Json);
