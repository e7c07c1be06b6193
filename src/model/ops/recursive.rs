//! `delete` and the recursive delete: a row's dependants, found through the
//! registered foreign keys, cleared before the row.
//!
//! Most dependants are reached by statements written before anything runs,
//! each level selected by a sub-query on the level above. A model whose
//! foreign key references its own table (a tree: comments and their
//! replies, categories) cannot be: how deep it goes is in the rows. Its
//! descendants are read a level at a time, then deleted in layers, rows no
//! other row references first, each layer's own dependants before it, as
//! MySQL checks a foreign key at each row a statement deletes
//! (tests/models.rs, `recursive_delete_of_a_tree`: a tree of folders under
//! each node of a tree).

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt};
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
    path.pop();
    if !follows.is_empty() {
        // The tables above this one: its rows' dependants are cleared from
        // there when the tree's rows are known.
        out.push_back(Work::Tree(Tree::new(
            d,
            parent,
            follows,
            rows,
            path.clone(),
        )));
    }
}

/// A foreign key's columns, a row value if there are several.
fn columns(fk: &ForeignKey) -> Expr {
    let mut from: Vec<Expr> = fk.from_columns().map(|c| Expr::col(c.name)).collect();
    match from.len() {
        1 => from.remove(0),
        _ => Expr::tuple(from),
    }
}

/// The rows of a model matching `rows` and their descendants through its
/// foreign keys to its own table (`follows`). Read a level at a time, each
/// row with the keys it references (a key met again, as a cycle in the
/// rows would, is not followed twice); then deleted in layers, each of the
/// rows no row left references, so that no delete meets a parent before
/// its child: MySQL checks a foreign key at each row a statement deletes.
/// The rows matching `rows` themselves are deleted here too when they came
/// from a level above (several of them may be parent and child: a user's
/// folders), and left to the caller's own delete at the top (its count is
/// the call's result; there they are the one row being deleted).
struct Tree {
    meta: &'static ModelMeta,
    follows: Vec<ForeignKey>,
    rows: Condition,
    /// The tables above the model, for its rows' dependants.
    above: Vec<&'static str>,
    /// The rows' own keys are asked for.
    asked: bool,
    /// Every row found, in the order found: the rows matching `rows`
    /// first (`roots` of them).
    found: Vec<Found>,
    roots: Option<usize>,
    /// The index in `found` of each key.
    seen: HashMap<Key, usize>,
    /// The rows whose children are being read (`found[reading..level_end]`),
    /// and how many of them have been asked about.
    reading: usize,
    level_end: usize,
    /// Keys a statement names at most, under the backend's limit on bound
    /// values.
    chunk: usize,
}

/// A row of a [`Tree`]: its key's values and the keys it references.
struct Found {
    values: Vec<Value>,
    parents: Vec<Key>,
}

/// The hashable form of a key's values; `None` if one is NULL.
fn key_of(values: &[Value]) -> Option<Key> {
    match values {
        [one] => key(one.clone()),
        many => many
            .iter()
            .map(|v| key(v.clone()))
            .collect::<Option<Vec<Key>>>()
            .map(Key::Tuple),
    }
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
            found: Vec::new(),
            roots: None,
            seen: HashMap::new(),
            reading: 0,
            level_end: 0,
            chunk,
        }
    }

    fn width(&self) -> usize {
        self.meta.key.len().max(1)
    }

    /// The rows' keys and the keys they reference, by a locking read (the
    /// rows are to be deleted: on MySQL, rows committed after a
    /// transaction's snapshot are seen, and none changes before the
    /// delete).
    fn select(&self, d: Dialect, rows: Condition) -> Stmt {
        let mut q = Query::select();
        q.columns(self.meta.key_columns().map(|c| c.name));
        for fk in &self.follows {
            q.columns(fk.from_columns().map(|c| c.name));
        }
        q.from(self.meta.table).cond_where(rows);
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
        if self.roots.is_none() {
            // The rows matching `rows` are in: the first level.
            self.roots = Some(self.found.len());
            self.level_end = self.found.len();
        }
        loop {
            if self.reading < self.level_end {
                let n = self.chunk.min(self.level_end - self.reading);
                let keys: Vec<Value> = self.found[self.reading..self.reading + n]
                    .iter()
                    .flat_map(|f| f.values.iter().cloned())
                    .collect();
                self.reading += n;
                let mut children = Cond::any();
                for fk in &self.follows {
                    let names: Vec<&'static str> = fk.from_columns().map(|c| c.name).collect();
                    let part = crate::model::key::is_in(self.meta.table, &names, keys.clone());
                    children = children.add(part);
                }
                return Some(self.select(d, children));
            }
            // The level's children are all in: they are the next level.
            if self.found.len() == self.level_end {
                return None;
            }
            self.level_end = self.found.len();
        }
    }

    /// Takes a read's rows: those not seen before are found.
    fn take(&mut self, rows: Vec<crate::row::Row>) -> Result<()> {
        let width = self.width();
        for row in rows {
            let mut at = 0;
            let mut next = |n: usize| -> Result<Vec<Value>> {
                let values = (at..at + n).map(|i| row.get::<Value>(i)).collect();
                at += n;
                values
            };
            let values = next(width)?;
            let mut parents = Vec::new();
            for fk in &self.follows {
                parents.extend(key_of(&next(fk.columns.len())?));
            }
            let Some(k) = key_of(&values) else {
                continue;
            };
            if !self.seen.contains_key(&k) {
                self.seen.insert(k, self.found.len());
                self.found.push(Found { values, parents });
            }
        }
        Ok(())
    }

    /// The statements that delete the rows in layers, those no other row
    /// references first: each layer's dependants, then the layer. A cycle
    /// in the rows leaves rows that are all referenced: they go last, in one
    /// statement, which PostgreSQL and SQLite take (they check at the
    /// statement's end) and MySQL refuses.
    fn clearing(mut self, d: Dialect, delete_nullable: bool) -> VecDeque<Work> {
        let n = self.found.len();
        let roots = self.roots.unwrap_or(n);
        // The rows each row references among these, and how many of these
        // reference each.
        let mut referenced_by = vec![0usize; n];
        let mut parents_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, f) in self.found.iter().enumerate() {
            for p in &f.parents {
                if let Some(&j) = self.seen.get(p)
                    && j != i
                {
                    referenced_by[j] += 1;
                    parents_of[i].push(j);
                }
            }
        }
        let mut layers: Vec<Vec<usize>> = Vec::new();
        let mut done = vec![false; n];
        let mut free: Vec<usize> = (0..n).filter(|&i| referenced_by[i] == 0).collect();
        while !free.is_empty() {
            let mut next = Vec::new();
            for &i in &free {
                done[i] = true;
                for &j in &parents_of[i] {
                    referenced_by[j] -= 1;
                    if referenced_by[j] == 0 {
                        next.push(j);
                    }
                }
            }
            layers.push(std::mem::replace(&mut free, next));
        }
        let cycle: Vec<usize> = (0..n).filter(|&i| !done[i]).collect();
        if !cycle.is_empty() {
            layers.push(cycle);
        }
        // At the top, the caller deletes the rows matching `rows`.
        let nested = !self.above.is_empty();
        let ours = |i: &usize| nested || *i >= roots;
        let names: Vec<&'static str> = self.meta.key_columns().map(|c| c.name).collect();
        let mut out = VecDeque::new();
        for layer in layers {
            let layer: Vec<usize> = layer.into_iter().filter(ours).collect();
            for part in layer.chunks(self.chunk) {
                let keys: Vec<Value> = part
                    .iter()
                    .flat_map(|&i| self.found[i].values.iter().cloned())
                    .collect();
                let rows = Cond::all().add(crate::model::key::is_in(self.meta.table, &names, keys));
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
