//! `/1.1/status_messages`: the status catalog (ctid extension).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ListOf;
use crate::app::status_messages as app;
use crate::domain::status::{FLAG_NAMES, StatusMessage, StatusMessageChanges};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{Fields, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::{Link, status_message_path};

const TEXTS: [&str; 5] = ["status_id", "message_text", "icon_uri", "group_tag", "system_id"];
const READ_ONLY: [&str; 1] = ["links"];

/// A status of the catalog as the configuration API shows it (the presence API has its own
/// camel-case `StatusMessageBody`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogStatusBody {
    pub status_id: String,
    pub message_text: String,
    pub icon_uri: String,
    pub group_tag: String,
    pub can_have_date: bool,
    pub can_have_time: bool,
    pub can_have_forward_number: bool,
    pub is_do_not_disturb_status: bool,
    pub is_selectable_status: bool,
    pub is_persistent_status: bool,
    pub is_forward_status: bool,
    pub is_after_call_work_status: bool,
    pub is_acd_status: bool,
    pub is_allow_follow_up_status: bool,
    pub system_id: String,
    /// Shipped with ctid: editable, not deletable.
    pub built_in: bool,
    pub links: Vec<Link>,
}

/// The members a client may send; `status_id`, `message_text` and `group_tag` are required on creation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct StatusMessageInput {
    pub status_id: Option<String>,
    pub message_text: Option<String>,
    pub icon_uri: Option<String>,
    pub group_tag: Option<String>,
    pub can_have_date: Option<bool>,
    pub can_have_time: Option<bool>,
    pub can_have_forward_number: Option<bool>,
    pub is_do_not_disturb_status: Option<bool>,
    pub is_selectable_status: Option<bool>,
    pub is_persistent_status: Option<bool>,
    pub is_forward_status: Option<bool>,
    pub is_after_call_work_status: Option<bool>,
    pub is_acd_status: Option<bool>,
    pub is_allow_follow_up_status: Option<bool>,
    pub system_id: Option<String>,
}

fn representation(base: &BaseUrl, s: StatusMessage) -> CatalogStatusBody {
    CatalogStatusBody {
        links: vec![Link::status_message(base, &s.status_id)],
        status_id: s.status_id,
        message_text: s.message_text,
        icon_uri: s.icon_uri,
        group_tag: s.group_tag,
        can_have_date: s.can_have_date,
        can_have_time: s.can_have_time,
        can_have_forward_number: s.can_have_forward_number,
        is_do_not_disturb_status: s.is_do_not_disturb_status,
        is_selectable_status: s.is_selectable_status,
        is_persistent_status: s.is_persistent_status,
        is_forward_status: s.is_forward_status,
        is_after_call_work_status: s.is_after_call_work_status,
        is_acd_status: s.is_acd_status,
        is_allow_follow_up_status: s.is_allow_follow_up_status,
        system_id: s.system_id,
        built_in: s.built_in,
    }
}

pub fn changes(body: JsonObject) -> Result<StatusMessageChanges, XivoError> {
    let writable: Vec<&str> = TEXTS.iter().chain(FLAG_NAMES.iter()).copied().collect();
    let mut f = Fields::new(body.0, &writable, &READ_ONLY)?;
    let mut flags = Vec::new();
    for name in FLAG_NAMES {
        if let Some(value) = f.boolean(name) {
            flags.push((name, value));
        }
    }
    let changes = StatusMessageChanges {
        status_id: f.string("status_id"),
        message_text: f.string("message_text"),
        icon_uri: f.string("icon_uri"),
        group_tag: f.string("group_tag"),
        system_id: f.string("system_id"),
        flags,
    };
    f.finish()?;
    Ok(changes)
}

/// List the status catalog in display order.
#[utoipa::path(get, path = "/1.1/status_messages",
    operation_id = "list_status_messages", tag = "status_messages",
    responses((status = 200, body = ListOf<CatalogStatusBody>)))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> Result<Json<ListOf<CatalogStatusBody>>, XivoError> {
    let items: Vec<_> = app::list(state.store.as_ref()).await?.into_iter().map(|s| representation(&base, s)).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

/// Get one status (id matched case-insensitively).
#[utoipa::path(get, path = "/1.1/status_messages/{status_id}",
    operation_id = "get_status_message", tag = "status_messages",
    params(("status_id" = String, Path)),
    responses((status = 200, body = CatalogStatusBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<CatalogStatusBody>, XivoError> {
    Ok(Json(representation(&base, app::get(state.store.as_ref(), &id).await?)))
}

/// Add a status to the catalog.
#[utoipa::path(post, path = "/1.1/status_messages",
    operation_id = "create_status_message", tag = "status_messages", request_body = StatusMessageInput,
    responses((status = 201, body = CatalogStatusBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let status = app::create(state.store.as_ref(), changes(body)?).await?;
    let location = status_message_path(&status.status_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, status))).into_response())
}

/// Edit a status: absent members keep their value.
#[utoipa::path(put, path = "/1.1/status_messages/{status_id}",
    operation_id = "update_status_message", tag = "status_messages", request_body = StatusMessageInput,
    params(("status_id" = String, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<StatusCode, XivoError> {
    let changes = changes(body)?;
    app::update(state.store.as_ref(), &id, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a status that is not built in.
#[utoipa::path(delete, path = "/1.1/status_messages/{status_id}",
    operation_id = "delete_status_message", tag = "status_messages",
    params(("status_id" = String, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, XivoError> {
    app::delete(state.store.as_ref(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
