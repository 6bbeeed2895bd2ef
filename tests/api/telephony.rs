//! PBX call events (`/1.1/telephony/events`, `/1.1/telephony/calls`) and what presence clients
//! see of them: `onPhone`/`onPhoneChanged` in the ICWS user status and one delta per flip.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use crate::helpers::*;

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";
const COMPLETED: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
/// How long a message may take to arrive before a test gives up (delivery, not speed).
const WAIT: Duration = Duration::from_secs(10);
/// Between two short polls while waiting for a message.
const POLL_EVERY: Duration = Duration::from_millis(20);
const NO_DATA: &str = "No parsable data in the request, Be sure to send a valid JSON file";
const BAD_STATE: &str = "Invalid parameters: state must be one of ringing, talking, held, idle";
const BAD_TIMESTAMP: &str = "Invalid parameters: timestamp";

// ---- set-up ----

/// A whole second a minute ago: events are placed after it, a second or a fraction apart.
fn base_time() -> f64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs();
    (now - 60) as f64
}

/// Now, in Unix seconds with a fraction.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs_f64()
}

/// `timestamp` (to the millisecond) as RFC 3339, in UTC or at this offset (hours).
fn rfc3339(timestamp: f64, offset_hours: i8) -> String {
    let seconds = timestamp.floor();
    let millis = ((timestamp - seconds) * 1000.0).round() as i128;
    let nanos = seconds as i128 * 1_000_000_000 + millis * 1_000_000;
    let utc = OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("timestamp in range");
    let offset = time::UtcOffset::from_hms(offset_hours, 0, 0).expect("offset");
    utc.to_offset(offset).format(&Rfc3339).expect("format")
}

/// Unix second `seconds` and `micros` microseconds as RFC 3339 in UTC, with six decimals.
fn rfc3339_micros(seconds: i64, micros: u32) -> String {
    let whole = OffsetDateTime::from_unix_timestamp(seconds).expect("timestamp in range").format(&Rfc3339);
    let whole = whole.expect("format");
    let head = whole.strip_suffix('Z').expect("UTC");
    format!("{head}.{micros:06}Z")
}

fn event(line: &str, call: &str, state: &str, timestamp: f64) -> Value {
    json!({"line": line, "call_id": call, "state": state, "timestamp": timestamp})
}

async fn post_events(app: &TestApp, body: &Value) -> Reply {
    app.post("/1.1/telephony/events", &body.to_string()).await
}

#[track_caller]
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    assert!(reply.body.is_empty(), "204 with a body: {:?}", reply.body);
}

/// Posts one event or an array of them; asserts 204.
async fn apply(app: &TestApp, body: Value) {
    let reply = post_events(app, &body).await;
    assert_no_content(&reply);
}

/// `PUT /1.1/telephony/calls` with these calls; asserts 204.
async fn resync(app: &TestApp, calls: Value) {
    let reply = app.put("/1.1/telephony/calls", &json!({ "calls": calls }).to_string()).await;
    assert_no_content(&reply);
}

/// `GET /1.1/telephony/calls`: the items sorted by `call_id`; asserts 200 and the total.
async fn active_calls(app: &TestApp) -> Vec<Value> {
    let reply = app.get("/1.1/telephony/calls").await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let mut items = body["items"].as_array().expect("items").clone();
    assert_eq!(body["total"].as_u64(), Some(items.len() as u64), "{body}");
    for item in &items {
        let since = item["since"].as_str().unwrap_or_else(|| panic!("since: {item}"));
        assert!(is_rfc3339_utc(since), "since {since}");
    }
    items.sort_by(|a, b| a["call_id"].as_str().cmp(&b["call_id"].as_str()));
    items
}

/// `(call_id, line, state, user_id)` of an active call.
type Call = (String, String, String, Value);

const NO_CALLS: [Call; 0] = [];

/// Every active call, sorted by call id.
async fn call_states(app: &TestApp) -> Vec<Call> {
    active_calls(app)
        .await
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("{k}: {c}")).to_string();
            (text("call_id"), text("line"), text("state"), c["user_id"].clone())
        })
        .collect()
}

fn call(id: &str, line: &str, state: &str, user: Value) -> Call {
    (id.to_string(), line.to_string(), state.to_string(), user)
}

/// `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let head = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    let tail = &text[19.min(text.len())..];
    head && (tail == "Z"
        || tail
            .strip_prefix('.')
            .and_then(|f| f.strip_suffix('Z'))
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|d| d.is_ascii_digit())))
}

/// `YYYYMMDDTHHMMSSZ`.
fn is_icws_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 16
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z'
}

/// Creates a line; its id.
async fn create_line(app: &TestApp, name: &str) -> i64 {
    let reply = app.post("/1.1/lines", &json!({ "name": name }).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

async fn associate(app: &TestApp, user: i64, line: i64) {
    let reply = app.post(&format!("/1.1/users/{user}/lines"), &json!({ "line_id": line }).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
}

/// A presence user (Agent profile, password `secret`) owning new lines with these names;
/// the user's id and the lines' ids.
async fn agent_with_lines(app: &TestApp, username: &str, lines: &[&str]) -> (i64, Vec<i64>) {
    let user = app.presence_user(username, "secret", 2).await;
    let mut ids = Vec::new();
    for name in lines {
        let line = create_line(app, name).await;
        associate(app, user, line).await;
        ids.push(line);
    }
    (user, ids)
}

/// A logged-in presence user who watches the others.
async fn watcher(app: &TestApp) -> IcwsLogin {
    app.presence_user("watcher", "secret", 2).await;
    app.icws_login("watcher", "secret").await
}

/// `GET …/status/user-statuses/{user}`, which must answer 200.
async fn status_of(app: &TestApp, login: &IcwsLogin, user: &str) -> Value {
    let reply = app.icws(Method::GET, login, &format!("/status/user-statuses/{user}"), None).await;
    assert_eq!(reply.status.as_u16(), 200, "GET {user}: {}", reply.body);
    let status = reply.json();
    assert!(status["onPhone"].is_boolean(), "{status}");
    let changed = status["onPhoneChanged"].as_str().unwrap_or_else(|| panic!("onPhoneChanged: {status}"));
    assert!(is_icws_date(changed), "{changed}");
    status
}

async fn on_phone(app: &TestApp, login: &IcwsLogin, user: &str) -> bool {
    status_of(app, login, user).await["onPhone"].as_bool().expect("onPhone")
}

/// Polls the user status until `onPhone` is `expected`, for at most `within`.
async fn wait_on_phone(app: &TestApp, login: &IcwsLogin, user: &str, expected: bool, within: Duration) {
    let deadline = Instant::now() + within;
    while on_phone(app, login, user).await != expected {
        assert!(Instant::now() < deadline, "{user}: onPhone did not become {expected} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn server_time(app: &TestApp) -> String {
    let reply = send(app.client.get(app.url("/icws/connection/server-time"))).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    reply.json()["serverUtcTime"].as_str().expect("serverUtcTime").to_string()
}

/// A session subscribed to one user's status, reading its messages by short poll.
struct Watch<'a> {
    app: &'a TestApp,
    login: IcwsLogin,
    user: String,
    queue: VecDeque<Value>,
    sentinels: usize,
}

impl<'a> Watch<'a> {
    /// Subscribes `login` (not `user` itself) to `user` and reads the full message.
    async fn start(app: &'a TestApp, login: &IcwsLogin, user: &str) -> Self {
        app.subscribe(login, &[user]).await;
        let mut watch =
            Self { app, login: login.clone(), user: user.to_string(), queue: VecDeque::new(), sentinels: 0 };
        let first = watch.next("the full message").await;
        assert_eq!(first["__type"], USER_STATUS, "{first}");
        assert_eq!(first["isDelta"], false, "{first}");
        watch
    }

    async fn next(&mut self, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(message) = self.queue.pop_front() {
                return message;
            }
            assert!(Instant::now() < deadline, "{what}: not received within {WAIT:?}");
            let batch = self.app.poll(&self.login).await;
            if batch.is_empty() {
                tokio::time::sleep(POLL_EVERY).await;
            }
            self.queue.extend(batch);
        }
    }

    /// The user's entry in a delta that lists exactly them.
    #[track_caller]
    fn entry_of(&self, message: &Value) -> Value {
        assert_eq!(message["__type"], USER_STATUS, "{message}");
        assert_eq!(message["isDelta"], true, "{message}");
        let list = message["userStatusList"].as_array().expect("userStatusList");
        assert_eq!(list.len(), 1, "{message}");
        assert_eq!(list[0]["userId"], self.user.as_str(), "{message}");
        list[0].clone()
    }

    /// The next messages are deltas of the user with these `onPhone` values, in order; their
    /// entries.
    async fn expect_flips(&mut self, expected: &[bool]) -> Vec<Value> {
        let mut entries = Vec::new();
        for (i, on) in expected.iter().enumerate() {
            let message = self.next(&format!("flip {i} to onPhone {on}")).await;
            let entry = self.entry_of(&message);
            assert_eq!(entry["onPhone"], *on, "flip {i} of {expected:?}: {entry}");
            let changed = entry["onPhoneChanged"].as_str().unwrap_or_else(|| panic!("onPhoneChanged: {entry}"));
            assert!(is_icws_date(changed), "{changed}");
            entries.push(entry);
        }
        entries
    }

    /// Nothing else about the user has arrived: the watcher changes its own status, and the
    /// completion of that request is the next message.
    async fn expect_quiet(&mut self) {
        self.sentinels += 1;
        let notes = format!("sentinel {}", self.sentinels);
        let request =
            self.app.set_status(&self.login, "watcher", json!({"statusId": "Available", "notes": notes})).await;
        let message = self.next("the sentinel's completion").await;
        assert_eq!(
            message,
            json!({"__type": COMPLETED, "isDelta": false, "requestId": request, "error": null}),
            "an unexpected message before the sentinel's completion"
        );
    }
}

// ---- the intake ----

#[tokio::test]
async fn a_single_event_puts_the_user_on_the_phone_and_idle_ends_it() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let initial = status_of(&app, &login, "alice").await;
    assert_eq!(initial["onPhone"], false, "{initial}");
    let initial_changed = initial["onPhoneChanged"].as_str().expect("onPhoneChanged").to_string();

    // Wait until the server clock has left the second of the last flip, so a move would show.
    let deadline = Instant::now() + Duration::from_secs(15);
    while server_time(&app).await <= initial_changed {
        assert!(Instant::now() < deadline, "the server clock did not move");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let reply = post_events(&app, &event("1001", "a84b4c76e66710", "talking", now())).await;
    assert_no_content(&reply);
    let on = status_of(&app, &login, "alice").await;
    assert_eq!(on["onPhone"], true, "{on}");
    let on_changed = on["onPhoneChanged"].as_str().expect("onPhoneChanged").to_string();
    assert!(on_changed > initial_changed, "onPhoneChanged {on_changed} after {initial_changed}");
    // The presence status itself is untouched.
    assert_eq!(on["statusId"], initial["statusId"]);
    assert_eq!(on["statusChanged"], initial["statusChanged"]);

    let deadline = Instant::now() + Duration::from_secs(15);
    while server_time(&app).await <= on_changed {
        assert!(Instant::now() < deadline, "the server clock did not move");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    apply(&app, event("1001", "a84b4c76e66710", "idle", now())).await;
    let off = status_of(&app, &login, "alice").await;
    assert_eq!(off["onPhone"], false, "{off}");
    let off_changed = off["onPhoneChanged"].as_str().expect("onPhoneChanged").to_string();
    assert!(off_changed > on_changed, "onPhoneChanged {off_changed} after {on_changed}");
    assert_eq!(off["statusChanged"], initial["statusChanged"]);
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn an_array_is_applied_in_order() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();
    apply(
        &app,
        json!([
            event("1001", "c1", "ringing", t + 1.0),
            event("1001", "c1", "talking", t + 2.0),
            event("1001", "c1", "held", t + 3.0)
        ]),
    )
    .await;
    assert!(on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, [call("c1", "1001", "held", json!(alice))]);

    apply(&app, json!([event("1001", "c1", "talking", t + 4.0), event("1001", "c1", "idle", t + 5.0)])).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);

    // An empty array applies nothing.
    apply(&app, json!([])).await;
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn ringing_talking_and_held_all_count_as_on_the_phone() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();
    for (i, state) in ["ringing", "talking", "held"].into_iter().enumerate() {
        let id = format!("call-{state}");
        let at = t + i as f64 * 2.0;
        apply(&app, event("1001", &id, state, at)).await;
        assert!(on_phone(&app, &login, "alice").await, "{state}");
        assert_eq!(call_states(&app).await, [call(&id, "1001", state, json!(alice))]);
        apply(&app, event("1001", &id, "idle", at + 1.0)).await;
        assert!(!on_phone(&app, &login, "alice").await, "idle after {state}");
    }
}

#[tokio::test]
async fn timestamps_may_have_fractions_or_be_rfc3339() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();

    apply(&app, event("1001", "c1", "ringing", t + 0.5)).await;
    // A quarter of a second earlier: older, ignored.
    apply(&app, event("1001", "c1", "talking", t + 0.25)).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "ringing", json!(alice))]);

    let later = rfc3339(t + 0.75, 0);
    assert!(later.ends_with(".75Z"), "{later}");
    apply(&app, json!({"line": "1001", "call_id": "c1", "state": "talking", "timestamp": later})).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "talking", json!(alice))]);

    // The same instant written at another offset, then an earlier one: neither is later.
    let same = rfc3339(t + 0.75, 2);
    assert!(same.ends_with("+02:00"), "{same}");
    apply(&app, json!({"line": "1001", "call_id": "c1", "state": "held", "timestamp": rfc3339(t + 0.6, 2)})).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "talking", json!(alice))]);
    apply(&app, json!({"line": "1001", "call_id": "c1", "state": "held", "timestamp": rfc3339(t + 1.5, -5)})).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "held", json!(alice))]);

    apply(&app, json!({"line": "1001", "call_id": "c1", "state": "idle", "timestamp": rfc3339(t + 2.0, 0)})).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
}

// ---- what subscribers see ----

#[tokio::test]
async fn a_subscribed_session_gets_one_delta_per_flip() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let before = status_of(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, event("1001", "c1", "ringing", t + 1.0)).await;
    let entries = watch.expect_flips(&[true]).await;
    let now_on = status_of(&app, &login, "alice").await;
    assert_eq!(entries[0], now_on, "the delta carries the full representation");
    assert_eq!(now_on["statusId"], before["statusId"]);

    // Neither talking nor held flips anything.
    apply(&app, event("1001", "c1", "talking", t + 2.0)).await;
    apply(&app, event("1001", "c1", "held", t + 3.0)).await;
    watch.expect_quiet().await;
    assert!(on_phone(&app, &login, "alice").await);

    apply(&app, event("1001", "c1", "idle", t + 4.0)).await;
    let entries = watch.expect_flips(&[false]).await;
    assert_eq!(entries[0], status_of(&app, &login, "alice").await);
    watch.expect_quiet().await;

    // A new call flips again.
    apply(&app, event("1001", "c2", "talking", t + 5.0)).await;
    watch.expect_flips(&[true]).await;
    watch.expect_quiet().await;
}

#[tokio::test]
async fn the_same_event_twice_flips_once() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    let talking = event("1001", "c1", "talking", t + 1.0);
    apply(&app, talking.clone()).await;
    apply(&app, talking.clone()).await;
    apply(&app, json!([talking, talking])).await;
    watch.expect_flips(&[true]).await;
    watch.expect_quiet().await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "talking", json!(alice))]);

    let idle = event("1001", "c1", "idle", t + 2.0);
    apply(&app, idle.clone()).await;
    apply(&app, idle.clone()).await;
    apply(&app, json!([idle, idle])).await;
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
}

// ---- ordering ----

#[tokio::test]
async fn an_idle_arriving_before_its_talking_makes_the_talking_ignored() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, event("1001", "c1", "idle", t + 2.0)).await;
    apply(&app, event("1001", "c1", "talking", t + 1.0)).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
    // Once ended, even a later event for the call is ignored.
    apply(&app, event("1001", "c1", "ringing", t + 3.0)).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
    // The same, within one array.
    apply(&app, json!([event("1001", "c2", "idle", t + 5.0), event("1001", "c2", "talking", t + 4.0)])).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
    watch.expect_quiet().await;
}

#[tokio::test]
async fn an_event_older_than_the_last_one_for_its_call_is_ignored() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, event("1001", "c1", "ringing", t + 5.0)).await;
    watch.expect_flips(&[true]).await;
    apply(&app, event("1001", "c1", "talking", t + 3.0)).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "ringing", json!(alice))]);
    // An older idle does not end the call.
    apply(&app, event("1001", "c1", "idle", t + 4.0)).await;
    assert!(on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, [call("c1", "1001", "ringing", json!(alice))]);
    watch.expect_quiet().await;

    // Another call is ordered on its own: an earlier timestamp there is fine.
    apply(&app, event("1001", "c2", "talking", t + 1.0)).await;
    assert_eq!(
        call_states(&app).await,
        [call("c1", "1001", "ringing", json!(alice)), call("c2", "1001", "talking", json!(alice))]
    );
    apply(&app, event("1001", "c2", "idle", t + 2.0)).await;

    apply(&app, event("1001", "c1", "held", t + 6.0)).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "held", json!(alice))]);
    apply(&app, event("1001", "c1", "idle", t + 7.0)).await;
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn at_equal_timestamps_idle_wins() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();

    // idle after talking at the same instant: the call ends.
    apply(&app, event("1001", "c1", "talking", t + 1.0)).await;
    assert!(on_phone(&app, &login, "alice").await);
    apply(&app, event("1001", "c1", "idle", t + 1.0)).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);

    // talking after idle at the same instant: the call stays ended.
    apply(&app, event("1001", "c2", "idle", t + 2.0)).await;
    apply(&app, event("1001", "c2", "talking", t + 2.0)).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);

    // Both in one array, either order.
    apply(&app, json!([event("1001", "c3", "ringing", t + 3.0), event("1001", "c3", "idle", t + 3.0)])).await;
    apply(&app, json!([event("1001", "c4", "idle", t + 3.0), event("1001", "c4", "ringing", t + 3.0)])).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn reports_a_tenth_of_a_millisecond_apart_keep_their_order() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time() as i64;
    // The timestamps as a PBX writes them: six decimals, or RFC 3339 with microseconds.
    let number = |micros: u32| format!("{t}.{micros:06}");
    let text = |micros: u32| format!("\"{}\"", rfc3339_micros(t, micros));
    let post = |call: &str, state: &str, timestamp: String| {
        let body = format!(r#"{{"line": "1001", "call_id": "{call}", "state": "{state}", "timestamp": {timestamp}}}"#);
        let app = &app;
        async move { assert_no_content(&app.post("/1.1/telephony/events", &body).await) }
    };

    // talking at T + 0.0001 s, then idle at T: the idle is older and ignored.
    post("c1", "talking", number(100)).await;
    watch.expect_flips(&[true]).await;
    post("c1", "idle", number(0)).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "talking", json!(alice))]);
    assert!(on_phone(&app, &login, "alice").await);

    // The same in RFC 3339, on another call.
    post("c2", "held", text(100)).await;
    post("c2", "idle", text(0)).await;
    assert_eq!(
        call_states(&app).await,
        [call("c1", "1001", "talking", json!(alice)), call("c2", "1001", "held", json!(alice))]
    );

    // A microsecond later is later: talking after held applies.
    post("c2", "talking", text(101)).await;
    post("c1", "held", number(101)).await;
    assert_eq!(
        call_states(&app).await,
        [call("c1", "1001", "held", json!(alice)), call("c2", "1001", "talking", json!(alice))]
    );
    watch.expect_quiet().await;

    post("c1", "idle", number(102)).await;
    post("c2", "idle", text(102)).await;
    watch.expect_flips(&[false]).await;
    assert_eq!(call_states(&app).await, NO_CALLS);
}

// ---- several lines, several calls ----

#[tokio::test]
async fn a_user_is_on_the_phone_while_any_of_their_lines_has_a_call() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001", "1002"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, event("1001", "c1", "talking", t + 1.0)).await;
    watch.expect_flips(&[true]).await;
    apply(&app, event("1002", "c2", "ringing", t + 2.0)).await;
    // Call waiting on the first line.
    apply(&app, event("1001", "c3", "held", t + 3.0)).await;
    assert_eq!(
        call_states(&app).await,
        [
            call("c1", "1001", "talking", json!(alice)),
            call("c2", "1002", "ringing", json!(alice)),
            call("c3", "1001", "held", json!(alice))
        ]
    );

    apply(&app, event("1001", "c1", "idle", t + 4.0)).await;
    assert!(on_phone(&app, &login, "alice").await, "c2 and c3 are up");
    apply(&app, event("1002", "c2", "idle", t + 5.0)).await;
    assert!(on_phone(&app, &login, "alice").await, "c3 is up");
    watch.expect_quiet().await;

    apply(&app, event("1001", "c3", "idle", t + 6.0)).await;
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
}

#[tokio::test]
async fn calls_of_different_users_are_independent() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let (bob, _) = agent_with_lines(&app, "bob", &["1002"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();

    // The same call id on two lines is two calls.
    apply(&app, json!([event("1001", "shared", "talking", t + 1.0), event("1002", "shared", "ringing", t + 1.0)]))
        .await;
    assert!(on_phone(&app, &login, "alice").await);
    assert!(on_phone(&app, &login, "bob").await);
    let calls = active_calls(&app).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    let mut owners: Vec<(Value, Value, Value)> =
        calls.iter().map(|c| (c["line"].clone(), c["state"].clone(), c["user_id"].clone())).collect();
    owners.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    assert_eq!(
        owners,
        [(json!("1001"), json!("talking"), json!(alice)), (json!("1002"), json!("ringing"), json!(bob))]
    );

    apply(&app, event("1001", "shared", "idle", t + 2.0)).await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert!(on_phone(&app, &login, "bob").await);
    assert_eq!(call_states(&app).await, [call("shared", "1002", "ringing", json!(bob))]);
}

#[tokio::test]
async fn a_call_on_a_line_without_a_user_is_listed_and_flips_no_one() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    create_line(&app, "lobby").await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();
    apply(&app, event("lobby", "c1", "ringing", t + 1.0)).await;
    assert_eq!(call_states(&app).await, [call("c1", "lobby", "ringing", Value::Null)]);
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
}

// ---- lines and associations changing under calls ----

#[tokio::test]
async fn deleting_a_line_ends_its_calls() {
    let app = TestApp::spawn().await;
    let (alice, lines) = agent_with_lines(&app, "alice", &["1001", "1002"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, json!([event("1001", "c1", "talking", t + 1.0), event("1002", "c2", "talking", t + 1.0)])).await;
    watch.expect_flips(&[true]).await;
    assert_no_content(&app.delete(&format!("/1.1/lines/{}", lines[0])).await);
    assert_eq!(call_states(&app).await, [call("c2", "1002", "talking", json!(alice))]);
    assert!(on_phone(&app, &login, "alice").await, "still on 1002");
    watch.expect_quiet().await;

    assert_no_content(&app.delete(&format!("/1.1/lines/{}", lines[1])).await);
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn associating_a_line_with_a_call_up_puts_its_new_user_on_the_phone() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &[]).await;
    let line = create_line(&app, "1001").await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    apply(&app, event("1001", "c1", "talking", base_time())).await;
    watch.expect_quiet().await;
    associate(&app, alice, line).await;
    watch.expect_flips(&[true]).await;
    assert_eq!(call_states(&app).await, [call("c1", "1001", "talking", json!(alice))]);
}

#[tokio::test]
async fn dissociating_a_line_ends_the_on_phone_state_it_gave() {
    let app = TestApp::spawn().await;
    let (alice, lines) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    apply(&app, event("1001", "c1", "talking", base_time())).await;
    watch.expect_flips(&[true]).await;
    assert_no_content(&app.delete(&format!("/1.1/users/{alice}/lines/{}", lines[0])).await);
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
}

// ---- resync ----

#[tokio::test]
async fn resync_ends_unlisted_calls_and_applies_listed_ones() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let (bob, _) = agent_with_lines(&app, "bob", &["1002"]).await;
    let (carol, _) = agent_with_lines(&app, "carol", &["1003"]).await;
    create_line(&app, "lobby").await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    apply(&app, json!([event("1001", "a", "talking", t + 1.0), event("1002", "b", "ringing", t + 1.0)])).await;
    watch.expect_flips(&[true]).await;
    assert_eq!(
        call_states(&app).await,
        [call("a", "1001", "talking", json!(alice)), call("b", "1002", "ringing", json!(bob))]
    );

    resync(
        &app,
        json!([
            event("1002", "b", "talking", t + 2.0),
            event("1003", "c", "ringing", t + 2.0),
            event("lobby", "d", "held", t + 2.0)
        ]),
    )
    .await;
    assert_eq!(
        call_states(&app).await,
        [
            call("b", "1002", "talking", json!(bob)),
            call("c", "1003", "ringing", json!(carol)),
            call("d", "lobby", "held", Value::Null)
        ]
    );
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert!(!on_phone(&app, &login, "alice").await);
    assert!(on_phone(&app, &login, "bob").await);
    assert!(on_phone(&app, &login, "carol").await);

    // The PBX has nothing up any more.
    resync(&app, json!([])).await;
    assert_eq!(call_states(&app).await, NO_CALLS);
    assert!(!on_phone(&app, &login, "bob").await);
    assert!(!on_phone(&app, &login, "carol").await);
    watch.expect_quiet().await;
}

#[tokio::test]
async fn resync_with_an_unknown_line_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();
    apply(&app, event("1001", "a", "talking", t + 1.0)).await;

    let body = json!({"calls": [event("1001", "b", "ringing", t + 2.0), event("9999", "c", "talking", t + 2.0)]});
    app.put("/1.1/telephony/calls", &body.to_string())
        .await
        .assert_error(400, &["Nonexistent parameters: line 9999 does not exist"]);
    assert_eq!(call_states(&app).await, [call("a", "1001", "talking", json!(alice))]);
    assert!(on_phone(&app, &login, "alice").await);
}

#[tokio::test]
async fn resync_ends_calls_whose_last_report_is_ahead_of_the_server_clock() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    // The PBX's clock runs two minutes ahead of ctid's.
    apply(&app, event("1001", "a", "talking", now() + 120.0)).await;
    assert_eq!(call_states(&app).await, [call("a", "1001", "talking", json!(alice))]);
    resync(&app, json!([])).await;
    assert_eq!(call_states(&app).await, NO_CALLS, "a call missing from the resync ends");
    assert!(!on_phone(&app, &login, "alice").await);
}

#[tokio::test]
async fn the_same_resync_twice_changes_nothing_more() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let calls = json!([event("1001", "a", "talking", base_time())]);
    resync(&app, calls.clone()).await;
    watch.expect_flips(&[true]).await;
    resync(&app, calls).await;
    watch.expect_quiet().await;
    assert_eq!(call_states(&app).await, [call("a", "1001", "talking", json!(alice))]);
}

#[tokio::test]
async fn resync_body_errors_change_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _) = agent_with_lines(&app, "alice", &["1001"]).await;
    let t = base_time();
    apply(&app, event("1001", "a", "talking", t + 1.0)).await;
    let path = "/1.1/telephony/calls";

    app.put(path, "{}").await.assert_error(400, &["Missing parameters: calls"]);
    app.put(path, r#"{"calls": null}"#).await.assert_error(400, &["Missing parameters: calls"]);
    app.put(path, r#"{"calls": [], "colour": "red"}"#).await.assert_error(400, &["Invalid parameters: colour"]);
    app.put(path, "").await.assert_error(400, &[NO_DATA]);
    app.put(path, "[]").await.assert_error(400, &["Invalid parameters: the request body must be a JSON object"]);
    let mut bad_state = event("1001", "b", "talking", t + 2.0);
    bad_state["state"] = json!("busy");
    app.put(path, &json!({ "calls": [bad_state] }).to_string()).await.assert_error(400, &[BAD_STATE]);
    // Only calls that are up are listed: an idle one is refused.
    let reply = app.put(path, &json!({"calls": [event("1001", "b", "idle", t + 2.0)]}).to_string()).await;
    assert_eq!(reply.status.as_u16(), 400, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.json().as_array().is_some_and(|m| m.len() == 1 && m[0].is_string()), "{}", reply.body);

    assert_eq!(call_states(&app).await, [call("a", "1001", "talking", json!(alice))]);
}

// ---- upgrade ----

/// A database as a ctid that kept call times in milliseconds left it: its migrations (those
/// before 0003) applied, and line 1001 with a `talking` call `old` on it, first reported at
/// `since_ms`, last at `at_ms`, and received just now.
async fn millisecond_database(url: &str, since_ms: i64, at_ms: i64) {
    let store = match backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let older = tempfile::tempdir().expect("dir");
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(store);
    for entry in std::fs::read_dir(migrations).expect("migrations") {
        let path = entry.expect("migration").path();
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        if name.as_str() < "0003" {
            std::fs::copy(&path, older.path().join(name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(older.path()).await.expect("older migrations");
    assert_eq!(migrator.iter().count(), 2, "{store}: the migrations before 0003");
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis();
    let rows = format!(
        "INSERT INTO lines (name, protocol, context) VALUES ('1001', 'sip', 'default'); \
         INSERT INTO calls (line_id, call_id, state, at_ms, since_ms, seen_ms) \
         SELECT id, 'old', 'talking', {at_ms}, {since_ms}, {now_ms} FROM lines WHERE name = '1001';"
    );
    match backend() {
        Backend::Sqlite => {
            let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("URL").create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("connect");
            migrator.run(&pool).await.expect("migrate");
            sqlx::raw_sql(&rows).execute(&pool).await.expect("rows");
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            migrator.run(&pool).await.expect("migrate");
            sqlx::raw_sql(&rows).execute(&pool).await.expect("rows");
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn calls_recorded_in_milliseconds_keep_their_times_after_an_upgrade() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let t = base_time() as i64;
    // First reported at T + 0.25 s, last at T + 0.5 s.
    millisecond_database(&url, t * 1000 + 250, t * 1000 + 500).await;
    let app = TestApp::spawn_on(dir, &url, &[], &[]).await;

    let calls = active_calls(&app).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let since = OffsetDateTime::from_unix_timestamp(t).expect("in range").format(&Rfc3339).expect("format");
    assert_eq!(calls[0]["since"], since.as_str(), "{calls:?}");
    assert_eq!(call_states(&app).await, [call("old", "1001", "talking", Value::Null)]);
    let lines = app.get("/1.1/lines").await.json();
    let line = lines["items"].as_array().expect("items")[0]["id"].as_i64().expect("id");
    let (alice, _) = agent_with_lines(&app, "alice", &[]).await;
    associate(&app, alice, line).await;
    let login = app.icws_login("alice", "secret").await;
    assert!(on_phone(&app, &login, "alice").await);

    // The last report is still at T + 0.5 s, to the microsecond: a microsecond before is
    // older, the same instant is a tie that idle wins.
    let idle =
        |micros: u32| format!(r#"{{"line": "1001", "call_id": "old", "state": "idle", "timestamp": {t}.{micros:06}}}"#);
    assert_no_content(&app.post("/1.1/telephony/events", &idle(499_999)).await);
    assert_eq!(call_states(&app).await, [call("old", "1001", "talking", json!(alice))]);
    assert_no_content(&app.post("/1.1/telephony/events", &idle(500_000)).await);
    assert_eq!(call_states(&app).await, NO_CALLS);
    assert!(!on_phone(&app, &login, "alice").await);
}

// ---- refusals ----

#[tokio::test]
async fn an_unknown_line_is_refused_and_nothing_of_the_request_applied() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;
    let t = base_time();

    post_events(&app, &event("9999", "c1", "talking", t + 1.0))
        .await
        .assert_error(400, &["Nonexistent parameters: line 9999 does not exist"]);
    post_events(&app, &json!([event("1001", "c1", "talking", t + 1.0), event("1009", "c2", "talking", t + 1.0)]))
        .await
        .assert_error(400, &["Nonexistent parameters: line 1009 does not exist"]);
    // Names match exactly.
    create_line(&app, "Desk").await;
    post_events(&app, &event("desk", "c3", "talking", t + 1.0))
        .await
        .assert_error(400, &["Nonexistent parameters: line desk does not exist"]);
    assert_eq!(call_states(&app).await, NO_CALLS);
    assert!(!on_phone(&app, &login, "alice").await);
    watch.expect_quiet().await;

    // The refused call was not recorded either: it starts normally now.
    apply(&app, event("1001", "c1", "talking", t + 1.0)).await;
    watch.expect_flips(&[true]).await;
}

#[tokio::test]
async fn missing_members_are_refused() {
    let app = TestApp::spawn().await;
    create_line(&app, "1001").await;
    let t = base_time();
    for field in ["line", "call_id", "state", "timestamp"] {
        let mut body = event("1001", "c1", "talking", t);
        body.as_object_mut().expect("object").remove(field);
        post_events(&app, &body).await.assert_error(400, &[&format!("Missing parameters: {field}")]);
        let mut body = event("1001", "c1", "talking", t);
        body[field] = Value::Null;
        post_events(&app, &body).await.assert_error(400, &[&format!("Missing parameters: {field}")]);
    }
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn a_bad_state_or_timestamp_is_refused() {
    let app = TestApp::spawn().await;
    create_line(&app, "1001").await;
    let t = base_time();
    for state in [json!("busy"), json!(""), json!("hangup"), json!(2)] {
        let mut body = event("1001", "c1", "talking", t);
        body["state"] = state;
        post_events(&app, &body).await.assert_error(400, &[BAD_STATE]);
    }
    for timestamp in [
        json!("yesterday"),
        json!(""),
        json!("2026-13-40T00:00:00Z"),
        json!("2026-11-23T25:04:05Z"),
        json!("1763912345"),
        json!(true),
        json!([1763912345]),
        json!({"seconds": 1763912345}),
    ] {
        let mut body = event("1001", "c1", "talking", t);
        body["timestamp"] = timestamp;
        post_events(&app, &body).await.assert_error(400, &[BAD_TIMESTAMP]);
    }
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn an_array_is_validated_whole_before_anything_is_applied() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();
    let good = event("1001", "c1", "talking", t + 1.0);
    let mut bad_state = event("1001", "c2", "talking", t + 2.0);
    bad_state["state"] = json!("busy");
    post_events(&app, &json!([good, bad_state])).await.assert_error(400, &[BAD_STATE]);
    let mut bad_time = event("1001", "c2", "talking", t + 2.0);
    bad_time["timestamp"] = json!("soon");
    post_events(&app, &json!([good, bad_time])).await.assert_error(400, &[BAD_TIMESTAMP]);
    let mut missing = event("1001", "c2", "talking", t + 2.0);
    missing.as_object_mut().expect("object").remove("call_id");
    post_events(&app, &json!([good, missing])).await.assert_error(400, &["Missing parameters: call_id"]);
    assert_eq!(call_states(&app).await, NO_CALLS);
    assert!(!on_phone(&app, &login, "alice").await);
}

#[tokio::test]
async fn a_body_that_is_not_events_is_refused() {
    let app = TestApp::spawn().await;
    create_line(&app, "1001").await;
    let t = base_time();
    post_events(&app, &{
        let mut body = event("1001", "c1", "talking", t);
        body["colour"] = json!("red");
        body
    })
    .await
    .assert_error(400, &["Invalid parameters: colour"]);
    let reply = app.post("/1.1/telephony/events", "").await;
    reply.assert_error(400, &[NO_DATA]);
    let reply = app.post("/1.1/telephony/events", "line=1001").await;
    reply.assert_error(400, &[NO_DATA]);
    for body in ["42", r#""talking""#, "[42]", r#"[["1001"]]"#] {
        let reply = app.post("/1.1/telephony/events", body).await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"), "{body}");
        assert!(reply.json().as_array().is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)), "{body}");
    }
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn telephony_needs_web_service_credentials() {
    let app = TestApp::spawn().await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    let t = base_time();
    let events_body = event("1001", "c1", "talking", t).to_string();
    let calls_body = json!({"calls": [event("1001", "c2", "talking", t)]}).to_string();
    for (method, path, body) in [
        (Method::POST, "/1.1/telephony/events", events_body.as_str()),
        (Method::PUT, "/1.1/telephony/calls", calls_body.as_str()),
        (Method::GET, "/1.1/telephony/calls", ""),
    ] {
        let anonymous = send(app.client.request(method.clone(), app.url(path)).body(body.to_string())).await;
        anonymous.assert_error(401, &["Authentication required"]);
        assert!(anonymous.header("www-authenticate").is_some(), "{method} {path}");
        let wrong = send(
            app.client.request(method.clone(), app.url(path)).basic_auth("admin", Some("wrong")).body(body.to_string()),
        )
        .await;
        wrong.assert_error(401, &["Authentication required"]);
        // An ICWS session is no web-service credential.
        let session = send(
            app.client
                .request(method.clone(), app.url(path))
                .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
                .header("Cookie", &login.cookie)
                .body(body.to_string()),
        )
        .await;
        session.assert_error(401, &["Authentication required"]);
    }
    assert_eq!(call_states(&app).await, NO_CALLS);
    assert!(!on_phone(&app, &login, "alice").await);
}

// ---- stale calls ----

#[tokio::test]
async fn a_call_without_news_for_longer_than_the_maximum_age_ends() {
    let app = TestApp::spawn_with(&["--max-call-age", "1"], &[]).await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = watcher(&app).await;
    let mut watch = Watch::start(&app, &login, "alice").await;

    apply(&app, event("1001", "c1", "talking", now())).await;
    watch.expect_flips(&[true]).await;
    // Ended by the server: the flip back may take a few checks.
    wait_on_phone(&app, &login, "alice", false, Duration::from_secs(20)).await;
    watch.expect_flips(&[false]).await;
    watch.expect_quiet().await;
    assert_eq!(call_states(&app).await, NO_CALLS);
}

#[tokio::test]
async fn the_maximum_call_age_may_come_from_the_environment() {
    let app = TestApp::spawn_with(&[], &[("CTID_MAX_CALL_AGE", "1")]).await;
    agent_with_lines(&app, "alice", &["1001"]).await;
    let login = app.icws_login("alice", "secret").await;
    apply(&app, event("1001", "c1", "ringing", now())).await;
    wait_on_phone(&app, &login, "alice", false, Duration::from_secs(20)).await;
    assert_eq!(call_states(&app).await, NO_CALLS);
}
