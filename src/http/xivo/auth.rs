//! Every `/1.1` request carries web-service credentials: Digest or Basic.

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{XivoError, generic_message};
use crate::auth::webservice::AuthFailure;
use crate::http::AppState;
use crate::http::client_ip::ClientIp;

pub async fn require_webservice_user(
    State(state): State<AppState>,
    ClientIp(address): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let target = request.extensions().get::<OriginalUri>().map_or_else(|| request.uri().clone(), |o| o.0.clone());
    let target = target.path_and_query().map_or("/", |pq| pq.as_str()).to_string();
    // With several instances, what any of them committed before this request counts.
    if state.presence.sync().await.is_err() {
        return XivoError::unavailable().into_response();
    }
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match state.webservice_auth.authenticate(request.method().as_str(), &target, authorization, address).await {
        Ok(username) => {
            tracing::debug!(webservice_user = %username, "authenticated");
            next.run(request).await
        }
        Err(AuthFailure::Denied { stale }) => {
            let mut response =
                XivoError::new(StatusCode::UNAUTHORIZED, generic_message(StatusCode::UNAUTHORIZED)).into_response();
            if let Ok(challenge) = HeaderValue::from_str(&state.webservice_auth.challenge(stale)) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            }
            response
        }
        Err(AuthFailure::Throttled(wait)) => {
            let seconds = wait.as_secs().max(1);
            tracing::warn!(client = ?address, seconds, "configuration API authentication throttled");
            let message = format!("Too many failed authentication attempts: retry in {seconds} seconds");
            let mut response = XivoError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Err(AuthFailure::Unavailable) => XivoError::unavailable().into_response(),
    }
}
