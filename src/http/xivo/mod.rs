//! Configuration API, compatible with the XiVO REST API 1.1, under `/1.1`.

mod auth;
pub mod body;
pub mod error;
mod links;
pub mod negotiate;
pub mod resources;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use self::error::{XivoError, generic_message};
use self::resources::{
    cti_profiles, lines, scheduled_statuses, status_history, status_messages, status_reports, telephony,
    user_cti_profile, users, webhooks,
};
use super::AppState;

/// The `/1.1` routes with authentication, content negotiation and XiVO error bodies.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user_id}", get(users::get).put(users::update).delete(users::delete))
        .route(
            "/users/{user_id}/cti_profile",
            get(user_cti_profile::get)
                .post(user_cti_profile::create)
                .put(user_cti_profile::update)
                .delete(user_cti_profile::delete),
        )
        .route("/cti_profiles", get(cti_profiles::list).post(cti_profiles::create))
        .route("/cti_profiles/{id}", get(cti_profiles::get).put(cti_profiles::update).delete(cti_profiles::delete))
        .route("/status_messages", get(status_messages::list).post(status_messages::create))
        .route(
            "/status_messages/{status_id}",
            get(status_messages::get).put(status_messages::update).delete(status_messages::delete),
        )
        .route("/users/{user_id}/scheduled_statuses", get(scheduled_statuses::list).post(scheduled_statuses::create))
        .route(
            "/users/{user_id}/scheduled_statuses/{id}",
            get(scheduled_statuses::get).delete(scheduled_statuses::delete),
        )
        .route("/status_history", get(status_history::list))
        .route("/users/{user_id}/status_history", get(status_history::list_user))
        .route("/users/{user_id}/lines", get(lines::list_user_lines).post(lines::associate))
        .route("/users/{user_id}/lines/{line_id}", get(lines::get_user_line).delete(lines::dissociate))
        .route("/lines", get(lines::list).post(lines::create))
        .route("/lines/{id}", get(lines::get).put(lines::update).delete(lines::delete))
        .route("/status_reports/time_in_status", get(status_reports::time_in_status))
        .route("/telephony/events", axum::routing::post(telephony::report))
        .route("/telephony/calls", get(telephony::active).put(telephony::resync))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::get).put(webhooks::update).delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .fallback(not_found)
        .with_state(state.clone());
    super::behind(
        routes,
        ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(|_| {
                XivoError::new(StatusCode::INTERNAL_SERVER_ERROR, generic_message(StatusCode::INTERNAL_SERVER_ERROR))
                    .into_response()
            }))
            .layer(middleware::map_response(into_xivo_error))
            .layer(middleware::from_fn_with_state(state, auth::require_webservice_user))
            .layer(middleware::from_fn(negotiate::require_json))
            .layer(DefaultBodyLimit::max(body::MAX_BODY)),
    )
}

/// 404 for any route the API does not have.
async fn not_found(OriginalUri(uri): OriginalUri) -> XivoError {
    XivoError::not_found(format!("{}: {}", generic_message(StatusCode::NOT_FOUND), uri.path()))
}

/// Gives error responses that axum or a layer produced (405, 413, …) a XiVO body, keeping their headers.
async fn into_xivo_error(response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let error = XivoError::new(status, generic_message(status));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, error.body().into())
}
