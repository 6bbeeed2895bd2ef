//! `/1.1/lines` and `/1.1/users/{user_id}/lines`: SIP lines and the user ↔ line association.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ListOf, parse_id, user_id};
use crate::app::telephony as app;
use crate::domain::listing::UserListQuery;
use crate::domain::telephony::{Line, LineChanges, LineFields};
use crate::http::AppState;
use crate::http::base_url::BaseUrl;
use crate::http::xivo::body::{self, JsonObject};
use crate::http::xivo::error::XivoError;
use crate::http::xivo::links::Link;

const READ_ONLY: [&str; 2] = ["id", "links"];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineBody {
    pub id: i64,
    #[serde(flatten)]
    pub fields: LineFields,
    pub links: Vec<Link>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserLineBody {
    pub user_id: i64,
    pub line_id: i64,
    pub links: Vec<Link>,
}

/// The body of POST `/1.1/users/{user_id}/lines`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserLineInput {
    /// Required (checked once the user is known to exist): an existing line without a user.
    pub line_id: Option<i64>,
}

fn representation(base: &BaseUrl, line: Line) -> LineBody {
    LineBody { id: line.id, fields: line.fields, links: vec![Link::line(base, line.id)] }
}

fn association(base: &BaseUrl, user_id: i64, line_id: i64) -> UserLineBody {
    UserLineBody { user_id, line_id, links: vec![Link::user(base, user_id), Link::line(base, line_id)] }
}

fn changes(body: JsonObject) -> Result<LineChanges, XivoError> {
    body::read(body.0, &READ_ONLY)
}

fn line_id(raw: &str) -> Result<i64, XivoError> {
    parse_id(raw).ok_or_else(|| XivoError::not_found(format!("Line with id={raw} does not exist")))
}

/// List lines.
#[utoipa::path(get, path = "/1.1/lines", operation_id = "list_lines", tag = "lines",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 4_294_967_295.0, description = "Maximum number of items"),
        ("skip" = Option<i64>, Query, minimum = 0, description = "Items to skip (alias: offset)"),
    ),
    responses((status = 200, body = ListOf<LineBody>), (status = 400, body = Vec<String>)))]
pub async fn list(
    State(state): State<AppState>,
    base: BaseUrl,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<ListOf<LineBody>>, XivoError> {
    let paging = params.iter().filter(|(k, _)| matches!(k.as_str(), "limit" | "skip" | "offset"));
    let query = UserListQuery::parse(paging.map(|(k, v)| (k.as_str(), v.as_str())))?;
    let (total, lines) = app::list(state.store.as_ref(), query.limit, query.skip).await?;
    Ok(Json(ListOf { total, items: lines.into_iter().map(|l| representation(&base, l)).collect() }))
}

/// Get one line.
#[utoipa::path(get, path = "/1.1/lines/{id}", operation_id = "get_line", tag = "lines",
    params(("id" = i64, Path)),
    responses((status = 200, body = LineBody), (status = 404, body = Vec<String>)))]
pub async fn get(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<LineBody>, XivoError> {
    let line = app::get(state.store.as_ref(), line_id(&raw)?).await?;
    Ok(Json(representation(&base, line)))
}

/// Create a line.
#[utoipa::path(post, path = "/1.1/lines", operation_id = "create_line", tag = "lines", request_body = LineChanges,
    responses((status = 201, body = LineBody, headers(("Location" = String))), (status = 400, body = Vec<String>)))]
pub async fn create(State(state): State<AppState>, base: BaseUrl, body: JsonObject) -> Result<Response, XivoError> {
    let line = app::create(state.store.as_ref(), changes(body)?).await?;
    let location = format!("/1.1/lines/{}", line.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(representation(&base, line))).into_response())
}

/// Edit a line: absent members keep their value.
#[utoipa::path(put, path = "/1.1/lines/{id}", operation_id = "update_line", tag = "lines", request_body = LineChanges,
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn update(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<StatusCode, XivoError> {
    let id = line_id(&raw)?;
    app::update(state.store.as_ref(), id, changes(body)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a line and its calls.
#[utoipa::path(delete, path = "/1.1/lines/{id}", operation_id = "delete_line", tag = "lines",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn delete(State(state): State<AppState>, Path(raw): Path<String>) -> Result<StatusCode, XivoError> {
    app::delete(&state.presence, line_id(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a user's lines.
#[utoipa::path(get, path = "/1.1/users/{user_id}/lines", operation_id = "list_user_lines", tag = "user_lines",
    params(("user_id" = i64, Path)),
    responses((status = 200, body = ListOf<UserLineBody>), (status = 404, body = Vec<String>)))]
pub async fn list_user_lines(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Json<ListOf<UserLineBody>>, XivoError> {
    let user = user_id(&raw)?;
    let lines = app::user_lines(state.store.as_ref(), user).await?;
    let items: Vec<_> = lines.iter().map(|l| association(&base, user, l.id)).collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

/// Associate a line to a user.
#[utoipa::path(post, path = "/1.1/users/{user_id}/lines", operation_id = "associate_user_line", tag = "user_lines",
    params(("user_id" = i64, Path)), request_body = UserLineInput,
    responses((status = 201, body = UserLineBody, headers(("Location" = String))),
        (status = 400, body = Vec<String>), (status = 404, body = Vec<String>)))]
pub async fn associate(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(raw): Path<String>,
    body: JsonObject,
) -> Result<Response, XivoError> {
    let user = user_id(&raw)?;
    let input: UserLineInput = body::read(body.0, &["user_id", "links"])?;
    let line = app::associate(&state.presence, user, input.line_id).await?;
    let location = format!("/1.1/users/{user}/lines/{}", line.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(association(&base, user, line.id))).into_response())
}

/// Get one association of a user with a line.
#[utoipa::path(get, path = "/1.1/users/{user_id}/lines/{line_id}", operation_id = "get_user_line", tag = "user_lines",
    params(("user_id" = i64, Path), ("line_id" = i64, Path)),
    responses((status = 200, body = UserLineBody), (status = 404, body = Vec<String>)))]
pub async fn get_user_line(
    State(state): State<AppState>,
    base: BaseUrl,
    Path((raw_user, raw_line)): Path<(String, String)>,
) -> Result<Json<UserLineBody>, XivoError> {
    let user = user_id(&raw_user)?;
    let line = parse_id(&raw_line).ok_or_else(|| no_line(user, &raw_line))?;
    let line = app::user_line(state.store.as_ref(), user, line).await?;
    Ok(Json(association(&base, user, line.id)))
}

/// Dissociate a line from its user.
#[utoipa::path(delete, path = "/1.1/users/{user_id}/lines/{line_id}", operation_id = "dissociate_user_line",
    tag = "user_lines", params(("user_id" = i64, Path), ("line_id" = i64, Path)),
    responses((status = 204), (status = 404, body = Vec<String>)))]
pub async fn dissociate(
    State(state): State<AppState>,
    Path((raw_user, raw_line)): Path<(String, String)>,
) -> Result<StatusCode, XivoError> {
    let user = user_id(&raw_user)?;
    let line = parse_id(&raw_line).ok_or_else(|| no_line(user, &raw_line))?;
    app::dissociate(&state.presence, user, line).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn no_line(user: i64, raw_line: &str) -> XivoError {
    XivoError::not_found(format!("User with id={user} does not have line {raw_line}"))
}
