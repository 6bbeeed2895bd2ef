//! Link members (`{"rel", "href"}`) of configuration API representations.

use serde::Serialize;

use crate::http::base_url::BaseUrl;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

impl Link {
    pub fn user(base: &BaseUrl, id: i64) -> Self {
        Self { rel: "users", href: base.join(&format!("/1.1/users/{id}")) }
    }

    pub fn cti_profile(base: &BaseUrl, id: i64) -> Self {
        Self { rel: "cti_profiles", href: base.join(&format!("/1.1/cti_profiles/{id}")) }
    }

    pub fn line(base: &BaseUrl, id: i64) -> Self {
        Self { rel: "lines", href: base.join(&format!("/1.1/lines/{id}")) }
    }

    pub fn scheduled_status(base: &BaseUrl, user_id: i64, id: i64) -> Self {
        Self { rel: "scheduled_statuses", href: base.join(&format!("/1.1/users/{user_id}/scheduled_statuses/{id}")) }
    }

    pub fn webhook(base: &BaseUrl, id: i64) -> Self {
        Self { rel: "webhooks", href: base.join(&format!("/1.1/webhooks/{id}")) }
    }

    pub fn status_message(base: &BaseUrl, status_id: &str) -> Self {
        Self { rel: "status_messages", href: base.join(&status_message_path(status_id)) }
    }
}

/// `/1.1/status_messages/{id}` with the id percent-encoded.
pub fn status_message_path(status_id: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(status_id, percent_encoding::NON_ALPHANUMERIC);
    format!("/1.1/status_messages/{encoded}")
}
