//! Rows into models: where a model's columns sit in a result is found once,
//! from its first row, and every row then decodes by position.

use super::{ModelMeta, ModelRow};
use crate::error::{Error, Result};
use crate::row::Row;

/// The position of column `i` of `meta` in a row whose model columns start at
/// `offset`: by position when the name there matches, else by name.
#[doc(hidden)]
pub fn column_at(row: &Row, offset: usize, i: usize, meta: &ModelMeta) -> Result<usize> {
    let name = meta
        .columns
        .get(i)
        .ok_or_else(|| Error::decode(format!("model {} has no column {i}", meta.name)))?
        .name;
    if row.column_name(offset + i) == Some(name) {
        return Ok(offset + i);
    }
    (0..row.len())
        .find(|&j| row.column_name(j) == Some(name))
        .ok_or_else(|| {
            Error::decode(format!(
                "the row has no column `{name}` for model {}",
                meta.name
            ))
        })
}

/// Where a model's columns sit in the rows of one result, found once from its
/// first row (every row of a result has the same columns): in order from
/// `offset` when the names there match, else each by name.
#[doc(hidden)]
#[derive(Debug)]
pub struct Columns {
    pub(crate) offset: usize,
    by_name: Option<Vec<usize>>,
}

impl Columns {
    /// The columns of `meta` in `row`, the model's starting at `offset`.
    pub fn find(row: &Row, offset: usize, meta: &ModelMeta) -> Result<Self> {
        let in_order = (meta.columns.iter().enumerate())
            .all(|(i, c)| row.column_name(offset + i) == Some(c.name));
        if in_order {
            return Ok(Columns::in_order(offset));
        }
        let by_name = (0..meta.columns.len())
            .map(|i| column_at(row, offset, i, meta))
            .collect::<Result<_>>()?;
        Ok(Columns {
            offset,
            by_name: Some(by_name),
        })
    }

    /// Columns known to stand in the model's order from `offset`.
    pub(crate) fn in_order(offset: usize) -> Self {
        Columns {
            offset,
            by_name: None,
        }
    }

    /// The position of the model's column `i` (out of range, and so a
    /// decoding error, for an `i` the model does not have).
    pub fn at(&self, i: usize) -> usize {
        match &self.by_name {
            None => self.offset + i,
            Some(at) => at.get(i).copied().unwrap_or(usize::MAX),
        }
    }
}

/// Decodes the rows of one result into `T`s (models, or models side by
/// side), finding where their columns are once, from the first row.
pub(crate) struct Decoder<T: ModelRow> {
    layout: Option<T::Layout>,
}

impl<T: ModelRow> Decoder<T> {
    pub(crate) fn new() -> Self {
        Decoder { layout: None }
    }

    /// The `T` in `row`, taking its values out of the row.
    pub(crate) fn decode(&mut self, row: &mut Row) -> Result<T> {
        let layout = match &self.layout {
            Some(l) => l,
            None => self.layout.insert(T::layout(row, 0, false)?),
        };
        T::decode_with(row, layout)
    }

    /// Decodes the `T` in a row read in place and pushes it to `out`, once
    /// the layout is known (from the first row, or by construction); `None`
    /// (nothing read) until then, or if `T` cannot be read so
    /// ([`ModelRow::read_with`]).
    pub(crate) fn read_into(
        &self,
        row: &mut impl crate::row::RowRead,
        out: &mut Vec<T>,
    ) -> Option<Result<()>> {
        Some(self.read(row)?.map(|t| out.push(t)))
    }

    /// The `T` in a row read in place, once the layout is known; `None`
    /// (nothing read) as for [`read_into`](Self::read_into).
    pub(crate) fn read(&self, row: &mut impl crate::row::RowRead) -> Option<Result<T>> {
        T::read_with(row, self.layout.as_ref()?)
    }
}

impl<M: super::Model> Decoder<M> {
    /// A decoder for rows whose columns are known to be the model's, in its
    /// order (a select dualdb wrote): it does not look for them.
    pub(crate) fn in_model_order() -> Self {
        Decoder {
            layout: Some(Columns::in_order(0)),
        }
    }
}

/// Every row of a result as a `T`.
pub(crate) fn models<T: ModelRow>(rows: Vec<Row>) -> Result<Vec<T>> {
    let mut decoder = Decoder::new();
    rows.into_iter()
        .map(|mut row| decoder.decode(&mut row))
        .collect()
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::{Database, ErrorKind};

    #[derive(crate::Model, Debug, PartialEq)]
    #[model(table = "people")]
    struct Person {
        #[model(primary_key)]
        id: i64,
        name: String,
    }

    fn rows(sql: &str) -> Vec<Row> {
        let db = Database::open("sqlite::memory:").unwrap();
        db.sync().query(sql, &[]).unwrap()
    }

    #[test]
    fn columns_in_order_by_name_or_missing() {
        let ada = || Person {
            id: 1,
            name: "ada".into(),
        };
        for sql in [
            "SELECT 1 AS id, 'ada' AS name",
            "SELECT 'ada' AS name, 0 AS other, 1 AS id",
        ] {
            let decoded: Vec<Person> = models(rows(sql)).unwrap();
            assert_eq!(decoded, [ada()], "{sql}");
        }
        let err = models::<Person>(rows("SELECT 1 AS id, 'ada' AS nom")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.message().contains("`name`"), "{err}");
    }
}
