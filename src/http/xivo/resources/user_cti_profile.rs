//! `/1.1/users/{user_id}/cti_profile`: the user ↔ CTI profile association.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::user_id;
use crate::app::users::{self as app, Association};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssociationBody {
    pub user_id: i64,
    pub cti_profile_id: i64,
    pub links: Vec<Link>,
}

/// The body of POST and PUT.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssociationInput {
    /// Must be an existing CTI profile id.
    pub cti_profile_id: i64,
}

fn representation(base: &BaseUrl, user_id: i64, cti_profile_id: i64) -> AssociationBody {
    AssociationBody {
        user_id,
        cti_profile_id,
        links: vec![Link::user(base, user_id), Link::cti_profile(base, cti_profile_id)],
    }
}

pub fn profile_id(body: JsonObject) -> Result<i64, XivoError> {
    let input: AssociationInput = body::read(body.0, &["user_id", "links"])?;
    Ok(input.cti_profile_id)
}

fn answer(status: StatusCode, base: &BaseUrl, user_id: i64, profile_id: i64) -> Response {
    let location = format!("/1.1/users/{user_id}/cti_profile");
    (status, [(header::LOCATION, location)], Json(representation(base, user_id, profile_id))).into_response()
}

/// Get the CTI profile associated to a user.
#[utoipa::path(get, path = "/1.1/users/{user_id}/cti_profile",
    operation_id = "get_user_cti_profile", tag = "user_cti_profile",
    params(("user_id" = i64, Path)),
    responses((status = 200, body = AssociationBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<AssociationBody>, XivoError> {
    let id = user_id(&raw)?;
    let profile = app::cti_profile(state.store.as_ref(), id).await?;
    Ok(Json(representation(&base, id, profile)))
}

/// Associate a CTI profile to a user.
#[utoipa::path(post, path = "/1.1/users/{user_id}/cti_profile",
    operation_id = "associate_user_cti_profile", tag = "user_cti_profile",
    params(("user_id" = i64, Path)), request_body = AssociationInput,
    responses((status = 201, body = AssociationBody, headers(("Location" = String))),
        (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn create(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<Response, XivoError> {
    let profile = profile_id(body)?;
    let id = user_id(&raw)?;
    app::associate(state.store.as_ref(), id, profile, Association::Create).await?;
    Ok(answer(StatusCode::CREATED, &base, id, profile))
}

/// Change the CTI profile associated to a user.
#[utoipa::path(put, path = "/1.1/users/{user_id}/cti_profile",
    operation_id = "update_user_cti_profile", tag = "user_cti_profile",
    params(("user_id" = i64, Path)), request_body = AssociationInput,
    responses((status = 200, body = AssociationBody, headers(("Location" = String))),
        (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<Response, XivoError> {
    let profile = profile_id(body)?;
    let id = user_id(&raw)?;
    app::associate(state.store.as_ref(), id, profile, Association::Replace).await?;
    Ok(answer(StatusCode::OK, &base, id, profile))
}

/// Dissociate the CTI profile from a user.
#[utoipa::path(delete, path = "/1.1/users/{user_id}/cti_profile",
    operation_id = "dissociate_user_cti_profile", tag = "user_cti_profile",
    params(("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> Result<StatusCode, XivoError> {
    let id = user_id(&raw)?;
    app::dissociate(state.store.as_ref(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
