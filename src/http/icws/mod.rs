//! Presence API, compatible with ICWS, under `/icws`.

pub mod auth_token;
pub mod body;
pub mod connection;
pub mod directory;
pub mod error;
pub mod icons;
pub mod messaging;
pub mod server_info;
pub mod session;
pub mod station;
pub mod status;

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use self::error::IcwsError;
use super::AppState;

/// The `/icws` routes with CORS and ICWS error bodies.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/connection", post(connection::login))
        .route("/connection/version", get(connection::get_version))
        .route("/connection/features", get(connection::get_features))
        .route("/connection/features/{feature_id}", get(connection::get_feature))
        .route("/connection/server-time", get(connection::get_server_time))
        .route("/connection/server-info", get(server_info::get_server_info))
        .route("/status-icons/{name}", get(icons::get))
        .route("/{session_id}/connection", get(connection::get).delete(connection::delete))
        .route("/{session_id}/connection/unique-auth-token", post(auth_token::post))
        .route("/{session_id}/connection/switchover-status", get(server_info::get_switchover_status))
        .route("/{session_id}/connection/station", get(station::get).put(station::put).delete(station::delete))
        .route("/{session_id}/status/status-messages", get(status::status_messages))
        .route("/{session_id}/status/status-messages-user-access/{user_id}", get(status::user_access))
        .route("/{session_id}/status/scheduled-statuses/{user_id}", get(status::scheduled_statuses))
        .route("/{session_id}/status/status-history/{user_id}", get(status::status_history))
        .route("/{session_id}/status/time-in-status/{user_id}", get(status::time_in_status))
        .route(
            "/{session_id}/status/user-statuses/{user_id}",
            get(status::get_user_status).put(status::put_user_status),
        )
        .route("/{session_id}/status/user-status-previous-info/{user_id}", get(status::get_previous_info))
        .route(
            "/{session_id}/messaging/subscriptions/status/user-statuses",
            put(messaging::subscribe_statuses).delete(messaging::unsubscribe_statuses),
        )
        .route(
            "/{session_id}/messaging/subscriptions/status/status-messages",
            put(messaging::subscribe_catalog).delete(messaging::unsubscribe_catalog),
        )
        .route(
            "/{session_id}/messaging/subscriptions/status/status-messages-user-access",
            put(messaging::subscribe_access).delete(messaging::unsubscribe_access),
        )
        .route(
            "/{session_id}/messaging/subscriptions/status/user-status-previous-info",
            put(messaging::subscribe_previous_info).delete(messaging::unsubscribe_previous_info),
        )
        .route(
            "/{session_id}/messaging/subscriptions/connection/station",
            put(station::subscribe).delete(station::unsubscribe),
        )
        .route("/{session_id}/configuration/users", get(directory::users))
        .route("/{session_id}/ctid/session", get(directory::session))
        .route("/{session_id}/messaging/messages", get(messaging::messages))
        .route("/{session_id}/messaging/heartbeat", post(messaging::heartbeat))
        .fallback(not_found)
        .with_state(state);
    super::behind(
        routes,
        ServiceBuilder::new()
            .layer(cors())
            .layer(CatchPanicLayer::custom(|_| {
                IcwsError::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
            }))
            .layer(middleware::map_response(into_icws_error))
            .layer(DefaultBodyLimit::max(body::MAX_BODY)),
    )
}

/// Browser clients: the `Origin` is echoed with credentials, and the session headers exposed.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods(AllowMethods::list([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS]))
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("inin-icws-csrf-token"),
            HeaderName::from_static("inin-icws-session-id"),
            header::LOCATION,
            header::SET_COOKIE,
            header::CONTENT_RANGE,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

async fn not_found(OriginalUri(uri): OriginalUri) -> IcwsError {
    IcwsError::not_found(format!("No resource at {}.", uri.path()))
}

/// Gives error responses that axum or a layer produced (405, 413, …) an ICWS body.
async fn into_icws_error(response: Response) -> Response {
    let status = response.status();
    let has_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/vnd.inin.icws+JSON"));
    if !(status.is_client_error() || status.is_server_error()) || has_body {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let error = IcwsError::for_status(status).into_response();
    let (error_parts, body) = error.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &error_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(error::CONTENT_TYPE));
    Response::from_parts(parts, body)
}
