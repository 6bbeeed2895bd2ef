//! Presence use cases: login, the status catalog as a user sees it, reading and changing statuses.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::replication::{Cause, Topic};
use crate::auth::password;
use crate::auth::random::sha256_hex;
use crate::auth::throttle::FailureThrottle;
use crate::domain::auth_token::{AuthToken, MAX_SEED_LEN, TOKEN_LIFETIME_MS};
use crate::domain::cti_profile::CtiProfile;
use crate::domain::cti_profile::Scope;
use crate::domain::directory::{self, Entry, Field, Page};
use crate::domain::permissions::allows;
use crate::domain::presence::{self, ChangeError, StatusChange, UserStatus};
use crate::domain::station::StationLogin;
use crate::domain::status::StatusMessage;
use crate::domain::user::{User, username_key};
use crate::presence::mailbox::Kind;
use crate::presence::sessions::{NewSession, Session, SessionLimit, SessionLimits, Sessions, UserPresence};
use crate::presence::wire;
use crate::store::log::{EventLog, SessionWrite};
use crate::store::{Store, StoreError};

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

/// A user's status with what only the running server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    pub username: String,
    pub status: UserStatus,
    pub presence: UserPresence,
}

/// A login with a single-use token.
#[derive(Debug, Clone, Copy)]
pub struct TokenLogin<'a> {
    pub token: &'a str,
    pub seed: &'a str,
    /// The session that asked for the token, when the client names it.
    pub source_session: Option<&'a str>,
    pub disconnect_source: bool,
    pub application_name: &'a str,
}

/// One page of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPage {
    pub entries: Vec<Entry>,
    /// How many users satisfy the conditions.
    pub total: u64,
    /// The positions of `entries` in that list when a range was asked for (`None`: all of it).
    pub part: Option<(u64, u64)>,
}

/// Longest user name or password a login may carry.
const MAX_CREDENTIAL_LEN: usize = 256;

/// Stripes serialising status changes per user (read, apply, commit).
const LOCK_STRIPES: usize = 64;

pub struct Presence {
    pub(super) store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub server_name: Arc<str>,
    throttle: FailureThrottle,
    /// A valid hash checked when the user is unknown, so every failure costs the same.
    decoy_hash: String,
    next_request: AtomicU64,
    locks: Vec<tokio::sync::Mutex<()>>,
    pub(super) index: std::sync::RwLock<super::messaging::Index>,
    /// Orders publications of the catalog and of allowed statuses (each compares with the
    /// last one sent).
    pub(super) publication: tokio::sync::Mutex<()>,
    pub(super) idle_timeout: Duration,
    /// The shared event log when several instances serve one database (PostgreSQL).
    pub(super) log: Option<EventLog>,
    /// The number of the last log event applied here.
    pub(super) applied: tokio::sync::watch::Sender<i64>,
    /// Wakes the log reader.
    pub(super) wake: tokio::sync::Notify,
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
    pub fn new(store: Arc<dyn Store>, settings: PresenceSettings) -> Self {
        Self::with_log(store, settings, None)
    }

    /// A presence runtime that shares its sessions and changes with other instances through
    /// `log` (see [`super::replication`]).
    pub fn with_log(store: Arc<dyn Store>, settings: PresenceSettings, log: Option<EventLog>) -> Self {
        // With a shared log, idleness is judged from every instance's reports (`sweep`).
        let local_timeout = if log.is_some() { None } else { Some(settings.idle_timeout) };
        Self {
            store,
            sessions: Sessions::new(local_timeout, settings.queue_limit, settings.limits),
            idle_timeout: settings.idle_timeout,
            log,
            applied: tokio::sync::watch::Sender::new(0),
            wake: tokio::sync::Notify::new(),
            server_name: settings.server_name.into(),
            index: std::sync::RwLock::default(),
            publication: tokio::sync::Mutex::new(()),
            throttle: FailureThrottle::default(),
            decoy_hash: password::hash(&crate::auth::random::hex_token(16)),
            // Request ids stay unique across instances and restarts.
            next_request: AtomicU64::new(random_start()),
            locks: (0..LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Opens a session for a user with a CTI profile and a password.
    pub async fn login(
        &self,
        username: &str,
        password_text: &str,
        application_name: &str,
        address: Option<IpAddr>,
    ) -> PresenceResult<Arc<Session>> {
        let key = username_key(username);
        self.throttle.check(&key, address).map_err(PresenceError::Throttled)?;
        if username.len() > MAX_CREDENTIAL_LEN || password_text.len() > MAX_CREDENTIAL_LEN {
            self.throttle.record_failure(&key, address);
            return Err(PresenceError::AuthenticationFailed);
        }
        let candidate = match self.store.find_user_login(username).await {
            Ok((user, Some(hash))) if user.cti_profile_id.is_some() => Some((user, hash)),
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        let hash = candidate.as_ref().map_or_else(|| self.decoy_hash.clone(), |(_, h)| h.clone());
        let matches = password::verify_blocking(hash, password_text.to_string()).await;
        let Some((user, _)) = candidate.filter(|_| matches) else {
            self.throttle.record_failure(&key, address);
            return Err(PresenceError::AuthenticationFailed);
        };
        self.throttle.record_success(&key);
        self.open_session(user, application_name).await
    }

    /// Opens a session for `user`, who has just proved who they are.
    async fn open_session(&self, user: User, application_name: &str) -> PresenceResult<Arc<Session>> {
        let view_all = match user.cti_profile_id {
            Some(id) => self.store.get_cti_profile(id).await.is_ok_and(|p| p.fields.view_statuses == Scope::All),
            None => false,
        };
        let record = self
            .sessions
            .prepare(NewSession {
                user_id: user.id,
                display_name: display_name(&user),
                username: user.fields.username.clone().unwrap_or_default(),
                application_name: application_name.to_string(),
                view_all,
            })
            .map_err(PresenceError::SessionLimit)?;
        if let Some(log) = &self.log {
            let id = record.id.clone();
            let json = serde_json::to_string(&record).map_err(|_| PresenceError::Unavailable)?;
            let seq = log
                .write_session(&id, SessionWrite::Open { user_id: user.id, record: &json }, "session_opened", &json)
                .await?;
            self.wait_applied(seq).await?;
            return self.sessions.get(&id).ok_or(PresenceError::SessionEnded);
        }
        let session = self.sessions.insert(record);
        self.publish_status_locked(user.id).await;
        Ok(session)
    }

    /// A single-use token with which another application logs in as the session's user within
    /// a few seconds, presenting the same `seed`.
    pub async fn issue_auth_token(&self, session: &Session, seed: &str) -> PresenceResult<String> {
        self.actor_profile(session).await?;
        let token = crate::auth::random::hex_token(32);
        let now_ms = super::now_ms();
        let record = AuthToken {
            token_hash: sha256_hex(&token),
            seed_hash: sha256_hex(seed),
            user_id: session.user_id,
            source_session: session.id.clone(),
            expires_ms: now_ms + TOKEN_LIFETIME_MS,
        };
        self.store.add_auth_token(&record, now_ms).await?;
        Ok(token)
    }

    /// Opens a session with a token from [`Presence::issue_auth_token`]: once, within its
    /// lifetime, with its seed and (when named) its source session, for a user who still has a
    /// CTI profile. `disconnect_source` ends the session that asked for the token.
    pub async fn login_with_token(
        &self,
        login: TokenLogin<'_>,
        address: Option<IpAddr>,
    ) -> PresenceResult<Arc<Session>> {
        let key = format!("auth-token:{}", login.source_session.unwrap_or_default());
        self.throttle.check(&key, address).map_err(PresenceError::Throttled)?;
        let fail = || {
            self.throttle.record_failure(&key, address);
            PresenceError::AuthenticationFailed
        };
        if login.token.len() > MAX_CREDENTIAL_LEN || login.seed.len() > MAX_SEED_LEN {
            return Err(fail());
        }
        let Some(token) = self.store.take_auth_token(&sha256_hex(login.token)).await? else {
            return Err(fail());
        };
        if !token.admits(&sha256_hex(login.seed), login.source_session, super::now_ms()) {
            return Err(fail());
        }
        let user = match self.store.get_user(token.user_id).await {
            Ok(user) if user.cti_profile_id.is_some() => user,
            Ok(_) | Err(StoreError::NotFound) => return Err(fail()),
            Err(other) => return Err(other.into()),
        };
        self.throttle.record_success(&key);
        let session = self.open_session(user, login.application_name).await?;
        if login.disconnect_source
            && let Some(source) = self.sessions.get(&token.source_session)
        {
            self.logout(&source).await?;
        }
        Ok(session)
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Brings a user's `onPhone` in line with their lines' calls; a flip is committed with
    /// `at` (Unix seconds) as `onPhoneChanged` and published like any status change.
    pub async fn refresh_on_phone(&self, user_id: i64, at: i64) -> PresenceResult<()> {
        let _guard = self.user_lock(user_id).await;
        let on_phone = self.store.user_on_phone(user_id).await?;
        let mut status = match self.store.get_user_status(user_id).await {
            Ok(status) => status,
            Err(StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        if status.on_phone == on_phone {
            return Ok(());
        }
        status.on_phone = on_phone;
        status.on_phone_changed = at;
        match self.store.save_user_status(&status).await {
            Ok(()) => {
                if self.log.is_none() {
                    self.publish_status(user_id).await;
                }
                Ok(())
            }
            Err(StoreError::NotFound) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The lock that orders the changes of `user_id` (and their publication).
    pub(super) async fn user_lock(&self, user_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = usize::try_from(user_id.unsigned_abs()).unwrap_or(0) % LOCK_STRIPES;
        self.locks[stripe].lock().await
    }

    /// Publishes a user's status to subscribers, in order with the user's other changes.
    pub(super) async fn publish_status_locked(&self, user_id: i64) {
        let _guard = self.user_lock(user_id).await;
        self.publish_status(user_id).await;
    }

    /// The session user's current CTI profile; ends the session if they no longer have one.
    async fn actor_profile(&self, session: &Session) -> PresenceResult<CtiProfile> {
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

    pub async fn status(&self, session: &Session, username: &str) -> PresenceResult<StatusView> {
        let (target, _) = self.viewable(session, username).await?;
        self.view_of(target).await
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

    /// Changes `username`'s status and commits it; returns the request id.
    pub async fn change_status(
        &self,
        session: &Session,
        username: &str,
        change: StatusChange,
    ) -> PresenceResult<String> {
        let (target, actor) = self.viewable(session, username).await?;
        if !allows(actor.fields.change_statuses, session.user_id, target.id) {
            return Err(PresenceError::Forbidden(format!(
                "You do not have permission to change the status of user {}",
                target.fields.username.as_deref().unwrap_or(username)
            )));
        }
        let catalog = self.store.list_status_messages().await?;
        let allowed = self.allowed_in(&target, &catalog).await?;
        let _guard = self.user_lock(target.id).await;
        let current = self.store.get_user_status(target.id).await.map_err(|e| match e {
            StoreError::NotFound => PresenceError::UserNotFound(username.to_string()),
            other => other.into(),
        })?;
        let next =
            presence::apply(&current, change, &catalog, &allowed, super::now()).map_err(PresenceError::Invalid)?;
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed).to_string();
        let cause =
            self.log.as_ref().map(|_| Cause { session: session.id.clone(), request: request_id.clone() }.to_json());
        self.store.save_user_status_for(&next, cause.as_deref()).await.map_err(|e| match e {
            StoreError::NotFound => PresenceError::UserNotFound(username.to_string()),
            other => other.into(),
        })?;
        // With a shared log, every instance publishes the change and the completion as it
        // applies the logged change.
        if self.log.is_none() {
            self.publish_status(target.id).await;
            session.mailbox.push(Kind::Other, wire::async_completed(&request_id, None).into());
        }
        Ok(request_id)
    }

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
    async fn complete(&self, entries: &mut [Entry], extension: bool, status_text: bool) -> PresenceResult<()> {
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
    async fn extensions(&self, users: &[i64]) -> PresenceResult<HashMap<i64, String>> {
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

    /// The session user's presence rights: `(profile name, view all, change all)`.
    pub async fn rights(&self, session: &Session) -> PresenceResult<(String, bool, bool)> {
        let profile = self.actor_profile(session).await?;
        Ok((
            profile.fields.name,
            profile.fields.view_statuses == Scope::All,
            profile.fields.change_statuses == Scope::All,
        ))
    }

    /// Logs the session in to a station (`None`: logs it out).
    pub async fn set_station(&self, session: &Arc<Session>, station: Option<StationLogin>) -> PresenceResult<()> {
        self.actor_profile(session).await?;
        self.update_session(session, Topic::Station { station }).await
    }

    /// Subscribes the session to its station's state (`false`: unsubscribes); the current
    /// state follows a subscription.
    pub async fn subscribe_station(&self, session: &Arc<Session>, subscribe: bool) -> PresenceResult<()> {
        self.actor_profile(session).await?;
        let topic = if subscribe { Topic::StationState } else { Topic::NoStationState };
        self.update_session(session, topic).await
    }
}

fn random_start() -> u64 {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.next_u64() % 1_000_000_000_000 + 1
}

/// "Firstname Lastname".
fn display_name(user: &User) -> String {
    format!("{} {}", user.fields.firstname, user.fields.lastname).trim().to_string()
}
