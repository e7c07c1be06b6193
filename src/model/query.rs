//! Queries on a model: [`Select`], [`UpdateQuery`], [`DeleteQuery`] and
//! [`InsertMany`]. Each is a plain value; `execute` on either half runs it.
//!
//! ```
//! use dualdb::{Database, Model};
//!
//! #[derive(Model, Debug)]
//! struct Item { #[model(primary_key, auto)] id: i64, name: String, qty: i32 }
//!
//! let db = Database::open("sqlite::memory:").unwrap();
//! let s = db.sync();
//! s.create_table::<Item>().unwrap();
//! let items = s.execute_query(Item::insert_many(vec![
//!     Item { id: 0, name: "a".into(), qty: 1 },
//!     Item { id: 0, name: "b".into(), qty: 5 },
//! ])).unwrap();
//! assert!(items.iter().all(|i| i.id > 0));
//! let n = s.execute_query(Item::update_query().set(Item::QTY, 0).filter(Item::NAME.eq("a"))).unwrap();
//! assert_eq!(n, 1);
//! let big = s.execute_query(Item::select().filter(Item::QTY.gt(2))).unwrap();
//! assert_eq!(big.len(), 1);
//! assert_eq!(s.execute_query(Item::delete_query()).unwrap(), 2);
//! ```

use sea_query::{Expr, Query, SelectStatement, WindowStatement};

use super::Model;
use super::column::{Column, Comparable, Compatible, Field, Filter, Order, OrderBy, Over};
use super::expr::IntoExpr;
use super::join::{self, Join};
use super::selection::{Selected, Selection};
use super::shapes::{self, KeyColumn, Shape};
use super::source::{Names, Source};
use super::sql::{Dialect, to_sea};
use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::statement::{Params, SqlText, Stmt};
use crate::value::Value;

/// ANDs `f` into an optional filter.
fn and_filter<M: Model>(slot: &mut Option<Filter<M>>, f: Filter<M>) {
    *slot = Some(match slot.take() {
        Some(old) => old.and(f),
        None => f,
    });
}

/// `SELECT` on model `M`.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let page = Book::select()
///     .filter(Book::PAGES.gt(50))
///     .order_by(Book::TITLE.asc())
///     .limit(2);
/// let titles: Vec<String> = s.execute_query(page).unwrap().into_iter().map(|b| b.title).collect();
/// assert_eq!(titles, ["Dune", "Emma"]);
/// ```
pub struct Select<M> {
    filter: Option<Filter<M>>,
    order: Vec<Order<M>>,
    limit: Option<u64>,
    offset: Option<u64>,
    /// What few queries ask for (fields, joins, `DISTINCT`, a row lock),
    /// boxed: a `Select` of at most 128 bytes is moved without a call to
    /// `memcpy` (every `get` moves one a few times).
    extras: Option<Box<Extras<M>>>,
}

/// The parts of a [`Select`] that few queries use.
struct Extras<M> {
    fields: Option<Box<[Field<M>]>>,
    joins: Vec<Join>,
    group_by: Vec<sea_query::Expr>,
    having: Option<Filter<M>>,
    /// `UNION`, `INTERSECT`, `EXCEPT` with other selects of the model.
    compounds: Vec<(sea_query::UnionType, Select<M>)>,
    /// The models `group_by` names, for the check.
    grouped: Vec<Names>,
    distinct: bool,
    lock: Option<Lock>,
    /// The query whose rows this one reads, in place of the model's table
    /// ([`Select::from_subquery`]).
    from: Option<Box<Select<M>>>,
}

impl<M> Default for Extras<M> {
    fn default() -> Self {
        Extras {
            fields: None,
            joins: Vec::new(),
            group_by: Vec::new(),
            having: None,
            compounds: Vec::new(),
            grouped: Vec::new(),
            distinct: false,
            lock: None,
            from: None,
        }
    }
}

impl<M> Clone for Extras<M> {
    fn clone(&self) -> Self {
        Extras {
            fields: self.fields.clone(),
            joins: self.joins.clone(),
            group_by: self.group_by.clone(),
            having: self.having.clone(),
            compounds: self.compounds.clone(),
            grouped: self.grouped.clone(),
            distinct: self.distinct,
            lock: self.lock,
            from: self.from.clone(),
        }
    }
}

/// What a statement reads: the model's columns, the columns of several
/// models in order, or expressions.
#[derive(Clone, Copy)]
pub(crate) enum Reads<'a> {
    Model,
    Models(&'a [Source]),
    Exprs(&'a [Selected]),
}

/// A row lock a [`Select`] takes (`FOR UPDATE`, `FOR SHARE`), and what it
/// does about rows another transaction has locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lock {
    exclusive: bool,
    wait: LockWait,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LockWait {
    /// Waits for them (the servers' lock timeouts apply).
    Wait,
    /// Leaves them out (`SKIP LOCKED`).
    SkipLocked,
    /// Fails at once (`NOWAIT`).
    NoWait,
}

impl Lock {
    /// The clause after the statement on `kind`; none on SQLite, whose
    /// transactions hold the database's write lock from their `BEGIN
    /// IMMEDIATE` (tests/locks.rs runs the job queue there too).
    fn clause(self, kind: BackendKind) -> &'static str {
        use LockWait::*;
        match (kind, self.exclusive, self.wait) {
            (BackendKind::Sqlite, ..) => "",
            (_, true, Wait) => " FOR UPDATE",
            (_, true, SkipLocked) => " FOR UPDATE SKIP LOCKED",
            (_, true, NoWait) => " FOR UPDATE NOWAIT",
            (BackendKind::Postgres, false, Wait) => " FOR SHARE",
            (BackendKind::Postgres, false, SkipLocked) => " FOR SHARE SKIP LOCKED",
            (BackendKind::Postgres, false, NoWait) => " FOR SHARE NOWAIT",
            // MariaDB has no `FOR SHARE`; MySQL 8 reads this too.
            (_, false, Wait) => " LOCK IN SHARE MODE",
            (_, false, SkipLocked) => " LOCK IN SHARE MODE SKIP LOCKED",
            (_, false, NoWait) => " LOCK IN SHARE MODE NOWAIT",
        }
    }
}

/// The clause of a row lock that waits: exclusive (`FOR UPDATE`) or shared
/// (`FOR SHARE`, MySQL's `LOCK IN SHARE MODE`); none on SQLite. For the
/// locking reads dualdb's own plans make (MySQL's read-backs after a write).
pub(crate) fn row_lock(kind: BackendKind, exclusive: bool) -> &'static str {
    Lock {
        exclusive,
        wait: LockWait::Wait,
    }
    .clause(kind)
}

impl<M> Clone for Select<M> {
    fn clone(&self) -> Self {
        Select {
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            extras: self.extras.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Select<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<M: Model> Default for Select<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> From<Filter<M>> for Select<M> {
    #[inline]
    fn from(f: Filter<M>) -> Self {
        Select {
            filter: Some(f),
            ..Select::new()
        }
    }
}

impl<M: Model> Select<M> {
    /// All rows of `M`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// use dualdb::Select;
    /// assert_eq!(s.execute_query(Select::<Book>::new()).unwrap().len(), 3);
    /// ```
    pub fn new() -> Self {
        Select {
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            extras: None,
        }
    }

    /// Adds a condition (ANDed with any before it).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().filter(Book::PAGES.gt(100)).filter(Book::YEAR.gt(1900));
    /// assert_eq!(s.get(q).unwrap().title, "Dune");
    /// ```
    pub fn filter<N: Model>(mut self, f: Filter<N>) -> Self {
        and_filter(&mut self.filter, f.retag());
        self
    }

    /// Adds an `ORDER BY` term.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().order_by(Book::PAGES.asc());
    /// assert_eq!(s.get(q).unwrap().title, "Notes");
    /// ```
    pub fn order_by<N: Model>(mut self, o: Order<N>) -> Self {
        self.order.push(o.retag());
        self
    }

    /// `INNER JOIN N ON …`, the condition inferred from the foreign key
    /// (`references`) between `N` and a model already in the query, in
    /// either direction. No such key, or more than one, is a
    /// [`Usage`](ErrorKind::Usage) error before the query runs: give the
    /// columns with [`join_on`](Self::join_on). Filters and orders may then
    /// name `N`'s columns; [`models`](Self::models) reads its rows too.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let by_ann = Post::select().join::<User>().filter(User::NAME.eq("ann"));
    /// assert_eq!(s.execute_query(by_ann).unwrap().len(), 2);
    /// ```
    pub fn join<N: Model>(self) -> Self {
        self.add_join(|before| Join::inferred(before, N::META, false))
    }

    /// `LEFT OUTER JOIN N ON …`, inferred as [`join`](Self::join) does:
    /// rows of the query with no match in `N` stay, with NULLs for `N`
    /// (read them as `Option<N>` with [`models`](Self::models)).
    pub fn left_outer_join<N: Model>(self) -> Self {
        self.add_join(|before| Join::inferred(before, N::META, true))
    }

    /// `INNER JOIN N ON from = to`: `from` a column of a table in the
    /// query, `to` one of `N`, of the same type (nullable or not). `to` may
    /// be a column of an [`Alias`](super::Alias) of `N`
    /// (`editor.col(User::ID)`): `N` is then joined under that name, as
    /// many times as it has aliases.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let q = User::select().join_on(User::ID, Post::AUTHOR).filter(Post::TITLE.eq("hello"));
    /// assert_eq!(s.get(q).unwrap().name, "ann");
    /// ```
    pub fn join_on<A: Model, N: Model, T: Comparable<U>, U>(
        self,
        from: Column<A, T>,
        to: Column<N, U>,
    ) -> Self {
        self.add_join(|before| {
            Join::on_columns(
                before,
                (from.source(), from.name()),
                to.source(),
                to.name(),
                false,
            )
        })
    }

    /// `LEFT OUTER JOIN N ON from = to`, as [`join_on`](Self::join_on).
    pub fn left_outer_join_on<A: Model, N: Model, T: Comparable<U>, U>(
        self,
        from: Column<A, T>,
        to: Column<N, U>,
    ) -> Self {
        self.add_join(|before| {
            Join::on_columns(
                before,
                (from.source(), from.name()),
                to.source(),
                to.name(),
                true,
            )
        })
    }

    /// `GROUP BY` these columns or expressions, of any model in the query:
    /// one ([`Column`], [`Expr`](super::Expr)) or a tuple of them. With
    /// [`having`](Self::having) and the aggregates of
    /// [`select_fields`](Self::select_fields) or [`order_by`](Self::order_by).
    /// PostgreSQL and SQLite accept a model's other columns where its primary
    /// key is grouped by (the model itself can be read); MySQL too, unless
    /// `ONLY_FULL_GROUP_BY` without that rule.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let per_user = User::select()
    ///     .join::<Post>()
    ///     .group_by(User::ID)
    ///     .order_by(User::NAME.asc())
    ///     .select_fields((User::NAME, Post::ID.count()));
    /// let counts: Vec<(String, i64)> = s.execute_query(per_user).unwrap();
    /// assert_eq!(counts, [("ann".to_string(), 2), ("bob".to_string(), 1)]);
    /// ```
    pub fn group_by(mut self, by: impl Selection) -> Self {
        let mut exprs = Vec::new();
        by.exprs(&mut exprs);
        let extras = self.extras_mut();
        for s in exprs {
            let (expr, names) = s.outside_selection("a GROUP BY");
            extras.group_by.push(expr);
            extras.grouped.push(Names::nested(names, M::META));
        }
        self
    }

    /// `HAVING`: a condition on the groups, typically on an aggregate
    /// (`Post::ID.count().gt(2)`), of any model in the query; ANDed with
    /// any before it.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let prolific = User::select().join::<Post>().group_by(User::ID).having(Post::ID.count().ge(2));
    /// assert_eq!(s.execute_query(prolific).unwrap().len(), 1);
    /// ```
    pub fn having<N: Model>(mut self, f: Filter<N>) -> Self {
        let f = f.retag::<M>();
        and_filter(&mut self.extras_mut().having, f);
        self
    }

    fn add_join(mut self, join: impl FnOnce(&[Source]) -> Join) -> Self {
        let join = join(&self.models_read());
        self.extras_mut().joins.push(join);
        self
    }

    fn joins(&self) -> &[Join] {
        self.extras.as_ref().map_or(&[], |e| &e.joins)
    }

    /// The query's `ORDER BY` terms, in order.
    pub(crate) fn orders(&self) -> &[Order<M>] {
        &self.order
    }

    /// The tables the query reads from: its model's own, then the joined
    /// ones.
    pub(crate) fn models_read(&self) -> Vec<Source> {
        std::iter::once(Source::own(M::META))
            .chain(self.joins().iter().map(|j| j.target))
            .collect()
    }

    /// The check before the query runs: its joins resolved, and every model
    /// its filter and orders name (and `selected`) among those it reads.
    /// A query of its own model alone (the usual one) passes at once.
    #[inline]
    pub(crate) fn check(&self, selected: &[Source]) -> Result<()> {
        if self.extras.is_none()
            && selected.is_empty()
            && self.filter.as_ref().is_none_or(|f| f.names().own_only())
            && self.order.iter().all(|o| o.names.own_only())
        {
            return Ok(());
        }
        self.check_models(selected)
    }

    #[inline(never)]
    fn check_models(&self, selected: &[Source]) -> Result<()> {
        self.check_compounds(selected)?;
        self.check_from()?;
        let named = self
            .named()
            .map_err(|why| Error::new(ErrorKind::Usage, why))?;
        let named = named
            .into_iter()
            .chain(selected.iter().map(|&m| ("the selection", m)));
        join::check(M::META, self.joins(), &self.models_read(), named)
    }

    /// A query read [`from_subquery`](Self::from_subquery): the inner one
    /// passes its own check and reads its model's columns; neither takes a
    /// row lock (written after the statement, it would lock the outer
    /// query's rows, which PostgreSQL refuses for a derived table).
    fn check_from(&self) -> Result<()> {
        let Some(inner) = self.extras.as_ref().and_then(|e| e.from.as_deref()) else {
            return Ok(());
        };
        let usage = |why: &str| {
            Err(Error::new(
                ErrorKind::Usage,
                format!("from_subquery: {why}"),
            ))
        };
        if inner.selected_fields().is_some() {
            return usage(
                "the inner query reads fields of its own: it must read its model's columns",
            );
        }
        if self.locks() || inner.locks() {
            return usage(
                "row locks are not taken through a derived table: lock the rows in a query of its own",
            );
        }
        inner.check(&[])
    }

    /// The parts of a `UNION` and the like take no order, limit or lock of
    /// their own, and each passes the check.
    fn check_compounds(&self, selected: &[Source]) -> Result<()> {
        for (_, part) in self.extras.as_ref().map_or(&[][..], |e| &e.compounds[..]) {
            if !part.order.is_empty() || part.has_limit() || part.locks() {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "a query joined by union, intersect or except takes no order, limit, offset or \
                     lock of its own: give them to the first query, for the whole",
                ));
            }
            part.check(selected)?;
        }
        Ok(())
    }

    /// Every table the query's filter, orders, fields, grouping and having
    /// name, with what names it; or why a sub-query in one of them fails.
    fn named(&self) -> std::result::Result<Vec<(&'static str, Source)>, String> {
        let mut out = Vec::new();
        let mut add = |what: &'static str, names: &Names| -> std::result::Result<(), String> {
            out.extend(names.resolve(M::META)?.into_iter().map(|s| (what, s)));
            Ok(())
        };
        if let Some(f) = &self.filter {
            add("a filter", f.names())?;
        }
        for o in &self.order {
            add("an order", &o.names)?;
        }
        if let Some(e) = &self.extras {
            for f in e.fields.iter().flatten() {
                add("a field", &f.names)?;
            }
            for g in &e.grouped {
                add("the grouping", g)?;
            }
            if let Some(h) = &e.having {
                add("the having", h.names())?;
            }
        }
        Ok(out)
    }

    /// The check of this query as a sub-query of another: the tables it
    /// names and does not read are the query around it's (a correlated
    /// sub-query), for that query's check; anything else wrong is why it
    /// fails.
    pub(crate) fn nested_check(&self) -> std::result::Result<Vec<Source>, String> {
        let why = |e: Error| e.to_string();
        self.check_compounds(&[]).map_err(why)?;
        join::check(M::META, self.joins(), &[], []).map_err(why)?;
        let from = self.models_read();
        let mut outer: Vec<Source> = Vec::new();
        for (_, s) in self.named()? {
            if !from.iter().any(|f| f.is(&s)) && !outer.iter().any(|o| o.is(&s)) {
                outer.push(s);
            }
        }
        Ok(outer)
    }

    /// A query reading the rows of `inner` (a derived table, `SELECT … FROM
    /// (SELECT …) AS table`) in place of the model's table, peewee's
    /// `.from_(subquery)`: filter, order, group, join, count or page what
    /// `inner` found, with the model's own columns, which name the derived
    /// table's (it takes the model's table name). `inner` reads its model's
    /// columns (no [`fields`](Self::fields)), and neither query takes a row
    /// lock; else a [`Usage`](ErrorKind::Usage) error before any I/O.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// // The two thickest books, by title:
    /// let thickest = Book::select().order_by(Book::PAGES.desc()).limit(2);
    /// let q = dualdb::Select::from_subquery(thickest).order_by(Book::TITLE.asc());
    /// let titles: Vec<String> = s.execute_query(q).unwrap().into_iter().map(|b| b.title).collect();
    /// assert_eq!(titles, ["Dune", "Emma"]);
    /// ```
    pub fn from_subquery(inner: Select<M>) -> Self {
        let mut q = Select::new();
        q.extras_mut().from = Some(Box::new(inner));
        q
    }

    /// `LIMIT n`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// assert_eq!(s.execute_query(Book::select().limit(2)).unwrap().len(), 2);
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// `OFFSET n`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().order_by(Book::PAGES.asc()).limit(1).offset(1);
    /// assert_eq!(s.get(q).unwrap().title, "Dune");
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Removes `LIMIT` and `OFFSET`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().limit(1);
    /// assert_eq!(s.count(q.clone().clear_limit(), false).unwrap(), 3);
    /// assert_eq!(s.count(q, false).unwrap(), 1);
    /// ```
    pub fn clear_limit(mut self) -> Self {
        self.limit = None;
        self.offset = None;
        self
    }

    /// Page `page` (counted from 1, as peewee's `paginate`) of `per_page`
    /// rows: `LIMIT per_page OFFSET (page - 1) * per_page`; page 0 is
    /// page 1. Give an order, or the pages may overlap.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = |page| Book::select().order_by(Book::PAGES.asc()).paginate(page, 2);
    /// let titles = |page| -> Vec<String> {
    ///     s.execute_query(q(page)).unwrap().into_iter().map(|b| b.title).collect()
    /// };
    /// assert_eq!(titles(1), ["Notes", "Dune"]);
    /// assert_eq!(titles(2), ["Emma"]);
    /// assert!(titles(3).is_empty());
    /// ```
    pub fn paginate(mut self, page: u64, per_page: u64) -> Self {
        self.limit = Some(per_page);
        self.offset = Some(page.saturating_sub(1).saturating_mul(per_page));
        self
    }

    /// `SELECT DISTINCT`: equal rows once. With [`fields`](Self::fields),
    /// the distinct values of those expressions; `count` counts the
    /// distinct rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// s.execute_query(Book::insert_many(vec![Book { id: 0, title: "Dune".into(), pages: 1, year: None }])).unwrap();
    /// let titles = Book::select().fields([Book::TITLE.field()]).distinct();
    /// assert_eq!(s.count(titles, false).unwrap(), 3); // four books, three titles
    /// ```
    pub fn distinct(mut self) -> Self {
        self.extras_mut().distinct = true;
        self
    }

    /// `FOR UPDATE`: inside a transaction, the rows read stay locked against
    /// other transactions' writes and locking reads until it ends (outside
    /// one, the lock ends with the statement). Never sent to a read
    /// replica. On SQLite it adds nothing: a transaction there holds the
    /// whole database's write lock from its start.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// s.atomic(|tx| {
    ///     let mut dune = tx.get(Book::select().filter(Book::TITLE.eq("Dune")).for_update())?;
    ///     dune.pages += 1; // no other transaction changes it meanwhile
    ///     tx.update(&dune)
    /// })
    /// .unwrap();
    /// ```
    pub fn for_update(mut self) -> Self {
        self.lock_as(true);
        self
    }

    /// `FOR SHARE` (MySQL/MariaDB: `LOCK IN SHARE MODE`): the rows read stay
    /// locked against other transactions' writes, not their shared reads,
    /// until this transaction ends. As [`for_update`](Self::for_update)
    /// otherwise.
    pub fn for_share(mut self) -> Self {
        self.lock_as(false);
        self
    }

    /// Leaves out rows another transaction has locked instead of waiting
    /// for them (`SKIP LOCKED`): the job-queue read, each worker taking rows
    /// no other worker holds. On the lock asked for, or `FOR UPDATE` if none
    /// was. PostgreSQL, MariaDB 10.6+ and MySQL 8+ (for a shared lock, MySQL
    /// 8 needs `FOR SHARE`, which MariaDB lacks: use `for_update` there).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let job = s.atomic(|tx| -> dualdb::Result<_> {
    ///     let next = Book::select().order_by(Book::ID.asc()).skip_locked();
    ///     let Some(book) = tx.get_or_none(next)? else { return Ok(None) };
    ///     tx.delete(&book)?; // claimed: no other worker saw it
    ///     Ok(Some(book.title))
    /// });
    /// assert!(job.unwrap().is_some());
    /// ```
    pub fn skip_locked(mut self) -> Self {
        self.lock_waits(LockWait::SkipLocked);
        self
    }

    /// Fails at once if a row is locked by another transaction instead of
    /// waiting (`NOWAIT`): a [`Query`](crate::ErrorKind::Query) error with
    /// the server's code (PostgreSQL `55P03`, MariaDB `1205`). On the lock
    /// asked for, or `FOR UPDATE` if none was. PostgreSQL, MariaDB 10.3+,
    /// MySQL 8+.
    pub fn nowait(mut self) -> Self {
        self.lock_waits(LockWait::NoWait);
        self
    }

    fn extras_mut(&mut self) -> &mut Extras<M> {
        self.extras.get_or_insert_default()
    }

    fn selected_fields(&self) -> Option<&[Field<M>]> {
        self.extras.as_ref().and_then(|e| e.fields.as_deref())
    }

    fn lock_as(&mut self, exclusive: bool) {
        let lock = &mut self.extras_mut().lock;
        let wait = lock.map_or(LockWait::Wait, |l| l.wait);
        *lock = Some(Lock { exclusive, wait });
    }

    fn lock_waits(&mut self, wait: LockWait) {
        let lock = &mut self.extras_mut().lock;
        let exclusive = lock.is_none_or(|l| l.exclusive);
        *lock = Some(Lock { exclusive, wait });
    }

    /// True if the query takes a row lock: it runs on the primary.
    pub(crate) fn locks(&self) -> bool {
        self.extras.as_ref().is_some_and(|e| e.lock.is_some())
    }

    fn is_distinct(&self) -> bool {
        self.extras.as_ref().is_some_and(|e| e.distinct)
    }

    /// Selects these expressions instead of the model's columns (for
    /// `scalar`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let (title, pages): (String, i32) = s
    ///     .scalar(Book::select().filter(Book::YEAR.eq(1815)).fields([Book::TITLE.field(), Book::PAGES.field()]))
    ///     .unwrap();
    /// assert_eq!((title.as_str(), pages), ("Emma", 474));
    /// ```
    pub fn fields(mut self, fields: impl IntoIterator<Item = Field<M>>) -> Self {
        self.extras_mut().fields = Some(fields.into_iter().collect());
        self
    }

    /// The most rows the query returns, if it is limited.
    pub(crate) fn row_limit(&self) -> Option<u64> {
        self.limit
    }

    pub(crate) fn has_limit(&self) -> bool {
        self.limit.is_some() || self.offset.is_some()
    }

    /// The statement, reading the model's columns (qualified when the
    /// query joins others), or its fields, or `models`' columns if given.
    pub(crate) fn statement(&self) -> SelectStatement {
        self.statement_of(Reads::Model)
    }

    /// The statement reading what `reads` says: the model's columns (or its
    /// fields), several models' columns each in its order (for
    /// `models`), or expressions (for `select_fields`).
    pub(crate) fn statement_of(&self, reads: Reads<'_>) -> SelectStatement {
        let mut q = Query::select();
        match self.extras.as_ref().and_then(|e| e.from.as_deref()) {
            Some(inner) => q.from_subquery(inner.derived(), M::META.table),
            None => q.from(M::META.table),
        };
        if self.is_distinct() {
            q.distinct();
        }
        let joins = self.joins();
        let own_columns =
            joins.is_empty() && self.extras.as_ref().is_none_or(|e| e.group_by.is_empty());
        match (reads, self.selected_fields()) {
            (Reads::Models(models), _) => {
                for m in models {
                    q.columns(m.meta.columns.iter().map(|c| (m.name(), c.name)));
                }
            }
            (Reads::Exprs(exprs), _) => {
                for s in exprs {
                    select_over(&mut q, s.expr.clone(), s.window.as_deref());
                }
            }
            (Reads::Model, Some(fields)) => {
                for f in fields {
                    let window = match &f.over {
                        Over::Window(w) => Some(&**w),
                        Over::Never | Over::Aggregate => None,
                    };
                    select_over(&mut q, f.expr.clone(), window);
                }
            }
            (Reads::Model, None) if own_columns => {
                q.columns(M::META.columns.iter().map(|c| c.name));
            }
            (Reads::Model, None) => {
                q.columns(M::META.columns.iter().map(|c| (M::META.table, c.name)));
            }
        }
        for j in joins {
            if let Ok(on) = &j.on {
                match j.target.alias {
                    None => q.join(j.kind(), j.target.meta.table, on.clone()),
                    Some(alias) => q.join_as(j.kind(), j.target.meta.table, alias, on.clone()),
                };
            }
        }
        if let Some(f) = &self.filter {
            q.cond_where(f.clone().cond());
        }
        if let Some(e) = &self.extras {
            if !e.group_by.is_empty() {
                q.add_group_by(e.group_by.iter().cloned());
            }
            if let Some(h) = &e.having {
                q.cond_having(h.clone().cond());
            }
        }
        let compounds = self.extras.as_ref().map_or(&[][..], |e| &e.compounds[..]);
        for (kind, other) in compounds {
            q.union(*kind, other.statement_of(reads));
        }
        for o in &self.order {
            match &o.by {
                // After a UNION the order names the result's columns.
                OrderBy::Column(_, column) if !compounds.is_empty() => {
                    q.order_by(*column, o.order.clone())
                }
                OrderBy::Column(table, column) => q.order_by((*table, *column), o.order.clone()),
                OrderBy::Expr(e) => q.order_by_expr(e.clone(), o.order.clone()),
            };
        }
        q
    }

    /// `WHERE EXISTS (sub)`: rows for which `sub` finds a row; `sub` may
    /// name this query's models (`Post::AUTHOR.eq_col(User::ID)`), which
    /// makes it correlated. peewee's `.where(fn.EXISTS(sub))`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let wrote = |u| Post::select().filter(Post::AUTHOR.eq_col(User::ID)).filter(Post::TITLE.eq(u));
    /// let q = User::select().filter_exists(wrote("mine"));
    /// assert_eq!(s.get(q).unwrap().name, "bob");
    /// ```
    pub fn filter_exists<N: Model>(self, sub: Select<N>) -> Self {
        let f = exists_filter::<M, N>(sub, false);
        self.filter(f)
    }

    /// `WHERE NOT EXISTS (sub)`: rows for which `sub` finds none.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// let q = User::select().filter_not_exists(Post::select().filter(Post::AUTHOR.eq_col(User::ID)));
    /// assert_eq!(s.get(q).unwrap().name, "cy");
    /// ```
    pub fn filter_not_exists<N: Model>(self, sub: Select<N>) -> Self {
        let f = exists_filter::<M, N>(sub, true);
        self.filter(f)
    }

    fn compound(mut self, kind: sea_query::UnionType, other: Select<M>) -> Self {
        self.extras_mut().compounds.push((kind, other));
        self
    }

    /// `UNION`: the rows of either query, each once (peewee's `|`). The
    /// order, limit and offset of this query apply to the whole; `other`'s
    /// must have none (a [`Usage`](ErrorKind::Usage) error before the query
    /// runs: MySQL and SQLite order the parts differently).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().filter(Book::PAGES.lt(100)).union(Book::select().filter(Book::YEAR.lt(1900)));
    /// let titles: Vec<String> = s.execute_query(q.order_by(Book::TITLE.asc())).unwrap().into_iter().map(|b| b.title).collect();
    /// assert_eq!(titles, ["Emma", "Notes"]);
    /// ```
    pub fn union(self, other: Select<M>) -> Self {
        self.compound(sea_query::UnionType::Distinct, other)
    }

    /// `UNION ALL`: the rows of both queries, duplicates kept (peewee's `+`).
    pub fn union_all(self, other: Select<M>) -> Self {
        self.compound(sea_query::UnionType::All, other)
    }

    /// `INTERSECT`: the rows both queries return (peewee's `&`). MariaDB
    /// 10.3+, MySQL 8.0.31+.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::select().filter(Book::PAGES.gt(100)).intersect(Book::select().filter(Book::YEAR.lt(1900)));
    /// assert_eq!(s.get(q).unwrap().title, "Emma");
    /// ```
    pub fn intersect(self, other: Select<M>) -> Self {
        self.compound(sea_query::UnionType::Intersect, other)
    }

    /// `EXCEPT`: this query's rows that `other` does not return (peewee's
    /// `-`). MariaDB 10.3+, MySQL 8.0.31+.
    pub fn except(self, other: Select<M>) -> Self {
        self.compound(sea_query::UnionType::Except, other)
    }

    /// The query as a derived table: its model's columns (named as the
    /// model names them), `LIMIT` and `OFFSET` bound.
    fn derived(&self) -> SelectStatement {
        let mut q = self.statement();
        if let Some(n) = self.limit {
            q.limit(n);
        }
        if let Some(n) = self.offset {
            q.offset(n);
        }
        q
    }

    /// The query as a sub-query yielding one column: its fields, or its
    /// model's primary key; `LIMIT` and `OFFSET` bound, no lock.
    pub(crate) fn subquery(&self) -> SelectStatement {
        let mut q = self.statement();
        if self.selected_fields().is_none() {
            q.clear_selects();
            q.column((M::META.table, M::META.pk().name));
        }
        if let Some(n) = self.limit {
            q.limit(n);
        }
        if let Some(n) = self.offset {
            q.offset(n);
        }
        q
    }

    /// The statement, with `LIMIT`/`OFFSET` written as literals: sea-query
    /// binds them, and a bound `LIMIT ?` makes SQLite plan the query slower
    /// than the lookup itself runs (benches/paired, the SQLite get).
    pub(crate) fn build(&self, d: Dialect) -> Stmt {
        self.cached(d).unwrap_or_else(|| self.build_fresh(d))
    }

    /// The statement as a locking read (`FOR SHARE`, MySQL's `LOCK IN SHARE
    /// MODE`), for the look-up after a lost insert race (tests/races.rs): a
    /// locking read reads the latest committed rows, not a snapshot. Inside
    /// a MySQL/MariaDB transaction (REPEATABLE READ) the snapshot cannot see
    /// a row another transaction committed after it began; outside one,
    /// MariaDB lets the loser's insert see the winner's committed row a
    /// moment before a new snapshot does, so MySQL locks there too. A
    /// PostgreSQL statement outside a transaction takes its snapshot after
    /// the winner's commit is visible, and SQLite's transaction holds the
    /// write lock already: plain reads there.
    pub(crate) fn build_locking(&self, d: Dialect) -> Stmt {
        let mut stmt = self.build(d);
        let locking = match d.kind {
            BackendKind::Postgres => d.in_tx,
            BackendKind::Mysql => true,
            BackendKind::Sqlite => false,
        };
        if locking && !self.locks() {
            stmt.sql.push_str(row_lock(d.kind, false));
        }
        stmt
    }

    /// [`build`](Self::build) of a query given up: the filter's value moves
    /// into the statement instead of being copied.
    #[inline]
    pub(crate) fn into_stmt(mut self, d: Dialect) -> Stmt {
        match self.cached_sql(d) {
            Some(sql) => {
                let value = self.filter.take().and_then(Filter::into_eq_value);
                Stmt::with(
                    sql,
                    value.map_or_else(Params::new, |v| Params::from_buf([v])),
                )
            }
            None => self.build_fresh(d),
        }
    }

    /// The statement from the cache of built shapes ([`super::shapes`]), if
    /// this query has one of them.
    fn cached(&self, d: Dialect) -> Option<Stmt> {
        let sql = self.cached_sql(d)?;
        let value = self.filter.as_ref().and_then(Filter::as_eq);
        Some(Stmt::with(
            sql,
            value.map_or_else(Params::new, |(_, v)| Params::from_buf([v.clone()])),
        ))
    }

    /// The SQL of this query from the cache of built shapes, if it has one
    /// of them: then its only bound value is its filter's, if any.
    fn cached_sql(&self, d: Dialect) -> Option<SqlText> {
        if self.extras.is_some()
            || !self.order.is_empty()
            || self.offset.is_some()
            || self.limit.is_some_and(|n| n != 1)
        {
            return None;
        }
        let eq = match &self.filter {
            None => None,
            Some(f) => Some(f.as_eq()?),
        };
        if let Some((_, Value::Null)) = eq {
            return None; // not a shape worth keeping
        }
        let column = eq.map(|(column, _)| column);
        shapes::select_sql(M::built_selects(), d.kind, column, self.limit, || {
            let built = self.build_fresh(d);
            // One bound value for the filter, none without: anything else
            // is not the shape assumed here, and is built every time.
            (built.params.len() == usize::from(eq.is_some())).then(|| built.sql.to_string())
        })
    }

    fn build_fresh(&self, d: Dialect) -> Stmt {
        self.build_of(d, Reads::Model)
    }

    /// The statement reading `models`' columns if given (see
    /// [`statement_of`](Self::statement_of)), its `LIMIT`, `OFFSET` and
    /// lock written after.
    pub(crate) fn build_of(&self, d: Dialect, reads: Reads<'_>) -> Stmt {
        let mut stmt = d.query(&self.statement_of(reads));
        match (self.limit, self.offset) {
            (Some(n), _) => stmt.sql.push_str(&format!(" LIMIT {n}")),
            // MySQL and SQLite need a LIMIT before an OFFSET.
            (None, Some(_)) if d.kind != BackendKind::Postgres => {
                stmt.sql.push_str(&format!(" LIMIT {}", i64::MAX))
            }
            (None, _) => {}
        }
        if let Some(n) = self.offset {
            stmt.sql.push_str(&format!(" OFFSET {n}"));
        }
        if let Some(lock) = self.extras.as_ref().and_then(|e| e.lock) {
            stmt.sql.push_str(lock.clause(d.kind));
        }
        stmt
    }

    /// This query's rows whose columns numbered `columns` hold one of
    /// `keys` (a prefetch's sub-query; a key of several columns, laid one
    /// after the other, is matched as a row value), with `true` if its
    /// columns are the model's
    /// in order. A query of all the model's rows (no filter, order, limit or
    /// fields of its own; the usual sub-query) is the model's cached select
    /// with `WHERE column IN (…)` written here and the keys bound as they
    /// are: sea-query's build of the list costs more per key than binding it
    /// (benches/paired, loading associations, guards it). Any other query
    /// has the condition added and is built by sea-query.
    pub(crate) fn where_in(&self, columns: &[usize], keys: Vec<Value>, d: Dialect) -> (Stmt, bool) {
        let names: Vec<&'static str> = (columns.iter())
            .map(|&i| M::META.columns.get(i).map_or("", |c| c.name))
            .collect();
        if let [name] = names[..] {
            return self.where_one_in(name, keys, d);
        }
        let within = Filter::<M>::new(sea_query::Cond::all().add(super::key::is_in(
            M::META.table,
            &names,
            keys,
        )));
        (self.clone().filter(within).build(d), false)
    }

    fn where_one_in(&self, name: &'static str, keys: Vec<Value>, d: Dialect) -> (Stmt, bool) {
        let plain = self.filter.is_none()
            && self.order.is_empty()
            && self.limit.is_none()
            && self.offset.is_none()
            && self.extras.is_none();
        if let Some(base) = plain.then(|| self.cached_sql(d)).flatten() {
            let mut sql = String::with_capacity(base.len() + name.len() + 16 + 6 * keys.len());
            sql.push_str(&base);
            sql.push_str(" WHERE ");
            super::alter::push_quoted(&mut sql, d.kind, name);
            sql.push_str(" IN (");
            for i in 1..=keys.len() {
                if i > 1 {
                    sql.push_str(", ");
                }
                match d.kind {
                    BackendKind::Postgres => {
                        sql.push('$');
                        sql.push_str(&i.to_string());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
            return (Stmt::with(sql, keys).by_position(), true);
        }
        let within = Filter::<M>::new(sea_query::Cond::all().add(super::key::is_in(
            M::META.table,
            &[name],
            keys,
        )));
        (self.clone().filter(within).build(d), false)
    }

    /// True if the statement selects the model's columns, in its order
    /// (no fields of its own).
    pub(crate) fn selects_model_columns(&self) -> bool {
        self.selected_fields().is_none()
    }

    /// The first row only (keeps a smaller limit). A filter `column =
    /// value` on the primary key or a unique column matches one row at most
    /// already: its query gets no `LIMIT 1` (a shorter statement, and one
    /// step less for the server: benches/instructions, the SQLite get).
    pub(crate) fn first(mut self) -> Self {
        if self.offset.is_none() && self.matches_one_at_most() {
            return self;
        }
        self.limit = Some(self.limit.map_or(1, |n| Ord::min(n, 1)));
        self
    }

    /// True if the filter is `column = value` on the primary key or a
    /// unique column.
    fn matches_one_at_most(&self) -> bool {
        let meta = M::META;
        self.filter
            .as_ref()
            .and_then(Filter::as_eq)
            .is_some_and(|(i, _)| {
                (i == meta.pk_index() && !meta.composite_key())
                    || meta.columns.get(i).is_some_and(|c| c.unique)
            })
    }

    /// `SELECT COUNT(*)` of this query; wraps it when it has a limit.
    /// Takes no row lock: PostgreSQL refuses one with an aggregate. A query
    /// with a limit, `DISTINCT`, groups or a `UNION` is counted from outside.
    pub(crate) fn count_statement(&self, d: Dialect) -> Stmt {
        let mut inner = self.clone();
        inner.order.clear();
        if let Some(extras) = &mut inner.extras {
            extras.lock = None;
        }
        if inner.has_limit() || inner.is_distinct() || inner.groups_or_compounds() {
            let mut stmt = inner.build(d);
            stmt.sql = format!("SELECT COUNT(*) FROM ({}) AS dualdb_count", stmt.sql).into();
            stmt
        } else {
            inner.extras_mut().fields = Some(Box::new([Field::count_all()]));
            inner.build(d)
        }
    }

    /// `SELECT 1 … LIMIT 1` of this query.
    pub(crate) fn exists_statement(&self, d: Dialect) -> Stmt {
        let mut q = self.clone();
        q.order.clear();
        if q.extras.as_ref().is_some_and(|e| !e.compounds.is_empty()) {
            let mut stmt = q.build(d);
            stmt.sql = format!("SELECT 1 FROM ({}) AS dualdb_exists LIMIT 1", stmt.sql).into();
            return stmt;
        }
        q.extras_mut().fields = Some(Box::new([Field::naming(Expr::cust("1"), Names::Nothing)]));
        q.first().build(d)
    }

    /// True if the query groups its rows or joins others' by `UNION` and the
    /// like: a count counts its rows from outside.
    pub(crate) fn groups_or_compounds(&self) -> bool {
        self.extras
            .as_ref()
            .is_some_and(|e| !e.group_by.is_empty() || !e.compounds.is_empty())
    }
}

/// `expr` as a selected column, computed over `window` if it has one.
fn select_over(q: &mut SelectStatement, expr: Expr, window: Option<&WindowStatement>) {
    match window {
        Some(w) => q.expr_window(expr, w.clone()),
        None => q.expr(expr),
    };
}

/// `[NOT] EXISTS (sub)` as a filter of the outer query's `M`, naming the
/// outer models `sub` refers to (checked against the outer query).
fn exists_filter<M: Model, N: Model>(sub: Select<N>, negated: bool) -> Filter<M> {
    let outer = Names::nested(sub.nested_check(), M::META);
    let exists = Expr::exists(sub.subquery());
    let e = if negated {
        sea_query::ExprTrait::not(exists)
    } else {
        exists
    };
    Filter::naming(sea_query::Cond::all().add(e), outer)
}

/// `UPDATE` of model `M`'s rows matching a filter.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let q = Book::update_query().set(Book::YEAR, 2000).filter(Book::YEAR.is_null());
/// assert_eq!(s.execute_query(q).unwrap(), 1);
/// ```
pub struct UpdateQuery<M> {
    sets: Vec<(&'static str, SetTo)>,
    filter: Option<Filter<M>>,
}

/// What a column is set to: a value (bound), or an expression.
enum SetTo {
    Value(Value),
    /// An expression, and the tables it names (`M`'s alone, or it is a
    /// `Usage` error).
    Expr((Expr, Names)),
}

impl<M> std::fmt::Debug for UpdateQuery<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns: Vec<&str> = self.sets.iter().map(|(c, _)| *c).collect();
        f.debug_struct("UpdateQuery")
            .field("columns", &columns)
            .finish_non_exhaustive()
    }
}

impl<M: Model> UpdateQuery<M> {
    pub(crate) fn new() -> Self {
        UpdateQuery {
            sets: Vec::new(),
            filter: None,
        }
    }

    /// `SET column = value`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::update_query().set(Book::PAGES, 100).set(Book::TITLE, "Notes, 2nd ed.").filter(Book::PAGES.eq(90));
    /// assert_eq!(s.execute_query(q).unwrap(), 1);
    /// assert_eq!(s.get(Book::PAGES.eq(100)).unwrap().title, "Notes, 2nd ed.");
    /// ```
    pub fn set<T>(mut self, column: Column<M, T>, value: impl Compatible<T>) -> Self {
        self.sets
            .push((column.name(), SetTo::Value(value.to_sql())));
        self
    }

    /// `SET column = expression`, computed by the server from the row's
    /// columns (peewee's `Post.update(views=Post.views + 1)`): no read
    /// before the write, so no update is lost to a concurrent one.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::update_query()
    ///     .set_expr(Book::PAGES, Book::PAGES * 2 + 1)
    ///     .set_expr(Book::TITLE, Book::TITLE.upper())
    ///     .filter(Book::YEAR.is_null());
    /// assert_eq!(s.execute_query(q).unwrap(), 1);
    /// let notes = s.get(Book::YEAR.is_null()).unwrap();
    /// assert_eq!((notes.title.as_str(), notes.pages), ("NOTES", 181));
    /// ```
    pub fn set_expr<T>(mut self, column: Column<M, T>, expr: impl IntoExpr<M, T>) -> Self {
        self.sets
            .push((column.name(), SetTo::Expr(expr.into_parts())));
        self
    }

    /// Only rows matching `f` (ANDed with any filter before).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::update_query().set(Book::PAGES, 0).filter(Book::PAGES.gt(400)).filter(Book::YEAR.lt(1900));
    /// assert_eq!(s.execute_query(q).unwrap(), 1);
    /// ```
    pub fn filter(mut self, f: Filter<M>) -> Self {
        and_filter(&mut self.filter, f);
        self
    }

    /// A filter naming another model is a [`Usage`](ErrorKind::Usage)
    /// error: an update reads no other table (filter through a sub-query).
    pub(crate) fn build(self, d: Dialect) -> Result<Stmt> {
        let (mut q, filter) = self.parts()?;
        if let Some(c) = filter {
            q.cond_where(c);
        }
        Ok(d.query(&q))
    }

    /// The `UPDATE` with its `SET`s and no `WHERE`, and the filter's
    /// condition: checked as [`build`](Self::build) checks.
    pub(crate) fn parts(
        self,
    ) -> Result<(sea_query::UpdateStatement, Option<sea_query::Condition>)> {
        no_other_models::<M>(self.filter.as_ref(), "an update")?;
        for (_, to) in &self.sets {
            if let SetTo::Expr((_, names)) = to {
                names.only_own(M::META, "an update")?;
            }
        }
        if self.sets.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("an update of {} sets no column", M::META.name),
            ));
        }
        let mut q = Query::update();
        q.table(M::META.table);
        for (c, to) in self.sets {
            match to {
                SetTo::Value(v) => q.value(c, Expr::val(to_sea(v))),
                SetTo::Expr((e, _)) => q.value(c, e),
            };
        }
        Ok((q, self.filter.map(Filter::cond)))
    }
}

/// The error of an update's or a delete's filter naming another model.
fn no_other_models<M: Model>(filter: Option<&Filter<M>>, what: &str) -> Result<()> {
    filter.map_or(Ok(()), |f| f.names().only_own(M::META, what))
}

/// `DELETE` of model `M`'s rows matching a filter.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// assert_eq!(s.execute_query(Book::delete_query().filter(Book::YEAR.is_null())).unwrap(), 1);
/// assert_eq!(s.execute_query(Book::delete_query()).unwrap(), 2);
/// ```
pub struct DeleteQuery<M> {
    filter: Option<Filter<M>>,
}

impl<M> std::fmt::Debug for DeleteQuery<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteQuery").finish_non_exhaustive()
    }
}

impl<M: Model> DeleteQuery<M> {
    pub(crate) fn new() -> Self {
        DeleteQuery { filter: None }
    }

    /// Only rows matching `f`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::delete_query().filter(Book::PAGES.lt(100));
    /// assert_eq!(s.execute_query(q).unwrap(), 1);
    /// ```
    pub fn filter(mut self, f: Filter<M>) -> Self {
        and_filter(&mut self.filter, f);
        self
    }

    /// A filter naming another model is a [`Usage`](ErrorKind::Usage)
    /// error, as for an update.
    pub(crate) fn build(self, d: Dialect) -> Result<Stmt> {
        let mut q = Query::delete();
        q.from_table(M::META.table);
        if let Some(c) = self.condition()? {
            q.cond_where(c);
        }
        Ok(d.query(&q))
    }

    /// The filter's condition, checked as [`build`](Self::build) checks.
    pub(crate) fn condition(self) -> Result<Option<sea_query::Condition>> {
        no_other_models::<M>(self.filter.as_ref(), "a delete")?;
        Ok(self.filter.map(Filter::cond))
    }
}

/// `INSERT` of many rows of `M` in one statement; `execute` returns them with
/// their generated keys.
///
/// ```
/// # dualdb::__doc_fixtures!(books: db, s);
/// let stored = s
///     .execute_query(Book::insert_many(vec![
///         Book { id: 0, title: "A".into(), pages: 1, year: None },
///         Book { id: 0, title: "B".into(), pages: 2, year: None },
///     ]))
///     .unwrap();
/// assert!(stored.iter().all(|b| b.id > 0));
/// ```
pub struct InsertMany<M> {
    pub(crate) rows: Vec<M>,
}

impl<M> std::fmt::Debug for InsertMany<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertMany")
            .field("rows", &self.rows.len())
            .finish()
    }
}

/// An [`InsertMany`] that does not read the rows back: `execute_query`
/// returns how many were inserted. Made by [`InsertMany::without_returning`],
/// for bulk loads that need no generated keys: PostgreSQL and SQLite skip
/// `RETURNING` and decoding every stored row.
///
/// ```
/// # dualdb::__doc_fixtures!(no books: db, s);
/// let books = (1..=3).map(|i| Book { id: 0, title: format!("vol. {i}"), pages: i, year: None });
/// let n = s.execute_query(Book::insert_many(books.collect()).without_returning()).unwrap();
/// assert_eq!(n, 3);
/// assert_eq!(s.execute_query(Book::insert_many(Vec::new()).without_returning()).unwrap(), 0);
/// ```
pub struct InsertCounted<M> {
    pub(crate) rows: Vec<M>,
}

impl<M> std::fmt::Debug for InsertCounted<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertCounted")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl<M: Model> InsertMany<M> {
    /// The same insert, returning only the number of rows inserted.
    ///
    /// ```
    /// # use dualdb::{Database, Model};
    /// # #[derive(Model, Debug, Clone, PartialEq)]
    /// # struct Book { #[model(primary_key, auto)] id: i64, title: String, pages: i32, year: Option<i32> }
    /// # let db = Database::open("sqlite::memory:").unwrap();
    /// # db.sync().create_table::<Book>().unwrap();
    /// let one = vec![Book { id: 0, title: "A".into(), pages: 1, year: None }];
    /// assert_eq!(db.sync().execute_query(Book::insert_many(one).without_returning()).unwrap(), 1);
    /// ```
    pub fn without_returning(self) -> InsertCounted<M> {
        InsertCounted { rows: self.rows }
    }

    /// True if the server generates `row`'s key: the model has a generated
    /// (`auto`) key and `row` leaves it unset (0, NULL, the nil UUID or empty
    /// text). Any other value is written as it is (tests/models.rs
    /// `given_keys_of_generated_key_models_are_written`).
    pub(crate) fn generates_key(row: &M) -> bool {
        if !M::META.auto_key() {
            return false;
        }
        // An integer key (the common one) has nothing to drop: no call to
        // drop it, for each row of every insert (benches/instructions).
        let key = std::mem::ManuallyDrop::new(row.primary_key());
        match &*key {
            Value::I64(n) => *n == 0,
            _ => std::mem::ManuallyDrop::into_inner(key).is_unset(),
        }
    }

    /// Whether an insert of `rows` writes the generated key column: if they
    /// give their keys (the rows of one statement all give theirs, or all
    /// leave them to the server: see the insert plan).
    pub(crate) fn key_column(rows: &[M]) -> KeyColumn {
        match rows.first() {
            Some(row) if M::META.auto_key() && !Self::generates_key(row) => KeyColumn::Written,
            _ => KeyColumn::Omitted,
        }
    }

    /// The columns an insert writes: all but a generated key, and the key
    /// first where it is written.
    pub(crate) fn columns(key: KeyColumn) -> impl Iterator<Item = (usize, &'static str)> {
        let pk = M::META.pk_index();
        let written = (key == KeyColumn::Written).then(|| (pk, M::META.pk().name));
        written.into_iter().chain(
            (M::META.columns.iter().enumerate())
                .filter(|(_, c)| c.inserted())
                .map(|(i, c)| (i, c.name)),
        )
    }

    /// The values each row binds.
    pub(crate) fn width(key: KeyColumn) -> usize {
        Self::columns(key).count()
    }

    /// The `INSERT` statement of rows kept after it (MySQL sets their
    /// generated keys), their values copied: as [`build_owned`](Self::build_owned).
    pub(crate) fn build(rows: &[M], d: Dialect, returning: bool) -> Result<Stmt> {
        let key = Self::key_column(rows);
        let mut params = Vec::with_capacity(rows.len() * Self::width(key));
        for row in rows {
            params.extend(Self::columns(key).map(|(i, _)| row.value(i)));
        }
        Self::build_values(params, rows.len(), d, returning, key)
    }

    /// The `INSERT` statement, with `RETURNING` every column if `returning`
    /// and the dialect has it; its SQL from the cache of shapes when it has
    /// few enough rows. The values move out of the rows.
    pub(crate) fn build_owned(rows: Vec<M>, d: Dialect, returning: bool) -> Result<Stmt> {
        let (count, key) = (rows.len(), Self::key_column(&rows));
        let mut params = Vec::with_capacity(count * Self::width(key));
        for row in rows {
            if key == KeyColumn::Written {
                params.push(row.primary_key());
            }
            row.insert_values(&mut params);
        }
        Self::build_values(params, count, d, returning, key)
    }

    /// The statement of `rows` rows whose values are `params`, row by row.
    fn build_values(
        params: Vec<Value>,
        rows: usize,
        d: Dialect,
        returning: bool,
        key: KeyColumn,
    ) -> Result<Stmt> {
        let returning = returning && d.returning();
        if rows == 0 || rows > shapes::CACHED_INSERT_ROWS {
            return Self::build_fresh(params, rows, d, returning, key);
        }
        let shape = Shape {
            model: std::any::TypeId::of::<M>(),
            kind: d.kind,
            rows,
            returning,
            key,
        };
        let mut fresh = None;
        let sql = shapes::sql(shape, || {
            // Cached only if sea-query bound every value, in order, as is.
            let built = Self::build_fresh(params.clone(), rows, d, returning, key).ok()?;
            let built = fresh.insert(built);
            (built.params[..] == params[..]).then(|| built.sql.to_string())
        });
        match (sql, fresh) {
            (Some(sql), _) => Ok(Stmt::with(sql, params)),
            (None, Some(built)) => Ok(built),
            (None, None) => Self::build_fresh(params, rows, d, returning, key),
        }
    }

    /// The statement as sea-query builds it, from `rows` rows' `params`.
    fn build_fresh(
        params: Vec<Value>,
        rows: usize,
        d: Dialect,
        returning: bool,
        key: KeyColumn,
    ) -> Result<Stmt> {
        let mut q = Query::insert();
        q.into_table(M::META.table);
        q.columns(Self::columns(key).map(|(_, n)| n));
        let per_row = Self::width(key);
        if params.len() != rows * per_row {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "insert: {} values for {rows} rows of {per_row} columns",
                    params.len()
                ),
            ));
        }
        let mut params = params.into_iter();
        for _ in 0..rows {
            let values: Vec<Expr> = (params.by_ref().take(per_row))
                .map(|v| Expr::val(to_sea(v)))
                .collect();
            q.values(values)
                .map_err(|e| Error::new(ErrorKind::Usage, format!("insert: {e}")))?;
        }
        if returning {
            q.returning(Query::returning().columns(M::META.columns.iter().map(|c| c.name)));
        }
        Ok(d.query(&q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Model;

    #[derive(Model)]
    #[model(table = "shape_books")]
    struct Book {
        #[model(primary_key, auto)]
        id: i64,
        title: String,
        pages: Option<i32>,
    }

    #[derive(Model)]
    #[model(table = "shape_codes")]
    struct Code {
        id: i64,
        #[model(unique)]
        code: String,
        note: String,
    }

    /// A prefetch's `IN (…)` list written by hand is the statement
    /// sea-query builds, on every backend, for keys of several kinds; a
    /// sub-query with a filter of its own is built by sea-query.
    #[test]
    fn in_lists_written_here_equal_sea_querys() {
        let keys = [
            Value::I64(1),
            Value::Text("o'k \"x\" `y`".into()),
            Value::Null,
            Value::Bytes(vec![0, 1]),
        ];
        for kind in [
            BackendKind::Postgres,
            BackendKind::Mysql,
            BackendKind::Sqlite,
        ] {
            let d = Dialect::new(kind, false);
            for n in [1, 2, 4] {
                let keys = keys[..n].to_vec();
                let (ours, in_order) = Book::select().where_in(&[2], keys.clone(), d);
                let within =
                    Filter::<Book>::new(sea_query::Cond::all().add(sea_query::ExprTrait::is_in(
                        Expr::col("pages"),
                        keys.iter().cloned().map(|v| Expr::val(to_sea(v))),
                    )));
                let sea = Book::select().filter(within).build_fresh(d);
                assert!(in_order);
                assert_eq!((&ours.sql, &ours.params), (&sea.sql, &sea.params), "{kind}");
            }
            let filtered = Select::from(Book::TITLE.eq("Emma"));
            let (built, in_order) = filtered.where_in(&[2], vec![Value::I64(3)], d);
            assert!(!in_order);
            assert!(built.sql.contains("IN"), "{}", built.sql);
            assert_eq!(built.params.len(), 2);
        }
    }

    /// The look-up after a lost insert race is a locking read on MySQL in
    /// and out of transactions, and on PostgreSQL inside one only; SQLite
    /// reads plainly; a query that locks already is left as it is.
    #[test]
    fn a_lookup_after_a_lost_race_locks_where_a_snapshot_can_miss_the_winner() {
        use BackendKind::{Mysql, Postgres, Sqlite};
        let lookup = Select::from(Code::CODE.eq("x")).first();
        for (kind, in_tx, tail) in [
            (Mysql, false, " LOCK IN SHARE MODE"),
            (Mysql, true, " LOCK IN SHARE MODE"),
            (Postgres, false, ""),
            (Postgres, true, " FOR SHARE"),
            (Sqlite, false, ""),
            (Sqlite, true, ""),
        ] {
            let d = Dialect::new(kind, in_tx);
            let plain = lookup.build(d).sql.to_string();
            let locking = lookup.build_locking(d).sql.to_string();
            assert_eq!(locking, format!("{plain}{tail}"), "{kind} in_tx={in_tx}");
            let updating = lookup.clone().for_update();
            if kind != Sqlite {
                assert_eq!(
                    updating.build_locking(d).sql.to_string(),
                    updating.build(d).sql.to_string()
                );
            }
        }
    }

    /// The first row of a query (`get`, `get_or_none`, `scalar`) is asked
    /// for with `LIMIT 1`, unless its filter is `column = value` on the
    /// primary key or a unique column, where one row at most can match.
    #[test]
    fn a_lookup_by_a_unique_column_has_no_limit() {
        let d = Dialect::new(BackendKind::Sqlite, false);
        let sql = |q: Select<Code>| q.first().build(d).sql.to_string();
        assert!(
            !sql(Code::by_id(7)).contains("LIMIT"),
            "{}",
            sql(Code::by_id(7))
        );
        assert!(!sql(Code::CODE.eq("x").into()).contains("LIMIT"));
        assert!(sql(Code::NOTE.eq("x").into()).ends_with(" LIMIT 1"));
        assert!(sql(Code::select()).ends_with(" LIMIT 1"));
        assert!(sql((Code::ID.eq(7) & Code::NOTE.eq("x")).into()).ends_with(" LIMIT 1"));
        // with an offset the limit stays (MySQL takes no OFFSET without one)
        assert!(sql(Code::by_id(7).offset(1)).contains("LIMIT 1 OFFSET 1"));
        // a smaller limit is kept
        assert!(sql(Code::by_id(7).limit(0)).ends_with(" LIMIT 0"));
    }

    /// A statement from the cache of built shapes is the one sea-query
    /// builds, on every backend, on the call that fills the cache and after.
    #[test]
    fn cached_shapes_equal_fresh_builds() {
        let queries: Vec<Select<Book>> = vec![
            Book::select(),
            Book::select().first(),
            Book::by_id(7),
            Book::by_id(7).first(),
            Book::TITLE.eq("Emma").into(),
            Select::from(Book::PAGES.eq(Some(3))).first(),
            Book::TITLE.eq(String::from("quote ' \" `")).into(),
        ];
        for kind in [
            BackendKind::Postgres,
            BackendKind::Mysql,
            BackendKind::Sqlite,
        ] {
            let d = Dialect::new(kind, false);
            for q in &queries {
                let fresh = q.build_fresh(d);
                for _ in 0..2 {
                    let built = q.build(d);
                    assert_eq!((&built.sql, &built.params), (&fresh.sql, &fresh.params));
                    // given up, its value moved: the same statement
                    let owned = q.clone().into_stmt(d);
                    assert_eq!((&owned.sql, &owned.params), (&fresh.sql, &fresh.params));
                }
            }
        }
        // different values of one shape: the same SQL, each its own value;
        // the text is the model's one copy, on every thread
        let d = Dialect::new(BackendKind::Postgres, false);
        let (a, b) = (Book::by_id(1).build(d), Book::by_id(2).build(d));
        assert_eq!(a.sql, b.sql);
        let elsewhere = std::thread::spawn(move || Book::by_id(3).build(d))
            .join()
            .unwrap();
        match (&a.sql, &elsewhere.sql) {
            (SqlText::Static(x), SqlText::Static(y)) => assert!(std::ptr::eq(*x, *y)),
            other => panic!("not shared: {other:?}"),
        }
        assert_eq!(
            (&a.params[..], &b.params[..]),
            (&[Value::I64(1)][..], &[Value::I64(2)][..])
        );
    }

    #[derive(Model, Clone)]
    #[model(table = "shape_wide")]
    struct Wide {
        #[model(primary_key, auto)]
        id: i64,
        flag: bool,
        ratio: f64,
        blob: Vec<u8>,
        note: Option<String>,
        small: i32,
    }

    /// An insert's cached SQL with its values is what sea-query builds, on
    /// every backend, with and without `RETURNING`, for rows whose values
    /// differ (NULL or not) from those that filled the cache.
    #[test]
    fn cached_inserts_equal_fresh_builds() {
        let wide = |i: i32, note: Option<&str>| Wide {
            id: 0,
            flag: i % 2 == 0,
            ratio: f64::from(i) / 3.0,
            blob: vec![0, 1, 2, i as u8],
            note: note.map(String::from),
            small: -i,
        };
        let batches = [
            vec![wide(1, Some("a"))],
            vec![wide(2, None)],
            vec![
                wide(3, None),
                wide(4, Some("quote ' \" `")),
                wide(5, Some("")),
            ],
            vec![wide(6, Some("b")), wide(7, None), wide(8, None)],
        ];
        for kind in [
            BackendKind::Postgres,
            BackendKind::Mysql,
            BackendKind::Sqlite,
        ] {
            let d = Dialect::new(kind, false);
            for returning in [true, false] {
                for rows in &batches {
                    let values = rows.iter().flat_map(|r| {
                        let mut v = r.values();
                        v.remove(0); // the generated key
                        v
                    });
                    let fresh = InsertMany::<Wide>::build_fresh(
                        values.collect(),
                        rows.len(),
                        d,
                        returning && d.returning(),
                        KeyColumn::Omitted,
                    )
                    .unwrap();
                    let built = InsertMany::<Wide>::build(rows, d, returning).unwrap();
                    assert_eq!((&built.sql, &built.params), (&fresh.sql, &fresh.params));
                    // moved out of the models: the same values
                    let owned = InsertMany::build_owned(rows.clone(), d, returning).unwrap();
                    assert_eq!((&owned.sql, &owned.params), (&fresh.sql, &fresh.params));
                    assert_eq!(built.params.len(), rows.len() * 5);
                    let shape = Shape {
                        model: std::any::TypeId::of::<Wide>(),
                        kind,
                        rows: rows.len(),
                        returning: returning && d.returning(),
                        key: KeyColumn::Omitted,
                    };
                    assert!(shapes::cached(shape), "{kind:?} {returning} not cached");
                }
            }
        }
    }

    /// Filters that are not a lone `column = value` build every time, and a
    /// NULL compared with `=` keeps sea-query's SQL.
    #[test]
    fn other_shapes_are_not_cached() {
        let d = Dialect::new(BackendKind::Sqlite, false);
        let both = Book::select()
            .filter(Book::TITLE.eq("a"))
            .filter(Book::PAGES.eq(Some(1)));
        assert!(both.cached(d).is_none());
        assert!(Book::select().limit(5).cached(d).is_none());
        assert!(Book::select().order_by(Book::ID.asc()).cached(d).is_none());
        let null: Select<Book> = Book::PAGES.eq(None::<i32>).into();
        assert!(null.cached(d).is_none());
        assert_eq!(null.build(d).sql, null.build_fresh(d).sql);
    }
}
