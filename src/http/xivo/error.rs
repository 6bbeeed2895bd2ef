//! The configuration API's error shape: a JSON array of strings.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppError;
use crate::domain::validation::ValidationError;

/// An error answered as `["message", …]` with `Content-Type: application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XivoError {
    pub status: StatusCode,
    pub messages: Vec<String>,
}

impl XivoError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, messages: vec![message.into()] }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The database cannot be reached: nothing is answered from a state that cannot be checked.
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable: the database cannot be reached")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The body `["…"]` as bytes.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.messages).unwrap_or_else(|_| b"[]".to_vec())
    }
}

/// The generic message of an error status with no more specific one.
pub fn generic_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "Resource not found".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed on this resource".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large".to_string(),
        StatusCode::UNAUTHORIZED => "Authentication required".to_string(),
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error".to_string(),
        StatusCode::SERVICE_UNAVAILABLE => "Service temporarily unavailable".to_string(),
        other => other.canonical_reason().unwrap_or("Error").to_string(),
    }
}

impl IntoResponse for XivoError {
    fn into_response(self) -> Response {
        let body = self.body();
        (self.status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
    }
}

impl From<ValidationError> for XivoError {
    fn from(err: ValidationError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<AppError> for XivoError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Invalid(v) => v.into(),
            AppError::NotFound(message) => Self::not_found(message),
            AppError::Unavailable => Self::unavailable(),
        }
    }
}
