//! The presence history: every change of a user's status, phone, station and presence
//! session, with who made it; and the windows the history and the reports are read over.

use super::clock;
use super::listing::Direction;
use super::validation::ValidationError;

/// What a history record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistoryKind {
    /// The status, its notes, forward number or until changed.
    Status,
    /// The user went on or off the phone.
    Phone,
    /// A session logged in to or out of a station.
    Station,
    /// A presence session opened or ended.
    Session,
}

impl HistoryKind {
    pub const ALL: [Self; 4] = [Self::Status, Self::Phone, Self::Station, Self::Session];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Phone => "phone",
            Self::Station => "station",
            Self::Session => "session",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Who made a change, as the history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    /// A presence session's user: themselves or a supervisor.
    User,
    /// A web-service account of the configuration API.
    Admin,
    /// The telephony.
    Pbx,
    /// The status lifecycle (a return at until, a scheduled start or end).
    Schedule,
    /// ctid itself (an idle session ended).
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Pbx => "pbx",
            Self::Schedule => "schedule",
            Self::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::User, Self::Admin, Self::Pbx, Self::Schedule, Self::System].into_iter().find(|a| a.as_str() == text)
    }
}

/// The new values a change recorded; what does not apply to its kind is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryValues {
    pub status_id: Option<String>,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    /// Unix seconds.
    pub until: Option<i64>,
    pub on_phone: Option<bool>,
    /// The station logged in to (`""` without a station); `None` on a station logout.
    pub station: Option<String>,
    pub session_id: Option<String>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The number of the change in the event log.
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub user_id: i64,
    /// The username when the change was made.
    pub username: Option<String>,
    pub kind: HistoryKind,
    pub values: HistoryValues,
    pub actor: ActorType,
    /// The acting session's username (`user`), the account (`admin`), else `None`.
    pub actor_name: Option<String>,
}

/// The longest window a history or report request may cover.
pub const MAX_WINDOW_MS: i64 = 400 * 86_400_000;
/// The window when none is given: the last 24 hours.
pub const DEFAULT_WINDOW_MS: i64 = 86_400_000;
/// The most records one page of the history holds.
pub const MAX_LIMIT: u32 = 10_000;

/// A window `[from, to)` in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    /// Reads `from` and `to` (RFC 3339); each defaults from the other, or to the 24 hours
    /// before `now_ms`.
    pub fn parse(from: Option<&str>, to: Option<&str>, now_ms: i64) -> Result<Self, ValidationError> {
        let read = |text: Option<&str>, name: &str| -> Result<Option<i64>, ValidationError> {
            text.map(|t| clock::parse_rfc3339_ms(t).ok_or_else(|| ValidationError::Invalid(vec![name.to_string()])))
                .transpose()
        };
        let from = read(from, "from")?;
        let to = read(to, "to")?;
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from.saturating_add(DEFAULT_WINDOW_MS).min(now_ms.max(from))),
            (None, Some(to)) => (to.saturating_sub(DEFAULT_WINDOW_MS), to),
            (None, None) => (now_ms - DEFAULT_WINDOW_MS, now_ms),
        };
        if from > to || to - from > MAX_WINDOW_MS {
            return Err(ValidationError::Invalid(vec!["to".into()]));
        }
        Ok(Self { from, to })
    }
}

/// A validated history request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub window: Window,
    pub user_id: Option<i64>,
    pub status_id: Option<String>,
    pub kind: Option<HistoryKind>,
    pub limit: Option<u32>,
    pub skip: u64,
    pub direction: Direction,
}

impl HistoryQuery {
    /// Parses the query of `GET /1.1/status_history` (`user` set for a user's own history,
    /// whose `user_id` parameter is then ignored); unknown parameters are ignored.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        user: Option<i64>,
        now_ms: i64,
    ) -> Result<Self, ValidationError> {
        let (mut from, mut to) = (None, None);
        let mut query = Self {
            window: Window { from: 0, to: 0 },
            user_id: user,
            status_id: None,
            kind: None,
            limit: None,
            skip: 0,
            direction: Direction::Asc,
        };
        let mut invalid = Vec::new();
        for (key, value) in pairs {
            match key {
                "from" => from = Some(value),
                "to" => to = Some(value),
                "user_id" if user.is_none() => match value.parse::<i64>() {
                    Ok(id) => query.user_id = Some(id),
                    Err(_) => invalid.push("user_id".to_string()),
                },
                "status_id" => query.status_id = Some(value.to_string()),
                "kind" => match HistoryKind::parse(value) {
                    Some(kind) => query.kind = Some(kind),
                    None => invalid.push("kind".to_string()),
                },
                "limit" => match value.parse::<u32>() {
                    Ok(limit) if limit <= MAX_LIMIT => query.limit = Some(limit),
                    _ => invalid.push("limit".to_string()),
                },
                "skip" | "offset" => match value.parse::<i64>().ok().and_then(|skip| u64::try_from(skip).ok()) {
                    Some(skip) => query.skip = skip,
                    None => invalid.push("skip".to_string()),
                },
                "direction" => match value {
                    "asc" => query.direction = Direction::Asc,
                    "desc" => query.direction = Direction::Desc,
                    _ => invalid.push("direction".to_string()),
                },
                _ => {}
            }
        }
        if !invalid.is_empty() {
            return Err(ValidationError::Invalid(invalid));
        }
        query.window = Window::parse(from, to, now_ms)?;
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn the_window_defaults_to_the_last_day() {
        assert_eq!(Window::parse(None, None, NOW), Ok(Window { from: NOW - DEFAULT_WINDOW_MS, to: NOW }));
        let to = Window::parse(None, Some("2027-01-15T08:00:00Z"), NOW).expect("valid");
        assert_eq!(to.to - to.from, DEFAULT_WINDOW_MS);
    }

    #[test]
    fn bad_windows_name_the_parameter() {
        let invalid = |name: &str| Err(ValidationError::Invalid(vec![name.to_string()]));
        assert_eq!(Window::parse(Some("yesterday"), None, NOW), invalid("from"));
        assert_eq!(Window::parse(None, Some("2027-13-01T00:00:00Z"), NOW), invalid("to"));
        assert_eq!(Window::parse(Some("2027-01-02T00:00:00Z"), Some("2027-01-01T00:00:00Z"), NOW), invalid("to"));
        assert_eq!(Window::parse(Some("2025-01-01T00:00:00Z"), Some("2027-01-01T00:00:00Z"), NOW), invalid("to"));
    }

    #[test]
    fn queries_read_their_filters() {
        let pairs = [("kind", "phone"), ("user_id", "4"), ("limit", "10"), ("skip", "5"), ("direction", "desc")];
        let query = HistoryQuery::parse(pairs, None, NOW).expect("valid");
        assert_eq!(
            (query.kind, query.user_id, query.limit, query.skip),
            (Some(HistoryKind::Phone), Some(4), Some(10), 5)
        );
        assert_eq!(query.direction, Direction::Desc);
        let own = HistoryQuery::parse([("user_id", "4")], Some(9), NOW).expect("valid");
        assert_eq!(own.user_id, Some(9));
        let bad = HistoryQuery::parse([("kind", "mood"), ("limit", "x")], None, NOW);
        assert_eq!(bad, Err(ValidationError::Invalid(vec!["kind".into(), "limit".into()])));
    }
}
