//! `/icws/{sessionId}/status/...`: the status catalog and user statuses.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::{IcwsObject, boolean_in};
use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::domain::presence::{StatusChange, Until};
use crate::http::AppState;
use crate::presence::dates;
use crate::presence::wire::{StatusMessageBody, UserStatusBody, representation};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessageList {
    pub status_message_list: Vec<StatusMessageBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccess {
    pub user_id: String,
    pub status_messages: Vec<String>,
}

/// The status change a PUT body asks for (`until` nested or flat).
pub fn status_change(body: &IcwsObject) -> Result<StatusChange, IcwsError> {
    let status_id = body.required_string("statusId")?;
    let notes = body.string("notes")?;
    let forward_number = body.string("forwardNumber")?;
    // The flat members are checked even when a nested `until` wins over them.
    let flat = until(&body.0)?;
    let until = match body.0.get("until") {
        Some(Value::Object(nested)) => until(nested)?,
        None | Some(Value::Null) => flat,
        Some(_) => return Err(IcwsError::invalid("until", "The property until must be an object.")),
    };
    Ok(StatusChange { status_id, notes, forward_number, until })
}

fn until(members: &Map<String, Value>) -> Result<Option<Until>, IcwsError> {
    let has_date = boolean_in(members, "hasDate")?;
    let has_time = boolean_in(members, "hasTime")?;
    let at = match members.get("untilDateTime") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => dates::parse(text)
            .ok_or_else(|| IcwsError::invalid("untilDateTime", format!("The date-time {text:?} is not valid.")))?,
        Some(_) => return Err(IcwsError::invalid("untilDateTime", "The property untilDateTime must be a string.")),
    };
    Ok(Some(Until { at, has_date: has_date.unwrap_or(true), has_time: has_time.unwrap_or(true) }))
}

/// The status catalog.
#[utoipa::path(get, path = "/icws/{sessionId}/status/status-messages",
    operation_id = "icws_get_status_messages", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200, body = StatusMessageList), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn status_messages(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<IcwsJson<StatusMessageList>, IcwsError> {
    let catalog = state.presence.catalog(&session).await?;
    Ok(ok(StatusMessageList { status_message_list: catalog.into_iter().map(Into::into).collect() }))
}

/// The statuses a user may select, from their CTI profile.
#[utoipa::path(get, path = "/icws/{sessionId}/status/status-messages-user-access/{userId}",
    operation_id = "icws_get_status_messages_user_access", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserAccess), (status = 403, body = super::error::IcwsErrorBody),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn user_access(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<UserAccess>, IcwsError> {
    let (user_id, status_messages) = state.presence.user_access(&session, &user).await?;
    Ok(ok(UserAccess { user_id, status_messages }))
}

/// A user's status.
#[utoipa::path(get, path = "/icws/{sessionId}/status/user-statuses/{userId}",
    operation_id = "icws_get_user_status", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = UserStatusBody), (status = 401, body = super::error::IcwsErrorBody),
        (status = 403, body = super::error::IcwsErrorBody), (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn get_user_status(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
) -> Result<IcwsJson<UserStatusBody>, IcwsError> {
    let view = state.presence.status(&session, &user).await?;
    Ok(ok(representation(view, &state.server_name)))
}

/// The body of a status change. `until` may also be given flat: `untilDateTime`, `hasDate` and
/// `hasTime` at the top level. Other members are ignored.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct StatusChangeInput {
    /// A status the user may select.
    #[schema(min_length = 1)]
    pub status_id: String,
    pub notes: Option<String>,
    /// Required by statuses that can have a forward number.
    pub forward_number: Option<String>,
    pub until: Option<UntilInput>,
    pub until_date_time: Option<String>,
    pub has_date: Option<bool>,
    pub has_time: Option<bool>,
}

/// When a status ends; without `untilDateTime`, it does not.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct UntilInput {
    /// ISO 8601, e.g. `2012-02-16T16:42Z` or `20120216T164200Z`.
    pub until_date_time: Option<String>,
    /// Default true.
    pub has_date: Option<bool>,
    /// Default true.
    pub has_time: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AsyncOperationAccepted {
    pub request_id: String,
}

/// Change a user's status: 202 once the change is committed.
#[utoipa::path(put, path = "/icws/{sessionId}/status/user-statuses/{userId}",
    operation_id = "icws_put_user_status", tag = "icws status", security(("icws_session" = [])),
    params(("sessionId" = String, Path), ("userId" = String, Path)),
    request_body(content = StatusChangeInput, example = json!({"statusId": "On Vacation", "notes": "Touring France",
        "until": {"untilDateTime": "2012-02-16T16:42Z", "hasDate": true, "hasTime": true}})),
    responses((status = 202, body = AsyncOperationAccepted), (status = 400, body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody), (status = 403, body = super::error::IcwsErrorBody),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn put_user_status(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Path((_, user)): Path<(String, String)>,
    body: IcwsObject,
) -> Result<impl IntoResponse, IcwsError> {
    let change = status_change(&body)?;
    let request_id = state.presence.change_status(&session, &user, change).await?;
    Ok(IcwsJson(StatusCode::ACCEPTED, AsyncOperationAccepted { request_id }))
}
