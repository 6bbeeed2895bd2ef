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
use crate::presence::render::StationInfo;

const WORKSTATION: &str = "urn:inin.com:connection:workstationSettings";
const REMOTE_WORKSTATION: &str = "urn:inin.com:connection:remoteWorkstationSettings";
const REMOTE_NUMBER: &str = "urn:inin.com:connection:remoteNumberSettings";
const STATIONLESS: &str = "urn:inin.com:connection:stationlessSettings";

/// Most media types a station login may list.
const MAX_MEDIA_TYPES: usize = 16;

/// The body of a station login: the members any settings type may carry, and the members of
/// the type its `__type` names (a body without one is a workstation login). A member a type
/// does not use is still checked.
#[derive(Debug, utoipa::ToSchema)]
pub struct StationRequest {
    #[serde(flatten)]
    pub members: StationMembers,
    #[serde(flatten)]
    pub settings: StationSettings,
}

/// What a station login may carry whatever its type. `workstation` and `remoteNumber`: at most
/// 64 characters, not blank, no control characters; empty is taken as absent.
// Declared in the order the members are checked.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StationMembers {
    /// Media type numbers.
    #[schema(max_items = 16)]
    pub supported_media_types: Option<Vec<i64>>,
    pub ready_for_interactions: Option<bool>,
    /// Remote number logins: keep the call to the remote number up between interactions.
    pub persistent_connection: Option<bool>,
    /// Workstation and remote workstation logins.
    #[schema(max_length = 64)]
    pub workstation: Option<String>,
    /// Remote number logins, and remote workstation logins (optional): where the audio goes.
    #[schema(max_length = 64)]
    pub remote_number: Option<String>,
}

/// The settings type, by `__type`, with the members it requires.
#[derive(Debug, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StationSettings {
    Workstation(WorkstationSettings),
    RemoteWorkstation(RemoteWorkstationSettings),
    RemoteNumber(RemoteNumberSettings),
    Stationless(StationlessSettings),
}

/// `urn:inin.com:connection:workstationSettings`: a workstation (a phone of the PBX).
#[derive(Debug, utoipa::ToSchema)]
pub struct WorkstationSettings {
    /// May be left out: this is the default type.
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: Option<WorkstationType>,
    #[schema(min_length = 1)]
    pub workstation: String,
}

/// `urn:inin.com:connection:remoteWorkstationSettings`: a workstation used from elsewhere,
/// its audio on `remoteNumber` when one is given.
#[derive(Debug, utoipa::ToSchema)]
pub struct RemoteWorkstationSettings {
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: RemoteWorkstationType,
    #[schema(min_length = 1)]
    pub workstation: String,
}

/// `urn:inin.com:connection:remoteNumberSettings`: a remote number only (a mobile or home phone).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteNumberSettings {
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: RemoteNumberType,
    #[schema(min_length = 1)]
    pub remote_number: String,
}

/// `urn:inin.com:connection:stationlessSettings`: logged in without a station.
#[derive(Debug, utoipa::ToSchema)]
pub struct StationlessSettings {
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: StationlessType,
}

/// The `__type` of a workstation login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum WorkstationType {
    #[serde(rename = "urn:inin.com:connection:workstationSettings")]
    Workstation,
}

/// The `__type` of a remote workstation login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum RemoteWorkstationType {
    #[serde(rename = "urn:inin.com:connection:remoteWorkstationSettings")]
    RemoteWorkstation,
}

/// The `__type` of a remote number login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum RemoteNumberType {
    #[serde(rename = "urn:inin.com:connection:remoteNumberSettings")]
    RemoteNumber,
}

/// The `__type` of a stationless login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum StationlessType {
    #[serde(rename = "urn:inin.com:connection:stationlessSettings")]
    Stationless,
}

/// A station text member: bounded and printable; empty is taken as absent.
fn station_text(body: &IcwsObject, name: &str) -> Result<Option<String>, IcwsError> {
    let Some(text) = body.string(name)?.filter(|s| !s.is_empty()) else { return Ok(None) };
    if !valid_station_text(&text) {
        return Err(IcwsError::invalid(
            name,
            format!("The property {name} must have 1 to {MAX_STATION_LEN} printable characters."),
        ));
    }
    Ok(Some(text))
}

impl StationRequest {
    /// Reads a station login body: every member any type may carry, then `__type` and the
    /// members its type requires.
    pub fn read(body: &IcwsObject) -> Result<Self, IcwsError> {
        let supported_media_types = match body.0.get("supportedMediaTypes") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) if items.len() <= MAX_MEDIA_TYPES && items.iter().all(Value::is_i64) => {
                Some(items.iter().filter_map(Value::as_i64).collect())
            }
            Some(_) => {
                return Err(IcwsError::invalid(
                    "supportedMediaTypes",
                    format!("The property supportedMediaTypes must be a list of at most {MAX_MEDIA_TYPES} numbers."),
                ));
            }
        };
        let members = StationMembers {
            supported_media_types,
            ready_for_interactions: body.boolean("readyForInteractions")?,
            persistent_connection: body.boolean("persistentConnection")?,
            workstation: station_text(body, "workstation")?,
            remote_number: station_text(body, "remoteNumber")?,
        };
        let required = |value: &Option<String>, name| value.clone().ok_or_else(|| IcwsError::missing(name));
        let settings = match body.string("__type")?.as_deref() {
            None => StationSettings::Workstation(WorkstationSettings {
                kind: None,
                workstation: required(&members.workstation, "workstation")?,
            }),
            Some(WORKSTATION) => StationSettings::Workstation(WorkstationSettings {
                kind: Some(WorkstationType::Workstation),
                workstation: required(&members.workstation, "workstation")?,
            }),
            Some(REMOTE_WORKSTATION) => StationSettings::RemoteWorkstation(RemoteWorkstationSettings {
                kind: RemoteWorkstationType::RemoteWorkstation,
                workstation: required(&members.workstation, "workstation")?,
            }),
            Some(REMOTE_NUMBER) => StationSettings::RemoteNumber(RemoteNumberSettings {
                kind: RemoteNumberType::RemoteNumber,
                remote_number: required(&members.remote_number, "remoteNumber")?,
            }),
            Some(STATIONLESS) => {
                StationSettings::Stationless(StationlessSettings { kind: StationlessType::Stationless })
            }
            Some(other) => {
                return Err(IcwsError::invalid(
                    "__type",
                    format!(
                        "Unknown station settings type {other}: use {WORKSTATION}, {REMOTE_WORKSTATION}, \
                         {REMOTE_NUMBER} or {STATIONLESS}."
                    ),
                ));
            }
        };
        Ok(Self { members, settings })
    }

    /// The station login the body asks for.
    pub fn login(self) -> StationLogin {
        let members = self.members;
        match self.settings {
            StationSettings::Workstation(s) => StationLogin::Workstation { workstation: s.workstation },
            StationSettings::RemoteWorkstation(s) => {
                StationLogin::RemoteWorkstation { workstation: s.workstation, remote_number: members.remote_number }
            }
            StationSettings::RemoteNumber(s) => StationLogin::RemoteNumber {
                remote_number: s.remote_number,
                persistent: members.persistent_connection.unwrap_or(false),
            },
            StationSettings::Stationless(_) => StationLogin::Stationless,
        }
    }
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
    let login = StationRequest::read(&body)?.login();
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The property a refused body's error names.
    fn refused(body: serde_json::Value) -> String {
        let serde_json::Value::Object(map) = body else { panic!("an object") };
        let error = StationRequest::read(&IcwsObject(map)).expect_err("refused");
        error.body.property_name.unwrap_or_default()
    }

    #[test]
    fn members_are_checked_before_the_type_and_its_required_members() {
        assert_eq!(refused(json!({"__type": 5, "remoteNumber": 5, "workstation": "70\n01"})), "workstation");
        assert_eq!(refused(json!({"__type": "x", "workstation": "", "remoteNumber": 5})), "remoteNumber");
        assert_eq!(refused(json!({"__type": 5, "workstation": ""})), "__type");
        assert_eq!(refused(json!({"__type": "x", "workstation": ""})), "__type");
        let media = vec![1; MAX_MEDIA_TYPES + 1];
        assert_eq!(refused(json!({"readyForInteractions": 1, "supportedMediaTypes": media})), "supportedMediaTypes");
        assert_eq!(refused(json!({"__type": REMOTE_NUMBER, "workstation": "7001"})), "remoteNumber");
    }
}
