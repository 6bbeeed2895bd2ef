//! `Accept` negotiation: the configuration API speaks JSON, and CSV where a resource offers it
//! (the history and the reports).

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::XivoError;

/// Does an `Accept` value admit `application/json`?
pub fn accepts_json(accept: &str) -> bool {
    if accept.trim().is_empty() {
        return true;
    }
    admitted(accept).any(|media| {
        matches!(media.as_str(), "*/*" | "application/*" | "application/json")
            || (media.starts_with("application/") && media.ends_with("+json"))
    })
}

/// The media ranges of an `Accept` value, lower-cased, with their quality (1 by default).
fn ranges(accept: &str) -> impl Iterator<Item = (String, f32)> + '_ {
    accept.split(',').map(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| {
                let (key, value) = p.split_once('=').unwrap_or((p, ""));
                key.trim().eq_ignore_ascii_case("q").then(|| value.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        (media, quality)
    })
}

/// The media ranges of an `Accept` value that are not refused (`q=0`), lower-cased.
fn admitted(accept: &str) -> impl Iterator<Item = String> + '_ {
    ranges(accept).filter_map(|(media, quality)| (quality > 0.0).then_some(media))
}

/// Does the request ask for CSV: `text/csv` named, and preferred to JSON if that is named too?
pub fn prefers_csv(headers: &HeaderMap) -> bool {
    let quality = |wanted: &str| {
        headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(ranges)
            .filter(|(media, _)| media == wanted)
            .map(|(_, quality)| quality)
            .fold(None, |best: Option<f32>, q| Some(best.map_or(q, |b| b.max(q))))
    };
    match (quality("text/csv"), quality("application/json")) {
        (Some(csv), Some(json)) => csv > 0.0 && csv > json,
        (Some(csv), None) => csv > 0.0,
        (None, _) => false,
    }
}

/// The resources that also answer in CSV.
fn offers_csv(path: &str) -> bool {
    path.ends_with("/status_history") || path.contains("/status_reports/")
}

pub async fn require_json(request: Request, next: Next) -> Response {
    let csv = offers_csv(request.uri().path()) && prefers_csv(request.headers());
    let acceptable =
        csv || request.headers().get_all(header::ACCEPT).iter().all(|v| v.to_str().is_ok_and(accepts_json));
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
        let prefers = |accept: &str| {
            let mut headers = super::HeaderMap::new();
            headers.insert(super::header::ACCEPT, accept.parse().expect("header value"));
            super::prefers_csv(&headers)
        };
        assert!(prefers("text/csv"));
        assert!(prefers("application/json;q=0.5, text/csv"));
        assert!(!prefers("application/json, text/csv;q=0.5"));
        assert!(!prefers("text/csv;q=0"));
        assert!(!prefers("*/*"));
    }

    #[test]
    fn ranges_without_json_are_refused() {
        for accept in ["text/html", "application/xml", "application/json;q=0", "image/*"] {
            assert!(!accepts_json(accept), "{accept}");
        }
    }
}
