//! `/1.1/users`: users of the contact center.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, user_id};
use crate::app::users as app;
use crate::domain::listing::UserListQuery;
use crate::domain::user::{User, UserChanges, WRITABLE_FIELDS};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{Fields, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

const READ_ONLY: [&str; 2] = ["id", "links"];

/// A user as the configuration API shows it; `password` is always null.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    pub id: i64,
    pub firstname: String,
    pub lastname: String,
    pub caller_id: String,
    pub outgoing_caller_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub music_on_hold: Option<String>,
    pub mobile_phone_number: Option<String>,
    pub userfield: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub preprocess_subroutine: Option<String>,
    pub links: Vec<Link>,
}

/// The members a client may send when creating or editing a user.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct UserInput {
    /// Required on creation, non-empty.
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    /// Defaults to `"Firstname Lastname"`.
    pub caller_id: Option<String>,
    pub outgoing_caller_id: Option<String>,
    /// Presence login and ICWS `userId`; unique, case-insensitive.
    pub username: Option<String>,
    /// Write-only, at least 4 characters.
    pub password: Option<String>,
    pub music_on_hold: Option<String>,
    /// Digits only.
    pub mobile_phone_number: Option<String>,
    pub userfield: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub description: Option<String>,
    pub preprocess_subroutine: Option<String>,
}

fn representation(base: &BaseUrl, user: User) -> UserBody {
    let f = user.fields;
    UserBody {
        id: user.id,
        firstname: f.firstname,
        lastname: f.lastname,
        caller_id: f.caller_id,
        outgoing_caller_id: f.outgoing_caller_id,
        username: f.username,
        password: None,
        music_on_hold: f.music_on_hold,
        mobile_phone_number: f.mobile_phone_number,
        userfield: f.userfield,
        timezone: f.timezone,
        language: f.language,
        description: f.description,
        preprocess_subroutine: f.preprocess_subroutine,
        links: vec![Link::user(base, user.id)],
    }
}

pub fn changes(body: JsonObject) -> Result<UserChanges, XivoError> {
    let mut f = Fields::new(body.0, &WRITABLE_FIELDS, &READ_ONLY)?;
    let changes = UserChanges {
        firstname: f.string("firstname"),
        lastname: f.string("lastname"),
        caller_id: f.string("caller_id"),
        outgoing_caller_id: f.string("outgoing_caller_id"),
        username: f.string("username"),
        password: f.string("password"),
        music_on_hold: f.string("music_on_hold"),
        mobile_phone_number: f.string("mobile_phone_number"),
        userfield: f.string("userfield"),
        timezone: f.string("timezone"),
        language: f.string("language"),
        description: f.string("description"),
        preprocess_subroutine: f.string("preprocess_subroutine"),
    };
    f.finish()?;
    Ok(changes)
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
    operation_id = "create_user", tag = "users", request_body = UserInput,
    responses((status = 201, body = UserBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let user = app::create(state.store.as_ref(), changes(body)?).await?;
    let location = format!("/1.1/users/{}", user.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, user))).into_response())
}

/// Edit a user: absent members keep their value.
#[utoipa::path(put, path = "/1.1/users/{user_id}",
    operation_id = "update_user", tag = "users", request_body = UserInput,
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
