//! `/icws/connection/server-info` and `/icws/{sessionId}/connection/switchover-status`: what a
//! client asks before and after logging in about the server it talks to.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Serialize;

use super::error::ok;
use super::session::IcwsSession;
use crate::http::AppState;

/// A language the server answers in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Language {
    #[serde(rename = "languageID")]
    pub language_id: &'static str,
    #[serde(rename = "languageDisplayName")]
    pub language_display_name: &'static str,
}

/// How users may log in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// User name and password logins (`icAuthConnectionRequestSettings`): always.
    pub allow_ic_auth: bool,
}

/// What a client learns of the server before logging in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub languages: &'static [Language],
    /// The language of the server's answers, whatever the request's `Accept-Language`.
    pub accept_language: &'static str,
    pub authentication: AuthenticationInfo,
}

/// ctid answers in one language.
const LANGUAGES: [Language; 1] = [Language { language_id: "en-US", language_display_name: "English (United States)" }];

/// The server's languages and login methods.
#[utoipa::path(get, path = "/icws/connection/server-info",
    operation_id = "icws_get_server_info", tag = "icws connection", security(()),
    responses((status = 200, body = ServerInfo)))]
pub async fn get_server_info() -> impl IntoResponse {
    ok(ServerInfo {
        languages: &LANGUAGES,
        accept_language: LANGUAGES[0].language_id,
        authentication: AuthenticationInfo { allow_ic_auth: true },
    })
}

/// Switchover state: ctid has no standby server, so it is never switching over and the
/// primary host is this server.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchoverStatus {
    pub is_switchover_active: bool,
    /// The server name (`--server-name`), as `icServer` in the login answer.
    pub primary_host: String,
}

/// Whether a switchover is under way, and the primary server.
#[utoipa::path(get, path = "/icws/{sessionId}/connection/switchover-status",
    operation_id = "icws_get_switchover_status", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200, body = SwitchoverStatus), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn get_switchover_status(State(state): State<AppState>, _session: IcwsSession) -> impl IntoResponse {
    ok(SwitchoverStatus { is_switchover_active: false, primary_host: state.server_name.to_string() })
}
