//! `/icws/{sessionId}/status/...`: the status catalog, what a user may select, and user
//! statuses (SPEC §3 "Status catalog" and "User status"; the seed's PUT example).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SERVER: &str = "pbx1";

const STATUS_MESSAGE_MEMBERS: [&str; 15] = [
    "statusId",
    "messageText",
    "iconUri",
    "groupTag",
    "canHaveDate",
    "canHaveTime",
    "canHaveForwardNumber",
    "isDoNotDisturbStatus",
    "isSelectableStatus",
    "isPersistentStatus",
    "isForwardStatus",
    "isAfterCallWorkStatus",
    "isAcdStatus",
    "isAllowFollowUpStatus",
    "systemId",
];

/// The members of a user status when no optional member is set.
const USER_STATUS_MEMBERS: [&str; 11] = [
    "hasDate",
    "hasTime",
    "icServers",
    "loggedIn",
    "onPhone",
    "onPhoneChanged",
    "presenceServer",
    "stations",
    "statusChanged",
    "statusId",
    "userId",
];

const MALFORMED: &str = "error.request.invalidRepresentation.malformed";
const MISSING: &str = "error.request.invalidRepresentation.missingRequired";
const INVALID: &str = "error.request.invalidRepresentation.invalidProperty";
const ACCESS_DENIED: &str = "error.request.accessDenied";
const NOT_FOUND: &str = "error.request.notFound";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&["--server-name", SERVER], &[]).await
}

/// Everything but ASCII letters and digits percent-encoded.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

async fn get_status(app: &TestApp, login: &IcwsLogin, user: &str) -> Reply {
    app.icws(Method::GET, login, &format!("/status/user-statuses/{user}"), None).await
}

async fn put_status(app: &TestApp, login: &IcwsLogin, user: &str, body: &str) -> Reply {
    app.icws(Method::PUT, login, &format!("/status/user-statuses/{user}"), Some(body)).await
}

/// GET that must answer 200; the body.
async fn status_of(app: &TestApp, login: &IcwsLogin, user: &str) -> Value {
    let reply = get_status(app, login, user).await;
    assert_eq!(reply.status.as_u16(), 200, "GET {user}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    reply.json()
}

/// 202 with exactly `{"requestId": "<non-empty string>"}`.
#[track_caller]
fn assert_accepted(reply: &Reply) -> String {
    assert_eq!(reply.status.as_u16(), 202, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert_eq!(keys(&body), ["requestId"], "{body}");
    let id = body["requestId"].as_str().expect("requestId is a string");
    assert!(!id.is_empty(), "{body}");
    id.to_string()
}

/// PUT that must answer 202.
async fn set_status(app: &TestApp, login: &IcwsLogin, user: &str, body: Value) {
    let reply = put_status(app, login, user, &body.to_string()).await;
    assert_accepted(&reply);
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

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names.dedup();
    names
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

async fn server_time(app: &TestApp) -> String {
    let reply = send(app.client.get(app.url("/icws/connection/server-time"))).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    reply.json()["serverUtcTime"].as_str().expect("serverUtcTime").to_string()
}

async fn create_profile(app: &TestApp, body: Value) -> i64 {
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

async fn catalog(app: &TestApp, login: &IcwsLogin) -> Vec<Value> {
    let reply = app.icws(Method::GET, login, "/status/status-messages", None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert_eq!(keys(&body), ["statusMessageList"]);
    body["statusMessageList"].as_array().expect("statusMessageList").clone()
}

// ---- the catalog ----

#[tokio::test]
async fn status_messages_list_the_fourteen_statuses_with_every_member() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let list = catalog(&app, &login).await;
    let ids: Vec<&str> = list.iter().map(|s| s["statusId"].as_str().expect("statusId")).collect();
    assert_eq!(ids, CATALOG);
    for status in &list {
        assert_eq!(keys(status), sorted(&STATUS_MESSAGE_MEMBERS), "{status}");
        for member in ["statusId", "messageText", "iconUri", "groupTag", "systemId"] {
            assert!(status[member].is_string(), "{member} of {status}");
        }
        for member in &STATUS_MESSAGE_MEMBERS[4..14] {
            assert!(status[*member].is_boolean(), "{member} of {status}");
        }
        let selectable = status["statusId"] != "AcdAgentNotAnswering";
        assert_eq!(status["isSelectableStatus"], selectable, "{status}");
    }
    let by_id = |id: &str| list.iter().find(|s| s["statusId"] == id).expect("listed").clone();
    let available = by_id("Available");
    assert_eq!(available["groupTag"], "AVAILABLE");
    assert_eq!(available["isAcdStatus"], true);
    assert_eq!(by_id("Available, No ACD")["groupTag"], "AVAILABLE");
    assert_eq!(by_id("Available, No ACD")["isAcdStatus"], false);
    assert_eq!(by_id("Available, Forward")["isForwardStatus"], true);
    assert_eq!(by_id("Available, Forward")["canHaveForwardNumber"], true);
    assert_eq!(by_id("At Lunch")["groupTag"], "BREAK");
    assert_eq!(by_id("At a training session")["groupTag"], "TRAINING");
    assert_eq!(by_id("Follow Up")["groupTag"], "FOLLOWUP");
    assert_eq!(by_id("Follow Up")["isAfterCallWorkStatus"], true);
    assert_eq!(by_id("In a meeting")["groupTag"], "UNAVAILABLE");
    assert_eq!(by_id("In a meeting")["isDoNotDisturbStatus"], true);
    for dated in ["Gone Home", "On Vacation", "Out of the office", "Out of Town"] {
        let status = by_id(dated);
        assert_eq!(status["groupTag"], "UNAVAILABLE", "{status}");
        assert_eq!(status["canHaveDate"], true, "{status}");
        assert_eq!(status["canHaveTime"], true, "{status}");
    }
    assert_eq!(by_id("At Lunch")["canHaveDate"], false);
}

#[tokio::test]
async fn every_icon_uri_is_served() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    for status in catalog(&app, &login).await {
        let uri = status["iconUri"].as_str().expect("iconUri");
        assert!(uri.starts_with('/'), "server-relative: {uri}");
        let reply = send(app.client.get(app.url(uri))).await;
        assert_eq!(reply.status.as_u16(), 200, "{uri}");
        assert_eq!(reply.header("content-type"), Some("image/png"), "{uri}");
        assert!(!reply.body.is_empty(), "{uri}");
    }
}

#[tokio::test]
async fn a_status_added_through_the_configuration_api_is_listed_and_selectable() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let reply = app
        .post(
            "/1.1/status_messages",
            r#"{"status_id": "Coffee Break", "message_text": "Having a coffee", "group_tag": "BREAK"}"#,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);

    let list = catalog(&app, &login).await;
    assert_eq!(list.len(), 15);
    let coffee = list.iter().find(|s| s["statusId"] == "Coffee Break").expect("Coffee Break listed");
    assert_eq!(keys(coffee), sorted(&STATUS_MESSAGE_MEMBERS));
    assert_eq!(coffee["messageText"], "Having a coffee");
    assert_eq!(coffee["groupTag"], "BREAK");
    assert_eq!(coffee["isSelectableStatus"], true);
    let icon = send(app.client.get(app.url(coffee["iconUri"].as_str().expect("iconUri")))).await;
    assert_eq!(icon.status.as_u16(), 200);
    assert_eq!(icon.header("content-type"), Some("image/png"));

    set_status(&app, &login, "agent", json!({"statusId": "coffee break"})).await;
    assert_eq!(status_of(&app, &login, "agent").await["statusId"], "Coffee Break");
}

#[tokio::test]
async fn user_access_follows_the_cti_profile_at_once() {
    let app = spawn().await;
    app.presence_user("Agent.One", "secret", 2).await;
    let login = app.icws_login("agent.one", "secret").await;
    let path = format!("/status/status-messages-user-access/{}", encode("AGENT.ONE"));
    let reply = app.icws(Method::GET, &login, &path, None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(reply.json(), json!({"userId": "Agent.One", "statusMessages": &CATALOG[..13]}));

    let change = app.put("/1.1/cti_profiles/2", r#"{"allowed_statuses": ["at lunch", "Available"]}"#).await;
    assert_eq!(change.status.as_u16(), 204, "body: {}", change.body);
    let reply = app.icws(Method::GET, &login, &path, None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.json(), json!({"userId": "Agent.One", "statusMessages": ["Available", "At Lunch"]}));

    let refused = put_status(&app, &login, "Agent.One", r#"{"statusId": "Gone Home"}"#).await;
    assert_property_error(&refused, INVALID, "statusId");
    set_status(&app, &login, "Agent.One", json!({"statusId": "At Lunch"})).await;
}

// ---- reading a status ----

#[tokio::test]
async fn a_new_user_is_available_and_every_member_is_shown() {
    let app = spawn().await;
    let before = server_time(&app).await;
    app.presence_user("Jane.Doe@corp", "secret", 2).await;
    let after = server_time(&app).await;
    app.presence_user("offline", "secret", 2).await;
    let login = app.icws_login("jane.doe@corp", "secret").await;

    let status = status_of(&app, &login, "Jane.Doe@corp").await;
    assert_eq!(keys(&status), sorted(&USER_STATUS_MEMBERS), "notes, forwardNumber, until are omitted: {status}");
    let changed = status["statusChanged"].as_str().expect("statusChanged").to_string();
    let on_phone_changed = status["onPhoneChanged"].as_str().expect("onPhoneChanged").to_string();
    assert!(is_icws_date(&changed), "{changed}");
    assert!(is_icws_date(&on_phone_changed), "{on_phone_changed}");
    assert!(before <= changed && changed <= after, "statusChanged {changed} is the creation time ({before}..{after})");
    assert_eq!(
        status,
        json!({
            "userId": "Jane.Doe@corp",
            "statusId": "Available",
            "hasDate": false,
            "hasTime": false,
            "onPhone": false,
            "onPhoneChanged": on_phone_changed,
            "statusChanged": changed,
            "stations": [],
            "icServers": [SERVER],
            "presenceServer": SERVER,
            "loggedIn": false
        })
    );

    let offline = status_of(&app, &login, "offline").await;
    assert_eq!(offline["userId"], "offline");
    assert_eq!(offline["icServers"], json!([]), "no open session: {offline}");
    assert_eq!(offline["loggedIn"], false);
}

#[tokio::test]
async fn the_user_id_is_percent_decoded_and_matched_case_insensitively() {
    let app = spawn().await;
    app.presence_user("Jane.Doe@corp", "secret", 2).await;
    let login = app.icws_login("Jane.Doe@corp", "secret").await;
    let encoded = encode("jAnE.dOe@CoRp");
    for path in ["JANE.DOE%40CORP", "jane.doe@corp", encoded.as_str()] {
        let status = status_of(&app, &login, path).await;
        assert_eq!(status["userId"], "Jane.Doe@corp", "{path}");
    }
    set_status(&app, &login, &encode("JANE.DOE@CORP"), json!({"statusId": "At Lunch"})).await;
    assert_eq!(status_of(&app, &login, "Jane.Doe@corp").await["statusId"], "At Lunch");
}

#[tokio::test]
async fn unknown_users_are_404() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 1).await;
    let login = app.icws_login("agent", "secret").await;
    get_status(&app, &login, "ghost").await.assert_icws_error(404, NOT_FOUND);
    put_status(&app, &login, "ghost", r#"{"statusId": "Available"}"#).await.assert_icws_error(404, NOT_FOUND);
}

// ---- changing a status ----

#[tokio::test]
async fn put_answers_202_and_the_change_is_visible_in_catalog_spelling() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let first = assert_accepted(&put_status(&app, &login, "agent", r#"{"statusId": "at LUNCH"}"#).await);
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "At Lunch");
    assert_eq!(status["userId"], "agent");
    let second = assert_accepted(&put_status(&app, &login, "agent", r#"{"statusId": "available, no acd"}"#).await);
    assert_ne!(first, second, "each request has its own id");
    assert_eq!(status_of(&app, &login, "agent").await["statusId"], "Available, No ACD");
}

#[tokio::test]
async fn the_seed_example_keeps_notes_and_clears_until() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let first = json!({
        "statusId": "On Vacation",
        "notes": "Touring France",
        "until": {"untilDateTime": "2012-02-16T16:42Z", "hasDate": true, "hasTime": true}
    });
    set_status(&app, &login, "agent", first).await;
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "On Vacation");
    assert_eq!(status["notes"], "Touring France");
    assert_eq!(status["until"], json!({"untilDateTime": "20120216T164200Z", "hasDate": true, "hasTime": true}));
    assert_eq!(status["untilDateTime"], "20120216T164200Z");
    assert_eq!(status["hasDate"], true);
    assert_eq!(status["hasTime"], true);

    set_status(&app, &login, "agent", json!({"statusId": "On Vacation"})).await;
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "On Vacation");
    assert_eq!(status["notes"], "Touring France");
    assert!(status.get("until").is_none(), "until is cleared when absent: {status}");
    assert!(status.get("untilDateTime").is_none(), "{status}");
    assert_eq!(status["hasDate"], false);
    assert_eq!(status["hasTime"], false);
}

#[tokio::test]
async fn until_may_be_sent_flat_in_either_date_form() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    for (sent, shown) in [("20300101T080000Z", "20300101T080000Z"), ("2030-06-15T17:30:00Z", "20300615T173000Z")] {
        let body = json!({"statusId": "Gone Home", "untilDateTime": sent, "hasDate": true, "hasTime": true});
        set_status(&app, &login, "agent", body).await;
        let status = status_of(&app, &login, "agent").await;
        assert_eq!(status["statusId"], "Gone Home");
        assert_eq!(status["until"], json!({"untilDateTime": shown, "hasDate": true, "hasTime": true}), "{sent}");
        assert_eq!(status["untilDateTime"], shown, "{sent}");
        assert_eq!(status["hasDate"], true);
        assert_eq!(status["hasTime"], true);
    }
}

#[tokio::test]
async fn until_is_ignored_for_a_status_without_date_and_time() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let body = json!({
        "statusId": "At Lunch",
        "until": {"untilDateTime": "2030-01-01T13:00Z", "hasDate": true, "hasTime": true}
    });
    set_status(&app, &login, "agent", body).await;
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "At Lunch");
    assert!(status.get("until").is_none(), "{status}");
    assert!(status.get("untilDateTime").is_none(), "{status}");
    assert_eq!(status["hasDate"], false);
    assert_eq!(status["hasTime"], false);
}

#[tokio::test]
async fn empty_notes_clear_the_notes() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    set_status(&app, &login, "agent", json!({"statusId": "At Lunch", "notes": "Back at 2"})).await;
    set_status(&app, &login, "agent", json!({"statusId": "Away from desk"})).await;
    let kept = status_of(&app, &login, "agent").await;
    assert_eq!(kept["notes"], "Back at 2");
    assert_eq!(kept["statusId"], "Away from desk");
    set_status(&app, &login, "agent", json!({"statusId": "Away from desk", "notes": ""})).await;
    let cleared = status_of(&app, &login, "agent").await;
    assert!(cleared.get("notes").is_none(), "{cleared}");
}

#[tokio::test]
async fn status_changed_moves_only_when_the_status_id_changes() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let initial = status_of(&app, &login, "agent").await["statusChanged"].as_str().expect("statusChanged").to_string();

    // Wait until the server clock has left the second of the creation, so a move would show.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while server_time(&app).await <= initial {
        assert!(tokio::time::Instant::now() < deadline, "the server clock did not move");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    set_status(&app, &login, "agent", json!({"statusId": "AVAILABLE", "notes": "Busy afternoon"})).await;
    let same = status_of(&app, &login, "agent").await;
    assert_eq!(same["statusId"], "Available");
    assert_eq!(same["notes"], "Busy afternoon");
    assert_eq!(same["statusChanged"], initial.as_str(), "the statusId did not change");

    set_status(&app, &login, "agent", json!({"statusId": "At Lunch"})).await;
    let moved = status_of(&app, &login, "agent").await;
    let moved_at = moved["statusChanged"].as_str().expect("statusChanged");
    assert!(is_icws_date(moved_at), "{moved_at}");
    assert!(moved_at > initial.as_str(), "statusChanged {moved_at} after {initial}");
}

#[tokio::test]
async fn a_forward_status_requires_a_forward_number() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let missing = put_status(&app, &login, "agent", r#"{"statusId": "Available, Forward"}"#).await;
    assert_property_error(&missing, MISSING, "forwardNumber");
    assert_eq!(status_of(&app, &login, "agent").await["statusId"], "Available");

    let body = json!({"statusId": "Available, Forward", "forwardNumber": "5551234"});
    set_status(&app, &login, "agent", body).await;
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "Available, Forward");
    assert_eq!(status["forwardNumber"], "5551234");
}

#[tokio::test]
async fn unknown_unselectable_and_disallowed_statuses_are_invalid() {
    let app = spawn().await;
    let restricted =
        create_profile(&app, json!({"name": "Lunch only", "allowed_statuses": ["Available", "At Lunch"]})).await;
    app.presence_user("super", "secret", 1).await;
    app.presence_user("agent", "secret", restricted).await;
    let login = app.icws_login("super", "secret").await;
    for (user, status) in [
        ("super", "Sleeping"),
        ("super", "AcdAgentNotAnswering"),
        ("super", "acdagentnotanswering"),
        ("agent", "Gone Home"),
        ("agent", "Sleeping"),
    ] {
        let reply = put_status(&app, &login, user, &json!({"statusId": status}).to_string()).await;
        assert_property_error(&reply, INVALID, "statusId");
        assert_eq!(status_of(&app, &login, user).await["statusId"], "Available", "{user} {status}");
    }
    // The supervisor's own profile allows it; the target's profile is what counts.
    set_status(&app, &login, "super", json!({"statusId": "Gone Home"})).await;
    set_status(&app, &login, "agent", json!({"statusId": "At Lunch"})).await;
    assert_eq!(status_of(&app, &login, "agent").await["statusId"], "At Lunch");
}

#[tokio::test]
async fn malformed_bodies_are_refused() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    assert_property_error(&put_status(&app, &login, "agent", r#"{"notes": "no status"}"#).await, MISSING, "statusId");
    put_status(&app, &login, "agent", r#"{"statusId": "#).await.assert_icws_error(400, MALFORMED);
    put_status(&app, &login, "agent", "statusId=Available").await.assert_icws_error(400, MALFORMED);
    let bad_date =
        json!({"statusId": "On Vacation", "until": {"untilDateTime": "tomorrow", "hasDate": true, "hasTime": true}});
    assert_property_error(&put_status(&app, &login, "agent", &bad_date.to_string()).await, INVALID, "untilDateTime");
    let bad_flat = json!({"statusId": "On Vacation", "untilDateTime": "2012-13-45T99:00Z"});
    assert_property_error(&put_status(&app, &login, "agent", &bad_flat.to_string()).await, INVALID, "untilDateTime");
    let status = status_of(&app, &login, "agent").await;
    assert_eq!(status["statusId"], "Available");
    assert!(status.get("notes").is_none(), "{status}");
}

#[tokio::test]
async fn put_bodies_are_json_whatever_the_content_type_and_unknown_members_are_ignored() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let url = app.url(&format!("/icws/{}/status/user-statuses/agent", login.session_id));
    for (content_type, status) in [
        (Some("application/x-www-form-urlencoded"), "At Lunch"),
        (Some("text/plain"), "Follow Up"),
        (None, "In a meeting"),
    ] {
        let body = json!({"statusId": status, "notes": "n", "__type": "urn:inin.com:status:userStatusUpdate", "x": 1});
        let mut builder = app
            .client
            .put(&url)
            .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
            .header("Cookie", &login.cookie)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            builder = builder.header("Content-Type", content_type);
        }
        assert_accepted(&send(builder).await);
        assert_eq!(status_of(&app, &login, "agent").await["statusId"], status, "{content_type:?}");
    }
}

// ---- permissions ----

#[tokio::test]
async fn a_view_self_profile_cannot_read_others() {
    let app = spawn().await;
    let loner = create_profile(&app, json!({"name": "Loner", "view_statuses": "self"})).await;
    app.presence_user("loner", "secret", loner).await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("loner", "secret").await;
    get_status(&app, &login, "agent").await.assert_icws_error(403, ACCESS_DENIED);
    assert_eq!(status_of(&app, &login, "loner").await["userId"], "loner");
    set_status(&app, &login, "loner", json!({"statusId": "At Lunch"})).await;
    // 403 is not 401: the session stands.
    assert_eq!(app.icws(Method::GET, &login, "/connection", None).await.status.as_u16(), 200);
}

#[tokio::test]
async fn an_agent_reads_but_cannot_change_another_user() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("colleague", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    assert_eq!(status_of(&app, &login, "colleague").await["statusId"], "Available");
    put_status(&app, &login, "colleague", r#"{"statusId": "At Lunch"}"#).await.assert_icws_error(403, ACCESS_DENIED);
    assert_eq!(status_of(&app, &login, "colleague").await["statusId"], "Available");
    assert_eq!(app.icws(Method::GET, &login, "/connection", None).await.status.as_u16(), 200);
    set_status(&app, &login, "agent", json!({"statusId": "At Lunch"})).await;
}

#[tokio::test]
async fn a_supervisor_changes_another_user() {
    let app = spawn().await;
    app.presence_user("super", "secret", 1).await;
    app.presence_user("agent", "secret", 2).await;
    let supervisor = app.icws_login("super", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    set_status(&app, &supervisor, "AGENT", json!({"statusId": "Do not disturb", "notes": "Coaching"})).await;
    let status = status_of(&app, &agent, "agent").await;
    assert_eq!(status["statusId"], "Do Not disturb");
    assert_eq!(status["notes"], "Coaching");
}

#[tokio::test]
async fn a_profile_change_applies_to_the_next_request_of_an_open_session() {
    let app = spawn().await;
    let loner = create_profile(&app, json!({"name": "Loner", "view_statuses": "self"})).await;
    let agent = app.presence_user("agent", "secret", 2).await;
    app.presence_user("colleague", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    put_status(&app, &login, "colleague", r#"{"statusId": "At Lunch"}"#).await.assert_icws_error(403, ACCESS_DENIED);

    let promote = app.put(&format!("/1.1/users/{agent}/cti_profile"), r#"{"cti_profile_id": 1}"#).await;
    assert_eq!(promote.status.as_u16(), 200, "body: {}", promote.body);
    set_status(&app, &login, "colleague", json!({"statusId": "At Lunch"})).await;
    assert_eq!(status_of(&app, &login, "colleague").await["statusId"], "At Lunch");

    let demote =
        app.put(&format!("/1.1/users/{agent}/cti_profile"), &json!({"cti_profile_id": loner}).to_string()).await;
    assert_eq!(demote.status.as_u16(), 200, "body: {}", demote.body);
    get_status(&app, &login, "colleague").await.assert_icws_error(403, ACCESS_DENIED);

    let widened = app.put("/1.1/cti_profiles/2", r#"{"change_statuses": "all"}"#).await;
    assert_eq!(widened.status.as_u16(), 204, "body: {}", widened.body);
    let back = app.put(&format!("/1.1/users/{agent}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    assert_eq!(back.status.as_u16(), 200, "body: {}", back.body);
    set_status(&app, &login, "colleague", json!({"statusId": "Available"})).await;
}

// ---- durability ----

#[tokio::test]
async fn a_status_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_on(dir, &url, &["--server-name", SERVER], &[]).await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let body = json!({
        "statusId": "Out of Town",
        "notes": "Conference in Lyon",
        "until": {"untilDateTime": "2030-03-01T09:00Z", "hasDate": true, "hasTime": true}
    });
    set_status(&app, &login, "agent", body).await;
    let before = status_of(&app, &login, "agent").await;
    app.kill();

    let restarted = TestApp::spawn_on(tempfile::tempdir().expect("dir"), &url, &["--server-name", SERVER], &[]).await;
    let again = restarted.icws_login("agent", "secret").await;
    let after = status_of(&restarted, &again, "agent").await;
    assert_eq!(after["statusId"], "Out of Town");
    assert_eq!(after["notes"], "Conference in Lyon");
    assert_eq!(after["until"], json!({"untilDateTime": "20300301T090000Z", "hasDate": true, "hasTime": true}));
    assert_eq!(after["statusChanged"], before["statusChanged"]);
    drop(app);
}

// ---- routing ----

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_icws_bodies() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    app.icws(Method::GET, &login, "/status/nothing-here", None).await.assert_icws_error(404, NOT_FOUND);
    send(app.client.get(app.url("/icws/no/such/resource"))).await.assert_icws_error(404, NOT_FOUND);

    let reply =
        app.icws(Method::POST, &login, "/status/user-statuses/agent", Some(r#"{"statusId": "Available"}"#)).await;
    assert_eq!(reply.status.as_u16(), 405, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert!(body["errorId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let delete = app.icws(Method::DELETE, &login, "/status/status-messages", None).await;
    assert_eq!(delete.status.as_u16(), 405, "body: {}", delete.body);
    assert_eq!(delete.header("content-type"), Some(ICWS_CONTENT_TYPE));
}

#[tokio::test]
async fn dates_the_server_cannot_hold_are_refused_not_crashed_on() {
    let app = spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    // An ISO week date at the end of year 9999, and an offset that carries past it.
    for sent in ["9999W527", "9999-12-31T23:59:59-23:59"] {
        let body = json!({"statusId": "Gone Home", "untilDateTime": sent, "hasDate": true, "hasTime": true});
        let reply = put_status(&app, &login, "agent", &body.to_string()).await;
        assert_eq!(reply.status.as_u16(), 400, "{sent}: {}", reply.body);
        assert_eq!(reply.json()["errorId"], "error.request.invalidRepresentation.invalidProperty", "{sent}");
    }
    assert_eq!(status_of(&app, &login, "agent").await["statusId"], "Available", "nothing was changed");
}
