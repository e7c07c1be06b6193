//! `is_in` and `not_in`: a column compared with a list of values or with
//! another query's rows (`Post::AUTHOR.is_in(User::select().filter(…))`,
//! peewee's `Tweet.user.in_(User.select().where(…))`), on selects,
//! updates and deletes alike. Values are bound, the sub-query's too.

use sea_query::{Cond, ExprTrait};

use super::Model;
use super::column::{Column, Compatible, Filter};
use super::expr::Expr;
use super::query::Select;
use super::source::{Names, Source};
use super::sql::to_sea;
use crate::value::ToSql;

/// The tables of the query around a sub-query that it names, or why it
/// fails its own check.
pub(crate) type Outer = std::result::Result<Vec<Source>, String>;

/// What [`is_in`](Column::is_in) and [`not_in`](Column::not_in) compare a
/// column of type `T` with: values of that type (any iterable), or a
/// [`Select`] of one column (its [`fields`](Select::fields), or its
/// model's primary key if it names none).
pub trait InValues<T> {
    /// The condition on `column`, and the tables of the query around it
    /// that a sub-query names (correlated).
    #[doc(hidden)]
    fn condition(self, column: sea_query::Expr, negated: bool) -> (sea_query::Expr, Outer);
}

impl<T, I> InValues<T> for I
where
    I: IntoIterator,
    I::Item: Compatible<T>,
{
    fn condition(self, column: sea_query::Expr, negated: bool) -> (sea_query::Expr, Outer) {
        let values: Vec<sea_query::Expr> = self
            .into_iter()
            .map(|v| sea_query::Expr::val(to_sea(v.to_sql())))
            .collect();
        let e = if values.is_empty() {
            // Literals, not `$1 = $2`: PostgreSQL cannot type two bare
            // parameters. Nothing is in an empty list.
            sea_query::Expr::cust(if negated { "1 = 1" } else { "1 = 0" })
        } else if negated {
            column.is_not_in(values)
        } else {
            column.is_in(values)
        };
        (e, Ok(Vec::new()))
    }
}

impl<T, N: Model> InValues<T> for Select<N> {
    /// A sub-query with `LIMIT` or `OFFSET` is read from a derived table:
    /// MySQL and MariaDB take no `LIMIT` in an `IN` sub-query directly
    /// (tests/subqueries.rs runs one on every backend).
    fn condition(self, column: sea_query::Expr, negated: bool) -> (sea_query::Expr, Outer) {
        // Without fields the sub-query yields its model's key: one column
        // only (tests/composite_keys.rs).
        let outer = match self.selects_model_columns() && N::META.composite_key() {
            true => Err(format!(
                "is_in: {}'s key has {} columns; select the one field to compare (`fields`)",
                N::META.name,
                N::META.key.len()
            )),
            false => self.nested_check(),
        };
        let mut sub = self.subquery();
        if self.has_limit() {
            let mut outer = sea_query::Query::select();
            outer
                .column(sea_query::Asterisk)
                .from_subquery(sub, "dualdb_in");
            sub = outer;
        }
        let e = if negated {
            column.not_in_subquery(sub)
        } else {
            column.in_subquery(sub)
        };
        (e, outer)
    }
}

impl<M: Model, T> Column<M, T> {
    /// `column IN (values…)` or `column IN (SELECT …)`; an empty list
    /// matches nothing.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::TITLE.is_in(["Dune", "Emma", "Ulysses"]), false).unwrap(), 2);
    /// assert_eq!(s.count(Book::TITLE.is_in(Vec::<&str>::new()), false).unwrap(), 0);
    /// // The books as long as some book of 1965:
    /// let of_1965 = Book::select().filter(Book::YEAR.eq(1965)).fields([Book::PAGES.field()]);
    /// assert_eq!(s.get(Book::PAGES.is_in(of_1965)).unwrap().title, "Dune");
    /// ```
    pub fn is_in(self, values: impl InValues<T>) -> Filter<M> {
        self.in_filter(values, false)
    }

    /// `column NOT IN (values…)` or `column NOT IN (SELECT …)`; an empty
    /// list matches every row. As in SQL, a NULL among the values (or the
    /// sub-query's rows) matches no row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.count(Book::TITLE.not_in(["Dune", "Emma"]), false).unwrap(), 1);
    /// let long = Book::select().filter(Book::PAGES.gt(400));
    /// assert_eq!(s.get(Book::ID.not_in(long)).unwrap().title, "Notes");
    /// ```
    pub fn not_in(self, values: impl InValues<T>) -> Filter<M> {
        self.in_filter(values, true)
    }

    fn in_filter(self, values: impl InValues<T>, negated: bool) -> Filter<M> {
        let (e, outer) = values.condition(self.sea(), negated);
        let names = Names::nested(outer, M::META).union(self.names(), M::META);
        Filter::naming(Cond::all().add(e), names)
    }
}

impl<N: Model> Select<N> {
    /// The query as one value inside another (a scalar sub-query,
    /// diesel's `single_value`): its one field (its
    /// [`fields`](Select::fields), or its model's key) in the row it finds,
    /// for [`select_fields`](Select::select_fields) or a filter of the
    /// query around it, which it may name (a correlated sub-query). Read it
    /// as `Option<T>` unless it always finds a row (an aggregate such as a
    /// count does). It must find at most one row: PostgreSQL and MySQL fail
    /// the query (a [`Query`](crate::ErrorKind::Query) error) when it
    /// finds more, SQLite takes the first; give it a `limit(1)` if it may.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// use dualdb::model::Field;
    /// let posts = Post::select().filter(Post::AUTHOR.eq_col(User::ID)).fields([Field::count_all()]);
    /// let q = User::select()
    ///     .filter(posts.clone().single_value::<i64>().ge(1))
    ///     .order_by(User::NAME.asc())
    ///     .select_fields((User::NAME, posts.single_value::<i64>()));
    /// let rows: Vec<(String, i64)> = s.execute_query(q).unwrap();
    /// assert_eq!(rows, [("ann".to_string(), 2), ("bob".to_string(), 1)]);
    /// ```
    pub fn single_value<T>(self) -> Expr<N, T> {
        let names = Names::nested(self.nested_check(), N::META);
        let sub = sea_query::Expr::SubQuery(None, Box::new(self.subquery().into()));
        Expr::new(sub, names)
    }
}
