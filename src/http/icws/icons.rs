//! The small status icons that `iconUri` points to, bundled in the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::IcwsError;

const ICONS: [(&str, &[u8]); 6] = [
    ("available.png", include_bytes!("../../../assets/status-icons/available.png")),
    ("break.png", include_bytes!("../../../assets/status-icons/break.png")),
    ("training.png", include_bytes!("../../../assets/status-icons/training.png")),
    ("followup.png", include_bytes!("../../../assets/status-icons/followup.png")),
    ("unavailable.png", include_bytes!("../../../assets/status-icons/unavailable.png")),
    ("status.png", include_bytes!("../../../assets/status-icons/status.png")),
];

/// The bytes of a PNG image, answered with a day of caching.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PngImage(&'static [u8]);

impl IntoResponse for PngImage {
    fn into_response(self) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ];
        (headers, self.0).into_response()
    }
}

/// A status icon (`iconUri` of a status): no session needed.
#[utoipa::path(get, path = "/icws/status-icons/{name}",
    operation_id = "icws_get_status_icon", tag = "icws status",
    security(()), params(("name" = String, Path, example = "available.png")),
    responses((status = 200, description = "The PNG image", content_type = "image/png", body = PngImage),
        (status = 404, body = super::error::IcwsErrorBody)))]
pub async fn get(Path(name): Path<String>) -> Response {
    match ICONS.iter().find(|(n, _)| *n == name) {
        Some((_, bytes)) => PngImage(bytes).into_response(),
        None => IcwsError::not_found(format!("No icon named {name}.")).into_response(),
    }
}
