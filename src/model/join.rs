//! The joins of a [`Select`](super::Select): which models a query reads
//! from, the `ON` condition of each join (given, or inferred from a
//! `references = Other` field), and the check, before a query runs, that
//! every model its filters, orders and selected models name is one of them.

use sea_query::{Cond, Condition, ExprTrait, JoinType};

use super::ModelMeta;
use super::column::qualified;
use crate::error::{Error, ErrorKind, Result};

/// One joined model and how its rows meet the query's: the `ON`
/// condition, resolved when the join was added (against the models in the
/// query then), or the reason it could not be, reported before the query
/// runs.
#[derive(Clone, Debug)]
pub(crate) struct Join {
    pub(crate) meta: &'static ModelMeta,
    pub(crate) left: bool,
    pub(crate) on: std::result::Result<Condition, String>,
}

impl Join {
    /// A join of `meta` on the foreign key between it and one of `before`.
    pub(crate) fn inferred(
        before: &[&'static ModelMeta],
        meta: &'static ModelMeta,
        left: bool,
    ) -> Self {
        let on = joinable(before, meta)
            .and_then(|()| inferred(before, meta))
            .map(|(from, from_column, to)| on(from, from_column, meta, to));
        Join { meta, left, on }
    }

    /// A join of `meta` on `from.column = meta.to`.
    pub(crate) fn on_columns(
        before: &[&'static ModelMeta],
        from: (&'static ModelMeta, &'static str),
        meta: &'static ModelMeta,
        to: &'static str,
        left: bool,
    ) -> Self {
        let on = joinable(before, meta).and_then(|()| {
            if before.iter().any(|m| m.table == from.0.table) {
                Ok(on(from.0, from.1, meta, to))
            } else {
                Err(format!(
                    "join_on: {}.{} is not a column of the query's models ({}): join {} first",
                    from.0.name,
                    from.1,
                    names(before),
                    from.0.name
                ))
            }
        });
        Join { meta, left, on }
    }

    pub(crate) fn kind(&self) -> JoinType {
        if self.left {
            JoinType::LeftJoin
        } else {
            JoinType::InnerJoin
        }
    }
}

fn on(
    from: &'static ModelMeta,
    from_column: &'static str,
    joined: &'static ModelMeta,
    to: &'static str,
) -> Condition {
    Cond::all().add(qualified(from.table, from_column).eq(qualified(joined.table, to)))
}

/// A model joined twice needs an alias, which dualdb does not have yet.
fn joinable(
    before: &[&'static ModelMeta],
    meta: &'static ModelMeta,
) -> std::result::Result<(), String> {
    if before.iter().any(|m| m.table == meta.table) {
        return Err(format!(
            "join: {} is in the query already (joining a model twice needs an alias, \
             which dualdb does not have yet)",
            meta.name
        ));
    }
    Ok(())
}

/// The foreign key between `joined` and one of `before`: a column of a
/// model in the query that references `joined`, or a column of `joined`
/// that references a model in the query. None or several is a
/// [`Usage`](ErrorKind::Usage) error naming them.
fn inferred(
    before: &[&'static ModelMeta],
    joined: &'static ModelMeta,
) -> std::result::Result<(&'static ModelMeta, &'static str, &'static str), String> {
    let mut found = Vec::new();
    for &m in before {
        for c in m.columns {
            if c.references.is_some_and(|r| r().table == joined.table) {
                found.push((m, c.name, joined.pk().name));
            }
        }
        for c in joined.columns {
            if c.references.is_some_and(|r| r().table == m.table) {
                found.push((m, m.pk().name, c.name));
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "join: no foreign key (`references`) between {} and the query's models ({}): \
             use join_on to give the columns",
            joined.name,
            names(before)
        )),
        many => Err(format!(
            "join: {} foreign keys between {} and the query's models: {}; use join_on to say which",
            many.len(),
            joined.name,
            many.iter()
                .map(|(m, from, to)| format!("{}.{from} = {}.{to}", m.name, joined.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn names(models: &[&'static ModelMeta]) -> String {
    models.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

/// The error of a query whose `what` names a model it does not read from.
pub(crate) fn not_in_query(model: &ModelMeta, what: &str, of: &ModelMeta) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!(
            "{what} names {}, which the query of {} does not read from: join it first",
            model.name, of.name
        ),
    )
}

/// The check before a query runs: every join resolved, and every model
/// `named` (by filters, orders, selected models) among those in `from`.
pub(crate) fn check(
    of: &'static ModelMeta,
    joins: &[Join],
    from: &[&'static ModelMeta],
    named: impl IntoIterator<Item = (&'static str, &'static ModelMeta)>,
) -> Result<()> {
    for j in joins {
        if let Err(why) = &j.on {
            return Err(Error::new(ErrorKind::Usage, why.clone()));
        }
    }
    for (what, model) in named {
        if !from.iter().any(|m| m.table == model.table) {
            return Err(not_in_query(model, what, of));
        }
    }
    Ok(())
}
