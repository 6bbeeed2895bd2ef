//! The status lifecycle's one timer: returns at `until` and scheduled starts and ends, found
//! from the store by time (see [`crate::store::Lifecycle`]), applied one user at a time in
//! their order, each through the store's conditional write and the event log like any change.
//!
//! The timer sleeps until the next transition falls due, or until the log says that time may
//! have moved (a status with an `until`, a schedule added or removed, the catalog changed).
//! Nothing is held per pending transition; on several instances every timer wakes, and the
//! conditional write lets exactly one apply each transition.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::engine::{Presence, PresenceResult};
use super::sessions::Session;
use crate::domain::clock::{now, now_ms};
use crate::domain::presence::Timestamp;
use crate::domain::schedule::{ScheduledStatus, Transition, TransitionKind};
use crate::store::StoreError;

/// Transitions of each kind read at a time.
const BATCH: i64 = 500;
/// Longest sleep without a look at the store (another instance may have added a schedule
/// whose event this one has not applied yet).
const LONGEST_SLEEP: Duration = Duration::from_secs(60);
/// Sleep after a failure, or when something due could not be applied.
const RETRY: Duration = Duration::from_secs(1);
/// Done schedules are kept this long after their end, then forgotten.
const DONE_KEPT: i64 = 30 * 86_400;

impl Presence {
    /// The log says when the next transition falls due may have moved.
    pub(super) fn lifecycle_changed(&self) {
        self.lifecycle.notify_one();
    }

    /// Applies transitions as they fall due, for as long as the server runs; those that fell
    /// due while it was down are applied at once, in order.
    pub async fn run_lifecycle(self: Arc<Self>) {
        let mut last_purge = 0;
        loop {
            let sleep = match self.apply_due().await {
                Ok(Some(next)) => Duration::from_millis(u64::try_from(next * 1000 - now_ms()).unwrap_or(0)),
                Ok(None) => LONGEST_SLEEP,
                Err(err) => {
                    tracing::error!(error = %err, "applying due status transitions failed");
                    RETRY
                }
            };
            if now() - last_purge > 3600 {
                last_purge = now();
                if let Err(err) = self.store.purge_schedules(now() - DONE_KEPT).await {
                    tracing::warn!(error = %err, "forgetting old scheduled statuses failed");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(sleep.min(LONGEST_SLEEP)) => {}
                () = self.lifecycle.notified() => {}
            }
        }
    }

    /// Applies every transition due now; returns when the next one falls due (a second from
    /// now if something due could not be applied).
    pub async fn apply_due(&self) -> PresenceResult<Option<Timestamp>> {
        let mut skipped: HashSet<Transition> = HashSet::new();
        loop {
            let due = self.store.due_transitions(now(), BATCH).await?;
            // A user's first transition only: the next may depend on it (a start before its
            // end), so it is read again after.
            let mut users = HashSet::new();
            let firsts: Vec<_> = due.into_iter().filter(|t| !skipped.contains(t) && users.insert(t.user_id)).collect();
            if firsts.is_empty() {
                break;
            }
            for transition in firsts {
                if !self.apply_transition(&transition).await? {
                    skipped.insert(transition);
                }
            }
        }
        let next = self.store.next_transition().await?;
        Ok(match next {
            Some(at) if at <= now() && !skipped.is_empty() => Some(now() + 1),
            other => other,
        })
    }

    /// Applies one transition after the user's previous change made here is published;
    /// returns whether anything changed.
    async fn apply_transition(&self, transition: &Transition) -> PresenceResult<bool> {
        let _guard = self.change_lock(transition.user_id).await;
        self.wait_published(transition.user_id).await?;
        let applied = self.store.apply_transition(transition).await?;
        if let Some((seq, _)) = &applied {
            self.written(transition.user_id, *seq);
        }
        // A schedule whose start or end changed nothing still moved on.
        Ok(applied.is_some() || !matches!(transition.kind, TransitionKind::Return { .. }))
    }

    /// Deletes a user's schedule; an active one ends first, as if its end were now. `false`
    /// when the user has no such schedule.
    pub async fn delete_schedule(&self, user_id: i64, id: i64) -> PresenceResult<bool> {
        let _guard = self.change_lock(user_id).await;
        self.wait_published(user_id).await?;
        match self.store.delete_schedule(user_id, id, now()).await {
            Ok(Some((seq, _))) => self.written(user_id, seq),
            Ok(None) => {}
            Err(StoreError::NotFound) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
        Ok(true)
    }

    /// A user's pending and active schedules, for a session that may view that user.
    pub async fn upcoming_schedules(
        &self,
        session: &Session,
        username: &str,
    ) -> PresenceResult<(String, Vec<ScheduledStatus>)> {
        let (target, _) = self.viewable(session, username).await?;
        let name = target.fields.username.clone().unwrap_or_else(|| username.to_string());
        Ok((name, self.store.list_schedules(target.id, true).await?))
    }
}
