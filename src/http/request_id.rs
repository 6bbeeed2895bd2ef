//! Request ids: taken from `X-Request-Id` or generated, echoed back and recorded in the span.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

const HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Default)]
pub struct Counter;

static NEXT: AtomicU64 = AtomicU64::new(1);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&id.to_string()).ok().map(RequestId::new)
    }
}

pub fn layer() -> SetRequestIdLayer<Counter> {
    SetRequestIdLayer::new(HEADER, Counter)
}

pub fn propagate() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(HEADER)
}

/// The tracing span of one request.
pub fn span<B>(request: &Request<B>) -> tracing::Span {
    let id = request.headers().get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
}
