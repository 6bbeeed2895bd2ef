//! A presence session as the store keeps it: who it is for, what it follows, its station, and
//! the hashes of its credentials (never the credentials themselves).

use super::presence::UserStatus;
use super::station::{self, StationLogin};

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
    /// The session user's own previous info (`userStatusPreviousInfoMessage`).
    pub previous_info: bool,
}

/// What a session row holds: everything needed to serve the session again after a restart.
/// The cookie and the CSRF token are kept as SHA-256 hashes (hex).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub application_name: String,
    pub csrf_hash: String,
    pub cookie_hash: String,
    pub view_all: bool,
    #[serde(default, deserialize_with = "station::deserialize_login")]
    pub station: Option<StationLogin>,
    #[serde(default)]
    pub subscriptions: Subscriptions,
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
    /// The session user's own previous info (`userStatusPreviousInfoMessage`).
    PreviousInfo,
    NoPreviousInfo,
}

impl Topic {
    /// The session record once this change is applied.
    pub fn apply_to(&self, record: &mut SessionRecord) {
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
            Self::PreviousInfo => subscriptions.previous_info = true,
            Self::NoPreviousInfo => subscriptions.previous_info = false,
        }
    }
}

/// Why a session ends on the server's initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Idle,
    UserRemoved,
    ProfileRemoved,
}

impl EndReason {
    /// Whether the client may log in again at once.
    pub fn should_reconnect(self) -> bool {
        self == Self::Idle
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Idle => "the session was idle for too long",
            Self::UserRemoved => "the user was deleted",
            Self::ProfileRemoved => "the user's CTI profile was removed",
        }
    }
}

/// The presence request that caused a status change: its session gets the completion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cause {
    pub session: String,
    pub request: String,
    /// The session's username: who made the change (absent from events logged before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
}

/// Who made a status change, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// A presence session's user (themselves or a supervisor): the change has a [`Cause`].
    User,
    /// The telephony: calls began or ended on the user's lines.
    Pbx,
    /// The status lifecycle: a return at `until`, a scheduled start or end.
    Schedule,
    /// The configuration API (a user's first status).
    Admin,
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

/// A user's status with what only the running server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    pub username: String,
    pub status: UserStatus,
    pub presence: UserPresence,
}
