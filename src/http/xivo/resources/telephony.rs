//! `/1.1/telephony`: what a PBX reports of its calls (ctid extension).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ListOf;
use crate::app::telephony as app;
use crate::domain::schema::{self, Member};
use crate::domain::telephony::{CallEvent, CallState, MAX_CALL_ID, valid_name};
use crate::domain::validation::ValidationError;
use crate::http::AppState;
use crate::http::xivo::body::{parse_object, parse_value};
use crate::http::xivo::error::XivoError;

/// Most events one request may carry.
const MAX_EVENTS: usize = 1000;

/// One report of a call on a line.
// Each member is read by a function whose error is the message the client gets, and `event`
// hands the members to serde in the order declared here: the first bad one is reported.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventInput {
    /// The line's name (its SIP user name).
    #[serde(deserialize_with = "line")]
    pub line: String,
    /// The PBX's call id (SIP Call-ID).
    #[serde(deserialize_with = "call_id")]
    pub call_id: String,
    /// `ringing`, `talking`, `held` or `idle` (ended).
    #[serde(deserialize_with = "state")]
    #[schema(value_type = String)]
    pub state: CallState,
    /// When it happened: Unix seconds (fractions allowed) or an RFC 3339 date-time.
    #[serde(rename = "timestamp", deserialize_with = "timestamp")]
    #[schema(value_type = Object)]
    pub at_us: i64,
}

impl From<CallEventInput> for CallEvent {
    fn from(input: CallEventInput) -> Self {
        Self { line: input.line, call_id: input.call_id, state: input.state, at_us: input.at_us }
    }
}

/// The body of a resync: every call the PBX has up.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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

/// Microseconds in a second.
const MICROS: i64 = 1_000_000;
/// The first second after the accepted range: timestamps run from 1970 to the end of 9999.
const END_SECONDS: i64 = 253_402_300_800;

/// A report's `timestamp` in Unix microseconds: Unix seconds as a JSON number, or an RFC 3339
/// date-time.
///
/// A number reaches ctid as a double (serde_json keeps no number text), so it is rounded to the
/// nearest microsecond: whatever a PBX writes with up to six decimals comes out exactly, as
/// long as a double resolves half a microsecond (until 2242; later, to the double's
/// resolution). An RFC 3339 fraction is read as written: digits beyond the sixth are dropped.
fn timestamp_us(value: &Value) -> Option<i64> {
    let us = match value {
        Value::Number(n) => match n.as_u64() {
            Some(seconds) => i64::try_from(seconds).ok()?.checked_mul(MICROS)?,
            None => micros_of_seconds(n.as_f64()?)?,
        },
        Value::String(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            i64::try_from(at.unix_timestamp_nanos().div_euclid(1000)).ok()?
        }
        _ => return None,
    };
    (0..END_SECONDS * MICROS).contains(&us).then_some(us)
}

/// Non-negative `seconds` below the end of the accepted range, to the nearest microsecond.
fn micros_of_seconds(seconds: f64) -> Option<i64> {
    if !(0.0..END_SECONDS as f64).contains(&seconds) {
        return None;
    }
    // The whole seconds and their fraction are both exact; only scaling the fraction rounds,
    // far below a microsecond.
    let whole = seconds.trunc();
    let fraction = ((seconds - whole) * MICROS as f64).round();
    Some(whole as i64 * MICROS + fraction as i64)
}

/// A text member.
fn text<'de, D: Deserializer<'de>>(deserializer: D, name: &str) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        _ => Err(D::Error::custom(format!("{name} must be a string"))),
    }
}

fn line<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let line = text(deserializer, "line")?;
    if valid_name(&line) { Ok(line) } else { Err(D::Error::custom("line")) }
}

fn call_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let call_id = text(deserializer, "call_id")?;
    if call_id.is_empty() || call_id.len() > MAX_CALL_ID { Err(D::Error::custom("call_id")) } else { Ok(call_id) }
}

fn state<'de, D: Deserializer<'de>>(deserializer: D) -> Result<CallState, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value
        .as_str()
        .and_then(CallState::parse)
        .ok_or_else(|| D::Error::custom("state must be one of ringing, talking, held, idle"))
}

fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    timestamp_us(&Value::deserialize(deserializer)?).ok_or_else(|| D::Error::custom("timestamp"))
}

/// The members `T` declares, once `map` is known to hold no other member and every required
/// one (not null).
fn members_of<T: utoipa::ToSchema + 'static>(map: &Map<String, Value>) -> Result<Arc<[Member]>, ValidationError> {
    let members = schema::members::<T>();
    let unknown: Vec<String> = map.keys().filter(|k| !members.iter().any(|m| m.name == k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        return Err(ValidationError::Invalid(unknown));
    }
    let missing: Vec<String> = members
        .iter()
        .filter(|m| m.required && map.get(&m.name).is_none_or(Value::is_null))
        .map(|m| m.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing));
    }
    Ok(members)
}

fn event(value: Value) -> Result<CallEventInput, ValidationError> {
    let Value::Object(mut map) = value else {
        return Err(ValidationError::invalid("each event must be an object"));
    };
    let members = members_of::<CallEventInput>(&map)?;
    // Serde reads the members in the map's order: the declared one.
    let ordered: Map<String, Value> = members.iter().filter_map(|m| map.remove_entry(&m.name)).collect();
    serde_json::from_value(Value::Object(ordered)).map_err(|e| ValidationError::invalid(e.to_string()))
}

fn events(values: Vec<Value>) -> Result<Vec<CallEventInput>, ValidationError> {
    if values.len() > MAX_EVENTS {
        return Err(ValidationError::invalid(format!("at most {MAX_EVENTS} events per request")));
    }
    values.into_iter().map(event).collect()
}

impl ResyncInput {
    fn read(mut map: Map<String, Value>) -> Result<Self, ValidationError> {
        members_of::<Self>(&map)?;
        match map.remove("calls") {
            Some(Value::Array(values)) => Ok(Self { calls: events(values)? }),
            _ => Err(ValidationError::invalid("calls must be a list")),
        }
    }
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
    let events = events(values)?.into_iter().map(CallEvent::from).collect();
    app::record(&state.presence, events).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the set of active calls after a PBX restart: calls not listed end.
#[utoipa::path(put, path = "/1.1/telephony/calls", operation_id = "resync_calls", tag = "telephony",
    request_body = ResyncInput,
    responses((status = 204), (status = 400, body = Vec<String>)))]
pub async fn resync(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, XivoError> {
    let calls: Vec<CallEvent> =
        ResyncInput::read(parse_object(&body)?)?.calls.into_iter().map(CallEvent::from).collect();
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
            since: OffsetDateTime::from_unix_timestamp(c.since_us.div_euclid(MICROS))
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(ListOf { total: items.len() as u64, items }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `timestamp_us` of a JSON text, parsed as a request body is.
    fn us(json: &str) -> Option<i64> {
        timestamp_us(&serde_json::from_str(json).expect("JSON"))
    }

    fn event_error(value: serde_json::Value) -> Vec<String> {
        let error = event(value).expect_err("refused");
        crate::http::xivo::error::XivoError::from(error).messages
    }

    #[test]
    fn the_first_bad_member_in_declared_order_is_reported() {
        use serde_json::json;
        let bad = json!({"timestamp": "yesterday", "state": "gone", "call_id": 5, "line": "no spaces"});
        assert_eq!(event_error(bad), ["Invalid parameters: line"]);
        let bad = json!({"timestamp": "yesterday", "state": "gone", "call_id": 5, "line": "7001"});
        assert_eq!(event_error(bad), ["Invalid parameters: call_id must be a string"]);
        let bad = json!({"timestamp": "yesterday", "state": 3, "call_id": "c", "line": "7001"});
        assert_eq!(event_error(bad), ["Invalid parameters: state must be one of ringing, talking, held, idle"]);
        let bad = json!({"timestamp": -1, "state": "held", "call_id": "c", "line": "7001"});
        assert_eq!(event_error(bad), ["Invalid parameters: timestamp"]);
        let read = event(json!({"timestamp": 1, "state": "held", "call_id": "c", "line": "7001"})).expect("valid");
        assert_eq!(
            (read.line.as_str(), read.call_id.as_str(), read.state, read.at_us),
            ("7001", "c", CallState::Held, 1_000_000)
        );
    }

    #[test]
    fn timestamps_are_unix_seconds_or_rfc_3339() {
        assert_eq!(us("1763912345"), Some(1_763_912_345_000_000));
        assert_eq!(us("1763912345.25"), Some(1_763_912_345_250_000));
        assert_eq!(us(r#""2026-11-23T15:04:05.250Z""#), Some(1_795_446_245_250_000));
        assert_eq!(us(r#""2026-11-23T17:04:05.250+02:00""#), Some(1_795_446_245_250_000));
        assert_eq!(us(r#""2026-11-23T15:04:05Z""#), Some(1_795_446_245_000_000));
        assert_eq!(us("0"), Some(0));
        assert_eq!(us("0.0"), Some(0));
        assert_eq!(us(r#""1970-01-01T00:00:00Z""#), Some(0));
    }

    #[test]
    fn timestamps_keep_their_microseconds() {
        assert_eq!(us("1763912345.000100"), Some(1_763_912_345_000_100));
        assert_eq!(us("1763912345.0001"), Some(1_763_912_345_000_100));
        assert_eq!(us("1763912345.000001"), Some(1_763_912_345_000_001));
        assert_eq!(us("1763912345.999999"), Some(1_763_912_345_999_999));
        assert_eq!(us("1.763912345000100e9"), Some(1_763_912_345_000_100));
        assert_eq!(us("0.000001"), Some(1));
        assert_eq!(us(r#""2026-11-23T15:04:05.000100Z""#), Some(1_795_446_245_000_100));
        assert_eq!(us(r#""2026-11-23T15:04:05.000001Z""#), Some(1_795_446_245_000_001));
        assert_eq!(us(r#""2026-11-23T15:04:05.999999-05:00""#), Some(1_795_464_245_999_999));
    }

    #[test]
    fn finer_digits_round_in_numbers_and_are_dropped_in_rfc_3339() {
        // A number is a double: to the nearest microsecond, into the next second if need be.
        assert_eq!(us("1763912345.0000004"), Some(1_763_912_345_000_000));
        assert_eq!(us("1763912345.0000006"), Some(1_763_912_345_000_001));
        assert_eq!(us("1763912345.123456789"), Some(1_763_912_345_123_457));
        assert_eq!(us("1763912345.9999996"), Some(1_763_912_346_000_000));
        // A string's digits are exact: the sixth is the last kept.
        assert_eq!(us(r#""2026-11-23T15:04:05.123456789Z""#), Some(1_795_446_245_123_456));
        assert_eq!(us(r#""2026-11-23T15:04:05.9999999Z""#), Some(1_795_446_245_999_999));
    }

    #[test]
    fn timestamps_run_from_1970_to_the_end_of_9999() {
        assert_eq!(us("253402300799"), Some(253_402_300_799_000_000));
        assert_eq!(us("253402300799.5"), Some(253_402_300_799_500_000));
        assert_eq!(us(r#""9999-12-31T23:59:59.999999Z""#), Some(253_402_300_799_999_999));
        assert_eq!(us(r#""9999-12-31T23:59:59.9999999Z""#), Some(253_402_300_799_999_999));
        assert_eq!(us("253402300800"), None);
        assert_eq!(us("253402300800.0"), None);
        // As a double, the last microsecond of 9999 is the first second of 10000.
        assert_eq!(us("253402300799.999999"), None);
        assert_eq!(us(r#""9999-12-31T23:59:59-00:01""#), None);
        assert_eq!(us("1e300"), None);
        assert_eq!(us("18446744073709551615"), None);
        assert_eq!(us("9223372036854775807"), None);
    }

    #[test]
    fn negative_or_garbage_timestamps_are_refused() {
        for json in [
            "-1",
            "-0.000001",
            "-1763912345.5",
            r#""1969-12-31T23:59:59.999999Z""#,
            r#""1970-01-01T00:30:00+01:00""#,
            r#""yesterday""#,
            r#""""#,
            r#""1763912345""#,
            r#""2026-11-23T15:04:05""#,
            r#""2026-13-40T00:00:00Z""#,
            "true",
            "null",
            "[1763912345]",
            r#"{"seconds": 1763912345}"#,
        ] {
            assert_eq!(us(json), None, "{json}");
        }
    }

    proptest! {
        /// Whatever a PBX writes with six decimals comes back to the microsecond, until 2242.
        #[test]
        fn six_decimals_are_kept_exactly(seconds in 0_i64..(1 << 33), micros in 0_i64..MICROS) {
            let text = format!("{seconds}.{micros:06}");
            prop_assert_eq!(us(&text), Some(seconds * MICROS + micros), "{}", text);
        }

        #[test]
        fn rfc_3339_microseconds_are_kept_exactly(seconds in 0_i64..END_SECONDS, micros in 0_i64..MICROS) {
            let at = OffsetDateTime::from_unix_timestamp(seconds).expect("in range");
            let text = format!("\"{}.{micros:06}Z\"", &at.format(&Rfc3339).expect("format")[..19]);
            prop_assert_eq!(us(&text), Some(seconds * MICROS + micros), "{}", text);
        }
    }
}
