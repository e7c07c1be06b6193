//! The joins of a [`Select`](super::Select): which models a query reads
//! from, the `ON` condition of each join (given, or inferred from a
//! `references = Other` field), and the check, before a query runs, that
//! every model its filters, orders and selected models name is one of them.

use sea_query::{Cond, Condition, ExprTrait, JoinType};

use super::ModelMeta;
use super::column::qualified;
use super::source::Source;
use crate::error::{Error, ErrorKind, Result};

/// One joined table and how its rows meet the query's: the `ON`
/// condition, resolved when the join was added (against the tables in the
/// query then), or the reason it could not be, reported before the query
/// runs.
#[derive(Clone, Debug)]
pub(crate) struct Join {
    pub(crate) target: Source,
    pub(crate) left: bool,
    pub(crate) on: std::result::Result<Condition, String>,
}

impl Join {
    /// A join of `meta`'s own table on the foreign key between it and one
    /// of `before`.
    pub(crate) fn inferred(before: &[Source], meta: &'static ModelMeta, left: bool) -> Self {
        let target = Source::own(meta);
        let on = joinable(before, target)
            .and_then(|()| inferred(before, meta))
            .map(|(from, pairs)| on(from, &pairs, target));
        Join { target, left, on }
    }

    /// A join of `target` on `from.column = target.to`.
    pub(crate) fn on_columns(
        before: &[Source],
        from: (Source, &'static str),
        target: Source,
        to: &'static str,
        left: bool,
    ) -> Self {
        let on = joinable(before, target).and_then(|()| {
            if before.iter().any(|m| m.is(&from.0)) {
                Ok(on(from.0, &[(from.1, to)], target))
            } else {
                Err(format!(
                    "join_on: {}.{} is not a column of the query's tables ({}): join {} first",
                    from.0.label(),
                    from.1,
                    names(before),
                    from.0.label()
                ))
            }
        });
        Join { target, left, on }
    }

    pub(crate) fn kind(&self) -> JoinType {
        if self.left {
            JoinType::LeftJoin
        } else {
            JoinType::InnerJoin
        }
    }
}

/// `from.a = joined.x AND …` for each pair of columns (one, or a composite
/// key's).
fn on(from: Source, pairs: &[(&'static str, &'static str)], joined: Source) -> Condition {
    pairs.iter().fold(Cond::all(), |all, &(a, x)| {
        all.add(qualified(from.name(), a).eq(qualified(joined.name(), x)))
    })
}

/// The column pairs of the foreign keys from `referencing` to `target`,
/// each pair `(referencing column, target column)`.
fn keys_between(
    referencing: &'static ModelMeta,
    target: &'static ModelMeta,
) -> impl Iterator<Item = Vec<(&'static str, &'static str)>> {
    let keys = referencing.foreign_keys().into_iter();
    keys.filter(move |k| k.references(target))
        .map(|k| k.pairs().map(|(from, to)| (from.name, to.name)).collect())
}

/// A table joined twice under one name is ambiguous: the second needs an
/// alias ([`Alias`](super::source::Alias)), one no other table of the query
/// has.
fn joinable(before: &[Source], target: Source) -> std::result::Result<(), String> {
    if target.name().is_empty() {
        return Err(format!("join: the alias of {} is empty", target.meta.name));
    }
    if let Some(taken) = before.iter().find(|m| m.name() == target.name()) {
        return Err(match target.alias {
            None => format!(
                "join: {} is in the query already: join it again under an alias \
                 (`Alias::<{}>::new(\"…\")` and join_on)",
                target.meta.name, target.meta.name
            ),
            Some(alias) => format!(
                "join: the alias {alias} of {} is taken by {} in the query",
                target.meta.name,
                taken.label()
            ),
        });
    }
    Ok(())
}

/// The foreign key between `joined` and one of `before`: columns of a
/// table in the query that reference `joined`, or columns of `joined` that
/// reference a table in the query (one pair of columns, or a composite
/// key's pairs: tests/composite_keys.rs). None or several is a
/// [`Usage`](ErrorKind::Usage) error naming them.
type Pairs = Vec<(&'static str, &'static str)>;
fn inferred(
    before: &[Source],
    joined: &'static ModelMeta,
) -> std::result::Result<(Source, Pairs), String> {
    let mut found: Vec<(Source, Pairs)> = Vec::new();
    for &m in before {
        found.extend(keys_between(m.meta, joined).map(|pairs| (m, pairs)));
        let back = keys_between(joined, m.meta);
        found.extend(back.map(|pairs| (m, pairs.into_iter().map(|(a, b)| (b, a)).collect())));
    }
    match found.as_slice() {
        [_] => Ok(found.remove(0)),
        [] => Err(format!(
            "join: no foreign key (`references`) between {} and the query's tables ({}): \
             use join_on to give the columns",
            joined.name,
            names(before)
        )),
        many => Err(format!(
            "join: {} foreign keys between {} and the query's tables: {}; use join_on to say which",
            many.len(),
            joined.name,
            many.iter()
                .map(|(m, pairs)| {
                    let eqs = pairs
                        .iter()
                        .map(|(from, to)| format!("{}.{from} = {}.{to}", m.label(), joined.name));
                    eqs.collect::<Vec<_>>().join(" AND ")
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn names(sources: &[Source]) -> String {
    sources
        .iter()
        .map(Source::label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error of a query whose `what` names a table it does not read from.
pub(crate) fn not_in_query(source: &Source, what: &str, of: &ModelMeta) -> Error {
    let how = match source.alias {
        None => "join it first",
        Some(_) => "join it first (join_on with the alias's column)",
    };
    Error::new(
        ErrorKind::Usage,
        format!(
            "{what} names {}, which the query of {} does not read from: {how}",
            source.label(),
            of.name
        ),
    )
}

/// The check before a query runs: every join resolved, and every table
/// `named` (by filters, orders, selected models) among those in `from`.
pub(crate) fn check(
    of: &'static ModelMeta,
    joins: &[Join],
    from: &[Source],
    named: impl IntoIterator<Item = (&'static str, Source)>,
) -> Result<()> {
    for j in joins {
        if let Err(why) = &j.on {
            return Err(Error::new(ErrorKind::Usage, why.clone()));
        }
    }
    for (what, source) in named {
        if !from.iter().any(|m| m.is(&source)) {
            return Err(not_in_query(&source, what, of));
        }
    }
    Ok(())
}
