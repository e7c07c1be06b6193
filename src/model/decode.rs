//! Rows into models: where a model's columns sit in a result is found once,
//! from its first row, and every row then decodes by position.

use super::ModelRow;
use super::layout::Columns;
use crate::error::Result;
use crate::row::Row;

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
    // Inlined, as the model's own `read_in` is (the derive says why).
    #[inline(always)]
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
