//! An aggregate's parts: its function (`COUNT`, `SUM`, …), its argument (a
//! column or an expression; none for `COUNT(*)`) and the condition
//! [`Field::filter`](super::Field::filter) gave it, from which its SQL is
//! written anew whenever a part changes.
//!
//! A condition is written into the argument, `SUM(CASE WHEN cond THEN x
//! END)`, not as SQL's `FILTER (WHERE cond)`, which MySQL and MariaDB lack:
//! every aggregate skips NULL, so both compute the same on every backend
//! (tests/queries/aggregates.rs checks each function against the rows,
//! over no rows and over a window too).

use sea_query::{Condition, Expr, ExprTrait};

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

/// An aggregate: see the module's text.
#[derive(Clone, Debug)]
pub(crate) struct Aggregate {
    function: Function,
    /// `None` for `COUNT(*)`.
    argument: Option<Expr>,
    /// The rows it takes, if not all.
    condition: Option<Condition>,
}

impl Aggregate {
    pub(crate) fn new(function: Function, argument: Option<Expr>) -> Self {
        Aggregate {
            function,
            argument,
            condition: None,
        }
    }

    /// True if it may be computed over a window: none of the three
    /// backends computes `COUNT(DISTINCT …)` over one.
    pub(crate) fn windowed(&self) -> bool {
        self.function != Function::CountDistinct
    }

    /// Taking only the rows `condition` holds for, as well as any condition
    /// before.
    pub(crate) fn filtered(mut self, condition: Condition) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(before) => Condition::all().add(before).add(condition),
            None => condition,
        });
        self
    }

    /// The aggregate's SQL.
    pub(crate) fn expr(&self) -> Expr {
        let argument = match (&self.argument, &self.condition) {
            (Some(a), _) => a.clone(),
            // `COUNT(*)` of some rows counts a constant where they hold (a
            // literal: a bound value alone in a `CASE` has no type for
            // PostgreSQL).
            (None, Some(_)) => Expr::cust("1"),
            (None, None) => Expr::col(sea_query::Asterisk),
        };
        let argument = match &self.condition {
            Some(c) => Expr::case(c.clone(), argument).into(),
            None => argument,
        };
        match self.function {
            Function::Count => argument.count(),
            Function::CountDistinct => argument.count_distinct(),
            Function::Sum => argument.sum(),
            Function::Avg => argument.avg(),
            Function::Min => argument.min(),
            Function::Max => argument.max(),
        }
    }
}
