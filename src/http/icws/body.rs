//! Request bodies of the presence API: JSON whatever the Content-Type; unknown members ignored.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::IcwsError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON object body.
#[derive(Debug)]
pub struct IcwsObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for IcwsObject {
    type Rejection = IcwsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                IcwsError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                IcwsError::malformed("The request body could not be read.")
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(IcwsError::malformed("The request body must be a JSON object.")),
            Err(_) => Err(IcwsError::malformed("The request body is not valid JSON.")),
        }
    }
}

impl IcwsObject {
    /// A string member: `Ok(None)` when absent or null, an invalidProperty error for another type.
    pub fn string(&self, name: &str) -> Result<Option<String>, IcwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(IcwsError::invalid(name, format!("The property {name} must be a string."))),
        }
    }

    /// A required, non-empty string member.
    pub fn required_string(&self, name: &str) -> Result<String, IcwsError> {
        self.string(name)?.filter(|s| !s.is_empty()).ok_or_else(|| IcwsError::missing(name))
    }

    /// A boolean member (absent or null: `None`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, IcwsError> {
        boolean_in(&self.0, name)
    }
}

/// A boolean member of `map`.
pub fn boolean_in(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, IcwsError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(IcwsError::invalid(name, format!("The property {name} must be a boolean."))),
    }
}
