//! `/icws/{sessionId}/configuration/users` and `/icws/{sessionId}/ctid/session`: who the
//! session may see, and what it may do (what the web console needs to draw its board).

use axum::extract::State;
use serde::Serialize;

use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::http::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationId {
    pub id: String,
    pub display_name: String,
    pub uri: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub configuration_id: ConfigurationId,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserItems {
    pub items: Vec<UserItem>,
}

/// The users whose status the session may see, by display name.
#[utoipa::path(get, path = "/icws/{sessionId}/configuration/users",
    operation_id = "icws_get_users", tag = "icws configuration",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 200, body = UserItems), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<IcwsJson<UserItems>, IcwsError> {
    let entries = state.presence.directory(&session).await?;
    let items = entries
        .into_iter()
        .map(|(id, display_name)| UserItem {
            configuration_id: ConfigurationId { uri: format!("/configuration/users/{id}"), id, display_name },
        })
        .collect();
    Ok(ok(UserItems { items }))
}

/// The session user and their presence rights (ctid extension).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub user_id: String,
    pub user_display_name: String,
    pub cti_profile: String,
    /// `all` or `self`.
    pub view_statuses: &'static str,
    /// `all` or `self`.
    pub change_statuses: &'static str,
}

/// Who the session is and what its CTI profile lets it do.
#[utoipa::path(get, path = "/icws/{sessionId}/ctid/session",
    operation_id = "icws_get_ctid_session", tag = "icws configuration",
    security(("icws_session" = [])), params(("sessionId" = String, Path)),
    responses((status = 200, body = SessionInfo), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn session(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<IcwsJson<SessionInfo>, IcwsError> {
    let (profile, view_all, change_all) = state.presence.rights(&session).await?;
    let scope = |all: bool| if all { "all" } else { "self" };
    Ok(ok(SessionInfo {
        user_id: session.username.clone(),
        user_display_name: session.display_name.clone(),
        cti_profile: profile,
        view_statuses: scope(view_all),
        change_statuses: scope(change_all),
    }))
}
