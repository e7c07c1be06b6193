//! [`Builder::after_connect`](crate::Builder::after_connect): a backend
//! whose every new connection runs the session setup statements before it
//! is lent, and runs them again after a session's reset (which clears
//! session settings). Only a database with such statements wraps its
//! backend, so the others pay nothing for it (tests/pool_lifetimes.rs).

use std::sync::Arc;

use super::conn::{AsyncConn, Backend, BoxFuture, NotifyConn, SharedConn, SyncConn};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{CopyIn, CopyIo, RowSink};
use crate::row::Row;
use crate::statement::{ExecResult, Stmt};

/// A backend whose connections run `sql` when opened.
pub(crate) struct WithSetup {
    inner: Arc<dyn Backend>,
    sql: Arc<[String]>,
}

impl WithSetup {
    pub(crate) fn wrap(inner: Arc<dyn Backend>, sql: Arc<[String]>) -> Arc<dyn Backend> {
        if sql.is_empty() {
            return inner;
        }
        Arc::new(WithSetup { inner, sql })
    }
}

/// The error of setup statement `i` (counted from 1): named by its number,
/// never its text (a statement may hold a secret).
fn failed(i: usize, e: Error) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!("after_connect statement {} failed: {}", i + 1, e.message()),
    )
    .with_source(e)
}

fn setup_sync(conn: &mut dyn SyncConn, sql: &[String]) -> Result<()> {
    for (i, s) in sql.iter().enumerate() {
        conn.execute(Stmt::new(s, &[])).map_err(|e| failed(i, e))?;
    }
    conn.session_changed()
}

async fn setup_async(conn: &mut dyn AsyncConn, sql: &[String]) -> Result<()> {
    for (i, s) in sql.iter().enumerate() {
        conn.execute(Stmt::new(s, &[]))
            .await
            .map_err(|e| failed(i, e))?;
    }
    conn.session_changed().await
}

impl Backend for WithSetup {
    fn connect_sync(&self) -> Result<Box<dyn SyncConn>> {
        let mut conn = self.inner.connect_sync()?;
        setup_sync(&mut *conn, &self.sql)?;
        Ok(Box::new(SetupSync {
            conn,
            sql: self.sql.clone(),
        }))
    }
    fn connect_async(&self) -> BoxFuture<'_, Result<Box<dyn AsyncConn>>> {
        Box::pin(async move {
            let mut conn = self.inner.connect_async().await?;
            setup_async(&mut *conn, &self.sql).await?;
            Ok(Box::new(SetupAsync {
                conn,
                sql: self.sql.clone(),
            }) as Box<dyn AsyncConn>)
        })
    }
    fn connect_shared(&self) -> Option<BoxFuture<'_, Result<Arc<dyn SharedConn>>>> {
        let connect = self.inner.connect_shared()?;
        Some(Box::pin(async move {
            let conn = connect.await?;
            for (i, s) in self.sql.iter().enumerate() {
                conn.execute(Stmt::new(s, &[]))
                    .await
                    .map_err(|e| failed(i, e))?;
            }
            Ok(conn)
        }))
    }
    fn goes_stale(&self) -> bool {
        self.inner.goes_stale()
    }
    fn connect_may_hang(&self) -> bool {
        self.inner.connect_may_hang()
    }
    fn connect_notify(&self) -> Option<BoxFuture<'_, Result<Box<dyn NotifyConn>>>> {
        let connect = self.inner.connect_notify()?;
        Some(Box::pin(async move {
            let mut conn = connect.await?;
            let mut early = std::collections::VecDeque::new();
            for (i, s) in self.sql.iter().enumerate() {
                conn.run(s, &mut early).await.map_err(|e| failed(i, e))?;
            }
            Ok(conn)
        }))
    }
}

/// A blocking connection that sets its session up again after a reset.
struct SetupSync {
    conn: Box<dyn SyncConn>,
    sql: Arc<[String]>,
}

impl SyncConn for SetupSync {
    fn execute(&mut self, stmt: Stmt) -> Result<ExecResult> {
        self.conn.execute(stmt)
    }
    fn query(&mut self, stmt: &Stmt) -> Result<Vec<Row>> {
        self.conn.query(stmt)
    }
    fn query_rows(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.conn.query_rows(stmt, sink)
    }
    fn query_each(&mut self, stmt: &Stmt, sink: RowSink<'_>) -> Result<u64> {
        self.conn.query_each(stmt, sink)
    }
    fn open_cursor(&mut self, stmt: &Stmt) -> Result<()> {
        self.conn.open_cursor(stmt)
    }
    fn cursor_rows(&mut self, sink: RowSink<'_>, max: usize) -> Result<bool> {
        self.conn.cursor_rows(sink, max)
    }
    fn close_cursor(&mut self) {
        self.conn.close_cursor()
    }
    fn is_usable(&mut self) -> bool {
        self.conn.is_usable()
    }
    fn ping(&mut self) -> Result<()> {
        self.conn.ping()
    }
    fn reset_session(&mut self) -> Result<()> {
        self.conn.reset_session()?;
        setup_sync(&mut *self.conn, &self.sql)
    }
    fn session_changed(&mut self) -> Result<()> {
        self.conn.session_changed()
    }
    fn copy_in(&mut self, copy: CopyIn, io: &mut dyn CopyIo) -> Result<u64> {
        self.conn.copy_in(copy, io)
    }
    fn copy_out(&mut self, stmt: &Stmt, io: &mut dyn CopyIo) -> Result<u64> {
        self.conn.copy_out(stmt, io)
    }
}

/// An async connection that sets its session up again after a reset.
struct SetupAsync {
    conn: Box<dyn AsyncConn>,
    sql: Arc<[String]>,
}

impl AsyncConn for SetupAsync {
    fn execute(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<ExecResult>> {
        self.conn.execute(stmt)
    }
    fn query(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<Vec<Row>>> {
        self.conn.query(stmt)
    }
    fn query_rows<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        self.conn.query_rows(stmt, sink)
    }
    fn query_each<'a>(&'a mut self, stmt: Stmt, sink: RowSink<'a>) -> BoxFuture<'a, Result<u64>> {
        self.conn.query_each(stmt, sink)
    }
    fn open_cursor(&mut self, stmt: Stmt) -> BoxFuture<'_, Result<()>> {
        self.conn.open_cursor(stmt)
    }
    fn poll_cursor(
        &mut self,
        cx: &mut std::task::Context<'_>,
        row: &mut Option<Row>,
    ) -> std::task::Poll<Option<Result<()>>> {
        self.conn.poll_cursor(cx, row)
    }
    fn close_cursor(&mut self) {
        self.conn.close_cursor()
    }
    fn is_usable(&mut self) -> bool {
        self.conn.is_usable()
    }
    fn ping(&mut self) -> BoxFuture<'_, Result<()>> {
        self.conn.ping()
    }
    fn reset_session(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.conn.reset_session().await?;
            setup_async(&mut *self.conn, &self.sql).await
        })
    }
    fn session_changed(&mut self) -> BoxFuture<'_, Result<()>> {
        self.conn.session_changed()
    }
    fn copy_in<'a>(
        &'a mut self,
        copy: CopyIn,
        io: &'a mut dyn CopyIo,
    ) -> BoxFuture<'a, Result<u64>> {
        self.conn.copy_in(copy, io)
    }
    fn copy_out<'a>(
        &'a mut self,
        stmt: Stmt,
        io: &'a mut dyn CopyIo,
    ) -> BoxFuture<'a, Result<u64>> {
        self.conn.copy_out(stmt, io)
    }
}
