//! [`SelectModels`]: a [`Select`] whose rows are read as tuples of the
//! models it joins (`(Post, User)`, `(Post, Option<User>)` for a left
//! join), each model's columns listed by the query in its own order, so
//! that no column list is written by hand.

use std::marker::PhantomData;

use super::joined::ModelRow;
use super::query::Select;
use super::sql::Dialect;
use super::{Model, ModelMeta};
use crate::error::Result;
use crate::statement::Stmt;

/// A [`Select`] on `M` read as rows of `T`, a tuple of the models it reads
/// from (or `Option`s of them, for the outer side of a left join): made by
/// [`Select::models`], run by `execute_query`, which returns `Vec<T>`.
///
/// ```
/// # dualdb::__doc_fixtures!(posts: db, s);
/// let rows: Vec<(Post, User)> = s
///     .execute_query(Post::select().join::<User>().order_by(Post::ID.asc()).models())
///     .unwrap();
/// assert_eq!((rows[0].0.title.as_str(), rows[0].1.name.as_str()), ("hello", "ann"));
/// ```
pub struct SelectModels<M, T> {
    pub(crate) select: Select<M>,
    _row: PhantomData<fn() -> T>,
}

impl<M, T> std::fmt::Debug for SelectModels<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectModels")
            .field("select", &self.select)
            .finish()
    }
}

impl<M, T> Clone for SelectModels<M, T> {
    fn clone(&self) -> Self {
        SelectModels {
            select: self.select.clone(),
            _row: PhantomData,
        }
    }
}

impl<M: Model> Select<M> {
    /// The rows as tuples of the query's models: `(Post, User)` after
    /// `join::<User>()`, `(User, Option<Post>)` after a left outer join
    /// (`None` where no post matched). Each model named must be one the
    /// query reads from, or the query is a [`Usage`](crate::ErrorKind::Usage)
    /// error before it runs.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let q = User::select().left_outer_join::<Post>().order_by(User::NAME.asc()).order_by(Post::ID.asc());
    /// let rows: Vec<(User, Option<Post>)> = s.execute_query(q.models()).unwrap();
    /// let names: Vec<(&str, Option<&str>)> =
    ///     rows.iter().map(|(u, p)| (u.name.as_str(), p.as_ref().map(|p| p.title.as_str()))).collect();
    /// assert_eq!(names, [("ann", Some("hello")), ("ann", Some("again")), ("bob", Some("mine")), ("cy", None)]);
    /// ```
    pub fn models<T: ModelRow>(self) -> SelectModels<M, T> {
        SelectModels {
            select: self,
            _row: PhantomData,
        }
    }
}

impl<M: Model, T: ModelRow> SelectModels<M, T> {
    /// The statement listing each of `T`'s models' columns in order.
    pub(crate) fn build(&self, d: Dialect) -> Result<Stmt> {
        let mut metas: Vec<&'static ModelMeta> = Vec::new();
        T::metas(&mut metas);
        self.select.check(&metas)?;
        Ok(self.select.build_of(d, Some(&metas)))
    }

    /// True if the query takes row locks (it then runs on the primary).
    pub(crate) fn locks(&self) -> bool {
        self.select.locks()
    }
}
