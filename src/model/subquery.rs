//! `is_in` and `not_in`: a column compared with a list of values or with
//! another query's rows (`Post::AUTHOR.is_in(User::select().filter(…))`,
//! peewee's `Tweet.user.in_(User.select().where(…))`), on selects,
//! updates and deletes alike. Values are bound, the sub-query's too.

use sea_query::{Cond, ExprTrait};

use super::Model;
use super::column::{Column, Compatible, Filter};
use super::query::Select;
use super::sql::to_sea;
use crate::value::ToSql;

/// What [`is_in`](Column::is_in) and [`not_in`](Column::not_in) compare a
/// column of type `T` with: values of that type (any iterable), or a
/// [`Select`] of one column (its [`fields`](Select::fields), or its
/// model's primary key if it names none).
pub trait InValues<T> {
    #[doc(hidden)]
    fn condition(self, column: sea_query::Expr, negated: bool) -> sea_query::Expr;
}

impl<T, I> InValues<T> for I
where
    I: IntoIterator,
    I::Item: Compatible<T>,
{
    fn condition(self, column: sea_query::Expr, negated: bool) -> sea_query::Expr {
        let values: Vec<sea_query::Expr> = self
            .into_iter()
            .map(|v| sea_query::Expr::val(to_sea(v.to_sql())))
            .collect();
        if values.is_empty() {
            // Literals, not `$1 = $2`: PostgreSQL cannot type two bare
            // parameters. Nothing is in an empty list.
            return sea_query::Expr::cust(if negated { "1 = 1" } else { "1 = 0" });
        }
        if negated {
            column.is_not_in(values)
        } else {
            column.is_in(values)
        }
    }
}

impl<T, N: Model> InValues<T> for Select<N> {
    /// A sub-query with `LIMIT` or `OFFSET` is read from a derived table:
    /// MySQL and MariaDB take no `LIMIT` in an `IN` sub-query directly
    /// (tests/subqueries.rs runs one on every backend).
    fn condition(self, column: sea_query::Expr, negated: bool) -> sea_query::Expr {
        let mut sub = self.subquery();
        if self.has_limit() {
            let mut outer = sea_query::Query::select();
            outer
                .column(sea_query::Asterisk)
                .from_subquery(sub, "dualdb_in");
            sub = outer;
        }
        if negated {
            column.not_in_subquery(sub)
        } else {
            column.in_subquery(sub)
        }
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
        let column = self.sea();
        Filter::new(Cond::all().add(values.condition(column, false)))
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
        let column = self.sea();
        Filter::new(Cond::all().add(values.condition(column, true)))
    }
}
