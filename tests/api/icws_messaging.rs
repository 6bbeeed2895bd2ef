//! `/icws/{sessionId}/messaging/...`: subscriptions and the messages they bring, the short poll
//! and server-sent events, bounded queues, and the end of sessions (SPEC §3 "Messaging").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::*;

const SERVER: &str = "pbx1";

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";
const COMPLETED: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
const CATALOG: &str = "urn:inin.com:status:statusMessagesMessage";
const ACCESS: &str = "urn:inin.com:status:statusMessagesUserAccessMessage";
const CONNECTION_STATE: &str = "urn:inin.com:connection:connectionStateChangeMessage";

const STATUSES_PATH: &str = "/messaging/subscriptions/status/user-statuses";
const CATALOG_PATH: &str = "/messaging/subscriptions/status/status-messages";
const ACCESS_PATH: &str = "/messaging/subscriptions/status/status-messages-user-access";

const MISSING: &str = "error.request.invalidRepresentation.missingRequired";
const INVALID: &str = "error.request.invalidRepresentation.invalidProperty";
const ACCESS_DENIED: &str = "error.request.accessDenied";
const NOT_FOUND: &str = "error.request.notFound";

const CHALLENGE: &str = r#"ICWS realm="ICWS" location="/ICWS/connection""#;

/// Statuses any seeded profile may select, cycled through by tests that change a lot.
const CYCLE: [&str; 4] = ["Available", "At Lunch", "Away from desk", "In a meeting"];

const COFFEE: &str = r#"{"status_id": "Coffee Break", "message_text": "Having a coffee", "group_tag": "BREAK"}"#;

async fn spawn() -> TestApp {
    TestApp::spawn_with(&["--server-name", SERVER], &[]).await
}

/// A presence user with this CTI profile, logged in.
async fn logged_in(app: &TestApp, username: &str, profile: i64) -> IcwsLogin {
    app.presence_user(username, "secret", profile).await;
    app.icws_login(username, "secret").await
}

/// A CTI profile whose users may only view their own status; its id.
async fn view_self_profile(app: &TestApp) -> i64 {
    let reply = app.post("/1.1/cti_profiles", r#"{"name": "Solo", "view_statuses": "self"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

/// Associates user `id` with another CTI profile; asserts 200.
async fn change_profile(app: &TestApp, id: i64, profile: i64) {
    let reply = app.put(&format!("/1.1/users/{id}/cti_profile"), &format!(r#"{{"cti_profile_id": {profile}}}"#)).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
}

/// `GET …/status/status-messages`: the catalog as the session sees it.
async fn catalog_of(app: &TestApp, login: &IcwsLogin) -> Value {
    let reply = app.icws(Method::GET, login, "/status/status-messages", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    reply.json()["statusMessageList"].clone()
}

/// A subscription request with this body, raw.
async fn subscribe_raw(app: &TestApp, login: &IcwsLogin, path: &str, body: &Value) -> Reply {
    app.icws(Method::PUT, login, path, Some(&body.to_string())).await
}

/// A subscription request that must answer 200 with no body.
async fn subscribe_to(app: &TestApp, login: &IcwsLogin, path: &str, body: &Value) {
    let reply = subscribe_raw(app, login, path, body).await;
    assert_eq!(reply.status.as_u16(), 200, "PUT {path}: {}", reply.body);
    assert_eq!(reply.body, "", "PUT {path}");
}

/// `DELETE` of a subscription: 204, no body.
async fn unsubscribe(app: &TestApp, login: &IcwsLogin, path: &str) {
    let reply = app.icws(Method::DELETE, login, path, None).await;
    assert_eq!(reply.status.as_u16(), 204, "DELETE {path}: {}", reply.body);
    assert_eq!(reply.body, "", "DELETE {path}");
}

#[track_caller]
fn assert_property_error(reply: &Reply, error_id: &str, property: &str) {
    reply.assert_icws_error(400, error_id);
    let body = reply.json();
    let kind = if error_id == MISSING {
        "urn:inin.com:common:missingPropertyError"
    } else {
        "urn:inin.com:common:invalidPropertyError"
    };
    assert_eq!(body["__type"], kind, "{body}");
    assert_eq!(body["propertyName"], property, "{body}");
}

#[track_caller]
fn assert_unauthorized(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 401, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let challenges: Vec<_> = reply.headers.get_all("www-authenticate").iter().collect();
    assert_eq!(challenges, [CHALLENGE], "WWW-Authenticate");
}

/// The names of an object's members, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

/// Every message carries `__type` and `isDelta`.
#[track_caller]
fn assert_envelope(message: &Value) {
    assert!(message["__type"].as_str().is_some_and(|t| t.starts_with("urn:inin.com:")), "{message}");
    assert!(message["isDelta"].is_boolean(), "{message}");
}

fn is_type(message: &Value, kind: &str) -> bool {
    message["__type"] == kind
}

fn is_full_status(message: &Value) -> bool {
    is_type(message, USER_STATUS) && message["isDelta"] == false
}

/// The entry of `user` in a `userStatusMessage`, if it lists them.
fn entry_of<'a>(message: &'a Value, user: &str) -> Option<&'a Value> {
    if !is_type(message, USER_STATUS) {
        return None;
    }
    message["userStatusList"].as_array()?.iter().find(|s| s["userId"] == user)
}

/// Does this message list `user` with these notes?
fn has_notes(message: &Value, user: &str, notes: &str) -> bool {
    entry_of(message, user).is_some_and(|e| e["notes"] == notes)
}

/// `asyncOperationCompletedMessage` of a successful request.
fn completion(request_id: &str) -> Value {
    json!({"__type": COMPLETED, "isDelta": false, "requestId": request_id, "error": null})
}

/// A delta listing exactly `user`; its entry.
#[track_caller]
fn assert_delta_of<'a>(message: &'a Value, user: &str) -> &'a Value {
    assert_eq!(message["__type"], USER_STATUS, "{message}");
    assert_eq!(message["isDelta"], true, "{message}");
    assert_eq!(keys(message), ["__type", "isDelta", "userStatusList"], "{message}");
    let list = message["userStatusList"].as_array().expect("userStatusList");
    assert_eq!(list.len(), 1, "a delta lists only the changed user: {message}");
    assert_eq!(list[0]["userId"], user, "{message}");
    &list[0]
}

/// A full `userStatusMessage`; its entries by `userId`.
#[track_caller]
fn assert_full(message: &Value) -> BTreeMap<String, Value> {
    assert_eq!(message["__type"], USER_STATUS, "{message}");
    assert_eq!(message["isDelta"], false, "{message}");
    assert_eq!(keys(message), ["__type", "isDelta", "userStatusList"], "{message}");
    let list = message["userStatusList"].as_array().expect("userStatusList");
    let entries: BTreeMap<String, Value> =
        list.iter().map(|e| (e["userId"].as_str().expect("userId").to_string(), e.clone())).collect();
    assert_eq!(entries.len(), list.len(), "each user once: {message}");
    entries
}

/// The statuses a client holds after applying these messages in order; a delta before any
/// full message is a gap.
#[track_caller]
fn replay(messages: &[Value]) -> BTreeMap<String, Value> {
    let mut state: Option<BTreeMap<String, Value>> = None;
    for message in messages.iter().filter(|m| is_type(m, USER_STATUS)) {
        if message["isDelta"] == false {
            state = Some(assert_full(message));
        } else {
            let known = state.as_mut().unwrap_or_else(|| panic!("a delta before any full message: {messages:#?}"));
            for entry in message["userStatusList"].as_array().expect("userStatusList") {
                known.insert(entry["userId"].as_str().expect("userId").to_string(), entry.clone());
            }
        }
    }
    state.unwrap_or_else(|| panic!("no userStatusMessage: {messages:#?}"))
}

impl Inbox<'_> {
    /// The entries of `user` in the next `count` deltas that list them.
    async fn deltas_of(&mut self, user: &str, count: usize) -> Vec<Value> {
        let mut entries = Vec::new();
        while entries.len() < count {
            let message = self.next().await;
            if is_type(&message, USER_STATUS) {
                assert_eq!(message["isDelta"], true, "{message}");
                entries.extend(entry_of(&message, user).cloned());
            }
        }
        entries
    }
}

/// Every event up to and including the first whose message matches, within `within`.
async fn events_within(
    stream: &mut SseStream,
    within: Duration,
    what: &str,
    matches: impl Fn(&Value) -> bool,
) -> Vec<SseEvent> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = stream.next(left).await else {
            panic!("{what}: not received within {within:?} (or the stream ended); received: {seen:#?}");
        };
        assert_envelope(&event.data);
        let done = matches(&event.data);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

async fn events_until(stream: &mut SseStream, what: &str, matches: impl Fn(&Value) -> bool) -> Vec<SseEvent> {
    events_within(stream, WAIT, what, matches).await
}

async fn next_event(stream: &mut SseStream) -> SseEvent {
    events_until(stream, "an event", |_| true).await.pop().expect("an event")
}

/// The entries of `user` in the next `count` deltas of the stream that list them.
async fn stream_deltas_of(stream: &mut SseStream, user: &str, count: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    while entries.len() < count {
        let event = next_event(stream).await;
        if is_type(&event.data, USER_STATUS) {
            assert_eq!(event.data["isDelta"], true, "{}", event.data);
            entries.extend(entry_of(&event.data, user).cloned());
        }
    }
    entries
}

/// The event id as the integer it must be.
#[track_caller]
fn event_id(event: &SseEvent) -> u64 {
    let id = event.id.as_deref().unwrap_or_else(|| panic!("an event without id: {event:?}"));
    id.parse().unwrap_or_else(|_| panic!("an event id that is not an integer: {event:?}"))
}

#[track_caller]
fn assert_increasing(events: &[SseEvent]) {
    let ids: Vec<u64> = events.iter().map(event_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "event ids must increase: {ids:?}");
}

/// The stream sends nothing more and ends.
async fn assert_stream_ends(stream: &mut SseStream) {
    if let Some(event) = stream.next(WAIT).await {
        panic!("an event after the session's last message: {event:?}");
    }
    let end = tokio::time::timeout(WAIT, stream.response.chunk()).await;
    assert!(matches!(end, Ok(Ok(None))), "the event stream did not end: {end:?}");
}

/// A `connectionStateChangeMessage` from up to down; `reconnect`: may the client log in again.
#[track_caller]
fn assert_connection_down(message: &Value, reconnect: bool) {
    assert_eq!(message["__type"], CONNECTION_STATE, "{message}");
    assert_eq!(message["isDelta"], false, "{message}");
    assert_eq!(message["previousConnectionState"], 1, "up: {message}");
    assert_eq!(message["newConnectionState"], 2, "down: {message}");
    assert!(message["reason"].as_str().is_some_and(|m| !m.is_empty()), "{message}");
    assert_eq!(message["shouldReconnect"], reconnect, "{message}");
    assert!(message["message"].as_str().is_some_and(|m| !m.is_empty()), "{message}");
}

// ---- userStatusMessage: full, then deltas ----

#[tokio::test]
async fn subscribing_sends_one_full_message_with_every_subscribed_user() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    app.presence_user("bob", "secret", 2).await;
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "back at two"})).await;

    app.subscribe(&watcher, &["alice", "bob", "watcher"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    let first = inbox.next().await;
    let entries = assert_full(&first);
    assert_eq!(entries.keys().map(String::as_str).collect::<Vec<_>>(), ["alice", "bob", "watcher"], "{first}");
    for (user, entry) in &entries {
        assert_eq!(entry, &app.user_status(&watcher, user).await, "{user} as GET shows it");
    }
    assert_eq!(entries["alice"]["notes"], "back at two");
    assert_eq!(entries["alice"]["icServers"], json!([SERVER]));
    assert_eq!(entries["bob"]["icServers"], json!([]));
    // Drained: the full message is not sent twice.
    assert_eq!(app.poll(&watcher).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_change_is_a_delta_with_only_the_changed_user() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    app.presence_user("bob", "secret", 2).await;
    let boss = logged_in(&app, "boss", 1).await;
    app.subscribe(&watcher, &["alice", "bob"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_full(&inbox.next().await);

    app.set_status(&alice, "alice", json!({"statusId": "Do Not disturb", "notes": "busy"})).await;
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "alice");
    assert_eq!(entry["statusId"], "Do Not disturb");
    assert_eq!(entry["notes"], "busy");
    assert_eq!(entry, &app.user_status(&watcher, "alice").await, "the full representation");

    // Someone else changes bob, who has no session.
    app.set_status(&boss, "bob", json!({"statusId": "Gone Home"})).await;
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "bob");
    assert_eq!(entry["statusId"], "Gone Home");
    assert_eq!(entry, &app.user_status(&watcher, "bob").await);
}

#[tokio::test]
async fn the_caller_gets_the_status_message_then_its_completion_and_no_one_else_does() {
    let app = spawn().await;
    let boss = logged_in(&app, "boss", 1).await;
    let agent = logged_in(&app, "agent", 2).await;
    app.subscribe(&boss, &["agent"]).await;
    let mut boss_inbox = Inbox::new(&app, &boss);
    assert_full(&boss_inbox.next().await);

    let request = app.set_status(&boss, "agent", json!({"statusId": "At Lunch", "notes": "sent to lunch"})).await;
    let messages = boss_inbox.until("the completion", |m| is_type(m, COMPLETED)).await;
    assert_eq!(messages.len(), 2, "the status message, then the completion: {messages:#?}");
    assert_eq!(assert_delta_of(&messages[0], "agent")["notes"], "sent to lunch");
    assert_eq!(messages[1], completion(&request));

    // The agent, whose status changed, did not ask: no completion for it; its own request,
    // not subscribed to anything, brings only its own completion.
    let own = app.set_status(&agent, "agent", json!({"statusId": "Available", "notes": "back"})).await;
    assert_ne!(own, request, "request ids are distinct");
    let mut agent_inbox = Inbox::new(&app, &agent);
    let messages = agent_inbox.until("the agent's completion", |m| is_type(m, COMPLETED)).await;
    assert_eq!(messages, [completion(&own)]);

    // The boss sees the agent's change, but not the agent's completion.
    let sentinel = app.set_status(&boss, "boss", json!({"statusId": "Available", "notes": "sentinel"})).await;
    let messages = boss_inbox.until("the boss's completion", |m| m["requestId"] == sentinel).await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(assert_delta_of(&messages[0], "agent")["notes"], "back");
    assert_eq!(messages[1], completion(&sentinel));
}

#[tokio::test]
async fn resubscribing_replaces_the_set_and_starts_with_a_full_message() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    let bob = logged_in(&app, "bob", 2).await;
    app.subscribe(&watcher, &["alice", "bob"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_eq!(assert_full(&inbox.next().await).len(), 2);

    app.subscribe(&watcher, &["bob"]).await;
    // A change right after the subscription comes after its full message.
    app.set_status(&bob, "bob", json!({"statusId": "At Lunch", "notes": "first"})).await;
    let full = inbox.next().await;
    let entries = assert_full(&full);
    assert_eq!(entries.keys().collect::<Vec<_>>(), ["bob"], "only the new set: {full}");
    let delta = inbox.next().await;
    assert_eq!(assert_delta_of(&delta, "bob")["notes"], "first");

    // alice is no longer subscribed: her change brings nothing, bob's does.
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "unseen"})).await;
    app.set_status(&bob, "bob", json!({"statusId": "Available", "notes": "second"})).await;
    let messages = inbox.until("bob's second change", |m| has_notes(m, "bob", "second")).await;
    assert_eq!(messages.len(), 1, "nothing about alice: {messages:#?}");
    assert_delta_of(&messages[0], "bob");
}

#[tokio::test]
async fn user_status_properties_restrict_the_members_but_keep_the_user_id() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "soup"})).await;
    let mut inbox = Inbox::new(&app, &watcher);

    subscribe_to(
        &app,
        &watcher,
        STATUSES_PATH,
        &json!({"userIds": ["alice"], "userStatusProperties": ["statusId", "notes"]}),
    )
    .await;
    let full = assert_full(&inbox.next().await);
    assert_eq!(full["alice"], json!({"userId": "alice", "statusId": "At Lunch", "notes": "soup"}));

    app.set_status(&alice, "alice", json!({"statusId": "Available", "notes": "done"})).await;
    let delta = inbox.next().await;
    assert_eq!(assert_delta_of(&delta, "alice"), &json!({"userId": "alice", "statusId": "Available", "notes": "done"}));

    subscribe_to(&app, &watcher, STATUSES_PATH, &json!({"userIds": ["alice"], "userStatusProperties": ["stations"]}))
        .await;
    let full = assert_full(&inbox.next().await);
    assert_eq!(full["alice"], json!({"userId": "alice", "stations": []}));

    // Without the member, every member again.
    app.subscribe(&watcher, &["alice"]).await;
    let full = assert_full(&inbox.next().await);
    assert_eq!(full["alice"], app.user_status(&watcher, "alice").await);
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch"})).await;
    let delta = inbox.next().await;
    assert_eq!(assert_delta_of(&delta, "alice"), &app.user_status(&watcher, "alice").await);
}

#[tokio::test]
async fn refused_subscriptions_answer_errors_and_send_nothing() {
    let app = spawn().await;
    let solo_profile = view_self_profile(&app).await;
    let watcher = logged_in(&app, "watcher", 2).await;
    app.presence_user("alice", "secret", 2).await;
    let solo = logged_in(&app, "solo", solo_profile).await;

    let missing = subscribe_raw(&app, &watcher, STATUSES_PATH, &json!({})).await;
    assert_property_error(&missing, MISSING, "userIds");
    let not_a_list = subscribe_raw(&app, &watcher, STATUSES_PATH, &json!({"userIds": "alice"})).await;
    assert_property_error(&not_a_list, INVALID, "userIds");
    let unknown = subscribe_raw(&app, &watcher, STATUSES_PATH, &json!({"userIds": ["alice", "nobody"]})).await;
    unknown.assert_icws_error(404, NOT_FOUND);
    let property = json!({"userIds": ["alice"], "userStatusProperties": ["statusId", "mood"]});
    let bad_property = subscribe_raw(&app, &watcher, STATUSES_PATH, &property).await;
    assert_property_error(&bad_property, INVALID, "userStatusProperties");
    let denied = subscribe_raw(&app, &solo, STATUSES_PATH, &json!({"userIds": ["alice"]})).await;
    denied.assert_icws_error(403, ACCESS_DENIED);

    let access_missing = subscribe_raw(&app, &watcher, ACCESS_PATH, &json!({})).await;
    assert_property_error(&access_missing, MISSING, "userIds");
    subscribe_raw(&app, &watcher, ACCESS_PATH, &json!({"userIds": ["nobody"]})).await.assert_icws_error(404, NOT_FOUND);
    subscribe_raw(&app, &solo, ACCESS_PATH, &json!({"userIds": ["alice"]})).await.assert_icws_error(403, ACCESS_DENIED);

    assert_eq!(app.poll(&watcher).await, Vec::<Value>::new(), "a refused subscription sends nothing");
    assert_eq!(app.poll(&solo).await, Vec::<Value>::new(), "a refused subscription sends nothing");
}

// ---- permissions ----

#[tokio::test]
async fn an_agent_may_subscribe_to_others_and_a_view_self_session_only_to_itself() {
    let app = spawn().await;
    let solo_profile = view_self_profile(&app).await;
    let agent = logged_in(&app, "agent", 2).await;
    let solo = logged_in(&app, "solo", solo_profile).await;

    app.subscribe(&agent, &["solo", "agent"]).await;
    let full = assert_full(&Inbox::new(&app, &agent).next().await);
    assert_eq!(full.keys().collect::<Vec<_>>(), ["agent", "solo"]);

    subscribe_raw(&app, &solo, STATUSES_PATH, &json!({"userIds": ["solo", "agent"]}))
        .await
        .assert_icws_error(403, ACCESS_DENIED);
    app.subscribe(&solo, &["solo"]).await;
    let mut inbox = Inbox::new(&app, &solo);
    let full = assert_full(&inbox.next().await);
    assert_eq!(full.keys().collect::<Vec<_>>(), ["solo"]);
    app.set_status(&solo, "solo", json!({"statusId": "At Lunch", "notes": "own"})).await;
    let messages = inbox.until("the completion", |m| is_type(m, COMPLETED)).await;
    assert_eq!(assert_delta_of(&messages[0], "solo")["notes"], "own");
}

#[tokio::test]
async fn a_session_whose_profile_loses_view_all_gets_no_more_deltas_of_others() {
    let app = spawn().await;
    let solo_profile = view_self_profile(&app).await;
    let viewer_id = app.presence_user("viewer", "secret", 2).await;
    let viewer = app.icws_login("viewer", "secret").await;
    let target = logged_in(&app, "target", 2).await;
    app.subscribe(&viewer, &["viewer", "target"]).await;
    let mut inbox = Inbox::new(&app, &viewer);
    assert_eq!(assert_full(&inbox.next().await).len(), 2);

    change_profile(&app, viewer_id, solo_profile).await;
    app.icws(Method::GET, &viewer, "/status/user-statuses/target", None).await.assert_icws_error(403, ACCESS_DENIED);
    app.set_status(&target, "target", json!({"statusId": "At Lunch", "notes": "private"})).await;
    let sentinel = app.set_status(&viewer, "viewer", json!({"statusId": "At Lunch", "notes": "sentinel"})).await;
    let messages = inbox.until("the viewer's completion", |m| m["requestId"] == sentinel).await;
    assert!(!messages.iter().any(|m| entry_of(m, "target").is_some()), "target's status leaked: {messages:#?}");
    assert!(messages.iter().any(|m| has_notes(m, "viewer", "sentinel")), "own change: {messages:#?}");
}

#[tokio::test]
async fn a_session_whose_profile_loses_view_all_gets_no_snapshot_of_others() {
    let app = spawn().await;
    let solo_profile = view_self_profile(&app).await;
    let viewer_id = app.presence_user("viewer", "secret", 2).await;
    let viewer = app.icws_login("viewer", "secret").await;
    let target = logged_in(&app, "target", 2).await;
    app.subscribe(&viewer, &["viewer", "target"]).await;
    assert_eq!(assert_full(&Inbox::new(&app, &viewer).next().await).len(), 2);

    change_profile(&app, viewer_id, solo_profile).await;
    app.set_status(&target, "target", json!({"statusId": "At Lunch", "notes": "private"})).await;
    // A resumption the server cannot serve from what it kept brings a fresh full message: it
    // must not list users the session may no longer view.
    let mut stream = app.sse(&viewer, Some("999999999")).await;
    let sentinel = app.set_status(&viewer, "viewer", json!({"statusId": "At Lunch", "notes": "sentinel"})).await;
    let events = events_until(&mut stream, "the viewer's completion", |m| m["requestId"] == sentinel).await;
    assert!(!events.iter().any(|e| entry_of(&e.data, "target").is_some()), "target's status leaked: {events:#?}");
    assert!(events.iter().any(|e| has_notes(&e.data, "viewer", "sentinel")), "own change: {events:#?}");
}

// ---- unsubscribing ----

#[tokio::test]
async fn unsubscribing_stops_the_deltas() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    app.subscribe(&watcher, &["alice", "watcher"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_full(&inbox.next().await);

    unsubscribe(&app, &watcher, STATUSES_PATH).await;
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "unseen"})).await;
    let sentinel = app.set_status(&watcher, "watcher", json!({"statusId": "At Lunch", "notes": "unseen too"})).await;
    let messages = inbox.until("the watcher's completion", |m| m["requestId"] == sentinel).await;
    assert_eq!(messages, [completion(&sentinel)], "no status message after unsubscribing");
    // Unsubscribing twice is harmless.
    unsubscribe(&app, &watcher, STATUSES_PATH).await;
}

// ---- what else changes a user status ----

#[tokio::test]
async fn sessions_and_station_logins_of_a_user_are_deltas() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    app.presence_user("agent", "secret", 2).await;
    app.subscribe(&watcher, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    let full = assert_full(&inbox.next().await);
    assert_eq!(full["agent"]["icServers"], json!([]));
    assert_eq!(full["agent"]["loggedIn"], false);

    let agent = app.icws_login("agent", "secret").await;
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "agent");
    assert_eq!(entry["icServers"], json!([SERVER]), "{entry}");
    assert_eq!(entry, &app.user_status(&watcher, "agent").await);

    let body = r#"{"__type":"urn:inin.com:connection:workstationSettings","workstation":"7001"}"#;
    let reply = app.icws(Method::PUT, &agent, "/connection/station", Some(body)).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "agent");
    assert_eq!(entry["stations"], json!(["7001"]), "{entry}");
    assert_eq!(entry["loggedIn"], true, "{entry}");
    assert_eq!(entry, &app.user_status(&watcher, "agent").await);

    let reply = app.icws(Method::DELETE, &agent, "/connection/station", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "agent");
    assert_eq!(entry["stations"], json!([]), "{entry}");
    assert_eq!(entry["loggedIn"], false, "{entry}");

    let reply = app.icws(Method::DELETE, &agent, "/connection", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let delta = inbox.next().await;
    let entry = assert_delta_of(&delta, "agent");
    assert_eq!(entry["icServers"], json!([]), "{entry}");
    assert_eq!(entry, &app.user_status(&watcher, "agent").await);
}

// ---- the status catalog and what users may select ----

#[tokio::test]
async fn the_catalog_subscription_sends_the_whole_catalog_then_what_changed() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let reply = app.icws(Method::PUT, &watcher, CATALOG_PATH, None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.body, "");
    let mut inbox = Inbox::new(&app, &watcher);

    let first = inbox.next().await;
    assert_eq!(keys(&first), ["__type", "isDelta", "statusMessagesAdded"], "{first}");
    assert_eq!(first["__type"], CATALOG);
    assert_eq!(first["isDelta"], false);
    assert_eq!(first["statusMessagesAdded"].as_array().expect("statusMessagesAdded").len(), 14, "{first}");
    assert_eq!(first["statusMessagesAdded"], catalog_of(&app, &watcher).await);

    // Added: only the new status.
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    let message = inbox.next().await;
    assert_eq!(keys(&message), ["__type", "isDelta", "statusMessagesAdded"], "{message}");
    assert_eq!(message["isDelta"], true, "{message}");
    let catalog = catalog_of(&app, &watcher).await;
    assert_eq!(catalog[14]["statusId"], "Coffee Break");
    assert_eq!(message["statusMessagesAdded"], json!([catalog[14]]), "as GET shows it");

    // Changed: only the edited status, whole.
    let edited = app.put("/1.1/status_messages/At%20Lunch", r#"{"message_text": "Lunch break"}"#).await;
    assert_eq!(edited.status.as_u16(), 204, "body: {}", edited.body);
    let message = inbox.next().await;
    assert_eq!(keys(&message), ["__type", "isDelta", "statusMessagesChanged"], "{message}");
    assert_eq!(message["isDelta"], true, "{message}");
    let catalog = catalog_of(&app, &watcher).await;
    assert_eq!(catalog[4]["messageText"], "Lunch break");
    assert_eq!(message["statusMessagesChanged"], json!([catalog[4]]), "as GET shows it");

    // An edit that changes nothing sends nothing.
    let same = app.put("/1.1/status_messages/At%20Lunch", r#"{"message_text": "Lunch break"}"#).await;
    assert_eq!(same.status.as_u16(), 204, "body: {}", same.body);
    let sentinel = app.set_status(&watcher, "watcher", json!({"statusId": "Available"})).await;
    let messages = inbox.until("the watcher's completion", |m| m["requestId"] == sentinel).await;
    assert_eq!(messages, [completion(&sentinel)], "nothing changed, nothing sent");

    // Removed: only the id.
    let deleted = app.delete("/1.1/status_messages/Coffee%20Break").await;
    assert_eq!(deleted.status.as_u16(), 204, "body: {}", deleted.body);
    let message = inbox.next().await;
    assert_eq!(message, json!({"__type": CATALOG, "isDelta": true, "statusMessagesRemoved": ["Coffee Break"]}));

    // A new subscription starts again from the whole catalog.
    subscribe_to(&app, &watcher, CATALOG_PATH, &json!({})).await;
    let message = inbox.next().await;
    assert_eq!(message["isDelta"], false, "{message}");
    assert_eq!(message["statusMessagesAdded"], catalog_of(&app, &watcher).await);

    unsubscribe(&app, &watcher, CATALOG_PATH).await;
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    let sentinel = app.set_status(&watcher, "watcher", json!({"statusId": "At Lunch"})).await;
    let messages = inbox.until("the watcher's completion", |m| m["requestId"] == sentinel).await;
    assert_eq!(messages, [completion(&sentinel)], "no catalog after unsubscribing");
}

/// One user's entry of a `statusMessagesUserAccessMessage`.
fn access_change(user: &str, added: &[&str], removed: &[&str]) -> Value {
    json!({"userId": user, "statusMessagesAdded": added, "statusMessagesRemoved": removed})
}

#[tokio::test]
async fn the_access_subscription_sends_every_allowed_status_then_what_was_added_or_removed() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let target_id = app.presence_user("target", "secret", 2).await;
    app.presence_user("Other", "secret", 3).await;
    subscribe_to(&app, &watcher, ACCESS_PATH, &json!({"userIds": ["target", "other"]})).await;
    let mut inbox = Inbox::new(&app, &watcher);

    let first = inbox.next().await;
    assert_eq!(
        first,
        json!({"__type": ACCESS, "isDelta": false, "statusMessagesUserAccessChanges": [
            access_change("target", &SELECTABLE, &[]),
            access_change("Other", &SELECTABLE, &[]),
        ]}),
        "every subscribed user, in the order asked, by their stored names"
    );
    for user in ["target", "Other"] {
        let reply = app.icws(Method::GET, &watcher, &format!("/status/status-messages-user-access/{user}"), None).await;
        assert_eq!(reply.json()["statusMessages"], json!(SELECTABLE), "as GET shows it");
    }

    // The user's profile changes: only what they lost.
    let created = app.post("/1.1/cti_profiles", r#"{"name": "Lunch only", "allowed_statuses": ["At Lunch"]}"#).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    let lunch = created.json()["id"].as_i64().expect("id");
    change_profile(&app, target_id, lunch).await;
    let lost: Vec<&str> = SELECTABLE.iter().copied().filter(|s| *s != "At Lunch").collect();
    let messages = inbox.until("target's change", |m| is_type(m, ACCESS)).await;
    assert_eq!(
        messages.last().expect("message"),
        &json!({"__type": ACCESS, "isDelta": true, "statusMessagesUserAccessChanges": [
            access_change("target", &[], &lost),
        ]})
    );

    // The profile's allowed statuses change: only what was added.
    let edited =
        app.put(&format!("/1.1/cti_profiles/{lunch}"), r#"{"allowed_statuses": ["Available", "At Lunch"]}"#).await;
    assert_eq!(edited.status.as_u16(), 204, "body: {}", edited.body);
    let messages = inbox.until("target's edited list", |m| is_type(m, ACCESS)).await;
    assert_eq!(
        messages.last().expect("message")["statusMessagesUserAccessChanges"],
        json!([access_change("target", &["Available"], &[])])
    );

    // A new selectable status reaches only a profile that allows every selectable status.
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    let messages = inbox.until("Other's new status", |m| is_type(m, ACCESS)).await;
    assert_eq!(
        messages.last().expect("message")["statusMessagesUserAccessChanges"],
        json!([access_change("Other", &["Coffee Break"], &[])])
    );
    // Deleting it takes it back.
    let deleted = app.delete("/1.1/status_messages/Coffee%20Break").await;
    assert_eq!(deleted.status.as_u16(), 204, "body: {}", deleted.body);
    let messages = inbox.until("Other's lost status", |m| is_type(m, ACCESS)).await;
    assert_eq!(
        messages.last().expect("message")["statusMessagesUserAccessChanges"],
        json!([access_change("Other", &[], &["Coffee Break"])])
    );

    // Everything so far read, unsubscribing stops the lists.
    let sentinel = app.set_status(&watcher, "watcher", json!({"statusId": "At Lunch"})).await;
    inbox.until("the watcher's first completion", |m| m["requestId"] == sentinel).await;
    unsubscribe(&app, &watcher, ACCESS_PATH).await;
    change_profile(&app, target_id, 2).await;
    let edited = app.put(&format!("/1.1/cti_profiles/{lunch}"), r#"{"allowed_statuses": ["At Lunch"]}"#).await;
    assert_eq!(edited.status.as_u16(), 204, "body: {}", edited.body);
    let sentinel = app.set_status(&watcher, "watcher", json!({"statusId": "Available"})).await;
    let messages = inbox.until("the watcher's second completion", |m| m["requestId"] == sentinel).await;
    assert_eq!(messages, [completion(&sentinel)], "no list after unsubscribing");
}

// ---- the short poll and the heartbeat ----

#[tokio::test]
async fn the_short_poll_is_a_drained_array_and_needs_only_the_cookie() {
    let app = spawn().await;
    let login = logged_in(&app, "agent", 2).await;
    let url = app.url(&format!("/icws/{}/messaging/messages", login.session_id));

    let empty = send(app.client.get(&url).header("Cookie", &login.cookie)).await;
    assert_eq!(empty.status.as_u16(), 200, "body: {}", empty.body);
    assert_eq!(empty.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(empty.json(), json!([]));

    app.subscribe(&login, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &login);
    let first = inbox.until("the full message", is_full_status).await;
    assert_eq!(first.len(), 1, "{first:#?}");
    // With the cookie only (no CSRF token), and with the raw Set-Cookie line.
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "one"})).await;
    let reply = send(app.client.get(&url).header("Cookie", &login.cookie)).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let messages = reply.json();
    let messages = messages.as_array().expect("array");
    assert_eq!(messages.len(), 2, "the delta and the completion: {messages:#?}");
    assert_eq!(assert_delta_of(&messages[0], "agent")["notes"], "one");
    assert_eq!(messages[1]["__type"], COMPLETED);
    let again = send(app.client.get(&url).header("Cookie", &login.set_cookie)).await;
    assert_eq!(again.status.as_u16(), 200, "body: {}", again.body);
    assert_eq!(again.json(), json!([]), "drained");

    // The cookie is still needed.
    assert_unauthorized(&send(app.client.get(&url)).await);
    assert_unauthorized(&send(app.client.get(&url).header("ININ-ICWS-CSRF-Token", &login.csrf_token)).await);
    let wrong = format!("icws_{}=0123456789abcdef0123456789abcdef", login.session_id);
    assert_unauthorized(&send(app.client.get(&url).header("Cookie", wrong)).await);
}

#[tokio::test]
async fn heartbeat_answers_200_and_needs_the_session() {
    let app = spawn().await;
    let login = logged_in(&app, "agent", 2).await;
    let reply = app.icws(Method::POST, &login, "/messaging/heartbeat", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let url = app.url(&format!("/icws/{}/messaging/heartbeat", login.session_id));
    assert_unauthorized(&send(app.client.post(&url).header("Cookie", &login.cookie)).await);
    assert_unauthorized(&send(app.client.post(&url).header("ININ-ICWS-CSRF-Token", &login.csrf_token)).await);
}

// ---- server-sent events ----

#[tokio::test]
async fn the_event_stream_needs_only_the_cookie_and_brings_another_sessions_change() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    // `sse` sends the cookie and no CSRF token, as EventSource does.
    let mut stream = app.sse(&watcher, None).await;
    app.subscribe(&watcher, &["alice"]).await;
    let first = next_event(&mut stream).await;
    assert_eq!(assert_full(&first.data)["alice"], app.user_status(&watcher, "alice").await);

    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "one"})).await;
    let second = next_event(&mut stream).await;
    assert_eq!(assert_delta_of(&second.data, "alice")["notes"], "one");
    app.set_status(&alice, "alice", json!({"statusId": "Available", "notes": "two"})).await;
    let third = next_event(&mut stream).await;
    assert_eq!(assert_delta_of(&third.data, "alice"), &app.user_status(&watcher, "alice").await);
    assert_increasing(&[first, second, third]);

    // Without the cookie: no stream.
    let url = app.url(&format!("/icws/{}/messaging/messages", watcher.session_id));
    let refused = send(app.client.get(&url).header("Accept", "text/event-stream")).await;
    assert_unauthorized(&refused);
}

#[tokio::test]
async fn events_are_id_and_data_lines_without_an_event_name() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let url = app.url(&format!("/icws/{}/messaging/messages", watcher.session_id));
    let mut response = app
        .client
        .get(&url)
        .header("Accept", "text/event-stream")
        .header("Cookie", &watcher.cookie)
        .send()
        .await
        .expect("event stream");
    assert_eq!(response.status().as_u16(), 200);
    app.subscribe(&watcher, &["watcher"]).await;
    app.set_status(&watcher, "watcher", json!({"statusId": "At Lunch"})).await;

    let deadline = Instant::now() + WAIT;
    let mut text = String::new();
    while !text.contains(COMPLETED) || !text.ends_with("\n\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("three events not received within {WAIT:?}: {text:?}"))
            .expect("chunk")
            .unwrap_or_else(|| panic!("the stream ended: {text:?}"));
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
    let events: Vec<&str> = blocks.iter().copied().filter(|b| b.lines().any(|l| l.starts_with("data:"))).collect();
    assert_eq!(events.len(), 3, "full message, delta, completion: {text:?}");
    for block in events {
        let data: Vec<&str> = block.lines().filter(|l| l.starts_with("data:")).collect();
        assert_eq!(data.len(), 1, "one data line per message: {block:?}");
        assert_eq!(block.lines().filter(|l| l.starts_with("id:")).count(), 1, "one id: {block:?}");
        assert!(!block.lines().any(|l| l.starts_with("event:")), "no event name: {block:?}");
        for line in block.lines() {
            assert!(line.starts_with("data:") || line.starts_with("id:") || line.starts_with(':'), "{block:?}");
        }
        let message: Value = serde_json::from_str(data[0].trim_start_matches("data:").trim()).expect("JSON data");
        assert_envelope(&message);
    }
}

#[tokio::test]
async fn a_stream_resumes_after_the_last_event_id_with_exactly_the_later_events() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    let mut stream = app.sse(&watcher, None).await;
    app.subscribe(&watcher, &["alice"]).await;
    let first = next_event(&mut stream).await;
    assert_full(&first.data);
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "n1"})).await;
    let seen = next_event(&mut stream).await;
    assert_eq!(assert_delta_of(&seen.data, "alice")["notes"], "n1");
    let last_seen = event_id(&seen);
    assert!(last_seen > event_id(&first), "ids increase");

    // Changes the client may or may not have received before it went away, and changes after.
    app.set_status(&alice, "alice", json!({"statusId": "Available", "notes": "n2"})).await;
    app.set_status(&alice, "alice", json!({"statusId": "At Lunch", "notes": "n3"})).await;
    drop(stream);
    app.set_status(&alice, "alice", json!({"statusId": "Available", "notes": "n4"})).await;
    app.set_status(&alice, "alice", json!({"statusId": "Away from desk", "notes": "n5"})).await;

    let mut resumed = app.sse(&watcher, Some(&last_seen.to_string())).await;
    let events = events_until(&mut resumed, "n5", |m| has_notes(m, "alice", "n5")).await;
    let notes: Vec<&Value> = events.iter().map(|e| &assert_delta_of(&e.data, "alice")["notes"]).collect();
    assert_eq!(notes, ["n2", "n3", "n4", "n5"], "exactly the later events, in order: {events:#?}");
    assert!(event_id(&events[0]) > last_seen, "{events:#?}");
    assert_increasing(&events);
}

#[tokio::test]
async fn a_last_event_id_older_than_what_is_kept_brings_a_full_message() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let alice = logged_in(&app, "alice", 2).await;
    app.subscribe(&watcher, &["alice"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_full(&inbox.next().await);
    // More than the 256 delivered messages the server keeps.
    for k in 1..=270 {
        let status = CYCLE[k % CYCLE.len()];
        app.set_status(&alice, "alice", json!({"statusId": status, "notes": format!("n{k}")})).await;
        if k % 50 == 0 {
            inbox.until("the latest change", |m| has_notes(m, "alice", &format!("n{k}"))).await;
        }
    }
    inbox.until("the last change", |m| has_notes(m, "alice", "n270")).await;

    let mut stream = app.sse(&watcher, Some("1")).await;
    let first = next_event(&mut stream).await;
    let entries = assert_full(&first.data);
    assert_eq!(entries["alice"]["notes"], "n270");
    assert_eq!(entries["alice"], app.user_status(&watcher, "alice").await);
}

// ---- bounded queues ----

async fn spawn_with_queue_limit_5() -> TestApp {
    TestApp::spawn_with(&["--server-name", SERVER, "--session-queue-limit", "5"], &[]).await
}

#[tokio::test]
async fn overflow_collapses_into_a_full_message_of_the_final_state() {
    let app = spawn_with_queue_limit_5().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let agent = logged_in(&app, "agent", 2).await;
    app.subscribe(&watcher, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_full(&inbox.next().await);

    for k in 1..=20 {
        let status = CYCLE[k % CYCLE.len()];
        app.set_status(&agent, "agent", json!({"statusId": status, "notes": format!("change {k}")})).await;
    }
    let last = app.user_status(&watcher, "agent").await;
    let messages = inbox.until("the final status", |m| has_notes(m, "agent", "change 20")).await;
    assert!(messages.len() + inbox.queue.len() <= 6, "at most the queue limit and a snapshot: {messages:#?}");
    let first = messages.iter().find(|m| is_type(m, USER_STATUS)).expect("a status message");
    let entries = assert_full(first);
    assert_eq!(entries["agent"], last, "the full message has the final state");
}

#[tokio::test]
async fn overflow_before_the_first_read_leaves_no_gap() {
    let app = spawn_with_queue_limit_5().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let agent = logged_in(&app, "agent", 2).await;
    app.subscribe(&watcher, &["agent"]).await;

    for k in 1..=20 {
        let status = CYCLE[k % CYCLE.len()];
        app.set_status(&agent, "agent", json!({"statusId": status, "notes": format!("change {k}")})).await;
    }
    let last = app.user_status(&watcher, "agent").await;
    let mut inbox = Inbox::new(&app, &watcher);
    let messages = inbox.until("the final status", |m| has_notes(m, "agent", "change 20")).await;
    assert!(messages.len() + inbox.queue.len() <= 6, "at most the queue limit and a snapshot: {messages:#?}");
    assert!(is_full_status(&messages[0]), "a full message first: {messages:#?}");
    assert_eq!(replay(&messages)["agent"], last, "what the client holds is the final state");
}

#[tokio::test]
async fn overflow_with_the_callers_completions_still_ends_in_a_full_message() {
    let app = spawn_with_queue_limit_5().await;
    let agent = logged_in(&app, "agent", 2).await;
    app.subscribe(&agent, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &agent);
    assert_full(&inbox.next().await);

    // Each change brings the caller a delta and a completion.
    for k in 1..=20 {
        let status = CYCLE[k % CYCLE.len()];
        app.set_status(&agent, "agent", json!({"statusId": status, "notes": format!("change {k}")})).await;
    }
    let last = app.user_status(&agent, "agent").await;
    let messages = inbox.until("the final status", |m| has_notes(m, "agent", "change 20")).await;
    assert!(messages.len() + inbox.queue.len() <= 6, "at most the queue limit and a snapshot: {messages:#?}");
    let first = messages.iter().find(|m| is_type(m, USER_STATUS)).expect("a status message");
    assert_eq!(assert_full(first)["agent"], last, "no gap: a full message of the final state");
}

// ---- ordering ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_from_several_sessions_reach_every_subscriber_in_one_order() {
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    let app = Arc::new(spawn().await);
    app.presence_user("target", "secret", 2).await;
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        writers.push(logged_in(&app, &format!("boss{i}"), 1).await);
    }
    let observer = logged_in(&app, "observer", 2).await;
    let mut stream = app.sse(&observer, None).await;
    app.subscribe(&observer, &["target"]).await;
    assert_full(&next_event(&mut stream).await.data);
    let mut inboxes = Vec::new();
    for writer in &writers {
        app.subscribe(writer, &["target"]).await;
        let mut inbox = Inbox::new(&app, writer);
        assert_full(&inbox.next().await);
        inboxes.push(inbox);
    }

    let tasks: Vec<_> = writers
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, login)| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                for k in 0..EACH {
                    let status = CYCLE[(i + k) % CYCLE.len()];
                    app.set_status(&login, "target", json!({"statusId": status, "notes": format!("w{i}-{k}")})).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    let last = app.user_status(&observer, "target").await;

    let mut sequences = vec![stream_deltas_of(&mut stream, "target", WRITERS * EACH).await];
    for inbox in &mut inboxes {
        sequences.push(inbox.deltas_of("target", WRITERS * EACH).await);
    }
    let notes = |entries: &[Value]| -> Vec<String> {
        entries.iter().map(|e| e["notes"].as_str().expect("notes").to_string()).collect()
    };
    let order = notes(&sequences[0]);
    let expected: BTreeSet<String> = (0..WRITERS).flat_map(|i| (0..EACH).map(move |k| format!("w{i}-{k}"))).collect();
    assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), expected, "every change once: {order:?}");
    assert_eq!(order.len(), WRITERS * EACH, "{order:?}");
    for (n, sequence) in sequences.iter().enumerate() {
        assert_eq!(notes(sequence), order, "subscriber {n} saw another order");
        assert_eq!(sequence.last(), Some(&last), "subscriber {n}: the last delta is the final state");
    }
    for i in 0..WRITERS {
        let own: Vec<&String> = order.iter().filter(|n| n.starts_with(&format!("w{i}-"))).collect();
        let issued: Vec<String> = (0..EACH).map(|k| format!("w{i}-{k}")).collect();
        assert_eq!(own, issued.iter().collect::<Vec<_>>(), "writer {i}'s changes in the order it made them");
    }
}

// ---- the end of sessions ----

#[tokio::test]
async fn dissociating_the_profile_sends_a_connection_state_change_then_ends_the_stream() {
    let app = spawn().await;
    let watcher = logged_in(&app, "watcher", 2).await;
    let agent_id = app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    let mut stream = app.sse(&agent, None).await;
    app.subscribe(&watcher, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &watcher);
    assert_eq!(assert_full(&inbox.next().await)["agent"]["icServers"], json!([SERVER]));

    let reply = app.delete(&format!("/1.1/users/{agent_id}/cti_profile")).await;
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    let events = events_until(&mut stream, "the connection state change", |m| is_type(m, CONNECTION_STATE)).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_connection_down(&events[0].data, false);
    assert_stream_ends(&mut stream).await;
    assert_unauthorized(&app.icws(Method::GET, &agent, "/connection", None).await);

    let delta = inbox.next().await;
    assert_eq!(assert_delta_of(&delta, "agent")["icServers"], json!([]), "{delta}");
}

#[tokio::test]
async fn deleting_the_user_sends_a_connection_state_change_then_ends_the_stream() {
    let app = spawn().await;
    let agent_id = app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    let mut stream = app.sse(&agent, None).await;
    app.subscribe(&agent, &["agent"]).await;
    assert_full(&next_event(&mut stream).await.data);

    let reply = app.delete(&format!("/1.1/users/{agent_id}")).await;
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    let events = events_until(&mut stream, "the connection state change", |m| is_type(m, CONNECTION_STATE)).await;
    assert_connection_down(&events.last().expect("event").data, false);
    assert_stream_ends(&mut stream).await;
    assert_unauthorized(&app.icws(Method::GET, &agent, "/connection", None).await);
}

#[tokio::test]
async fn logging_out_ends_the_event_stream() {
    let app = spawn().await;
    let agent = logged_in(&app, "agent", 2).await;
    let mut stream = app.sse(&agent, None).await;
    app.subscribe(&agent, &["agent"]).await;
    assert_full(&next_event(&mut stream).await.data);
    let reply = app.icws(Method::DELETE, &agent, "/connection", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_stream_ends(&mut stream).await;
}

#[tokio::test]
async fn an_idle_session_expires_and_its_subscribers_see_it_leave() {
    let app = TestApp::spawn_with(&["--server-name", SERVER, "--session-idle-timeout", "1"], &[]).await;
    let watcher = logged_in(&app, "watcher", 2).await;
    // The open stream keeps the watcher's session alive.
    let mut stream = app.sse(&watcher, None).await;
    let agent = logged_in(&app, "agent", 2).await;
    app.subscribe(&watcher, &["agent"]).await;
    let first = next_event(&mut stream).await;
    assert_eq!(assert_full(&first.data)["agent"]["icServers"], json!([SERVER]));

    // The agent does nothing: its session expires (the sweep runs every few seconds).
    let events = events_within(&mut stream, Duration::from_secs(30), "the agent leaving", |m| {
        entry_of(m, "agent").is_some_and(|e| e["icServers"] == json!([]))
    })
    .await;
    let left = events.last().expect("event");
    assert_delta_of(&left.data, "agent");
    assert_unauthorized(&app.icws(Method::GET, &agent, "/connection", None).await);
    let alive = app.icws(Method::GET, &watcher, "/connection", None).await;
    assert_eq!(alive.status.as_u16(), 200, "the streaming session is alive: {}", alive.body);
}
