//! CTI profiles and the presence policy they carry.

use serde::{Deserialize, Serialize};

use super::status::StatusMessage;
use super::validation::{MAX_TEXT_LEN, ValidationError, sent};

/// Whose statuses a profile's users may see (`view_statuses`) or change (`change_statuses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every user's.
    All,
    /// Only their own.
    #[serde(rename = "self")]
    SelfOnly,
}

/// The scope of `view_statuses`.
pub type ViewScope = Scope;
/// The scope of `change_statuses`.
pub type ChangeScope = Scope;

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::SelfOnly => "self",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            "self" => Some(Self::SelfOnly),
            _ => None,
        }
    }
}

/// The statuses a profile's users may select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedStatuses {
    /// Every selectable status of the catalog, including statuses added later.
    AllSelectable,
    /// Exactly these status ids, in the catalog's spelling.
    Only(Vec<String>),
}

impl AllowedStatuses {
    /// The allowed ids, in catalog order.
    pub fn resolve(&self, catalog: &[StatusMessage]) -> Vec<String> {
        catalog
            .iter()
            .filter(|s| s.is_selectable_status)
            .filter(|s| match self {
                Self::AllSelectable => true,
                Self::Only(ids) => ids.iter().any(|id| id.eq_ignore_ascii_case(&s.status_id)),
            })
            .map(|s| s.status_id.clone())
            .collect()
    }
}

/// A stored CTI profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtiProfile {
    pub id: i64,
    pub fields: CtiProfileFields,
}

/// Every writable member of a CTI profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtiProfileFields {
    pub name: String,
    pub allowed_statuses: AllowedStatuses,
    pub view_statuses: ViewScope,
    pub change_statuses: ChangeScope,
}

// `Some(None)` is an explicit `null`. Declared in the order type errors are reported.
/// The members a client may send; on creation only `name` is required.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = CtiProfileInput)]
#[serde(deny_unknown_fields)]
pub struct CtiProfileChanges {
    /// Default `all`.
    #[serde(default, deserialize_with = "sent")]
    pub view_statuses: Option<Option<ViewScope>>,
    /// Default `self`.
    #[serde(default, deserialize_with = "sent")]
    pub change_statuses: Option<Option<ChangeScope>>,
    #[serde(default, deserialize_with = "sent")]
    pub name: Option<Option<String>>,
    /// `null` or absent on creation: every selectable status, including later ones.
    #[serde(default, deserialize_with = "sent")]
    pub allowed_statuses: Option<Option<Vec<String>>>,
}

/// The four profiles of a fresh database, with their ids.
pub fn defaults() -> Vec<(i64, CtiProfileFields)> {
    let profile = |name: &str, change| CtiProfileFields {
        name: name.into(),
        allowed_statuses: AllowedStatuses::AllSelectable,
        view_statuses: ViewScope::All,
        change_statuses: change,
    };
    vec![
        (1, profile("Supervisor", ChangeScope::All)),
        (2, profile("Agent", ChangeScope::SelfOnly)),
        (3, profile("Client", ChangeScope::SelfOnly)),
        (4, profile("Switchboard", ChangeScope::SelfOnly)),
    ]
}

/// Validates a new profile against the catalog.
pub fn validate_new(
    changes: CtiProfileChanges,
    catalog: &[StatusMessage],
) -> Result<CtiProfileFields, ValidationError> {
    let Some(Some(_)) = &changes.name else {
        return Err(ValidationError::Missing(vec!["name".into()]));
    };
    let base = CtiProfileFields {
        name: String::new(),
        allowed_statuses: AllowedStatuses::AllSelectable,
        view_statuses: ViewScope::All,
        change_statuses: ChangeScope::SelfOnly,
    };
    validate_edit(&base, changes, catalog)
}

/// Validates an edit of `existing`: absent members keep their value, `null` restores the default.
pub fn validate_edit(
    existing: &CtiProfileFields,
    changes: CtiProfileChanges,
    catalog: &[StatusMessage],
) -> Result<CtiProfileFields, ValidationError> {
    let mut out = existing.clone();
    match changes.name {
        Some(None) => return Err(ValidationError::Missing(vec!["name".into()])),
        Some(Some(name)) => out.name = name,
        None => {}
    }
    let name_len = out.name.chars().count();
    if out.name.trim().is_empty() || name_len > MAX_TEXT_LEN {
        return Err(ValidationError::invalid("name"));
    }
    if let Some(view) = changes.view_statuses {
        out.view_statuses = view.unwrap_or(ViewScope::All);
    }
    if let Some(change) = changes.change_statuses {
        out.change_statuses = change.unwrap_or(ChangeScope::SelfOnly);
    }
    match changes.allowed_statuses {
        Some(None) => out.allowed_statuses = AllowedStatuses::AllSelectable,
        Some(Some(ids)) => out.allowed_statuses = AllowedStatuses::Only(canonical_ids(&ids, catalog)?),
        None => {}
    }
    Ok(out)
}

fn canonical_ids(ids: &[String], catalog: &[StatusMessage]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(status) = catalog.iter().find(|s| s.status_id.eq_ignore_ascii_case(id)) else {
            return Err(ValidationError::Nonexistent("allowed_statuses".into(), id.clone()));
        };
        if !status.is_selectable_status {
            return Err(ValidationError::invalid(format!(
                "allowed_statuses {} is not a selectable status",
                status.status_id
            )));
        }
        if !out.contains(&status.status_id) {
            out.push(status.status_id.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status;

    #[test]
    fn defaults_are_the_four_xivo_profiles() {
        let names: Vec<_> = defaults().into_iter().map(|(id, p)| (id, p.name)).collect();
        assert_eq!(
            names,
            vec![(1, "Supervisor".to_string()), (2, "Agent".into()), (3, "Client".into()), (4, "Switchboard".into())]
        );
    }

    #[test]
    fn allowed_statuses_are_canonicalised_and_checked() {
        let catalog = status::defaults();
        let changes = CtiProfileChanges {
            name: Some(Some("Night".into())),
            allowed_statuses: Some(Some(vec!["at lunch".into(), "AVAILABLE".into()])),
            ..CtiProfileChanges::default()
        };
        let fields = validate_new(changes, &catalog).expect("valid");
        assert_eq!(fields.allowed_statuses.resolve(&catalog), vec!["Available", "At Lunch"]);
        assert_eq!(fields.change_statuses, ChangeScope::SelfOnly);

        let unknown = CtiProfileChanges {
            name: Some(Some("X".into())),
            allowed_statuses: Some(Some(vec!["Sleeping".into()])),
            ..CtiProfileChanges::default()
        };
        assert_eq!(
            validate_new(unknown, &catalog),
            Err(ValidationError::Nonexistent("allowed_statuses".into(), "Sleeping".into()))
        );
    }
}
