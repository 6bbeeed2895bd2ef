//! `/1.1/status_history` and `/1.1/users/{user_id}/status_history`: the presence history
//! (ctid extension), as JSON or CSV.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, user_id};
use crate::app::history as app;
use crate::domain::clock::{format_rfc3339_ms, now_ms};
use crate::domain::history::{ActorType, HistoryKind, HistoryQuery, HistoryRecord, MAX_LIMIT};
use crate::domain::schedule::format_rfc3339;
use crate::http::AppState;
use crate::http::xivo::error::{XivoError, generic_message};
use crate::http::xivo::negotiate::prefers_csv;

/// Who made a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActorBody {
    #[serde(rename = "type")]
    pub actor_type: ActorType,
    /// The session's username (`user`), the web-service account (`admin`), else `null`.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// One change of a user's presence. Members that do not apply to the record's kind are `null`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryRecordBody {
    /// The change's number in the event log (the `webhook-id` of its webhook delivery).
    pub id: i64,
    /// RFC 3339 UTC, milliseconds.
    pub at: String,
    pub user_id: i64,
    /// The username when the change was made.
    #[schema(required = true)]
    pub username: Option<String>,
    pub kind: HistoryKind,
    #[schema(required = true)]
    pub status_id: Option<String>,
    #[schema(required = true)]
    pub notes: Option<String>,
    #[schema(required = true)]
    pub forward_number: Option<String>,
    /// RFC 3339 UTC.
    #[schema(required = true)]
    pub until: Option<String>,
    #[schema(required = true)]
    pub on_phone: Option<bool>,
    /// The station logged in to (`""`: without a station); `null` on a station logout.
    #[schema(required = true)]
    pub station: Option<String>,
    #[schema(required = true)]
    pub session_id: Option<String>,
    pub actor: ActorBody,
}

impl From<HistoryRecord> for HistoryRecordBody {
    fn from(r: HistoryRecord) -> Self {
        let v = r.values;
        Self {
            id: r.id,
            at: format_rfc3339_ms(r.at),
            user_id: r.user_id,
            username: r.username,
            kind: r.kind,
            status_id: v.status_id,
            notes: v.notes,
            forward_number: v.forward_number,
            until: v.until.map(format_rfc3339),
            on_phone: v.on_phone,
            station: v.station,
            session_id: v.session_id,
            actor: ActorBody { actor_type: r.actor, name: r.actor_name },
        }
    }
}

fn internal() -> XivoError {
    XivoError::new(StatusCode::INTERNAL_SERVER_ERROR, generic_message(StatusCode::INTERNAL_SERVER_ERROR))
}

fn query_of(params: &[(String, String)], user: Option<i64>) -> Result<HistoryQuery, XivoError> {
    let mut query = HistoryQuery::parse(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), user, now_ms())?;
    query.limit = Some(query.limit.unwrap_or(MAX_LIMIT));
    Ok(query)
}

async fn respond(state: &AppState, headers: &HeaderMap, query: HistoryQuery, own: bool) -> Result<Response, XivoError> {
    let (total, records) = app::list(state.store.as_ref(), &query, own).await?;
    if !prefers_csv(headers) {
        let items = records.into_iter().map(HistoryRecordBody::from).collect();
        return Ok(Json(ListOf { total, items }).into_response());
    }
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut write = || -> csv::Result<()> {
        csv.write_record(app::CSV_HEADER)?;
        for record in &records {
            csv.write_record(app::csv_fields(record))?;
        }
        csv.flush()?;
        Ok(())
    };
    write().map_err(|err| {
        tracing::error!(error = %err, "writing the history as CSV failed");
        internal()
    })?;
    let body = csv.into_inner().map_err(|_| internal())?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

/// The presence history of every user, oldest first (at most 10,000 records a page).
#[utoipa::path(get, path = "/1.1/status_history",
    operation_id = "list_status_history", tag = "status_history",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339; default: 24 hours before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339, excluded; default: now (or 24 hours after `from`)"),
        ("user_id" = Option<i64>, Query),
        ("status_id" = Option<String>, Query),
        ("kind" = Option<HistoryKind>, Query),
        ("limit" = Option<i64>, Query, minimum = 0, maximum = 10_000, description = "Default and most: 10,000"),
        ("skip" = Option<i64>, Query, minimum = 0),
        ("direction" = Option<String>, Query, description = "asc (default) or desc"),
    ),
    responses(
        (status = 200, description = "JSON, or with `Accept: text/csv` a header line then one line per record",
            content((ListOf<HistoryRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Vec<String>), (status = 401, body = Vec<String>)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, XivoError> {
    let query = query_of(&params, None)?;
    respond(&state, &headers, query, false).await
}

/// The presence history of one user, oldest first (at most 10,000 records a page).
#[utoipa::path(get, path = "/1.1/users/{user_id}/status_history",
    operation_id = "list_user_status_history", tag = "status_history",
    params(
        ("user_id" = i64, Path),
        ("from" = Option<String>, Query, description = "RFC 3339; default: 24 hours before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339, excluded; default: now (or 24 hours after `from`)"),
        ("status_id" = Option<String>, Query),
        ("kind" = Option<HistoryKind>, Query),
        ("limit" = Option<i64>, Query, minimum = 0, maximum = 10_000, description = "Default and most: 10,000"),
        ("skip" = Option<i64>, Query, minimum = 0),
        ("direction" = Option<String>, Query, description = "asc (default) or desc"),
    ),
    responses(
        (status = 200, description = "JSON, or with `Accept: text/csv` a header line then one line per record",
            content((ListOf<HistoryRecordBody> = "application/json"), (String = "text/csv"))),
        (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn list_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, XivoError> {
    let user = user_id(&raw)?;
    let query = query_of(&params, Some(user))?;
    respond(&state, &headers, query, true).await
}
