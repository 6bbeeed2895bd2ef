//! Reading and changing users' statuses.

use std::sync::atomic::Ordering;

use super::engine::{Presence, PresenceError, PresenceResult};
use super::sessions::Session;
use crate::domain::clock::now;
use crate::domain::permissions::allows;
use crate::domain::presence::{self, StatusChange};
use crate::domain::session::{Cause, StatusView};
use crate::store::StoreError;

impl Presence {
    pub async fn status(&self, session: &Session, username: &str) -> PresenceResult<StatusView> {
        let (target, _) = self.viewable(session, username).await?;
        self.view_of(target).await
    }

    /// Changes `username`'s status and commits it; returns the request id.
    pub async fn change_status(
        &self,
        session: &Session,
        username: &str,
        change: StatusChange,
    ) -> PresenceResult<String> {
        let (target, actor) = self.viewable(session, username).await?;
        if !allows(actor.fields.change_statuses, session.user_id, target.id) {
            return Err(PresenceError::Forbidden(format!(
                "You do not have permission to change the status of user {}",
                target.fields.username.as_deref().unwrap_or(username)
            )));
        }
        let catalog = self.store.list_status_messages().await?;
        let allowed = self.allowed_in(&target, &catalog).await?;
        let _guard = self.change_lock(target.id).await;
        self.wait_published(target.id).await?;
        let current = self.store.get_user_status(target.id).await.map_err(|e| match e {
            StoreError::NotFound => PresenceError::UserNotFound(username.to_string()),
            other => other.into(),
        })?;
        let next = presence::apply(&current, change, &catalog, &allowed, now()).map_err(PresenceError::Invalid)?;
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed).to_string();
        let cause =
            Cause { session: session.id.clone(), request: request_id.clone(), username: session.username.clone() };
        // The change and its completion are published as the engine applies the logged change.
        let seq = self.store.save_user_status(&next, Some(&cause)).await.map_err(|e| match e {
            StoreError::NotFound => PresenceError::UserNotFound(username.to_string()),
            other => other.into(),
        })?;
        self.written(target.id, seq);
        Ok(request_id)
    }

    /// Brings a user's `onPhone` in line with their lines' calls; a flip is committed with
    /// `at` (Unix seconds) as `onPhoneChanged` and published like any status change.
    pub async fn refresh_on_phone(&self, user_id: i64, at: i64) -> PresenceResult<()> {
        let _guard = self.change_lock(user_id).await;
        self.wait_published(user_id).await?;
        let on_phone = self.store.user_on_phone(user_id).await?;
        let mut status = match self.store.get_user_status(user_id).await {
            Ok(status) => status,
            Err(StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        if status.on_phone == on_phone {
            return Ok(());
        }
        status.on_phone = on_phone;
        status.on_phone_changed = at;
        match self.store.save_user_status(&status, None).await {
            Ok(seq) => {
                self.written(user_id, seq);
                Ok(())
            }
            Err(StoreError::NotFound) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Before a change of `user_id`: waits until the engine has applied (and published) the
    /// user's last change made here. A change never overtakes the publication of the one
    /// before it, so what the engine reads of the user is never ahead of the event it applies,
    /// while a request does not wait for the publication of other users' changes (see
    /// [`crate::store::EventLog::barrier`]).
    pub(super) async fn wait_published(&self, user_id: i64) -> PresenceResult<()> {
        let last = self.lock_written().get(&user_id).copied();
        match last {
            Some(seq) => self.wait_applied(seq).await,
            None => Ok(()),
        }
    }

    /// Records that event `seq` holds the last change of `user_id` made here.
    pub(super) fn written(&self, user_id: i64, seq: i64) {
        self.lock_written().insert(user_id, seq);
    }

    /// The engine applied the status event `seq` of `user_id`: a later change need not wait
    /// for it.
    pub(super) fn published(&self, user_id: i64, seq: i64) {
        let mut written = self.lock_written();
        if written.get(&user_id).is_some_and(|last| *last <= seq) {
            written.remove(&user_id);
        }
    }

    fn lock_written(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, i64>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}
