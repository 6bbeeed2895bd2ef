//! What the cache does not hold: passed through to the store.

use async_trait::async_trait;

use super::CachedStore;
use crate::domain::auth_token::AuthToken;
use crate::domain::history::{HistoryQuery, HistoryRecord, Window};
use crate::domain::presence::{Timestamp, UserStatus};
use crate::domain::report::UserTime;
use crate::domain::schedule::{ScheduleFields, ScheduledStatus, Transition};
use crate::domain::telephony::{CallEvent, Line, LineFields};
use crate::domain::webhook::{Delivery, Outcome, Webhook, WebhookFields};
use crate::domain::webservice_user::WebserviceUser;
use crate::store::{
    ActiveCall, AuthTokens, History, Lifecycle, Reports, StoreResult, Telephony, Webhooks, WebserviceUsers,
};

#[async_trait]
impl WebserviceUsers for CachedStore {
    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>> {
        self.inner.list_webservice_users().await
    }

    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser> {
        self.inner.get_webservice_user(username).await
    }

    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()> {
        self.inner.add_webservice_user(user).await
    }

    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()> {
        self.inner.remove_webservice_user(username).await
    }
}

#[async_trait]
impl Telephony for CachedStore {
    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)> {
        self.inner.list_lines(limit, skip).await
    }

    async fn get_line(&self, id: i64) -> StoreResult<Line> {
        self.inner.get_line(id).await
    }

    async fn find_line(&self, name: &str) -> StoreResult<Line> {
        self.inner.find_line(name).await
    }

    async fn create_line(&self, fields: &LineFields) -> StoreResult<Line> {
        self.inner.create_line(fields).await
    }

    async fn update_line(&self, id: i64, fields: &LineFields) -> StoreResult<()> {
        self.inner.update_line(id, fields).await
    }

    async fn delete_line(&self, id: i64) -> StoreResult<()> {
        self.inner.delete_line(id).await
    }

    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>> {
        self.inner.user_lines(user_id).await
    }

    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()> {
        self.inner.set_line_user(line_id, user).await
    }

    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()> {
        self.inner.record_calls(events, received_us).await
    }

    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>> {
        self.inner.active_calls().await
    }

    async fn user_on_phone(&self, user_id: i64) -> StoreResult<bool> {
        self.inner.user_on_phone(user_id).await
    }

    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()> {
        self.inner.purge_ended_calls(before_us).await
    }
}

#[async_trait]
impl AuthTokens for CachedStore {
    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()> {
        self.inner.add_auth_token(token, now_ms).await
    }

    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>> {
        self.inner.take_auth_token(token_hash).await
    }
}

/// Schedules are not cached; a transition's status is, as the store committed it.
#[async_trait]
impl Lifecycle for CachedStore {
    async fn list_schedules(&self, user_id: i64, upcoming: bool) -> StoreResult<Vec<ScheduledStatus>> {
        self.inner.list_schedules(user_id, upcoming).await
    }

    async fn get_schedule(&self, user_id: i64, id: i64) -> StoreResult<ScheduledStatus> {
        self.inner.get_schedule(user_id, id).await
    }

    async fn create_schedule(&self, fields: &ScheduleFields) -> StoreResult<ScheduledStatus> {
        self.inner.create_schedule(fields).await
    }

    async fn delete_schedule(&self, user_id: i64, id: i64, now: Timestamp) -> StoreResult<Option<(i64, UserStatus)>> {
        let result = self.inner.delete_schedule(user_id, id, now).await;
        self.committed_status(user_id, &result);
        result
    }

    async fn next_transition(&self) -> StoreResult<Option<Timestamp>> {
        self.inner.next_transition().await
    }

    async fn due_transitions(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Transition>> {
        self.inner.due_transitions(now, limit).await
    }

    async fn apply_transition(&self, transition: &Transition) -> StoreResult<Option<(i64, UserStatus)>> {
        let result = self.inner.apply_transition(transition).await;
        self.committed_status(transition.user_id, &result);
        result
    }

    async fn purge_schedules(&self, before: Timestamp) -> StoreResult<u64> {
        self.inner.purge_schedules(before).await
    }
}

#[async_trait]
impl History for CachedStore {
    async fn history(&self, query: &HistoryQuery) -> StoreResult<(u64, Vec<HistoryRecord>)> {
        self.inner.history(query).await
    }

    async fn history_after(
        &self,
        query: &HistoryQuery,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRecord>> {
        self.inner.history_after(query, after, limit).await
    }

    async fn purge_history(&self, before: i64, batch: i64) -> StoreResult<u64> {
        self.inner.purge_history(before, batch).await
    }

    async fn history_record(&self, id: i64) -> StoreResult<Option<HistoryRecord>> {
        self.inner.history_record(id).await
    }
}

#[async_trait]
impl Webhooks for CachedStore {
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        self.inner.list_webhooks().await
    }

    async fn get_webhook(&self, id: i64) -> StoreResult<Webhook> {
        self.inner.get_webhook(id).await
    }

    async fn create_webhook(&self, fields: &WebhookFields, now_ms: i64) -> StoreResult<Webhook> {
        self.inner.create_webhook(fields, now_ms).await
    }

    async fn update_webhook(&self, id: i64, fields: &WebhookFields, clear_failure: bool) -> StoreResult<()> {
        self.inner.update_webhook(id, fields, clear_failure).await
    }

    async fn delete_webhook(&self, id: i64) -> StoreResult<()> {
        self.inner.delete_webhook(id).await
    }

    async fn webhook_deliveries(&self, id: i64) -> StoreResult<Vec<Delivery>> {
        self.inner.webhook_deliveries(id).await
    }

    async fn skip_webhook_events(&self, id: i64, from: i64, to: i64) -> StoreResult<bool> {
        self.inner.skip_webhook_events(id, from, to).await
    }

    async fn record_webhook_attempt(&self, id: i64, attempt: &Delivery, outcome: &Outcome) -> StoreResult<()> {
        self.inner.record_webhook_attempt(id, attempt, outcome).await
    }

    async fn take_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<bool> {
        self.inner.take_lease(name, holder, now_ms, ttl_ms).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.inner.release_lease(name, holder).await
    }
}

impl CachedStore {
    /// After a write that may have committed a status of `user_id`: the cache holds it, or
    /// forgets the user's status when the outcome is unknown.
    fn committed_status(&self, user_id: i64, result: &StoreResult<Option<(i64, UserStatus)>>) {
        match result {
            Ok(None) => {}
            Ok(Some((_, status))) => self.after_write(|e| {
                e.statuses.insert(status.user_id, status.clone());
            }),
            Err(_) => self.after_write(|e| {
                e.statuses.remove(&user_id);
            }),
        }
    }
}

#[async_trait]
impl Reports for CachedStore {
    async fn time_in_status(&self, window: Window, users: &[i64], now_ms: i64) -> StoreResult<Vec<UserTime>> {
        self.inner.time_in_status(window, users, now_ms).await
    }

    async fn roll_up_next_day(&self, ended_before: i64, first_day: i64) -> StoreResult<Option<i64>> {
        self.inner.roll_up_next_day(ended_before, first_day).await
    }

    async fn purge_rollups(&self, day: i64) -> StoreResult<u64> {
        self.inner.purge_rollups(day).await
    }
}
