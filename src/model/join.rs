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
            .map(|(from, from_column, to)| on(from, from_column, target, to));
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
                Ok(on(from.0, from.1, target, to))
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

fn on(from: Source, from_column: &'static str, joined: Source, to: &'static str) -> Condition {
    Cond::all().add(qualified(from.name(), from_column).eq(qualified(joined.name(), to)))
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

/// The foreign key between `joined` and one of `before`: a column of a
/// table in the query that references `joined`, or a column of `joined`
/// that references a table in the query. None or several is a
/// [`Usage`](ErrorKind::Usage) error naming them.
fn inferred(
    before: &[Source],
    joined: &'static ModelMeta,
) -> std::result::Result<(Source, &'static str, &'static str), String> {
    let mut found = Vec::new();
    for &m in before {
        for c in m.meta.columns {
            if c.references.is_some_and(|r| r().table == joined.table) {
                found.push((m, c.name, joined.pk().name));
            }
        }
        for c in joined.columns {
            if c.references.is_some_and(|r| r().table == m.meta.table) {
                found.push((m, m.meta.pk().name, c.name));
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
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
                .map(|(m, from, to)| format!("{}.{from} = {}.{to}", m.label(), joined.name))
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
