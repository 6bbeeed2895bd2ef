//! Persistence: one trait, one implementation per database backend.
//! Dialect SQL stays inside each backend's module.

pub mod cache;
pub mod events;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::DatabaseUrl;
use crate::domain::auth_token::AuthToken;
use crate::domain::cti_profile::{CtiProfile, CtiProfileFields};
use crate::domain::listing::UserListQuery;
use crate::domain::presence::UserStatus;
use crate::domain::session::Cause;
use crate::domain::status::StatusMessage;
use crate::domain::telephony::{CallEvent, CallState, Line, LineFields};
use crate::domain::user::{User, UserFields};
use crate::domain::webservice_user::WebserviceUser;

pub use events::EventLog;
pub use postgres::{PgLog, PgStore};
pub use sqlite::{SqliteLog, SqliteStore};

/// A uniqueness or reference rule the store refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UsernameTaken,
    ProfileNameTaken,
    ProfileInUse,
    ProfileMissing,
    StatusIdTaken,
    WebserviceUserTaken,
    LineNameTaken,
    /// A conditional write found the row no longer in the expected state.
    StateChanged,
    /// Row `n` (from 0) of a bulk import has a username already taken.
    UsernameTakenAt(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    /// The database cannot be used as configured (a bad URL, a TLS failure), in words for the
    /// operator.
    #[error("{0}")]
    Config(String),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A grouped commit failed (the cause is logged once for the whole group).
    #[error("the grouped commit failed: {0}")]
    GroupCommit(String),
    /// A read shared by concurrent callers failed (the cause is logged once).
    #[error("a shared read failed: {0}")]
    SharedRead(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One row of a bulk import, validated and with its password hashed.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub fields: UserFields,
    pub password_hash: Option<String>,
    pub cti_profile_id: Option<i64>,
}

/// A user as a login reads it, with its status: what a cache holds of one user.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: Option<String>,
    /// `None` only if the user has no status row.
    pub status: Option<UserStatus>,
}

/// A call that has not ended, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCall {
    pub line_id: i64,
    pub line: String,
    pub user_id: Option<i64>,
    pub call_id: String,
    pub state: CallState,
    /// First and last report (the PBX's times), Unix microseconds.
    pub since_us: i64,
    pub at_us: i64,
    /// When ctid received the last report (its own clock), Unix microseconds.
    pub seen_us: i64,
}

/// What a cache in front of the store must drop because another instance changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forget {
    User(i64),
    Status(i64),
    Profiles,
    Catalog,
    Everything,
}

/// The whole persistent state of ctid.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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

    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus>;
    /// Commits a user's presence and its event (with the request that caused it, if any);
    /// `NotFound` if the user is gone.
    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<()>;

    /// Drops what a cache holds of `what` (another instance changed it); no-op without a cache.
    fn forget(&self, _what: Forget) {}

    /// Puts a status committed elsewhere into the cache; no-op without a cache.
    fn remember_status(&self, _status: &UserStatus) {}

    /// Whether the database answers a query.
    async fn ping(&self) -> StoreResult<()> {
        self.list_status_messages().await.map(|_| ())
    }

    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>>;
    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile>;
    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile>;
    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()>;
    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()>;

    /// The catalog in display order.
    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>>;
    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()>;
    async fn update_status_message(&self, status: &StatusMessage) -> StoreResult<()>;
    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()>;

    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>>;
    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser>;
    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()>;
    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()>;

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

    /// Keeps a single-use login token, dropping tokens expired by `now_ms`.
    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()>;
    /// Takes the token with this hash: a token is taken once, by one instance.
    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>>;

    /// Flushes and closes the connections.
    async fn close(&self);
}

/// Opens the store named by `url`, runs its migrations and seeds a fresh database.
pub async fn open(url: &DatabaseUrl) -> StoreResult<Arc<dyn Store>> {
    Ok(open_with_log(url).await?.0)
}

/// Opens the store named by `url` (see [`open`]) and its event log.
pub async fn open_with_log(url: &DatabaseUrl) -> StoreResult<(Arc<dyn Store>, Arc<dyn EventLog>)> {
    match url {
        DatabaseUrl::Sqlite { path } => {
            let store = SqliteStore::open(path).await?;
            let log = store.log();
            Ok((Arc::new(store), Arc::new(log)))
        }
        DatabaseUrl::Postgres { url } => {
            let store = PgStore::open(url).await?;
            let log = PgLog::connect(url).await?;
            Ok((Arc::new(store), Arc::new(log)))
        }
    }
}
