//! One module per configuration resource.

pub mod cti_profiles;
pub mod lines;
pub mod scheduled_statuses;
pub mod status_history;
pub mod status_messages;
pub mod status_reports;
pub mod telephony;
pub mod user_cti_profile;
pub mod users;
pub mod webhooks;

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

/// A user id from the path, or the 404 a user that cannot exist gets.
pub fn user_id(raw: &str) -> Result<i64, crate::http::xivo::error::XivoError> {
    parse_id(raw)
        .ok_or_else(|| crate::http::xivo::error::XivoError::not_found(format!("User with id={raw} does not exist")))
}
