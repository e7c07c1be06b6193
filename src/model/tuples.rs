//! [`SelectModels`] and [`SelectFields`]: a [`Select`] whose rows are read
//! as tuples of the models it joins (`(Post, User)`, `(Post, Option<User>)`
//! for a left join), each model's columns listed by the query in its own
//! order so that no column list is written by hand; or as tuples of values
//! (`(String, i64)` for `(User::NAME, Post::ID.count())`), peewee's
//! `.tuples()`.

use std::marker::PhantomData;

use super::joined::ModelRow;
use super::query::{Reads, Select};
use super::selection::{Selected, Selection};
use super::source::Source;
use super::sql::Dialect;
use super::{Model, ModelMeta};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::row::FromRow;
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
    /// error before it runs. A model the query reads twice (joined again
    /// under an [`Alias`](super::Alias)) may appear twice: the n-th time it
    /// appears in `T` is the n-th time the query reads it, in join order.
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
        let sources = self.sources(&metas)?;
        self.select.check(&sources)?;
        Ok(self.select.build_of(d, Reads::Models(&sources)))
    }

    /// The table each of `T`'s models is read from: the n-th time a model
    /// appears in `T`, the n-th time the query reads it (its own table or
    /// an alias, in the order they were joined).
    fn sources(&self, metas: &[&'static ModelMeta]) -> Result<Vec<Source>> {
        let from = self.select.models_read();
        let mut sources = Vec::with_capacity(metas.len());
        for (i, m) in metas.iter().enumerate() {
            let nth = metas[..i].iter().filter(|o| o.table == m.table).count();
            let read = from.iter().filter(|s| s.meta.table == m.table);
            match read.clone().nth(nth) {
                Some(s) => sources.push(*s),
                // Not read at all: the check names it.
                None if nth == 0 => sources.push(Source::own(m)),
                None => {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!(
                            "the rows take {} {} times and the query reads it {} times: \
                             join it again under an alias",
                            m.name,
                            nth + 1,
                            read.count()
                        ),
                    ));
                }
            }
        }
        Ok(sources)
    }

    /// True if the query takes row locks (it then runs on the primary).
    pub(crate) fn locks(&self) -> bool {
        self.select.locks()
    }
}

/// A [`Select`] on `M` read as rows of values `R` (a value, or a tuple):
/// made by [`Select::select_fields`], run by `execute_query`, which returns
/// `Vec<R>`. A value that does not fit its Rust type (a count into `i8`
/// that overflows, text into `i64`) is a [`Decode`](crate::ErrorKind::Decode)
/// error, never a truncation.
pub struct SelectFields<M, R> {
    pub(crate) select: Select<M>,
    exprs: Vec<Selected>,
    _row: PhantomData<fn() -> R>,
}

impl<M, R> std::fmt::Debug for SelectFields<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectFields")
            .field("select", &self.select)
            .field("fields", &self.exprs.len())
            .finish()
    }
}

impl<M, R> Clone for SelectFields<M, R> {
    fn clone(&self) -> Self {
        SelectFields {
            select: self.select.clone(),
            exprs: self.exprs.clone(),
            _row: PhantomData,
        }
    }
}

impl<M: Model> Select<M> {
    /// The rows as values: `fields` is a column, an expression or an
    /// aggregate of any model in the query, or a tuple of them, and each row
    /// decodes into `R`, the matching Rust value or tuple (peewee's
    /// `.select(…).tuples()`). Each model named must be one the query reads
    /// from, or the query is a [`Usage`](crate::ErrorKind::Usage) error
    /// before it runs.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let q = Post::select()
    ///     .join::<User>()
    ///     .order_by(Post::ID.asc())
    ///     .select_fields((Post::TITLE, User::NAME.upper()));
    /// let rows: Vec<(String, String)> = s.execute_query(q).unwrap();
    /// assert_eq!(rows[2], ("mine".to_string(), "BOB".to_string()));
    /// ```
    pub fn select_fields<R: FromRow>(self, fields: impl Selection) -> SelectFields<M, R> {
        let mut exprs = Vec::new();
        fields.exprs(&mut exprs);
        SelectFields {
            select: self,
            exprs,
            _row: PhantomData,
        }
    }
}

impl<M: Model, R: FromRow> SelectFields<M, R> {
    /// The statement reading the fields.
    pub(crate) fn build(&self, d: Dialect) -> Result<Stmt> {
        let mut models: Vec<Source> = Vec::new();
        for selected in &self.exprs {
            let named = selected
                .names
                .as_ref()
                .map_err(|why| Error::new(ErrorKind::Usage, why.clone()))?;
            models.extend(named.iter().copied());
        }
        self.select.check(&models)?;
        // A bound value alone is cast where the backend would read it as
        // text (`Selected::pg_typed`): copies only then.
        if d.kind == BackendKind::Postgres && self.exprs.iter().any(|e| e.pg_type.is_some()) {
            let typed: Vec<Selected> = (self.exprs.iter())
                .map(|e| e.pg_typed().unwrap_or_else(|| e.clone()))
                .collect();
            return Ok(self.select.build_of(d, Reads::Exprs(&typed)));
        }
        Ok(self.select.build_of(d, Reads::Exprs(&self.exprs)))
    }

    /// True if the query takes row locks (it then runs on the primary).
    pub(crate) fn locks(&self) -> bool {
        self.select.locks()
    }
}
