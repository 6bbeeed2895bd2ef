//! Subscriptions: requests to follow statuses, the catalog, allowed statuses and the station,
//! and how the engine applies them (on every instance, in log order).

use std::sync::Arc;

use super::engine::{Presence, PresenceResult};
use super::mailbox::Kind;
use super::render;
use super::sessions::Session;
use crate::domain::session::Topic;
use crate::domain::station::StationLogin;
use crate::domain::status::AccessChanges;
use crate::domain::user::User;

/// Most users one subscription may name.
pub const MAX_SUBSCRIBED_USERS: usize = 10_000;

impl Presence {
    /// Resolves usernames to viewable users, in order, without duplicates.
    pub(super) async fn viewable_users(&self, session: &Session, usernames: &[String]) -> PresenceResult<Vec<User>> {
        let mut users: Vec<User> = Vec::with_capacity(usernames.len());
        for name in usernames {
            let (user, _) = self.viewable(session, name).await?;
            if !users.iter().any(|u| u.id == user.id) {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// Replaces the session's user-status subscription; a full snapshot follows.
    pub async fn subscribe_statuses(
        &self,
        session: &Arc<Session>,
        usernames: &[String],
        properties: Option<Vec<String>>,
    ) -> PresenceResult<()> {
        let users = self.viewable_users(session, usernames).await?;
        let users = users.iter().map(|u| u.id).collect();
        self.update_session(session, Topic::Statuses { users, properties }).await
    }

    pub async fn unsubscribe_statuses(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.update_session(session, Topic::NoStatuses).await
    }

    /// Subscribes the session to the catalog; the whole catalog follows.
    pub async fn subscribe_catalog(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.catalog(session).await?;
        self.update_session(session, Topic::Catalog).await
    }

    pub async fn unsubscribe_catalog(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.update_session(session, Topic::NoCatalog).await
    }

    /// Replaces the session's allowed-statuses subscription; the current lists follow.
    pub async fn subscribe_access(&self, session: &Arc<Session>, usernames: &[String]) -> PresenceResult<()> {
        let users = self.viewable_users(session, usernames).await?;
        let users = users.iter().map(|u| u.id).collect();
        self.update_session(session, Topic::Access { users }).await
    }

    pub async fn unsubscribe_access(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.update_session(session, Topic::NoAccess).await
    }

    /// Logs the session in to a station (`None`: logs it out).
    pub async fn set_station(&self, session: &Arc<Session>, station: Option<StationLogin>) -> PresenceResult<()> {
        self.actor_profile(session).await?;
        self.update_session(session, Topic::Station { station }).await
    }

    /// Subscribes the session to its station's state (`false`: unsubscribes); the current
    /// state follows a subscription.
    pub async fn subscribe_station(&self, session: &Arc<Session>, subscribe: bool) -> PresenceResult<()> {
        self.actor_profile(session).await?;
        let topic = if subscribe { Topic::StationState } else { Topic::NoStationState };
        self.update_session(session, topic).await
    }

    /// Applies a session's new subscription or station (on every instance, in log order).
    pub(crate) async fn apply_topic(&self, session: &Arc<Session>, topic: Topic) {
        match topic {
            Topic::Statuses { users, properties } => self.apply_statuses_subscription(session, users, properties).await,
            Topic::NoStatuses => {
                let mut index = self.index_mut();
                let mut subscriptions = session.subscriptions();
                index.unindex_statuses(&subscriptions.statuses, &session.id);
                subscriptions.statuses.clear();
                subscriptions.properties = None;
            }
            Topic::Catalog => self.apply_catalog_subscription(session).await,
            Topic::NoCatalog => {
                self.index_mut().unindex_catalog(&session.id);
                session.subscriptions().catalog = false;
            }
            Topic::Access { users } => self.apply_access_subscription(session, users).await,
            Topic::NoAccess => {
                let mut index = self.index_mut();
                let mut subscriptions = session.subscriptions();
                index.unindex_access(&subscriptions.access, &session.id);
                subscriptions.access.clear();
            }
            Topic::Station { station } => self.apply_station(session, station).await,
            Topic::StationState => {
                session.subscriptions().station = true;
                let current = session.station();
                session.mailbox.push(Kind::Other, render::station_state_message(None, current.as_ref()).into());
            }
            Topic::NoStationState => session.subscriptions().station = false,
            Topic::PreviousInfo => self.apply_previous_info_subscription(session, false).await,
            Topic::NoPreviousInfo => {
                self.index_mut().unindex_previous_info(session.user_id, &session.id);
                session.subscriptions().previous_info = false;
            }
        }
    }

    /// Indexes what a session loaded from the database follows; it gets a fresh full state
    /// of the users it follows rather than deltas this instance may not have seen.
    /// The catalog, the allowed statuses and the previous info it follows come again whole
    /// (`isDelta:false`).
    pub(crate) async fn reindex(&self, session: &Arc<Session>) {
        let subscriptions = session.subscriptions().clone();
        {
            let mut index = self.index_mut();
            for id in &subscriptions.statuses {
                index.statuses.entry(*id).or_default().insert(session.id.clone());
            }
        }
        if subscriptions.catalog {
            self.apply_catalog_subscription(session).await;
        }
        if !subscriptions.access.is_empty() {
            self.apply_access_subscription(session, subscriptions.access.clone()).await;
        }
        if subscriptions.previous_info {
            self.apply_previous_info_subscription(session, true).await;
        }
        if !subscriptions.statuses.is_empty() {
            let users = self.users_by_id(&subscriptions.statuses).await;
            self.remember_published(&users).await;
            session.mailbox.request_snapshot();
        }
    }

    pub(super) async fn users_by_id(&self, ids: &[i64]) -> Vec<User> {
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(user) = self.store.get_user(*id).await {
                users.push(user);
            }
        }
        users
    }

    pub(super) async fn apply_statuses_subscription(
        &self,
        session: &Arc<Session>,
        ids: Vec<i64>,
        properties: Option<Vec<String>>,
    ) {
        let users = self.users_by_id(&ids).await;
        self.remember_published(&users).await;
        let slot = {
            let mut index = self.index_mut();
            let mut subscriptions = session.subscriptions();
            for id in &ids {
                index.statuses.entry(*id).or_default().insert(session.id.clone());
            }
            let dropped: Vec<i64> = subscriptions.statuses.iter().filter(|u| !ids.contains(u)).copied().collect();
            index.unindex_statuses(&dropped, &session.id);
            subscriptions.statuses = ids;
            subscriptions.properties = properties;
            session.mailbox.reserve_snapshot()
        };
        let snapshot = self.snapshot(session).await;
        session.mailbox.fill(slot, snapshot.map(Into::into));
    }

    /// Records the current representation of users nobody subscribed to yet, before a new
    /// subscriber is indexed: its first delta then compares with what its snapshot showed.
    pub(super) async fn remember_published(&self, users: &[User]) {
        let missing: Vec<User> = {
            let index = self.index();
            users.iter().filter(|u| !index.published.contains_key(&u.id)).cloned().collect()
        };
        for user in missing {
            let id = user.id;
            // Under the user's lock: no change of this user is being published meanwhile.
            let _guard = self.publication_lock(id).await;
            if self.index().published.contains_key(&id) {
                continue;
            }
            if let Ok(view) = self.view_of(user).await {
                let full = render::user_status_value(&render::representation(view, &self.server_name), None);
                self.index_mut().published.insert(id, full);
            }
        }
    }

    pub(super) async fn apply_catalog_subscription(&self, session: &Arc<Session>) {
        let _turn = self.publication.lock().await;
        self.index_mut().catalog.insert(session.id.clone());
        session.subscriptions().catalog = true;
        self.publish_catalog(Some(session)).await;
    }

    pub(super) async fn apply_access_subscription(&self, session: &Arc<Session>, ids: Vec<i64>) {
        let users = self.users_by_id(&ids).await;
        let _turn = self.publication.lock().await;
        {
            let mut index = self.index_mut();
            let mut subscriptions = session.subscriptions();
            let dropped: Vec<i64> =
                subscriptions.access.iter().filter(|u| !users.iter().any(|n| n.id == **u)).copied().collect();
            index.unindex_access(&dropped, &session.id);
            for user in &users {
                index.access.entry(user.id).or_default().insert(session.id.clone());
            }
            subscriptions.access = users.iter().map(|u| u.id).collect();
        }
        let lists = self.publish_access(&users, Some(&session.id)).await;
        let full: Vec<(String, AccessChanges)> = lists
            .into_iter()
            .map(|(name, allowed)| (name, AccessChanges { added: allowed, removed: Vec::new() }))
            .collect();
        if !full.is_empty() {
            session.mailbox.push(Kind::Other, render::user_access_message(full, false).into());
        }
    }

    /// Logs a session in to a station (or out): its user's status follows; the session gets
    /// its new effective station and, when subscribed, the station's state change.
    pub(super) async fn apply_station(&self, session: &Arc<Session>, station: Option<StationLogin>) {
        let _guard = self.publication_lock(session.user_id).await;
        let previous = session.set_station(station.clone());
        self.publish_status(session.user_id).await;
        if previous == station {
            return;
        }
        let effective = render::EffectiveStation::of(station.as_ref());
        if render::EffectiveStation::of(previous.as_ref()) != effective {
            session.mailbox.push(Kind::Other, render::effective_station_message(effective).into());
        }
        if session.subscriptions().station {
            let message = render::station_state_message(Some(previous.as_ref()), station.as_ref());
            session.mailbox.push(Kind::Other, message.into());
        }
    }
}
