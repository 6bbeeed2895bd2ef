//! Fan-out: pushing a change to the sessions that follow it. The work is proportional to the
//! subscribers of what changed; a message restricted to the same members is built once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::engine::{Presence, PresenceError};
use super::index::Index;
use super::mailbox::Kind;
use super::render;
use super::sessions::Session;
use crate::domain::status::{AccessChanges, CatalogChanges};
use crate::domain::user::User;

impl Presence {
    pub(super) fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
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
                let full = render::user_status_value(&render::representation(view, &self.server_name), None);
                let value = properties.as_deref().map_or_else(|| full.clone(), |p| render::restrict(&full, p));
                self.index_mut().published.entry(id).or_insert(full);
                list.push(value);
            }
        }
        Some(render::user_status_message(&list, false))
    }

    /// Pushes `user_id`'s current status to its subscribers. Call it holding the user's publication lock.
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
        let body = render::representation(view, &self.server_name);
        let current = render::user_status_value(&body, None);
        let previous = self.index_mut().published.insert(user_id, current.clone());
        if previous.as_ref() == Some(&current) {
            return;
        }
        let full: Arc<str> = render::user_status_message(&[current], true).into();
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
                        let value = render::user_status_value(&body, Some(props));
                        let before = previous.as_ref().map(|p| render::restrict(p, props));
                        let message: Option<Arc<str>> = (before.as_ref() != Some(&value))
                            .then(|| render::user_status_message(&[value], true).into());
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

    /// Reads the statuses each of `users` may select now and sends their access subscribers
    /// (but `newcomer`) the ids added and removed since they were last sent, one message per
    /// session; returns each user's name and list. Call it holding the publication turn.
    pub(super) async fn publish_access(&self, users: &[User], newcomer: Option<&str>) -> Vec<(String, Vec<String>)> {
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
                session.mailbox.push(Kind::Other, render::user_access_message(visible, true).into());
            }
        }
        lists
    }

    /// Publishes the catalog as it is now: catalog subscribers (but `newcomer`) get what
    /// changed since they last saw it, `newcomer` all of it. Call it holding the publication
    /// turn.
    pub(super) async fn publish_catalog(&self, newcomer: Option<&Session>) {
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
            let message: Arc<str> = render::status_messages_message(&changes, true).into();
            let others = subscribers.iter().filter(|id| newcomer.is_none_or(|n| n.id != **id));
            for session in others.filter_map(|id| self.sessions.get(id)) {
                session.mailbox.push(Kind::Other, message.clone());
            }
        }
        if let Some(session) = newcomer {
            let everything = CatalogChanges::everything(&catalog);
            session.mailbox.push(Kind::Other, render::status_messages_message(&everything, false).into());
        }
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

    pub(super) async fn view_all_of(&self, user_id: i64) -> bool {
        let Ok(Some(profile_id)) = self.store.user_cti_profile(user_id).await else {
            return false;
        };
        self.store
            .get_cti_profile(profile_id)
            .await
            .is_ok_and(|p| p.fields.view_statuses == crate::domain::cti_profile::Scope::All)
    }
}
