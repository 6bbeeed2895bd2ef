//! Request bodies of the presence API: JSON whatever the Content-Type; unknown members ignored.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::IcwsError;
use crate::domain::schema::{self, Kind, Member};

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
    /// Reads the body into `T`, the type the OpenAPI document shows for it. Each member `T`
    /// declares, in order, must have no more items than its documented `maxItems` and its
    /// documented JSON type (else invalidProperty) and, when required, be present, not null and
    /// not `""` (else missingProperty); an object member's own members are checked in turn.
    /// Other members are ignored.
    pub fn read<T: DeserializeOwned + ToSchema + 'static>(&self) -> Result<T, IcwsError> {
        check(&self.0, &schema::members::<T>())?;
        serde_json::from_value(Value::Object(self.0.clone())).map_err(|e| {
            tracing::warn!(error = %e, "a body that passed its schema's checks did not deserialize");
            IcwsError::malformed("The request body could not be read.")
        })
    }

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

fn check(map: &Map<String, Value>, members: &[Member]) -> Result<(), IcwsError> {
    for member in members {
        let name = member.name.as_str();
        let value = map.get(name).filter(|v| !v.is_null());
        if let Some(value) = value {
            if let (Value::Array(items), Some(max)) = (value, member.max_items)
                && items.len() > max
            {
                return Err(IcwsError::invalid(name, format!("The property {name} has more than {max} items.")));
            }
            if !member.kind.admits(value) {
                return Err(IcwsError::invalid(
                    name,
                    format!("The property {name} must be {}.", member.kind.described()),
                ));
            }
            if let Value::Object(nested) = value {
                check(nested, &member.members)?;
            }
        }
        let empty = value.is_none_or(|v| member.kind == Kind::String && v.as_str() == Some(""));
        if member.required && empty {
            return Err(IcwsError::missing(name));
        }
    }
    Ok(())
}
