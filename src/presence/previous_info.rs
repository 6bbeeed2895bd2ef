//! Previous info (ICWS `user-status-previous-info`): for each status a user has held, the
//! notes and forward number they last had with it. The store keeps the list (triggers on every
//! status write); the engine pushes a session user's own list to the sessions that subscribed
//! to it, whole after subscribing, then the entry each status change alters.

use std::sync::Arc;

use super::engine::{Presence, PresenceResult};
use super::mailbox::Kind;
use super::render;
use super::sessions::Session;
use crate::domain::presence::{PreviousInfo, UserStatus};
use crate::domain::session::Topic;

impl Presence {
    /// `username`'s previous info, in catalog display order (see
    /// [`crate::store::Statuses::previous_info`]), with the view rights of a user status.
    pub async fn previous_info(&self, session: &Session, username: &str) -> PresenceResult<Vec<PreviousInfo>> {
        let (target, _) = self.viewable(session, username).await?;
        Ok(self.store.previous_info(target.id).await?)
    }

    /// Subscribes the session to its own user's previous info (`false`: unsubscribes); the
    /// whole list follows a subscription.
    pub async fn subscribe_previous_info(&self, session: &Arc<Session>, subscribe: bool) -> PresenceResult<()> {
        self.actor_profile(session).await?;
        let topic = if subscribe { Topic::PreviousInfo } else { Topic::NoPreviousInfo };
        self.update_session(session, topic).await
    }

    /// Indexes a session subscribed to its previous info and sends it the whole list, read
    /// from the store. What the user's subscribers were last sent is kept when another session
    /// already follows them (its next delta compares with what it saw), unless `reseed`: a
    /// session rebuilt from its row, when changes may have been missed here.
    pub(super) async fn apply_previous_info_subscription(&self, session: &Arc<Session>, reseed: bool) {
        let user = session.user_id;
        let _guard = self.publication_lock(user).await;
        let list = match self.store.previous_info(user).await {
            Ok(list) => Some(list),
            Err(err) => {
                tracing::error!(error = %err, session = %session.id, "cannot read the previous info of a subscriber");
                None
            }
        };
        {
            let mut index = self.index_mut();
            index.previous_info.entry(user).or_default().insert(session.id.clone());
            if let Some(list) = &list
                && (reseed || !index.previous_info_published.contains_key(&user))
            {
                index.previous_info_published.insert(user, list.clone());
            }
        }
        session.subscriptions().previous_info = true;
        if let Some(list) = list {
            session.mailbox.push(Kind::Other, render::previous_info_message(list, false).into());
        }
    }

    /// A status change was applied: if the entry it makes in its user's previous info differs
    /// from what the user's subscribed sessions were last sent (status, notes or forward
    /// number), pushes them that entry. Compares with what the engine holds: no store read.
    /// Call it holding the user's publication lock.
    pub(super) fn publish_previous_info(&self, status: &UserStatus) {
        let user = status.user_id;
        if !self.index().previous_info.contains_key(&user) {
            return;
        }
        let entry = PreviousInfo::of(status);
        let subscribers: Vec<String> = {
            let mut guard = self.index_mut();
            let index = &mut *guard;
            let Some(ids) = index.previous_info.get(&user) else {
                return;
            };
            let list = index.previous_info_published.entry(user).or_default();
            match list.iter_mut().find(|known| known.status_id == entry.status_id) {
                Some(known) if *known == entry => return,
                Some(known) => known.clone_from(&entry),
                None => list.push(entry.clone()),
            }
            ids.iter().cloned().collect()
        };
        let message: Arc<str> = render::previous_info_message(vec![entry], true).into();
        for session in subscribers.iter().filter_map(|id| self.sessions.get(id)) {
            session.mailbox.push(Kind::Other, message.clone());
        }
    }
}
