//! Tree walks, peewee's recursive common table expressions over a model
//! whose foreign key references its own table (categories, folders,
//! comments and their replies): [`Select::with_descendants`] and
//! [`Select::with_ancestors`] turn the rows a query finds into those rows
//! and every row below (or above) them, however deep, in one statement.
//!
//! The walk is a filter on the model's key:
//!
//! ```sql
//! node.id IN (WITH RECURSIVE dualdb_tree (dualdb_key) AS (
//!     SELECT * FROM (SELECT node.id FROM node WHERE …) AS dualdb_start
//!     UNION SELECT node.id FROM node JOIN dualdb_tree ON node.parent = dualdb_tree.dualdb_key
//! ) SELECT dualdb_key FROM dualdb_tree)
//! ```
//!
//! so the query it makes filters, orders, counts, pages, updates or deletes
//! like any other. The recursion carries keys only, joined by `UNION` (not
//! `UNION ALL`): a key met again adds no row, so rows that reference each
//! other in a cycle end the walk instead of looping, and the keys compare
//! whatever the other columns' types (PostgreSQL's `json` has no equality).
//! The start query is read from a derived table, so its `order_by` and
//! `limit` pick the start rows. One SQL text on all three backends
//! (PostgreSQL, MariaDB 10.2+ and MySQL 8, SQLite 3.8.3+; sea-query writes
//! it). tests/queries/trees.rs walks trees, chains and cycles on every
//! backend and half.

use sea_query::{
    BinOper, CommonTableExpression, Cond, Expr, ExprTrait, Query, SubQueryStatement, UnionType,
    WithClause,
};

use super::Model;
use super::column::{Column, Filter, qualified};
use super::query::Select;
use super::source::Names;

/// The recursive table's name, and its one column's.
const TREE: &str = "dualdb_tree";
const KEY: &str = "dualdb_key";
/// The start rows' derived table.
const START: &str = "dualdb_start";

impl<M: Model> Select<M> {
    /// The rows this query finds and every row below them: their children
    /// through `parent` (a foreign key of `M` to `M`, `#[model(references
    /// = M)]`), the children's children, and so on to the leaves. A query of
    /// `M` to filter, order, count, page, update or delete further; the
    /// start rows are this query's (its filter, joins, order and limit),
    /// each row comes once, and rows that reference each other in a cycle
    /// end the walk. Add `.filter(M::ID.not_in(start))` to leave the start
    /// rows out.
    ///
    /// A `parent` that does not reference `M`, a model whose key has
    /// several columns, or a start query that selects fields or locks its
    /// rows (lock the walk's query instead) is a
    /// [`Usage`](crate::ErrorKind::Usage) error before any I/O. A walk
    /// has no depth limit on any backend (dualdb's MySQL and MariaDB
    /// sessions lift the servers' own).
    ///
    /// ```
    /// use dualdb::{Database, Model};
    ///
    /// #[derive(Model, Debug)]
    /// struct Folder {
    ///     #[model(primary_key)]
    ///     id: i64,
    ///     #[model(references = Folder)]
    ///     parent: Option<i64>,
    ///     name: String,
    /// }
    ///
    /// let db = Database::open("sqlite::memory:").unwrap();
    /// let s = db.sync();
    /// s.create_table::<Folder>().unwrap();
    /// for (id, parent, name) in [(1, None, "home"), (2, Some(1), "ann"), (3, Some(2), "photos"), (4, None, "tmp")] {
    ///     s.create(Folder { id, parent, name: name.into() }).unwrap();
    /// }
    /// let under_home = Folder::select()
    ///     .filter(Folder::NAME.eq("home"))
    ///     .with_descendants(Folder::PARENT)
    ///     .order_by(Folder::ID.asc());
    /// let names: Vec<String> = s.execute_query(under_home).unwrap().into_iter().map(|f| f.name).collect();
    /// assert_eq!(names, ["home", "ann", "photos"]);
    /// ```
    pub fn with_descendants<T>(self, parent: Column<M, T>) -> Select<M> {
        walk(self, parent, Direction::Down)
    }

    /// The rows this query finds and every row above them: their parents
    /// through `parent` (a foreign key of `M` to `M`), the parents'
    /// parents, and so on to the roots. Otherwise as
    /// [`with_descendants`](Self::with_descendants).
    ///
    /// ```
    /// # use dualdb::{Database, Model};
    /// # #[derive(Model, Debug)]
    /// # struct Folder {
    /// #     #[model(primary_key)]
    /// #     id: i64,
    /// #     #[model(references = Folder)]
    /// #     parent: Option<i64>,
    /// #     name: String,
    /// # }
    /// # let db = Database::open("sqlite::memory:").unwrap();
    /// # let s = db.sync();
    /// # s.create_table::<Folder>().unwrap();
    /// # for (id, parent, name) in [(1, None, "home"), (2, Some(1), "ann"), (3, Some(2), "photos"), (4, None, "tmp")] {
    /// #     s.create(Folder { id, parent, name: name.into() }).unwrap();
    /// # }
    /// // The path from the root down to "photos":
    /// let path = Folder::select().filter(Folder::NAME.eq("photos")).with_ancestors(Folder::PARENT);
    /// assert_eq!(s.count(path, false).unwrap(), 3);
    /// ```
    pub fn with_ancestors<T>(self, parent: Column<M, T>) -> Select<M> {
        walk(self, parent, Direction::Up)
    }
}

#[derive(Clone, Copy)]
enum Direction {
    /// From a row to the rows whose `parent` is its key.
    Down,
    /// From a row to the row its `parent` holds the key of.
    Up,
}

/// `M`'s rows reached from `start`'s through `parent`, as a query of `M`.
fn walk<M: Model, T>(start: Select<M>, parent: Column<M, T>, way: Direction) -> Select<M> {
    let (parent_at, parent) = parent.parts();
    let filter = tree_filter(start, parent, parent_at, way).unwrap_or_else(Filter::invalid);
    M::select().filter(filter)
}

/// The filter `key IN (WITH RECURSIVE …)`, or why the walk cannot be
/// written.
fn tree_filter<M: Model>(
    start: Select<M>,
    parent: &'static str,
    parent_at: usize,
    way: Direction,
) -> std::result::Result<Filter<M>, String> {
    let meta = M::META;
    let what = match way {
        Direction::Down => "with_descendants",
        Direction::Up => "with_ancestors",
    };
    if meta.composite_key() {
        return Err(format!(
            "{what}: {}'s key has {} columns; a tree walk follows a key of one column",
            meta.name,
            meta.key.len()
        ));
    }
    // By table, as `ForeignKey::references` compares: a model is one table.
    let references_self = meta
        .columns
        .get(parent_at)
        .and_then(|c| c.references)
        .is_some_and(|r| r().table == meta.table);
    if !references_self {
        return Err(format!(
            "{what}: {}.{parent} is not a foreign key of {} to itself (`#[model(references = {})]`)",
            meta.name, meta.name, meta.name
        ));
    }
    if start.locks() {
        return Err(format!(
            "{what}: the start query locks its rows; lock the walk's query instead \
             (`.{what}(…).for_update()`)"
        ));
    }
    if !start.selects_model_columns() {
        return Err(format!(
            "{what}: the start query selects fields; the walk starts from the rows of {}",
            meta.name
        ));
    }
    let outer = start.nested_check()?;
    let (table, key) = (meta.table, meta.pk().name);
    let mut anchor = Query::select();
    anchor
        .column(sea_query::Asterisk)
        .from_subquery(start.subquery(), START);
    let mut step = Query::select();
    match way {
        Direction::Down => step
            .column((table, key))
            .from(table)
            .inner_join(TREE, qualified(table, parent).equals((TREE, KEY))),
        Direction::Up => step
            .column((table, parent))
            .from(table)
            .inner_join(TREE, qualified(table, key).equals((TREE, KEY)))
            .and_where(qualified(table, parent).is_not_null()),
    };
    anchor.union(UnionType::Distinct, step);
    let cte = CommonTableExpression::new()
        .table_name(TREE)
        .column(KEY)
        .query(anchor)
        .to_owned();
    let with = WithClause::new().recursive(true).cte(cte).to_owned();
    let keys = Query::select().column(KEY).from(TREE).to_owned().with(with);
    let walk = qualified(table, key).binary(
        BinOper::In,
        Expr::SubQuery(None, Box::new(SubQueryStatement::WithStatement(keys))),
    );
    Ok(Filter::naming(
        Cond::all().add(walk),
        Names::of(outer, meta),
    ))
}
