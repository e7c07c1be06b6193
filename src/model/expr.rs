//! Typed expressions over a model's columns: arithmetic (`Post::VIEWS + 1`,
//! `Item::PRICE * Item::QTY`), `lower`, `upper` and `coalesce`, compared
//! into filters, selected as fields, or written by
//! [`UpdateQuery::set_expr`](super::UpdateQuery::set_expr) (peewee's
//! `Post.update(views=Post.views + 1)`). Values in them are bound, never
//! written into the SQL (tests/expressions.rs sends injection payloads
//! through each).
//!
//! ```
//! # dualdb::__doc_fixtures!(books: db, s);
//! // One more page for every book, computed by the server:
//! s.execute_query(Book::update_query().set_expr(Book::PAGES, Book::PAGES + 1)).unwrap();
//! assert_eq!(s.get(Book::TITLE.eq("Notes")).unwrap().pages, 91);
//! let thick = s.count((Book::PAGES * 2).gt(900), false).unwrap();
//! assert_eq!(thick, 1);
//! ```

use std::marker::PhantomData;

use sea_query::{ExprTrait, Func};

use super::Model;
use super::aggregate::{Aggregate, Function};
use super::column::{Column, Compatible, Field, Filter};
use super::source::Names;
use super::sql::to_sea;
use crate::value::Value;

/// An SQL expression of Rust type `T` over model `M`'s columns: made from a
/// [`Column`] with an operator (`+ - * /`) or a function
/// ([`lower`](Column::lower), [`upper`](Column::upper),
/// [`coalesce`](Column::coalesce)).
pub struct Expr<M, T> {
    pub(crate) expr: sea_query::Expr,
    /// The tables the expression names.
    pub(crate) names: Names,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Expr<M, T> {
    fn clone(&self) -> Self {
        Expr::new(self.expr.clone(), self.names.clone())
    }
}

impl<M, T> std::fmt::Debug for Expr<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr").finish_non_exhaustive()
    }
}

impl<M, T> Expr<M, T> {
    pub(crate) fn new(expr: sea_query::Expr, names: Names) -> Self {
        Expr {
            expr,
            names,
            _types: PhantomData,
        }
    }
}

/// What an expression of type `T` over model `M` can be made of: a column
/// of that type, an expression of it, or a value (bound).
pub trait IntoExpr<M, T> {
    /// The expression, and the tables it names.
    #[doc(hidden)]
    fn into_parts(self) -> (sea_query::Expr, Names);
}

impl<M: Model, T> IntoExpr<M, T> for Column<M, T> {
    fn into_parts(self) -> (sea_query::Expr, Names) {
        (self.sea(), self.names())
    }
}

impl<M, T> IntoExpr<M, T> for Expr<M, T> {
    fn into_parts(self) -> (sea_query::Expr, Names) {
        (self.expr, self.names)
    }
}

/// A non-null expression fits a nullable column.
impl<M, T> IntoExpr<M, Option<T>> for Expr<M, T> {
    fn into_parts(self) -> (sea_query::Expr, Names) {
        (self.expr, self.names)
    }
}

impl<M: Model, T> IntoExpr<M, Option<T>> for Column<M, T> {
    fn into_parts(self) -> (sea_query::Expr, Names) {
        (self.sea(), self.names())
    }
}

impl<M, T, V: Compatible<T>> IntoExpr<M, T> for V {
    fn into_parts(self) -> (sea_query::Expr, Names) {
        (sea_query::Expr::val(to_sea(self.to_sql())), Names::Nothing)
    }
}

/// `op(a, b)` of two parts, naming both's tables, in an expression of `M`.
fn joined<M: Model, T>(
    a: impl IntoExpr<M, T>,
    b: impl IntoExpr<M, T>,
    op: impl FnOnce(sea_query::Expr, sea_query::Expr) -> sea_query::Expr,
) -> (sea_query::Expr, Names) {
    let ((a, an), (b, bn)) = (a.into_parts(), b.into_parts());
    (op(a, b), an.union(bn, M::META))
}

/// The Rust types arithmetic applies to: the integer, float and decimal
/// columns, nullable or not (NULL in, NULL out).
pub trait Arithmetic {}

macro_rules! arithmetic_types {
    ($($t:ty),* $(,)?) => {$(
        impl Arithmetic for $t {}
        impl Arithmetic for Option<$t> {}
    )*};
}
arithmetic_types!(i8, i16, i32, i64, f32, f64);
#[cfg(feature = "decimal")]
arithmetic_types!(rust_decimal::Decimal);

/// The text types `lower` and `upper` apply to.
pub trait Text {}
impl Text for String {}
impl Text for Option<String> {}

macro_rules! arithmetic {
    ($($op:ident $method:ident $sea:ident),* $(,)?) => {$(
        impl<M: Model, T: Arithmetic, R: IntoExpr<M, T>> std::ops::$op<R> for Column<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, rhs: R) -> Expr<M, T> {
                Expr::from(self).$method(rhs)
            }
        }
        impl<M: Model, T: Arithmetic, R: IntoExpr<M, T>> std::ops::$op<R> for Expr<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, rhs: R) -> Expr<M, T> {
                let (e, names) = joined::<M, T>(self, rhs, |a, b| a.$sea(b));
                Expr::new(e, names)
            }
        }
    )*};
}
arithmetic!(Add add add, Sub sub sub, Mul mul mul, Div div div);

impl<M: Model, T: Text> Column<M, T> {
    /// `LOWER(column)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::TITLE.lower().eq("dune"), false).unwrap(), 1);
    /// ```
    pub fn lower(self) -> Expr<M, T> {
        Expr::from(self).lower()
    }

    /// `UPPER(column)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::TITLE.upper().eq("EMMA"), false).unwrap(), 1);
    /// ```
    pub fn upper(self) -> Expr<M, T> {
        Expr::from(self).upper()
    }
}

impl<M: Model, T: Text> Column<M, T> {
    /// The column holds `text`, in any case (peewee's `contains`): `%` and
    /// `_` in `text` are matched as themselves, not as wildcards. The case
    /// of letters beyond ASCII is folded on PostgreSQL and MySQL; SQLite's
    /// `LOWER` folds ASCII letters only, so there `é` does not find `É`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::TITLE.contains("UN")).unwrap().title, "Dune");
    /// assert_eq!(s.count(Book::TITLE.contains("%"), false).unwrap(), 0);
    /// ```
    pub fn contains(self, text: &str) -> Filter<M> {
        Expr::from(self).contains(text)
    }

    /// The column starts with `text`, in any case (peewee's `startswith`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::TITLE.starts_with("em")).unwrap().title, "Emma");
    /// ```
    pub fn starts_with(self, text: &str) -> Filter<M> {
        Expr::from(self).starts_with(text)
    }

    /// The column ends with `text`, in any case (peewee's `endswith`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::TITLE.ends_with("NE")).unwrap().title, "Dune");
    /// ```
    pub fn ends_with(self, text: &str) -> Filter<M> {
        Expr::from(self).ends_with(text)
    }
}

/// `text` for a `LIKE … ESCAPE '!'` pattern: its `%`, `_` and `!` stand
/// for themselves.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

impl<M: Model, T: Text> Expr<M, T> {
    /// [`Column::contains`] of an expression.
    pub fn contains(self, text: &str) -> Filter<M> {
        self.matching(format!("%{}%", escaped(text)))
    }

    /// [`Column::starts_with`] of an expression.
    pub fn starts_with(self, text: &str) -> Filter<M> {
        self.matching(format!("{}%", escaped(text)))
    }

    /// [`Column::ends_with`] of an expression.
    pub fn ends_with(self, text: &str) -> Filter<M> {
        self.matching(format!("%{}", escaped(text)))
    }

    /// `LOWER(expression) LIKE LOWER(pattern) ESCAPE '!'`, the pattern
    /// bound: one text on every backend, case-insensitive on each (where
    /// `LIKE` alone is on SQLite and under MySQL's `_ci` collations, not on
    /// PostgreSQL or a `_bin` collation). `!` as the escape, since a
    /// backslash is itself an escape in MySQL's string literals. SQLite's
    /// `LOWER` folds ASCII letters only (tests/expressions.rs,
    /// `contains_starts_with_and_ends_with_escape_wildcards`).
    fn matching(self, pattern: String) -> Filter<M> {
        use sea_query::BinOper::{Escape, Like};
        let pattern = Func::lower(sea_query::Expr::val(to_sea(Value::Text(pattern))));
        let escape = sea_query::Expr::Constant(sea_query::Value::Char(Some('!')));
        // `LIKE` over a pattern `ESCAPE`-bound: sea-query writes it without
        // parentheses (as it does its own `LikeExpr`), which `ESCAPE` needs.
        let e = Func::lower(self.expr).binary(Like, pattern.binary(Escape, escape));
        Filter::naming(sea_query::Cond::all().add(e), self.names)
    }
}

impl<M, T: Text> Expr<M, T> {
    /// `LOWER(expression)`
    pub fn lower(self) -> Expr<M, T> {
        Expr::new(Func::lower(self.expr).into(), self.names)
    }

    /// `UPPER(expression)`
    pub fn upper(self) -> Expr<M, T> {
        Expr::new(Func::upper(self.expr).into(), self.names)
    }
}

impl<M: Model, T> Column<M, Option<T>> {
    /// `COALESCE(column, value)`: the column, or `value` where it is NULL
    /// (no longer nullable).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let undated = s.count(Book::YEAR.coalesce(0).eq(0), false).unwrap();
    /// assert_eq!(undated, 1);
    /// ```
    pub fn coalesce(self, value: impl IntoExpr<M, T>) -> Expr<M, T> {
        let (value, names) = value.into_parts();
        let names = self.names().union(names, M::META);
        Expr::new(Func::coalesce([self.sea(), value]).into(), names)
    }
}

impl<M: Model, T> From<Column<M, T>> for Expr<M, T> {
    fn from(c: Column<M, T>) -> Self {
        Expr::new(c.sea(), c.names())
    }
}

impl<M: Model, T> Expr<M, T> {
    fn compare(
        self,
        op: fn(sea_query::Expr, sea_query::Expr) -> sea_query::Expr,
        rhs: impl IntoExpr<M, T>,
    ) -> Filter<M> {
        let (e, names) = joined::<M, T>(self, rhs, op);
        Filter::naming(sea_query::Cond::all().add(e), names)
    }

    /// `expression = value` (or another expression or column of the type).
    pub fn eq(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.eq(b), rhs)
    }
    /// `expression <> value`
    pub fn ne(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.ne(b), rhs)
    }
    /// `expression > value`
    pub fn gt(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.gt(b), rhs)
    }
    /// `expression >= value`
    pub fn ge(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.gte(b), rhs)
    }
    /// `expression < value`
    pub fn lt(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.lt(b), rhs)
    }
    /// `expression <= value`
    pub fn le(self, rhs: impl IntoExpr<M, T>) -> Filter<M> {
        self.compare(|a, b| a.lte(b), rhs)
    }

    /// The expression as a selected field.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().filter(Book::TITLE.eq("Dune")).fields([(Book::PAGES * 2).field()]);
    /// let doubled: i32 = s.scalar(q).unwrap();
    /// assert_eq!(doubled, 824);
    /// ```
    pub fn field(self) -> Field<M> {
        Field::naming(self.expr, self.names)
    }

    fn aggregate(self, function: Function) -> Field<M> {
        Field::aggregate(Aggregate::new(function, Some(self.expr)), self.names)
    }

    /// `SUM(expression)`, peewee's `fn.SUM(Item.price * Item.qty)`; the
    /// other aggregates below are the column's, of the expression.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// use dualdb::model::case;
    /// let q = Book::select().select_fields((
    ///     (Book::PAGES * 2).sum(),
    ///     case(Book::PAGES.gt(400), "long").end().count(),
    /// ));
    /// let rows: Vec<(i64, i64)> = s.execute_query(q).unwrap();
    /// assert_eq!(rows, [(1952, 2)]);
    /// ```
    pub fn sum(self) -> Field<M> {
        self.aggregate(Function::Sum)
    }
    /// `COUNT(expression)`: the rows where it is not NULL.
    pub fn count(self) -> Field<M> {
        self.aggregate(Function::Count)
    }
    /// `COUNT(DISTINCT expression)`: its different non-NULL values.
    pub fn count_distinct(self) -> Field<M> {
        self.aggregate(Function::CountDistinct)
    }
    /// `AVG(expression)`: read it as `f64`.
    pub fn avg(self) -> Field<M> {
        self.aggregate(Function::Avg)
    }
    /// `MIN(expression)`
    pub fn min(self) -> Field<M> {
        self.aggregate(Function::Min)
    }
    /// `MAX(expression)`
    pub fn max(self) -> Field<M> {
        self.aggregate(Function::Max)
    }
}

impl<M: Model, T: Text> Column<M, T> {
    /// The column's text followed by `other`'s, peewee's `concat` (`||`):
    /// `CONCAT(COALESCE(a, ''), COALESCE(b, ''))`, so that a NULL counts as
    /// empty text on every backend (MySQL's `CONCAT` alone would give NULL,
    /// PostgreSQL's and SQLite's skip it). Chain it for more parts.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select()
    ///     .filter(Book::PAGES.eq(412))
    ///     .select_fields(Book::TITLE.concat(" (").concat(Book::TITLE.upper()).concat(")"));
    /// let label: Vec<String> = s.execute_query(q).unwrap();
    /// assert_eq!(label, ["Dune (DUNE)"]);
    /// ```
    pub fn concat(self, other: impl IntoExpr<M, String>) -> Expr<M, String> {
        let (a, names) = (self.sea(), self.names());
        concat(a, names, other)
    }
}

impl<M: Model, T: Text> Expr<M, T> {
    /// The expression's text followed by `other`'s: see
    /// [`Column::concat`].
    pub fn concat(self, other: impl IntoExpr<M, String>) -> Expr<M, String> {
        concat(self.expr, self.names, other)
    }
}

fn concat<M: Model>(
    a: sea_query::Expr,
    names: Names,
    b: impl IntoExpr<M, String>,
) -> Expr<M, String> {
    let (b, b_names) = b.into_parts();
    let text = |e: sea_query::Expr| -> sea_query::Expr {
        Func::coalesce([e, sea_query::Expr::val("")]).into()
    };
    let e = Func::cust("CONCAT").args([text(a), text(b)]).into();
    Expr::new(e, names.union(b_names, M::META))
}

/// The date and time types [`date`](Column::date) applies to, and the
/// date type it gives for each.
pub trait Temporal {
    /// The date part's type.
    type Date;
}

#[cfg(any(feature = "chrono", feature = "time"))]
macro_rules! temporal {
    ($($t:ty => $d:ty),* $(,)?) => {$(
        impl Temporal for $t {
            type Date = $d;
        }
        impl Temporal for Option<$t> {
            type Date = Option<$d>;
        }
    )*};
}
#[cfg(feature = "chrono")]
temporal!(
    chrono::NaiveDateTime => chrono::NaiveDate,
    chrono::DateTime<chrono::Utc> => chrono::NaiveDate,
    chrono::NaiveDate => chrono::NaiveDate,
);
#[cfg(feature = "time")]
temporal!(
    time::PrimitiveDateTime => time::Date,
    time::OffsetDateTime => time::Date,
    time::Date => time::Date,
);

impl<M: Model, T: Temporal> Column<M, T> {
    /// The column's date, its time of day cut off: `DATE(column)`, which
    /// all three backends have (for grouping by day: peewee's
    /// `fn.date_trunc('day', …)`). Read it as a date type (`NaiveDate`,
    /// `time::Date`); a zoned timestamp's day is the session time zone's.
    /// [`month_start`](Self::month_start) and
    /// [`year_start`](Self::year_start) truncate further; truncation to the
    /// hour or minute has no SQL text all three share (SQLite has no
    /// function that makes a timestamp of text): filter by ranges there.
    pub fn date(self) -> Expr<M, T::Date> {
        Expr::new(Func::cust("DATE").arg(self.sea()).into(), self.names())
    }

    /// The first day of the column's month (peewee's
    /// `fn.date_trunc('month', …)`), as a date; NULL stays NULL.
    ///
    /// MySQL has no `date_trunc` and SQLite neither it nor `EXTRACT`, so
    /// this is the one text all three read alike: the column's text (ISO
    /// `YYYY-MM-DD…` on each; on PostgreSQL under `DateStyle` ISO, its
    /// default) cut to the month, and read back as a date.
    pub fn month_start(self) -> Expr<M, T::Date> {
        self.truncated(7, "'-01'")
    }

    /// The first day of the column's year (peewee's
    /// `fn.date_trunc('year', …)`), as a date; NULL stays NULL. See
    /// [`month_start`](Self::month_start) for how.
    pub fn year_start(self) -> Expr<M, T::Date> {
        self.truncated(4, "'-01-01'")
    }

    /// `CASE WHEN c IS NULL THEN NULL ELSE DATE(CONCAT(SUBSTR(CONCAT(c), 1,
    /// keep), rest)) END`: the literals are the crate's own, not input.
    fn truncated(self, keep: u8, rest: &'static str) -> Expr<M, T::Date> {
        use sea_query::Expr as E;
        let text: E = Func::cust("CONCAT").arg(self.sea()).into();
        let cut: E = Func::cust("SUBSTR")
            .args([text, E::cust("1"), E::cust(keep.to_string())])
            .into();
        let date: E = Func::cust("DATE")
            .arg(Func::cust("CONCAT").args([cut, E::cust(rest)]))
            .into();
        let null = sea_query::Cond::all().add(self.sea().is_null());
        let e = E::case(null, E::cust("NULL")).finally(date).into();
        Expr::new(e, self.names())
    }
}

/// What a [`case`] branch gives, and the type it has: a column or an
/// expression of type `T`, or a value (`&str` is text, `String`).
pub trait Then<M> {
    /// The branch's Rust type.
    type Type;
    #[doc(hidden)]
    fn into_then(self) -> (sea_query::Expr, Names);
}

impl<M: Model, T> Then<M> for Column<M, T> {
    type Type = T;
    fn into_then(self) -> (sea_query::Expr, Names) {
        (self.sea(), self.names())
    }
}

impl<M: Model, T> Then<M> for Expr<M, T> {
    type Type = T;
    fn into_then(self) -> (sea_query::Expr, Names) {
        (self.expr, self.names)
    }
}

macro_rules! then_values {
    ($($v:ty => $t:ty),* $(,)?) => {$(
        impl<M> Then<M> for $v {
            type Type = $t;
            fn into_then(self) -> (sea_query::Expr, Names) {
                (sea_query::Expr::val(to_sea(crate::value::ToSql::to_sql(&self))), Names::Nothing)
            }
        }
    )*};
}
then_values!(&str => String, String => String, bool => bool, i8 => i8, i16 => i16,
    i32 => i32, i64 => i64, f32 => f32, f64 => f64);

/// `CASE WHEN cond THEN value … END`, peewee's `Case(None, [(cond, value),
/// …], default)`: the value of the first branch whose condition holds.
/// Add branches with [`when`](Case::when), then end with
/// [`otherwise`](Case::otherwise) (the value where none holds) or
/// [`end`](Case::end) (NULL there). The first branch's value sets the
/// type; conditions may name any table of the query.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// use dualdb::model::case;
/// let size = case(Book::PAGES.gt(400), "long")
///     .when(Book::PAGES.gt(100), "medium")
///     .otherwise("short");
/// let q = Book::select().order_by(Book::TITLE.asc()).select_fields((Book::TITLE, size));
/// let rows: Vec<(String, String)> = s.execute_query(q).unwrap();
/// assert_eq!(rows[2], ("Notes".to_string(), "short".to_string()));
/// ```
pub fn case<M: Model, V: Then<M>>(cond: Filter<M>, then: V) -> Case<M, V::Type> {
    Case {
        case: sea_query::CaseStatement::default(),
        names: Names::Nothing,
        _types: PhantomData,
    }
    .branch(cond, then.into_then())
}

/// A `CASE` expression being built: see [`case`].
pub struct Case<M, T> {
    case: sea_query::CaseStatement,
    names: Names,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> std::fmt::Debug for Case<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").finish_non_exhaustive()
    }
}

impl<M: Model, T> Case<M, T> {
    fn branch(mut self, cond: Filter<M>, (then, names): (sea_query::Expr, Names)) -> Self {
        let names = names.union(cond.names().clone(), M::META);
        self.names = std::mem::take(&mut self.names).union(names, M::META);
        self.case = self.case.case(cond.cond(), then);
        self
    }

    /// Another branch, tried after those before it.
    pub fn when<N: Model>(self, cond: Filter<N>, then: impl IntoExpr<M, T>) -> Self {
        self.branch(cond.retag::<M>(), then.into_parts())
    }

    /// The value where no branch's condition holds.
    pub fn otherwise(self, value: impl IntoExpr<M, T>) -> Expr<M, T> {
        let (e, names) = value.into_parts();
        let names = self.names.union(names, M::META);
        Expr::new(self.case.finally(e).into(), names)
    }

    /// NULL where no branch's condition holds.
    pub fn end(self) -> Expr<M, Option<T>> {
        Expr::new(self.case.into(), self.names)
    }
}
