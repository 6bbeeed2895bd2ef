//! Who follows what, and what each follower was last sent, so later messages carry only what
//! changed.

use std::collections::{HashMap, HashSet};

use crate::domain::presence::PreviousInfo;
use crate::domain::status::StatusMessage;

/// Who is subscribed to what: session ids by subscribed user, and catalog subscribers; and
/// what was last sent of each, so later messages carry only what changed.
#[derive(Debug, Default)]
pub struct Index {
    pub(super) statuses: HashMap<i64, HashSet<String>>,
    /// The last representation published for each subscribed user, to send only what changed.
    pub(super) published: HashMap<i64, serde_json::Value>,
    pub(super) access: HashMap<i64, HashSet<String>>,
    /// The statuses each user with access subscribers was last shown to allow.
    pub(super) access_published: HashMap<i64, Vec<String>>,
    pub(super) catalog: HashSet<String>,
    /// The catalog as catalog subscribers last saw it.
    pub(super) catalog_published: Option<Vec<StatusMessage>>,
    /// Sessions subscribed to their own user's previous info, by user.
    pub(super) previous_info: HashMap<i64, HashSet<String>>,
    /// Each such user's previous info as their subscribers last saw it, so a status change
    /// is pushed only when it changes an entry.
    pub(super) previous_info_published: HashMap<i64, Vec<PreviousInfo>>,
}

impl Index {
    /// Removes a session from the access subscribers of `users`, forgetting what was sent of
    /// users nobody follows any more.
    pub(super) fn unindex_access(&mut self, users: &[i64], session_id: &str) {
        unindex(&mut self.access, users, session_id);
        for user in users {
            if !self.access.contains_key(user) {
                self.access_published.remove(user);
            }
        }
    }

    /// Removes a session from the previous info subscribers of its user, forgetting what was
    /// sent of a user nobody follows any more.
    pub(super) fn unindex_previous_info(&mut self, user: i64, session_id: &str) {
        unindex(&mut self.previous_info, &[user], session_id);
        if !self.previous_info.contains_key(&user) {
            self.previous_info_published.remove(&user);
        }
    }

    pub(super) fn unindex_catalog(&mut self, session_id: &str) {
        self.catalog.remove(session_id);
        if self.catalog.is_empty() {
            self.catalog_published = None;
        }
    }

    /// Removes a session from the status subscribers of `users`, forgetting the last
    /// representation of users nobody follows any more.
    pub(super) fn unindex_statuses(&mut self, users: &[i64], session_id: &str) {
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
