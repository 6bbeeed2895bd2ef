//! `/1.1/telephony`: what a PBX reports of its calls (ctid extension).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ListOf;
use crate::app::telephony as app;
use crate::domain::telephony::{CallEvent, CallState, MAX_CALL_ID, valid_name};
use crate::domain::validation::ValidationError;
use crate::http::AppState;
use crate::http::xivo::body::{parse_object, parse_value};
use crate::http::xivo::error::XivoError;

/// Most events one request may carry.
const MAX_EVENTS: usize = 1000;
const MEMBERS: [&str; 4] = ["line", "call_id", "state", "timestamp"];

/// One report of a call on a line.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct CallEventInput {
    /// The line's name (its SIP user name).
    pub line: String,
    /// The PBX's call id (SIP Call-ID).
    pub call_id: String,
    /// `ringing`, `talking`, `held` or `idle` (ended).
    pub state: String,
    /// When it happened: Unix seconds (fractions allowed) or an RFC 3339 date-time.
    #[schema(value_type = Object)]
    pub timestamp: Value,
}

/// The body of a resync: every call the PBX has up.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct ResyncInput {
    pub calls: Vec<CallEventInput>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActiveCallBody {
    pub line: String,
    pub call_id: String,
    pub state: &'static str,
    pub user_id: Option<i64>,
    /// The first report of the call (RFC 3339).
    pub since: String,
}

fn timestamp_ms(value: &Value) -> Option<i64> {
    let ms = match value {
        Value::Number(n) => n.as_f64().map(|s| s * 1000.0)?,
        Value::String(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            (at.unix_timestamp_nanos() / 1_000_000) as f64
        }
        _ => return None,
    };
    // Years 1970 to 9999.
    (ms.is_finite() && (0.0..253_402_300_800_000.0).contains(&ms)).then(|| ms.round() as i64)
}

fn event(value: Value) -> Result<CallEvent, ValidationError> {
    let Value::Object(mut map) = value else {
        return Err(ValidationError::invalid("each event must be an object"));
    };
    let unknown: Vec<String> = map.keys().filter(|k| !MEMBERS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        return Err(ValidationError::Invalid(unknown));
    }
    let missing: Vec<String> =
        MEMBERS.iter().filter(|m| map.get(**m).is_none_or(Value::is_null)).map(|m| (*m).to_string()).collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing));
    }
    let text = |map: &mut Map<String, Value>, name: &str| match map.remove(name) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(ValidationError::invalid(format!("{name} must be a string"))),
    };
    let line = text(&mut map, "line")?;
    if !valid_name(&line) {
        return Err(ValidationError::invalid("line"));
    }
    let call_id = text(&mut map, "call_id")?;
    if call_id.is_empty() || call_id.len() > MAX_CALL_ID {
        return Err(ValidationError::invalid("call_id"));
    }
    let state = map
        .get("state")
        .and_then(Value::as_str)
        .and_then(CallState::parse)
        .ok_or_else(|| ValidationError::invalid("state must be one of ringing, talking, held, idle"))?;
    let at_ms = map.get("timestamp").and_then(timestamp_ms).ok_or_else(|| ValidationError::invalid("timestamp"))?;
    Ok(CallEvent { line, call_id, state, at_ms })
}

fn events(values: Vec<Value>) -> Result<Vec<CallEvent>, ValidationError> {
    if values.len() > MAX_EVENTS {
        return Err(ValidationError::invalid(format!("at most {MAX_EVENTS} events per request")));
    }
    values.into_iter().map(event).collect()
}

/// Report call states: one event or an array of them, applied in order.
#[utoipa::path(post, path = "/1.1/telephony/events", operation_id = "report_call_events", tag = "telephony",
    request_body(content = Vec<CallEventInput>, description = "One event object, or an array of them"),
    responses((status = 204, description = "Applied (a duplicate or out-of-order report is ignored)"),
        (status = 400, body = Vec<String>)))]
pub async fn report(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, XivoError> {
    let values = match parse_value(&body)? {
        Value::Array(values) => values,
        value @ Value::Object(_) => vec![value],
        _ => return Err(ValidationError::invalid("the body must be an event or an array of events").into()),
    };
    app::record(&state.presence, events(values)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the set of active calls after a PBX restart: calls not listed end.
#[utoipa::path(put, path = "/1.1/telephony/calls", operation_id = "resync_calls", tag = "telephony",
    request_body = ResyncInput,
    responses((status = 204), (status = 400, body = Vec<String>)))]
pub async fn resync(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, XivoError> {
    let mut map = parse_object(&body)?;
    let unknown: Vec<String> = map.keys().filter(|k| k.as_str() != "calls").cloned().collect();
    if !unknown.is_empty() {
        return Err(ValidationError::Invalid(unknown).into());
    }
    let calls = match map.remove("calls") {
        Some(Value::Array(values)) => events(values)?,
        None | Some(Value::Null) => return Err(ValidationError::Missing(vec!["calls".into()]).into()),
        Some(_) => return Err(ValidationError::invalid("calls must be a list").into()),
    };
    if calls.iter().any(|c| c.state == CallState::Idle) {
        return Err(ValidationError::invalid("calls lists the calls that are up: no idle state").into());
    }
    app::resync(&state.presence, calls).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calls that are up.
#[utoipa::path(get, path = "/1.1/telephony/calls", operation_id = "list_active_calls", tag = "telephony",
    responses((status = 200, body = ListOf<ActiveCallBody>)))]
pub async fn active(State(state): State<AppState>) -> Result<Json<ListOf<ActiveCallBody>>, XivoError> {
    let calls = app::active(state.store.as_ref()).await?;
    let items: Vec<_> = calls
        .into_iter()
        .map(|c| ActiveCallBody {
            line: c.line,
            call_id: c.call_id,
            state: c.state.as_str(),
            user_id: c.user_id,
            since: OffsetDateTime::from_unix_timestamp(c.since_ms.div_euclid(1000))
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_unix_seconds_or_rfc_3339() {
        assert_eq!(timestamp_ms(&serde_json::json!(1763912345.25)), Some(1_763_912_345_250));
        assert_eq!(timestamp_ms(&serde_json::json!("2026-11-23T15:04:05.250Z")), Some(1_795_446_245_250));
        assert_eq!(timestamp_ms(&serde_json::json!(-1)), None);
        assert_eq!(timestamp_ms(&serde_json::json!("yesterday")), None);
        assert_eq!(timestamp_ms(&serde_json::json!(true)), None);
    }
}
