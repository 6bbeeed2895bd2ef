//! `/1.1/cti_profiles`: CTI profiles and their presence policy.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, parse_id};
use crate::app::cti_profiles as app;
use crate::domain::cti_profile::{ChangeScope, CtiProfile, CtiProfileChanges, ViewScope};
use crate::domain::status::StatusMessage;
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

const READ_ONLY: [&str; 2] = ["id", "links"];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CtiProfileBody {
    pub id: i64,
    pub name: String,
    /// Status ids the profile's users may select, in catalog order.
    pub allowed_statuses: Vec<String>,
    pub view_statuses: ViewScope,
    pub change_statuses: ChangeScope,
    pub links: Vec<Link>,
}

fn representation(base: &BaseUrl, profile: CtiProfile, catalog: &[StatusMessage]) -> CtiProfileBody {
    CtiProfileBody {
        id: profile.id,
        name: profile.fields.name,
        allowed_statuses: profile.fields.allowed_statuses.resolve(catalog),
        view_statuses: profile.fields.view_statuses,
        change_statuses: profile.fields.change_statuses,
        links: vec![Link::cti_profile(base, profile.id)],
    }
}

fn changes(body: JsonObject) -> Result<CtiProfileChanges, XivoError> {
    body::read(body.0, &READ_ONLY)
}

fn profile_id(raw: &str) -> Result<i64, XivoError> {
    parse_id(raw).ok_or_else(|| XivoError::not_found(format!("CTI profile with id={raw} does not exist")))
}

/// List CTI profiles.
#[utoipa::path(get, path = "/1.1/cti_profiles",
    operation_id = "list_cti_profiles", tag = "cti_profiles",
    responses((status = 200, body = ListOf<CtiProfileBody>)))]
pub async fn list(State(state): State<AppState>, base: BaseUrl) -> Result<Json<ListOf<CtiProfileBody>>, XivoError> {
    let store = state.store.as_ref();
    let catalog = crate::app::status_messages::list(store).await?;
    let items: Vec<_> = app::list(store).await?.into_iter().map(|p| representation(&base, p, &catalog)).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

/// Get one CTI profile.
#[utoipa::path(get, path = "/1.1/cti_profiles/{id}",
    operation_id = "get_cti_profile", tag = "cti_profiles",
    params(("id" = i64, Path)),
    responses((status = 200, body = CtiProfileBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<CtiProfileBody>, XivoError> {
    let store = state.store.as_ref();
    let profile = app::get(store, profile_id(&raw)?).await?;
    let catalog = crate::app::status_messages::list(store).await?;
    Ok(Json(representation(&base, profile, &catalog)))
}

/// Create a CTI profile (ctid extension).
#[utoipa::path(post, path = "/1.1/cti_profiles",
    operation_id = "create_cti_profile", tag = "cti_profiles", request_body = CtiProfileChanges,
    responses((status = 201, body = CtiProfileBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let store = state.store.as_ref();
    let profile = app::create(store, changes(body)?).await?;
    let catalog = crate::app::status_messages::list(store).await?;
    let location = format!("/1.1/cti_profiles/{}", profile.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, profile, &catalog)))
        .into_response())
}

/// Edit a CTI profile (ctid extension): absent members keep their value.
#[utoipa::path(put, path = "/1.1/cti_profiles/{id}",
    operation_id = "update_cti_profile", tag = "cti_profiles", request_body = CtiProfileChanges,
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<StatusCode, XivoError> {
    let changes = changes(body)?;
    app::update(state.store.as_ref(), profile_id(&raw)?, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a CTI profile no user is associated with (ctid extension).
#[utoipa::path(delete, path = "/1.1/cti_profiles/{id}",
    operation_id = "delete_cti_profile", tag = "cti_profiles",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> Result<StatusCode, XivoError> {
    app::delete(state.store.as_ref(), profile_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
