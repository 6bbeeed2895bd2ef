//! `/icws/{sessionId}/configuration/users` and `/icws/{sessionId}/ctid/session`: who the
//! session may see, and what it may do (what the web console needs to draw its board).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::domain::directory::{self, Entry, MAX_CONDITIONS, MAX_QUERY_LEN, Selection};
use crate::http::AppState;
use crate::presence::PresenceError;
use crate::presence::render::ConfigurationId;

/// A user of the directory: `configurationId` always, the other members when selected and known.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub configuration_id: ConfigurationId,
    /// Selected with `displayName`: as in `configurationId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub display_name: Option<String>,
    /// Selected with `extension`: the number of the user's first line that has one; absent
    /// when none has.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub extension: Option<String>,
    /// Selected with `statusText`: the message text of the user's current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub status_text: Option<String>,
}

impl UserItem {
    fn new(entry: Entry, selection: Selection) -> Self {
        let uri = format!("/configuration/users/{}", entry.id);
        Self {
            display_name: selection.display_name.then(|| entry.display_name.clone()),
            configuration_id: ConfigurationId { uri, id: entry.id, display_name: entry.display_name },
            extension: entry.extension,
            status_text: entry.status_text,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserItems {
    pub items: Vec<UserItem>,
}

/// The directory request of a query string and a `Range` header.
fn directory_query(params: &[(String, String)], headers: &HeaderMap) -> Result<directory::Query, IcwsError> {
    let mut query = directory::Query::default();
    for (name, value) in params {
        match name.as_str() {
            "where" => query.add_where(value).map_err(|e| IcwsError::invalid("where", e.0))?,
            "select" => query.selection.add(value).map_err(|e| IcwsError::invalid("select", e.0))?,
            _ => {}
        }
    }
    // A header that is not text cannot name the items unit: ignored like any other unit.
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        query.range = directory::parse_range(range).map_err(|e| IcwsError::malformed(e.to_string()))?;
    }
    Ok(query)
}

/// The users the session may see (itself only for a view-self profile), by display name
/// (case-insensitive), then username.
#[utoipa::path(get, path = "/icws/{sessionId}/configuration/users",
    operation_id = "icws_get_users", tag = "icws configuration",
    security(("icws_session" = [])),
    params(
        ("sessionId" = String, Path),
        ("select" = Option<String>, Query,
            description = "Comma-separated members to add to `configurationId`: `displayName`, `extension`, `statusText`, or `*` for all; unknown names are ignored", max_length = 1024),
        ("where" = Option<String>, Query,
            description = "Comma-separated conditions that must all hold, each `property operator value`: property `configurationId.id`, `displayName` (or `configurationId.displayName`), `extension` or `statusText`; operator `eq`, `sw` (starts with) or `ct` (contains); case-insensitive. At most 16 conditions.", max_length = 1024),
        ("Range" = Option<String>, Header,
            description = "`items=first-last` (from 0), `items=first-` or `items=-count`: one page. Other units are ignored."),
    ),
    responses(
        (status = 200, description = "Every user (no items range asked for)", body = UserItems,
            headers(("Accept-Ranges" = String, description = "`items`"))),
        (status = 206, description = "The page asked for", body = UserItems,
            headers(
                ("Content-Range" = String, description = "`items first-last/total`"),
                ("Accept-Ranges" = String, description = "`items`"))),
        (status = 400, description = "A malformed `where`, `select` or items range", body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody),
        (status = 416, description = "The range starts past the last user", body = super::error::IcwsErrorBody,
            headers(("Content-Range" = String, description = "`items */total`")))))]
pub async fn users(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, IcwsError> {
    let query = directory_query(&params, &headers)?;
    let page = match state.presence.directory(&session, &query).await {
        Ok(page) => page,
        Err(err @ PresenceError::RangeNotSatisfiable(total)) => {
            let unsatisfied = content_range(&format!("items */{total}"));
            return Ok(([(header::CONTENT_RANGE, unsatisfied)], IcwsError::from(err)).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    let items = page.entries.into_iter().map(|e| UserItem::new(e, query.selection)).collect();
    let status = if page.part.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response = IcwsJson(status, UserItems { items }).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("items"));
    if let Some((first, last)) = page.part {
        headers.insert(header::CONTENT_RANGE, content_range(&format!("items {first}-{last}/{}", page.total)));
    }
    Ok(response)
}

// The OpenAPI document states the bounds of `select` and `where` as literals.
const _: () = assert!(MAX_QUERY_LEN == 1024 && MAX_CONDITIONS == 16);

/// A `Content-Range` value (ASCII letters, digits, `*`, `-`, `/` and a space: always valid).
fn content_range(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("items */0"))
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
