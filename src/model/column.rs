//! Typed column handles and what they build: filters, orderings and
//! selected fields, each tied to its model so that a filter on one model
//! cannot be used on another.
//!
//! ```
//! use dualdb::Model;
//!
//! #[derive(Model)]
//! struct User {
//!     id: i64,
//!     name: String,
//!     age: Option<i32>,
//! }
//!
//! let adults = User::select()
//!     .filter(User::AGE.ge(18) & User::NAME.ne("root"))
//!     .order_by(User::NAME.asc())
//!     .limit(10);
//! # let _ = adults;
//! ```

use std::marker::PhantomData;

use sea_query::{Cond, Condition, Expr, ExprTrait};

use super::Model;
use super::aggregate::{Aggregate, Function};
use super::source::{Alias, Names, Source};
use super::sql::to_sea;
use crate::value::{ToSql, Value};

/// A typed handle on column `T` of model `M`, made by `#[derive(Model)]` as
/// an associated constant (`User::NAME`).
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let long = s.execute_query(Book::select().filter(Book::PAGES.gt(400))).unwrap();
/// assert_eq!(long.len(), 2);
/// assert_eq!(Book::TITLE.name(), "title");
/// ```
pub struct Column<M, T> {
    index: usize,
    name: &'static str,
    /// The table's alias in the query, for a column of an [`Alias`].
    alias: Option<&'static str>,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

/// A value that may be compared with or stored in a column of type `T`:
/// `T` itself, `&str` for text, `T` for `Option<T>`.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// // `&str` for a text column, a plain value for an `Option` column:
/// assert_eq!(s.count(Book::TITLE.eq("Dune"), false).unwrap(), 1);
/// assert_eq!(s.count(Book::YEAR.eq(1965), false).unwrap(), 1);
/// ```
pub trait Compatible<T>: ToSql {}

impl<T: ToSql> Compatible<T> for T {}
impl<T: ToSql> Compatible<Option<T>> for T {}
impl Compatible<String> for &str {}
impl Compatible<Option<String>> for &str {}
impl Compatible<String> for &String {}

/// Column types that can be compared with `=` (in a join's condition,
/// [`eq_col`](Column::eq_col)): the same type, nullable or not, so that a
/// nullable foreign key (`Option<i64>`) joins a key (`i64`).
pub trait Comparable<U> {}
impl<T> Comparable<T> for T {}
impl<T> Comparable<Option<T>> for T {}
impl<T> Comparable<T> for Option<T> {}

/// Any column of model `M`, whatever its type: for lists of columns such as
/// [`update_only`](crate::SyncDb::update_only)'s.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// use dualdb::model::ColumnOf;
/// let mut dune = s.get(Book::TITLE.eq("Dune")).unwrap();
/// dune.pages = 1;
/// dune.title = "not saved".into();
/// let columns: [&dyn ColumnOf<Book>; 1] = [&Book::PAGES];
/// s.update_only(&dune, &columns).unwrap();
/// assert_eq!(s.get(Book::by_id(dune.id)).unwrap().title, "Dune");
/// assert_eq!(columns[0].name(), "pages");
/// ```
pub trait ColumnOf<M> {
    /// The column's position in the model.
    fn index(&self) -> usize;
    /// The column's name.
    fn name(&self) -> &'static str;
}

impl<M, T> ColumnOf<M> for Column<M, T> {
    fn index(&self) -> usize {
        self.index
    }
    fn name(&self) -> &'static str {
        self.name
    }
}

impl<M, T> Column<M, T> {
    /// The column's position in its model and its name (an alias aside).
    pub(crate) const fn parts(self) -> (usize, &'static str) {
        (self.index, self.name)
    }
}

impl<M: Model> Alias<M> {
    /// Column `c` of this alias's table: `alias.col(User::NAME)` is
    /// `"editor"."name"`.
    pub const fn col<T>(self, c: Column<M, T>) -> Column<M, T> {
        Column {
            alias: Some(self.name),
            ..c
        }
    }
}

/// `"table"."column"`: every column a filter, field, order or expression
/// names is qualified with its model's table, so that it means one column
/// in a join (tests/joins.rs).
pub(crate) fn qualified(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

fn val(v: Value) -> Expr {
    Expr::val(to_sea(v))
}

impl<M: Model, T> Column<M, T> {
    /// Used by the derive.
    ///
    /// ```
    /// use dualdb::Column;
    /// # #[derive(dualdb::Model)] struct Book { id: i64, title: String }
    /// // What `#[derive(Model)]` writes for each field:
    /// const TITLE: Column<Book, String> = Column::new(1, "title");
    /// assert_eq!(TITLE.name(), "title");
    /// ```
    #[doc(hidden)]
    pub const fn new(index: usize, name: &'static str) -> Self {
        Column {
            index,
            name,
            alias: None,
            _types: PhantomData,
        }
    }

    /// The table this column is read from in a query.
    pub(crate) fn source(&self) -> Source {
        Source {
            meta: M::META,
            alias: self.alias,
        }
    }

    /// The tables a piece made of this column names.
    pub(crate) fn names(&self) -> Names {
        match self.alias {
            None => Names::Own,
            Some(_) => Names::one(self.source(), M::META),
        }
    }

    /// The column's name.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(Book::PAGES.name(), "pages");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The column as sea-query names it: qualified with its table (or the
    /// table's alias).
    pub(crate) fn sea(self) -> Expr {
        qualified(self.source().name(), self.name)
    }

    fn filter(self, e: Expr) -> Filter<M> {
        Filter::naming(Cond::all().add(e), self.names())
    }

    /// `column = value`; a `None` (NULL) value is `column IS NULL`, as
    /// peewee's `== None` is: `column = NULL` would match no row, and an
    /// `Option` read from elsewhere would find nothing whenever it is `None`
    /// (tests/expressions.rs, `eq_none_is_is_null_and_ne_none_is_not_null`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::TITLE.eq("Emma")).unwrap().pages, 474);
    /// let year: Option<i32> = None;
    /// assert_eq!(s.get(Book::YEAR.eq(year)).unwrap().title, "Notes");
    /// ```
    pub fn eq(self, v: impl Compatible<T>) -> Filter<M> {
        match (self.alias, v.to_sql()) {
            (_, Value::Null) => self.is_null(),
            (None, v) => Filter::raw_eq(self.index, self.name, v),
            (Some(_), v) => self.filter(self.sea().eq(val(v))),
        }
    }
    /// `column = other`, a column of another model (or this one) of the
    /// same type: a join's condition in a filter, or a correlated
    /// sub-query's link to the query around it
    /// ([`filter_exists`](super::Select::filter_exists)).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let q = User::select().filter_exists(Post::select().filter(Post::AUTHOR.eq_col(User::ID)));
    /// assert_eq!(s.count(q, false).unwrap(), 2); // ann and bob wrote posts
    /// ```
    pub fn eq_col<N: Model, U>(self, other: Column<N, U>) -> Filter<M>
    where
        T: Comparable<U>,
    {
        let cond = Cond::all().add(self.sea().eq(other.sea()));
        Filter::naming(
            cond,
            Names::of(vec![self.source(), other.source()], M::META),
        )
    }
    /// `column <> value`; a `None` (NULL) value is `column IS NOT NULL`, as
    /// peewee's `!= None` is. (As in SQL, a NULL in the column is neither
    /// equal nor unequal to a value: `ne("Emma")` skips rows whose title is
    /// NULL.)
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::TITLE.ne("Emma"), false).unwrap(), 2);
    /// assert_eq!(s.count(Book::YEAR.ne(None::<i32>), false).unwrap(), 2);
    /// ```
    pub fn ne(self, v: impl Compatible<T>) -> Filter<M> {
        match v.to_sql() {
            Value::Null => self.is_not_null(),
            v => self.filter(self.sea().ne(val(v))),
        }
    }
    /// `column > value`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::PAGES.gt(412), false).unwrap(), 1);
    /// ```
    pub fn gt(self, v: impl Compatible<T>) -> Filter<M> {
        self.filter(self.sea().gt(val(v.to_sql())))
    }
    /// `column >= value`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::PAGES.ge(412), false).unwrap(), 2);
    /// ```
    pub fn ge(self, v: impl Compatible<T>) -> Filter<M> {
        self.filter(self.sea().gte(val(v.to_sql())))
    }
    /// `column < value`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::YEAR.lt(1900), false).unwrap(), 1);
    /// ```
    pub fn lt(self, v: impl Compatible<T>) -> Filter<M> {
        self.filter(self.sea().lt(val(v.to_sql())))
    }
    /// `column <= value`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::PAGES.le(90), false).unwrap(), 1);
    /// ```
    pub fn le(self, v: impl Compatible<T>) -> Filter<M> {
        self.filter(self.sea().lte(val(v.to_sql())))
    }
    /// `column BETWEEN low AND high`, both ends included (peewee's
    /// `between`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::PAGES.between(90, 412), false).unwrap(), 2);
    /// ```
    pub fn between(self, low: impl Compatible<T>, high: impl Compatible<T>) -> Filter<M> {
        self.filter(self.sea().between(val(low.to_sql()), val(high.to_sql())))
    }
    /// `column IS NULL`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::YEAR.is_null()).unwrap().title, "Notes");
    /// ```
    pub fn is_null(self) -> Filter<M> {
        self.filter(self.sea().is_null())
    }
    /// `column IS NOT NULL`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::YEAR.is_not_null(), false).unwrap(), 2);
    /// ```
    pub fn is_not_null(self) -> Filter<M> {
        self.filter(self.sea().is_not_null())
    }
    /// `column LIKE pattern` (`%` and `_` are wildcards).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.get(Book::TITLE.like("D%")).unwrap().title, "Dune");
    /// ```
    pub fn like(self, pattern: &str) -> Filter<M> {
        self.filter(self.sea().like(pattern))
    }
    /// Ascending order on this column.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let thin_first = s.execute_query(Book::select().order_by(Book::PAGES.asc())).unwrap();
    /// assert_eq!(thin_first[0].title, "Notes");
    /// ```
    pub fn asc(self) -> Order<M> {
        Order::new(
            self.names(),
            OrderBy::Column(self.source().name(), self.name),
            sea_query::Order::Asc,
        )
    }
    /// Descending order on this column.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let thick_first = s.execute_query(Book::select().order_by(Book::PAGES.desc())).unwrap();
    /// assert_eq!(thick_first[0].title, "Emma");
    /// ```
    pub fn desc(self) -> Order<M> {
        Order::new(
            self.names(),
            OrderBy::Column(self.source().name(), self.name),
            sea_query::Order::Desc,
        )
    }
    /// The column itself, as a selected field.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let title: String = s
    ///     .scalar(Book::select().filter(Book::PAGES.eq(90)).fields([Book::TITLE.field()]))
    ///     .unwrap();
    /// assert_eq!(title, "Notes");
    /// ```
    pub fn field(self) -> Field<M> {
        Field::naming(self.sea(), self.names())
    }
    fn aggregate(self, function: Function) -> Field<M> {
        Field::aggregate(Aggregate::new(function, Some(self.sea())), self.names())
    }
    /// `COUNT(column)`: non-NULL values.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let with_year: i64 = s.scalar(Book::select().fields([Book::YEAR.count()])).unwrap();
    /// assert_eq!(with_year, 2);
    /// ```
    pub fn count(self) -> Field<M> {
        self.aggregate(Function::Count)
    }
    /// `MAX(column)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let most: i32 = s.scalar(Book::select().fields([Book::PAGES.max()])).unwrap();
    /// assert_eq!(most, 474);
    /// ```
    pub fn max(self) -> Field<M> {
        self.aggregate(Function::Max)
    }
    /// `MIN(column)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let first: Option<i32> = s.scalar(Book::select().fields([Book::YEAR.min()])).unwrap();
    /// assert_eq!(first, Some(1815));
    /// ```
    pub fn min(self) -> Field<M> {
        self.aggregate(Function::Min)
    }
    /// `SUM(column)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let total: i64 = s.scalar(Book::select().fields([Book::PAGES.sum()])).unwrap();
    /// assert_eq!(total, 976);
    /// ```
    pub fn sum(self) -> Field<M> {
        self.aggregate(Function::Sum)
    }
    /// `AVG(column)`: read it as `f64` (or `Option<f64>`, NULL over no
    /// rows); PostgreSQL and MySQL compute an exact decimal, which decodes
    /// into a float.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let mean: f64 = s.scalar(Book::select().fields([Book::PAGES.avg()])).unwrap();
    /// assert!((mean - 325.33).abs() < 0.01);
    /// ```
    pub fn avg(self) -> Field<M> {
        self.aggregate(Function::Avg)
    }
    /// `COUNT(DISTINCT column)`: the different non-NULL values.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// s.create(Book { id: 0, title: "Dune".into(), pages: 1, year: None }).unwrap();
    /// let titles: i64 = s.scalar(Book::select().fields([Book::TITLE.count_distinct()])).unwrap();
    /// assert_eq!(titles, 3);
    /// ```
    pub fn count_distinct(self) -> Field<M> {
        self.aggregate(Function::CountDistinct)
    }
}

/// A `WHERE` condition on model `M`. Combine with `&`, `|` and `!`, with
/// filters on other models too (for a join: the query checks, before it
/// runs, that it names every model its filters do).
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let f = (Book::PAGES.gt(100) & !Book::TITLE.eq("Emma")) | Book::YEAR.is_null();
/// assert_eq!(s.count(f, false).unwrap(), 2);
/// ```
pub struct Filter<M> {
    pub(crate) kind: FilterKind,
    /// The tables the condition names (most often `M`'s alone).
    names: Names,
    _model: PhantomData<fn() -> M>,
}

/// A filter's condition. `column = value`, the commonest by far, stays
/// unbuilt so that a query made of it alone can take its SQL from the cache
/// of built shapes (see `Select::build`).
#[derive(Clone)]
pub(crate) enum FilterKind {
    /// `column = value`, the column by its position in the model and name.
    Eq(usize, &'static str, Value),
    Cond(Condition),
}

impl<M> Clone for Filter<M> {
    fn clone(&self) -> Self {
        Filter {
            kind: self.kind.clone(),
            names: self.names.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Filter<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter").finish_non_exhaustive()
    }
}

impl<M> Filter<M> {
    pub(crate) fn new(cond: Condition) -> Self {
        Filter {
            kind: FilterKind::Cond(cond),
            names: Names::Own,
            _model: PhantomData,
        }
    }

    /// A filter that fails its query with a `Usage` error saying `why`,
    /// before any I/O.
    pub(crate) fn invalid(why: String) -> Self {
        Filter {
            kind: FilterKind::Cond(Condition::all()),
            names: Names::Invalid(why.into()),
            _model: PhantomData,
        }
    }

    /// `column = value` on the model's column number `index`, named `column`.
    pub(crate) fn raw_eq(index: usize, column: &'static str, v: Value) -> Self {
        Filter {
            kind: FilterKind::Eq(index, column, v),
            names: Names::Own,
            _model: PhantomData,
        }
    }

    /// The value of a `column = value` filter, given up.
    pub(crate) fn into_eq_value(self) -> Option<Value> {
        match self.kind {
            FilterKind::Eq(_, _, v) => Some(v),
            FilterKind::Cond(_) => None,
        }
    }

    /// `column = value`, when that is all this filter is: the column's
    /// position in the model, and the value.
    pub(crate) fn as_eq(&self) -> Option<(usize, &Value)> {
        match &self.kind {
            FilterKind::Eq(index, _, v) => Some((*index, v)),
            FilterKind::Cond(_) => None,
        }
    }

    /// `cond`, naming the tables `names`.
    pub(crate) fn naming(cond: Condition, names: Names) -> Self {
        Filter {
            names,
            ..Filter::new(cond)
        }
    }

    /// The tables the condition names.
    pub(crate) fn names(&self) -> &Names {
        &self.names
    }
}

impl<M: Model> Filter<M> {
    /// The condition, built.
    pub(crate) fn cond(self) -> Condition {
        match self.kind {
            FilterKind::Eq(_, column, v) => {
                Cond::all().add(qualified(M::META.table, column).eq(val(v)))
            }
            FilterKind::Cond(c) => c,
        }
    }

    /// The same condition as a filter of model `K`, naming `M` among its
    /// other models if `M` is not `K` (a filter of `K` itself is kept as it
    /// is, for the cache of built shapes).
    pub(crate) fn retag<K: Model>(mut self) -> Filter<K> {
        if std::any::TypeId::of::<M>() == std::any::TypeId::of::<K>() {
            return Filter {
                kind: self.kind,
                names: self.names,
                _model: PhantomData,
            };
        }
        let names = std::mem::take(&mut self.names).retag(M::META, K::META);
        Filter {
            kind: FilterKind::Cond(self.cond()),
            names,
            _model: PhantomData,
        }
    }

    /// Both conditions (of this model or another).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let f = Book::PAGES.gt(100).and(Book::YEAR.lt(1900));
    /// assert_eq!(s.get(f).unwrap().title, "Emma");
    /// ```
    pub fn and<N: Model>(self, other: Filter<N>) -> Self {
        self.combine(Cond::all(), other)
    }

    /// Either condition (of this model or another).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let f = Book::PAGES.lt(100).or(Book::YEAR.lt(1900));
    /// assert_eq!(s.count(f, false).unwrap(), 2);
    /// ```
    pub fn or<N: Model>(self, other: Filter<N>) -> Self {
        self.combine(Cond::any(), other)
    }

    fn combine<N: Model>(mut self, cond: Condition, other: Filter<N>) -> Self {
        let mut other = other.retag::<M>();
        let names =
            std::mem::take(&mut self.names).union(std::mem::take(&mut other.names), M::META);
        Filter {
            kind: FilterKind::Cond(cond.add(self.cond()).add(other.cond())),
            names,
            _model: PhantomData,
        }
    }
}

impl<M: Model, N: Model> std::ops::BitAnd<Filter<N>> for Filter<M> {
    type Output = Filter<M>;
    fn bitand(self, rhs: Filter<N>) -> Self {
        self.and(rhs)
    }
}

impl<M: Model, N: Model> std::ops::BitOr<Filter<N>> for Filter<M> {
    type Output = Filter<M>;
    fn bitor(self, rhs: Filter<N>) -> Self {
        self.or(rhs)
    }
}

impl<M: Model> std::ops::Not for Filter<M> {
    type Output = Filter<M>;
    fn not(mut self) -> Self {
        let names = std::mem::take(&mut self.names);
        Filter::naming(self.cond().not(), names)
    }
}

/// An `ORDER BY` term on model `M`.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let q = Book::select().order_by(Book::YEAR.desc()).order_by(Book::TITLE.asc());
/// assert_eq!(s.execute_query(q).unwrap()[0].title, "Dune");
/// ```
#[derive(Debug)]
pub struct Order<M> {
    /// The tables the term names (for the query's check).
    pub(crate) names: Names,
    pub(crate) by: OrderBy,
    pub(crate) order: sea_query::Order,
    _model: PhantomData<fn() -> M>,
}

/// What an [`Order`] sorts by: a column (its table or alias, and its
/// name), or an expression (an aggregate).
#[derive(Debug, Clone)]
pub(crate) enum OrderBy {
    Column(&'static str, &'static str),
    Expr(Expr),
}

impl<M> Clone for Order<M> {
    fn clone(&self) -> Self {
        Order::new(self.names.clone(), self.by.clone(), self.order.clone())
    }
}

impl<M> Order<M> {
    fn new(names: Names, by: OrderBy, order: sea_query::Order) -> Self {
        Order {
            names,
            by,
            order,
            _model: PhantomData,
        }
    }
}

impl<M: Model> Order<M> {
    /// The same term in a query of model `K`.
    pub(crate) fn retag<K: Model>(self) -> Order<K> {
        Order::new(self.names.retag(M::META, K::META), self.by, self.order)
    }
}

/// A selected expression of model `M`: a column or an aggregate, for
/// [`Select::fields`](super::Select::fields) and `scalar`.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// use dualdb::model::Field;
/// let (n, pages): (i64, i64) = s
///     .scalar(Book::select().fields([Field::count_all(), Book::PAGES.sum()]))
///     .unwrap();
/// assert_eq!((n, pages), (3, 976));
/// ```
pub struct Field<M> {
    pub(crate) expr: Expr,
    /// The tables the expression names.
    pub(crate) names: Names,
    /// How it stands to a window (`OVER`, src/model/window.rs).
    pub(crate) over: Over,
    /// For an aggregate, its function and argument, from which
    /// [`filter`](Field::filter) writes it anew (src/model/aggregate.rs).
    pub(crate) aggregate: Option<Box<Aggregate>>,
    _model: PhantomData<fn() -> M>,
}

/// How a [`Field`] stands to a window: only an aggregate may be computed
/// over one ([`Field::over`]); one that is can only be selected (SQL
/// allows a window function in no `WHERE`, `GROUP BY` or `HAVING`), so
/// anywhere else it makes its query a `Usage` error before it runs.
#[derive(Clone, Debug)]
pub(crate) enum Over {
    /// A column, an expression, `COUNT(DISTINCT …)`: no window.
    Never,
    /// An aggregate, computed over a window if it is given one.
    Aggregate,
    /// A window function: the aggregate or ranking function over this.
    Window(Box<sea_query::WindowStatement>),
}

/// Why a window function stands where it may not.
pub(crate) fn window_misplaced(place: &str) -> String {
    format!(
        "a window function (a field `over` a window) in {place}: SQL computes window functions \
         after filtering, grouping and HAVING, so here it can only be selected; for the first \
         rows of each group use `Select::limit_per`, and to filter on one otherwise wrap the \
         query in raw SQL (`query_as`)"
    )
}

impl<M> Clone for Field<M> {
    fn clone(&self) -> Self {
        Field {
            over: self.over.clone(),
            aggregate: self.aggregate.clone(),
            ..Field::naming(self.expr.clone(), self.names.clone())
        }
    }
}

impl<M> std::fmt::Debug for Field<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field").finish_non_exhaustive()
    }
}

impl<M> Field<M> {
    /// `expr`, naming the tables `names`.
    pub(crate) fn naming(expr: Expr, names: Names) -> Self {
        Field {
            expr,
            names,
            over: Over::Never,
            aggregate: None,
            _model: PhantomData,
        }
    }

    /// An aggregate function (`COUNT`, `SUM`, …); all but `COUNT(DISTINCT
    /// …)` may take a window.
    pub(crate) fn aggregate(aggregate: Aggregate, names: Names) -> Self {
        Field {
            expr: aggregate.expr(),
            names,
            over: match aggregate.windowed() {
                true => Over::Aggregate,
                false => Over::Never,
            },
            aggregate: Some(Box::new(aggregate)),
            _model: PhantomData,
        }
    }

    /// `expr` over `window` (src/model/window.rs).
    pub(crate) fn windowed(expr: Expr, names: Names, window: sea_query::WindowStatement) -> Self {
        Field {
            over: Over::Window(Box::new(window)),
            ..Field::naming(expr, names)
        }
    }

    /// The same field, an aggregate of these parts (kept through `over`).
    pub(crate) fn of_aggregate(mut self, aggregate: Option<Box<Aggregate>>) -> Self {
        self.aggregate = aggregate;
        self
    }

    /// The tables it names where only a selected field may stand: why not,
    /// for a window function.
    fn names_outside_selection(&self, place: &str) -> Names {
        match self.over {
            Over::Window(_) => Names::Invalid(window_misplaced(place).into()),
            _ => self.names.clone(),
        }
    }

    /// `COUNT(*)`
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// use dualdb::model::Field;
    /// let n: i64 = s.scalar(Book::select().filter(Book::PAGES.gt(100)).fields([Field::count_all()])).unwrap();
    /// assert_eq!(n, 2);
    /// ```
    pub fn count_all() -> Self {
        Field::aggregate(Aggregate::new(Function::Count, None), Names::Nothing)
    }
}

impl<M: Model> Field<M> {
    /// peewee's `fn.COUNT(…).filter(cond)`: the aggregate of only the rows
    /// `cond` holds for, SQL's `FILTER (WHERE cond)`, written
    /// `COUNT(CASE WHEN cond THEN … END)` so that MySQL computes it too;
    /// given twice, both conditions hold. Where `cond` holds for no row,
    /// `COUNT` is 0 and the others NULL (read them as `Option`). It may be
    /// taken [`over`](Self::over) a window, before or after. `cond` may
    /// name any model the query reads; to count rows, filter `M::ID.count()`
    /// (`Field::count_all()` names no model for `M` to be inferred from). On
    /// what is not an aggregate, the query is a
    /// [`Usage`](crate::ErrorKind::Usage) error before it runs.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// use dualdb::model::Field;
    /// // All books, the long ones, and the pages of those with no year, in one query:
    /// let q = Book::select().select_fields((
    ///     Field::<Book>::count_all(),
    ///     Book::ID.count().filter(Book::PAGES.gt(400)),
    ///     Book::PAGES.sum().filter(Book::YEAR.is_null()),
    /// ));
    /// let counted: Vec<(i64, i64, Option<i64>)> = s.execute_query(q).unwrap();
    /// assert_eq!(counted, [(3, 2, Some(90))]);
    /// ```
    pub fn filter<N: Model>(mut self, cond: Filter<N>) -> Field<M> {
        let cond = cond.retag::<M>();
        let names = cond.names().clone();
        let Some(aggregate) = self.aggregate.take() else {
            self.names = Names::Invalid(
                "`filter` takes an aggregate (count, sum, avg, min, max, count_distinct, \
                 count_all): a column or an expression counts no rows"
                    .into(),
            );
            return self;
        };
        let aggregate = aggregate.filtered(cond.cond());
        self.expr = aggregate.expr();
        self.names = std::mem::take(&mut self.names).union(names, M::META);
        self.aggregate = Some(Box::new(aggregate));
        self
    }

    fn compare(self, op: fn(Expr, Expr) -> Expr, v: impl ToSql) -> Filter<M> {
        let names = self.names_outside_selection("a filter or HAVING");
        Filter::naming(Cond::all().add(op(self.expr, val(v.to_sql()))), names)
    }

    /// `field = value`: for a `HAVING` on an aggregate
    /// (`Post::ID.count().gt(2)`), or any selected expression.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// // users with two posts
    /// let q = User::select().join::<Post>().group_by(User::ID).having(Post::ID.count().eq(2));
    /// assert_eq!(s.execute_query(q).unwrap()[0].name, "ann");
    /// ```
    pub fn eq(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.eq(b), v)
    }
    /// `field <> value`
    pub fn ne(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.ne(b), v)
    }
    /// `field > value`
    pub fn gt(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.gt(b), v)
    }
    /// `field >= value`
    pub fn ge(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.gte(b), v)
    }
    /// `field < value`
    pub fn lt(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.lt(b), v)
    }
    /// `field <= value`
    pub fn le(self, v: impl ToSql) -> Filter<M> {
        self.compare(|a, b| a.lte(b), v)
    }
    /// Ascending order on this field (an aggregate, say).
    pub fn asc(self) -> Order<M> {
        let names = self.names_outside_selection("an ORDER BY");
        Order::new(names, OrderBy::Expr(self.expr), sea_query::Order::Asc)
    }
    /// Descending order on this field.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let busiest = User::select().join::<Post>().group_by(User::ID).order_by(Post::ID.count().desc());
    /// assert_eq!(s.get(busiest).unwrap().name, "ann");
    /// ```
    pub fn desc(self) -> Order<M> {
        let names = self.names_outside_selection("an ORDER BY");
        Order::new(names, OrderBy::Expr(self.expr), sea_query::Order::Desc)
    }
}
