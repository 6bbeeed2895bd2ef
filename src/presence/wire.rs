//! The ICWS representations of presence data and the messages pushed to sessions.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::dates;
use crate::app::presence::StatusView;
use crate::domain::status::StatusMessage;

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
        logged_in: !view.stations.is_empty(),
        stations: view.stations,
        ic_servers: if view.has_session { vec![server_name.to_string()] } else { Vec::new() },
        presence_server: server_name.to_string(),
    }
}

pub const USER_STATUS_MESSAGE: &str = "urn:inin.com:status:userStatusMessage";
pub const ASYNC_COMPLETED_MESSAGE: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
pub const STATUS_MESSAGES_MESSAGE: &str = "urn:inin.com:status:statusMessagesMessage";
pub const USER_ACCESS_MESSAGE: &str = "urn:inin.com:status:statusMessagesUserAccessMessage";
pub const CONNECTION_STATE_MESSAGE: &str = "urn:inin.com:connection:connectionStateChangeMessage";

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

/// `urn:inin.com:status:statusMessagesMessage`: the whole catalog.
pub fn status_messages_message(catalog: Vec<StatusMessage>) -> String {
    let list: Vec<StatusMessageBody> = catalog.into_iter().map(Into::into).collect();
    json!({"__type": STATUS_MESSAGES_MESSAGE, "isDelta": false, "statusMessageList": list}).to_string()
}

/// `urn:inin.com:status:statusMessagesUserAccessMessage` for one user.
pub fn user_access_message(user_id: &str, status_ids: &[String]) -> String {
    json!({
        "__type": USER_ACCESS_MESSAGE,
        "isDelta": false,
        "userId": user_id,
        "statusMessages": status_ids,
    })
    .to_string()
}

/// `urn:inin.com:connection:connectionStateChangeMessage`: the server ends the session.
pub fn connection_down(reason: &str) -> String {
    json!({
        "__type": CONNECTION_STATE_MESSAGE,
        "isDelta": false,
        "newConnectionState": 2,
        "reason": reason,
        "message": format!("The session has ended: {reason}."),
    })
    .to_string()
}
