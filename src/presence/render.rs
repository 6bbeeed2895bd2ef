//! The ICWS JSON of presence: the representations requests are answered with and the
//! messages pushed to sessions.

use serde::Serialize;
use serde_json::{Map, Value, json};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::dates;
use crate::domain::presence::PreviousInfo;
use crate::domain::session::StatusView;
use crate::domain::station::StationLogin;
use crate::domain::status::{AccessChanges, CatalogChanges, StatusMessage};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessageBody {
    pub status_id: String,
    pub message_text: String,
    pub icon_uri: String,
    pub group_tag: String,
    pub can_have_date: bool,
    pub can_have_time: bool,
    pub can_have_forward_number: bool,
    pub is_do_not_disturb_status: bool,
    pub is_selectable_status: bool,
    pub is_persistent_status: bool,
    pub is_forward_status: bool,
    pub is_after_call_work_status: bool,
    pub is_acd_status: bool,
    pub is_allow_follow_up_status: bool,
    pub system_id: String,
    /// ctid extension: the status a user returns to when their `until` passes; omitted when
    /// none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub return_status_id: Option<String>,
}

impl From<StatusMessage> for StatusMessageBody {
    fn from(s: StatusMessage) -> Self {
        Self {
            status_id: s.status_id,
            message_text: s.message_text,
            icon_uri: s.icon_uri,
            group_tag: s.group_tag,
            can_have_date: s.can_have_date,
            can_have_time: s.can_have_time,
            can_have_forward_number: s.can_have_forward_number,
            is_do_not_disturb_status: s.is_do_not_disturb_status,
            is_selectable_status: s.is_selectable_status,
            is_persistent_status: s.is_persistent_status,
            is_forward_status: s.is_forward_status,
            is_after_call_work_status: s.is_after_call_work_status,
            is_acd_status: s.is_acd_status,
            is_allow_follow_up_status: s.is_allow_follow_up_status,
            system_id: s.system_id,
            return_status_id: s.return_status_id,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UntilBody {
    pub until_date_time: String,
    pub has_date: bool,
    pub has_time: bool,
}

/// A user's status. Unset optional members are omitted, never null.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusBody {
    pub user_id: String,
    pub status_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<UntilBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_date_time: Option<String>,
    pub has_date: bool,
    pub has_time: bool,
    pub on_phone: bool,
    pub on_phone_changed: String,
    pub status_changed: String,
    pub stations: Vec<String>,
    pub ic_servers: Vec<String>,
    pub presence_server: String,
    pub logged_in: bool,
}

/// The ICWS representation of a user's status.
pub fn representation(view: StatusView, server_name: &str) -> UserStatusBody {
    let until = view.status.until.map(|u| UntilBody {
        until_date_time: dates::format(u.at),
        has_date: u.has_date,
        has_time: u.has_time,
    });
    UserStatusBody {
        user_id: view.username,
        status_id: view.status.status_id,
        notes: view.status.notes,
        forward_number: view.status.forward_number,
        until_date_time: until.as_ref().map(|u| u.until_date_time.clone()),
        has_date: until.as_ref().is_some_and(|u| u.has_date),
        has_time: until.as_ref().is_some_and(|u| u.has_time),
        until,
        on_phone: view.status.on_phone,
        on_phone_changed: dates::format(view.status.on_phone_changed),
        status_changed: dates::format(view.status.status_changed),
        logged_in: view.presence.logged_in,
        stations: view.presence.stations,
        ic_servers: if view.presence.has_session { vec![server_name.to_string()] } else { Vec::new() },
        presence_server: server_name.to_string(),
    }
}

pub const USER_STATUS_MESSAGE: &str = "urn:inin.com:status:userStatusMessage";
pub const ASYNC_COMPLETED_MESSAGE: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
pub const STATUS_MESSAGES_MESSAGE: &str = "urn:inin.com:status:statusMessagesMessage";
pub const USER_ACCESS_MESSAGE: &str = "urn:inin.com:status:statusMessagesUserAccessMessage";
pub const CONNECTION_STATE_MESSAGE: &str = "urn:inin.com:connection:connectionStateChangeMessage";
pub const STATION_STATE_MESSAGE: &str = "urn:inin.com:connection:stationConnectionStateChangeMessage";
pub const EFFECTIVE_STATION_MESSAGE: &str = "urn:inin.com:connection:effectiveStationChangeMessage";
pub const PREVIOUS_INFO_MESSAGE: &str = "urn:inin.com:status:userStatusPreviousInfoMessage";

/// The members a `userStatusProperties` subscription may name (`userId` is always sent).
pub const USER_STATUS_PROPERTIES: [&str; 14] = [
    "statusId",
    "notes",
    "forwardNumber",
    "until",
    "untilDateTime",
    "hasDate",
    "hasTime",
    "onPhone",
    "onPhoneChanged",
    "statusChanged",
    "stations",
    "icServers",
    "presenceServer",
    "loggedIn",
];

/// A user status as a message member, restricted to `properties` when given.
pub fn user_status_value(body: &UserStatusBody, properties: Option<&[String]>) -> Value {
    let all = serde_json::to_value(body).unwrap_or(Value::Null);
    match properties {
        None => all,
        Some(keep) => restrict(&all, keep),
    }
}

/// Keeps `userId` and the `keep` members of a user status.
pub fn restrict(status: &Value, keep: &[String]) -> Value {
    let Value::Object(all) = status else {
        return Value::Null;
    };
    Value::Object(
        all.iter()
            .filter(|(k, _)| *k == "userId" || keep.iter().any(|p| p == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<String, Value>>(),
    )
}

/// `urn:inin.com:status:userStatusMessage`.
pub fn user_status_message(statuses: &[Value], is_delta: bool) -> String {
    json!({"__type": USER_STATUS_MESSAGE, "isDelta": is_delta, "userStatusList": statuses}).to_string()
}

/// How every delta [`user_status_message`] writes begins and ends.
const DELTA_HEAD: &str = r#"{"__type":"urn:inin.com:status:userStatusMessage","isDelta":true,"userStatusList":["#;
const DELTA_TAIL: &str = "]}";

/// One delta listing the users of several deltas, in order; `None` if one is not a delta this
/// module wrote.
pub fn merge_deltas(deltas: &[&str]) -> Option<String> {
    let mut merged = String::with_capacity(deltas.iter().map(|d| d.len()).sum::<usize>());
    merged.push_str(DELTA_HEAD);
    for (i, delta) in deltas.iter().enumerate() {
        let list = delta.strip_prefix(DELTA_HEAD)?.strip_suffix(DELTA_TAIL)?;
        if i > 0 {
            merged.push(',');
        }
        merged.push_str(list);
    }
    merged.push_str(DELTA_TAIL);
    Some(merged)
}

/// `urn:inin.com:messaging:asyncOperationCompletedMessage`; `error` is `(errorId, message)`.
pub fn async_completed(request_id: &str, error: Option<(&str, &str)>) -> String {
    let error = error.map_or(Value::Null, |(id, message)| json!({"errorId": id, "message": message}));
    json!({"__type": ASYNC_COMPLETED_MESSAGE, "isDelta": false, "requestId": request_id, "error": error}).to_string()
}

/// `urn:inin.com:status:statusMessagesMessage`: the catalog, or what changed in it. Each list
/// is omitted when empty.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessagesMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:status:statusMessagesMessage")]
    pub kind: &'static str,
    /// `false` for the full catalog sent after subscribing (every status in
    /// `statusMessagesAdded`), `true` for a change.
    pub is_delta: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub status_messages_added: Vec<StatusMessageBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub status_messages_changed: Vec<StatusMessageBody>,
    /// Status ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub status_messages_removed: Vec<String>,
}

/// `urn:inin.com:status:statusMessagesMessage` of `changes` (the full catalog when not a delta).
pub fn status_messages_message(changes: &CatalogChanges, is_delta: bool) -> String {
    let bodies = |list: &[StatusMessage]| list.iter().cloned().map(StatusMessageBody::from).collect();
    to_text(&StatusMessagesMessage {
        kind: STATUS_MESSAGES_MESSAGE,
        is_delta,
        status_messages_added: bodies(&changes.added),
        status_messages_changed: bodies(&changes.changed),
        status_messages_removed: changes.removed.clone(),
    })
}

/// The statuses one user may select that were added or removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessagesUserAccessChange {
    pub user_id: String,
    /// Status ids.
    pub status_messages_added: Vec<String>,
    /// Status ids.
    pub status_messages_removed: Vec<String>,
}

/// `urn:inin.com:status:statusMessagesUserAccessMessage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusMessagesUserAccessMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:status:statusMessagesUserAccessMessage")]
    pub kind: &'static str,
    /// `false` after subscribing (every allowed id in `statusMessagesAdded`), `true` for a change.
    pub is_delta: bool,
    pub status_messages_user_access_changes: Vec<StatusMessagesUserAccessChange>,
}

/// `urn:inin.com:status:statusMessagesUserAccessMessage` of `(username, changes)` pairs.
pub fn user_access_message(changes: Vec<(String, AccessChanges)>, is_delta: bool) -> String {
    to_text(&StatusMessagesUserAccessMessage {
        kind: USER_ACCESS_MESSAGE,
        is_delta,
        status_messages_user_access_changes: changes
            .into_iter()
            .map(|(user_id, c)| StatusMessagesUserAccessChange {
                user_id,
                status_messages_added: c.added,
                status_messages_removed: c.removed,
            })
            .collect(),
    })
}

/// One status a user has held, with the notes and forward number they last had with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusPreviousInfo {
    pub status_id: String,
    /// `""` when none, never `null` (the vendor SDK requires the member).
    pub notes: String,
    /// Omitted when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub forward_number: Option<String>,
}

impl From<PreviousInfo> for UserStatusPreviousInfo {
    fn from(info: PreviousInfo) -> Self {
        Self { status_id: info.status_id, notes: info.notes.unwrap_or_default(), forward_number: info.forward_number }
    }
}

/// `urn:inin.com:status:userStatusPreviousInfoMessage`: the session user's previous info.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusPreviousInfoMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:status:userStatusPreviousInfoMessage")]
    pub kind: &'static str,
    /// `false` for the whole list sent after subscribing, `true` for the entries that changed.
    pub is_delta: bool,
    pub user_status_previous_info_list: Vec<UserStatusPreviousInfo>,
}

/// `urn:inin.com:status:userStatusPreviousInfoMessage` of `entries` (the whole list when not a
/// delta).
pub fn previous_info_message(entries: Vec<PreviousInfo>, is_delta: bool) -> String {
    to_text(&UserStatusPreviousInfoMessage {
        kind: PREVIOUS_INFO_MESSAGE,
        is_delta,
        user_status_previous_info_list: entries.into_iter().map(Into::into).collect(),
    })
}

/// `urn:inin.com:connection:connectionStateChangeMessage`: the session went from up (1) to
/// down (2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStateChangeMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:connection:connectionStateChangeMessage")]
    pub kind: &'static str,
    pub is_delta: bool,
    /// 1: up.
    pub previous_connection_state: u8,
    /// 2: down.
    pub new_connection_state: u8,
    pub reason: String,
    /// Whether the client may log in again at once (idle expiry, server shutdown).
    pub should_reconnect: bool,
    pub message: String,
}

/// `urn:inin.com:connection:connectionStateChangeMessage`: the server ends the session.
pub fn connection_down(reason: &str, should_reconnect: bool) -> String {
    to_text(&ConnectionStateChangeMessage {
        kind: CONNECTION_STATE_MESSAGE,
        is_delta: false,
        previous_connection_state: 1,
        new_connection_state: 2,
        reason: reason.to_string(),
        should_reconnect,
        message: format!("The session has ended: {reason}."),
    })
}

/// Station information (`GET /icws/{sessionId}/connection/station`, station messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StationInfo {
    /// The workstation, or the remote number for a remote-number login; `""` when stationless.
    pub id: String,
    pub extension: String,
    /// 0 none (stationless), 1 workstation, 2 remote workstation, 3 remote number.
    pub station_setting: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_number: Option<String>,
}

impl StationInfo {
    /// The information of a login; `None` (not logged in) shows as setting 0 with no id.
    pub fn of(login: Option<&StationLogin>) -> Self {
        Self {
            id: login.map(StationLogin::id).unwrap_or_default().to_string(),
            extension: login.map(StationLogin::id).unwrap_or_default().to_string(),
            station_setting: login.map_or(0, StationLogin::setting),
            remote_number: login.and_then(StationLogin::remote_number).map(str::to_string),
        }
    }
}

/// `urn:inin.com:connection:stationConnectionStateChangeMessage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StationConnectionStateChangeMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:connection:stationConnectionStateChangeMessage")]
    pub kind: &'static str,
    /// `false` for the state sent after subscribing.
    pub is_delta: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_station_info: Option<StationInfo>,
    pub new_station_info: StationInfo,
}

/// `urn:inin.com:connection:stationConnectionStateChangeMessage`: `previous` is `None` for the
/// state sent after subscribing.
pub fn station_state_message(previous: Option<Option<&StationLogin>>, current: Option<&StationLogin>) -> String {
    to_text(&StationConnectionStateChangeMessage {
        kind: STATION_STATE_MESSAGE,
        is_delta: previous.is_some(),
        previous_station_info: previous.map(StationInfo::of),
        new_station_info: StationInfo::of(current),
    })
}

/// A configuration object's id: a user's (id: the username, uri: `/configuration/users/{id}`)
/// or a station's (id: the workstation or remote number, uri: `/configuration/stations/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationId {
    pub id: String,
    pub display_name: String,
    pub uri: String,
}

/// The station a session's interactions go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveStation {
    pub station_id: ConfigurationId,
}

impl EffectiveStation {
    /// The effective station of a login: none when not logged in or stationless.
    pub fn of(login: Option<&StationLogin>) -> Option<Self> {
        let id = login.and_then(StationLogin::station_name)?;
        let uri = format!("/configuration/stations/{}", utf8_percent_encode(id, NON_ALPHANUMERIC));
        Some(Self { station_id: ConfigurationId { id: id.to_string(), display_name: id.to_string(), uri } })
    }
}

/// `urn:inin.com:connection:effectiveStationChangeMessage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveStationChangeMessage {
    #[serde(rename = "__type")]
    #[schema(example = "urn:inin.com:connection:effectiveStationChangeMessage")]
    pub kind: &'static str,
    pub is_delta: bool,
    /// `null` when the session has no station.
    pub effective_station: Option<EffectiveStation>,
}

/// `urn:inin.com:connection:effectiveStationChangeMessage`.
pub fn effective_station_message(effective: Option<EffectiveStation>) -> String {
    to_text(&EffectiveStationChangeMessage {
        kind: EFFECTIVE_STATION_MESSAGE,
        is_delta: false,
        effective_station: effective,
    })
}

fn to_text(message: &impl Serialize) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_info_has_notes_always_and_a_forward_number_only_when_set() {
        let entries = vec![
            PreviousInfo { status_id: "Available".into(), notes: None, forward_number: None },
            PreviousInfo {
                status_id: "Available, Forward".into(),
                notes: Some("mobile".into()),
                forward_number: Some("555".into()),
            },
        ];
        let message: Value = serde_json::from_str(&previous_info_message(entries, true)).expect("JSON");
        assert_eq!(
            message,
            json!({"__type": PREVIOUS_INFO_MESSAGE, "isDelta": true, "userStatusPreviousInfoList": [
                {"statusId": "Available", "notes": ""},
                {"statusId": "Available, Forward", "notes": "mobile", "forwardNumber": "555"},
            ]})
        );
    }
}
