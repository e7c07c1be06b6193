//! PostgreSQL's COPY on the four handles: `copy_in` (the caller's data in
//! the format its `COPY … FROM STDIN` names), `copy_in_rows` (rows of
//! values into a table's columns, sent in the binary format) and, through
//! the method list, `copy_out`. The blocking half takes iterators, the
//! async half `Stream`s; either is read as it is sent, so a million rows
//! never sit in memory. Each is one plan ([`CopyInPlan`]), so it runs in
//! and out of transactions like any statement; other backends get a
//! `Usage` error before any I/O (tests/copy.rs).

// Only PostgreSQL's connections read the plans' data; without the backend
// the plans exist to fail before any I/O.
#![cfg_attr(not(feature = "postgres"), allow(dead_code))]

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::error::{Error, ErrorKind, Result};
use crate::model::Dialect;
use crate::plan::{Action, CopyChunk, CopyIn, Plan, Reply, Step, either};
use crate::statement::Stmt;
use crate::value::{ToSql, Value};
use crate::{AsyncDb, AsyncTx, BackendKind, SyncDb, SyncTx};

/// A row for [`copy_in_rows`](crate::SyncDb::copy_in_rows): a tuple of up
/// to twelve values of any [`ToSql`] type, or a `Vec<Value>`.
///
/// ```
/// use dualdb::{CopyRow, Value};
/// assert_eq!((1_i64, "a").into_values(), vec![Value::I64(1), Value::Text("a".into())]);
/// ```
pub trait CopyRow {
    /// The row's values, in column order.
    fn into_values(self) -> Vec<Value>;
}

impl CopyRow for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

macro_rules! tuple_rows {
    ($($name:ident)+) => {
        impl<$($name: ToSql),+> CopyRow for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_values(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.to_sql()),+]
            }
        }
    };
}
tuple_rows!(A);
tuple_rows!(A B);
tuple_rows!(A B C);
tuple_rows!(A B C D);
tuple_rows!(A B C D E);
tuple_rows!(A B C D E F);
tuple_rows!(A B C D E F G);
tuple_rows!(A B C D E F G H);
tuple_rows!(A B C D E F G H I);
tuple_rows!(A B C D E F G H I J);
tuple_rows!(A B C D E F G H I J K);
tuple_rows!(A B C D E F G H I J K L);

/// Where a COPY IN's data comes from (read by PostgreSQL's connections
/// only: elsewhere the plan fails before any I/O).
pub(crate) trait Source: Send {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<CopyChunk>>;
}

/// An iterator's items, made chunks by `F`.
pub(crate) struct Items<I, F>(I, F);

impl<I: Iterator + Send, F: FnMut(I::Item) -> CopyChunk + Send> Source for Items<I, F> {
    fn poll(&mut self, _: &mut Context<'_>) -> Poll<Option<CopyChunk>> {
        Poll::Ready(self.0.next().map(&mut self.1))
    }
}

/// A stream's items, made chunks by `F`.
pub(crate) struct Flow<S, F>(Pin<Box<S>>, F);

impl<S: Stream + Send, F: FnMut(S::Item) -> CopyChunk + Send> Source for Flow<S, F> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<CopyChunk>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(&mut self.1))
    }
}

/// A COPY IN: its statement, then its data.
pub(crate) struct CopyInPlan<S> {
    copy: Option<CopyIn>,
    source: S,
}

impl<S: Source> Plan for CopyInPlan<S> {
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        match (reply, self.copy.take()) {
            (None, Some(copy)) => Ok(Step::Run(Action::CopyIn(copy))),
            (Some(r), _) => Ok(Step::Done(r?.done()?.rows_affected)),
            (None, None) => Err(crate::plan::replayed()),
        }
    }
    fn poll_copy(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<CopyChunk>>> {
        self.source.poll(cx).map(|c| c.map(Ok))
    }
    /// Its own connection: a COPY holds the connection's protocol.
    fn exclusive(&self) -> bool {
        true
    }
}

/// A COPY OUT: each chunk to `f`.
pub(crate) struct CopyOutPlan<F> {
    stmt: Option<Stmt>,
    f: F,
}

impl<E, F> Plan for CopyOutPlan<F>
where
    E: Send + Sync + 'static,
    F: FnMut(&[u8]) -> std::result::Result<(), E> + Send,
{
    type Output = u64;
    fn step(&mut self, reply: Option<Result<Reply>>) -> Result<Step<u64>> {
        match (reply, self.stmt.take()) {
            (None, Some(stmt)) => Ok(Step::Run(Action::CopyOut(stmt))),
            (Some(r), _) => Ok(Step::Done(r?.done()?.rows_affected)),
            (None, None) => Err(crate::plan::replayed()),
        }
    }
    fn copy_out(&mut self, chunk: &[u8]) -> Result<()> {
        (self.f)(chunk).map_err(Error::carrying)
    }
    fn exclusive(&self) -> bool {
        true
    }
}

/// The error of COPY on a backend without it.
fn postgres_only(d: Dialect) -> Result<()> {
    match d.kind {
        BackendKind::Postgres => Ok(()),
        kind => Err(Error::new(
            ErrorKind::Usage,
            format!("COPY is PostgreSQL's: on {kind}, use insert_many"),
        )),
    }
}

/// An identifier quoted for PostgreSQL; a table's schema-qualified name
/// (`schema.table`) quoted part by part.
fn quoted(name: &str, dotted: bool) -> Result<String> {
    let parts: Vec<&str> = match dotted {
        true => name.split('.').collect(),
        false => vec![name],
    };
    if parts.iter().any(|p| p.is_empty() || p.contains('\0')) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{name:?} is not a name COPY can take"),
        ));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join("."))
}

pub(crate) fn copy_in<S: Source>(d: Dialect, sql: &str, source: S) -> Result<CopyInPlan<S>> {
    postgres_only(d)?;
    Ok(CopyInPlan {
        copy: Some(CopyIn::Raw(Stmt::new(sql, &[]))),
        source,
    })
}

pub(crate) fn copy_in_rows<S: Source>(
    d: Dialect,
    table: &str,
    columns: &[&str],
    source: S,
) -> Result<CopyInPlan<S>> {
    postgres_only(d)?;
    if columns.is_empty() {
        return Err(Error::new(ErrorKind::Usage, "COPY of no columns"));
    }
    let columns = (columns.iter())
        .map(|c| quoted(c, false))
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    Ok(CopyInPlan {
        copy: Some(CopyIn::Rows {
            table: quoted(table, true)?,
            columns,
        }),
        source,
    })
}

pub(crate) fn copy_out<E, F>(d: Dialect, sql: &str, f: F) -> Result<CopyOutPlan<F>>
where
    E: Send + Sync + 'static,
    F: FnMut(&[u8]) -> std::result::Result<(), E> + Send,
{
    postgres_only(d)?;
    Ok(CopyOutPlan {
        stmt: Some(Stmt::new(sql, &[])),
        f,
    })
}

fn bytes<B: Into<Vec<u8>>>(b: B) -> CopyChunk {
    CopyChunk::Bytes(b.into())
}

fn row<R: CopyRow>(r: R) -> CopyChunk {
    CopyChunk::Row(r.into_values())
}

/// The blocking handles' COPY IN methods.
macro_rules! blocking_copy {
    ($target:ty) => {
        impl $target {
            /// Runs `sql`, a `COPY … FROM STDIN` (PostgreSQL), sending it
            /// `data` as it is read: chunks of the format the statement
            /// names (text, CSV, binary), split anywhere. Returns the rows
            /// stored. A failure part-way stores nothing (the COPY is
            /// aborted); in a transaction, the transaction is then failed
            /// as after any failed statement. Other backends: a `Usage`
            /// error before any I/O.
            ///
            /// ```no_run
            /// # fn f(db: dualdb::Database) -> dualdb::Result<()> {
            /// let lines = (0..1_000_000).map(|i| format!("{i},name {i}\n"));
            /// let n = db.sync().copy_in("COPY people (id, name) FROM STDIN (FORMAT csv)", lines)?;
            /// assert_eq!(n, 1_000_000);
            /// # Ok(()) }
            /// ```
            #[track_caller]
            pub fn copy_in<I, B>(&self, sql: &str, data: I) -> Result<u64>
            where
                I: IntoIterator<Item = B>,
                I::IntoIter: Send,
                B: Into<Vec<u8>>,
            {
                let (scope, d) = self.context();
                let source = Items(data.into_iter(), bytes::<B>);
                self.drive("copy_in", scope, either(copy_in(d, sql, source)))
            }

            /// Stores `rows` in `table`'s `columns` (PostgreSQL's binary
            /// COPY: each value as the column's type takes it, as bound
            /// parameters are). A row is a tuple or a `Vec<Value>`
            /// ([`CopyRow`](crate::CopyRow)) with one value per column.
            /// Returns the rows stored; a bad row stores none. `table` may
            /// be `schema.table`; names are quoted as written. Other
            /// backends: a `Usage` error before any I/O.
            ///
            /// ```no_run
            /// # fn f(db: dualdb::Database) -> dualdb::Result<()> {
            /// let rows = (0..1_000_000_i64).map(|i| (i, format!("name {i}")));
            /// let n = db.sync().copy_in_rows("people", &["id", "name"], rows)?;
            /// assert_eq!(n, 1_000_000);
            /// # Ok(()) }
            /// ```
            #[track_caller]
            pub fn copy_in_rows<I, R>(&self, table: &str, columns: &[&str], rows: I) -> Result<u64>
            where
                I: IntoIterator<Item = R>,
                I::IntoIter: Send,
                R: CopyRow,
            {
                let (scope, d) = self.context();
                let source = Items(rows.into_iter(), row::<R>);
                self.drive(
                    "copy_in_rows",
                    scope,
                    either(copy_in_rows(d, table, columns, source)),
                )
            }
        }
    };
}
blocking_copy!(SyncDb);
blocking_copy!(SyncTx<'_>);

/// The async handles' COPY IN methods.
macro_rules! async_copy {
    ($target:ty) => {
        impl $target {
            /// Runs `sql`, a `COPY … FROM STDIN` (PostgreSQL), sending it
            /// `data` as the stream yields it: chunks of the format the
            /// statement names (text, CSV, binary), split anywhere. Returns
            /// the rows stored. A failure part-way stores nothing (the COPY
            /// is aborted). Other backends: a `Usage` error before any I/O.
            ///
            /// ```no_run
            /// # async fn f(db: dualdb::Database) -> dualdb::Result<()> {
            /// let lines = futures::stream::iter((0..1_000_000).map(|i| format!("{i}\tname {i}\n")));
            /// let n = db.aio().copy_in("COPY people (id, name) FROM STDIN", lines).await?;
            /// assert_eq!(n, 1_000_000);
            /// # Ok(()) }
            /// ```
            pub fn copy_in<S, B>(
                &self,
                sql: &str,
                data: S,
            ) -> impl std::future::Future<Output = Result<u64>> + Send + use<'_, S, B>
            where
                S: Stream<Item = B> + Send,
                B: Into<Vec<u8>>,
            {
                let (scope, d) = self.context();
                let source = Flow(Box::pin(data), bytes::<B>);
                self.drive(scope, either(copy_in(d, sql, source)))
            }

            /// Stores the rows of `rows` in `table`'s `columns`, as the
            /// blocking half's [`copy_in_rows`](crate::SyncDb::copy_in_rows)
            /// does, from a stream.
            ///
            /// ```no_run
            /// # async fn f(db: dualdb::Database) -> dualdb::Result<()> {
            /// let rows = futures::stream::iter((0..1_000_000_i64).map(|i| (i, format!("name {i}"))));
            /// let n = db.aio().copy_in_rows("people", &["id", "name"], rows).await?;
            /// assert_eq!(n, 1_000_000);
            /// # Ok(()) }
            /// ```
            pub fn copy_in_rows<S, R>(
                &self,
                table: &str,
                columns: &[&str],
                rows: S,
            ) -> impl std::future::Future<Output = Result<u64>> + Send + use<'_, S, R>
            where
                S: Stream<Item = R> + Send,
                R: CopyRow,
            {
                let (scope, d) = self.context();
                let source = Flow(Box::pin(rows), row::<R>);
                self.drive(scope, either(copy_in_rows(d, table, columns, source)))
            }
        }
    };
}
async_copy!(AsyncDb);
async_copy!(AsyncTx<'_>);
