//! `/icws/{sessionId}/connection/station` and its subscription: station login of every
//! settings type, station information, the session's station state.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::body::IcwsObject;
use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::domain::station::{MAX_STATION_LEN, StationLogin, valid_station_text};
use crate::http::AppState;
use crate::presence::wire::StationInfo;

const WORKSTATION: &str = "urn:inin.com:connection:workstationSettings";
const REMOTE_WORKSTATION: &str = "urn:inin.com:connection:remoteWorkstationSettings";
const REMOTE_NUMBER: &str = "urn:inin.com:connection:remoteNumberSettings";
const STATIONLESS: &str = "urn:inin.com:connection:stationlessSettings";

/// Most media types a station login may list.
const MAX_MEDIA_TYPES: usize = 16;

/// The body of a station login: one of the four settings types (`__type`; a body without one
/// is a workstation login). Members of other types are ignored.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "documents the request body; parsing is done member by member")]
pub struct StationRequest {
    /// `urn:inin.com:connection:workstationSettings` (default), `…:remoteWorkstationSettings`,
    /// `…:remoteNumberSettings` or `…:stationlessSettings`.
    #[serde(rename = "__type")]
    pub kind: Option<String>,
    /// Workstation and remote workstation logins (required): at most 64 characters, no control
    /// characters; empty is taken as absent.
    #[schema(max_length = 64)]
    pub workstation: Option<String>,
    /// Remote number logins (required), remote workstation logins (optional): as `workstation`.
    #[schema(max_length = 64)]
    pub remote_number: Option<String>,
    /// Remote number logins: keep the call to the remote number up between interactions.
    pub persistent_connection: Option<bool>,
    /// Media type numbers (at most 16).
    pub supported_media_types: Option<Vec<i64>>,
    pub ready_for_interactions: Option<bool>,
}

/// A station text member: required or not, bounded and printable.
fn station_text(body: &IcwsObject, name: &str, required: bool) -> Result<Option<String>, IcwsError> {
    let text = match body.string(name)?.filter(|s| !s.is_empty()) {
        Some(text) => text,
        None if required => return Err(IcwsError::missing(name)),
        None => return Ok(None),
    };
    if !valid_station_text(&text) {
        return Err(IcwsError::invalid(
            name,
            format!("The property {name} must have 1 to {MAX_STATION_LEN} printable characters."),
        ));
    }
    Ok(Some(text))
}

/// The station login a body asks for.
pub fn station_login(body: &IcwsObject) -> Result<StationLogin, IcwsError> {
    match body.0.get("supportedMediaTypes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() <= MAX_MEDIA_TYPES && items.iter().all(Value::is_i64) => {}
        Some(_) => {
            return Err(IcwsError::invalid(
                "supportedMediaTypes",
                format!("The property supportedMediaTypes must be a list of at most {MAX_MEDIA_TYPES} numbers."),
            ));
        }
    }
    // Members valid whatever the settings type, even those it does not use; an empty text is
    // taken as absent.
    body.boolean("readyForInteractions")?;
    body.boolean("persistentConnection")?;
    station_text(body, "workstation", false)?;
    station_text(body, "remoteNumber", false)?;
    let required = |name| station_text(body, name, true).map(Option::unwrap_or_default);
    Ok(match body.string("__type")?.as_deref() {
        None | Some(WORKSTATION) => StationLogin::Workstation { workstation: required("workstation")? },
        Some(REMOTE_WORKSTATION) => StationLogin::RemoteWorkstation {
            workstation: required("workstation")?,
            remote_number: station_text(body, "remoteNumber", false)?,
        },
        Some(REMOTE_NUMBER) => StationLogin::RemoteNumber {
            remote_number: required("remoteNumber")?,
            persistent: body.boolean("persistentConnection")?.unwrap_or(false),
        },
        Some(STATIONLESS) => StationLogin::Stationless,
        Some(other) => {
            return Err(IcwsError::invalid(
                "__type",
                format!(
                    "Unknown station settings type {other}: use {WORKSTATION}, {REMOTE_WORKSTATION}, \
                     {REMOTE_NUMBER} or {STATIONLESS}."
                ),
            ));
        }
    })
}

/// Log the session in to a station (replacing any earlier station login).
#[utoipa::path(put, path = "/icws/{sessionId}/connection/station",
    operation_id = "icws_station_login", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    request_body(content = StationRequest, example = json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001"})),
    responses((status = 200), (status = 400, body = super::error::IcwsErrorBody), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    body: IcwsObject,
) -> Result<StatusCode, IcwsError> {
    let login = station_login(&body)?;
    state.presence.set_station(&session, Some(login)).await?;
    Ok(StatusCode::OK)
}

/// The station the session is logged in to.
#[utoipa::path(get, path = "/icws/{sessionId}/connection/station",
    operation_id = "icws_station_information", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200, body = StationInfo), (status = 401, body = super::error::IcwsErrorBody),
        (status = 404, description = "Not logged in to a station", body = super::error::IcwsErrorBody)))]
pub async fn get(IcwsSession(session): IcwsSession) -> Result<IcwsJson<StationInfo>, IcwsError> {
    match session.station() {
        Some(login) => Ok(ok(StationInfo::of(Some(&login)))),
        None => Err(IcwsError::not_found("The session is not logged in to a station.")),
    }
}

/// Log the session out of its station.
#[utoipa::path(delete, path = "/icws/{sessionId}/connection/station",
    operation_id = "icws_station_logout", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn delete(State(state): State<AppState>, IcwsSession(session): IcwsSession) -> Result<StatusCode, IcwsError> {
    state.presence.set_station(&session, None).await?;
    Ok(StatusCode::OK)
}

/// Subscribe to the session's station state: a `stationConnectionStateChangeMessage` with the
/// current state follows, then one at every station login or logout.
#[utoipa::path(put, path = "/icws/{sessionId}/messaging/subscriptions/connection/station",
    operation_id = "icws_subscribe_station", tag = "icws messaging", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn subscribe(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.subscribe_station(&session, true).await?;
    Ok(StatusCode::OK)
}

/// Unsubscribe from the session's station state.
#[utoipa::path(delete, path = "/icws/{sessionId}/messaging/subscriptions/connection/station",
    operation_id = "icws_unsubscribe_station", tag = "icws messaging", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
) -> Result<StatusCode, IcwsError> {
    state.presence.subscribe_station(&session, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
