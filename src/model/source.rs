//! The tables a query reads from, as its filters, fields, expressions and
//! orders name them: a model's own table, or the same table under an
//! [`Alias`] (a model joined twice: a post's author and its editor). Each
//! piece of a query carries the [`Names`] it uses, so that the query can
//! check before it runs that it reads every one of them (tests/aliases.rs,
//! tests/joins.rs).

use std::marker::PhantomData;

use super::{Model, ModelMeta};
use crate::error::{Error, ErrorKind, Result};

/// Model `M` under another name in one query, peewee's
/// `User.alias("editor")`: for joining a model twice. Its columns are
/// `alias.col(User::NAME)`, usable wherever `User::NAME` is (filters,
/// fields, orders, expressions, [`join_on`](super::Select::join_on)).
///
/// ```
/// # dualdb::__doc_fixtures!(posts: db, s);
/// use dualdb::model::Alias;
/// // Each post beside another post of its author's, titled "again":
/// const OTHER: Alias<Post> = Alias::new("other");
/// let q = Post::select()
///     .join_on(Post::AUTHOR, OTHER.col(Post::AUTHOR))
///     .filter(OTHER.col(Post::TITLE).eq("again"))
///     .order_by(Post::ID.asc())
///     .select_fields((Post::TITLE, OTHER.col(Post::TITLE)));
/// let rows: Vec<(String, String)> = s.execute_query(q).unwrap();
/// assert_eq!(rows, [("hello".into(), "again".into()), ("again".into(), "again".into())]);
/// ```
pub struct Alias<M> {
    pub(crate) name: &'static str,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Alias<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Alias<M> {}

impl<M> std::fmt::Debug for Alias<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Alias({})", self.name)
    }
}

impl<M: Model> Alias<M> {
    /// `M` as `name` (quoted as an identifier; a name that is empty or that
    /// another table of the query has is a [`Usage`](crate::ErrorKind::Usage)
    /// error before the query runs).
    pub const fn new(name: &'static str) -> Self {
        Alias {
            name,
            _model: PhantomData,
        }
    }

    /// The alias.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A table a query reads from: a model's, under an alias or not.
#[derive(Clone, Copy, Debug)]
#[doc(hidden)]
pub struct Source {
    pub(crate) meta: &'static ModelMeta,
    pub(crate) alias: Option<&'static str>,
}

impl Source {
    /// The model's own table, unaliased.
    pub(crate) const fn own(meta: &'static ModelMeta) -> Self {
        Source { meta, alias: None }
    }

    /// The name the query's SQL calls it by.
    pub(crate) fn name(&self) -> &'static str {
        self.alias.unwrap_or(self.meta.table)
    }

    /// The same table under the same name.
    pub(crate) fn is(&self, other: &Source) -> bool {
        self.name() == other.name() && self.meta.table == other.meta.table
    }

    /// For messages: `User`, or `User as editor`.
    pub(crate) fn label(&self) -> String {
        match self.alias {
            None => self.meta.name.to_string(),
            Some(a) => format!("{} as {a}", self.meta.name),
        }
    }
}

/// The tables a piece of a query of model `M` names. The common cases take
/// no allocation: `M`'s own table, or none (a value, `COUNT(*)`).
#[derive(Clone, Debug, Default)]
#[doc(hidden)]
pub enum Names {
    /// `M`'s own table, unaliased, and no other.
    #[default]
    Own,
    /// No table.
    Nothing,
    /// These tables (never just `M`'s own, never none).
    These(Box<[Source]>),
    /// A sub-query in the piece fails its own check: why, reported by the
    /// check of the query around it, before that query runs.
    Invalid(Box<str>),
}

impl Names {
    /// Exactly `sources`, as a piece of a query of `own` names them.
    pub(crate) fn of(mut sources: Vec<Source>, own: &'static ModelMeta) -> Names {
        let mut i = 0;
        while i < sources.len() {
            if sources[..i].iter().any(|s| s.is(&sources[i])) {
                sources.remove(i);
            } else {
                i += 1;
            }
        }
        match sources.as_slice() {
            [] => Names::Nothing,
            [one] if one.is(&Source::own(own)) => Names::Own,
            _ => Names::These(sources.into_boxed_slice()),
        }
    }

    /// One table.
    pub(crate) fn one(source: Source, own: &'static ModelMeta) -> Names {
        Names::of(vec![source], own)
    }

    /// The tables a sub-query names in the query around it (of `own`), or
    /// why the sub-query fails.
    pub(crate) fn nested(
        outer: std::result::Result<Vec<Source>, String>,
        own: &'static ModelMeta,
    ) -> Names {
        match outer {
            Ok(sources) => Names::of(sources, own),
            Err(why) => Names::Invalid(why.into()),
        }
    }

    /// The tables, for a piece of a query of `own` (none for an invalid
    /// piece: see [`resolve`](Self::resolve)).
    pub(crate) fn sources(&self, own: &'static ModelMeta) -> Vec<Source> {
        match self {
            Names::Own => vec![Source::own(own)],
            Names::Nothing | Names::Invalid(_) => Vec::new(),
            Names::These(list) => list.to_vec(),
        }
    }

    /// The tables, or why a sub-query in the piece fails.
    pub(crate) fn resolve(
        &self,
        own: &'static ModelMeta,
    ) -> std::result::Result<Vec<Source>, String> {
        match self {
            Names::Invalid(why) => Err(why.to_string()),
            n => Ok(n.sources(own)),
        }
    }

    /// Both pieces' tables, in a query of `own`.
    pub(crate) fn union(self, other: Names, own: &'static ModelMeta) -> Names {
        match (self, other) {
            (n @ Names::Invalid(_), _) | (_, n @ Names::Invalid(_)) => n,
            (Names::Nothing, n) | (n, Names::Nothing) => n,
            (Names::Own, Names::Own) => Names::Own,
            (a, b) => {
                let mut all = a.sources(own);
                all.extend(b.sources(own));
                Names::of(all, own)
            }
        }
    }

    /// The same tables, named by a piece of a query of `to` rather than
    /// `from`.
    pub(crate) fn retag(self, from: &'static ModelMeta, to: &'static ModelMeta) -> Names {
        match self {
            n if from.table == to.table => n,
            n @ (Names::Nothing | Names::Invalid(_)) => n,
            n => Names::of(n.sources(from), to),
        }
    }

    /// True if the piece names no table but its model's own.
    pub(crate) fn own_only(&self) -> bool {
        matches!(self, Names::Own | Names::Nothing)
    }

    /// `Ok` if the piece names no table but `own`'s, else the
    /// [`Usage`](ErrorKind::Usage) error of `what` (an update, a delete, an
    /// upsert) naming a table it does not read.
    pub(crate) fn only_own(&self, own: &'static ModelMeta, what: &str) -> Result<()> {
        let sources = self
            .resolve(own)
            .map_err(|why| Error::new(ErrorKind::Usage, why))?;
        let foreign = sources.into_iter().find(|s| !s.is(&Source::own(own)));
        match foreign {
            None => Ok(()),
            Some(other) => Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "{what} of {} names {}, which it does not read: filter through a \
                     sub-query instead (`column.is_in({}::select().filter(…))`)",
                    own.name,
                    other.label(),
                    other.meta.name
                ),
            )),
        }
    }
}
