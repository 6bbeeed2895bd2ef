//! `Accept` negotiation: the configuration API only speaks JSON.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::XivoError;

/// Does an `Accept` value admit `application/json`?
pub fn accepts_json(accept: &str) -> bool {
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            key.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        let matches = matches!(media.as_str(), "*/*" | "application/*" | "application/json")
            || (media.starts_with("application/") && media.ends_with("+json"));
        matches && !refused
    })
}

pub async fn require_json(request: Request, next: Next) -> Response {
    let acceptable = request.headers().get_all(header::ACCEPT).iter().all(|v| v.to_str().is_ok_and(accepts_json));
    if !acceptable {
        return XivoError::new(StatusCode::NOT_ACCEPTABLE, "Not acceptable: this API only produces application/json")
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::accepts_json;

    #[test]
    fn json_ranges_are_accepted() {
        for accept in ["", "*/*", "application/json", "text/html, application/*;q=0.5", "application/vnd.x+json"] {
            assert!(accepts_json(accept), "{accept}");
        }
    }

    #[test]
    fn ranges_without_json_are_refused() {
        for accept in ["text/html", "application/xml", "application/json;q=0", "image/*"] {
            assert!(!accepts_json(accept), "{accept}");
        }
    }
}
