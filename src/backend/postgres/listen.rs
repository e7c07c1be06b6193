//! A PostgreSQL connection kept to LISTEN: its I/O is polled by its owner
//! (the [`Listener`](crate::Listener)), not by a task, so notifications
//! reach the owner as the driver reads them and a lost connection shows at
//! the next poll.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use tokio_postgres::AsyncMessage;

use super::client::pg_error;
use super::connect::{AsMessages, Messages, PgBackend};
use crate::backend::{BoxFuture, NotifyConn};
use crate::error::{Error, ErrorKind, Result};
use crate::listen::event::Notification;

pub(super) struct PgNotify {
    /// Kept alive: dropping it would end the connection.
    client: tokio_postgres::Client,
    messages: Messages,
    /// The connection ended (its last message was an error or the end):
    /// the driver must not be polled again.
    ended: bool,
}

impl PgNotify {
    pub(super) async fn connect(backend: &PgBackend) -> Result<PgNotify> {
        let (client, messages) = backend.open_as::<AsMessages>().await?;
        Ok(PgNotify {
            client,
            messages,
            ended: false,
        })
    }
}

/// The message's notification, if it is one; an error if the connection
/// has ended.
fn read(
    message: Option<std::result::Result<AsyncMessage, tokio_postgres::Error>>,
) -> Result<Option<Notification>> {
    match message {
        Some(Ok(AsyncMessage::Notification(n))) => Ok(Some(Notification {
            channel: n.channel().to_owned(),
            payload: n.payload().to_owned(),
            process_id: n.process_id(),
        })),
        // Notices (warnings the server sends unasked) are not for the listener.
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(pg_error(e)),
        None => Err(closed()),
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Connect, "the LISTEN connection was closed")
}

impl NotifyConn for PgNotify {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        into: &'a mut VecDeque<Notification>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let PgNotify {
                client,
                messages,
                ended,
            } = self;
            if *ended {
                return Err(closed());
            }
            let mut done = pin!(client.batch_execute(sql));
            std::future::poll_fn(|cx| {
                // The I/O first: it delivers the statement's reply.
                while let Poll::Ready(message) = messages.as_mut().poll_next(cx) {
                    match read(message) {
                        Ok(Some(n)) => into.push_back(n),
                        Ok(None) => {}
                        Err(e) => {
                            *ended = true;
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                done.as_mut().poll(cx).map_err(pg_error)
            })
            .await
        })
    }

    fn poll_notification(&mut self, cx: &mut Context<'_>) -> Poll<Result<Notification>> {
        if self.ended {
            return Poll::Ready(Err(closed()));
        }
        loop {
            let message = std::task::ready!(self.messages.as_mut().poll_next(cx));
            match read(message) {
                Ok(Some(n)) => return Poll::Ready(Ok(n)),
                Ok(None) => {}
                Err(e) => {
                    self.ended = true;
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}
