//! The event log: every change the presence engine reacts to, numbered in commit order and
//! written in the transaction that makes the change, on both stores; and the presence
//! session rows written with their events.
//!
//! An event is stored as a kind, an optional user id and an optional JSON payload; this module
//! is the only place that knows those encodings (the SQL triggers of the migrations write the
//! kinds `user`, `rights`, `profile_removed`, `user_deleted`, `profiles` and `catalog`).

use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::history::{ActorType, HistoryKind, HistoryValues};
use crate::domain::presence::UserStatus;
use crate::domain::session::{Actor, Cause, EndReason, SessionRecord, Topic};

/// A change, as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user's status was committed (as it was committed), with who changed it and the
    /// request that caused it.
    Status {
        status: UserStatus,
        cause: Option<Cause>,
        actor: Actor,
    },
    /// A user's scheduled statuses changed: when the next transition falls due may have moved.
    Schedules(i64),
    /// A user was created or edited (not their CTI profile).
    UserChanged(i64),
    /// A user's CTI profile was set or replaced.
    Rights(i64),
    /// A user lost their CTI profile; the store has ended their sessions.
    ProfileRemoved(i64),
    /// A user was deleted; the store has ended their sessions.
    UserDeleted(i64),
    /// Some CTI profile was edited or deleted.
    Profiles,
    /// The status catalog changed.
    Catalog,
    SessionOpened(SessionRecord),
    /// `user` is the session's user (`None` in events logged before it was recorded).
    SessionEnded {
        id: String,
        reason: Option<EndReason>,
        user: Option<i64>,
    },
    SessionChanged {
        id: String,
        topic: Topic,
        user: Option<i64>,
    },
}

/// One entry of the log; `event` is `None` when the entry cannot be read (it is skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub event: Option<Event>,
}

/// A session row, as an instance rebuilds it at start.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub record: SessionRecord,
    /// The id of the last message handed to the client.
    pub drained: i64,
}

/// How a session row changes together with its log entry.
pub enum SessionWrite<'a> {
    Open(&'a SessionRecord),
    /// The row becomes `record` and `topic` is logged.
    Change {
        record: &'a SessionRecord,
        topic: &'a Topic,
    },
    End {
        id: &'a str,
        reason: Option<EndReason>,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StatusPayload {
    status: UserStatus,
    cause: Option<Cause>,
    /// Absent from events logged before it was recorded: a user's if there is a cause, else
    /// the telephony's.
    #[serde(default)]
    actor: Option<Actor>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EndedPayload {
    id: String,
    reason: Option<EndReason>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ChangedPayload {
    id: String,
    #[serde(flatten)]
    topic: Topic,
}

/// An event as stored: `(kind, user id, payload)`.
pub(crate) struct Encoded {
    pub kind: &'static str,
    pub user_id: Option<i64>,
    pub payload: Option<String>,
}

impl Event {
    pub(crate) fn encode(&self) -> Encoded {
        let json = |value: serde_json::Result<String>| Some(value.unwrap_or_default());
        let (kind, user_id, payload) = match self {
            Self::Status { status, cause, actor } => (
                "status",
                Some(status.user_id),
                json(serde_json::to_string(&StatusPayload {
                    status: status.clone(),
                    cause: cause.clone(),
                    actor: Some(*actor),
                })),
            ),
            Self::Schedules(user) => ("schedules", Some(*user), None),
            Self::UserChanged(user) => ("user", Some(*user), None),
            Self::Rights(user) => ("rights", Some(*user), None),
            Self::ProfileRemoved(user) => ("profile_removed", Some(*user), None),
            Self::UserDeleted(user) => ("user_deleted", Some(*user), None),
            Self::Profiles => ("profiles", None, None),
            Self::Catalog => ("catalog", None, None),
            Self::SessionOpened(record) => {
                ("session_opened", Some(record.user_id), json(serde_json::to_string(record)))
            }
            Self::SessionEnded { id, reason, user } => {
                ("session_ended", *user, json(serde_json::to_string(&EndedPayload { id: id.clone(), reason: *reason })))
            }
            Self::SessionChanged { id, topic, user } => (
                "session",
                *user,
                json(serde_json::to_string(&ChangedPayload { id: id.clone(), topic: topic.clone() })),
            ),
        };
        Encoded { kind, user_id, payload }
    }

    /// Reads a stored event; `Err` says why it cannot be read.
    pub(crate) fn decode(kind: &str, user_id: Option<i64>, payload: Option<&str>) -> Result<Self, String> {
        let payload = payload.unwrap_or_default();
        let user = || user_id.ok_or_else(|| format!("a {kind} event without a user"));
        let bad = |err: serde_json::Error| format!("unreadable {kind} event: {err}");
        Ok(match kind {
            "status" => {
                let StatusPayload { status, cause, actor } = serde_json::from_str(payload).map_err(bad)?;
                let actor = actor.unwrap_or(if cause.is_some() { Actor::User } else { Actor::Pbx });
                Self::Status { status, cause, actor }
            }
            "schedules" => Self::Schedules(user()?),
            "user" => Self::UserChanged(user()?),
            "rights" => Self::Rights(user()?),
            "profile_removed" => Self::ProfileRemoved(user()?),
            "user_deleted" => Self::UserDeleted(user()?),
            "profiles" => Self::Profiles,
            "catalog" => Self::Catalog,
            "session_opened" => Self::SessionOpened(serde_json::from_str(payload).map_err(bad)?),
            "session_ended" => {
                let EndedPayload { id, reason } = serde_json::from_str(payload).map_err(bad)?;
                Self::SessionEnded { id, reason, user: user_id }
            }
            "session" => {
                let ChangedPayload { id, topic } = serde_json::from_str(payload).map_err(bad)?;
                Self::SessionChanged { id, topic, user: user_id }
            }
            other => return Err(format!("unknown event kind {other:?}")),
        })
    }
}

/// Who a history record names as the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActorName {
    None,
    Given(String),
    /// The user the record is about (a change of their own session).
    Subject,
}

/// What the history records of an event: the record but its number, time and username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryEntry {
    pub user_id: i64,
    pub kind: HistoryKind,
    pub values: HistoryValues,
    pub actor: ActorType,
    pub actor_name: ActorName,
}

impl Event {
    /// The history record of this event, for the changes of users' presence.
    pub(crate) fn history(&self) -> Option<HistoryEntry> {
        let entry =
            |user_id, kind, values, actor, actor_name| Some(HistoryEntry { user_id, kind, values, actor, actor_name });
        match self {
            Self::Status { status, cause, actor } => {
                let (kind, values) = if *actor == Actor::Pbx {
                    (HistoryKind::Phone, HistoryValues { on_phone: Some(status.on_phone), ..HistoryValues::default() })
                } else {
                    let values = HistoryValues {
                        status_id: Some(status.status_id.clone()),
                        notes: status.notes.clone(),
                        forward_number: status.forward_number.clone(),
                        until: status.until.as_ref().map(|until| until.at),
                        ..HistoryValues::default()
                    };
                    (HistoryKind::Status, values)
                };
                let (actor, name) = match actor {
                    Actor::User => {
                        let name = cause.as_ref().map(|c| c.username.clone()).filter(|name| !name.is_empty());
                        (ActorType::User, name.map_or(ActorName::None, ActorName::Given))
                    }
                    Actor::Pbx => (ActorType::Pbx, ActorName::None),
                    Actor::Schedule => (ActorType::Schedule, ActorName::None),
                    Actor::Admin => (ActorType::Admin, ActorName::None),
                };
                entry(status.user_id, kind, values, actor, name)
            }
            Self::SessionOpened(record) => {
                let values = HistoryValues { session_id: Some(record.id.clone()), ..HistoryValues::default() };
                entry(
                    record.user_id,
                    HistoryKind::Session,
                    values,
                    ActorType::User,
                    ActorName::Given(record.username.clone()),
                )
            }
            Self::SessionEnded { id, reason, user } => {
                let values = HistoryValues { session_id: Some(id.clone()), ..HistoryValues::default() };
                let (actor, name) = match reason {
                    None => (ActorType::User, ActorName::Subject),
                    Some(EndReason::Idle) => (ActorType::System, ActorName::None),
                    Some(EndReason::UserRemoved | EndReason::ProfileRemoved) => (ActorType::Admin, ActorName::None),
                };
                entry((*user)?, HistoryKind::Session, values, actor, name)
            }
            Self::SessionChanged { id, topic: Topic::Station { station }, user } => {
                let values = HistoryValues {
                    station: station.as_ref().map(|login| login.id().to_string()),
                    session_id: Some(id.clone()),
                    ..HistoryValues::default()
                };
                entry((*user)?, HistoryKind::Station, values, ActorType::User, ActorName::Subject)
            }
            _ => None,
        }
    }
}

/// Reads one stored entry, logging (once, here) an entry that cannot be read.
pub(crate) fn logged(seq: i64, kind: &str, user_id: Option<i64>, payload: Option<&str>) -> LoggedEvent {
    match Event::decode(kind, user_id, payload) {
        Ok(event) => LoggedEvent { seq, event: Some(event) },
        Err(err) => {
            tracing::error!(seq, error = %err, "event log entry skipped");
            LoggedEvent { seq, event: None }
        }
    }
}

/// Reads a session row's record, logging one that cannot be read.
pub(crate) fn session_row(id: &str, record: &str, drained: i64) -> Option<SessionRow> {
    match serde_json::from_str::<SessionRecord>(record) {
        Ok(record) => Some(SessionRow { record, drained }),
        Err(err) => {
            tracing::error!(session = %id, error = %err, "unreadable session row skipped");
            None
        }
    }
}

/// The session row's stored record.
pub(crate) fn record_text(record: &SessionRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// The log and the session rows of one database.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// The number of the last committed event (0 when the log is empty): every change
    /// committed before the call is at or below it.
    async fn head(&self) -> StoreResult<i64>;
    /// The newest event a request must see applied before it is served: every change
    /// committed before the call that the engine's state (sessions, rights, subscriptions)
    /// depends on. By default the head.
    async fn barrier(&self) -> StoreResult<i64> {
        self.head().await
    }
    /// The head and the id of the last message handed to session `id`'s client, when another
    /// instance may have handed messages out.
    async fn head_and_drained(&self, id: &str) -> StoreResult<(i64, Option<i64>)>;
    /// The oldest event still held (events before it were purged).
    async fn floor(&self) -> StoreResult<i64>;
    /// Events after `seq`, in order, at most `limit`.
    async fn after(&self, seq: i64, limit: i64) -> StoreResult<Vec<LoggedEvent>>;
    /// Resolves when events may have been appended since the last call (or after a while).
    async fn appended(&self);
    /// Writes a session's row and appends its event in one transaction; returns the event's
    /// number, or 0 when the session had already ended.
    async fn write_session(&self, write: SessionWrite<'_>) -> StoreResult<i64>;
    /// Records that session `id`'s client has received every message up to `upto`: before
    /// returning where several instances share the sessions, soon otherwise. A position lost
    /// in a crash means messages handed out again, never one lost.
    async fn set_drained(&self, id: &str, upto: i64) -> StoreResult<()>;
    /// Records soon, without waiting, that session `id`'s event stream wrote every message up
    /// to `upto`.
    fn set_streamed(&self, id: &str, upto: i64);
    /// Records activity of these sessions now.
    async fn touch(&self, ids: &[String]) -> StoreResult<()>;
    /// Ends sessions without activity for `idle`, logging each end; returns how many.
    async fn expire(&self, idle: Duration) -> StoreResult<usize>;
    /// Every open session and the log's head, read at one instant.
    async fn sessions(&self) -> StoreResult<(i64, Vec<SessionRow>)>;
    /// Forgets events older than `age`, always keeping the newest one (the head).
    async fn purge(&self, age: Duration) -> StoreResult<u64>;
    /// Whether the database answers.
    async fn ping(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_event_keeps_any_text() {
        let mut status = UserStatus::initial(7, 1_700_000_000);
        status.notes = Some("nul \u{0} and \u{1} and \\u0000".into());
        let cause = Some(Cause { session: "s".into(), request: "9".into(), username: "ann".into() });
        let event = Event::Status { status, cause, actor: Actor::User };
        let stored = event.encode();
        assert_eq!(Event::decode(stored.kind, stored.user_id, stored.payload.as_deref()), Ok(event));
    }

    #[test]
    fn status_events_logged_without_an_actor_name_one() {
        let status = serde_json::to_string(&UserStatus::initial(7, 1_700_000_000)).expect("serializes");
        let read = |payload: String| match Event::decode("status", Some(7), Some(&payload)) {
            Ok(Event::Status { actor, .. }) => actor,
            other => panic!("{other:?}"),
        };
        assert_eq!(read(format!(r#"{{"status":{status},"cause":null}}"#)), Actor::Pbx);
        let caused = format!(r#"{{"status":{status},"cause":{{"session":"s","request":"1"}}}}"#);
        assert_eq!(read(caused), Actor::User);
        assert_eq!(read(format!(r#"{{"status":{status},"cause":null,"actor":"schedule"}}"#)), Actor::Schedule);
    }

    #[test]
    fn a_previous_info_subscription_is_logged_and_read_back() {
        for topic in [Topic::PreviousInfo, Topic::NoPreviousInfo] {
            let event = Event::SessionChanged { id: "42".into(), topic, user: Some(3) };
            let stored = event.encode();
            assert_eq!(Event::decode(stored.kind, stored.user_id, stored.payload.as_deref()), Ok(event));
        }
    }

    #[test]
    fn unknown_kinds_are_refused() {
        assert!(Event::decode("whatever", None, None).is_err());
        assert!(Event::decode("rights", None, None).is_err());
        assert_eq!(Event::decode("catalog", None, None), Ok(Event::Catalog));
    }
}
