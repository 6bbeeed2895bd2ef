//! Users of the contact center: their identity, caller id and presence login.

use super::validation::{MAX_TEXT_LEN, ValidationError, sent};

/// Shortest password accepted for a presence login.
pub const MIN_PASSWORD_LEN: usize = 4;

/// A stored user. The password never leaves the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub fields: UserFields,
    pub cti_profile_id: Option<i64>,
}

/// Every writable member of a user but the password.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct UserFields {
    pub firstname: String,
    pub lastname: String,
    pub caller_id: String,
    pub outgoing_caller_id: Option<String>,
    pub username: Option<String>,
    pub music_on_hold: Option<String>,
    pub mobile_phone_number: Option<String>,
    pub userfield: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub preprocess_subroutine: Option<String>,
}

// Each member `None` when absent and `Some(None)` when `null`.
/// The members a client may send when creating or editing a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = UserInput)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    /// Required on creation, non-empty.
    #[serde(default, deserialize_with = "sent")]
    pub firstname: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub lastname: Option<Option<String>>,
    /// Defaults to `"Firstname Lastname"`.
    #[serde(default, deserialize_with = "sent")]
    pub caller_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub outgoing_caller_id: Option<Option<String>>,
    /// Presence login and ICWS `userId`; unique, case-insensitive.
    #[serde(default, deserialize_with = "sent")]
    pub username: Option<Option<String>>,
    /// Write-only, at least 4 characters; `null` keeps the password.
    #[serde(default, deserialize_with = "sent")]
    pub password: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub music_on_hold: Option<Option<String>>,
    /// Digits only.
    #[serde(default, deserialize_with = "sent")]
    pub mobile_phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub userfield: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub language: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    pub preprocess_subroutine: Option<Option<String>>,
}

/// What a create or an edit resolves to once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUser {
    pub fields: UserFields,
    /// The new password, if one was sent. `null` keeps the password: clients PUT back what
    /// they GOT, and GET always shows `password: null`.
    pub password: Option<String>,
}

impl UserFields {
    /// The caller id XiVO derives from the names: `"Firstname Lastname"`, quotes included.
    pub fn default_caller_id(firstname: &str, lastname: &str) -> String {
        let full = format!("{firstname} {lastname}");
        format!("\"{}\"", full.trim())
    }

    /// The case-insensitive key under which the username is unique.
    pub fn username_key(&self) -> Option<String> {
        self.username.as_deref().map(username_key)
    }
}

/// Usernames compare case-insensitively.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// Validates a new user.
pub fn validate_new(changes: UserChanges) -> Result<ValidUser, ValidationError> {
    let Some(Some(_)) = &changes.firstname else {
        return Err(ValidationError::Missing(vec!["firstname".into()]));
    };
    let base = UserFields { outgoing_caller_id: Some("default".into()), ..UserFields::default() };
    apply(&base, changes, true)
}

/// Validates an edit of `existing`: absent members keep their value.
pub fn validate_edit(existing: &UserFields, changes: UserChanges) -> Result<ValidUser, ValidationError> {
    if let Some(None) = changes.firstname {
        return Err(ValidationError::Missing(vec!["firstname".into()]));
    }
    apply(existing, changes, false)
}

fn apply(base: &UserFields, changes: UserChanges, creating: bool) -> Result<ValidUser, ValidationError> {
    let mut invalid = Vec::new();
    let mut out = base.clone();
    if let Some(Some(first)) = changes.firstname {
        out.firstname = first;
    }
    if let Some(last) = changes.lastname {
        out.lastname = last.unwrap_or_default();
    }
    let names_changed = out.firstname != base.firstname || out.lastname != base.lastname;
    match changes.caller_id {
        Some(Some(caller_id)) => out.caller_id = caller_id,
        Some(None) => out.caller_id = UserFields::default_caller_id(&out.firstname, &out.lastname),
        None if creating
            || (names_changed && base.caller_id == UserFields::default_caller_id(&base.firstname, &base.lastname)) =>
        {
            out.caller_id = UserFields::default_caller_id(&out.firstname, &out.lastname);
        }
        None => {}
    }
    let optional = [
        (changes.outgoing_caller_id, &mut out.outgoing_caller_id),
        (changes.username, &mut out.username),
        (changes.music_on_hold, &mut out.music_on_hold),
        (changes.mobile_phone_number, &mut out.mobile_phone_number),
        (changes.userfield, &mut out.userfield),
        (changes.timezone, &mut out.timezone),
        (changes.language, &mut out.language),
        (changes.description, &mut out.description),
        (changes.preprocess_subroutine, &mut out.preprocess_subroutine),
    ];
    for (change, slot) in optional {
        if let Some(value) = change {
            *slot = value;
        }
    }

    if out.firstname.trim().is_empty() {
        invalid.push("firstname".to_string());
    }
    for (name, value) in out.texts() {
        if value.is_some_and(|v| v.chars().count() > MAX_TEXT_LEN) {
            invalid.push(format!("{name} is longer than {MAX_TEXT_LEN} characters"));
        }
    }
    if let Some(username) = &out.username
        && (username.is_empty() || username.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/'))
    {
        invalid.push("username".to_string());
    }
    if out.mobile_phone_number.as_deref().is_some_and(|n| !n.is_empty() && !n.bytes().all(|b| b.is_ascii_digit())) {
        invalid.push("mobile_phone_number".to_string());
    }
    if let Some(Some(password)) = &changes.password {
        let len = password.chars().count();
        if len < MIN_PASSWORD_LEN {
            invalid.push(format!("password must have at least {MIN_PASSWORD_LEN} characters"));
        } else if len > MAX_TEXT_LEN {
            invalid.push(format!("password is longer than {MAX_TEXT_LEN} characters"));
        }
    }
    if !invalid.is_empty() {
        return Err(ValidationError::Invalid(invalid));
    }
    Ok(ValidUser { fields: out, password: changes.password.flatten() })
}

impl UserFields {
    fn texts(&self) -> [(&'static str, Option<&str>); 12] {
        [
            ("firstname", Some(self.firstname.as_str())),
            ("lastname", Some(self.lastname.as_str())),
            ("caller_id", Some(self.caller_id.as_str())),
            ("outgoing_caller_id", self.outgoing_caller_id.as_deref()),
            ("username", self.username.as_deref()),
            ("music_on_hold", self.music_on_hold.as_deref()),
            ("mobile_phone_number", self.mobile_phone_number.as_deref()),
            ("userfield", self.userfield.as_deref()),
            ("timezone", self.timezone.as_deref()),
            ("language", self.language.as_deref()),
            ("description", self.description.as_deref()),
            ("preprocess_subroutine", self.preprocess_subroutine.as_deref()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(first: &str, last: &str) -> UserChanges {
        UserChanges { firstname: Some(Some(first.into())), lastname: Some(Some(last.into())), ..UserChanges::default() }
    }

    #[test]
    fn caller_id_defaults_to_the_quoted_full_name() {
        let user = validate_new(named("John", "Doe")).expect("valid");
        assert_eq!(user.fields.caller_id, "\"John Doe\"");
        let solo = validate_new(named("Alice", "")).expect("valid");
        assert_eq!(solo.fields.caller_id, "\"Alice\"");
    }

    #[test]
    fn firstname_is_required_and_non_empty() {
        assert_eq!(validate_new(UserChanges::default()), Err(ValidationError::Missing(vec!["firstname".into()])));
        assert_eq!(validate_new(named("  ", "x")), Err(ValidationError::invalid("firstname")));
    }

    #[test]
    fn renaming_follows_a_derived_caller_id_but_keeps_a_custom_one() {
        let user = validate_new(named("John", "Doe")).expect("valid").fields;
        let renamed = validate_edit(&user, named("Jane", "Doe")).expect("valid");
        assert_eq!(renamed.fields.caller_id, "\"Jane Doe\"");
        let custom = UserFields { caller_id: "Boss".into(), ..user };
        let kept = validate_edit(&custom, named("Jane", "Doe")).expect("valid");
        assert_eq!(kept.fields.caller_id, "Boss");
    }

    #[test]
    fn mobile_numbers_are_digits_and_passwords_long_enough() {
        let mut changes = named("A", "B");
        changes.mobile_phone_number = Some(Some("06-12".into()));
        changes.password = Some(Some("abc".into()));
        assert_eq!(
            validate_new(changes),
            Err(ValidationError::Invalid(vec![
                "mobile_phone_number".into(),
                "password must have at least 4 characters".into()
            ]))
        );
    }
}
