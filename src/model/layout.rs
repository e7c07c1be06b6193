//! Where a model's columns sit in a result: found once, from its first
//! row, by position when the names line up and by name otherwise.

use super::ModelMeta;
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
