//! Window functions, peewee's `fn.RANK().over(partition_by=…, order_by=…)`:
//! a [`Window`] of model `M` (`M::window()`) partitions and orders the
//! rows a query reads, and frames each row's neighbours; its ranking and
//! offset functions (`row_number`, `rank`, `percent_rank`, `lag`, …) and
//! any aggregate taken [`over`](Field::over) it are fields to select
//! ([`Select::select_fields`](super::Select::select_fields),
//! [`Select::fields`](super::Select::fields)). One SQL text on all three
//! backends (PostgreSQL, MariaDB 10.2+ and MySQL 8, SQLite 3.25+; sea-query
//! writes the `OVER (…)`).
//!
//! A window function can only be selected: SQL computes them after `WHERE`,
//! `GROUP BY` and `HAVING`, so one compared, grouped by or ordered by makes
//! its query a `Usage` error before it runs (`Over` in column.rs), as does
//! an aggregate that takes no window (`COUNT(DISTINCT …)`) given one.
//! tests/queries/windows.rs runs each on every backend and half.

use std::marker::PhantomData;

use sea_query::{Expr, Func, OverStatement as _, WindowStatement};

use super::Model;
use super::column::{Column, Field, Order, OrderBy, Over};
use super::selection::Selection;
use super::source::Names;

/// The rows a window function sees for each row: its partition (the rows
/// sharing the `partition_by` values; all rows without one), in the
/// `order_by` order, within the frame (`rows`, `range`; without one, the
/// SQL default: the partition's rows up to the current row and its peers
/// when ordered, all of them when not). Made by `M::window()`; each piece
/// may name any model the query reads.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// // Each book's rank by pages, and the running total of pages by id:
/// let ranked = Book::select().order_by(Book::ID.asc()).select_fields((
///     Book::TITLE,
///     Book::window().order_by(Book::PAGES.desc()).rank(),
///     Book::PAGES.sum().over(Book::window().order_by(Book::ID.asc())),
/// ));
/// let rows: Vec<(String, i64, i64)> = s.execute_query(ranked).unwrap();
/// assert_eq!(rows[0], ("Dune".to_string(), 2, 412));
/// assert_eq!(rows[2], ("Notes".to_string(), 3, 976));
/// ```
pub struct Window<M> {
    statement: WindowStatement,
    /// The tables its pieces name, or why one fails.
    names: Names,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Window<M> {
    fn clone(&self) -> Self {
        Window {
            statement: self.statement.clone(),
            names: self.names.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Window<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window").finish_non_exhaustive()
    }
}

/// One end of a window's frame (`ROWS BETWEEN start AND end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameBound {
    /// The partition's first row.
    UnboundedPreceding,
    /// `n` rows (or, for `range`, `n` of the order's value) before the
    /// current row.
    Preceding(u32),
    /// The current row (for `range`, and its peers).
    CurrentRow,
    /// `n` rows (or of the order's value) after the current row.
    Following(u32),
    /// The partition's last row.
    UnboundedFollowing,
}

impl FrameBound {
    fn sea(self) -> sea_query::Frame {
        match self {
            FrameBound::UnboundedPreceding => sea_query::Frame::UnboundedPreceding,
            FrameBound::Preceding(n) => sea_query::Frame::Preceding(n),
            FrameBound::CurrentRow => sea_query::Frame::CurrentRow,
            FrameBound::Following(n) => sea_query::Frame::Following(n),
            FrameBound::UnboundedFollowing => sea_query::Frame::UnboundedFollowing,
        }
    }
}

impl<M: Model> Window<M> {
    /// `OVER ()`: every row of the result, in no order.
    pub(crate) fn new() -> Self {
        Window {
            statement: WindowStatement::new(),
            names: Names::Nothing,
            _model: PhantomData,
        }
    }

    fn naming(mut self, names: Names) -> Self {
        self.names = std::mem::take(&mut self.names).union(names, M::META);
        self
    }

    /// `PARTITION BY …`: a column, an expression, or a tuple of them, of
    /// any model the query reads; added to any before.
    pub fn partition_by(mut self, by: impl Selection) -> Self {
        let mut exprs = Vec::new();
        by.exprs(&mut exprs);
        for s in exprs {
            let (expr, names) = s.outside_selection("a PARTITION BY");
            self.statement.add_partition_by(expr);
            self = self.naming(Names::nested(names, M::META));
        }
        self
    }

    /// `ORDER BY …` within each partition (`Book::PAGES.desc()`), of any
    /// model the query reads; after any before.
    pub fn order_by<N: Model>(mut self, o: Order<N>) -> Self {
        let o = o.retag::<M>();
        let expr = match o.by {
            OrderBy::Column(table, column) => Expr::col((table, column)),
            OrderBy::Expr(e) => e,
        };
        self.statement.order_by_expr(expr, o.order);
        self.naming(o.names)
    }

    /// `ROWS BETWEEN start AND end`: a frame counted in rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// use dualdb::model::FrameBound::{CurrentRow, Preceding};
    /// // Pages of each book and the one before it, by id:
    /// let w = Book::window().order_by(Book::ID.asc()).rows(Preceding(1), CurrentRow);
    /// let q = Book::select().order_by(Book::ID.asc()).select_fields(Book::PAGES.sum().over(w));
    /// let sums: Vec<i64> = s.execute_query(q).unwrap();
    /// assert_eq!(sums, [412, 886, 564]);
    /// ```
    pub fn rows(mut self, start: FrameBound, end: FrameBound) -> Self {
        let rows = sea_query::FrameType::Rows;
        self.statement.frame_between(rows, start.sea(), end.sea());
        self
    }

    /// `RANGE BETWEEN start AND end`: a frame by the order's value (with an
    /// offset, the window is ordered by one numeric or date term).
    pub fn range(mut self, start: FrameBound, end: FrameBound) -> Self {
        let range = sea_query::FrameType::Range;
        self.statement.frame_between(range, start.sea(), end.sea());
        self
    }

    /// `function OVER (this window)`, naming the tables `names` names too.
    fn function(self, function: impl Into<Expr>, names: Names) -> Field<M> {
        let names = self.names.union(names, M::META);
        Field::windowed(function.into(), names, self.statement)
    }

    /// `ROW_NUMBER()`: 1, 2, 3, … within each partition, in the window's
    /// order. Read it as `i64`.
    pub fn row_number(self) -> Field<M> {
        self.function(Func::cust("ROW_NUMBER"), Names::Nothing)
    }

    /// `RANK()`: the row's place in the window's order, rows that tie
    /// sharing one and leaving a gap after (1, 1, 3). Read it as `i64`.
    pub fn rank(self) -> Field<M> {
        self.function(Func::cust("RANK"), Names::Nothing)
    }

    /// `DENSE_RANK()`: as [`rank`](Self::rank), with no gaps (1, 1, 2).
    pub fn dense_rank(self) -> Field<M> {
        self.function(Func::cust("DENSE_RANK"), Names::Nothing)
    }

    /// `PERCENT_RANK()`: the row's [`rank`](Self::rank) less one, over the
    /// partition's rows less one (0.0 to 1.0). Read it as `f64`.
    pub fn percent_rank(self) -> Field<M> {
        self.function(Func::cust("PERCENT_RANK"), Names::Nothing)
    }

    /// `CUME_DIST()`: the share of the partition's rows ordered before the
    /// row or tied with it (above 0.0, up to 1.0). Read it as `f64`.
    pub fn cume_dist(self) -> Field<M> {
        self.function(Func::cust("CUME_DIST"), Names::Nothing)
    }

    /// `NTILE(buckets)`: which of `buckets` near-equal groups, in the
    /// window's order, the row falls in (1 to `buckets`). No buckets makes
    /// the query a `Usage` error before it runs.
    pub fn ntile(self, buckets: u32) -> Field<M> {
        let f = Func::cust("NTILE").arg(Expr::val(i64::from(buckets)));
        let names = match buckets {
            0 => Names::Invalid("ntile(0): a window splits into one bucket or more".into()),
            _ => Names::Nothing,
        };
        self.function(f, names)
    }

    /// `LAG(column, offset)`: `column` of the row `offset` rows before this
    /// one in the window's order, `NULL` for the first rows (read it as an
    /// `Option`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let w = Book::window().order_by(Book::ID.asc());
    /// let q = Book::select().order_by(Book::ID.asc()).select_fields(w.lag(Book::PAGES, 1));
    /// let before: Vec<Option<i32>> = s.execute_query(q).unwrap();
    /// assert_eq!(before, [None, Some(412), Some(474)]);
    /// ```
    pub fn lag<X: Model, T>(self, column: Column<X, T>, offset: u32) -> Field<M> {
        self.offset("LAG", column, offset)
    }

    /// `LEAD(column, offset)`: `column` of the row `offset` rows after this
    /// one, `NULL` for the last rows.
    pub fn lead<X: Model, T>(self, column: Column<X, T>, offset: u32) -> Field<M> {
        self.offset("LEAD", column, offset)
    }

    fn offset<X: Model, T>(self, name: &'static str, column: Column<X, T>, n: u32) -> Field<M> {
        let names = Names::one(column.source(), M::META);
        let f = Func::cust(name).args([column.sea(), Expr::val(i64::from(n))]);
        self.function(f, names)
    }

    /// `FIRST_VALUE(column)`: `column` of the frame's first row.
    pub fn first_value<X: Model, T>(self, column: Column<X, T>) -> Field<M> {
        let names = Names::one(column.source(), M::META);
        self.function(Func::cust("FIRST_VALUE").arg(column.sea()), names)
    }

    /// `LAST_VALUE(column)`: `column` of the frame's last row (with the
    /// default frame, the current row's last peer: give the window
    /// `rows(UnboundedPreceding, UnboundedFollowing)` for the partition's).
    pub fn last_value<X: Model, T>(self, column: Column<X, T>) -> Field<M> {
        let names = Names::one(column.source(), M::META);
        self.function(Func::cust("LAST_VALUE").arg(column.sea()), names)
    }
}

impl<M: Model> Field<M> {
    /// This aggregate computed over `window` for each row, rather than once
    /// for a group (`SUM(pages) OVER (…)`, peewee's `fn.SUM(…).over(…)`): a
    /// running total with an ordered window, a partition's total without.
    /// Given to anything but an aggregate (`count`, `sum`, `avg`, `min`,
    /// `max`, `Field::count_all`; not `count_distinct`, which none of the
    /// three computes over a window), the query is a `Usage` error before
    /// it runs.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// // Each book's pages beside the total of all books:
    /// let q = Book::select()
    ///     .order_by(Book::ID.asc())
    ///     .select_fields((Book::PAGES, Book::PAGES.sum().over(Book::window())));
    /// let rows: Vec<(i32, i64)> = s.execute_query(q).unwrap();
    /// assert_eq!(rows, [(412, 976), (474, 976), (90, 976)]);
    /// ```
    pub fn over(self, window: Window<M>) -> Field<M> {
        let names = match self.over {
            Over::Aggregate => self.names.union(window.names, M::META),
            Over::Never | Over::Window(_) => Names::Invalid(
                "`over` takes an aggregate (count, sum, avg, min, max, count_all): a column, an \
                 expression, COUNT(DISTINCT …) or a field already over a window computes over none"
                    .into(),
            ),
        };
        Field::windowed(self.expr, names, window.statement).of_aggregate(self.aggregate)
    }
}
