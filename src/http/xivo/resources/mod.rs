//! One module per configuration resource.

pub mod cti_profiles;
pub mod lines;
pub mod status_messages;
pub mod telephony;
pub mod user_cti_profile;
pub mod users;

use serde::Serialize;

/// `{"total", "items"}` of every list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListOf<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// A numeric id from the path; anything else is an id that cannot exist.
pub fn parse_id(raw: &str) -> Option<i64> {
    raw.parse().ok()
}
