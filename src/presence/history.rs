//! A user's presence history as a presence session reads it (the ctid extension
//! `status/status-history/{userId}`), under the view rights of the user's status.

use super::engine::{Presence, PresenceResult};
use super::sessions::Session;
use crate::domain::history::{HistoryQuery, HistoryRecord, Window};
use crate::domain::listing::Direction;

/// The most records one read returns: the first ones of the window, in time order.
pub const USER_HISTORY_CAP: u32 = 1000;

/// A user's records over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHistory {
    /// In time order, at most [`USER_HISTORY_CAP`].
    pub records: Vec<HistoryRecord>,
    /// The window held more records than were returned.
    pub truncated: bool,
}

impl Presence {
    /// `username`'s history over `window`, for a session that may view that user.
    pub async fn user_history(&self, session: &Session, username: &str, window: Window) -> PresenceResult<UserHistory> {
        let (target, _) = self.viewable(session, username).await?;
        let query = HistoryQuery {
            window,
            user_id: Some(target.id),
            status_id: None,
            kind: None,
            limit: Some(USER_HISTORY_CAP),
            skip: 0,
            direction: Direction::Asc,
        };
        let (total, records) = self.store.history(&query).await?;
        let truncated = total > records.len() as u64;
        Ok(UserHistory { records, truncated })
    }
}
