//! A user's presence: their status and the rules of a status change.

use super::status::StatusMessage;

/// Longest notes accepted.
pub const MAX_NOTES_LEN: usize = 1024;
/// Longest forward number accepted.
pub const MAX_FORWARD_NUMBER_LEN: usize = 64;

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// Until when a status holds, with the UI hints ICWS clients keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Until {
    pub at: Timestamp,
    pub has_date: bool,
    pub has_time: bool,
}

/// What the store keeps of a user's presence (and the event log carries of a change).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserStatus {
    pub user_id: i64,
    pub status_id: String,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    pub until: Option<Until>,
    pub status_changed: Timestamp,
    pub on_phone: bool,
    pub on_phone_changed: Timestamp,
}

/// The status every new user starts with.
pub const INITIAL_STATUS: &str = "Available";

impl UserStatus {
    pub fn initial(user_id: i64, now: Timestamp) -> Self {
        Self {
            user_id,
            status_id: INITIAL_STATUS.to_string(),
            notes: None,
            forward_number: None,
            until: None,
            status_changed: now,
            on_phone: false,
            on_phone_changed: now,
        }
    }
}

/// What a user last had with one status they have held (ICWS previous info): kept for every
/// status they held, replaced each time they hold it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousInfo {
    pub status_id: String,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
}

impl PreviousInfo {
    /// The entry `status` makes in its user's previous info.
    pub fn of(status: &UserStatus) -> Self {
        Self {
            status_id: status.status_id.clone(),
            notes: status.notes.clone(),
            forward_number: status.forward_number.clone(),
        }
    }
}

/// A requested status change. `notes: None` keeps the notes; `Some("")` clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusChange {
    pub status_id: String,
    pub notes: Option<String>,
    pub forward_number: Option<String>,
    pub until: Option<Until>,
}

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The status does not exist, is not selectable or not allowed for the target user.
    UnknownStatus(String),
    /// A forward status without a forward number.
    ForwardNumberRequired,
    /// A member with an unacceptable value: its name.
    Invalid(&'static str),
}

/// Applies `change` to `current`, given the catalog and the statuses the target may select.
pub fn apply(
    current: &UserStatus,
    change: StatusChange,
    catalog: &[StatusMessage],
    allowed: &[String],
    now: Timestamp,
) -> Result<UserStatus, ChangeError> {
    let status = catalog
        .iter()
        .find(|s| s.status_id.to_lowercase() == change.status_id.to_lowercase())
        .filter(|s| s.is_selectable_status && allowed.contains(&s.status_id))
        .ok_or_else(|| ChangeError::UnknownStatus(change.status_id.clone()))?;

    let notes = match change.notes {
        None => current.notes.clone(),
        Some(notes) if notes.is_empty() => None,
        Some(notes) if notes.chars().count() > MAX_NOTES_LEN => return Err(ChangeError::Invalid("notes")),
        Some(notes) => Some(notes),
    };

    let forward_number = if status.can_have_forward_number {
        match change.forward_number.filter(|n| !n.trim().is_empty()) {
            Some(number) if !valid_forward_number(&number) => return Err(ChangeError::Invalid("forwardNumber")),
            Some(number) => Some(number),
            None if status.is_forward_status => return Err(ChangeError::ForwardNumberRequired),
            None => None,
        }
    } else {
        None
    };

    let until = change.until.filter(|_| status.can_have_date && status.can_have_time);
    let status_changed = if status.status_id == current.status_id { current.status_changed } else { now };
    Ok(UserStatus {
        user_id: current.user_id,
        status_id: status.status_id.clone(),
        notes,
        forward_number,
        until,
        status_changed,
        on_phone: current.on_phone,
        on_phone_changed: current.on_phone_changed,
    })
}

/// Dialable characters only: digits, `+`, `*`, `#`, and spaces, dashes, dots or parentheses.
pub fn valid_forward_number(number: &str) -> bool {
    number.chars().count() <= MAX_FORWARD_NUMBER_LEN
        && number.chars().any(|c| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || "+*#-. ()".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status;

    fn all() -> (Vec<StatusMessage>, Vec<String>) {
        let catalog = status::defaults();
        let allowed = catalog.iter().filter(|s| s.is_selectable_status).map(|s| s.status_id.clone()).collect();
        (catalog, allowed)
    }

    fn change(id: &str) -> StatusChange {
        StatusChange { status_id: id.into(), ..StatusChange::default() }
    }

    #[test]
    fn status_ids_are_case_insensitive_and_canonicalised() {
        let (catalog, allowed) = all();
        let next = apply(&UserStatus::initial(1, 10), change("at lunch"), &catalog, &allowed, 20).expect("valid");
        assert_eq!(next.status_id, "At Lunch");
        assert_eq!(next.status_changed, 20);
    }

    #[test]
    fn status_changed_moves_only_with_the_status() {
        let (catalog, allowed) = all();
        let mut same = change("available");
        same.notes = Some("back soon".into());
        let next = apply(&UserStatus::initial(1, 10), same, &catalog, &allowed, 20).expect("valid");
        assert_eq!(next.status_changed, 10);
        assert_eq!(next.notes.as_deref(), Some("back soon"));
    }

    #[test]
    fn notes_are_kept_unless_sent_and_until_cleared_unless_sent() {
        let (catalog, allowed) = all();
        let until = Until { at: 1_000, has_date: true, has_time: true };
        let first = StatusChange {
            status_id: "On Vacation".into(),
            notes: Some("Touring France".into()),
            until: Some(until),
            ..StatusChange::default()
        };
        let a = apply(&UserStatus::initial(1, 0), first, &catalog, &allowed, 5).expect("valid");
        assert_eq!(a.until, Some(until));
        let b = apply(&a, change("On Vacation"), &catalog, &allowed, 6).expect("valid");
        assert_eq!(b.notes.as_deref(), Some("Touring France"));
        assert_eq!(b.until, None);
        let mut clear = change("Available");
        clear.notes = Some(String::new());
        assert_eq!(apply(&b, clear, &catalog, &allowed, 7).expect("valid").notes, None);
    }

    #[test]
    fn until_applies_only_to_dated_statuses() {
        let (catalog, allowed) = all();
        let mut lunch = change("At Lunch");
        lunch.until = Some(Until { at: 1, has_date: true, has_time: true });
        assert_eq!(apply(&UserStatus::initial(1, 0), lunch, &catalog, &allowed, 1).expect("valid").until, None);
    }

    #[test]
    fn forward_statuses_need_a_dialable_number() {
        let (catalog, allowed) = all();
        let current = UserStatus::initial(1, 0);
        assert_eq!(
            apply(&current, change("Available, Forward"), &catalog, &allowed, 1),
            Err(ChangeError::ForwardNumberRequired)
        );
        let mut bad = change("Available, Forward");
        bad.forward_number = Some("call me".into());
        assert_eq!(apply(&current, bad, &catalog, &allowed, 1), Err(ChangeError::Invalid("forwardNumber")));
        let mut good = change("Available, Forward");
        good.forward_number = Some("+33 1 23 45".into());
        let next = apply(&current, good, &catalog, &allowed, 1).expect("valid");
        assert_eq!(next.forward_number.as_deref(), Some("+33 1 23 45"));
        assert_eq!(apply(&next, change("Available"), &catalog, &allowed, 2).expect("valid").forward_number, None);
    }

    #[test]
    fn unknown_unselectable_and_disallowed_statuses_are_refused() {
        let (catalog, _) = all();
        let current = UserStatus::initial(1, 0);
        let allowed = vec!["Available".to_string()];
        for id in ["Sleeping", "AcdAgentNotAnswering", "At Lunch"] {
            assert_eq!(
                apply(&current, change(id), &catalog, &allowed, 1),
                Err(ChangeError::UnknownStatus(id.into())),
                "{id}"
            );
        }
    }
}
