//! Open ICWS sessions, looked up in memory on every presence request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;

use super::mailbox::Mailbox;
use crate::auth::random::{self, sha256_hex};
use crate::domain::session::{SessionRecord, Subscriptions, UserPresence};
use crate::domain::station::StationLogin;

/// One logged-in presence client.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    /// The username in its stored spelling: the ICWS `userID`.
    pub username: String,
    pub display_name: String,
    pub application_name: String,
    /// SHA-256 (hex) of the CSRF token and of the cookie: the credentials are never kept.
    csrf_hash: String,
    cookie_hash: String,
    station: Mutex<Option<StationLogin>>,
    /// May this session see every user's status (its profile's `view_statuses: all`)?
    pub view_all: AtomicBool,
    pub mailbox: Mailbox,
    pub subscriptions: Mutex<Subscriptions>,
    open_streams: AtomicUsize,
    /// Used since the last [`Sessions::take_touched`] (one store per request, no lock).
    touched: AtomicBool,
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
            csrf_hash: self.csrf_hash.clone(),
            cookie_hash: self.cookie_hash.clone(),
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

/// The credentials of a new session, given once to its client.
pub struct Secrets {
    pub cookie: String,
    pub csrf_token: String,
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

/// The sessions this instance serves. They end only when the log says so: idleness is judged
/// from the session rows, which every instance reports its activity to.
pub struct Sessions {
    inner: RwLock<Inner>,
    queue_limit: usize,
    limits: SessionLimits,
    /// The least id of the next mailbox message (see [`Mailbox::new`]).
    id_floor: Arc<AtomicU64>,
}

/// Whether `presented` is the credential whose hash is `hash` (compared in constant time).
fn matches(presented: &str, hash: &str) -> bool {
    bool::from(sha256_hex(presented).as_bytes().ct_eq(hash.as_bytes()))
}

impl Sessions {
    pub fn new(queue_limit: usize, limits: SessionLimits) -> Self {
        Self { inner: RwLock::default(), queue_limit, limits, id_floor: Arc::default() }
    }

    /// Messages queued from now on get ids of at least `floor`.
    pub fn set_id_floor(&self, floor: u64) {
        self.id_floor.store(floor, Ordering::Relaxed);
    }

    /// The sessions used since the last call, and those with an open stream.
    pub fn take_touched(&self) -> Vec<String> {
        self.read()
            .by_id
            .values()
            .filter(|s| s.touched.swap(false, Ordering::Relaxed) || s.open_streams.load(Ordering::Relaxed) > 0)
            .map(|s| s.id.clone())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A record for a new session with a fresh id, CSRF token and cookie, within the limits;
    /// and the credentials in clear, for its client.
    pub fn prepare(&self, new: NewSession) -> Result<(SessionRecord, Secrets), SessionLimit> {
        let inner = self.read();
        let live_of_user = inner.by_user.get(&new.user_id).map_or(0, Vec::len);
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
        let secrets = Secrets { cookie: random::hex_token(16), csrf_token: random::hex_token(16) };
        let record = SessionRecord {
            id,
            user_id: new.user_id,
            username: new.username,
            display_name: new.display_name,
            application_name: new.application_name,
            csrf_hash: sha256_hex(&secrets.csrf_token),
            cookie_hash: sha256_hex(&secrets.cookie),
            view_all: new.view_all,
            station: None,
            subscriptions: Subscriptions::default(),
        };
        Ok((record, secrets))
    }

    /// Holds the session of `record` (replacing one with its id).
    pub fn insert(&self, record: SessionRecord) -> Arc<Session> {
        let session = Arc::new(Session {
            id: record.id.clone(),
            user_id: record.user_id,
            username: record.username,
            display_name: record.display_name,
            application_name: record.application_name,
            csrf_hash: record.csrf_hash,
            cookie_hash: record.cookie_hash,
            station: Mutex::new(record.station),
            view_all: AtomicBool::new(record.view_all),
            mailbox: Mailbox::new(self.queue_limit, self.id_floor.clone()),
            subscriptions: Mutex::new(record.subscriptions),
            open_streams: AtomicUsize::new(0),
            touched: AtomicBool::new(false),
        });
        let mut inner = self.write();
        if let Some(replaced) = inner.by_id.insert(record.id, session.clone()) {
            inner.remove_from_user(&replaced);
        }
        inner.by_user.entry(record.user_id).or_default().push(session.clone());
        session
    }

    /// Opens a session within the limits (see [`Sessions::prepare`]).
    pub fn create(&self, new: NewSession) -> Result<(Arc<Session>, Secrets), SessionLimit> {
        let (record, secrets) = self.prepare(new)?;
        Ok((self.insert(record), secrets))
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
        if !cookie.is_some_and(|c| matches(c, &session.cookie_hash)) {
            return Err(SessionRejection::BadCookie);
        }
        if require_token && !csrf_token.is_some_and(|t| matches(t, &session.csrf_hash)) {
            return Err(SessionRejection::BadToken);
        }
        session.touched.store(true, Ordering::Relaxed);
        Ok(session)
    }

    /// Marks a session active.
    pub fn touch(&self, session: &Session) {
        session.touched.store(true, Ordering::Relaxed);
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

    fn try_open(sessions: &Sessions, user_id: i64) -> Result<(Arc<Session>, Secrets), SessionLimit> {
        sessions.create(NewSession {
            user_id,
            username: format!("u{user_id}"),
            display_name: String::new(),
            application_name: "test".into(),
            view_all: true,
        })
    }

    fn open(sessions: &Sessions, user_id: i64) -> (Arc<Session>, Secrets) {
        try_open(sessions, user_id).expect("within the limits")
    }

    #[test]
    fn sessions_are_capped_per_user_and_in_all() {
        let sessions = Sessions::new(100, SessionLimits { per_user: 2, total: 3 });
        let (first, _) = open(&sessions, 1);
        open(&sessions, 1);
        assert_eq!(try_open(&sessions, 1).err(), Some(SessionLimit::PerUser));
        open(&sessions, 2);
        assert_eq!(try_open(&sessions, 3).err(), Some(SessionLimit::Total));
        sessions.end(&first.id);
        assert!(try_open(&sessions, 1).is_ok(), "an ended session frees its place");
    }

    #[test]
    fn cookie_and_token_must_both_match() {
        let sessions = Sessions::new(100, SessionLimits::default());
        let (s, secrets) = open(&sessions, 1);
        let (cookie, token) = (secrets.cookie.as_str(), secrets.csrf_token.as_str());
        assert!(s.id.bytes().all(|b| b.is_ascii_digit()));
        assert!(sessions.authenticate(&s.id, Some(cookie), Some(token), true).is_ok());
        assert_eq!(sessions.authenticate(&s.id, Some("x"), Some(token), true).err(), Some(SessionRejection::BadCookie));
        assert_eq!(sessions.authenticate(&s.id, Some(cookie), None, true).err(), Some(SessionRejection::BadToken));
        assert!(sessions.authenticate(&s.id, Some(cookie), None, false).is_ok());
        let record = s.record();
        assert_ne!(record.cookie_hash, cookie, "only the hash is kept");
        assert_ne!(record.csrf_hash, token, "only the hash is kept");
        let (other, _) = open(&sessions, 2);
        assert!(sessions.authenticate(&other.id, Some(cookie), Some(token), true).is_err());
    }

    #[test]
    fn ending_a_user_ends_all_their_sessions() {
        let sessions = Sessions::new(100, SessionLimits::default());
        let ((a, a_secrets), (b, b_secrets), (c, c_secrets)) =
            (open(&sessions, 1), open(&sessions, 1), open(&sessions, 2));
        a.set_station(Some(StationLogin::Workstation { workstation: "7001".into() }));
        b.set_station(Some(StationLogin::Stationless));
        let shown = UserPresence { stations: vec!["7001".to_string()], logged_in: true, has_session: true };
        assert_eq!(sessions.presence_of(1), shown);
        sessions.end_user(1);
        for (s, secrets) in [(&a, &a_secrets), (&b, &b_secrets)] {
            assert_eq!(
                sessions.authenticate(&s.id, Some(&secrets.cookie), None, false).err(),
                Some(SessionRejection::Unknown)
            );
        }
        assert!(sessions.authenticate(&c.id, Some(&c_secrets.cookie), None, false).is_ok());
        assert_eq!(sessions.presence_of(1), UserPresence::default());
    }
}
