//! The engine's state and what every presence request shares: errors, settings, the session
//! user's rights, and the per-user locks that order a user's changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::password;
use crate::auth::throttle::FailureThrottle;
use crate::domain::cti_profile::{CtiProfile, Scope};
use crate::domain::permissions::allows;
use crate::domain::presence::ChangeError;
use crate::domain::session::StatusView;
use crate::domain::status::StatusMessage;
use crate::domain::user::User;
use crate::store::{EventLog, Store, StoreError};

use super::index::Index;
use super::sessions::{Session, SessionLimit, SessionLimits, Sessions};

/// Why a presence request failed.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error("the user name or password is incorrect")]
    AuthenticationFailed,
    #[error("too many failed logins; retry later")]
    Throttled(Duration),
    /// The user, or the server, has as many sessions as allowed.
    #[error("too many sessions")]
    SessionLimit(SessionLimit),
    /// The session's user lost their CTI profile or was deleted: the session is over.
    #[error("the session has ended")]
    SessionEnded,
    #[error("user {0} does not exist")]
    UserNotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("invalid status change")]
    Invalid(ChangeError),
    /// A directory page that starts past the end of a list of this many users.
    #[error("no user in the requested range")]
    RangeNotSatisfiable(u64),
    #[error("the data store is unavailable")]
    Unavailable,
}

impl From<StoreError> for PresenceError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store operation failed");
        Self::Unavailable
    }
}

pub type PresenceResult<T> = Result<T, PresenceError>;

/// Stripes of each set of per-user locks.
const LOCK_STRIPES: usize = 64;

/// The presence engine of one instance.
pub struct Presence {
    pub(super) store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub server_name: Arc<str>,
    pub(super) throttle: FailureThrottle,
    /// A valid hash checked when the user is unknown, so every failure costs the same.
    pub(super) decoy_hash: String,
    pub(super) next_request: AtomicU64,
    /// Serialise a user's status changes (read, apply, commit) between requests.
    change_locks: Vec<tokio::sync::Mutex<()>>,
    /// The event of each user's last status change made here, until the engine applies it.
    pub(super) written: std::sync::Mutex<std::collections::HashMap<i64, i64>>,
    /// Serialise what is published of a user (a comparison with the last thing sent, then the
    /// push), apart from the changes: a request never waits for a publication.
    publication_locks: Vec<tokio::sync::Mutex<()>>,
    pub(super) index: std::sync::RwLock<Index>,
    /// Orders publications of the catalog and of allowed statuses (each compares with the
    /// last one sent).
    pub(super) publication: tokio::sync::Mutex<()>,
    pub(super) idle_timeout: Duration,
    /// The store's event log, which this engine applies.
    pub(super) log: Arc<dyn EventLog>,
    /// The number of the last log event applied here.
    pub(super) applied: tokio::sync::watch::Sender<i64>,
    /// Wakes the log reader.
    pub(super) wake: tokio::sync::Notify,
    /// Wakes the lifecycle's timer: when the next transition falls due may have moved.
    pub(super) lifecycle: tokio::sync::Notify,
}

/// Settings of the presence runtime.
#[derive(Debug, Clone)]
pub struct PresenceSettings {
    pub idle_timeout: Duration,
    pub queue_limit: usize,
    pub server_name: String,
    pub limits: SessionLimits,
}

impl Presence {
    /// An engine over `store`, driven by `log` (the same database's; see [`super::apply`]).
    /// Nothing is served until [`Presence::follow_log`] runs.
    pub fn new(store: Arc<dyn Store>, log: Arc<dyn EventLog>, settings: PresenceSettings) -> Self {
        Self {
            store,
            // Idleness is judged from the session rows (`sweep`).
            sessions: Sessions::new(settings.queue_limit, settings.limits),
            idle_timeout: settings.idle_timeout,
            log,
            applied: tokio::sync::watch::Sender::new(0),
            wake: tokio::sync::Notify::new(),
            lifecycle: tokio::sync::Notify::new(),
            server_name: settings.server_name.into(),
            index: std::sync::RwLock::default(),
            publication: tokio::sync::Mutex::new(()),
            throttle: FailureThrottle::default(),
            decoy_hash: password::hash(&crate::auth::random::hex_token(16)),
            // Request ids stay unique across instances and restarts.
            next_request: AtomicU64::new(random_start()),
            change_locks: (0..LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            written: std::sync::Mutex::default(),
            publication_locks: (0..LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// The number of the last log event applied here, as it moves: what readers that follow
    /// the log behind the engine (webhooks) wait on instead of the log's own wake-ups.
    pub fn applied_events(&self) -> tokio::sync::watch::Receiver<i64> {
        self.applied.subscribe()
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The lock that orders the changes of `user_id`.
    pub(super) async fn change_lock(&self, user_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.change_locks[stripe(user_id)].lock().await
    }

    /// The lock that orders what is published of `user_id`.
    pub(super) async fn publication_lock(&self, user_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.publication_locks[stripe(user_id)].lock().await
    }

    /// Publishes a user's status to subscribers, in order with the user's other publications.
    pub(super) async fn publish_status_locked(&self, user_id: i64) {
        let _guard = self.publication_lock(user_id).await;
        self.publish_status(user_id).await;
    }

    /// The session user's current CTI profile; ends the session if they no longer have one.
    pub(super) async fn actor_profile(&self, session: &Session) -> PresenceResult<CtiProfile> {
        let profile_id = match self.store.user_cti_profile(session.user_id).await {
            Ok(profile_id) => profile_id,
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        let Some(profile_id) = profile_id else {
            self.sessions.end_user(session.user_id);
            return Err(PresenceError::SessionEnded);
        };
        match self.store.get_cti_profile(profile_id).await {
            Ok(profile) => {
                session.view_all.store(profile.fields.view_statuses == Scope::All, Ordering::Relaxed);
                Ok(profile)
            }
            Err(StoreError::NotFound) => Err(PresenceError::SessionEnded),
            Err(other) => Err(other.into()),
        }
    }

    pub(super) async fn target(&self, username: &str) -> PresenceResult<User> {
        match self.store.find_user_login(username).await {
            Ok((user, _)) => Ok(user),
            Err(StoreError::NotFound) => Err(PresenceError::UserNotFound(username.to_string())),
            Err(other) => Err(other.into()),
        }
    }

    /// The target user if the session may see them. A session that may view only itself is
    /// refused alike for another user and for an unknown one: it learns nothing of who exists.
    pub(super) async fn viewable(&self, session: &Session, username: &str) -> PresenceResult<(User, CtiProfile)> {
        let actor = self.actor_profile(session).await?;
        let denied =
            || PresenceError::Forbidden(format!("You do not have permission to view the status of user {username}"));
        let target = match self.target(username).await {
            Err(PresenceError::UserNotFound(_)) if actor.fields.view_statuses != Scope::All => return Err(denied()),
            found => found?,
        };
        if !allows(actor.fields.view_statuses, session.user_id, target.id) {
            return Err(denied());
        }
        Ok((target, actor))
    }

    /// The catalog, checking the session still stands.
    pub async fn catalog(&self, session: &Session) -> PresenceResult<Vec<StatusMessage>> {
        self.actor_profile(session).await?;
        Ok(self.store.list_status_messages().await?)
    }

    /// The statuses `username` may select: `(stored username, ids in catalog order)`.
    pub async fn user_access(&self, session: &Session, username: &str) -> PresenceResult<(String, Vec<String>)> {
        let (target, _) = self.viewable(session, username).await?;
        let allowed = self.allowed_statuses(&target).await?;
        Ok((target.fields.username.unwrap_or_default(), allowed))
    }

    pub(super) async fn allowed_statuses(&self, target: &User) -> PresenceResult<Vec<String>> {
        let catalog = self.store.list_status_messages().await?;
        self.allowed_in(target, &catalog).await
    }

    /// The statuses `target` may select, resolved against an already read catalog.
    pub(super) async fn allowed_in(&self, target: &User, catalog: &[StatusMessage]) -> PresenceResult<Vec<String>> {
        let Some(profile_id) = target.cti_profile_id else {
            return Ok(Vec::new());
        };
        match self.store.get_cti_profile(profile_id).await {
            Ok(profile) => Ok(profile.fields.allowed_statuses.resolve(catalog)),
            Err(StoreError::NotFound) => Ok(Vec::new()),
            Err(other) => Err(other.into()),
        }
    }

    pub(super) async fn view_of(&self, target: User) -> PresenceResult<StatusView> {
        let status = match self.store.get_user_status(target.id).await {
            Ok(status) => status,
            Err(StoreError::NotFound) => {
                return Err(PresenceError::UserNotFound(target.fields.username.unwrap_or_default()));
            }
            Err(other) => return Err(other.into()),
        };
        let presence = self.sessions.presence_of(target.id);
        Ok(StatusView { username: target.fields.username.unwrap_or_default(), status, presence })
    }

    /// The session user's presence rights: `(profile name, view all, change all)`.
    pub async fn rights(&self, session: &Session) -> PresenceResult<(String, bool, bool)> {
        let profile = self.actor_profile(session).await?;
        Ok((
            profile.fields.name,
            profile.fields.view_statuses == Scope::All,
            profile.fields.change_statuses == Scope::All,
        ))
    }
}

fn stripe(user_id: i64) -> usize {
    usize::try_from(user_id.unsigned_abs()).unwrap_or(0) % LOCK_STRIPES
}

pub(super) fn random_start() -> u64 {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.next_u64() % 1_000_000_000_000 + 1
}

/// "Firstname Lastname".
pub(super) fn display_name(user: &User) -> String {
    format!("{} {}", user.fields.firstname, user.fields.lastname).trim().to_string()
}
