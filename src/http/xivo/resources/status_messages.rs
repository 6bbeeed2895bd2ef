//! `/1.1/status_messages`: the status catalog (ctid extension).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ListOf;
use crate::app::status_messages as app;
use crate::domain::status::{StatusMessage, StatusMessageChanges};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::{Link, status_message_path};

const READ_ONLY: [&str; 1] = ["links"];

/// A status of the catalog as the configuration API shows it (the presence API has its own
/// camel-case `StatusMessageBody`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogStatusBody {
    #[serde(flatten)]
    pub status: StatusMessage,
    pub links: Vec<Link>,
}

fn representation(base: &BaseUrl, status: StatusMessage) -> CatalogStatusBody {
    CatalogStatusBody { links: vec![Link::status_message(base, &status.status_id)], status }
}

fn changes(body: JsonObject) -> Result<StatusMessageChanges, XivoError> {
    body::read(body.0, &READ_ONLY)
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
    operation_id = "create_status_message", tag = "status_messages", request_body = StatusMessageChanges,
    responses((status = 201, body = CatalogStatusBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let status = app::create(state.store.as_ref(), changes(body)?).await?;
    let location = status_message_path(&status.status_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, status))).into_response())
}

/// Edit a status: absent members keep their value.
#[utoipa::path(put, path = "/1.1/status_messages/{status_id}",
    operation_id = "update_status_message", tag = "status_messages", request_body = StatusMessageChanges,
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
