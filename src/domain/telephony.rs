//! Telephony: SIP lines, the calls a PBX reports on them, and when a user is on the phone.

use super::validation::{ValidationError, sent};

/// A stored line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: i64,
    pub fields: LineFields,
    pub user_id: Option<i64>,
}

/// Every writable member of a line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LineFields {
    /// The SIP user name the PBX reports calls for.
    pub name: String,
    pub protocol: String,
    pub context: String,
    /// The extension, if any.
    pub number: Option<String>,
}

// A line edit: absent members keep their value, `Some(None)` is an explicit `null`.
/// The members a client may send; on creation only `name` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = LineInput)]
#[serde(deny_unknown_fields)]
pub struct LineChanges {
    /// 1–40 of `A-Z a-z 0-9 _ . + -`, unique.
    #[serde(default, deserialize_with = "sent")]
    pub name: Option<Option<String>>,
    /// Only `sip` (the default).
    #[serde(default, deserialize_with = "sent")]
    pub protocol: Option<Option<String>>,
    /// Default `default`.
    #[serde(default, deserialize_with = "sent")]
    pub context: Option<Option<String>>,
    /// The extension: 1–40 of `0-9 * # +`.
    #[serde(default, deserialize_with = "sent")]
    pub number: Option<Option<String>>,
}

const MAX_NAME: usize = 40;
const MAX_CONTEXT: usize = 39;
const MAX_NUMBER: usize = 40;

fn within(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.chars().count() <= max && text.chars().all(allowed)
}

/// Is `name` a line name: 1–40 of `[A-Za-z0-9_.+-]`.
pub fn valid_name(name: &str) -> bool {
    within(name, MAX_NAME, |c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
}

/// Validates a new line.
pub fn validate_new(changes: LineChanges) -> Result<LineFields, ValidationError> {
    let Some(Some(_)) = &changes.name else {
        return Err(ValidationError::Missing(vec!["name".into()]));
    };
    let base = LineFields { name: String::new(), protocol: "sip".into(), context: "default".into(), number: None };
    validate_edit(&base, changes)
}

/// Validates an edit of `existing`.
pub fn validate_edit(existing: &LineFields, changes: LineChanges) -> Result<LineFields, ValidationError> {
    let mut out = existing.clone();
    match changes.name {
        Some(None) => return Err(ValidationError::Missing(vec!["name".into()])),
        Some(Some(name)) => out.name = name,
        None => {}
    }
    if let Some(protocol) = changes.protocol {
        out.protocol = protocol.unwrap_or_else(|| "sip".into());
    }
    if let Some(context) = changes.context {
        out.context = context.unwrap_or_else(|| "default".into());
    }
    if let Some(number) = changes.number {
        out.number = number;
    }
    let mut invalid = Vec::new();
    if !valid_name(&out.name) {
        invalid.push("name".to_string());
    }
    if !out.protocol.eq_ignore_ascii_case("sip") {
        invalid.push("protocol must be 'sip'".to_string());
    }
    out.protocol = "sip".into();
    if !within(&out.context, MAX_CONTEXT, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        invalid.push("context".to_string());
    }
    if out.number.as_deref().is_some_and(|n| !within(n, MAX_NUMBER, |c| c.is_ascii_digit() || "*#+".contains(c))) {
        invalid.push("number".to_string());
    }
    if invalid.is_empty() { Ok(out) } else { Err(ValidationError::Invalid(invalid)) }
}

/// What a PBX says of a call on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallState {
    Ringing,
    Talking,
    Held,
    /// The call has ended; nothing later changes it.
    Idle,
}

impl CallState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ringing" => Some(Self::Ringing),
            "talking" => Some(Self::Talking),
            "held" => Some(Self::Held),
            "idle" => Some(Self::Idle),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ringing => "ringing",
            Self::Talking => "talking",
            Self::Held => "held",
            Self::Idle => "idle",
        }
    }

    pub fn is_active(self) -> bool {
        self != Self::Idle
    }
}

/// One report of a PBX, its line resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub line: String,
    pub call_id: String,
    pub state: CallState,
    /// When it happened at the PBX, in Unix microseconds.
    pub at_us: i64,
}

/// What ctid holds of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRecord {
    pub state: CallState,
    /// The time of the last applied report, in Unix microseconds.
    pub at_us: i64,
}

/// Whether `event` replaces what is held of its call: reports may come twice or out of order.
/// An ended call stays ended; an older report never overrides a newer one; at equal times the
/// later state in the call's life (idle last) wins, so a duplicate changes nothing.
pub fn supersedes(held: Option<CallRecord>, state: CallState, at_us: i64) -> bool {
    match held {
        None => true,
        Some(held) if held.state == CallState::Idle => false,
        Some(held) => at_us > held.at_us || (at_us == held.at_us && state > held.state),
    }
}

/// Longest call id accepted.
pub const MAX_CALL_ID: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: CallState, at_us: i64) -> Option<CallRecord> {
        Some(CallRecord { state, at_us })
    }

    #[test]
    fn reports_apply_in_time_order_and_an_ended_call_stays_ended() {
        assert!(supersedes(None, CallState::Ringing, 10));
        assert!(supersedes(record(CallState::Ringing, 10), CallState::Talking, 20));
        assert!(!supersedes(record(CallState::Talking, 20), CallState::Ringing, 10), "older report");
        assert!(!supersedes(record(CallState::Talking, 20), CallState::Talking, 20), "duplicate");
        assert!(supersedes(record(CallState::Talking, 20), CallState::Idle, 20), "idle wins a tie");
        assert!(!supersedes(record(CallState::Idle, 30), CallState::Talking, 40), "ended stays ended");
        assert!(supersedes(None, CallState::Idle, 30), "an end may come first");
    }

    #[test]
    fn lines_are_validated() {
        let line = validate_new(LineChanges { name: Some(Some("1001".into())), ..Default::default() }).expect("ok");
        assert_eq!((line.protocol.as_str(), line.context.as_str(), line.number), ("sip", "default", None));
        assert_eq!(validate_new(LineChanges::default()), Err(ValidationError::Missing(vec!["name".into()])));
        let bad = LineChanges {
            name: Some(Some("a b".into())),
            number: Some(Some("12a".into())),
            protocol: Some(Some("iax".into())),
            ..Default::default()
        };
        assert_eq!(
            validate_new(bad),
            Err(ValidationError::Invalid(vec!["name".into(), "protocol must be 'sip'".into(), "number".into()]))
        );
    }
}
