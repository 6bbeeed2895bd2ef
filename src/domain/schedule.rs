//! The status lifecycle: statuses that end by themselves (a status's return status, applied
//! when a user's `until` passes) and statuses scheduled ahead (a start, an optional end).
//!
//! Every transition is computed here from what the user holds; the store applies it only if
//! what it was computed from is still in place, in the transaction that logs it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::presence::{MAX_NOTES_LEN, Timestamp, Until, UserStatus, valid_forward_number};
use super::status::StatusMessage;
use super::validation::ValidationError;

/// Most pending or active schedules one user may have.
pub const MAX_PENDING_PER_USER: i64 = 1_000;

/// Where a scheduled status is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleState {
    /// Its start has not come.
    Pending,
    /// Started; its end has not come.
    Active,
    /// Started and, if it has an end, ended.
    Done,
}

impl ScheduleState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Done => "done",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// What a schedule sets, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleFields {
    pub user_id: i64,
    /// The catalog's spelling.
    pub status_id: String,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// A status scheduled for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledStatus {
    pub id: i64,
    pub fields: ScheduleFields,
    pub state: ScheduleState,
    /// What the start replaced, restored at the end if the scheduled status is still in place.
    pub before: Option<Held>,
    /// The `until` the start set.
    pub applied_until: Option<Until>,
}

/// The part of a user's presence a schedule replaces and restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub status_id: String,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    pub until: Option<Until>,
}

impl Held {
    pub fn of(status: &UserStatus) -> Self {
        Self {
            status_id: status.status_id.clone(),
            notes: status.notes.clone(),
            forward_number: status.forward_number.clone(),
            until: status.until,
        }
    }
}

/// What a transition of the lifecycle does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    /// Schedule `n` ends.
    End(i64),
    /// Schedule `n` starts.
    Start(i64),
    /// The user, holding `status_id` until the transition's time, returns to its return status.
    Return { status_id: String },
}

/// A transition falling due at `at` for a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    pub user_id: i64,
    pub at: Timestamp,
    pub kind: TransitionKind,
}

impl Transition {
    /// The order transitions apply in: by time; at one time, ends before starts (back-to-back
    /// schedules) and both before returns (an end restores more than a return would).
    pub fn order(&self) -> (Timestamp, u8) {
        let rank = match self.kind {
            TransitionKind::End(_) => 0,
            TransitionKind::Start(_) => 1,
            TransitionKind::Return { .. } => 2,
        };
        (self.at, rank)
    }
}

/// A scheduled status as a client sends it; `status_id` and `start` are required.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduledStatusInput)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub status_id: Option<String>,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    /// RFC 3339; fractions of a second are dropped. A start in the past applies at once.
    pub start: Option<String>,
    /// RFC 3339, after `start` and in the future; absent: the status stays until changed.
    pub end: Option<String>,
}

/// Parses an RFC 3339 date-time into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    if text.len() > 64 {
        return None;
    }
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?.unix_timestamp();
    // Within what `format_rfc3339` writes back.
    (0..=253_402_300_799).contains(&at).then_some(at)
}

/// Unix seconds as RFC 3339 UTC (`2026-12-07T14:00:00Z`).
pub fn format_rfc3339(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Validates a new schedule of `user_id` against the catalog, at `now`. Overlaps and the
/// number of schedules are checked by the store, in the transaction that adds it.
pub fn validate(
    user_id: i64,
    input: ScheduleInput,
    catalog: &[StatusMessage],
    now: Timestamp,
) -> Result<ScheduleFields, ValidationError> {
    let missing: Vec<String> = [("status_id", input.status_id.is_none()), ("start", input.start.is_none())]
        .into_iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing));
    }
    let requested = input.status_id.unwrap_or_default();
    let status = catalog
        .iter()
        .find(|s| s.status_id.to_lowercase() == requested.to_lowercase())
        .filter(|s| s.is_selectable_status)
        .ok_or_else(|| ValidationError::Nonexistent("status_id".into(), requested.clone()))?;
    let start = input.start.as_deref().and_then(parse_rfc3339).ok_or_else(|| ValidationError::invalid("start"))?;
    let end = match input.end.as_deref() {
        None => None,
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| ValidationError::invalid("end"))?),
    };
    if end.is_some_and(|end| end <= start || end <= now) {
        return Err(ValidationError::invalid("end"));
    }
    let notes = input.notes.filter(|n| !n.is_empty());
    if notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES_LEN) {
        return Err(ValidationError::invalid("notes"));
    }
    let forward_number = if status.can_have_forward_number {
        match input.forward_number.filter(|n| !n.trim().is_empty()) {
            Some(number) if !valid_forward_number(&number) => return Err(ValidationError::invalid("forward_number")),
            Some(number) => Some(number),
            None if status.is_forward_status => return Err(ValidationError::Missing(vec!["forward_number".into()])),
            None => None,
        }
    } else {
        None
    };
    Ok(ScheduleFields { user_id, status_id: status.status_id.clone(), notes, forward_number, start, end })
}

/// Whether two schedules' times overlap (a schedule without an end never ends).
pub fn overlaps(a: (Timestamp, Option<Timestamp>), b: (Timestamp, Option<Timestamp>)) -> bool {
    let before = |start: Timestamp, end: Option<Timestamp>| end.is_some_and(|end| end <= start);
    !before(b.0, a.1) && !before(a.0, b.1)
}

/// `status` with `next` set at `at`: `statusChanged` moves only if the status id changes.
fn set(status: &UserStatus, next: Held, at: Timestamp) -> UserStatus {
    let status_changed = if next.status_id == status.status_id { status.status_changed } else { at };
    UserStatus {
        status_id: next.status_id,
        notes: next.notes,
        forward_number: next.forward_number,
        until: next.until,
        status_changed,
        ..status.clone()
    }
}

/// The start of `schedule` over what the user holds: the scheduled status, with `until` = the
/// end when `scheduled` (its catalog entry) can have a date and a time.
pub fn start(current: &UserStatus, schedule: &ScheduleFields, scheduled: &StatusMessage) -> UserStatus {
    let until = schedule.end.filter(|_| scheduled.can_have_date && scheduled.can_have_time).map(|at| Until {
        at,
        has_date: true,
        has_time: true,
    });
    let next = Held {
        status_id: scheduled.status_id.clone(),
        notes: schedule.notes.clone(),
        forward_number: schedule.forward_number.clone(),
        until,
    };
    set(current, next, schedule.start)
}

/// Whether the user still holds what the start of `schedule` set.
pub fn in_place(current: &UserStatus, schedule: &ScheduledStatus) -> bool {
    schedule.state == ScheduleState::Active
        && current.status_id == schedule.fields.status_id
        && current.notes == schedule.fields.notes
        && current.forward_number == schedule.fields.forward_number
        && current.until == schedule.applied_until
}

/// The end of `schedule` at `at`: back to what the start replaced, if the scheduled status is
/// still in place (`None`: nothing changes). An `until` already past is not restored.
pub fn end(current: &UserStatus, schedule: &ScheduledStatus, at: Timestamp) -> Option<UserStatus> {
    if !in_place(current, schedule) {
        return None;
    }
    let mut before = schedule.before.clone()?;
    before.until = before.until.filter(|until| until.at > at);
    Some(set(current, before, at))
}

/// The return of a user whose `until` passed on a status whose return status is `back`:
/// notes, forward number and until cleared, changed at the until time.
pub fn return_to(current: &UserStatus, back: &str) -> Option<UserStatus> {
    let until = current.until?;
    let next = Held { status_id: back.to_string(), notes: None, forward_number: None, until: None };
    Some(set(current, next, until.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::defaults;

    fn input(status: &str, start: &str, end: Option<&str>) -> ScheduleInput {
        ScheduleInput {
            status_id: Some(status.into()),
            start: Some(start.into()),
            end: end.map(String::from),
            ..ScheduleInput::default()
        }
    }

    const NOW: Timestamp = 1_800_000_000;

    fn at(offset: i64) -> String {
        format_rfc3339(NOW + offset)
    }

    #[test]
    fn validation_names_each_error_as_the_configuration_api_does() {
        let catalog = defaults();
        let check = |i| validate(7, i, &catalog, NOW).map_err(|e| e.to_string());
        let fails = |i| check(i).expect_err("invalid");
        assert_eq!(fails(ScheduleInput::default()), "Missing parameters: status_id,start");
        assert_eq!(fails(input("Nope", &at(10), None)), "Nonexistent parameters: status_id Nope does not exist");
        assert_eq!(
            fails(input("AcdAgentNotAnswering", &at(10), None)),
            "Nonexistent parameters: status_id AcdAgentNotAnswering does not exist"
        );
        assert_eq!(fails(input("At Lunch", "tomorrow", None)), "Invalid parameters: start");
        assert_eq!(fails(input("At Lunch", &at(10), Some(&at(10)))), "Invalid parameters: end");
        assert_eq!(fails(input("At Lunch", &at(-100), Some(&at(-10)))), "Invalid parameters: end");
        assert_eq!(fails(input("Available, Forward", &at(10), None)), "Missing parameters: forward_number");
        let valid = check(input("at lunch", &at(-10), Some(&at(60)))).expect("valid");
        assert_eq!(valid.status_id, "At Lunch");
        assert_eq!((valid.start, valid.end), (NOW - 10, Some(NOW + 60)));
    }

    #[test]
    fn times_read_and_written_as_rfc3339() {
        assert_eq!(parse_rfc3339("2027-01-15T14:00:00+01:00"), parse_rfc3339("2027-01-15T13:00:00Z"));
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2027-01-15T13:00:00.999Z"), parse_rfc3339("2027-01-15T13:00:00Z"));
        assert_eq!(parse_rfc3339("2027-01-15"), None);
    }

    #[test]
    fn open_ended_schedules_overlap_everything_after_their_start() {
        assert!(overlaps((10, None), (100, Some(200))));
        assert!(!overlaps((10, Some(100)), (100, Some(200))));
        assert!(overlaps((10, Some(101)), (100, Some(200))));
        assert!(!overlaps((300, None), (100, Some(200))));
    }

    #[test]
    fn the_end_restores_only_a_scheduled_status_still_in_place() {
        let catalog = defaults();
        let vacation = catalog.iter().find(|s| s.status_id == "On Vacation").expect("built in");
        let mut before = UserStatus::initial(7, 100);
        before.notes = Some("desk 4".into());
        let fields = validate(7, input("On Vacation", &at(10), Some(&at(20))), &catalog, NOW).expect("valid");
        let started = start(&before, &fields, vacation);
        assert_eq!(started.status_id, "On Vacation");
        assert_eq!(started.status_changed, NOW + 10);
        assert_eq!(started.until.map(|u| u.at), Some(NOW + 20));
        let schedule = ScheduledStatus {
            id: 1,
            fields,
            state: ScheduleState::Active,
            before: Some(Held::of(&before)),
            applied_until: started.until,
        };
        let ended = end(&started, &schedule, NOW + 20).expect("in place");
        assert_eq!((ended.status_id.as_str(), ended.notes.as_deref()), ("Available", Some("desk 4")));
        assert_eq!(ended.status_changed, NOW + 20);
        let mut changed = started;
        changed.notes = Some("back early".into());
        assert_eq!(end(&changed, &schedule, NOW + 20), None);
    }

    #[test]
    fn a_return_clears_notes_and_until_and_is_dated_at_the_until() {
        let mut gone = UserStatus::initial(7, 100);
        gone.status_id = "Gone Home".into();
        gone.notes = Some("bye".into());
        gone.until = Some(Until { at: 5_000, has_date: true, has_time: true });
        let back = return_to(&gone, "Available").expect("has an until");
        assert_eq!((back.status_id.as_str(), back.notes, back.until), ("Available", None, None));
        assert_eq!(back.status_changed, 5_000);
    }
}
