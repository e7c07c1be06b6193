//! COPY IN and COPY OUT for both halves. The async half polls its plan for
//! the data as it sends (`CopyIo::poll_chunk`, a caller's `Stream`); the
//! blocking half (`blocking.rs`) takes a batch of the caller's items
//! outside its runtime, then sends them in one runtime entry, and hands
//! COPY OUT's chunks to the caller's closure outside it too, a batch at a
//! time: the caller's code may block as it likes (tests/copy.rs reads and
//! writes both ways).
//!
//! An error (the caller's, a value the column cannot take, the server's)
//! drops the COPY unfinished, which makes tokio-postgres send `CopyFail`:
//! the server rolls the COPY back and the connection stays usable.

use std::future::poll_fn;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;

use super::client::{PgClient, pg_error};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{CopyChunk, CopyIn, CopyIo};

/// A COPY IN under way.
pub(super) enum Writer {
    Raw(Pin<Box<tokio_postgres::CopyInSink<Bytes>>>),
    Rows {
        writer: Pin<Box<BinaryCopyInWriter>>,
        columns: usize,
    },
}

impl Writer {
    /// Sends the COPY statement (for rows, after learning the columns'
    /// types from the table).
    pub(super) async fn start(pg: &PgClient, copy: CopyIn) -> Result<Writer> {
        let client = pg.raw();
        match copy {
            CopyIn::Raw(stmt) => {
                let sink = client.copy_in(stmt.sql.as_str()).await.map_err(pg_error)?;
                Ok(Writer::Raw(Box::pin(sink)))
            }
            CopyIn::Rows { table, columns } => {
                let types = pg
                    .column_types(&format!("SELECT {columns} FROM {table}"))
                    .await?;
                let sql = format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)");
                let sink = client.copy_in(sql.as_str()).await.map_err(pg_error)?;
                Ok(Writer::Rows {
                    columns: types.len(),
                    writer: Box::pin(BinaryCopyInWriter::new(sink, &types)),
                })
            }
        }
    }

    pub(super) async fn write(&mut self, chunk: CopyChunk) -> Result<()> {
        match (self, chunk) {
            (Writer::Raw(sink), CopyChunk::Bytes(bytes)) => {
                poll_fn(|cx| sink.as_mut().poll_ready(cx))
                    .await
                    .map_err(pg_error)?;
                sink.as_mut()
                    .start_send(Bytes::from(bytes))
                    .map_err(pg_error)
            }
            (Writer::Rows { writer, columns }, CopyChunk::Row(values)) => {
                if values.len() != *columns {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!(
                            "a COPY row of {} values for {columns} columns",
                            values.len()
                        ),
                    ));
                }
                let refs: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                writer.as_mut().write(&refs).await.map_err(pg_error)
            }
            _ => Err(Error::new(
                ErrorKind::Usage,
                "COPY data of the wrong form (bytes and rows do not mix)",
            )),
        }
    }

    /// Ends the COPY: the rows the server stored.
    pub(super) async fn finish(self) -> Result<u64> {
        match self {
            Writer::Raw(mut sink) => sink.as_mut().finish().await.map_err(pg_error),
            Writer::Rows { mut writer, .. } => writer.as_mut().finish().await.map_err(pg_error),
        }
    }
}

/// COPY IN on the async half: the data polled from `io` as it is sent.
pub(super) async fn copy_in_async(pg: &PgClient, copy: CopyIn, io: &mut dyn CopyIo) -> Result<u64> {
    let mut writer = Writer::start(pg, copy).await?;
    while let Some(chunk) = poll_fn(|cx| io.poll_chunk(cx)).await {
        writer.write(chunk?).await?;
    }
    writer.finish().await
}

/// COPY OUT on the async half: each chunk handed to `io` as it arrives.
pub(super) async fn copy_out_async(client: &Client, sql: &str, io: &mut dyn CopyIo) -> Result<u64> {
    let mut stream = Box::pin(client.copy_out(sql).await.map_err(pg_error)?);
    let mut bytes = 0;
    while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(pg_error)?;
        bytes += chunk.len() as u64;
        io.chunk_out(&chunk)?;
    }
    Ok(bytes)
}
