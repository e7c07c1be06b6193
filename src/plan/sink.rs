//! Where a statement's rows go: a connection hands each row to a [`Sink`]
//! as it arrives, and a plan, a collection or a caller's fold takes it.

use std::future::Future;
use std::task::{Context, Poll};

use crate::backend::InPlaceRow;
use crate::error::Result;
use crate::row::Row;

/// Where a statement's rows go, one at a time as they arrive. Each comes in
/// a slot: a sink that keeps the row takes it out; one that only reads it
/// (decoding a model) leaves it there, and the connection may then reuse its
/// buffers for the next row (SQLite copies each row out of its statement).
/// An error from the sink stops the statement and is what it returns.
pub(crate) type RowSink<'s> = &'s mut dyn Sink;

/// What a [`RowSink`] is: any `FnMut(&mut Option<Row>) -> Result<()>`, or a
/// plan's rows (the drivers hand a plan its statement's rows), which may
/// also read a row in place.
pub(crate) trait Sink: Send {
    /// Takes one row (see [`RowSink`]).
    fn row(&mut self, row: &mut Option<Row>) -> Result<()>;

    /// Takes a row read where it lies (a SQLite statement's current row);
    /// `None` if this sink wants it copied into a [`Row`] and handed to
    /// [`row`](Self::row). Only SQLite reads rows in place.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn in_place(&mut self, _row: &mut InPlaceRow<'_>) -> Option<Result<()>> {
        None
    }

    /// How many rows are coming, told before the first where the connection
    /// has them all already ([`feed`]): room can be made for them at once.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    fn size_hint(&mut self, _rows: usize) {}

    /// Whether the sink takes another row now; `Pending` holds the async
    /// drivers' loops before they read the next one, which is a row
    /// stream's backpressure ([`next_row`]). Always ready but for a stream.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The connection has no row ready and is about to wait for one: a row
    /// stream hands over the rows it holds.
    fn pending(&mut self) {}

    /// True for a sink that sets the pace ([`poll_ready`](Self::poll_ready),
    /// [`pending`](Self::pending)): the async drivers read its rows through
    /// [`next_row`], every other sink's as before, without the two calls a
    /// row (benches/instructions, the async 1,000-row selects).
    fn paced(&self) -> bool {
        false
    }
}

/// The next row, polled with `poll` (a driver's read of one row) once
/// `sink` takes rows; `sink` hears when the read has to wait. Every async
/// driver loop reads its rows through it (tests/row_streams.rs): one poll
/// function a row, so that a sink that is always ready (all but a row
/// stream) costs a call a row.
pub(crate) fn next_row<T>(
    sink: RowSink<'_>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> impl Future<Output = Result<T>> {
    std::future::poll_fn(move |cx| {
        match sink.poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let r = poll(cx);
        if r.is_pending() {
            sink.pending();
        }
        r.map(Ok)
    })
}

impl<F: FnMut(&mut Option<Row>) -> Result<()> + Send> Sink for F {
    fn row(&mut self, row: &mut Option<Row>) -> Result<()> {
        self(row)
    }
}

/// A sink that keeps every row in `out`.
pub(crate) fn keep_rows(
    out: &mut Vec<Row>,
) -> impl FnMut(&mut Option<Row>) -> Result<()> + Send + '_ {
    |slot| {
        out.extend(slot.take());
        Ok(())
    }
}

/// Hands rows already in memory to `sink`; their count.
#[cfg(feature = "sqlite")]
pub(crate) fn feed(rows: impl ExactSizeIterator<Item = Row>, sink: RowSink<'_>) -> Result<u64> {
    sink.size_hint(rows.len());
    let mut n = 0;
    for row in rows {
        sink.row(&mut Some(row))?;
        n += 1;
    }
    Ok(n)
}

/// A COPY's plan, as the connection running it sees it: where a COPY IN's
/// data comes from and a COPY OUT's output goes (PostgreSQL's
/// connections only).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) trait CopyIo: Send {
    /// See [`Plan::poll_copy`](super::Plan::poll_copy).
    fn poll_chunk(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<super::CopyChunk>>>;
    /// See [`Plan::copy_out`](super::Plan::copy_out).
    fn chunk_out(&mut self, chunk: &[u8]) -> Result<()>;
}
