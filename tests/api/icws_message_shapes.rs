//! Every message type ctid pushes, decoded with the vendor contract's table of required and
//! optional members (SPEC §3 "Message shapes"): a required member missing, a member of another
//! type, a `null` where the contract does not allow one, or a member the table does not know
//! makes a typed client drop the message, and fails here.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// What a member holds.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Str,
    /// A list whose items are all of one kind.
    List(&'static Kind),
    Object(&'static [Member]),
}

/// One member of an object: its name, whether it must be there, whether it may be `null`.
struct Member(&'static str, Kind, Required, Nullable);

#[derive(Clone, Copy, PartialEq)]
enum Required {
    Yes,
    No,
}

#[derive(Clone, Copy, PartialEq)]
enum Nullable {
    Yes,
    No,
}

use Nullable::No as NotNull;
use Required::{No as Optional, Yes as Req};

const STATUS_MESSAGE: &[Member] = &[
    Member("statusId", Kind::Str, Req, NotNull),
    Member("messageText", Kind::Str, Req, NotNull),
    Member("iconUri", Kind::Str, Req, NotNull),
    Member("groupTag", Kind::Str, Req, NotNull),
    Member("canHaveDate", Kind::Bool, Req, NotNull),
    Member("canHaveTime", Kind::Bool, Req, NotNull),
    Member("canHaveForwardNumber", Kind::Bool, Req, NotNull),
    Member("isDoNotDisturbStatus", Kind::Bool, Req, NotNull),
    Member("isSelectableStatus", Kind::Bool, Req, NotNull),
    Member("isPersistentStatus", Kind::Bool, Req, NotNull),
    Member("isForwardStatus", Kind::Bool, Req, NotNull),
    Member("isAfterCallWorkStatus", Kind::Bool, Req, NotNull),
    Member("isAcdStatus", Kind::Bool, Req, NotNull),
    Member("isAllowFollowUpStatus", Kind::Bool, Req, NotNull),
    Member("systemId", Kind::Str, Req, NotNull),
];

const UNTIL: &[Member] = &[
    Member("untilDateTime", Kind::Str, Req, NotNull),
    Member("hasDate", Kind::Bool, Req, NotNull),
    Member("hasTime", Kind::Bool, Req, NotNull),
];

/// A user status: `userId` always, the rest as the subscription's properties ask.
const USER_STATUS: &[Member] = &[
    Member("userId", Kind::Str, Req, NotNull),
    Member("statusId", Kind::Str, Optional, NotNull),
    Member("notes", Kind::Str, Optional, NotNull),
    Member("forwardNumber", Kind::Str, Optional, NotNull),
    Member("until", Kind::Object(UNTIL), Optional, NotNull),
    Member("untilDateTime", Kind::Str, Optional, NotNull),
    Member("hasDate", Kind::Bool, Optional, NotNull),
    Member("hasTime", Kind::Bool, Optional, NotNull),
    Member("onPhone", Kind::Bool, Optional, NotNull),
    Member("onPhoneChanged", Kind::Str, Optional, NotNull),
    Member("statusChanged", Kind::Str, Optional, NotNull),
    Member("stations", Kind::List(&Kind::Str), Optional, NotNull),
    Member("icServers", Kind::List(&Kind::Str), Optional, NotNull),
    Member("presenceServer", Kind::Str, Optional, NotNull),
    Member("loggedIn", Kind::Bool, Optional, NotNull),
];

const ERROR: &[Member] = &[Member("errorId", Kind::Str, Req, NotNull), Member("message", Kind::Str, Req, NotNull)];

const ACCESS_CHANGE: &[Member] = &[
    Member("userId", Kind::Str, Req, NotNull),
    Member("statusMessagesAdded", Kind::List(&Kind::Str), Optional, NotNull),
    Member("statusMessagesRemoved", Kind::List(&Kind::Str), Optional, NotNull),
];

const STATION_INFO: &[Member] = &[
    Member("id", Kind::Str, Req, NotNull),
    Member("extension", Kind::Str, Req, NotNull),
    Member("stationSetting", Kind::Int, Req, NotNull),
    Member("remoteNumber", Kind::Str, Optional, NotNull),
];

const CONFIGURATION_ID: &[Member] = &[
    Member("id", Kind::Str, Req, NotNull),
    Member("displayName", Kind::Str, Optional, NotNull),
    Member("uri", Kind::Str, Optional, NotNull),
];

const EFFECTIVE_STATION: &[Member] = &[Member("stationId", Kind::Object(CONFIGURATION_ID), Req, NotNull)];

/// One entry of a previous info list (`UserStatusPreviousInfos`, `userStatusPreviousInfoMessage`):
/// `notes` is required and never null.
const PREVIOUS_INFO: &[Member] = &[
    Member("statusId", Kind::Str, Req, NotNull),
    Member("notes", Kind::Str, Req, NotNull),
    Member("forwardNumber", Kind::Str, Optional, NotNull),
];

const PREVIOUS_INFO_LIST: Member =
    Member("userStatusPreviousInfoList", Kind::List(&Kind::Object(PREVIOUS_INFO)), Req, NotNull);

/// Each message type with its members besides `__type` and `isDelta` (both required, never null).
const MESSAGES: &[(&str, &[Member])] = &[
    (
        "urn:inin.com:status:userStatusMessage",
        &[Member("userStatusList", Kind::List(&Kind::Object(USER_STATUS)), Req, NotNull)],
    ),
    (
        "urn:inin.com:messaging:asyncOperationCompletedMessage",
        &[Member("requestId", Kind::Str, Req, NotNull), Member("error", Kind::Object(ERROR), Req, Nullable::Yes)],
    ),
    (
        "urn:inin.com:status:statusMessagesMessage",
        &[
            Member("statusMessagesAdded", Kind::List(&Kind::Object(STATUS_MESSAGE)), Optional, NotNull),
            Member("statusMessagesChanged", Kind::List(&Kind::Object(STATUS_MESSAGE)), Optional, NotNull),
            Member("statusMessagesRemoved", Kind::List(&Kind::Str), Optional, NotNull),
        ],
    ),
    (
        "urn:inin.com:status:statusMessagesUserAccessMessage",
        &[Member("statusMessagesUserAccessChanges", Kind::List(&Kind::Object(ACCESS_CHANGE)), Req, NotNull)],
    ),
    (
        "urn:inin.com:connection:connectionStateChangeMessage",
        &[
            Member("previousConnectionState", Kind::Int, Req, NotNull),
            Member("newConnectionState", Kind::Int, Req, NotNull),
            Member("reason", Kind::Str, Req, NotNull),
            Member("shouldReconnect", Kind::Bool, Req, NotNull),
            Member("message", Kind::Str, Optional, NotNull),
        ],
    ),
    (
        "urn:inin.com:connection:stationConnectionStateChangeMessage",
        &[
            Member("previousStationInfo", Kind::Object(STATION_INFO), Optional, NotNull),
            Member("newStationInfo", Kind::Object(STATION_INFO), Req, NotNull),
        ],
    ),
    (
        "urn:inin.com:connection:effectiveStationChangeMessage",
        &[Member("effectiveStation", Kind::Object(EFFECTIVE_STATION), Req, Nullable::Yes)],
    ),
    ("urn:inin.com:status:userStatusPreviousInfoMessage", &[PREVIOUS_INFO_LIST]),
];

/// Decodes `value` as `kind`; the path names where it failed.
fn decode(value: &Value, kind: Kind, path: &str) -> Result<(), String> {
    match (kind, value) {
        (Kind::Bool, Value::Bool(_)) | (Kind::Str, Value::String(_)) => Ok(()),
        (Kind::Int, Value::Number(n)) if n.is_i64() => Ok(()),
        (Kind::List(item), Value::Array(items)) => {
            items.iter().enumerate().try_for_each(|(i, v)| decode(v, *item, &format!("{path}[{i}]")))
        }
        (Kind::Object(members), Value::Object(object)) => {
            for Member(name, kind, required, nullable) in members {
                match object.get(*name) {
                    None if *required == Req => return Err(format!("{path}.{name}: required, missing")),
                    None => {}
                    Some(Value::Null) if *nullable == Nullable::Yes => {}
                    Some(Value::Null) => return Err(format!("{path}.{name}: null where the contract allows none")),
                    Some(v) => decode(v, *kind, &format!("{path}.{name}"))?,
                }
            }
            match object.keys().find(|k| !members.iter().any(|m| m.0 == k.as_str())) {
                Some(unknown) => Err(format!("{path}.{unknown}: not in the contract")),
                None => Ok(()),
            }
        }
        _ => Err(format!("{path}: {value} is not a {}", name_of(kind))),
    }
}

fn name_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "boolean",
        Kind::Int => "integer",
        Kind::Str => "string",
        Kind::List(_) => "list",
        Kind::Object(_) => "object",
    }
}

/// Decodes the answer of `GET …/status/user-status-previous-info/{userId}`
/// (`UserStatusPreviousInfos`).
pub(crate) fn decode_previous_infos(body: &Value) -> Result<(), String> {
    decode(body, Kind::Object(&[PREVIOUS_INFO_LIST]), "UserStatusPreviousInfos")
}

/// Decodes a pushed message by its `__type`; returns the type.
pub(crate) fn decode_message(message: &Value) -> Result<String, String> {
    let kind = message["__type"].as_str().ok_or("no __type")?;
    let (_, members) = MESSAGES.iter().find(|(t, _)| *t == kind).ok_or(format!("unknown __type {kind}"))?;
    let Value::Object(object) = message else {
        return Err("not an object".into());
    };
    if !object.get("isDelta").is_some_and(Value::is_boolean) {
        return Err("isDelta: required boolean".into());
    }
    let mut rest = object.clone();
    rest.remove("__type");
    rest.remove("isDelta");
    decode(&Value::Object(rest), Kind::Object(members), kind)?;
    Ok(kind.to_string())
}

/// The stream's messages up to and including the first that matches.
async fn events_until(stream: &mut SseStream, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let Some(event) = stream.next(WAIT).await else {
            panic!("no matching message within {WAIT:?}; received: {seen:#?}");
        };
        let done = matches(&event.data);
        seen.push(event.data);
        if done {
            return seen;
        }
    }
}

#[test]
fn the_decoder_refuses_what_a_typed_client_would_drop() {
    let good = json!({"__type": "urn:inin.com:connection:effectiveStationChangeMessage", "isDelta": false,
                      "effectiveStation": {"stationId": {"id": "7001"}}});
    assert!(decode_message(&good).is_ok());
    for bad in [
        json!({"__type": "urn:inin.com:connection:effectiveStationChangeMessage", "isDelta": false}),
        json!({"__type": "urn:inin.com:connection:effectiveStationChangeMessage", "isDelta": false,
               "effectiveStation": {"stationId": "7001"}}),
        json!({"__type": "urn:inin.com:status:statusMessagesMessage", "isDelta": false, "statusMessageList": []}),
        json!({"__type": "urn:inin.com:status:statusMessagesMessage", "isDelta": false, "statusMessagesAdded": null}),
        json!({"__type": "urn:inin.com:connection:connectionStateChangeMessage", "isDelta": false,
               "newConnectionState": 2, "reason": "idle", "shouldReconnect": true}),
        json!({"__type": "urn:inin.com:status:userStatusMessage", "userStatusList": []}),
        json!({"__type": "urn:inin.com:status:userStatusPreviousInfoMessage", "isDelta": false,
               "userStatusPreviousInfoList": [{"statusId": "Available", "notes": null}]}),
        json!({"__type": "urn:inin.com:status:userStatusPreviousInfoMessage", "isDelta": true,
               "userStatusPreviousInfoList": [{"statusId": "Available, Forward", "forwardNumber": "12"}]}),
    ] {
        assert!(decode_message(&bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn every_pushed_message_decodes_with_the_contract() {
    let app = TestApp::spawn_with(&["--server-name", "pbx1"], &[]).await;
    let boss_id = app.presence_user("boss", "secret", 1).await;
    app.presence_user("agent", "secret", 2).await;
    let boss = app.icws_login("boss", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    // An event stream: the last message of a session the server ends is for streams only.
    let mut stream = app.sse(&boss, None).await;
    let mut seen = Vec::new();

    for (path, body) in [
        ("/messaging/subscriptions/status/user-statuses", json!({"userIds": ["boss", "agent"]})),
        ("/messaging/subscriptions/status/status-messages", json!({})),
        ("/messaging/subscriptions/status/status-messages-user-access", json!({"userIds": ["boss", "agent"]})),
        ("/messaging/subscriptions/connection/station", json!({})),
        ("/messaging/subscriptions/status/user-status-previous-info", json!({})),
    ] {
        let reply = app.icws(Method::PUT, &boss, path, Some(&body.to_string())).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.body);
    }
    let until = json!({"statusId": "On Vacation", "notes": "Away", "until": {"untilDateTime": "20301231T170000Z"}});
    app.set_status(&boss, "agent", until).await;
    let forward = json!({"statusId": "Available, Forward", "forwardNumber": "+33 1 23", "notes": ""});
    app.set_status(&boss, "boss", forward).await;
    let refused = app.icws(Method::PUT, &boss, "/status/user-statuses/agent", Some(r#"{"statusId":"Nope"}"#)).await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.body);
    for station in [
        json!({"__type": "urn:inin.com:connection:remoteWorkstationSettings", "workstation": "7001", "remoteNumber": "55"}),
        json!({"__type": "urn:inin.com:connection:stationlessSettings"}),
    ] {
        let reply = app.icws(Method::PUT, &boss, "/connection/station", Some(&station.to_string())).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    }
    let coffee = r#"{"status_id": "Coffee", "message_text": "Coffee", "group_tag": "BREAK"}"#;
    assert_eq!(app.post("/1.1/status_messages", coffee).await.status.as_u16(), 201);
    assert_eq!(app.put("/1.1/status_messages/Coffee", r#"{"message_text": "Tea"}"#).await.status.as_u16(), 204);
    assert_eq!(app.delete("/1.1/status_messages/Coffee").await.status.as_u16(), 204);
    // A subscription with chosen members.
    let some = json!({"userIds": ["agent"], "userStatusProperties": ["statusId", "until", "loggedIn"]});
    let reply =
        app.icws(Method::PUT, &boss, "/messaging/subscriptions/status/user-statuses", Some(&some.to_string())).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let sentinel = app.set_status(&agent, "agent", json!({"statusId": "Available"})).await;
    seen.extend(events_until(&mut stream, |m| m["userStatusList"][0]["statusId"] == "Available").await);
    // The end of a session: its profile is taken away.
    let reply = app.delete(&format!("/1.1/users/{boss_id}/cti_profile")).await;
    assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    seen.extend(
        events_until(&mut stream, |m| m["__type"] == "urn:inin.com:connection:connectionStateChangeMessage").await,
    );
    let agent_messages = app.poll(&agent).await;
    assert!(agent_messages.iter().any(|m| m["requestId"] == sentinel), "{agent_messages:#?}");
    seen.extend(agent_messages);

    let mut types = BTreeSet::new();
    let mut deltas = BTreeSet::new();
    for message in &seen {
        match decode_message(message) {
            Ok(kind) => {
                deltas.insert((kind.clone(), message["isDelta"] == true));
                types.insert(kind);
            }
            Err(why) => panic!("{why}: {message}"),
        }
    }
    let all: BTreeSet<String> = MESSAGES.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(types, all, "every message type was pushed and decoded");
    for kind in [
        "urn:inin.com:status:userStatusMessage",
        "urn:inin.com:status:statusMessagesMessage",
        "urn:inin.com:status:statusMessagesUserAccessMessage",
        "urn:inin.com:connection:stationConnectionStateChangeMessage",
        "urn:inin.com:status:userStatusPreviousInfoMessage",
    ] {
        for delta in [false, true] {
            assert!(deltas.contains(&(kind.to_string(), delta)), "{kind} with isDelta {delta}: {seen:#?}");
        }
    }
}
