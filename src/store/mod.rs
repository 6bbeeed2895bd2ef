//! Persistence: capability-sized traits (see [`traits`]), implemented once over SQL for both
//! databases (see [`sql`]); each backend's folder holds only what its dialect does
//! differently.

pub mod cache;
pub mod events;
mod group_commit;
mod postgres;
pub(crate) mod sql;
mod sqlite;
mod traits;

use std::sync::Arc;

use crate::config::DatabaseUrl;
use crate::domain::presence::UserStatus;
use crate::domain::telephony::CallState;
use crate::domain::user::{User, UserFields};

pub use cache::{CacheSync, Forget};
pub use events::EventLog;
pub use postgres::{PgBackend, PgLog, PgStore};
pub use sqlite::{SqliteBackend, SqliteLog, SqliteStore};
pub use traits::{
    AuthTokens, Catalog, Handle, History, Lifecycle, Profiles, Reports, Statuses, Store, Telephony, Users, Webhooks,
    WebserviceUsers,
};

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
    /// A new scheduled status overlaps this pending or active one of the user.
    ScheduleOverlaps(i64),
    /// The user has as many pending or active scheduled statuses as allowed.
    TooManySchedules,
    /// There are as many webhooks as allowed.
    TooManyWebhooks,
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
