//! [`Selection`]: the columns, expressions and aggregates a query selects
//! or groups by, of any of its models, one or a tuple of them
//! (`(Post::ID, User::NAME, Post::ID.count())`).

use super::Model;
use super::column::{Column, Field, Over, window_misplaced};
use super::expr::Expr;
use super::source::Source;

/// A selected expression, the window it is computed over if any, and the
/// tables it names (or why a piece of it fails). Public in name only, for
/// [`Selection::exprs`]: no path outside the crate reaches it.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Selected {
    pub(crate) expr: sea_query::Expr,
    pub(crate) window: Option<Box<sea_query::WindowStatement>>,
    pub(crate) names: std::result::Result<Vec<Source>, String>,
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
        }
    }
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
        });
    }
}

/// A value, bound: the same in every row (`"x".to_sql()`), such as a
/// constant column of the rows an [`insert_from`](super::Model::insert_from)
/// copies.
impl Selection for crate::value::Value {
    fn exprs(self, out: &mut Vec<Selected>) {
        out.push(Selected::plain(
            sea_query::Expr::val(super::sql::to_sea(self)),
            Ok(Vec::new()),
        ));
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
