//! The plans of the schema changes and introspection calls
//! (`src/model/alter.rs` writes their SQL): one statement where the backend
//! changes the schema in place; a read, then the change, where MySQL's
//! `MODIFY` must repeat a column's type; SQLite's rebuild of a table, in a
//! transaction (or a savepoint inside the caller's), with foreign keys off
//! around it where other tables reference the table (SQLite's procedure).

use std::collections::VecDeque;

use crate::config::BackendKind;
use crate::error::{Error, ErrorKind, Result};
use crate::model::alter::{self, ColumnInfo, IndexInfo};
use crate::model::rebuild::{Change, Rebuild};
use crate::model::sql::Dialect;
use crate::model::{ColumnOf, Model};
use crate::plan::{Action, One, Plan, Reply, Step, either, replayed};
use crate::row::Row;
use crate::statement::Stmt;

/// One statement, run as it is.
fn run(stmt: Stmt) -> Guarded {
    Guarded::reads_then(Vec::new(), true, move |_, _| Ok(vec![Todo::Run(stmt)]))
}

/// A plan that fails with `e` before any I/O.
fn fail(e: Error) -> Guarded {
    Guarded {
        failed: Some(e),
        ..Guarded::reads_then(Vec::new(), true, |_, _| Err(replayed()))
    }
}

pub(super) fn add_column<M: Model>(d: Dialect, column: &dyn ColumnOf<M>) -> Guarded {
    match alter::add_column(d, M::META, column.index()) {
        Ok(s) => run(s),
        Err(e) => fail(e),
    }
}

pub(super) fn drop_column(d: Dialect, table: &str, column: &str) -> Guarded {
    match d.kind {
        BackendKind::Sqlite => rebuild(d, table, Change::DropColumn(column.to_owned())),
        kind => run(alter::drop_column(kind, table, column)),
    }
}

pub(super) fn rename_column(d: Dialect, table: &str, old: &str, new: &str) -> Guarded {
    run(alter::rename_column(d.kind, table, old, new))
}

pub(super) fn rename_table(d: Dialect, old: &str, new: &str) -> Guarded {
    run(alter::rename_table(d.kind, old, new))
}

pub(super) fn add_index(d: Dialect, table: &str, columns: &[&str], unique: bool) -> Guarded {
    match alter::add_index(d.kind, table, columns, unique) {
        Ok(s) => run(s),
        Err(e) => fail(e),
    }
}

pub(super) fn drop_index(d: Dialect, table: &str, name: &str) -> Guarded {
    run(alter::drop_index(d.kind, table, name))
}

pub(super) fn set_not_null(d: Dialect, table: &str, column: &str, not_null: bool) -> Guarded {
    match d.kind {
        BackendKind::Postgres => run(alter::pg_not_null(table, column, not_null)),
        BackendKind::Mysql => {
            let (t, c) = (table.to_owned(), column.to_owned());
            Guarded::read_then(alter::mysql_table(table), move |rows| {
                Ok(vec![alter::mysql_not_null(&t, &c, &rows, not_null)?])
            })
        }
        BackendKind::Sqlite => rebuild(d, table, Change::NotNull(column.to_owned(), not_null)),
    }
}

pub(super) fn tables(d: Dialect) -> impl Plan<Output = Vec<String>> + use<> {
    One::new(Action::Query(alter::tables(d.kind)), |r: Reply| {
        r.rows()?.iter().map(|row| row.get(0)).collect()
    })
}

pub(super) fn columns(d: Dialect, table: &str) -> impl Plan<Output = Vec<ColumnInfo>> + use<> {
    One::new(Action::Query(alter::columns(d.kind, table)), |r: Reply| {
        alter::column_infos(r.rows()?)
    })
}

pub(super) fn indexes(d: Dialect, table: &str) -> impl Plan<Output = Vec<IndexInfo>> + use<> {
    One::new(Action::Query(alter::indexes(d.kind, table)), |r: Reply| {
        alter::index_infos(r.rows()?)
    })
}

pub(super) fn sequence_exists(d: Dialect, name: &str) -> impl Plan<Output = bool> + use<> {
    let plan = match d.kind {
        BackendKind::Postgres => Ok(One::new(
            Action::Query(alter::sequence_exists(name)),
            |r: Reply| Ok(!r.rows()?.is_empty()),
        )),
        kind => Err(Error::new(
            ErrorKind::Usage,
            format!("sequence_exists: {kind} has no sequences (PostgreSQL only)"),
        )),
    };
    either(plan)
}

/// SQLite's rebuild of `table` with `change`: the table read, then rebuilt
/// in a transaction of its own (or a savepoint inside the caller's); where
/// other tables reference it, with foreign keys off around the transaction
/// and checked before it commits, which a caller's open transaction cannot
/// allow (a `Usage` error there, before anything changes). Outside a
/// transaction the reads come before `BEGIN IMMEDIATE`, so the table's text
/// is read again under the write lock: changed in between by another
/// connection (a column added), the rebuild stops rather than write the
/// table from the stale text and lose the change.
fn rebuild(d: Dialect, table: &str, change: Change) -> Guarded {
    let r = Rebuild {
        table: table.to_owned(),
        change,
    };
    let reads = r.reads();
    let in_tx = d.in_tx;
    Guarded::reads_then(reads, in_tx, move |rows, plan| {
        let referenced = Rebuild::referenced(&rows)?;
        let body = r.statements(&rows)?.into_iter().map(Todo::Run);
        let bare = |s: &str| Stmt::bare(s.to_owned());
        let run = |s: &str| Todo::Run(bare(s));
        match (in_tx, referenced) {
            (true, true) => Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "SQLite rebuilds {} to change it, with foreign keys off, since other tables \
                     reference it; that cannot happen inside a transaction: run it outside one (a \
                     migration file starting `-- dualdb:no-transaction`, or the database handle)",
                    r.table
                ),
            )),
            (true, false) => {
                plan.undo = vec![
                    bare("ROLLBACK TO SAVEPOINT dualdb_alter"),
                    bare("RELEASE SAVEPOINT dualdb_alter"),
                ];
                let mut all = vec![run("SAVEPOINT dualdb_alter")];
                all.extend(body);
                all.push(run("RELEASE SAVEPOINT dualdb_alter"));
                Ok(all)
            }
            (false, referenced) => {
                let mut all = Vec::new();
                if referenced {
                    all.push(run("PRAGMA foreign_keys = OFF"));
                    plan.restore = Some(bare("PRAGMA foreign_keys = ON"));
                }
                all.push(run("BEGIN IMMEDIATE"));
                all.push(Todo::Refuse(r.changed_since(&rows)?, changed));
                all.extend(body);
                if referenced {
                    all.push(Todo::Refuse(bare("PRAGMA foreign_key_check"), broken_keys));
                }
                all.push(run("COMMIT"));
                if referenced {
                    all.push(run("PRAGMA foreign_keys = ON"));
                }
                plan.undo = vec![bare("ROLLBACK")];
                Ok(all)
            }
        }
    })
}

fn changed() -> Error {
    Error::new(
        ErrorKind::Query,
        "SQLite: the table was changed by another connection while its rebuild read it: \
         nothing was changed; run it again",
    )
}

fn broken_keys() -> Error {
    Error::new(
        ErrorKind::IntegrityViolation,
        "the rebuilt table breaks other tables' foreign keys: nothing was changed",
    )
}

/// One step of a [`Guarded`] plan once its reads are in.
enum Todo {
    /// A statement, run for its count.
    Run(Stmt),
    /// A query whose rows, if any, stop the plan with this error (undone).
    Refuse(Stmt, fn() -> Error),
}

/// What a [`Guarded`] plan does once its reads are in: the statements to
/// run, given the reads' rows, and the plan to set its undo steps on.
type Then = Box<dyn FnOnce(Vec<Vec<Row>>, &mut Undo) -> Result<Vec<Todo>> + Send>;

/// The undo steps of a [`Guarded`] plan.
#[derive(Default)]
struct Undo {
    /// Run, in order, after a statement failed (their own errors dropped).
    undo: Vec<Stmt>,
    /// Run last whether or not the statements failed (foreign keys on).
    restore: Option<Stmt>,
}

/// Reads, then statements that depend on them; on a failure, the undo
/// steps, then the error.
pub(super) struct Guarded {
    /// Bad input, reported before any I/O.
    failed: Option<Error>,
    reads: VecDeque<Stmt>,
    rows: Vec<Vec<Row>>,
    then: Option<Then>,
    todo: VecDeque<Todo>,
    steps: Undo,
    /// Opens a transaction of its own.
    exclusive: bool,
    /// A transaction it opened is open.
    open: bool,
    state: State,
}

enum State {
    Reading,
    Running,
    /// A [`Todo::Refuse`] query was sent: its rows are this error.
    Checking(fn() -> Error),
    Undoing(Error, VecDeque<Stmt>),
    Restoring(Option<Error>),
}

impl Guarded {
    fn reads_then(
        reads: Vec<Stmt>,
        in_tx: bool,
        then: impl FnOnce(Vec<Vec<Row>>, &mut Undo) -> Result<Vec<Todo>> + Send + 'static,
    ) -> Self {
        Guarded {
            failed: None,
            reads: reads.into(),
            rows: Vec::new(),
            then: Some(Box::new(then)),
            todo: VecDeque::new(),
            steps: Undo::default(),
            exclusive: !in_tx,
            open: false,
            state: State::Reading,
        }
    }

    fn read_then(
        read: Stmt,
        then: impl FnOnce(Vec<Row>) -> Result<Vec<Stmt>> + Send + 'static,
    ) -> Self {
        let mut g = Self::reads_then(vec![read], true, move |mut rows, _| {
            let stmts = then(rows.pop().unwrap_or_default())?;
            Ok(stmts.into_iter().map(Todo::Run).collect())
        });
        g.exclusive = false;
        g
    }

    fn next_statement(&mut self) -> Step<()> {
        match self.todo.pop_front() {
            Some(Todo::Refuse(query, error)) => {
                self.state = State::Checking(error);
                Step::Run(Action::Query(query))
            }
            Some(Todo::Run(s)) => {
                let sql: &str = s.sql.as_str();
                if sql == "BEGIN IMMEDIATE" {
                    self.open = true;
                } else if sql == "COMMIT" {
                    self.open = false;
                }
                Step::Run(Action::Execute(s))
            }
            None => Step::Done(()),
        }
    }

    fn failed(&mut self, e: Error) -> Result<Step<()>> {
        let undo: VecDeque<Stmt> = std::mem::take(&mut self.steps.undo).into();
        self.state = State::Undoing(e, undo);
        self.step(None)
    }
}

impl Plan for Guarded {
    type Output = ();
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<()>> {
        match std::mem::replace(&mut self.state, State::Running) {
            State::Reading => {
                if let Some(r) = reply {
                    self.rows.push(r?.rows()?);
                }
                if let Some(read) = self.reads.pop_front() {
                    self.state = State::Reading;
                    return Ok(Step::Run(Action::Query(read)));
                }
                let then = self.then.take().ok_or_else(replayed)?;
                let rows = std::mem::take(&mut self.rows);
                self.todo = then(rows, &mut self.steps)?.into();
                Ok(self.next_statement())
            }
            State::Running => match reply {
                Some(Err(e)) => self.failed(e),
                _ => match self.next_statement() {
                    Step::Done(()) => Ok(Step::Done(())),
                    run => Ok(run),
                },
            },
            State::Checking(error) => match reply.ok_or_else(replayed)?.and_then(Reply::rows) {
                Ok(rows) if rows.is_empty() => Ok(self.next_statement()),
                Ok(_) => self.failed(error()),
                Err(e) => self.failed(e),
            },
            State::Undoing(e, mut undo) => match undo.pop_front() {
                Some(s) => {
                    if s.sql.as_str() == "ROLLBACK" {
                        self.open = false;
                    }
                    self.state = State::Undoing(e, undo);
                    Ok(Step::Run(Action::Execute(s)))
                }
                None => match self.steps.restore.take() {
                    Some(s) => {
                        self.state = State::Restoring(Some(e));
                        Ok(Step::Run(Action::Execute(s)))
                    }
                    None => Err(e),
                },
            },
            State::Restoring(e) => match e {
                Some(e) => Err(e),
                None => Ok(Step::Done(())),
            },
        }
    }
    fn exclusive(&self) -> bool {
        self.exclusive
    }
    /// A transaction it opened and could not close: the connection is
    /// rolled back before it goes back to its pool, or closed.
    fn left_open(&self) -> bool {
        self.open
    }
    fn failed(&mut self) -> Option<Error> {
        self.failed.take()
    }
}
