//! Presence messaging: subscriptions, fan-out of changes to subscribed sessions, snapshots,
//! and the end of sessions. Fan-out work is proportional to the subscribers of what changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::presence::{Presence, PresenceError, PresenceResult};
use super::replication::Topic;
use crate::domain::station::StationLogin;
use crate::domain::status::{AccessChanges, CatalogChanges, StatusMessage};
use crate::domain::user::User;
use crate::presence::mailbox::Kind;
use crate::presence::sessions::Session;
use crate::presence::wire;
use crate::store::log::SessionWrite;

/// Most users one subscription may name.
pub const MAX_SUBSCRIBED_USERS: usize = 10_000;

/// Who is subscribed to what: session ids by subscribed user, and catalog subscribers; and
/// what was last sent of each, so later messages carry only what changed.
#[derive(Debug, Default)]
pub struct Index {
    statuses: HashMap<i64, HashSet<String>>,
    /// The last representation published for each subscribed user, to send only what changed.
    published: HashMap<i64, serde_json::Value>,
    access: HashMap<i64, HashSet<String>>,
    /// The statuses each user with access subscribers was last shown to allow.
    access_published: HashMap<i64, Vec<String>>,
    catalog: HashSet<String>,
    /// The catalog as catalog subscribers last saw it.
    catalog_published: Option<Vec<StatusMessage>>,
}

impl Index {
    /// Removes a session from the access subscribers of `users`, forgetting what was sent of
    /// users nobody follows any more.
    fn unindex_access(&mut self, users: &[i64], session_id: &str) {
        unindex(&mut self.access, users, session_id);
        for user in users {
            if !self.access.contains_key(user) {
                self.access_published.remove(user);
            }
        }
    }

    fn unindex_catalog(&mut self, session_id: &str) {
        self.catalog.remove(session_id);
        if self.catalog.is_empty() {
            self.catalog_published = None;
        }
    }

    /// Removes a session from the status subscribers of `users`, forgetting the last
    /// representation of users nobody follows any more.
    fn unindex_statuses(&mut self, users: &[i64], session_id: &str) {
        unindex(&mut self.statuses, users, session_id);
        for user in users {
            if !self.statuses.contains_key(user) {
                self.published.remove(user);
            }
        }
    }
}

fn unindex(map: &mut HashMap<i64, HashSet<String>>, users: &[i64], session_id: &str) {
    for user in users {
        if let Some(ids) = map.get_mut(user) {
            ids.remove(session_id);
            if ids.is_empty() {
                map.remove(user);
            }
        }
    }
}

/// Why a session ends on the server's initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Idle,
    UserRemoved,
    ProfileRemoved,
}

impl EndReason {
    /// Whether the client may log in again at once.
    fn should_reconnect(self) -> bool {
        self == Self::Idle
    }

    fn text(self) -> &'static str {
        match self {
            Self::Idle => "the session was idle for too long",
            Self::UserRemoved => "the user was deleted",
            Self::ProfileRemoved => "the user's CTI profile was removed",
        }
    }
}

impl Presence {
    fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves usernames to viewable users, in order, without duplicates.
    async fn viewable_users(&self, session: &Session, usernames: &[String]) -> PresenceResult<Vec<User>> {
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
                session.mailbox.push(Kind::Other, wire::station_state_message(None, current.as_ref()).into());
            }
            Topic::NoStationState => session.subscriptions().station = false,
        }
    }

    /// Indexes what a session loaded from the database follows; it gets a fresh full state
    /// of the users it follows rather than deltas this instance may not have seen.
    /// The catalog and the allowed statuses it follows come again whole (`isDelta:false`).
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
        if !subscriptions.statuses.is_empty() {
            let users = self.users_by_id(&subscriptions.statuses).await;
            self.remember_published(&users).await;
            session.mailbox.request_snapshot();
        }
    }

    async fn users_by_id(&self, ids: &[i64]) -> Vec<User> {
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(user) = self.store.get_user(*id).await {
                users.push(user);
            }
        }
        users
    }

    async fn apply_statuses_subscription(
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
    async fn remember_published(&self, users: &[User]) {
        let missing: Vec<User> = {
            let index = self.index();
            users.iter().filter(|u| !index.published.contains_key(&u.id)).cloned().collect()
        };
        for user in missing {
            let id = user.id;
            // Under the user's lock: no change of this user is being published meanwhile.
            let _guard = self.user_lock(id).await;
            if self.index().published.contains_key(&id) {
                continue;
            }
            if let Ok(view) = self.view_of(user).await {
                let full = wire::user_status_value(&wire::representation(view, &self.server_name), None);
                self.index_mut().published.insert(id, full);
            }
        }
    }

    pub async fn unsubscribe_statuses(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.update_session(session, Topic::NoStatuses).await
    }

    /// A full `userStatusMessage` of the session's subscribed users (`None` if it has none).
    pub async fn snapshot(&self, session: &Session) -> Option<String> {
        let (users, properties) = {
            let subscriptions = session.subscriptions();
            (subscriptions.statuses.clone(), subscriptions.properties.clone())
        };
        if users.is_empty() {
            return None;
        }
        let view_all = session.view_all.load(Ordering::Relaxed);
        let mut list = Vec::with_capacity(users.len());
        for id in users.into_iter().filter(|id| view_all || *id == session.user_id) {
            let Ok(user) = self.store.get_user(id).await else {
                continue;
            };
            if let Ok(view) = self.view_of(user).await {
                let full = wire::user_status_value(&wire::representation(view, &self.server_name), None);
                let value = properties.as_deref().map_or_else(|| full.clone(), |p| wire::restrict(&full, p));
                self.index_mut().published.entry(id).or_insert(full);
                list.push(value);
            }
        }
        Some(wire::user_status_message(&list, false))
    }

    /// Pushes `user_id`'s current status to its subscribers. Call it holding the user's lock.
    pub(super) async fn publish_status(&self, user_id: i64) {
        let (subscribers, tracked): (Vec<String>, bool) = {
            let index = self.index();
            let subscribers = index.statuses.get(&user_id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default();
            (subscribers, index.published.contains_key(&user_id))
        };
        // A tracked user's last representation is kept exact even between subscribers, so a
        // later comparison never rests on a stale state.
        if subscribers.is_empty() && !tracked {
            return;
        }
        let view = match self.store.get_user(user_id).await {
            Ok(user) => self.view_of(user).await,
            Err(err) => Err(PresenceError::from(err)),
        };
        let Ok(view) = view else {
            return;
        };
        let body = wire::representation(view, &self.server_name);
        let current = wire::user_status_value(&body, None);
        let previous = self.index_mut().published.insert(user_id, current.clone());
        if previous.as_ref() == Some(&current) {
            return;
        }
        let full: Arc<str> = wire::user_status_message(&[current], true).into();
        let mut restricted: HashMap<Vec<String>, Option<Arc<str>>> = HashMap::new();
        for id in subscribers {
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            if session.user_id != user_id && !session.view_all.load(Ordering::Relaxed) {
                continue;
            }
            let message = match &session.subscriptions().properties {
                None => Some(full.clone()),
                // Sessions restricted to the same members share one message.
                Some(props) => match restricted.get(props.as_slice()) {
                    Some(message) => message.clone(),
                    None => {
                        let value = wire::user_status_value(&body, Some(props));
                        let before = previous.as_ref().map(|p| wire::restrict(p, props));
                        let message: Option<Arc<str>> =
                            (before.as_ref() != Some(&value)).then(|| wire::user_status_message(&[value], true).into());
                        restricted.insert(props.clone(), message.clone());
                        message
                    }
                },
            };
            if let Some(message) = message {
                session.mailbox.push(Kind::UserStatus(user_id), message);
            }
        }
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

    async fn apply_catalog_subscription(&self, session: &Arc<Session>) {
        let _turn = self.publication.lock().await;
        self.index_mut().catalog.insert(session.id.clone());
        session.subscriptions().catalog = true;
        self.publish_catalog(Some(session)).await;
    }

    async fn apply_access_subscription(&self, session: &Arc<Session>, ids: Vec<i64>) {
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
            session.mailbox.push(Kind::Other, wire::user_access_message(full, false).into());
        }
    }

    /// Reads the statuses each of `users` may select now and sends their access subscribers
    /// (but `newcomer`) the ids added and removed since they were last sent, one message per
    /// session; returns each user's name and list. Call it holding the publication turn.
    async fn publish_access(&self, users: &[User], newcomer: Option<&str>) -> Vec<(String, Vec<String>)> {
        let Ok(catalog) = self.store.list_status_messages().await else {
            return Vec::new();
        };
        let mut lists = Vec::with_capacity(users.len());
        let mut deltas: HashMap<String, Vec<(String, AccessChanges)>> = HashMap::new();
        for user in users {
            let Ok(allowed) = self.allowed_in(user, &catalog).await else {
                continue;
            };
            let name = user.fields.username.clone().unwrap_or_default();
            let (before, subscribers) = {
                let mut index = self.index_mut();
                let subscribers: Vec<String> =
                    index.access.get(&user.id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default();
                let before =
                    if subscribers.is_empty() { None } else { index.access_published.insert(user.id, allowed.clone()) };
                (before, subscribers)
            };
            if let Some(changes) = before.map(|b| AccessChanges::between(&b, &allowed)).filter(|c| !c.is_empty()) {
                for id in subscribers.into_iter().filter(|id| newcomer != Some(id.as_str())) {
                    deltas.entry(id).or_default().push((name.clone(), changes.clone()));
                }
            }
            lists.push((name, allowed));
        }
        for (id, changes) in deltas {
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            let visible: Vec<(String, AccessChanges)> = if session.view_all.load(Ordering::Relaxed) {
                changes
            } else {
                changes.into_iter().filter(|(name, _)| name.eq_ignore_ascii_case(&session.username)).collect()
            };
            if !visible.is_empty() {
                session.mailbox.push(Kind::Other, wire::user_access_message(visible, true).into());
            }
        }
        lists
    }

    /// Publishes the catalog as it is now: catalog subscribers (but `newcomer`) get what
    /// changed since they last saw it, `newcomer` all of it. Call it holding the publication
    /// turn.
    async fn publish_catalog(&self, newcomer: Option<&Session>) {
        if self.index().catalog.is_empty() {
            return;
        }
        let Ok(catalog) = self.store.list_status_messages().await else {
            return;
        };
        let (before, subscribers) = {
            let mut index = self.index_mut();
            let subscribers: Vec<String> = index.catalog.iter().cloned().collect();
            (index.catalog_published.replace(catalog.clone()), subscribers)
        };
        if let Some(changes) = before.map(|b| CatalogChanges::between(&b, &catalog)).filter(|c| !c.is_empty()) {
            let message: Arc<str> = wire::status_messages_message(&changes, true).into();
            let others = subscribers.iter().filter(|id| newcomer.is_none_or(|n| n.id != **id));
            for session in others.filter_map(|id| self.sessions.get(id)) {
                session.mailbox.push(Kind::Other, message.clone());
            }
        }
        if let Some(session) = newcomer {
            let everything = CatalogChanges::everything(&catalog);
            session.mailbox.push(Kind::Other, wire::status_messages_message(&everything, false).into());
        }
    }

    /// Logs a session in to a station (or out): its user's status follows; the session gets
    /// its new effective station and, when subscribed, the station's state change.
    async fn apply_station(&self, session: &Arc<Session>, station: Option<StationLogin>) {
        let _guard = self.user_lock(session.user_id).await;
        let previous = session.set_station(station.clone());
        self.publish_status(session.user_id).await;
        if previous == station {
            return;
        }
        let effective = wire::EffectiveStation::of(station.as_ref());
        if wire::EffectiveStation::of(previous.as_ref()) != effective {
            session.mailbox.push(Kind::Other, wire::effective_station_message(effective).into());
        }
        if session.subscriptions().station {
            let message = wire::station_state_message(Some(previous.as_ref()), station.as_ref());
            session.mailbox.push(Kind::Other, message.into());
        }
    }

    pub async fn unsubscribe_access(&self, session: &Arc<Session>) -> PresenceResult<()> {
        self.update_session(session, Topic::NoAccess).await
    }

    /// The catalog changed: catalog subscribers get what changed, access subscribers the
    /// statuses their users gained or lost.
    pub async fn catalog_changed(&self) {
        {
            let _turn = self.publication.lock().await;
            self.publish_catalog(None).await;
        }
        self.rights_changed(None).await;
    }

    /// CTI profiles or associations changed for `users` (`None`: possibly anyone): open
    /// sessions take their new rights and access subscribers get the statuses gained or lost.
    pub async fn rights_changed(&self, users: Option<&[i64]>) {
        let sessions = match users {
            Some(users) => users.iter().flat_map(|u| self.sessions.of_user(*u)).collect(),
            None => self.sessions.all(),
        };
        let mut scopes: HashMap<i64, bool> = HashMap::new();
        for session in sessions {
            let view_all = match scopes.get(&session.user_id) {
                Some(v) => *v,
                None => {
                    let v = self.view_all_of(session.user_id).await;
                    scopes.insert(session.user_id, v);
                    v
                }
            };
            session.view_all.store(view_all, Ordering::Relaxed);
        }
        let _turn = self.publication.lock().await;
        let targets: Vec<i64> = {
            let index = self.index();
            index.access.keys().filter(|user| users.is_none_or(|u| u.contains(user))).copied().collect()
        };
        let targets = self.users_by_id(&targets).await;
        self.publish_access(&targets, None).await;
    }

    async fn view_all_of(&self, user_id: i64) -> bool {
        let Ok(Some(profile_id)) = self.store.user_cti_profile(user_id).await else {
            return false;
        };
        self.store
            .get_cti_profile(profile_id)
            .await
            .is_ok_and(|p| p.fields.view_statuses == crate::domain::cti_profile::Scope::All)
    }

    fn forget(&self, session: &Session) {
        let mut index = self.index_mut();
        let subscriptions = session.subscriptions().clone();
        index.unindex_statuses(&subscriptions.statuses, &session.id);
        index.unindex_access(&subscriptions.access, &session.id);
        index.unindex_catalog(&session.id);
    }

    /// The client logs out.
    pub async fn logout(&self, session: &Session) -> PresenceResult<()> {
        if let Some(log) = &self.log {
            let seq = log
                .write_session(&session.id, SessionWrite::End, "session_ended", &ended_payload(&session.id, None))
                .await?;
            return self.wait_applied(seq).await;
        }
        self.end_session(&session.id, None).await;
        Ok(())
    }

    /// Ends one session here: a server-initiated end (`reason`) sends a last message first.
    pub(crate) async fn end_session(&self, id: &str, reason: Option<EndReason>) {
        if let Some(ended) = self.sessions.end(id) {
            self.forget(&ended);
            ended.mailbox.close(reason.map(|r| wire::connection_down(r.text(), r.should_reconnect()).into()));
            self.publish_status_locked(ended.user_id).await;
        }
    }

    /// Ends sessions on the server's initiative: each gets a `connectionStateChangeMessage` first.
    pub async fn end_sessions(&self, sessions: Vec<Arc<Session>>, reason: EndReason) {
        let mut users = HashSet::new();
        for session in sessions {
            self.forget(&session);
            session.mailbox.close(Some(wire::connection_down(reason.text(), reason.should_reconnect()).into()));
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
        let message: Arc<str> = wire::connection_down("the server is shutting down", true).into();
        for session in self.sessions.all() {
            session.mailbox.close(Some(message.clone()));
        }
    }

    /// Ends idle sessions; returns how many. With a shared store, reports this instance's
    /// activity first, then ends (on every instance) sessions no instance has seen for too long.
    pub async fn sweep(&self) -> PresenceResult<usize> {
        if let Some(log) = &self.log {
            log.touch(&self.sessions.take_touched()).await?;
            let idle = self.idle_timeout;
            return Ok(log.expire(idle, |id| ended_payload(id, Some(EndReason::Idle))).await?);
        }
        let expired = self.sessions.sweep();
        let count = expired.len();
        self.end_sessions(expired, EndReason::Idle).await;
        Ok(count)
    }
}

/// The log payload of a session's end.
pub(crate) fn ended_payload(id: &str, reason: Option<EndReason>) -> String {
    serde_json::json!({ "id": id, "reason": reason }).to_string()
}
