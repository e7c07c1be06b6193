//! What a [`Listener`](crate::Listener) yields: notifications, and the
//! news that some may have been missed.

/// One `NOTIFY` (or `pg_notify`) received on a channel listened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub(crate) channel: String,
    pub(crate) payload: String,
    pub(crate) process_id: i32,
}

impl Notification {
    /// The channel it was sent on, as the sender named it.
    pub fn channel(&self) -> &str {
        &self.channel
    }
    /// Its payload (empty if none was sent).
    pub fn payload(&self) -> &str {
        &self.payload
    }
    /// The server process of the session that sent it.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }
}

/// What a listener yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenEvent {
    /// A notification on one of the channels.
    Notification(Notification),
    /// The listener's connection was lost; it connected again and listens
    /// to its channels again. Notifications sent while it was down are
    /// lost: read again whatever they would have announced.
    Reconnected,
}
