//! Several instances on one PostgreSQL database as one service.
//!
//! Every change an instance must react to is a numbered event in the shared log, in commit
//! order: data changes (logged by triggers in the transaction that makes them) and presence
//! session changes (logins, logouts, subscriptions, stations). Each instance applies the whole
//! log in order, so each holds every session, with the same subscriptions and the same queued
//! messages under the same ids; a message queued while applying event `n` gets an id from
//! `n × 65536`. A request first waits until its instance has applied everything committed
//! before it (one query for the log's head), so any instance answers for any session, and an
//! instance that cannot reach the database answers 503 rather than from a state it cannot
//! check. Handing messages to a client records the last id in the session row, so the next
//! poll on another instance starts after it.
//!
//! Without a log (SQLite, one process) the same changes are applied directly.

use std::sync::Arc;
use std::time::Duration;

use super::messaging::EndReason;
use super::presence::{Presence, PresenceError, PresenceResult};
use crate::domain::presence::{Until, UserStatus};
use crate::domain::station::{self, StationLogin};
use crate::presence::mailbox::Kind;
use crate::presence::sessions::{Session, SessionRecord};
use crate::presence::wire;
use crate::store::log::{EventLog, LoggedEvent, SessionWrite};
use crate::store::{Forget, StoreResult};

/// Ids the messages queued while applying one event may take.
const IDS_PER_EVENT: u64 = 1 << 16;
/// Longest a request waits for its instance to apply what was committed before it.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// Events read from the log at a time.
const BATCH: i64 = 500;

/// The presence request that caused a status change: its session gets the completion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cause {
    pub session: String,
    pub request: String,
}

impl Cause {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A change of what a session follows, or of its station.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum Topic {
    Statuses {
        users: Vec<i64>,
        properties: Option<Vec<String>>,
    },
    NoStatuses,
    Catalog,
    NoCatalog,
    Access {
        users: Vec<i64>,
    },
    NoAccess,
    Station {
        #[serde(default, deserialize_with = "station::deserialize_login")]
        station: Option<StationLogin>,
    },
    /// The session's own station state (`stationConnectionStateChangeMessage`).
    StationState,
    NoStationState,
}

impl Topic {
    /// The session record once this change is applied.
    fn apply_to(&self, record: &mut SessionRecord) {
        let subscriptions = &mut record.subscriptions;
        match self {
            Self::Statuses { users, properties } => {
                subscriptions.statuses.clone_from(users);
                subscriptions.properties.clone_from(properties);
            }
            Self::NoStatuses => {
                subscriptions.statuses.clear();
                subscriptions.properties = None;
            }
            Self::Catalog => subscriptions.catalog = true,
            Self::NoCatalog => subscriptions.catalog = false,
            Self::Access { users } => subscriptions.access.clone_from(users),
            Self::NoAccess => subscriptions.access.clear(),
            Self::Station { station } => record.station.clone_from(station),
            Self::StationState => subscriptions.station = true,
            Self::NoStationState => subscriptions.station = false,
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SessionTopic {
    id: String,
    #[serde(flatten)]
    topic: Topic,
}

/// A `user_statuses` row as the log carries it.
#[derive(serde::Deserialize)]
struct StatusRow {
    user_id: i64,
    status_id: String,
    notes: Option<String>,
    forward_number: Option<String>,
    until_at: Option<i64>,
    has_date: bool,
    has_time: bool,
    status_changed: i64,
    on_phone: bool,
    on_phone_changed: i64,
}

impl StatusRow {
    fn into_status(self) -> UserStatus {
        UserStatus {
            user_id: self.user_id,
            status_id: self.status_id,
            notes: self.notes,
            forward_number: self.forward_number,
            until: self.until_at.map(|at| Until { at, has_date: self.has_date, has_time: self.has_time }),
            status_changed: self.status_changed,
            on_phone: self.on_phone,
            on_phone_changed: self.on_phone_changed,
        }
    }
}

#[derive(serde::Deserialize)]
struct StatusEvent {
    status: StatusRow,
    cause: Option<Cause>,
}

#[derive(serde::Deserialize)]
struct Ended {
    id: String,
    reason: Option<EndReason>,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// A configuration change the presence side reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The status catalog.
    Catalog,
    /// Any CTI profile.
    Profiles,
    /// A user's CTI profile was set or replaced.
    Rights(i64),
    /// A user lost their CTI profile.
    ProfileRemoved(i64),
    UserDeleted(i64),
}

impl Presence {
    /// Reacts to a configuration change made through this instance: at once without a log;
    /// with one, every instance reacts as it applies the change's log entry (written by the
    /// database in the change's transaction), this one included.
    pub async fn changed(&self, change: Changed) {
        if self.log.is_some() {
            return;
        }
        match change {
            Changed::Catalog => self.catalog_changed().await,
            Changed::Profiles => self.rights_changed(None).await,
            Changed::Rights(user) => self.rights_changed(Some(&[user])).await,
            Changed::ProfileRemoved(user) => self.user_removed(user, EndReason::ProfileRemoved).await,
            Changed::UserDeleted(user) => self.user_removed(user, EndReason::UserRemoved).await,
        }
    }

    /// Whether this instance shares its sessions with others through a log.
    pub fn is_replicated(&self) -> bool {
        self.log.is_some()
    }

    /// Applies a change of a session's subscriptions or station: here, or through the log.
    pub(super) async fn update_session(&self, session: &Arc<Session>, topic: Topic) -> PresenceResult<()> {
        let Some(log) = &self.log else {
            self.apply_topic(session, topic).await;
            return Ok(());
        };
        let mut record = session.record();
        topic.apply_to(&mut record);
        let record = serde_json::to_string(&record).map_err(|_| PresenceError::Unavailable)?;
        let payload = serde_json::to_string(&SessionTopic { id: session.id.clone(), topic })
            .map_err(|_| PresenceError::Unavailable)?;
        let seq = log.write_session(&session.id, SessionWrite::Update { record: &record }, "session", &payload).await?;
        if seq == 0 {
            return Err(PresenceError::SessionEnded);
        }
        self.wait_applied(seq).await
    }

    /// Waits until this instance has applied event `seq`.
    pub(super) async fn wait_applied(&self, seq: i64) -> PresenceResult<()> {
        if *self.applied.borrow() >= seq {
            return Ok(());
        }
        self.wake.notify_one();
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(SYNC_TIMEOUT, applied.wait_for(|a| *a >= seq)).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                tracing::warn!(seq, "the event log is not applied in time");
                Err(PresenceError::Unavailable)
            }
        }
    }

    /// Brings this instance up to every change committed so far, by any instance.
    /// `Unavailable` when the database cannot tell.
    pub async fn sync(&self) -> PresenceResult<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let head = log.head().await?;
        self.wait_applied(head).await
    }

    /// Before handing a session's messages out: syncs, and drops what another instance has
    /// already handed to the client.
    pub async fn sync_mailbox(&self, session: &Session) -> PresenceResult<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let (head, drained) = log.head_and_drained(&session.id).await?;
        self.wait_applied(head).await?;
        if let Some(drained) = drained {
            session.mailbox.discard_through(seq_u64(drained));
        }
        Ok(())
    }

    /// Records, without waiting, that the event stream of `session` has written every message
    /// up to id `upto` (see [`EventLog::set_streamed`]).
    pub fn record_streamed(&self, session: &Session, upto: u64) {
        if let Some(log) = &self.log {
            log.set_streamed(&session.id, i64::try_from(upto).unwrap_or(i64::MAX));
        }
    }

    /// Records that the client of `session` has every message up to id `upto`.
    pub async fn record_drained(&self, session: &Session, upto: u64) -> PresenceResult<()> {
        if let Some(log) = &self.log {
            log.set_drained(&session.id, i64::try_from(upto).unwrap_or(i64::MAX)).await?;
        }
        Ok(())
    }

    /// Loads the open sessions, then applies the log as it grows, forever: woken by
    /// `NOTIFY`, by requests waiting for it, and once a second in case a wake-up was missed.
    /// A lost connection is retried; the log is read from where this instance stopped.
    pub async fn follow_log(self: Arc<Self>) {
        let Some(log) = self.log.clone() else {
            return;
        };
        tokio::spawn(listen(self.clone(), log.clone()));
        let mut loaded = false;
        loop {
            let step =
                if loaded { self.catch_up(&log).await } else { self.load_sessions(&log).await.map(|()| loaded = true) };
            if let Err(err) = step {
                tracing::error!(error = %err, "reading the event log failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            if loaded {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn catch_up(&self, log: &EventLog) -> StoreResult<()> {
        loop {
            let applied = *self.applied.borrow();
            let events = log.after(applied, BATCH).await?;
            let Some(first) = events.first() else {
                return Ok(());
            };
            // A gap is normal (a rolled-back transaction took a number) unless the events
            // after this instance's position were purged: then it starts again from the tables.
            if first.seq > applied + 1 && log.floor().await? > applied + 1 {
                tracing::warn!(applied, first = first.seq, "the event log was purged past this instance; reloading");
                self.load_sessions(log).await?;
                continue;
            }
            for event in events {
                self.apply_logged(&event).await;
                self.applied.send_replace(event.seq);
            }
        }
    }

    /// Takes every open session from the session table (at start, or after falling behind
    /// the log's retention). Sessions that follow statuses get a fresh full state.
    async fn load_sessions(&self, log: &EventLog) -> StoreResult<()> {
        let (head, rows) = log.sessions().await?;
        self.store.forget(Forget::Everything);
        self.sessions.set_id_floor(seq_u64(head) * IDS_PER_EVENT + IDS_PER_EVENT / 2);
        let open: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        for gone in self.sessions.all().into_iter().filter(|s| !open.contains(s.id.as_str())) {
            self.end_session(&gone.id, None).await;
        }
        for row in &rows {
            let Ok(record) = serde_json::from_str::<SessionRecord>(&row.record) else {
                tracing::error!(session = %row.id, "unreadable session row skipped");
                continue;
            };
            let session = match self.sessions.get(&row.id) {
                Some(session) => session,
                None => self.sessions.insert(record),
            };
            session.mailbox.discard_through(seq_u64(row.drained));
            self.reindex(&session).await;
        }
        self.applied.send_replace(head);
        tracing::info!(sessions = rows.len(), head, "sessions loaded from the database");
        Ok(())
    }

    /// Applies one logged event here.
    async fn apply_logged(&self, event: &LoggedEvent) {
        self.sessions.set_id_floor(seq_u64(event.seq).saturating_mul(IDS_PER_EVENT));
        let payload = event.payload.as_deref().unwrap_or_default();
        match (event.kind.as_str(), event.user_id) {
            ("status", Some(user)) => {
                let (status, cause) = match serde_json::from_str::<StatusEvent>(payload) {
                    Ok(change) => (Some(change.status.into_status()), change.cause),
                    Err(_) => (None, None),
                };
                {
                    // Published as committed, not as read later: every instance sends the same.
                    let _guard = self.user_lock(user).await;
                    match &status {
                        Some(status) => self.store.remember_status(status),
                        None => self.store.forget(Forget::Status(user)),
                    }
                    self.publish_status(user).await;
                }
                if let Some(cause) = cause
                    && let Some(session) = self.sessions.get(&cause.session)
                {
                    session.mailbox.push(Kind::Other, wire::async_completed(&cause.request, None).into());
                }
            }
            ("user", Some(user)) => self.store.forget(Forget::User(user)),
            ("rights", Some(user)) => {
                self.store.forget(Forget::User(user));
                self.rights_changed(Some(&[user])).await;
            }
            ("profile_removed", Some(user)) => {
                self.store.forget(Forget::User(user));
                self.user_removed(user, EndReason::ProfileRemoved).await;
            }
            ("user_deleted", Some(user)) => {
                self.store.forget(Forget::User(user));
                self.store.forget(Forget::Status(user));
                self.user_removed(user, EndReason::UserRemoved).await;
            }
            ("profiles", _) => {
                self.store.forget(Forget::Profiles);
                self.rights_changed(None).await;
            }
            ("catalog", _) => {
                self.store.forget(Forget::Catalog);
                self.catalog_changed().await;
            }
            ("session_opened", _) => match serde_json::from_str::<SessionRecord>(payload) {
                Ok(record) => {
                    let user = record.user_id;
                    self.sessions.insert(record);
                    self.publish_status_locked(user).await;
                }
                Err(err) => tracing::error!(seq = event.seq, error = %err, "unreadable session event"),
            },
            ("session_ended", _) => match serde_json::from_str::<Ended>(payload) {
                Ok(ended) => self.end_session(&ended.id, ended.reason).await,
                Err(err) => tracing::error!(seq = event.seq, error = %err, "unreadable session event"),
            },
            ("session", _) => match serde_json::from_str::<SessionTopic>(payload) {
                Ok(change) => {
                    if let Some(session) = self.sessions.get(&change.id) {
                        self.apply_topic(&session, change.topic).await;
                    }
                }
                Err(err) => tracing::error!(seq = event.seq, error = %err, "unreadable session event"),
            },
            (kind, _) => tracing::warn!(seq = event.seq, kind, "unknown event kind ignored"),
        }
    }
}

/// Wakes the log reader on every `NOTIFY`; after a lost connection, once reconnected.
async fn listen(presence: Arc<Presence>, log: EventLog) {
    loop {
        match log.listener().await {
            Ok(mut listener) => loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => presence.wake.notify_one(),
                    // The connection dropped: what was notified meanwhile is read from the log.
                    Ok(None) => presence.wake.notify_one(),
                    Err(err) => {
                        tracing::warn!(error = %err, "the event log listener failed; reconnecting");
                        break;
                    }
                }
            },
            Err(err) => tracing::warn!(error = %err, "cannot listen to the event log; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
