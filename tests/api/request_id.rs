//! Request ids: generated when the client sends none, echoed back, and in the request's log span.

use std::time::Duration;

use crate::helpers::*;

/// Logs each request's start and end (tower-http's trace events) inside its span.
const TRACE_REQUESTS: (&str, &str) = ("CTID_LOG", "warn,ctid::http=info,tower_http::trace=debug");

#[tokio::test]
async fn a_request_without_an_id_gets_one_back() {
    let app = TestApp::spawn().await;
    let first = app.get("/health").await;
    let second = app.get("/health").await;
    let first = first.header("x-request-id").expect("x-request-id on the first answer");
    let second = second.header("x-request-id").expect("x-request-id on the second answer");
    assert!(!first.is_empty());
    assert_ne!(first, second, "each request gets its own id");
}

#[tokio::test]
async fn a_client_sent_id_is_echoed_unchanged() {
    let app = TestApp::spawn().await;
    let id = "client-Chosen_id.42";
    let reply = send(app.client.get(app.url("/health")).header("X-Request-Id", id)).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("x-request-id"), Some(id));
    // On error answers of both APIs too.
    for path in ["/1.1/users/999", "/icws/nowhere"] {
        let reply = send(app.client.get(app.url(path)).header("X-Request-Id", id)).await;
        assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
        assert_eq!(reply.header("x-request-id"), Some(id), "{path}");
    }
}

#[tokio::test]
async fn the_generated_id_is_in_the_requests_log_span() {
    let app = TestApp::spawn_with(&[], &[TRACE_REQUESTS]).await;
    let reply = app.get("/health").await;
    let id = reply.header("x-request-id").expect("x-request-id");
    let span = format!("request{{id={id:?} method=GET path=/health}}");
    let line = app.log_line(&span, Duration::from_secs(10));
    assert!(line.is_some(), "no log line in the span {span}");
}

#[tokio::test]
async fn a_client_sent_id_is_in_the_requests_log_span() {
    let app = TestApp::spawn_with(&[], &[TRACE_REQUESTS]).await;
    let reply = send(app.client.get(app.url("/health")).header("x-request-id", "trace-me-7")).await;
    assert_eq!(reply.header("x-request-id"), Some("trace-me-7"));
    let line = app.log_line(r#"request{id="trace-me-7" method=GET path=/health}"#, Duration::from_secs(10));
    assert!(line.is_some(), "no log line in the client's id span");
}
