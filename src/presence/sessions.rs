//! Open ICWS sessions, looked up in memory on every presence request.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;

use super::mailbox::Mailbox;
use crate::auth::random;
use crate::domain::station::{self, StationLogin};

/// What a session is subscribed to.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Subscriptions {
    /// Users whose statuses are pushed, in the order they were asked for.
    pub statuses: Vec<i64>,
    /// The user-status members to send (`None`: all).
    pub properties: Option<Vec<String>>,
    /// The status catalog.
    pub catalog: bool,
    /// Users whose allowed statuses are pushed.
    pub access: Vec<i64>,
    /// The session's own station login (`stationConnectionStateChangeMessage`).
    pub station: bool,
}

/// One logged-in presence client.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    /// The username in its stored spelling: the ICWS `userID`.
    pub username: String,
    pub display_name: String,
    pub application_name: String,
    pub csrf_token: String,
    pub cookie: String,
    last_seen_ms: AtomicU64,
    station: Mutex<Option<StationLogin>>,
    /// May this session see every user's status (its profile's `view_statuses: all`)?
    pub view_all: AtomicBool,
    pub mailbox: Mailbox,
    pub subscriptions: Mutex<Subscriptions>,
    open_streams: AtomicUsize,
}

/// Counts an open SSE stream of a session for as long as it lives.
pub struct StreamGuard(Arc<Session>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Session {
    /// What a session row holds of this session now.
    pub fn record(&self) -> SessionRecord {
        SessionRecord {
            id: self.id.clone(),
            user_id: self.user_id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            application_name: self.application_name.clone(),
            csrf_token: self.csrf_token.clone(),
            cookie: self.cookie.clone(),
            view_all: self.view_all.load(Ordering::Relaxed),
            station: self.station(),
            subscriptions: self.subscriptions().clone(),
        }
    }

    /// Marks an SSE stream open until the guard drops: the session does not expire meanwhile.
    pub fn open_stream(self: &Arc<Self>) -> StreamGuard {
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.clone())
    }

    pub fn subscriptions(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The station this session is logged in to, if any.
    pub fn station(&self) -> Option<StationLogin> {
        self.station.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the station login; returns the previous one.
    pub fn set_station(&self, station: Option<StationLogin>) -> Option<StationLogin> {
        std::mem::replace(&mut *self.station.lock().unwrap_or_else(|e| e.into_inner()), station)
    }
}

/// What every instance serving a session holds of it (the session row of a shared store).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub application_name: String,
    pub csrf_token: String,
    pub cookie: String,
    pub view_all: bool,
    #[serde(default, deserialize_with = "station::deserialize_login")]
    pub station: Option<StationLogin>,
    #[serde(default)]
    pub subscriptions: Subscriptions,
}

/// What a user's open sessions show of them in their status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPresence {
    /// The stations their sessions are logged in to, sorted, without duplicates.
    pub stations: Vec<String>,
    /// Logged in to a station (or stationless) in any session.
    pub logged_in: bool,
    pub has_session: bool,
}

/// Who a new session is for.
pub struct NewSession {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub application_name: String,
    pub view_all: bool,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Arc<Session>>,
    /// Each user's sessions, so questions about one user never walk every session.
    by_user: HashMap<i64, Vec<Arc<Session>>>,
}

impl Inner {
    fn remove_from_user(&mut self, session: &Arc<Session>) {
        if let Some(list) = self.by_user.get_mut(&session.user_id) {
            list.retain(|s| !Arc::ptr_eq(s, session));
            if list.is_empty() {
                self.by_user.remove(&session.user_id);
            }
        }
    }
}

/// How many sessions may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub per_user: usize,
    pub total: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self { per_user: 20, total: 100_000 }
    }
}

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLimit {
    /// The user already has as many live sessions as allowed.
    PerUser,
    /// The server holds as many sessions as allowed.
    Total,
}

/// Why a session request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRejection {
    Unknown,
    BadCookie,
    BadToken,
}

pub struct Sessions {
    inner: RwLock<Inner>,
    /// `None`: sessions end only when told (a shared store judges idleness).
    idle_timeout: Option<Duration>,
    queue_limit: usize,
    limits: SessionLimits,
    epoch: Instant,
    /// The least id of the next mailbox message (see [`Mailbox::new`]).
    id_floor: Arc<AtomicU64>,
    /// Sessions used since the last [`Sessions::take_touched`].
    touched: Mutex<HashSet<String>>,
}

fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    pub fn new(idle_timeout: Option<Duration>, queue_limit: usize, limits: SessionLimits) -> Self {
        Self {
            inner: RwLock::default(),
            idle_timeout,
            queue_limit,
            limits,
            epoch: Instant::now(),
            id_floor: Arc::default(),
            touched: Mutex::default(),
        }
    }

    /// Messages queued from now on get ids of at least `floor`.
    pub fn set_id_floor(&self, floor: u64) {
        self.id_floor.store(floor, Ordering::Relaxed);
    }

    /// The sessions used since the last call, and those with an open stream.
    pub fn take_touched(&self) -> Vec<String> {
        let mut ids: HashSet<String> = std::mem::take(&mut *self.touched.lock().unwrap_or_else(|e| e.into_inner()));
        ids.extend(
            self.read().by_id.values().filter(|s| s.open_streams.load(Ordering::Relaxed) > 0).map(|s| s.id.clone()),
        );
        ids.into_iter().collect()
    }

    fn mark_touched(&self, id: &str) {
        if self.idle_timeout.is_none() {
            self.touched.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string());
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A record for a new session with a fresh id, CSRF token and cookie, within the limits.
    /// Sessions that have gone idle but are not swept yet do not count.
    pub fn prepare(&self, new: NewSession) -> Result<SessionRecord, SessionLimit> {
        let inner = self.read();
        let now = self.now_ms();
        let live_of_user =
            inner.by_user.get(&new.user_id).map_or(0, |list| list.iter().filter(|s| !self.is_idle(s, now)).count());
        if live_of_user >= self.limits.per_user {
            return Err(SessionLimit::PerUser);
        }
        if inner.by_id.len() >= self.limits.total {
            return Err(SessionLimit::Total);
        }
        let id = loop {
            let candidate = (OsRng.next_u64() % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000).to_string();
            if !inner.by_id.contains_key(&candidate) {
                break candidate;
            }
        };
        Ok(SessionRecord {
            id,
            user_id: new.user_id,
            username: new.username,
            display_name: new.display_name,
            application_name: new.application_name,
            csrf_token: random::hex_token(16),
            cookie: random::hex_token(16),
            view_all: new.view_all,
            station: None,
            subscriptions: Subscriptions::default(),
        })
    }

    /// Holds the session of `record` (replacing one with its id).
    pub fn insert(&self, record: SessionRecord) -> Arc<Session> {
        let session = Arc::new(Session {
            id: record.id.clone(),
            user_id: record.user_id,
            username: record.username,
            display_name: record.display_name,
            application_name: record.application_name,
            csrf_token: record.csrf_token,
            cookie: record.cookie,
            last_seen_ms: AtomicU64::new(self.now_ms()),
            station: Mutex::new(record.station),
            view_all: AtomicBool::new(record.view_all),
            mailbox: Mailbox::new(self.queue_limit, self.id_floor.clone()),
            subscriptions: Mutex::new(record.subscriptions),
            open_streams: AtomicUsize::new(0),
        });
        let mut inner = self.write();
        if let Some(replaced) = inner.by_id.insert(record.id, session.clone()) {
            inner.remove_from_user(&replaced);
        }
        inner.by_user.entry(record.user_id).or_default().push(session.clone());
        session
    }

    /// Opens a session within the limits (see [`Sessions::prepare`]).
    pub fn create(&self, new: NewSession) -> Result<Arc<Session>, SessionLimit> {
        let record = self.prepare(new)?;
        Ok(self.insert(record))
    }

    /// The live session `id`, if `cookie` (and `csrf_token` when required) match; marks it active.
    pub fn authenticate(
        &self,
        id: &str,
        cookie: Option<&str>,
        csrf_token: Option<&str>,
        require_token: bool,
    ) -> Result<Arc<Session>, SessionRejection> {
        let session = self.read().by_id.get(id).cloned().ok_or(SessionRejection::Unknown)?;
        let now = self.now_ms();
        if self.is_idle(&session, now) {
            return Err(SessionRejection::Unknown);
        }
        if !cookie.is_some_and(|c| equal(c, &session.cookie)) {
            return Err(SessionRejection::BadCookie);
        }
        if require_token && !csrf_token.is_some_and(|t| equal(t, &session.csrf_token)) {
            return Err(SessionRejection::BadToken);
        }
        session.last_seen_ms.store(now, Ordering::Relaxed);
        self.mark_touched(&session.id);
        Ok(session)
    }

    fn is_idle(&self, session: &Session, now_ms: u64) -> bool {
        let Some(timeout) = self.idle_timeout else {
            return false;
        };
        let idle = now_ms.saturating_sub(session.last_seen_ms.load(Ordering::Relaxed));
        session.open_streams.load(Ordering::Relaxed) == 0 && u128::from(idle) > timeout.as_millis()
    }

    /// Marks a session active.
    pub fn touch(&self, session: &Session) {
        session.last_seen_ms.store(self.now_ms(), Ordering::Relaxed);
        self.mark_touched(&session.id);
    }

    /// Removes one session; `None` if it was not open.
    pub fn end(&self, id: &str) -> Option<Arc<Session>> {
        let mut inner = self.write();
        let session = inner.by_id.remove(id)?;
        inner.remove_from_user(&session);
        Some(session)
    }

    /// Removes every session of a user (profile removed, user deleted).
    pub fn end_user(&self, user_id: i64) -> Vec<Arc<Session>> {
        let mut inner = self.write();
        let list = inner.by_user.remove(&user_id).unwrap_or_default();
        list.iter().filter_map(|s| inner.by_id.remove(&s.id)).collect()
    }

    /// Removes sessions idle for longer than the timeout (an open stream keeps one alive).
    pub fn sweep(&self) -> Vec<Arc<Session>> {
        let now = self.now_ms();
        let expired: Vec<String> =
            self.read().by_id.values().filter(|s| self.is_idle(s, now)).map(|s| s.id.clone()).collect();
        expired.iter().filter_map(|id| self.end(id)).collect()
    }

    /// Every open session.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.read().by_id.values().cloned().collect()
    }

    /// The open session `id`, without authentication.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.read().by_id.get(id).cloned()
    }

    /// The open sessions of a user.
    pub fn of_user(&self, user_id: i64) -> Vec<Arc<Session>> {
        self.read().by_user.get(&user_id).cloned().unwrap_or_default()
    }

    /// What a user's sessions show of them: their stations, whether they are logged in to
    /// any (a stationless login counts) and whether they have any open session.
    pub fn presence_of(&self, user_id: i64) -> UserPresence {
        let inner = self.read();
        let Some(list) = inner.by_user.get(&user_id) else {
            return UserPresence::default();
        };
        let mut shown = UserPresence { has_session: true, ..UserPresence::default() };
        for session in list {
            if let Some(login) = &*session.station.lock().unwrap_or_else(|e| e.into_inner()) {
                shown.logged_in = true;
                shown.stations.extend(login.station_name().map(str::to_string));
            }
        }
        shown.stations.sort();
        shown.stations.dedup();
        shown
    }

    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_open(sessions: &Sessions, user_id: i64) -> Result<Arc<Session>, SessionLimit> {
        sessions.create(NewSession {
            user_id,
            username: format!("u{user_id}"),
            display_name: String::new(),
            application_name: "test".into(),
            view_all: true,
        })
    }

    fn open(sessions: &Sessions, user_id: i64) -> Arc<Session> {
        try_open(sessions, user_id).expect("within the limits")
    }

    #[test]
    fn sessions_are_capped_per_user_and_in_all() {
        let sessions = Sessions::new(Some(Duration::from_secs(60)), 100, SessionLimits { per_user: 2, total: 3 });
        let first = open(&sessions, 1);
        open(&sessions, 1);
        assert_eq!(try_open(&sessions, 1).err(), Some(SessionLimit::PerUser));
        open(&sessions, 2);
        assert_eq!(try_open(&sessions, 3).err(), Some(SessionLimit::Total));
        sessions.end(&first.id);
        assert!(try_open(&sessions, 1).is_ok(), "an ended session frees its place");
    }

    #[test]
    fn idle_sessions_do_not_count_against_the_user() {
        let sessions = Sessions::new(Some(Duration::ZERO), 100, SessionLimits { per_user: 1, total: 10 });
        open(&sessions, 1);
        std::thread::sleep(Duration::from_millis(2));
        assert!(try_open(&sessions, 1).is_ok());
    }

    #[test]
    fn cookie_and_token_must_both_match() {
        let sessions = Sessions::new(Some(Duration::from_secs(60)), 100, SessionLimits::default());
        let s = open(&sessions, 1);
        assert!(s.id.bytes().all(|b| b.is_ascii_digit()));
        assert!(sessions.authenticate(&s.id, Some(&s.cookie), Some(&s.csrf_token), true).is_ok());
        assert_eq!(
            sessions.authenticate(&s.id, Some("x"), Some(&s.csrf_token), true).err(),
            Some(SessionRejection::BadCookie)
        );
        assert_eq!(sessions.authenticate(&s.id, Some(&s.cookie), None, true).err(), Some(SessionRejection::BadToken));
        assert!(sessions.authenticate(&s.id, Some(&s.cookie), None, false).is_ok());
        let other = open(&sessions, 2);
        assert!(sessions.authenticate(&other.id, Some(&s.cookie), Some(&s.csrf_token), true).is_err());
    }

    #[test]
    fn ending_a_user_ends_all_their_sessions() {
        let sessions = Sessions::new(Some(Duration::from_secs(60)), 100, SessionLimits::default());
        let (a, b, c) = (open(&sessions, 1), open(&sessions, 1), open(&sessions, 2));
        a.set_station(Some(StationLogin::Workstation { workstation: "7001".into() }));
        b.set_station(Some(StationLogin::Stationless));
        let shown = UserPresence { stations: vec!["7001".to_string()], logged_in: true, has_session: true };
        assert_eq!(sessions.presence_of(1), shown);
        sessions.end_user(1);
        for s in [&a, &b] {
            assert_eq!(
                sessions.authenticate(&s.id, Some(&s.cookie), None, false).err(),
                Some(SessionRejection::Unknown)
            );
        }
        assert!(sessions.authenticate(&c.id, Some(&c.cookie), None, false).is_ok());
        assert_eq!(sessions.presence_of(1), UserPresence::default());
    }

    #[test]
    fn an_open_stream_keeps_a_session_alive() {
        let sessions = Sessions::new(Some(Duration::ZERO), 100, SessionLimits::default());
        let s = open(&sessions, 1);
        let guard = s.open_stream();
        std::thread::sleep(Duration::from_millis(5));
        assert!(sessions.sweep().is_empty());
        drop(guard);
        assert_eq!(sessions.sweep().len(), 1);
    }

    #[test]
    fn idle_sessions_expire() {
        let sessions = Sessions::new(Some(Duration::ZERO), 100, SessionLimits::default());
        let s = open(&sessions, 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(sessions.sweep().len(), 1);
        assert!(sessions.is_empty());
        assert!(sessions.authenticate(&s.id, Some(&s.cookie), None, false).is_err());
    }
}
