//! Security headers on every response.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::base_url::Scheme;

/// API answers are data, never pages: no scripts, no framing, no caching by intermediaries.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// One year, as browsers' preload lists expect.
const HSTS: &str = "max-age=31536000";

/// Adds the headers a response lacks: pages set their own policy and caching.
pub async fn headers(request: Request, next: Next) -> Response {
    let https = request.extensions().get::<Scheme>().is_some_and(|s| *s == Scheme::Https);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, API_POLICY),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if https {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static(HSTS));
    }
    response
}
