//! The session of a presence request: the `icws_{sessionId}` cookie read out of any number of
//! `Cookie` headers, and the session id read out of the request path.
//!
//! Input: lines; the first is the cookie name (and the path), the others `Cookie` header values.

#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use ctid::http::icws::session::{cookie_value, session_id};
use libfuzzer_sys::fuzz_target;

/// Is `part` a slice of `whole` (not merely equal to some piece of it)?
fn borrowed_from(part: &str, whole: &str) -> bool {
    let (start, end) = (whole.as_ptr() as usize, whole.as_ptr() as usize + whole.len());
    let at = part.as_ptr() as usize;
    at >= start && at + part.len() <= end
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() && !b";,=\"".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let Some(Ok(name)) = lines.next().map(std::str::from_utf8) else { return };

    if let Some(id) = session_id(name) {
        assert!(!id.is_empty() && !id.contains('/'), "{id:?}");
        assert!(name[..6].eq_ignore_ascii_case("/icws/") && name[6..].starts_with(id), "{name:?}");
    }

    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, value);
        }
    }
    if let Some(value) = cookie_value(&headers, name) {
        assert!(!value.contains([';', ',']), "{value:?}");
        assert!(!value.starts_with('"') && !value.ends_with('"'), "{value:?}");
        assert!(
            headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|v| borrowed_from(value, v)),
            "the value is read out of a header"
        );
    }

    // A well-formed cookie sent first, as a browser would, is always found.
    if is_token(name) {
        let sent = format!("{name}=v4lue; Path=/icws/1; HttpOnly");
        let mut first = HeaderMap::new();
        first.append(header::COOKIE, HeaderValue::from_str(&sent).expect("a valid header"));
        for value in headers.get_all(header::COOKIE) {
            first.append(header::COOKIE, value.clone());
        }
        assert_eq!(cookie_value(&first, name), Some("v4lue"), "{sent:?}");
    }
});
