//! `/1.1/users/{user_id}/scheduled_statuses`: statuses planned ahead (ctid extension).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, parse_id, user_id};
use crate::app::scheduled_statuses as app;
use crate::domain::schedule::{ScheduleInput, ScheduleState, ScheduledStatus, format_rfc3339};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

/// A scheduled status as the configuration API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduledStatusBody {
    pub id: i64,
    pub user_id: i64,
    pub status_id: String,
    #[schema(required = true)]
    pub notes: Option<String>,
    #[schema(required = true)]
    pub forward_number: Option<String>,
    /// RFC 3339, UTC.
    pub start: String,
    /// RFC 3339, UTC; `null`: the status holds until changed.
    #[schema(required = true)]
    pub end: Option<String>,
    pub state: ScheduleState,
    pub links: Vec<Link>,
}

fn representation(base: &BaseUrl, s: ScheduledStatus) -> ScheduledStatusBody {
    let f = s.fields;
    ScheduledStatusBody {
        id: s.id,
        user_id: f.user_id,
        links: vec![Link::scheduled_status(base, f.user_id, s.id), Link::user(base, f.user_id)],
        status_id: f.status_id,
        notes: f.notes,
        forward_number: f.forward_number,
        start: format_rfc3339(f.start),
        end: f.end.map(format_rfc3339),
        state: s.state,
    }
}

fn schedule_id(raw: &str) -> Result<i64, XivoError> {
    parse_id(raw).ok_or_else(|| XivoError::not_found(format!("Scheduled status with id={raw} does not exist")))
}

/// List a user's scheduled statuses by start (pending, active and done).
#[utoipa::path(get, path = "/1.1/users/{user_id}/scheduled_statuses",
    operation_id = "list_scheduled_statuses", tag = "scheduled_statuses",
    params(("user_id" = i64, Path)),
    responses((status = 200, body = ListOf<ScheduledStatusBody>), (status = 404, body = Vec<String>)))]
pub async fn list(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<ListOf<ScheduledStatusBody>>, XivoError> {
    let items: Vec<_> =
        app::list(state.store.as_ref(), user_id(&raw)?).await?.into_iter().map(|s| representation(&base, s)).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

/// Get one scheduled status.
#[utoipa::path(get, path = "/1.1/users/{user_id}/scheduled_statuses/{id}",
    operation_id = "get_scheduled_status", tag = "scheduled_statuses",
    params(("user_id" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, body = ScheduledStatusBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path((raw_user, raw_id)): Path<(String, String)>,
) -> Result<Json<ScheduledStatusBody>, XivoError> {
    let user = user_id(&raw_user)?;
    let id = schedule_id(&raw_id)?;
    Ok(Json(representation(&base, app::get(state.store.as_ref(), user, id).await?)))
}

/// Schedule a status: set at `start`; at `end`, back to the status held before if the
/// scheduled one is still in place.
#[utoipa::path(post, path = "/1.1/users/{user_id}/scheduled_statuses",
    operation_id = "create_scheduled_status", tag = "scheduled_statuses", request_body = ScheduleInput,
    params(("user_id" = i64, Path)),
    responses(
        (status = 201, body = ScheduledStatusBody, headers(("Location" = String))),
        (status = 400, body = Vec<String>),
        (status = 404, body = Vec<String>)))]
pub async fn create(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<Response, XivoError> {
    let user = user_id(&raw)?;
    let input: ScheduleInput = body::read(body.0, &["id", "user_id", "state", "links"])?;
    let created = app::create(state.store.as_ref(), user, input).await?;
    let location = format!("/1.1/users/{user}/scheduled_statuses/{}", created.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, created))).into_response())
}

/// Delete a scheduled status; an active one first ends as if its end were now.
#[utoipa::path(delete, path = "/1.1/users/{user_id}/scheduled_statuses/{id}",
    operation_id = "delete_scheduled_status", tag = "scheduled_statuses",
    params(("user_id" = i64, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn delete(
    State(state): State<AppState>,
    Path((raw_user, raw_id)): Path<(String, String)>,
) -> Result<StatusCode, XivoError> {
    let user = user_id(&raw_user)?;
    let id = schedule_id(&raw_id)?;
    app::delete(&state.presence, state.store.as_ref(), user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
