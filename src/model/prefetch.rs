//! prefetch: a parent query and its related sub-queries, one query per
//! sub-query (never one per parent), joined in memory by foreign key.
//!
//! A sub-query is a [`Select`] of a model with a foreign key to the level
//! above; several go in a tuple; [`Select::with`] nests one below another:
//!
//! ```
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug)]
//! struct Author { #[model(primary_key, auto)] id: i64, name: String }
//! #[derive(Model, Debug)]
//! struct Book { #[model(primary_key, auto)] id: i64, #[model(references = Author)] author: i64, title: String }
//! #[derive(Model, Debug)]
//! struct Review { #[model(primary_key, auto)] id: i64, #[model(references = Book)] book: i64, stars: i32 }
//! #[derive(Model, Debug)]
//! struct Award { #[model(primary_key, auto)] id: i64, #[model(references = Author)] author: i64 }
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let s = db.sync();
//! s.create_table::<Author>().unwrap();
//! s.create_table::<Book>().unwrap();
//! s.create_table::<Review>().unwrap();
//! s.create_table::<Award>().unwrap();
//! let a = s.create(Author { id: 0, name: "Le Guin".into() }).unwrap();
//! let b = s.create(Book { id: 0, author: a.id, title: "Earthsea".into() }).unwrap();
//! s.create(Review { id: 0, book: b.id, stars: 5 }).unwrap();
//!
//! // authors, their books with each book's reviews, and their awards: 4 queries
//! let rows = s.prefetch(
//!     Author::select(),
//!     (Book::select().with(Review::select()), Award::select()),
//! ).unwrap();
//! let (author, (books, awards)) = &rows[0];
//! assert_eq!(author.name, "Le Guin");
//! assert_eq!(books[0].1[0].stars, 5);
//! assert!(awards.is_empty());
//! ```

use foldhash::{HashMap, HashMapExt};

use super::Decoder;
use super::sql::Dialect;
use super::{Model, ModelMeta, Select};
use crate::backend::InPlaceRow;
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Action, Plan, Reply, Step, replayed, slotted};
use crate::row::Row;
use crate::value::Value;

/// The largest `IN (…)` list one query sends; more keys take more queries.
pub(crate) const CHUNK: usize = 10_000;

/// A hashable form of a key value, to join children to parents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    /// A composite key's values, in key order.
    Tuple(Vec<Key>),
}

/// The key of `model`'s `columns` (its primary key's, or its foreign key's
/// to a parent, in the parent's key order); `None` if a column is NULL.
#[inline]
pub(crate) fn key_at<M: Model>(model: &M, columns: &[usize]) -> Option<Key> {
    match columns {
        [one] => key(model.value(*one)),
        many => many
            .iter()
            .map(|&i| key(model.value(i)))
            .collect::<Option<_>>()
            .map(Key::Tuple),
    }
}

/// The key of a value, moved out of it (a child's foreign key, a parent's
/// primary key); `None` for NULL, which matches nothing. Inlined for the
/// usual integer key, once for each row loaded.
#[inline]
pub(crate) fn key(v: Value) -> Option<Key> {
    match v {
        Value::I64(i) => Some(Key::Int(i)),
        Value::Text(s) => Some(Key::Text(s)),
        other => other_key(other),
    }
}

fn other_key(v: Value) -> Option<Key> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Key::Int(i64::from(b)),
        Value::I64(i) => Key::Int(i),
        Value::F64(f) => Key::Text(f.to_string()),
        Value::Text(s) => Key::Text(s),
        Value::Bytes(b) => Key::Bytes(b),
        // Parents' keys and children's references both come from `ToSql`
        // of decoded values: the same value packs to the same bytes.
        other => Key::Bytes(super::carrier::pack(&other)),
    })
}

/// What [`prefetch`](crate::SyncDb::prefetch) can load for each parent `P`:
/// a [`Select`] of a model with a foreign key to `P` (each parent gets a
/// `Vec`), a `Select` with nested sub-queries ([`Select::with`]: each parent
/// gets a `Vec` of pairs), or a tuple of those (each parent gets a tuple).
///
/// ```
/// # dualdb::__doc_fixtures!(users: db, s);
/// let ada = s.create(User { id: 0, name: "ada".into(), age: None }).unwrap();
/// s.create(Post { id: 0, author: ada.id, title: "notes".into() }).unwrap();
/// let rows: Vec<(User, Vec<Post>)> = s.prefetch(User::select(), Post::select()).unwrap();
/// assert_eq!(rows[0].1[0].title, "notes");
/// ```
pub trait Related<P: Model>: Send + 'static {
    /// What each parent gets.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Self::Output>>;
    /// The error this sub-query will fail with, found before any I/O (a
    /// model with no foreign key to its parent, a link that is not one).
    #[doc(hidden)]
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// A loader behind a box, for [`Related`].
#[doc(hidden)]
pub struct BoxedLoader<T>(Box<dyn Loader<T>>);

impl<T> BoxedLoader<T> {
    pub(crate) fn new(loader: impl Loader<T> + 'static) -> Self {
        BoxedLoader(Box::new(loader))
    }
}

impl<T> std::fmt::Debug for BoxedLoader<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedLoader")
    }
}

/// Loads one level of related rows for a set of parent keys.
pub(crate) trait Loader<T>: Send {
    /// The next statement, given the reply to the last; `None` when loaded.
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>>;
    /// One row of the last statement, as it arrives.
    fn row(&mut self, row: &mut Option<Row>) -> Result<()>;
    /// One row read in place (SQLite), as [`Plan::in_place`](crate::plan::Plan::in_place): `None` to have
    /// it copied and handed to [`row`](Self::row).
    fn in_place(&mut self, _row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        None
    }
    /// What the parent with this key gets (each key once; `None`, a NULL
    /// key, gets nothing).
    fn take(&mut self, key: Option<&Key>) -> T;
}

/// Children grouped under their parent's key. Integer keys (the usual
/// foreign key) have a map of their own, whose entries take 32 bytes where
/// a [`Key`]'s take 56: the grouping of a load's largest level touches a
/// table of one entry per parent.
struct Groups<C> {
    ints: HashMap<i64, Vec<C>>,
    other: HashMap<Key, Vec<C>>,
}

impl<C> Default for Groups<C> {
    fn default() -> Self {
        Groups {
            ints: HashMap::new(),
            other: HashMap::new(),
        }
    }
}

impl<C> Groups<C> {
    #[inline]
    fn push_int(&mut self, key: i64, child: C) {
        self.ints.entry(key).or_default().push(child);
    }

    fn push(&mut self, key: Key, child: C) {
        match key {
            Key::Int(i) => self.push_int(i, child),
            k => self.other.entry(k).or_default().push(child),
        }
    }

    fn take(&mut self, key: &Key) -> Option<Vec<C>> {
        match key {
            Key::Int(i) => self.ints.remove(i),
            k => self.other.remove(k),
        }
    }
}

/// The rows of `C` whose foreign key to `P` is among the parent keys.
struct Children<C: Model> {
    d: Dialect,
    query: Select<C>,
    /// The foreign key's columns, in the parent's key order.
    fk: Vec<usize>,
    /// The parents' keys, one after the other (`fk.len()` values each).
    keys: Vec<Value>,
    found: Vec<C>,
    decoder: Decoder<C>,
    grouped: Groups<C>,
    /// The primary keys of the rows found, in the order the server sent
    /// them, when a nested loader needs them.
    found_keys: Option<Vec<Value>>,
}

fn foreign_key(child: &'static ModelMeta, parent: &'static ModelMeta) -> Result<Vec<usize>> {
    child
        .foreign_key_to(parent)
        .map(|fk| fk.columns)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Usage,
                format!("{} has no foreign key to {}", child.name, parent.name),
            )
        })
}

impl<C: Model> Children<C> {
    fn new(
        d: Dialect,
        query: Select<C>,
        parent: &'static ModelMeta,
        keys: Vec<Value>,
    ) -> Result<Self> {
        Ok(Children {
            d,
            fk: foreign_key(C::META, parent)?,
            query,
            keys,
            found: Vec::new(),
            decoder: Decoder::new(),
            grouped: Groups::default(),
            found_keys: None,
        })
    }
}

impl<C: Model> Loader<Vec<C>> for Children<C> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        if let Some(r) = reply {
            r?;
        }
        if self.keys.is_empty() {
            if let Some(keys) = &mut self.found_keys {
                self.found.iter().for_each(|c| super::key::push(c, keys));
            }
            for c in self.found.drain(..) {
                // Matched here, not moved whole into `push`: an integer key
                // stays in a register (a `Key` written and read back at
                // once stalled the loop; benches/paired, `associations`).
                match key_at(&c, &self.fk) {
                    Some(Key::Int(i)) => self.grouped.push_int(i, c),
                    Some(k) => self.grouped.push(k, c),
                    None => {}
                }
            }
            return Ok(None);
        }
        let width = self.fk.len().max(1);
        let rest = self
            .keys
            .split_off(self.keys.len().min(CHUNK / width * width));
        let chunk = std::mem::replace(&mut self.keys, rest);
        let (stmt, in_order) = self.query.where_in(&self.fk, chunk, self.d);
        self.decoder = match in_order {
            true => Decoder::in_model_order(),
            false => Decoder::new(),
        };
        Ok(Some(Action::Rows(stmt)))
    }

    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let child = self.decoder.decode(slotted(row)?)?;
        self.found.push(child);
        Ok(())
    }

    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.decoder.read_into(row, &mut self.found)
    }

    fn take(&mut self, parent: Option<&Key>) -> Vec<C> {
        parent
            .and_then(|k| self.grouped.take(k))
            .unwrap_or_default()
    }
}

/// A sub-query with its own sub-queries: made by [`Select::with`].
///
/// ```
/// # dualdb::__doc_fixtures!(users);
/// # run(async |db| {
/// # #[derive(Model, Debug)]
/// # struct Comment { #[model(primary_key, auto)] id: i64, #[model(references = Post)] post: i64, text: String }
/// # db.sync().create_table::<Comment>()?;
/// # let ada = db.sync().create(user("ada"))?;
/// # let post = db.sync().create(Post { id: 0, author: ada.id, title: "t".into() })?;
/// # db.sync().create(Comment { id: 0, post: post.id, text: "nice".into() })?;
/// // users, each with their posts, each post with its comments: three queries
/// let rows = db.aio().prefetch(User::select(), Post::select().with(Comment::select())).await?;
/// let (post, comments) = &rows[0].1[0];
/// assert_eq!((post.title.as_str(), comments[0].text.as_str()), ("t", "nice"));
/// # Ok(())
/// # });
/// ```
pub struct With<C, S> {
    query: Select<C>,
    sub: S,
}

impl<C, S: std::fmt::Debug> std::fmt::Debug for With<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("With")
            .field("query", &self.query)
            .field("sub", &self.sub)
            .finish()
    }
}

impl<C: Model> Select<C> {
    /// This sub-query, with `sub` loaded for each of its rows:
    /// `Post::select().with(Comment::select())`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// # #[derive(Model, Debug)]
    /// # struct Comment { #[model(primary_key, auto)] id: i64, #[model(references = Post)] post: i64, text: String }
    /// # db.sync().create_table::<Comment>()?;
    /// # db.sync().create(user("ada"))?;
    /// let nested = Post::select().with(Comment::select().filter(Comment::TEXT.ne("spam")));
    /// let rows = db.sync().prefetch(User::select(), nested)?;
    /// assert!(rows[0].1.is_empty()); // ada has no posts yet
    /// # Ok(())
    /// # });
    /// ```
    pub fn with<S: Related<C>>(self, sub: S) -> With<C, S> {
        With { query: self, sub }
    }
}

struct Nested<C: Model, S: Related<C>> {
    d: Dialect,
    children: Children<C>,
    sub: Option<S>,
    loader: Option<BoxedLoader<S::Output>>,
}

impl<C: Model, S: Related<C>> Loader<Vec<(C, S::Output)>> for Nested<C, S> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        if let Some(loader) = &mut self.loader {
            return loader.step(reply);
        }
        if let Some(action) = self.children.step(reply)? {
            return Ok(Some(action));
        }
        // In the order the rows came: the next query's `IN` list does not
        // depend on a hash map's order.
        let keys = self.children.found_keys.take().unwrap_or_default();
        let sub = self.sub.take().ok_or_else(replayed)?;
        let loader = self.loader.insert(sub.loader(self.d, keys)?);
        loader.step(None)
    }

    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        match &mut self.loader {
            Some(loader) => loader.row(row),
            None => self.children.row(row),
        }
    }

    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        match &mut self.loader {
            Some(loader) => loader.in_place(row),
            None => self.children.in_place(row),
        }
    }

    fn take(&mut self, parent: Option<&Key>) -> Vec<(C, S::Output)> {
        let children = self.children.take(parent);
        match &mut self.loader {
            Some(loader) => children
                .into_iter()
                .map(|c| {
                    let sub = loader.take(key_at(&c, C::META.key).as_ref());
                    (c, sub)
                })
                .collect(),
            None => Vec::new(),
        }
    }
}

impl<P: Model, C: Model> Related<P> for Select<C> {
    type Output = Vec<C>;
    fn check(&self) -> Result<()> {
        foreign_key(C::META, P::META).map(drop)
    }
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Vec<C>>> {
        Ok(BoxedLoader(Box::new(Children::new(
            d,
            self,
            P::META,
            keys,
        )?)))
    }
}

impl<P: Model, C: Model, S: Related<C>> Related<P> for With<C, S> {
    type Output = Vec<(C, S::Output)>;
    fn check(&self) -> Result<()> {
        foreign_key(C::META, P::META)?;
        self.sub.check()
    }
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Self::Output>> {
        Ok(BoxedLoader(Box::new(Nested {
            d,
            children: Children {
                found_keys: Some(Vec::new()),
                ..Children::new(d, self.query, P::META, keys)?
            },
            sub: Some(self.sub),
            loader: None,
        })))
    }
}

/// Several loaders run one after another.
struct Both<A, B> {
    a: A,
    b: B,
    a_done: bool,
}

impl<TA, TB, A: Loader<TA>, B: Loader<TB>> Loader<(TA, TB)> for Both<A, B> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        if !self.a_done {
            if let Some(action) = self.a.step(reply)? {
                return Ok(Some(action));
            }
            self.a_done = true;
            return self.b.step(None);
        }
        self.b.step(reply)
    }

    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        match self.a_done {
            false => self.a.row(row),
            true => self.b.row(row),
        }
    }

    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        match self.a_done {
            false => self.a.in_place(row),
            true => self.b.in_place(row),
        }
    }

    fn take(&mut self, parent: Option<&Key>) -> (TA, TB) {
        (self.a.take(parent), self.b.take(parent))
    }
}

impl<T> Loader<T> for BoxedLoader<T> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        self.0.step(reply)
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self.0.row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.0.in_place(row)
    }
    fn take(&mut self, parent: Option<&Key>) -> T {
        self.0.take(parent)
    }
}

impl<P: Model, A: Related<P>, B: Related<P>> Related<P> for (A, B) {
    type Output = (A::Output, B::Output);
    fn check(&self) -> Result<()> {
        self.0.check()?;
        self.1.check()
    }
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Self::Output>> {
        Ok(BoxedLoader(Box::new(Both {
            a: self.0.loader(d, keys.clone())?,
            b: self.1.loader(d, keys)?,
            a_done: false,
        })))
    }
}

impl<P: Model, A: Related<P>, B: Related<P>, C: Related<P>> Related<P> for (A, B, C) {
    type Output = (A::Output, B::Output, C::Output);
    fn check(&self) -> Result<()> {
        self.0.check()?;
        self.1.check()?;
        self.2.check()
    }
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Self::Output>> {
        let inner = Both {
            a: self.0.loader(d, keys.clone())?,
            b: Both {
                a: self.1.loader(d, keys.clone())?,
                b: self.2.loader(d, keys)?,
                a_done: false,
            },
            a_done: false,
        };
        Ok(BoxedLoader(Box::new(Flatten(inner))))
    }
}

/// `(a, (b, c))` as `(a, b, c)`.
struct Flatten<L>(L);

impl<TA, TB, TC, L: Loader<(TA, (TB, TC))>> Loader<(TA, TB, TC)> for Flatten<L> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        self.0.step(reply)
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self.0.row(row)
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        self.0.in_place(row)
    }
    fn take(&mut self, parent: Option<&Key>) -> (TA, TB, TC) {
        let (a, (b, c)) = self.0.take(parent);
        (a, b, c)
    }
}

/// The prefetch plan: the parents, then every loader's queries.
pub(crate) struct Prefetch<P: Model, R: Related<P>> {
    d: Dialect,
    parents: Option<Select<P>>,
    /// The parents as they arrive, before the loader starts.
    found: Vec<P>,
    decoder: Decoder<P>,
    related: Option<R>,
    loaded: Option<(Vec<P>, BoxedLoader<R::Output>)>,
}

impl<P: Model, R: Related<P>> Prefetch<P, R> {
    pub(crate) fn new(d: Dialect, parents: Select<P>, related: R) -> Self {
        Prefetch {
            d,
            parents: Some(parents),
            found: Vec::new(),
            decoder: Decoder::new(),
            related: Some(related),
            loaded: None,
        }
    }
}

impl<P: Model, R: Related<P>> Plan for Prefetch<P, R> {
    type Output = Vec<(P, R::Output)>;
    fn read_only(&self) -> bool {
        true
    }
    /// A sub-query's error, before the parents are read.
    fn failed(&mut self) -> Option<Error> {
        self.related.as_ref()?.check().err()
    }
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        match &mut self.loaded {
            Some((_, loader)) => loader.row(row),
            None => {
                let parent = self.decoder.decode(slotted(row)?)?;
                self.found.push(parent);
                Ok(())
            }
        }
    }
    fn in_place(&mut self, row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        match &mut self.loaded {
            Some((_, loader)) => loader.in_place(row),
            None => self.decoder.read_into(row, &mut self.found),
        }
    }
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<Self::Output>> {
        if let Some(q) = self.parents.take() {
            return Ok(Step::Run(Action::Rows(q.build(self.d))));
        }
        let next = match &mut self.loaded {
            Some((_, loader)) => loader.step(reply)?,
            None => {
                reply.ok_or_else(replayed)??;
                let parents = std::mem::take(&mut self.found);
                if parents.is_empty() {
                    return Ok(Step::Done(Vec::new()));
                }
                let mut keys = Vec::with_capacity(parents.len() * P::META.key.len());
                parents.iter().for_each(|p| super::key::push(p, &mut keys));
                let related = self.related.take().ok_or_else(replayed)?;
                let mut loader = related.loader(self.d, keys)?;
                let next = loader.step(None)?;
                self.loaded = Some((parents, loader));
                next
            }
        };
        if let Some(action) = next {
            return Ok(Step::Run(action));
        }
        let (parents, mut loader) = self.loaded.take().ok_or_else(replayed)?;
        Ok(Step::Done(
            parents
                .into_iter()
                .map(|p| {
                    let related = loader.take(key_at(&p, P::META.key).as_ref());
                    (p, related)
                })
                .collect(),
        ))
    }
}
