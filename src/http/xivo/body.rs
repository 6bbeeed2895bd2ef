//! Request bodies of the configuration API: JSON whatever the Content-Type, read into an
//! object whose members are checked one by one so every error names its field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::XivoError;
use crate::domain::schema;
use crate::domain::validation::ValidationError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

const NO_DATA: &str = "No parsable data in the request, Be sure to send a valid JSON file";

/// A JSON object body.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = XivoError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                XivoError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than {MAX_BODY} bytes"))
            } else {
                XivoError::bad_request(NO_DATA)
            }
        })?;
        parse_object(&bytes).map(Self)
    }
}

/// Parses `bytes` as any JSON value.
pub fn parse_value(bytes: &[u8]) -> Result<Value, XivoError> {
    serde_json::from_slice(bytes).map_err(|_| XivoError::bad_request(NO_DATA))
}

/// Parses `bytes` as a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, XivoError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(XivoError::bad_request("Invalid parameters: the request body must be a JSON object")),
        Err(_) => Err(XivoError::bad_request(NO_DATA)),
    }
}

/// Reads a body object into `T`, the type whose schema the OpenAPI document shows for it.
///
/// The checks follow that schema so that every error names its member: members it does not
/// list are refused (unless `read_only`, which are ignored), then its required members must be
/// present and not null, then a string outside an enumeration fails at once, then every member
/// of the wrong JSON type is reported, in the order `T` declares them. Only then does serde
/// build `T`, from members whose types are already known to fit.
pub fn read<T: DeserializeOwned + ToSchema + 'static>(
    mut map: Map<String, Value>,
    read_only: &[&str],
) -> Result<T, XivoError> {
    let members = schema::members::<T>();
    let unknown: Vec<String> = map
        .keys()
        .filter(|k| !members.iter().any(|m| m.name == k.as_str()) && !read_only.contains(&k.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ValidationError::Invalid(unknown).into());
    }
    map.retain(|k, _| !read_only.contains(&k.as_str()));
    let present = |name: &str| map.get(name).filter(|v| !v.is_null());
    let missing: Vec<String> =
        members.iter().filter(|m| m.required && present(&m.name).is_none()).map(|m| m.name.clone()).collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing).into());
    }
    for member in members.iter() {
        if let (Some(Value::String(text)), Some(allowed)) = (present(&member.name), &member.one_of)
            && !allowed.contains(text)
        {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            return Err(ValidationError::invalid(format!("{} must be {}", member.name, quoted.join(" or "))).into());
        }
    }
    let invalid: Vec<String> = members
        .iter()
        .filter(|m| present(&m.name).is_some_and(|v| !m.kind.admits(v)))
        .map(|m| format!("{} must be {}", m.name, m.kind.described()))
        .collect();
    if !invalid.is_empty() {
        return Err(ValidationError::Invalid(invalid).into());
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        tracing::warn!(error = %e, "a body that passed its schema's checks did not deserialize");
        XivoError::bad_request(NO_DATA)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Map<String, Value> {
        parse_object(text.as_bytes()).expect("object")
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        assert_eq!(parse_object(b"").expect_err("empty").messages, vec![NO_DATA]);
        assert_eq!(parse_object(b"{").expect_err("bad").messages, vec![NO_DATA]);
        assert_eq!(parse_object(b"[1]").expect_err("array").status, StatusCode::BAD_REQUEST);
    }

    #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
    struct Sample {
        a: i64,
        b: Option<String>,
        scope: Option<crate::domain::cti_profile::Scope>,
    }

    fn sample(text: &str) -> Result<Sample, Vec<String>> {
        read::<Sample>(object(text), &["id"]).map_err(|e| e.messages)
    }

    #[test]
    fn unknown_members_come_before_missing_ones() {
        assert_eq!(sample(r#"{"x": 1}"#).expect_err("unknown"), ["Invalid parameters: x"]);
        assert_eq!(sample(r#"{"id": 3, "a": null}"#).expect_err("missing"), ["Missing parameters: a"]);
        let read = sample(r#"{"id": 3, "a": 7, "b": null}"#).expect("valid");
        assert_eq!((read.a, read.b, read.scope), (7, None, None));
    }

    #[test]
    fn type_errors_name_the_field() {
        assert_eq!(
            sample(r#"{"b": 2, "a": "3"}"#).expect_err("types"),
            ["Invalid parameters: a must be an integer,b must be a string"]
        );
        assert_eq!(
            sample(r#"{"a": "3", "scope": "some"}"#).expect_err("enumeration"),
            ["Invalid parameters: scope must be 'all' or 'self'"]
        );
    }
}
