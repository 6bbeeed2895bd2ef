//! `Accept` negotiation: the configuration API speaks JSON, and CSV for the resources that
//! offer it ([`CSV_RESOURCES`]).

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

/// The paths (under `/1.1`) that also answer `text/csv`.
const CSV_RESOURCES: [&str; 1] = ["/status_reports/time_in_status"];

/// Does an `Accept` value admit `text/csv`?
pub fn accepts_csv(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            key.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        media == "text/csv" && !refused
    })
}

/// Whether a request names `text/csv` in its `Accept`: a resource that offers CSV answers it.
pub fn wants_csv(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| v.to_str().is_ok_and(accepts_csv))
}

pub async fn require_json(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let csv = CSV_RESOURCES.iter().any(|resource| path.ends_with(resource));
    let acceptable = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .all(|v| v.to_str().is_ok_and(|accept| accepts_json(accept) || (csv && accepts_csv(accept))));
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
    fn csv_is_named_explicitly() {
        assert!(super::accepts_csv("text/csv"));
        assert!(super::accepts_csv("application/json;q=0.5, text/csv"));
        assert!(!super::accepts_csv("text/csv;q=0"));
        assert!(!super::accepts_csv("*/*"));
    }

    #[test]
    fn ranges_without_json_are_refused() {
        for accept in ["text/html", "application/xml", "application/json;q=0", "image/*"] {
            assert!(!accepts_json(accept), "{accept}");
        }
    }
}
