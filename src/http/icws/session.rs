//! The session of a presence request: `icws_{sessionId}` cookie and CSRF token header.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use super::error::IcwsError;
use crate::http::AppState;
use crate::presence::sessions::Session;

pub const CSRF_HEADER: &str = "ININ-ICWS-CSRF-Token";

/// An authenticated presence session.
pub struct IcwsSession(pub Arc<Session>);

/// The value of cookie `name`, read leniently: several `Cookie` headers, `;` or `,`
/// separators, and attributes (`Path=…; HttpOnly`) of a raw `Set-Cookie` line sent back.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([';', ',']))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The session id of a `/icws/{sessionId}/…` path.
pub fn session_id(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(""), Some(icws), Some(id)) if icws.eq_ignore_ascii_case("icws") && !id.is_empty() => Some(id),
        _ => None,
    }
}

impl FromRequestParts<AppState> for IcwsSession {
    type Rejection = IcwsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.path(), |u| u.0.path()).to_string();
        let id = session_id(&path).ok_or_else(IcwsError::unauthorized)?;
        let cookie = cookie_value(&parts.headers, &format!("icws_{id}"));
        let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
        // The vendor SDK and browsers' EventSource send no token when reading messages.
        let require_token = !(parts.method == Method::GET && path.ends_with("/messaging/messages"));
        // With several instances, what any of them committed before this request counts.
        state.presence.sync().await?;
        state
            .presence
            .sessions
            .authenticate(id, cookie, token, require_token)
            .map(Self)
            .map_err(|_| IcwsError::unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_parsed_leniently() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("other=1"));
        headers.append(header::COOKIE, HeaderValue::from_static("icws_42=abc; Path=/icws/42; HttpOnly"));
        assert_eq!(cookie_value(&headers, "icws_42"), Some("abc"));
        assert_eq!(cookie_value(&headers, "icws_4"), None);
        let mut quoted = HeaderMap::new();
        quoted.insert(header::COOKIE, HeaderValue::from_static("a=b, icws_7=\"xyz\""));
        assert_eq!(cookie_value(&quoted, "icws_7"), Some("xyz"));
    }

    #[test]
    fn session_ids_come_from_the_path() {
        assert_eq!(session_id("/icws/123/status/status-messages"), Some("123"));
        assert_eq!(session_id("/icws/123"), Some("123"));
        assert_eq!(session_id("/icws/"), None);
        assert_eq!(session_id("/other/1"), None);
    }
}
