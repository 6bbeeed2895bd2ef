//! The HTTP layer: one module per API surface, thin handlers over `app`.

pub mod base_url;
pub mod client_ip;
pub mod connections;
pub mod console;
pub mod health;
pub mod icws;
pub mod keep_alive;
pub mod openapi;
pub mod request_id;
pub mod security;
pub mod server;
pub mod xivo;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::webservice::WebserviceAuth;
use crate::presence::{Presence, PresenceSettings};
use crate::store::EventLog;
use crate::store::Store;

/// Time a client gets to send a whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every handler can reach: one shared value, so the clone each request and layer makes
/// is a single reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub webservice_auth: Arc<WebserviceAuth>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Arc<[IpAddr]>,
    pub server_name: Arc<str>,
    pub presence: Arc<Presence>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state of an instance serving `store`, whose presence engine applies `log` (see
    /// [`crate::presence::apply`]).
    pub fn new(
        store: Arc<dyn Store>,
        log: Arc<dyn EventLog>,
        trusted_proxies: Vec<IpAddr>,
        presence: PresenceSettings,
    ) -> Self {
        Self(Arc::new(Shared {
            server_name: presence.server_name.clone().into(),
            presence: Arc::new(Presence::new(store.clone(), log, presence)),
            webservice_auth: Arc::new(WebserviceAuth::new(store.clone())),
            store,
            trusted_proxies: trusted_proxies.into(),
        }))
    }
}

/// The whole HTTP application: both APIs and the OpenAPI document.
pub fn build_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/health", get(health::health))
        .merge(console::router())
        .nest_service("/1.1", xivo::router(state.clone()))
        .nest_service("/icws", icws::router(state.clone()))
        .fallback(not_found)
        .with_state(state);
    behind(
        routes,
        // tower-http's documented order: the id is set before the span is made, and the
        // response gets it back from inside the span.
        ServiceBuilder::new()
            .layer(request_id::layer())
            .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
            .layer(request_id::propagate())
            .layer(axum::middleware::from_fn(security::headers))
            .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT)),
    )
}

/// `routes` behind `layers` (outermost first), applied once around the whole router:
/// `Router::layer` wraps every route instead, which costs one boxed clone per layer and
/// request.
pub fn behind<L>(routes: Router, layers: L) -> Router
where
    L: tower::Layer<Router>,
    L::Service:
        tower::Service<axum::extract::Request, Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Response: axum::response::IntoResponse + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
{
    Router::new().fallback_service(layers.layer(routes))
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
