//! Reports over a user's history (ctid extension), under the view rights of their status.

use super::engine::{Presence, PresenceResult};
use super::sessions::Session;
use crate::domain::clock::now_ms;
use crate::domain::history::Window;
use crate::domain::report::UserTime;

impl Presence {
    /// The time `username` spent in each status and on the phone within `window`, up to now;
    /// `None` when they have none there.
    pub async fn time_in_status(
        &self,
        session: &Session,
        username: &str,
        window: Window,
    ) -> PresenceResult<Option<UserTime>> {
        let (target, _) = self.viewable(session, username).await?;
        Ok(self.store.time_in_status(window, &[target.id], now_ms()).await?.into_iter().next())
    }
}
