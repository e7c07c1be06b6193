//! An async connection with the state that decides whether it may go back
//! to its pool: an operation under way, a transaction open.

use crate::backend::AsyncConn;
use crate::error::Result;

/// An async connection and whether an operation on it is under way.
pub(crate) struct AsyncSlot {
    pub(crate) conn: Box<dyn AsyncConn>,
    /// Set when an operation starts and cleared when it finishes; still set
    /// when the pool gets the slot back means the future was dropped mid-way.
    pub(crate) busy: bool,
    /// A transaction is open on it: rolled back before reuse.
    pub(crate) in_tx: bool,
    /// When it was opened, if connections have a maximum lifetime.
    pub(crate) born: Option<std::time::Instant>,
}

impl AsyncSlot {
    /// Rolls back the open transaction; `busy` while the statement runs, so a
    /// cancelled rollback leaves the connection marked for closing.
    pub(crate) async fn roll_back(&mut self) -> Result<()> {
        self.busy = true;
        let out = self
            .conn
            .execute(crate::transaction::rollback_stmt())
            .await
            .map(drop);
        self.busy = false;
        if out.is_ok() {
            self.in_tx = false;
        }
        out
    }
}
