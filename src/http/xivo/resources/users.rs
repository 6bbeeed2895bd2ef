//! `/1.1/users`: users of the contact center.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, user_id};
use crate::app::users as app;
use crate::domain::listing::UserListQuery;
use crate::domain::user::{User, UserChanges, UserFields};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

const READ_ONLY: [&str; 2] = ["id", "links"];

/// A user as the configuration API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    pub id: i64,
    #[serde(flatten)]
    pub fields: UserFields,
    /// Always null: passwords are write-only.
    pub password: Option<String>,
    pub links: Vec<Link>,
}

fn representation(base: &BaseUrl, user: User) -> UserBody {
    UserBody { id: user.id, fields: user.fields, password: None, links: vec![Link::user(base, user.id)] }
}

/// The user members of a request body.
pub fn changes(body: JsonObject) -> Result<UserChanges, XivoError> {
    body::read(body.0, &READ_ONLY)
}

/// List users, with search, ordering and paging.
#[utoipa::path(get, path = "/1.1/users",
    operation_id = "list_users", tag = "users",
    params(
        ("search" = Option<String>, Query, description = "Case-insensitive substring of name, caller id, description or userfield"),
        ("q" = Option<String>, Query, description = "Legacy alias of search"),
        ("order" = Option<String>, Query, description = "firstname, lastname (default), fullname, caller_id, description, userfield"),
        ("direction" = Option<String>, Query, description = "asc (default) or desc"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 4_294_967_295.0, description = "Maximum number of items"),
        ("skip" = Option<i64>, Query, minimum = 0, description = "Items to skip (alias: offset)"),
    ),
    responses((status = 200, body = ListOf<UserBody>), (status = 400, body = Vec<String>), (status = 401, body = Vec<String>)))]
pub async fn list(
    State(state): State<AppState>,
    base: BaseUrl,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<ListOf<UserBody>>, XivoError> {
    let query = UserListQuery::parse(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let (total, users) = app::list(state.store.as_ref(), &query).await?;
    let items = users.into_iter().map(|u| representation(&base, u)).collect();
    Ok(Json(ListOf { total, items }))
}

/// Get one user.
#[utoipa::path(get, path = "/1.1/users/{user_id}",
    operation_id = "get_user", tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 200, body = UserBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<UserBody>, XivoError> {
    let user = app::get(state.store.as_ref(), user_id(&raw)?).await?;
    Ok(Json(representation(&base, user)))
}

/// Create a user.
#[utoipa::path(post, path = "/1.1/users",
    operation_id = "create_user", tag = "users", request_body = UserChanges,
    responses((status = 201, body = UserBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let user = app::create(state.store.as_ref(), changes(body)?).await?;
    let location = format!("/1.1/users/{}", user.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, user))).into_response())
}

/// Edit a user: absent members keep their value.
#[utoipa::path(put, path = "/1.1/users/{user_id}",
    operation_id = "update_user", tag = "users", request_body = UserChanges,
    params(("user_id" = i64, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<StatusCode, XivoError> {
    let changes = changes(body)?;
    app::update(state.store.as_ref(), user_id(&raw)?, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a user.
#[utoipa::path(delete, path = "/1.1/users/{user_id}",
    operation_id = "delete_user", tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> Result<StatusCode, XivoError> {
    let id = user_id(&raw)?;
    app::delete(state.store.as_ref(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
