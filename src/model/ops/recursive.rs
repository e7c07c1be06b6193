//! `delete` and the recursive delete: a row's dependants, found through the
//! registered foreign keys, cleared before the row.
//!
//! Most dependants are reached by statements written before anything runs,
//! each level selected by a sub-query on the level above. A model whose
//! foreign key references its own table (a tree: comments and their
//! replies, categories) cannot be: how deep it goes is in the rows. Its
//! descendants are read a level at a time, then deleted deepest level
//! first, each level's own dependants before it, as MySQL checks a foreign
//! key at each row a statement deletes (tests/models.rs,
//! `recursive_delete_of_a_tree`).

use std::collections::VecDeque;

use foldhash::{HashSet, HashSetExt};
use sea_query::{Cond, Condition, Expr, ExprTrait, Query};

use crate::error::Result;
use crate::model::prefetch::{CHUNK, Key, key};
use crate::model::query::row_lock;
use crate::model::sql::{Dialect, to_sea};
use crate::model::{ForeignKey, Model, ModelMeta};
use crate::placeholders::max_values;
use crate::plan::{Action, Atomically, Plan, Reply, Step, replayed};
use crate::statement::Stmt;
use crate::value::Value;

/// Deletes one row; with `recursive`, first its dependants: rows whose
/// foreign key is nullable get it set to NULL unless `delete_nullable`, the
/// others are deleted, deepest first. More than one statement is all or
/// nothing ([`Atomically`]).
pub(super) fn delete<M: Model>(
    d: Dialect,
    model: &M,
    recursive: bool,
    delete_nullable: bool,
) -> Atomically<Clearing> {
    let rows = crate::model::key::filter::<M>(crate::model::key::of(model)).cond();
    let mut work = VecDeque::new();
    if recursive {
        dependants(
            d,
            M::META,
            rows.clone(),
            delete_nullable,
            false,
            &mut Vec::new(),
            &mut work,
        );
    }
    let mut q = Query::delete();
    q.from_table(M::META.table).cond_where(rows);
    work.push_back(Work::Run(d.query(&q)));
    // A tree's statements are found as it runs: it counts as several.
    let statements = match work.iter().any(|w| matches!(w, Work::Tree(_))) {
        true => 2,
        false => work.len(),
    };
    let plan = Clearing {
        d,
        delete_nullable,
        work,
        reading: None,
        last: 0,
    };
    Atomically::new(d.kind, d.in_tx, plan, statements)
}

/// What a delete runs, in order.
enum Work {
    /// A statement, for its count of rows changed.
    Run(Stmt),
    /// A tree's descendants to find and clear.
    Tree(Tree),
}

/// Appends, for every dependant of the rows of `parent` matching `rows`,
/// what clears it, deepest first. `level`: the rows are a level of a tree
/// being cleared, whose descendants are gone already.
fn dependants(
    d: Dialect,
    parent: &'static ModelMeta,
    rows: Condition,
    delete_nullable: bool,
    level: bool,
    path: &mut Vec<&'static str>,
    out: &mut VecDeque<Work>,
) {
    if path.contains(&parent.table) {
        return; // a cycle of foreign keys through other tables: the first visit handles it
    }
    let above = path.clone();
    path.push(parent.table);
    let mut follows = Vec::new();
    for fk in parent.dependents() {
        let child = fk.model;
        let nulled = fk.nullable() && !delete_nullable;
        if child.table == parent.table && !nulled {
            if !level {
                follows.push(fk);
            }
            continue;
        }
        let mut parent_keys = Query::select();
        parent_keys
            .columns(parent.key_columns().map(|c| c.name))
            .from(parent.table)
            .cond_where(rows.clone());
        // `(a, b) IN (SELECT x, y …)` for a key of two columns: a row value
        // every backend reads (tests/composite_keys.rs, the recursive delete).
        let child_rows = Cond::all().add(columns(&fk).in_subquery(parent_keys));
        if nulled {
            let mut q = Query::update();
            q.table(child.table);
            for c in fk.from_columns() {
                q.value(c.name, Expr::val(to_sea(Value::Null)));
            }
            q.cond_where(child_rows);
            out.push_back(Work::Run(d.query(&q)));
        } else {
            dependants(
                d,
                child,
                child_rows.clone(),
                delete_nullable,
                false,
                path,
                out,
            );
            let mut q = Query::delete();
            q.from_table(child.table).cond_where(child_rows);
            out.push_back(Work::Run(d.query(&q)));
        }
    }
    if !follows.is_empty() {
        out.push_back(Work::Tree(Tree::new(d, parent, follows, rows, above)));
    }
    path.pop();
}

/// A foreign key's columns, a row value if there are several.
fn columns(fk: &ForeignKey) -> Expr {
    let mut from: Vec<Expr> = fk.from_columns().map(|c| Expr::col(c.name)).collect();
    match from.len() {
        1 => from.remove(0),
        _ => Expr::tuple(from),
    }
}

/// The descendants of the rows of a model matching `rows` through its
/// foreign keys to its own table (`follows`), which are deleted after
/// them by whoever asked. Read a level at a time (a key met again, as a
/// cycle in the rows would, is not followed twice).
struct Tree {
    meta: &'static ModelMeta,
    follows: Vec<ForeignKey>,
    rows: Condition,
    /// The tables above the model, for its levels' dependants.
    above: Vec<&'static str>,
    /// The rows' own keys are asked for.
    asked: bool,
    /// Every level's keys, one key's values after another: the rows' own
    /// first, then their children, and so on.
    levels: Vec<Vec<Value>>,
    /// The level whose children are being read, and how many of its keys
    /// have been asked about.
    reading: usize,
    at: usize,
    /// The next level, as its rows arrive.
    found: Vec<Value>,
    seen: HashSet<Key>,
    /// Keys a statement names at most, under the backend's limit on bound
    /// values.
    chunk: usize,
}

impl Tree {
    fn new(
        d: Dialect,
        meta: &'static ModelMeta,
        follows: Vec<ForeignKey>,
        rows: Condition,
        above: Vec<&'static str>,
    ) -> Self {
        let width = meta.key.len().max(1);
        let chunk = (max_values(d.kind) / (width * follows.len())).clamp(1, CHUNK);
        Tree {
            meta,
            follows,
            rows,
            above,
            asked: false,
            levels: Vec::new(),
            reading: 0,
            at: 0,
            found: Vec::new(),
            seen: HashSet::new(),
            chunk,
        }
    }

    fn width(&self) -> usize {
        self.meta.key.len().max(1)
    }

    /// The keys of a locking read (the rows are to be deleted: on MySQL,
    /// rows committed after a transaction's snapshot are seen, and none
    /// changes before the delete).
    fn select(&self, d: Dialect, rows: Condition) -> Stmt {
        let mut q = Query::select();
        q.columns(self.meta.key_columns().map(|c| c.name))
            .from(self.meta.table)
            .cond_where(rows);
        let mut stmt = d.query(&q);
        stmt.sql.push_str(row_lock(d.kind, true));
        stmt
    }

    /// The next read, or `None` once a level has no new rows.
    fn next_read(&mut self, d: Dialect) -> Option<Stmt> {
        if !self.asked {
            self.asked = true;
            return Some(self.select(d, self.rows.clone()));
        }
        let width = self.width();
        loop {
            if let Some(level) = self.levels.get(self.reading) {
                let keys = level.len() / width;
                if self.at < keys {
                    let n = self.chunk.min(keys - self.at);
                    let part = &level[self.at * width..(self.at + n) * width];
                    self.at += n;
                    let mut children = Cond::any();
                    for fk in &self.follows {
                        let names: Vec<&'static str> = fk.from_columns().map(|c| c.name).collect();
                        let part = part.to_vec();
                        children =
                            children.add(crate::model::key::is_in(self.meta.table, &names, part));
                    }
                    return Some(self.select(d, children));
                }
                self.reading += 1;
                self.at = 0;
            }
            if self.found.is_empty() {
                return None;
            }
            self.levels.push(std::mem::take(&mut self.found));
        }
    }

    /// Takes a read's keys: those not seen before join the next level.
    fn take(&mut self, rows: Vec<crate::row::Row>) -> Result<()> {
        let width = self.width();
        for row in rows {
            let values = (0..width)
                .map(|i| row.get::<Value>(i))
                .collect::<Result<Vec<Value>>>()?;
            let seen = match width {
                1 => key(values[0].clone()),
                _ => values
                    .iter()
                    .map(|v| key(v.clone()))
                    .collect::<Option<Vec<Key>>>()
                    .map(Key::Tuple),
            };
            if seen.is_some_and(|k| self.seen.insert(k)) {
                self.found.extend(values);
            }
        }
        Ok(())
    }

    /// The statements that clear the descendants, deepest level first:
    /// each level's dependants, then the level.
    fn clearing(mut self, d: Dialect, delete_nullable: bool) -> VecDeque<Work> {
        let width = self.width();
        let names: Vec<&'static str> = self.meta.key_columns().map(|c| c.name).collect();
        let mut out = VecDeque::new();
        for level in self.levels.iter().skip(1).rev() {
            for part in level.chunks(self.chunk * width) {
                let rows = Cond::all().add(crate::model::key::is_in(
                    self.meta.table,
                    &names,
                    part.to_vec(),
                ));
                let path = &mut self.above;
                dependants(
                    d,
                    self.meta,
                    rows.clone(),
                    delete_nullable,
                    true,
                    path,
                    &mut out,
                );
                let mut q = Query::delete();
                q.from_table(self.meta.table).cond_where(rows);
                out.push_back(Work::Run(d.query(&q)));
            }
        }
        out
    }
}

/// A delete's statements and trees, run in order; the output is the rows
/// the last statement (the row's own delete) deleted.
pub(super) struct Clearing {
    d: Dialect,
    delete_nullable: bool,
    work: VecDeque<Work>,
    /// The tree whose read is out.
    reading: Option<Tree>,
    last: u64,
}

impl Plan for Clearing {
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        match reply.transpose()? {
            None => {}
            Some(Reply::Done(done)) => self.last = done.rows_affected,
            Some(Reply::Rows(rows)) => self.reading.as_mut().ok_or_else(replayed)?.take(rows)?,
        }
        loop {
            if let Some(tree) = &mut self.reading {
                if let Some(read) = tree.next_read(self.d) {
                    return Ok(Step::Run(Action::Query(read)));
                }
                let tree = self.reading.take().ok_or_else(replayed)?;
                for w in tree
                    .clearing(self.d, self.delete_nullable)
                    .into_iter()
                    .rev()
                {
                    self.work.push_front(w);
                }
            }
            match self.work.pop_front() {
                Some(Work::Run(stmt)) => return Ok(Step::Run(Action::Execute(stmt))),
                Some(Work::Tree(tree)) => self.reading = Some(tree),
                None => return Ok(Step::Done(self.last)),
            }
        }
    }
}
