//! The store's capabilities, one trait each, and [`Store`], the umbrella every backend (and
//! the cache in front of one) implements through its parts.

use async_trait::async_trait;

use super::cache::CacheSync;
use super::{ActiveCall, ImportedUser, StoreResult, StoredUser};
use crate::domain::auth_token::AuthToken;
use crate::domain::cti_profile::{CtiProfile, CtiProfileFields};
use crate::domain::history::{HistoryQuery, HistoryRecord, Window};
use crate::domain::listing::UserListQuery;
use crate::domain::presence::{PreviousInfo, Timestamp, UserStatus};
use crate::domain::report::UserTime;
use crate::domain::schedule::{ScheduleFields, ScheduledStatus, Transition};
use crate::domain::session::Cause;
use crate::domain::status::StatusMessage;
use crate::domain::telephony::{CallEvent, Line, LineFields};
use crate::domain::user::{User, UserFields};
use crate::domain::webhook::{Delivery, Outcome, Webhook, WebhookFields};
use crate::domain::webservice_user::WebserviceUser;

/// The directory's users.
#[async_trait]
pub trait Users: Send + Sync + 'static {
    async fn list_users(&self, query: &UserListQuery) -> StoreResult<(u64, Vec<User>)>;
    async fn get_user(&self, id: i64) -> StoreResult<User>;
    /// The CTI profile of user `id` (`None`: the user has none). A cache answers it without
    /// copying the user.
    async fn user_cti_profile(&self, id: i64) -> StoreResult<Option<i64>> {
        Ok(self.get_user(id).await?.cti_profile_id)
    }
    /// The user with this username (case-insensitive) and its password hash.
    async fn find_user_login(&self, username: &str) -> StoreResult<(User, Option<String>)>;
    /// Up to `limit` users with an id above `after_id`, in id order, with their password hash
    /// and status (reads a whole user base in pages, to warm a cache).
    async fn load_users(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredUser>>;
    /// Creates the user with its initial presence (`Available` since `now`).
    async fn create_user(&self, fields: &UserFields, password_hash: Option<&str>, now: i64) -> StoreResult<User>;
    /// Creates many users in one transaction: all or none.
    async fn import_users(&self, rows: &[ImportedUser], now: i64) -> StoreResult<usize>;
    /// Writes `fields` over a user whose stored fields are still `expected`; otherwise fails
    /// with `StateChanged` (someone else's edit came first) or `NotFound`. A `password_hash`
    /// replaces the stored one, `None` keeps it.
    async fn update_user(
        &self,
        id: i64,
        expected: &UserFields,
        fields: &UserFields,
        password_hash: Option<&str>,
    ) -> StoreResult<()>;
    async fn delete_user(&self, id: i64) -> StoreResult<()>;
    /// Sets the user's profile; `expect_none` makes it fail with `StateChanged` if one is set.
    async fn set_user_cti_profile(&self, user_id: i64, profile: Option<i64>, expect_none: bool) -> StoreResult<()>;
}

/// The users' presence.
#[async_trait]
pub trait Statuses: Send + Sync + 'static {
    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus>;
    /// Commits a user's presence and its event (with the request that caused it, if any);
    /// returns the event's number; `NotFound` if the user is gone.
    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<i64>;
    /// For each status the user has held that is still in the catalog, the notes and forward
    /// number they last had with it, in catalog display order (empty for an unknown user).
    async fn previous_info(&self, user_id: i64) -> StoreResult<Vec<PreviousInfo>>;
}

/// Scheduled statuses, and the transitions of the status lifecycle (see
/// [`crate::domain::schedule`]), found by time from the store.
#[async_trait]
pub trait Lifecycle: Send + Sync + 'static {
    /// A user's scheduled statuses by start; only the pending and active ones if `upcoming`.
    async fn list_schedules(&self, user_id: i64, upcoming: bool) -> StoreResult<Vec<ScheduledStatus>>;
    /// `NotFound` unless user `user_id` has schedule `id`.
    async fn get_schedule(&self, user_id: i64, id: i64) -> StoreResult<ScheduledStatus>;
    /// Adds a pending schedule, logging that the user's schedules changed. `NotFound` if the
    /// user is gone; `Conflict(ScheduleOverlaps(n))`, `Conflict(TooManySchedules)`.
    async fn create_schedule(&self, fields: &ScheduleFields) -> StoreResult<ScheduledStatus>;
    /// Deletes a schedule; an active one is first ended as if its end were `now`. Returns the
    /// status that end committed, with its event's number. `NotFound` unless the user has it.
    async fn delete_schedule(&self, user_id: i64, id: i64, now: Timestamp) -> StoreResult<Option<(i64, UserStatus)>>;
    /// When the next transition falls due, if any.
    async fn next_transition(&self) -> StoreResult<Option<Timestamp>>;
    /// Transitions due by `now`, at most `limit` of each kind, earliest first.
    async fn due_transitions(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<Transition>>;
    /// Applies `transition` if what it was found from still holds, in one transaction with its
    /// event: the status committed and its event's number; `None` when nothing changed (it was
    /// applied elsewhere, or the user changed status meanwhile).
    async fn apply_transition(&self, transition: &Transition) -> StoreResult<Option<(i64, UserStatus)>>;
    /// Forgets schedules done whose end (or start) is before `before`; returns how many.
    async fn purge_schedules(&self, before: Timestamp) -> StoreResult<u64>;
}

/// CTI profiles: what their users may see and change.
#[async_trait]
pub trait Profiles: Send + Sync + 'static {
    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>>;
    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile>;
    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile>;
    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()>;
    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()>;
}

/// The status catalog.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The catalog in display order.
    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>>;
    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()>;
    async fn update_status_message(&self, status: &StatusMessage) -> StoreResult<()>;
    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()>;
}

/// The accounts of the configuration API (`/1.1`).
#[async_trait]
pub trait WebserviceUsers: Send + Sync + 'static {
    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>>;
    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser>;
    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()>;
    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()>;
}

/// Lines and the calls the PBX reports on them.
#[async_trait]
pub trait Telephony: Send + Sync + 'static {
    /// Lines in id order: `(total, page)`.
    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)>;
    async fn get_line(&self, id: i64) -> StoreResult<Line>;
    async fn find_line(&self, name: &str) -> StoreResult<Line>;
    async fn create_line(&self, fields: &LineFields) -> StoreResult<Line>;
    async fn update_line(&self, id: i64, fields: &LineFields) -> StoreResult<()>;
    async fn delete_line(&self, id: i64) -> StoreResult<()>;
    /// The lines of a user, in id order.
    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>>;
    /// Gives the line to `user` (`StateChanged` if it already has one) or frees it (`None`).
    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()>;
    /// Applies reports in order where they supersede what is held of their call (see
    /// [`crate::domain::telephony::supersedes`]); `received_us` is ctid's own time of them (Unix
    /// microseconds).
    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()>;
    /// Calls not ended, oldest report first.
    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>>;
    /// Whether any line of the user has a call that has not ended.
    async fn user_on_phone(&self, user_id: i64) -> StoreResult<bool>;
    /// Forgets ended calls whose last report was received before `before_us` (Unix
    /// microseconds).
    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()>;
}

/// The presence history (written with the events it records, see
/// [`crate::store::events::Event::history`]).
#[async_trait]
pub trait History: Send + Sync + 'static {
    /// The records `query` selects (their total, and the page asked for).
    async fn history(&self, query: &HistoryQuery) -> StoreResult<(u64, Vec<HistoryRecord>)>;
    /// At most `limit` records `query` selects after `(at, id)`, by time then number (reads
    /// the whole of a window in pages, in constant memory).
    async fn history_after(
        &self,
        query: &HistoryQuery,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRecord>>;
    /// Forgets at most `batch` records older than `before` (Unix milliseconds); returns how many.
    async fn purge_history(&self, before: i64, batch: i64) -> StoreResult<u64>;
    /// The record of event `id`, if the history holds it.
    async fn history_record(&self, id: i64) -> StoreResult<Option<HistoryRecord>>;
}

/// Webhooks, their delivery positions and attempts, and the lease of the one instance that
/// delivers (see [`crate::webhooks`]).
#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    async fn get_webhook(&self, id: i64) -> StoreResult<Webhook>;
    /// Adds a webhook that starts at the log's head (`Conflict::TooManyWebhooks` beyond the
    /// most allowed).
    async fn create_webhook(&self, fields: &WebhookFields, now_ms: i64) -> StoreResult<Webhook>;
    /// Replaces a webhook's members; `clear_failure` forgets its failure and why it was
    /// disabled (it was enabled again).
    async fn update_webhook(&self, id: i64, fields: &WebhookFields, clear_failure: bool) -> StoreResult<()>;
    async fn delete_webhook(&self, id: i64) -> StoreResult<()>;
    /// A webhook's kept attempts, newest first.
    async fn webhook_deliveries(&self, id: i64) -> StoreResult<Vec<Delivery>>;
    /// Moves a webhook from event `from` (its position) past events it does not select, up to
    /// `to`; false when its position was no longer `from`.
    async fn skip_webhook_events(&self, id: i64, from: i64, to: i64) -> StoreResult<bool>;
    /// Records an attempt of the event after the webhook's position and what follows it.
    async fn record_webhook_attempt(&self, id: i64, attempt: &Delivery, outcome: &Outcome) -> StoreResult<()>;
    /// Takes or renews lease `name` for `holder` until `now_ms + ttl_ms`; false when another
    /// holder's lease has not expired.
    async fn take_lease(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<bool>;
    /// Gives lease `name` up, if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
}

/// Reports over the history, and the daily rollups they read (see [`crate::domain::report`]).
#[async_trait]
pub trait Reports: Send + Sync + 'static {
    /// The time each user that exists now (those of `users`, or all when empty) spent in each
    /// status and on the phone within `window`, up to `now_ms`; users without any time left
    /// out; by user id.
    async fn time_in_status(&self, window: Window, users: &[i64], now_ms: i64) -> StoreResult<Vec<UserTime>>;
    /// Rolls up the next UTC day not rolled up yet, if it ended before `ended_before` and
    /// starts at or after day `first_day` (days since 1970-01-01): the day done (by this
    /// instance or another one), `None` when no day is due.
    async fn roll_up_next_day(&self, ended_before: i64, first_day: i64) -> StoreResult<Option<i64>>;
    /// Forgets the rollups of the days before `day`; returns how many rows went.
    async fn purge_rollups(&self, day: i64) -> StoreResult<u64>;
}

/// Single-use login tokens (ICWS `authToken`).
#[async_trait]
pub trait AuthTokens: Send + Sync + 'static {
    /// Keeps a single-use login token, dropping tokens expired by `now_ms`.
    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()>;
    /// Takes the token with this hash: a token is taken once, by one instance.
    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>>;
}

/// The store as a whole: its health, its end, and the cache in front of it, if any.
#[async_trait]
pub trait Handle: Send + Sync + 'static {
    /// Whether the database answers a query.
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes and closes the connections.
    async fn close(&self);
    /// The cache in front of the store, which whoever applies the event log keeps in step
    /// with what was committed (elsewhere too); `None` without a cache.
    fn cache(&self) -> Option<&dyn CacheSync> {
        None
    }
}

/// The whole persistent state of ctid: every capability.
pub trait Store:
    Users
    + Statuses
    + Lifecycle
    + History
    + Webhooks
    + Reports
    + Profiles
    + Catalog
    + WebserviceUsers
    + Telephony
    + AuthTokens
    + Handle
{
}

impl<T> Store for T where
    T: Users
        + Statuses
        + Lifecycle
        + History
        + Webhooks
        + Reports
        + Profiles
        + Catalog
        + WebserviceUsers
        + Telephony
        + AuthTokens
        + Handle
{
}
