//! The presence directory: the users a session may see, filtered, sorted and paged.

use std::collections::{HashMap, HashSet};

use super::engine::{Presence, PresenceError, PresenceResult, display_name};
use super::sessions::Session;
use crate::domain::cti_profile::Scope;
use crate::domain::directory::{self, Entry, Field, Page};
use crate::store::StoreError;

/// One page of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPage {
    pub entries: Vec<Entry>,
    /// How many users satisfy the conditions.
    pub total: u64,
    /// The positions of `entries` in that list when a range was asked for (`None`: all of it).
    pub part: Option<(u64, u64)>,
}

impl Presence {
    /// The page of the directory `query` asks for: the users the session may see that satisfy
    /// its conditions, in directory order, with the members it selects.
    pub async fn directory(&self, session: &Session, query: &directory::Query) -> PresenceResult<DirectoryPage> {
        let actor = self.actor_profile(session).await?;
        let users = if actor.fields.view_statuses == Scope::All {
            self.store.list_users(&crate::domain::listing::UserListQuery::default()).await?.1
        } else {
            vec![self.store.get_user(session.user_id).await?]
        };
        let mut entries: Vec<Entry> = users
            .iter()
            .filter_map(|u| {
                Some(Entry {
                    user_id: u.id,
                    id: u.fields.username.clone()?,
                    display_name: display_name(u),
                    extension: None,
                    status_text: None,
                })
            })
            .collect();
        // Members a condition tests are needed of every user; the others only of the page.
        let (tested_extension, tested_status) = (query.tests(Field::Extension), query.tests(Field::StatusText));
        self.complete(&mut entries, tested_extension, tested_status).await?;
        entries.retain(|e| query.matches(e));
        directory::sort(&mut entries);
        let total = entries.len() as u64;
        let part = match query.range.map(|r| r.resolve(total)) {
            None | Some(Ok(Page::Whole)) => None,
            Some(Ok(Page::Part { first, last })) => Some((first, last)),
            Some(Err(_)) => return Err(PresenceError::RangeNotSatisfiable(total)),
        };
        if let Some((first, last)) = part {
            // Both within the list: they fit a usize.
            let (first, last) = (usize::try_from(first).unwrap_or(0), usize::try_from(last).unwrap_or(0));
            entries.truncate(last + 1);
            entries.drain(..first);
        }
        let selection = query.selection;
        self.complete(&mut entries, selection.extension && !tested_extension, selection.status_text && !tested_status)
            .await?;
        for entry in &mut entries {
            if !selection.extension {
                entry.extension = None;
            }
            if !selection.status_text {
                entry.status_text = None;
            }
        }
        Ok(DirectoryPage { entries, total, part })
    }

    /// Looks up the extension and/or the status text of `entries`.
    pub(super) async fn complete(
        &self,
        entries: &mut [Entry],
        extension: bool,
        status_text: bool,
    ) -> PresenceResult<()> {
        if extension {
            let ids: Vec<i64> = entries.iter().map(|e| e.user_id).collect();
            let mut numbers = self.extensions(&ids).await?;
            for entry in entries.iter_mut() {
                entry.extension = numbers.remove(&entry.user_id);
            }
        }
        if status_text {
            let catalog = self.store.list_status_messages().await?;
            for entry in entries.iter_mut() {
                let status_id = match self.store.get_user_status(entry.user_id).await {
                    Ok(status) => status.status_id,
                    Err(StoreError::NotFound) => continue,
                    Err(other) => return Err(other.into()),
                };
                // A status since removed from the catalog is shown by its id.
                let text = catalog.iter().find(|s| s.status_id == status_id).map(|s| s.message_text.clone());
                entry.status_text = Some(text.unwrap_or(status_id));
            }
        }
        Ok(())
    }

    /// The extension of each of `users` that has one: the number of its first line (in id order)
    /// that has a number. A few users are looked up one by one, more with one read of every line.
    pub(super) async fn extensions(&self, users: &[i64]) -> PresenceResult<HashMap<i64, String>> {
        const ONE_BY_ONE: usize = 16;
        let lines = if users.len() <= ONE_BY_ONE {
            let mut lines = Vec::new();
            for &user in users {
                lines.extend(self.store.user_lines(user).await?);
            }
            lines
        } else {
            self.store.list_lines(None, 0).await?.1
        };
        let wanted: HashSet<i64> = users.iter().copied().collect();
        let mut numbers = HashMap::new();
        for line in lines {
            if let (Some(user), Some(number)) = (line.user_id, line.fields.number)
                && wanted.contains(&user)
            {
                numbers.entry(user).or_insert(number);
            }
        }
        Ok(numbers)
    }
}
