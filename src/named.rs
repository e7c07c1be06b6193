//! Named parameters: raw SQL written with `:name`, turned into the
//! positional text and values every raw call takes ([`Database::named`]).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::database::Database;
use crate::error::Result;
use crate::model::Model;
use crate::value::{ToSql, Value};

/// Raw SQL with its `:name` parameters made positional, and their values
/// in the order they bind: give [`sql`](Self::sql) and
/// [`params`](Self::params) to any raw call (`execute`, `query`,
/// `query_as`, `fetch_rows`, … on either half or a transaction). Made by
/// [`Database::named`].
#[derive(Debug, Clone)]
pub struct Named {
    sql: String,
    values: Vec<Value>,
}

impl Named {
    /// The statement's text, in its backend's positional form.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The values, in the order the text binds them.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|v| v as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Where the values of named parameters come from: a slice or array of
/// `(name, value)` pairs, a `HashMap` or `BTreeMap` from names to values, or
/// a model (each column's value under the column's name).
pub trait NamedValues {
    /// The value given for `name`, if any.
    fn value_of(&self, name: &str) -> Option<Value>;
    /// Every name given a value: each must appear in the statement (a name
    /// it never uses is likely a typo). A model gives none: a statement may
    /// use some of its columns.
    fn names(&self) -> Vec<&str>;
}

impl NamedValues for [(&str, &(dyn ToSql + Sync))] {
    fn value_of(&self, name: &str) -> Option<Value> {
        self.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_sql())
    }
    fn names(&self) -> Vec<&str> {
        self.iter().map(|(n, _)| *n).collect()
    }
}

impl<const N: usize> NamedValues for [(&str, &(dyn ToSql + Sync)); N] {
    fn value_of(&self, name: &str) -> Option<Value> {
        self.as_slice().value_of(name)
    }
    fn names(&self) -> Vec<&str> {
        self.as_slice().names()
    }
}

impl<K: Borrow<str> + std::hash::Hash + Eq, V: ToSql, S: BuildHasher> NamedValues
    for HashMap<K, V, S>
{
    fn value_of(&self, name: &str) -> Option<Value> {
        self.get(name).map(ToSql::to_sql)
    }
    fn names(&self) -> Vec<&str> {
        self.keys().map(Borrow::borrow).collect()
    }
}

impl<K: Borrow<str> + Ord, V: ToSql> NamedValues for BTreeMap<K, V> {
    fn value_of(&self, name: &str) -> Option<Value> {
        self.get(name).map(ToSql::to_sql)
    }
    fn names(&self) -> Vec<&str> {
        self.keys().map(Borrow::borrow).collect()
    }
}

impl<M: Model> NamedValues for M {
    fn value_of(&self, name: &str) -> Option<Value> {
        let at = M::META.columns.iter().position(|c| c.name == name)?;
        Some(self.value(at))
    }
    fn names(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl Database {
    /// `sql` written with named parameters (`:name`), made positional for
    /// this database's backend: `?` on MySQL and SQLite, `$k` on
    /// PostgreSQL (a name used twice binds one value there). A `:` inside a
    /// string literal, a quoted identifier or a comment, a `::` cast, `:=`
    /// and a slice's `a[1:n]` are not parameters. A name given no value, a
    /// value whose name the statement never uses, and a statement that also
    /// has `?` or `$N` placeholders are [`Usage`](crate::ErrorKind::Usage)
    /// errors, before any I/O.
    ///
    /// ```
    /// # fn main() -> dualdb::Result<()> {
    /// use std::collections::HashMap;
    /// let db = dualdb::Database::open("sqlite::memory:")?;
    /// db.sync().execute("CREATE TABLE pet (name TEXT, kind TEXT)", &[])?;
    /// let q = db.named(
    ///     "INSERT INTO pet (name, kind) VALUES (:name, :kind)",
    ///     &[("name", &"Rex" as &(dyn dualdb::ToSql + Sync)), ("kind", &"dog")],
    /// )?;
    /// db.sync().execute(q.sql(), &q.params())?;
    /// let by = HashMap::from([("kind", "dog")]);
    /// let q = db.named("SELECT name FROM pet WHERE kind = :kind AND name <> ':kind'", &by)?;
    /// let row = db.sync().query_one(q.sql(), &q.params())?;
    /// assert_eq!(row.get::<String>(0)?, "Rex");
    /// # Ok(())
    /// # }
    /// ```
    pub fn named<P: NamedValues + ?Sized>(&self, sql: &str, values: &P) -> Result<Named> {
        let given = values.names();
        let (sql, values) =
            crate::placeholders::named(sql, self.backend(), &given, |n| values.value_of(n))?;
        Ok(Named { sql, values })
    }
}
