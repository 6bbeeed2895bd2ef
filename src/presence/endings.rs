//! The end of sessions: logout, idle expiry, a user deleted or without a CTI profile, the
//! server stopping.

use std::collections::HashSet;
use std::sync::Arc;

use super::engine::{Presence, PresenceResult};
use super::render;
use super::sessions::Session;
use crate::domain::session::EndReason;

impl Presence {
    pub(super) fn forget(&self, session: &Session) {
        let mut index = self.index_mut();
        let subscriptions = session.subscriptions().clone();
        index.unindex_statuses(&subscriptions.statuses, &session.id);
        index.unindex_access(&subscriptions.access, &session.id);
        index.unindex_catalog(&session.id);
        index.unindex_previous_info(session.user_id, &session.id);
    }

    /// Ends one session here: a server-initiated end (`reason`) sends a last message first.
    pub(crate) async fn end_session(&self, id: &str, reason: Option<EndReason>) {
        if let Some(ended) = self.sessions.end(id) {
            self.forget(&ended);
            ended.mailbox.close(reason.map(|r| render::connection_down(r.text(), r.should_reconnect()).into()));
            self.publish_status_locked(ended.user_id).await;
        }
    }

    /// Ends sessions on the server's initiative: each gets a `connectionStateChangeMessage` first.
    pub async fn end_sessions(&self, sessions: Vec<Arc<Session>>, reason: EndReason) {
        let mut users = HashSet::new();
        for session in sessions {
            self.forget(&session);
            session.mailbox.close(Some(render::connection_down(reason.text(), reason.should_reconnect()).into()));
            users.insert(session.user_id);
        }
        for user in users {
            self.publish_status_locked(user).await;
        }
    }

    /// A user was deleted or lost their CTI profile: their sessions end.
    pub async fn user_removed(&self, user_id: i64, reason: EndReason) {
        let sessions = self.sessions.end_user(user_id);
        self.end_sessions(sessions, reason).await;
        if reason == EndReason::UserRemoved {
            let mut index = self.index_mut();
            index.statuses.remove(&user_id);
            index.published.remove(&user_id);
            index.access.remove(&user_id);
            index.access_published.remove(&user_id);
        }
    }

    /// The server is stopping: every event stream gets a last message and closes.
    pub fn shutting_down(&self) {
        let message: Arc<str> = render::connection_down("the server is shutting down", true).into();
        for session in self.sessions.all() {
            session.mailbox.close(Some(message.clone()));
        }
    }

    /// Reports this instance's activity, then ends (on every instance, through the log)
    /// sessions that no instance has seen for longer than the idle timeout; returns how many.
    pub async fn sweep(&self) -> PresenceResult<usize> {
        self.log.touch(&self.sessions.take_touched()).await?;
        Ok(self.log.expire(self.idle_timeout).await?)
    }
}
