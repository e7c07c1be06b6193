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
use super::column::{Column, Compatible, Field, Filter};
use super::sql::to_sea;

/// An SQL expression of Rust type `T` over model `M`'s columns: made from a
/// [`Column`] with an operator (`+ - * /`) or a function
/// ([`lower`](Column::lower), [`upper`](Column::upper),
/// [`coalesce`](Column::coalesce)).
pub struct Expr<M, T> {
    pub(crate) expr: sea_query::Expr,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Expr<M, T> {
    fn clone(&self) -> Self {
        Expr::new(self.expr.clone())
    }
}

impl<M, T> std::fmt::Debug for Expr<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr").finish_non_exhaustive()
    }
}

impl<M, T> Expr<M, T> {
    fn new(expr: sea_query::Expr) -> Self {
        Expr {
            expr,
            _types: PhantomData,
        }
    }
}

/// What an expression of type `T` over model `M` can be made of: a column
/// of that type, an expression of it, or a value (bound).
pub trait IntoExpr<M, T> {
    #[doc(hidden)]
    fn into_sea(self) -> sea_query::Expr;
}

impl<M: Model, T> IntoExpr<M, T> for Column<M, T> {
    fn into_sea(self) -> sea_query::Expr {
        self.sea()
    }
}

impl<M, T> IntoExpr<M, T> for Expr<M, T> {
    fn into_sea(self) -> sea_query::Expr {
        self.expr
    }
}

/// A non-null expression fits a nullable column.
impl<M, T> IntoExpr<M, Option<T>> for Expr<M, T> {
    fn into_sea(self) -> sea_query::Expr {
        self.expr
    }
}

impl<M: Model, T> IntoExpr<M, Option<T>> for Column<M, T> {
    fn into_sea(self) -> sea_query::Expr {
        self.sea()
    }
}

impl<M, T, V: Compatible<T>> IntoExpr<M, T> for V {
    fn into_sea(self) -> sea_query::Expr {
        sea_query::Expr::val(to_sea(self.to_sql()))
    }
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
                Expr::new(IntoExpr::<M, T>::into_sea(self).$sea(rhs.into_sea()))
            }
        }
        impl<M, T: Arithmetic, R: IntoExpr<M, T>> std::ops::$op<R> for Expr<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, rhs: R) -> Expr<M, T> {
                Expr::new(self.expr.$sea(rhs.into_sea()))
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

impl<M, T: Text> Expr<M, T> {
    /// `LOWER(expression)`
    pub fn lower(self) -> Expr<M, T> {
        Expr::new(Func::lower(self.expr).into())
    }

    /// `UPPER(expression)`
    pub fn upper(self) -> Expr<M, T> {
        Expr::new(Func::upper(self.expr).into())
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
        Expr::new(Func::coalesce([self.sea(), value.into_sea()]).into())
    }
}

impl<M: Model, T> From<Column<M, T>> for Expr<M, T> {
    fn from(c: Column<M, T>) -> Self {
        Expr::new(c.sea())
    }
}

impl<M, T> Expr<M, T> {
    fn compare(
        self,
        op: fn(sea_query::Expr, sea_query::Expr) -> sea_query::Expr,
        rhs: impl IntoExpr<M, T>,
    ) -> Filter<M> {
        Filter::new(sea_query::Cond::all().add(op(self.expr, rhs.into_sea())))
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
        Field::new(self.expr)
    }
}
