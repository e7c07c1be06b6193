//! Foreign keys: the columns of a model marked `references = Other`,
//! grouped into one key per referenced row. A key of one column for a model
//! whose key has one column (the usual case); for a model with a composite
//! key of N columns, the fields referencing it, in field order, N at a time
//! (the derive checks at compile time that they come in whole groups).

use super::{ColumnMeta, ModelMeta, Registration};

/// A foreign key of `model`: its `columns` reference `target`'s primary
/// key columns, the first to the first.
///
/// ```
/// use dualdb::Model;
///
/// #[derive(Model)]
/// #[model(primary_key(order_id, line))]
/// struct OrderLine { order_id: i64, line: i32, sku: String }
///
/// #[derive(Model)]
/// struct Shipment {
///     #[model(primary_key, auto)]
///     id: i64,
///     #[model(references = OrderLine)]
///     order_id: i64,
///     #[model(references = OrderLine)]
///     line: i32,
/// }
///
/// let fks = Shipment::META.foreign_keys();
/// assert_eq!(fks.len(), 1);
/// let pairs: Vec<_> = fks[0].pairs().map(|(from, to)| (from.name, to.name)).collect();
/// assert_eq!(pairs, [("order_id", "order_id"), ("line", "line")]);
/// ```
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// The model whose columns reference.
    pub model: &'static ModelMeta,
    /// Their indexes in `model.columns`, in the target's key order.
    pub columns: Vec<usize>,
    /// The model referenced.
    pub target: &'static ModelMeta,
}

impl ForeignKey {
    /// Each referencing column with the key column it references.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static ColumnMeta, &'static ColumnMeta)> + '_ {
        let from = self.columns.iter().map(|&i| &self.model.columns[i]);
        from.zip(self.target.key_columns())
    }

    /// The referencing columns.
    pub fn from_columns(&self) -> impl Iterator<Item = &'static ColumnMeta> + '_ {
        self.pairs().map(|(from, _)| from)
    }

    /// True if a referencing column is nullable: a row may reference nothing.
    pub fn nullable(&self) -> bool {
        self.from_columns().any(|c| c.nullable)
    }

    /// True if this key references `target` (by table: a model is one table).
    pub(crate) fn references(&self, target: &ModelMeta) -> bool {
        std::ptr::eq(self.target, target) || self.target.table == target.table
    }
}

impl ModelMeta {
    /// This model's foreign keys, in the order of their first columns.
    pub fn foreign_keys(&'static self) -> Vec<ForeignKey> {
        let mut keys: Vec<ForeignKey> = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            let Some(target) = c.references.map(|r| r()) else {
                continue;
            };
            let width = target.key.len().max(1);
            // The open group of this target, if its last key is not full.
            match keys
                .iter_mut()
                .rfind(|k| k.references(target) && k.columns.len() < width)
            {
                Some(open) => open.columns.push(i),
                None => keys.push(ForeignKey {
                    model: self,
                    columns: vec![i],
                    target,
                }),
            }
        }
        keys
    }

    /// Every registered model's foreign keys to this one.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users: db, s);
    /// let deps = User::META.dependents();
    /// assert!(deps.iter().any(|fk| fk.model.table == "post" && fk.from_columns().any(|c| c.name == "author")));
    /// ```
    pub fn dependents(&'static self) -> Vec<ForeignKey> {
        let mut out = Vec::new();
        for reg in inventory::iter::<Registration> {
            if reg.0.columns.iter().any(|c| c.references.is_some()) {
                out.extend(
                    reg.0
                        .foreign_keys()
                        .into_iter()
                        .filter(|k| k.references(self)),
                );
            }
        }
        out
    }

    /// The first foreign key of this model to `target`.
    pub(crate) fn foreign_key_to(&'static self, target: &ModelMeta) -> Option<ForeignKey> {
        self.foreign_keys()
            .into_iter()
            .find(|k| k.references(target))
    }
}
