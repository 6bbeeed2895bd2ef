//! Request bodies of the configuration API: JSON whatever the Content-Type, read into an
//! object whose members are checked one by one so every error names its field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::XivoError;
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

/// Reads typed members out of a body object, collecting type errors.
pub struct Fields {
    map: Map<String, Value>,
    invalid: Vec<String>,
}

impl Fields {
    /// Refuses members outside `writable` and `read_only` (read-only ones are ignored).
    pub fn new(map: Map<String, Value>, writable: &[&str], read_only: &[&str]) -> Result<Self, ValidationError> {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !writable.contains(&k.as_str()) && !read_only.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ValidationError::Invalid(unknown));
        }
        Ok(Self { map, invalid: Vec::new() })
    }

    /// Fails with `Missing parameters` for each of `names` absent or null.
    pub fn require(&self, names: &[&str]) -> Result<(), ValidationError> {
        let missing: Vec<String> =
            names.iter().filter(|n| self.map.get(**n).is_none_or(Value::is_null)).map(|n| (*n).to_string()).collect();
        if missing.is_empty() { Ok(()) } else { Err(ValidationError::Missing(missing)) }
    }

    fn take<T>(&mut self, name: &str, kind: &str, convert: impl FnOnce(Value) -> Option<T>) -> Option<Option<T>> {
        match self.map.remove(name)? {
            Value::Null => Some(None),
            value => match convert(value) {
                Some(v) => Some(Some(v)),
                None => {
                    self.invalid.push(format!("{name} must be {kind}"));
                    None
                }
            },
        }
    }

    pub fn string(&mut self, name: &str) -> Option<Option<String>> {
        self.take(name, "a string", |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    pub fn integer(&mut self, name: &str) -> Option<Option<i64>> {
        self.take(name, "an integer", |v| v.as_i64())
    }

    pub fn boolean(&mut self, name: &str) -> Option<Option<bool>> {
        self.take(name, "a boolean", |v| v.as_bool())
    }

    pub fn string_list(&mut self, name: &str) -> Option<Option<Vec<String>>> {
        self.take(name, "a list of strings", |v| match v {
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => None,
        })
    }

    /// The type errors met while reading.
    pub fn finish(self) -> Result<(), ValidationError> {
        if self.invalid.is_empty() { Ok(()) } else { Err(ValidationError::Invalid(self.invalid)) }
    }
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

    #[test]
    fn unknown_members_come_before_missing_ones() {
        let err = Fields::new(object(r#"{"x": 1}"#), &["a"], &["id"]).err().expect("unknown");
        assert_eq!(err.to_string(), "Invalid parameters: x");
        let fields = Fields::new(object(r#"{"id": 3, "a": null}"#), &["a"], &["id"]).expect("known");
        assert_eq!(fields.require(&["a"]).expect_err("missing").to_string(), "Missing parameters: a");
    }

    #[test]
    fn type_errors_name_the_field() {
        let mut fields = Fields::new(object(r#"{"a": "3", "b": 2}"#), &["a", "b"], &[]).expect("known");
        assert_eq!(fields.integer("a"), None);
        assert_eq!(fields.string("b"), None);
        assert_eq!(
            fields.finish().expect_err("types").to_string(),
            "Invalid parameters: a must be an integer,b must be a string"
        );
    }
}
