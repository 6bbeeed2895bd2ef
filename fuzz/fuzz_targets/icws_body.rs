//! Presence API bodies: the bytes of a request read by the `IcwsObject` extractor, then the
//! login body (`POST /icws/connection`) and the status change (`PUT …/user-statuses/{id}`),
//! the latter applied by the domain to a user's presence.

#![no_main]

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use ctid::domain::presence::{self, MAX_NOTES_LEN, UserStatus};
use ctid::domain::status;
use ctid::http::icws::body::IcwsObject;
use ctid::http::icws::connection::{Credentials, LoginRequest, login_request};
use ctid::http::icws::status::status_change;
use ctid::http::xivo::body::parse_object;
use ctid::presence::dates;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Runs the extractor; reading an in-memory body never waits.
fn read_body(data: &[u8]) -> Result<IcwsObject, u16> {
    let request = Request::builder()
        .method("PUT")
        .uri("/icws/1/status/user-statuses/1")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a valid request");
    let mut future = pin!(IcwsObject::from_request(request, &()));
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.map_err(|error| error.status.as_u16()),
        Poll::Pending => panic!("reading an in-memory body waited"),
    }
}

fuzz_target!(|data: &[u8]| {
    let body = match read_body(data) {
        Ok(body) => body,
        Err(status) => {
            assert_eq!(status, 400, "an unreadable body is a 400");
            assert!(parse_object(data).is_err(), "both APIs agree on what a JSON object is");
            return;
        }
    };
    assert!(parse_object(data).is_ok(), "both APIs agree on what a JSON object is");

    if let Ok(LoginRequest { credentials: Credentials::Password { username, password }, .. }) = login_request(&body) {
        assert!(!username.is_empty() && !password.is_empty());
        assert_eq!(body.0.get("userID").and_then(Value::as_str), Some(username.as_str()));
        assert_eq!(body.0.get("password").and_then(Value::as_str), Some(password.as_str()));
    }

    let Ok(change) = status_change(&body) else { return };
    assert!(!change.status_id.is_empty());
    if let Some(until) = change.until {
        let members = match body.0.get("until") {
            Some(Value::Object(nested)) => nested,
            _ => &body.0,
        };
        let text = members.get("untilDateTime").and_then(Value::as_str).expect("a date-time was sent");
        assert_eq!(dates::parse(text), Some(until.at));
    }

    let catalog = status::defaults();
    let allowed: Vec<String> = catalog.iter().filter(|s| s.is_selectable_status).map(|s| s.status_id.clone()).collect();
    let current = UserStatus::initial(7, 1_000);
    if let Ok(next) = presence::apply(&current, change, &catalog, &allowed, 2_000) {
        let chosen = catalog.iter().find(|s| s.status_id == next.status_id).expect("a catalog status");
        assert!(chosen.is_selectable_status);
        assert!(next.notes.as_deref().is_none_or(|n| !n.is_empty() && n.chars().count() <= MAX_NOTES_LEN));
        assert!(next.forward_number.is_none() || chosen.can_have_forward_number);
        assert!(!chosen.is_forward_status || next.forward_number.is_some());
        assert_eq!(next.user_id, 7);
    }
});
