//! The HTTP layer: one module per API surface, thin handlers over `app`.

pub mod base_url;
pub mod client_ip;
pub mod connections;
pub mod console;
pub mod health;
pub mod icws;
pub mod openapi;
pub mod request_id;
pub mod security;
pub mod server;
pub mod xivo;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::presence::{Presence, PresenceSettings};
use crate::auth::webservice::WebserviceAuth;
use crate::store::Store;
use crate::store::log::EventLog;

/// Time a client gets to send a whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub webservice_auth: Arc<WebserviceAuth>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Arc<[IpAddr]>,
    pub server_name: Arc<str>,
    pub presence: Arc<Presence>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, trusted_proxies: Vec<IpAddr>, presence: PresenceSettings) -> Self {
        Self::with_log(store, trusted_proxies, presence, None)
    }

    /// The state of one instance among several sharing `log` (see [`crate::app::replication`]).
    pub fn with_log(
        store: Arc<dyn Store>,
        trusted_proxies: Vec<IpAddr>,
        presence: PresenceSettings,
        log: Option<EventLog>,
    ) -> Self {
        Self {
            server_name: presence.server_name.clone().into(),
            presence: Arc::new(Presence::with_log(store.clone(), presence, log)),
            webservice_auth: Arc::new(WebserviceAuth::new(store.clone())),
            store,
            trusted_proxies: trusted_proxies.into(),
        }
    }
}

/// The whole HTTP application: both APIs and the OpenAPI document.
pub fn build_router(state: AppState) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/health", get(health::health))
        .merge(console::router())
        .nest("/1.1", xivo::router(state.clone()))
        .nest("/icws", icws::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security::headers))
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(request_id::layer())
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
        .layer(request_id::propagate())
        .with_state(state)
}

/// 404 for paths outside both APIs' routers, in the error format of the API the path names.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if path.eq_ignore_ascii_case("/icws") || path.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("/icws/")) {
        icws::error::IcwsError::not_found(format!("No resource at {path}.")).into_response()
    } else {
        xivo::error::XivoError::not_found(format!("Resource not found: {path}")).into_response()
    }
}
