//! Many-to-many relations through a link model: peewee's `ManyToManyField`
//! and its through model. The link model is an ordinary model with a
//! foreign key to each side; [`Links`] names its two columns and gives the
//! far side of a row ([`of`](Links::of)), the link writes
//! ([`add`](Links::add), [`remove`](Links::remove), [`clear`](Links::clear))
//! and a prefetch of the far side ([`prefetch`](Links::prefetch): one query
//! for the links and one for the far rows, whatever the number of parents).
//!
//! ```
//! use dualdb::model::Links;
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug, Clone)]
//! struct Student { #[model(primary_key, auto)] id: i64, name: String }
//! #[derive(Model, Debug, Clone)]
//! struct Course { #[model(primary_key, auto)] id: i64, title: String }
//! #[derive(Model, Debug, Clone)]
//! struct Enrolment {
//!     #[model(primary_key, auto)] id: i64,
//!     #[model(references = Student)] student: i64,
//!     #[model(references = Course)] course: i64,
//! }
//! const COURSES: Links<Enrolment, Student, Course> = Links::new(Enrolment::STUDENT, Enrolment::COURSE);
//!
//! # fn main() -> dualdb::Result<()> {
//! let db = Database::open("sqlite::memory:")?;
//! let s = db.sync();
//! s.create_table::<Student>()?;
//! s.create_table::<Course>()?;
//! s.create_table::<Enrolment>()?;
//! let huey = s.create(Student { id: 0, name: "huey".into() })?;
//! let math = s.create(Course { id: 0, title: "math".into() })?;
//! let art = s.create(Course { id: 0, title: "art".into() })?;
//! s.execute_query(COURSES.add(&huey, [&math, &art]))?;       // huey.courses.add([math, art])
//! s.execute_query(COURSES.remove(&huey, [&art]))?;           // huey.courses.remove(art)
//! let courses = s.execute_query(COURSES.of(&huey))?;         // huey.courses
//! assert_eq!(courses[0].title, "math");
//! // students with their courses: two queries for the courses side
//! let rows = s.prefetch(Student::select(), COURSES.prefetch(Course::select()))?;
//! assert_eq!(rows[0].1.len(), 1);
//! s.execute_query(COURSES.clear(&huey))?;                    // huey.courses.clear()
//! # Ok(())
//! # }
//! ```

use std::marker::PhantomData;

use foldhash::{HashMap, HashMapExt};

use super::column::{Column, Filter};
use super::prefetch::{BoxedLoader, Key, Loader, Related, key};
use super::query::{DeleteQuery, Select};
use super::sql::{Dialect, to_sea};
use super::{Decoder, Model, ModelMeta};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Action, Reply, slotted};
use crate::row::Row;
use crate::statement::Stmt;
use crate::value::Value;

/// The three models of a [`Links`], as a type that owns none of them.
type Models<L, A, B> = PhantomData<fn() -> (L, A, B)>;

/// The many-to-many relation from `A` to `B` through the link model `L`,
/// whose column `from` references `A` and `to` references `B`. Columns
/// that do not make an `A`-to-`B` link, or an `A` or `B` with a composite
/// key, are a [`Usage`](ErrorKind::Usage) error of every query made from
/// it, before any I/O.
pub struct Links<L, A, B> {
    from: (usize, &'static str),
    to: (usize, &'static str),
    _models: Models<L, A, B>,
}

impl<L, A, B> Clone for Links<L, A, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<L, A, B> Copy for Links<L, A, B> {}

impl<L, A, B> std::fmt::Debug for Links<L, A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("from", &self.from.1)
            .field("to", &self.to.1)
            .finish()
    }
}

impl<L: Model, A: Model, B: Model> Links<L, A, B> {
    /// The relation through `L`'s columns `from` (referencing `A`) and `to`
    /// (referencing `B`).
    pub const fn new<F, T>(from: Column<L, F>, to: Column<L, T>) -> Self {
        Links {
            from: from.parts(),
            to: to.parts(),
            _models: PhantomData,
        }
    }

    /// Why these columns make no `A`-to-`B` link, if they do not: they are
    /// not foreign keys to `A` and `B`, or `A` or `B` has a composite key
    /// (a link column holds one key column; tests/composite_keys.rs).
    fn invalid(&self) -> Option<String> {
        if let Some(m) = [A::META, B::META].into_iter().find(|m| m.composite_key()) {
            return Some(format!(
                "Links: {} has a composite key; a link model's two columns hold keys of one column",
                m.name
            ));
        }
        let refers = |(i, _): (usize, &str), to: &'static ModelMeta| {
            L::META
                .columns
                .get(i)
                .and_then(|c| c.references)
                .is_some_and(|r| r().table == to.table)
        };
        let (from, to) = (refers(self.from, A::META), refers(self.to, B::META));
        (!(from && to)).then(|| {
            format!(
                "{}.{} and {}.{} are not foreign keys to {} and {}",
                L::META.name,
                self.from.1,
                L::META.name,
                self.to.1,
                A::META.name,
                B::META.name
            )
        })
    }

    /// `L.from = a`'s key, or the filter that fails the query with why the
    /// link is not one.
    fn linked_to(&self, a: &A) -> Filter<L> {
        match self.invalid() {
            Some(why) => Filter::invalid(why),
            None => Filter::raw_eq(self.from.0, self.from.1, a.primary_key()),
        }
    }

    /// The rows of `B` linked to `a` (peewee's `huey.courses`): a
    /// [`Select`] to filter, order or page further.
    pub fn of(&self, a: &A) -> Select<B> {
        let links = L::select()
            .filter(self.linked_to(a))
            .fields([Column::<L, Value>::new(self.to.0, self.to.1).field()]);
        let pk = B::META.pk();
        B::select().filter(Column::<B, Value>::new(B::META.pk_index(), pk.name).is_in(links))
    }

    /// Links `a` to each of `bs`: an `INSERT` of `L`'s two columns (its
    /// other columns take their defaults), split into as many as the
    /// backend's limit on bound values asks and run all or nothing, as
    /// `insert_many` is; `execute_query` returns the links written. No `bs`,
    /// no statement.
    pub fn add<'b>(&self, a: &A, bs: impl IntoIterator<Item = &'b B>) -> AddLinks<L>
    where
        B: 'b,
    {
        let from = a.primary_key();
        let rows = bs
            .into_iter()
            .map(|b| (from.clone(), b.primary_key()))
            .collect();
        AddLinks {
            columns: (self.from.1, self.to.1),
            rows,
            invalid: self.invalid(),
            _link: PhantomData,
        }
    }

    /// Unlinks `a` from each of `bs` (its links to them are deleted):
    /// `DELETE … WHERE from = a AND to IN (…)`, split into as many
    /// statements as the backend's limit on bound values asks and run all or
    /// nothing, as [`add`](Self::add) is; `execute_query` returns the links
    /// deleted. No `bs`, no statement.
    pub fn remove<'b>(&self, a: &A, bs: impl IntoIterator<Item = &'b B>) -> RemoveLinks<L>
    where
        B: 'b,
    {
        RemoveLinks {
            from: self.linked_to(a),
            to: self.to,
            keys: bs.into_iter().map(Model::primary_key).collect(),
        }
    }

    /// Unlinks `a` from every `B`.
    pub fn clear(&self, a: &A) -> DeleteQuery<L> {
        L::delete_query().filter(self.linked_to(a))
    }

    /// The far side for [`prefetch`](crate::SyncDb::prefetch): each `A`
    /// gets the rows of `far` linked to it, in `far`'s order (a row linked
    /// to two parents is cloned for the second). One query reads the links
    /// of all the parents, one the far rows, whatever the number of parents.
    pub fn prefetch(&self, far: Select<B>) -> Through<L, A, B> {
        Through { links: *self, far }
    }
}

/// Links written by [`Links::add`]; `execute_query` returns their count.
pub struct AddLinks<L> {
    columns: (&'static str, &'static str),
    rows: Vec<(Value, Value)>,
    invalid: Option<String>,
    _link: PhantomData<fn() -> L>,
}

impl<L> std::fmt::Debug for AddLinks<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddLinks")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl<L: Model> AddLinks<L> {
    /// The statements: as many as the backend's limit on bound values asks
    /// (two values a link), none for no links; run all or nothing.
    pub(crate) fn build(self, d: Dialect) -> Result<Vec<Stmt>> {
        if let Some(why) = self.invalid {
            return Err(Error::new(ErrorKind::Usage, why));
        }
        let most = crate::placeholders::max_values(d.kind) / 2;
        let mut out = Vec::with_capacity(self.rows.len().div_ceil(most.max(1)));
        let mut rows = self.rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut q = sea_query::Query::insert();
            q.into_table(L::META.table);
            q.columns([self.columns.0, self.columns.1]);
            for (a, b) in rows.by_ref().take(most) {
                let values = [
                    sea_query::Expr::val(to_sea(a)),
                    sea_query::Expr::val(to_sea(b)),
                ];
                q.values(values)
                    .map_err(|e| Error::new(ErrorKind::Usage, format!("add: {e}")))?;
            }
            out.push(d.query(&q));
        }
        Ok(out)
    }
}

/// Links deleted by [`Links::remove`]; `execute_query` returns their count.
pub struct RemoveLinks<L> {
    /// `L.from = a`'s key (or why the link is not one).
    from: Filter<L>,
    to: (usize, &'static str),
    keys: Vec<Value>,
}

impl<L> std::fmt::Debug for RemoveLinks<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoveLinks")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl<L: Model> RemoveLinks<L> {
    /// The statements: as many as the backend's limit on bound values asks
    /// (one for `a`'s key, one a link), none for no links; run all or
    /// nothing.
    pub(crate) fn build(self, d: Dialect) -> Result<Vec<Stmt>> {
        let most = crate::placeholders::max_values(d.kind)
            .saturating_sub(1)
            .max(1);
        let to = Column::<L, Value>::new(self.to.0, self.to.1);
        self.keys
            .chunks(most)
            .map(|keys| {
                let q = L::delete_query().filter(self.from.clone() & to.is_in(keys.to_vec()));
                q.build(d)
            })
            .collect()
    }
}

/// The far side of a [`Links`] for `prefetch`: made by
/// [`Links::prefetch`].
pub struct Through<L, A, B> {
    links: Links<L, A, B>,
    far: Select<B>,
}

impl<L, A, B> std::fmt::Debug for Through<L, A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Through")
            .field("links", &self.links)
            .field("far", &self.far)
            .finish()
    }
}

impl<L: Model, A: Model, B: Model + Clone> Related<A> for Through<L, A, B> {
    type Output = Vec<B>;
    fn check(&self) -> Result<()> {
        match self.links.invalid() {
            Some(why) => Err(Error::new(ErrorKind::Usage, why)),
            None => Ok(()),
        }
    }
    fn loader(self, d: Dialect, keys: Vec<Value>) -> Result<BoxedLoader<Vec<B>>> {
        if let Some(why) = self.links.invalid() {
            return Err(Error::new(ErrorKind::Usage, why));
        }
        Ok(BoxedLoader::new(FarSide::<L, B> {
            d,
            from: self.links.from.0,
            to: self.links.to.0,
            far: self.far,
            parents: keys,
            targets: Vec::new(),
            reading_far: false,
            links: Decoder::new(),
            far_rows: Decoder::new(),
            parents_of: HashMap::new(),
            found: Vec::new(),
            grouped: HashMap::new(),
            _link: PhantomData,
        }))
    }
}

/// Loads the far side: the links whose `from` is among the parent keys,
/// then the far rows they name, grouped under each parent.
struct FarSide<L: Model, B: Model> {
    d: Dialect,
    from: usize,
    to: usize,
    far: Select<B>,
    /// Parent keys whose links are still to read.
    parents: Vec<Value>,
    /// Far keys still to read, each once.
    targets: Vec<Value>,
    reading_far: bool,
    links: Decoder<L>,
    far_rows: Decoder<B>,
    /// The parents each far key is linked to, in the order the links came.
    parents_of: HashMap<Key, Vec<Key>>,
    /// The far rows, in the order the server sent them.
    found: Vec<B>,
    grouped: HashMap<Key, Vec<B>>,
    _link: PhantomData<fn() -> L>,
}

impl<L: Model, B: Model + Clone> Loader<Vec<B>> for FarSide<L, B> {
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Option<Action>> {
        if let Some(r) = reply {
            r?;
        }
        const CHUNK: usize = super::prefetch::CHUNK;
        if !self.reading_far {
            if !self.parents.is_empty() {
                let rest = self.parents.split_off(self.parents.len().min(CHUNK));
                let chunk = std::mem::replace(&mut self.parents, rest);
                let (stmt, in_order) = L::select().where_in(&[self.from], chunk, self.d);
                if in_order {
                    self.links = Decoder::in_model_order();
                }
                return Ok(Some(Action::Rows(stmt)));
            }
            self.reading_far = true;
        }
        if !self.targets.is_empty() {
            let rest = self.targets.split_off(self.targets.len().min(CHUNK));
            let chunk = std::mem::replace(&mut self.targets, rest);
            let (stmt, in_order) = self.far.where_in(&[B::META.pk_index()], chunk, self.d);
            self.far_rows = match in_order {
                true => Decoder::in_model_order(),
                false => Decoder::new(),
            };
            return Ok(Some(Action::Rows(stmt)));
        }
        for b in self.found.drain(..) {
            let Some(parents) = key(b.primary_key()).and_then(|k| self.parents_of.get(&k)) else {
                continue;
            };
            for p in parents {
                self.grouped.entry(p.clone()).or_default().push(b.clone());
            }
        }
        Ok(None)
    }

    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        let row = slotted(row)?;
        if self.reading_far {
            self.found.push(self.far_rows.decode(row)?);
            return Ok(());
        }
        let link: L = self.links.decode(row)?;
        let (Some(parent), to) = (key(link.value(self.from)), link.value(self.to)) else {
            return Ok(());
        };
        let Some(target) = key(to.clone()) else {
            return Ok(());
        };
        let parents = self.parents_of.entry(target).or_insert_with(|| {
            self.targets.push(to);
            Vec::new()
        });
        parents.push(parent);
        Ok(())
    }

    fn take(&mut self, parent: Option<&Key>) -> Vec<B> {
        parent
            .and_then(|k| self.grouped.remove(k))
            .unwrap_or_default()
    }
}
