//! Grouped commits of status changes, for every backend: whatever queued while the previous
//! group was being written goes into the next transaction, so one commit (one flush to disk)
//! acknowledges many changes. Each change is answered only once its group is committed, with
//! its event in the log. A user's changes never share a group out of order: the presence
//! engine holds the user's lock until its change is answered.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};
use crate::domain::presence::UserStatus;
use crate::domain::session::Cause;

/// Most status changes one group carries: enough to spread a flush over many changes, few
/// enough that a group holds PostgreSQL's event-log lock only briefly.
pub(crate) const MAX_GROUP: usize = 256;
/// Status changes that may wait for a commit; beyond, savers wait for room.
const QUEUE: usize = 8192;

/// A status change waiting for its group.
pub(crate) struct Change {
    pub status: UserStatus,
    /// The request that caused it, for the event log.
    pub cause: Option<Cause>,
    done: oneshot::Sender<StoreResult<i64>>,
}

/// How a backend writes one group.
#[async_trait]
pub(crate) trait WriteGroup: Send + Sync + 'static {
    /// Writes `group` in one transaction; for each change, the number of its event, or `None`
    /// when its user is gone (the change is not written). An error fails the whole group.
    async fn write(&self, group: &[Change]) -> StoreResult<Vec<Option<i64>>>;
}

/// The queue of changes waiting for the next group, and the task writing them.
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Change>,
}

impl GroupCommit {
    /// Starts the task that writes groups with `writer`.
    pub(crate) fn start(writer: impl WriteGroup) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(writer, receiver));
        Self { queue }
    }

    /// Commits `status` with its group; returns the number of its event; `NotFound` if the user
    /// is gone.
    pub(crate) async fn save(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<i64> {
        let (done, outcome) = oneshot::channel();
        let stopped = || StoreError::GroupCommit("the status writer has stopped".into());
        let change = Change { status: status.clone(), cause: cause.cloned(), done };
        self.queue.send(change).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn write_groups(writer: impl WriteGroup, mut queue: mpsc::Receiver<Change>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        match writer.write(&group).await {
            Ok(found) => {
                for (change, found) in group.drain(..).zip(found) {
                    let _ = change.done.send(found.ok_or(StoreError::NotFound));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, changes = group.len(), "a grouped status commit failed");
                let message = err.to_string();
                for change in group.drain(..) {
                    let _ = change.done.send(Err(StoreError::GroupCommit(message.clone())));
                }
            }
        }
    }
}
