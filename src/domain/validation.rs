//! Validation failures shared by every configuration resource, in the
//! vocabulary of the XiVO 1.1 error messages.

use std::fmt;

/// Why a configuration request was refused before it reached the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationError {
    /// Required fields absent or `null`.
    Missing(Vec<String>),
    /// Fields (or sentences) that are invalid.
    Invalid(Vec<String>),
    /// A reference to something that does not exist: `(key, value)`.
    Nonexistent(String, String),
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(fields) => write!(f, "Missing parameters: {}", fields.join(",")),
            Self::Invalid(items) => write!(f, "Invalid parameters: {}", items.join(",")),
            Self::Nonexistent(key, value) => {
                write!(f, "Nonexistent parameters: {key} {value} does not exist")
            }
        }
    }
}

impl std::error::Error for ValidationError {}

impl ValidationError {
    pub fn invalid(item: impl Into<String>) -> Self {
        Self::Invalid(vec![item.into()])
    }
}

/// Longest text accepted in any free-text field.
pub const MAX_TEXT_LEN: usize = 255;

/// For a member of a partial edit (`#[serde(default, deserialize_with = "sent")]` on an
/// `Option<Option<T>>`): left out it stays `None`, sent as `null` it is `Some(None)`.
pub fn sent<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
