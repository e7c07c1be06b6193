//! [`Selection`]: the columns, expressions and aggregates a query selects
//! or groups by, of any of its models, one or a tuple of them
//! (`(Post::ID, User::NAME, Post::ID.count())`).

use super::Model;
use super::column::{Column, Field, Over, window_misplaced};
use super::expr::Expr;
use super::source::Source;
use crate::value::Value;
use sea_query::ExprTrait;

/// A selected expression, the window it is computed over if any, and the
/// tables it names (or why a piece of it fails). Public in name only, for
/// [`Selection::exprs`]: no path outside the crate reaches it.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Selected {
    pub(crate) expr: sea_query::Expr,
    pub(crate) window: Option<Box<sea_query::WindowStatement>>,
    pub(crate) names: std::result::Result<Vec<Source>, String>,
    /// For a bound value alone, the PostgreSQL type it is read as
    /// ([`Selected::pg_typed`]).
    pub(crate) pg_type: Option<&'static str>,
}

impl Selected {
    /// Its expression and tables where only a selected field may stand
    /// (`GROUP BY`, a window's partition): for a window function, why not.
    pub(crate) fn outside_selection(
        self,
        place: &str,
    ) -> (sea_query::Expr, std::result::Result<Vec<Source>, String>) {
        let names = match self.window {
            Some(_) => Err(window_misplaced(place)),
            None => self.names,
        };
        (self.expr, names)
    }

    fn plain(expr: sea_query::Expr, names: std::result::Result<Vec<Source>, String>) -> Self {
        Selected {
            expr,
            window: None,
            names,
            pg_type: None,
        }
    }

    /// This field as a PostgreSQL query's result column reads it, if that
    /// differs: PostgreSQL reads a parameter whose type nothing around it
    /// fixes as text, so a bound value alone is cast to its value's type
    /// (MySQL and SQLite take each value's own). An `insert_from`'s fields
    /// are not: there the server gives each the type of the column it
    /// fills (tests/queries/insert_from.rs, both).
    pub(crate) fn pg_typed(&self) -> Option<Selected> {
        let ty = self.pg_type?;
        Some(Selected {
            expr: self.expr.clone().cast_as(ty),
            window: None,
            names: self.names.clone(),
            pg_type: None,
        })
    }
}

/// PostgreSQL's name for the type a bound value is sent as; `None` for
/// NULL (any type reads it) and arrays and maps (whose element types the
/// value alone does not fix).
fn pg_type_of(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::Bool(_) => "BOOLEAN",
        Value::I64(_) => "BIGINT",
        Value::F64(_) => "DOUBLE PRECISION",
        Value::Text(_) => "TEXT",
        Value::Bytes(_) => "BYTEA",
        #[cfg(feature = "uuid")]
        Value::Uuid(_) => "UUID",
        Value::Numeric(_) => "NUMERIC",
        Value::Date(_) => "DATE",
        Value::Time(_) => "TIME",
        Value::Timestamp(_) => "TIMESTAMP",
        Value::TimestampTz(_) => "TIMESTAMPTZ",
        Value::Json(_) => "JSONB",
        _ => return None,
    })
}

/// What [`select_fields`](super::Select::select_fields) reads and
/// [`group_by`](super::Select::group_by) groups by: a [`Column`], an
/// [`Expr`] or a [`Field`] (an aggregate such as `Post::ID.count()`) of any
/// model, a bound [`Value`](crate::Value), or a tuple of up to eight of them.
pub trait Selection {
    /// Each expression, with the tables it names (for the query's check).
    #[doc(hidden)]
    fn exprs(self, out: &mut Vec<Selected>);
}

impl<X: Model, T> Selection for Column<X, T> {
    fn exprs(self, out: &mut Vec<Selected>) {
        out.push(Selected::plain(self.sea(), Ok(vec![self.source()])));
    }
}

impl<X: Model, T> Selection for Expr<X, T> {
    fn exprs(self, out: &mut Vec<Selected>) {
        out.push(Selected::plain(self.expr, self.names.resolve(X::META)));
    }
}

impl<X: Model> Selection for Field<X> {
    fn exprs(self, out: &mut Vec<Selected>) {
        out.push(Selected {
            expr: self.expr,
            window: match self.over {
                Over::Window(w) => Some(w),
                Over::Never | Over::Aggregate => None,
            },
            names: self.names.resolve(X::META),
            pg_type: None,
        });
    }
}

/// A value, bound: the same in every row (`"x".to_sql()`), such as a
/// constant column of the rows an [`insert_from`](super::Model::insert_from)
/// copies, or read back by `select_fields` as its own type on every backend.
///
/// ```
/// # dualdb::__doc_fixtures!(users: db, s);
/// use dualdb::ToSql;
/// s.create(user("ada")).unwrap();
/// let q = User::select().select_fields::<(String, i64)>((User::NAME, 7i64.to_sql()));
/// assert_eq!(s.execute_query(q).unwrap(), [("ada".to_string(), 7)]);
/// ```
impl Selection for Value {
    fn exprs(self, out: &mut Vec<Selected>) {
        let pg_type = pg_type_of(&self);
        out.push(Selected {
            pg_type,
            ..Selected::plain(
                sea_query::Expr::val(super::sql::to_sea(self)),
                Ok(Vec::new()),
            )
        });
    }
}

macro_rules! tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Selection),+> Selection for ($($t,)+) {
            fn exprs(self, out: &mut Vec<Selected>) {
                $(self.$i.exprs(out);)+
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
