//! The catalog of status messages a user can be set to.

use super::validation::{MAX_TEXT_LEN, ValidationError, sent};

/// One status of the catalog, with every attribute ICWS clients read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StatusMessage {
    pub status_id: String,
    pub message_text: String,
    pub icon_uri: String,
    pub group_tag: String,
    pub can_have_date: bool,
    pub can_have_time: bool,
    pub can_have_forward_number: bool,
    pub is_do_not_disturb_status: bool,
    pub is_selectable_status: bool,
    pub is_persistent_status: bool,
    pub is_forward_status: bool,
    pub is_after_call_work_status: bool,
    pub is_acd_status: bool,
    pub is_allow_follow_up_status: bool,
    pub system_id: String,
    /// Shipped with ctid: editable, never deletable.
    pub built_in: bool,
    /// The status a user holding this one returns to when their `until` passes (`null`: the
    /// status holds until changed).
    #[schema(required = true)]
    pub return_status_id: Option<String>,
}

/// Longest status id accepted.
pub const MAX_STATUS_ID_LEN: usize = 64;

/// Icons ctid serves under `/icws/status-icons/`, one per well-known group tag.
pub const ICON_GROUPS: [&str; 5] = ["available", "break", "training", "followup", "unavailable"];

/// The server-relative icon path for a group tag (a generic icon for other groups).
pub fn default_icon_uri(group_tag: &str) -> String {
    let group = group_tag.to_ascii_lowercase();
    let name = if ICON_GROUPS.contains(&group.as_str()) { group.as_str() } else { "status" };
    format!("/icws/status-icons/{name}.png")
}

impl StatusMessage {
    fn builtin(status_id: &str, group_tag: &str) -> Self {
        Self {
            status_id: status_id.into(),
            message_text: status_id.into(),
            icon_uri: default_icon_uri(group_tag),
            group_tag: group_tag.into(),
            can_have_date: false,
            can_have_time: false,
            can_have_forward_number: false,
            is_do_not_disturb_status: false,
            is_selectable_status: true,
            is_persistent_status: false,
            is_forward_status: false,
            is_after_call_work_status: false,
            is_acd_status: false,
            is_allow_follow_up_status: false,
            system_id: status_id.into(),
            built_in: true,
            return_status_id: None,
        }
    }
}

/// The catalog of a fresh database, in display order.
pub fn defaults() -> Vec<StatusMessage> {
    let base = StatusMessage::builtin;
    let dnd = |id| StatusMessage { is_do_not_disturb_status: true, ..base(id, "UNAVAILABLE") };
    let dated = |id| StatusMessage {
        can_have_date: true,
        can_have_time: true,
        is_persistent_status: true,
        ..base(id, "UNAVAILABLE")
    };
    vec![
        StatusMessage { is_acd_status: true, is_allow_follow_up_status: true, ..base("Available", "AVAILABLE") },
        base("Available, No ACD", "AVAILABLE"),
        StatusMessage {
            can_have_forward_number: true,
            is_forward_status: true,
            ..base("Available, Forward", "AVAILABLE")
        },
        base("Away from desk", "BREAK"),
        base("At Lunch", "BREAK"),
        base("At a training session", "TRAINING"),
        StatusMessage {
            is_after_call_work_status: true,
            is_allow_follow_up_status: true,
            ..base("Follow Up", "FOLLOWUP")
        },
        dnd("Do Not disturb"),
        dnd("In a meeting"),
        dated("Gone Home"),
        dated("On Vacation"),
        dated("Out of the office"),
        dated("Out of Town"),
        StatusMessage {
            is_selectable_status: false,
            is_acd_status: true,
            ..base("AcdAgentNotAnswering", "UNAVAILABLE")
        },
    ]
}

// `Some(None)` is an explicit `null`, which restores a flag's default. Declared in the order
// type errors are reported.
/// The members a client may send; `status_id`, `message_text` and `group_tag` are required on
/// creation.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = StatusMessageInput)]
#[serde(deny_unknown_fields)]
pub struct StatusMessageChanges {
    #[serde(default, deserialize_with = "sent")]
    pub can_have_date: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub can_have_time: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub can_have_forward_number: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_do_not_disturb_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_selectable_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_persistent_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_forward_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_after_call_work_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_acd_status: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub is_allow_follow_up_status: Option<Option<bool>>,
    /// Read-only: accepted when it matches the stored value (clients PUT back what they GOT).
    #[serde(default, deserialize_with = "sent")]
    pub built_in: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    pub status_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub message_text: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub icon_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub group_tag: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub system_id: Option<Option<String>>,
    /// A selectable, non-forward status other than this one; `null` for none.
    #[serde(default, deserialize_with = "sent")]
    pub return_status_id: Option<Option<String>>,
}

/// What a catalog change added, changed and removed, each in catalog order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogChanges {
    pub added: Vec<StatusMessage>,
    pub changed: Vec<StatusMessage>,
    /// Status ids.
    pub removed: Vec<String>,
}

impl CatalogChanges {
    /// Everything in `catalog`, as added: the full state a new subscriber gets.
    pub fn everything(catalog: &[StatusMessage]) -> Self {
        Self { added: catalog.to_vec(), ..Self::default() }
    }

    /// The difference from `before` to `after`, statuses matched by id.
    pub fn between(before: &[StatusMessage], after: &[StatusMessage]) -> Self {
        let find = |list: &[StatusMessage], id: &str| list.iter().position(|s| s.status_id == id);
        let mut changes = Self::default();
        for status in after {
            match find(before, &status.status_id) {
                None => changes.added.push(status.clone()),
                Some(i) if before[i] != *status => changes.changed.push(status.clone()),
                Some(_) => {}
            }
        }
        changes.removed =
            before.iter().filter(|s| find(after, &s.status_id).is_none()).map(|s| s.status_id.clone()).collect();
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// The status ids one user gained and lost (the allowed statuses of their CTI profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl AccessChanges {
    /// The difference from `before` to `after`, each list in the order of its source.
    pub fn between(before: &[String], after: &[String]) -> Self {
        Self {
            added: after.iter().filter(|id| !before.contains(id)).cloned().collect(),
            removed: before.iter().filter(|id| !after.contains(id)).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Is `id` acceptable as a status id (it appears in URL paths)?
pub fn valid_status_id(id: &str) -> bool {
    !id.trim().is_empty() && id.chars().count() <= MAX_STATUS_ID_LEN && !id.chars().any(|c| c.is_control() || c == '/')
}

/// Validates a new catalog entry; `status_id`, `message_text` and `group_tag` are required.
pub fn validate_new(changes: StatusMessageChanges) -> Result<StatusMessage, ValidationError> {
    let missing: Vec<String> =
        [("status_id", &changes.status_id), ("message_text", &changes.message_text), ("group_tag", &changes.group_tag)]
            .into_iter()
            .filter(|(_, v)| !matches!(v, Some(Some(_))))
            .map(|(name, _)| name.to_string())
            .collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing));
    }
    let group = changes.group_tag.clone().flatten().unwrap_or_default();
    let id = changes.status_id.clone().flatten().unwrap_or_default();
    let mut base = StatusMessage::builtin(&id, &group);
    base.built_in = false;
    validate_edit(&base, changes)
}

/// Validates an edit of `existing`. The status id cannot change.
pub fn validate_edit(
    existing: &StatusMessage,
    changes: StatusMessageChanges,
) -> Result<StatusMessage, ValidationError> {
    let mut out = existing.clone();
    let mut invalid = Vec::new();
    if let Some(Some(id)) = &changes.status_id
        && id != &existing.status_id
        && !existing.status_id.is_empty()
    {
        invalid.push("status_id cannot be changed".to_string());
    }
    for (name, change, slot) in [
        ("message_text", changes.message_text, &mut out.message_text),
        ("group_tag", changes.group_tag, &mut out.group_tag),
    ] {
        match change {
            Some(None) => return Err(ValidationError::Missing(vec![name.into()])),
            Some(Some(value)) => *slot = value,
            None => {}
        }
    }
    if let Some(icon) = changes.icon_uri {
        out.icon_uri = icon.unwrap_or_else(|| default_icon_uri(&out.group_tag));
    }
    if let Some(system_id) = changes.system_id {
        out.system_id = system_id.unwrap_or_else(|| out.status_id.clone());
    }
    if let Some(back) = changes.return_status_id {
        out.return_status_id = back;
    }
    if changes.built_in.flatten().is_some_and(|v| v != existing.built_in) {
        invalid.push("built_in is read-only".to_string());
    }
    let flags = [
        (changes.can_have_date, &mut out.can_have_date, false),
        (changes.can_have_time, &mut out.can_have_time, false),
        (changes.can_have_forward_number, &mut out.can_have_forward_number, false),
        (changes.is_do_not_disturb_status, &mut out.is_do_not_disturb_status, false),
        (changes.is_selectable_status, &mut out.is_selectable_status, true),
        (changes.is_persistent_status, &mut out.is_persistent_status, false),
        (changes.is_forward_status, &mut out.is_forward_status, false),
        (changes.is_after_call_work_status, &mut out.is_after_call_work_status, false),
        (changes.is_acd_status, &mut out.is_acd_status, false),
        (changes.is_allow_follow_up_status, &mut out.is_allow_follow_up_status, false),
    ];
    for (change, slot, default) in flags {
        if let Some(value) = change {
            *slot = value.unwrap_or(default);
        }
    }
    if !valid_status_id(&out.status_id) {
        invalid.push("status_id".into());
    }
    for (name, value) in [
        ("message_text", &out.message_text),
        ("group_tag", &out.group_tag),
        ("icon_uri", &out.icon_uri),
        ("system_id", &out.system_id),
    ] {
        if value.trim().is_empty() || value.chars().count() > MAX_TEXT_LEN || value.chars().any(char::is_control) {
            invalid.push(name.to_string());
        }
    }
    if out.is_forward_status && !out.can_have_forward_number {
        invalid.push("a forward status must have can_have_forward_number".to_string());
    }
    if invalid.is_empty() { Ok(out) } else { Err(ValidationError::Invalid(invalid)) }
}

/// Checks `status`'s return status against the catalog (it names an existing selectable,
/// non-forward status other than itself) and gives it the catalog's spelling.
pub fn check_return(status: &mut StatusMessage, catalog: &[StatusMessage]) -> Result<(), ValidationError> {
    let Some(requested) = status.return_status_id.clone() else {
        return Ok(());
    };
    let back = catalog
        .iter()
        .find(|s| s.status_id.to_lowercase() == requested.to_lowercase())
        .ok_or_else(|| ValidationError::Nonexistent("return_status_id".into(), requested.clone()))?;
    if !back.is_selectable_status || back.is_forward_status || back.status_id == status.status_id {
        return Err(ValidationError::invalid("return_status_id"));
    }
    status.return_status_id = Some(back.status_id.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_has_fourteen_statuses_with_exact_spelling() {
        let ids: Vec<_> = defaults().into_iter().map(|s| s.status_id).collect();
        assert_eq!(ids.len(), 14);
        assert_eq!(ids[0], "Available");
        assert!(ids.contains(&"Do Not disturb".to_string()));
        assert!(ids.contains(&"Available, No ACD".to_string()));
        let acd = defaults().into_iter().find(|s| s.status_id == "AcdAgentNotAnswering").expect("present");
        assert!(!acd.is_selectable_status);
    }

    #[test]
    fn new_status_needs_id_text_and_group() {
        let err = validate_new(StatusMessageChanges::default()).expect_err("missing");
        assert_eq!(err.to_string(), "Missing parameters: status_id,message_text,group_tag");
    }

    #[test]
    fn a_return_status_is_an_existing_selectable_non_forward_other_status() {
        let catalog = defaults();
        let mut gone = catalog.iter().find(|s| s.status_id == "Gone Home").cloned().expect("built in");
        let check = |status: &mut StatusMessage, back: &str| {
            status.return_status_id = Some(back.into());
            check_return(status, &catalog).map_err(|e| e.to_string())
        };
        assert_eq!(
            check(&mut gone, "Nope"),
            Err("Nonexistent parameters: return_status_id Nope does not exist".into())
        );
        for invalid in ["Gone Home", "Available, Forward", "AcdAgentNotAnswering"] {
            assert_eq!(check(&mut gone, invalid), Err("Invalid parameters: return_status_id".into()), "{invalid}");
        }
        assert_eq!(check(&mut gone, "available"), Ok(()));
        assert_eq!(gone.return_status_id.as_deref(), Some("Available"));
    }

    #[test]
    fn status_id_cannot_be_renamed() {
        let available = defaults().remove(0);
        let changes = StatusMessageChanges { status_id: Some(Some("Other".into())), ..Default::default() };
        assert!(validate_edit(&available, changes).is_err());
    }
    #[test]
    fn catalog_changes_name_what_was_added_changed_and_removed() {
        let before = defaults();
        let mut after = before.clone();
        after.remove(3);
        after[4].message_text = "Lunch break".into();
        let mut coffee = after[0].clone();
        coffee.status_id = "Coffee".into();
        after.push(coffee.clone());
        let changes = CatalogChanges::between(&before, &after);
        assert_eq!(changes.added, vec![coffee]);
        assert_eq!(changes.changed, vec![after[4].clone()]);
        assert_eq!(changes.removed, vec![before[3].status_id.clone()]);
        assert!(CatalogChanges::between(&after, &after).is_empty());
        assert_eq!(CatalogChanges::everything(&after).added, after);
    }

    #[test]
    fn access_changes_list_gained_and_lost_ids() {
        let ids = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let changes = AccessChanges::between(&ids(&["A", "B", "C"]), &ids(&["C", "D", "A"]));
        assert_eq!(changes, AccessChanges { added: ids(&["D"]), removed: ids(&["B"]) });
        assert!(AccessChanges::between(&ids(&["A"]), &ids(&["A"])).is_empty());
    }
}
