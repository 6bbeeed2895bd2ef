//! `/icws/connection` and `/icws/{sessionId}/connection`: login, server information, sessions,
//! station login, CORS and status icons (SPEC §3 "Wire rules" and "Connection").

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const CHALLENGE: &str = r#"ICWS realm="ICWS" location="/ICWS/connection""#;
const LOGIN_TYPE: &str = "urn:inin.com:connection:icAuthConnectionRequestSettings";

fn login_body(user: &str, password: &str) -> String {
    json!({"__type": LOGIN_TYPE, "applicationName": "ctid tests", "userID": user, "password": password}).to_string()
}

/// `POST /icws/connection{query}` with a raw body and an optional Content-Type.
async fn post_login(app: &TestApp, query: &str, body: &str, content_type: Option<&str>) -> Reply {
    let mut builder = app.client.post(app.url(&format!("/icws/connection{query}"))).body(body.to_string());
    if let Some(content_type) = content_type {
        builder = builder.header("Content-Type", content_type);
    }
    send(builder).await
}

/// A session request with whatever token and cookie the test chooses.
async fn session_request(
    app: &TestApp,
    method: Method,
    session_id: &str,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
) -> Reply {
    let mut builder = app.client.request(method, app.url(&format!("/icws/{session_id}{path}")));
    if let Some(token) = token {
        builder = builder.header("ININ-ICWS-CSRF-Token", token);
    }
    if let Some(cookie) = cookie {
        builder = builder.header("Cookie", cookie);
    }
    send(builder).await
}

/// An ICWS error body (vendor Content-Type, `errorId` and `message`) with this status.
#[track_caller]
fn assert_icws_error_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert!(body["errorId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// 401 with exactly the ICWS challenge and an ICWS error body.
#[track_caller]
fn assert_unauthorized(reply: &Reply) {
    assert_icws_error_status(reply, 401);
    let challenges: Vec<_> = reply.headers.get_all("www-authenticate").iter().collect();
    assert_eq!(challenges, [CHALLENGE], "WWW-Authenticate");
}

/// A 400 derived error naming a property.
#[track_caller]
fn assert_property_error(reply: &Reply, error_id: &str, kind: &str, property: &str) {
    reply.assert_icws_error(400, error_id);
    let body = reply.json();
    assert_eq!(body["__type"], kind, "{body}");
    assert_eq!(body["propertyName"], property, "{body}");
}

#[track_caller]
fn assert_missing(reply: &Reply, property: &str) {
    assert_property_error(
        reply,
        "error.request.invalidRepresentation.missingRequired",
        "urn:inin.com:common:missingPropertyError",
        property,
    );
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

/// The names of an object's members, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn feature_version(features: &Value, id: &str) -> Option<i64> {
    features.as_array().expect("feature list").iter().find(|f| f["featureId"] == id).and_then(|f| f["version"].as_i64())
}

#[track_caller]
fn assert_features(features: &Value) {
    assert!(feature_version(features, "connection").is_some_and(|v| v >= 3), "{features}");
    assert_eq!(feature_version(features, "messaging"), Some(2), "{features}");
    assert_eq!(feature_version(features, "status"), Some(2), "{features}");
}

#[track_caller]
fn assert_version(version: &Value) {
    let members = version.as_object().expect("version object");
    assert!(!members.is_empty(), "{version}");
    for (name, value) in members {
        assert!(value.is_string(), "version member {name} is not a string: {version}");
    }
}

// ---- login ----

#[tokio::test]
async fn login_answers_201_with_session_headers_one_cookie_and_the_connection_body() {
    let app = TestApp::spawn_with(&["--server-name", "pbx1"], &[]).await;
    let id = app
        .create_user(json!({"firstname": "Alice", "lastname": "Smith", "username": "ASmith", "password": "pa55word"}))
        .await;
    assert_eq!(app.post(&format!("/1.1/users/{id}/cti_profile"), r#"{"cti_profile_id": 2}"#).await.status, 201);

    let reply = app.icws_login_raw("asmith", "pa55word").await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let sid = reply.header("inin-icws-session-id").expect("ININ-ICWS-Session-ID").to_string();
    assert!(!sid.is_empty() && sid.bytes().all(|b| b.is_ascii_digit()), "session id {sid:?}");
    let token = reply.header("inin-icws-csrf-token").expect("ININ-ICWS-CSRF-Token").to_string();
    assert!(token.len() >= 16, "token {token:?}");
    assert_eq!(reply.header("location"), Some(format!("/icws/{sid}/connection").as_str()));

    let cookies: Vec<&str> =
        reply.headers.get_all("set-cookie").iter().map(|v| v.to_str().expect("ASCII Set-Cookie")).collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let prefix = format!("icws_{sid}=");
    let value = cookies[0].strip_prefix(&prefix).expect("icws_{sid}=").split(';').next().expect("value");
    assert!(value.len() >= 16, "cookie value {value:?}");
    assert_eq!(cookies[0], format!("icws_{sid}={value}; Path=/icws/{sid}; HttpOnly"));

    assert_eq!(
        reply.json(),
        json!({
            "csrfToken": token,
            "sessionId": sid,
            "alternateHostList": [],
            "userID": "ASmith",
            "userDisplayName": "Alice Smith",
            "icServer": "pbx1"
        })
    );
}

#[tokio::test]
async fn every_login_gets_its_own_session_token_and_cookie() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let first = app.icws_login("agent", "secret").await;
    let second = app.icws_login("agent", "secret").await;
    assert_ne!(first.session_id, second.session_id);
    assert_ne!(first.csrf_token, second.csrf_token);
    assert_ne!(first.cookie.split_once('=').map(|c| c.1), second.cookie.split_once('=').map(|c| c.1));
    for login in [&first, &second] {
        let reply = app.icws(Method::GET, login, "/connection", None).await;
        assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    }
}

#[tokio::test]
async fn include_adds_features_version_and_server_time() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let reply = post_login(&app, "?include=features,version,server-time", &login_body("agent", "secret"), None).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let body = reply.json();
    assert_features(&body["features"]);
    assert_version(&body["version"]);
    assert_eq!(keys(&body["serverTimeInfo"]), ["serverUtcTime"]);
    let time = body["serverTimeInfo"]["serverUtcTime"].as_str().expect("serverUtcTime");
    assert!(is_icws_date(time), "{time}");
}

#[tokio::test]
async fn without_include_the_body_has_no_optional_members() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    assert_eq!(
        keys(&login.body),
        ["alternateHostList", "csrfToken", "icServer", "sessionId", "userDisplayName", "userID"]
    );
}

#[tokio::test]
async fn include_is_percent_decoded_and_may_be_repeated() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    for query in ["?include=features%2Cversion", "?include=features&include=version", "?include=version,features"] {
        let reply = post_login(&app, query, &login_body("agent", "secret"), None).await;
        assert_eq!(reply.status.as_u16(), 201, "{query}: {}", reply.body);
        let body = reply.json();
        assert_features(&body["features"]);
        assert_version(&body["version"]);
        assert!(body.get("serverTimeInfo").is_none(), "{query}: {body}");
    }
}

#[tokio::test]
async fn unknown_include_values_are_ignored() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let reply = post_login(&app, "?include=bogus,version,nothing", &login_body("agent", "secret"), None).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let body = reply.json();
    assert_version(&body["version"]);
    assert!(body.get("features").is_none(), "{body}");
    let only_unknown = post_login(&app, "?include=bogus", &login_body("agent", "secret"), None).await;
    assert_eq!(only_unknown.status.as_u16(), 201, "body: {}", only_unknown.body);
    assert_eq!(
        keys(&only_unknown.json()),
        ["alternateHostList", "csrfToken", "icServer", "sessionId", "userDisplayName", "userID"]
    );
}

#[tokio::test]
async fn login_body_is_json_whatever_the_content_type() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("application/json"),
        Some("application/vnd.inin.icws+JSON"),
        None,
    ] {
        let reply = post_login(&app, "", &login_body("agent", "secret"), content_type).await;
        assert_eq!(reply.status.as_u16(), 201, "{content_type:?}: {}", reply.body);
        assert_eq!(reply.json()["userID"], "agent");
    }
}

#[tokio::test]
async fn login_ignores_unknown_members_and_needs_no_application_name() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let body = json!({"__type": LOGIN_TYPE, "userID": "agent", "password": "secret", "marketingPartnerId": "x"});
    let reply = post_login(&app, "", &body.to_string(), None).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
}

// ---- server information ----

#[tokio::test]
async fn version_has_string_members_only() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/icws/connection/version"))).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_version(&reply.json());
}

#[tokio::test]
async fn features_list_connection_messaging_and_status() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/icws/connection/features"))).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let list = reply.json()["featureInfoList"].clone();
    assert_features(&list);

    let status = send(app.client.get(app.url("/icws/connection/features/status"))).await;
    assert_eq!(status.status.as_u16(), 200, "body: {}", status.body);
    assert_eq!(status.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let listed = list.as_array().expect("list").iter().find(|f| f["featureId"] == "status").cloned();
    assert_eq!(Some(status.json()), listed);

    let unknown = send(app.client.get(app.url("/icws/connection/features/nope"))).await;
    assert_icws_error_status(&unknown, 400);
}

#[tokio::test]
async fn server_time_is_in_the_icws_basic_form() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/icws/connection/server-time"))).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert_eq!(keys(&body), ["serverUtcTime"]);
    let time = body["serverUtcTime"].as_str().expect("serverUtcTime");
    assert!(is_icws_date(time), "{time}");
    assert!(&time[..4] >= "2024", "{time}");
}

// ---- authentication failures ----

#[tokio::test]
async fn authentication_failures_look_the_same_whatever_the_cause() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.create_user(json!({"firstname": "No", "lastname": "Profile", "username": "noprofile", "password": "secret"}))
        .await;
    let no_password = app.create_user(json!({"firstname": "No", "lastname": "Password", "username": "nopass"})).await;
    let reply = app.post(&format!("/1.1/users/{no_password}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);

    let mut messages = Vec::new();
    for (user, password) in [("agent", "wrong"), ("ghost", "secret"), ("noprofile", "secret"), ("nopass", "secret")] {
        let reply = app.icws_login_raw(user, password).await;
        reply.assert_icws_error(400, "error.request.connection.authenticationFailure");
        assert!(reply.headers.get("set-cookie").is_none(), "{user}");
        assert!(reply.headers.get("inin-icws-session-id").is_none(), "{user}");
        messages.push(reply.json()["message"].clone());
    }
    assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
}

#[tokio::test]
async fn missing_credentials_are_missing_required_properties() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let no_user = json!({"__type": LOGIN_TYPE, "applicationName": "t", "password": "secret"});
    assert_missing(&post_login(&app, "", &no_user.to_string(), None).await, "userID");
    let no_password = json!({"__type": LOGIN_TYPE, "applicationName": "t", "userID": "agent"});
    assert_missing(&post_login(&app, "", &no_password.to_string(), None).await, "password");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    let app = TestApp::spawn().await;
    for body in ["userID=agent&password=secret", "{\"userID\": ", ""] {
        let reply = post_login(&app, "", body, Some("application/x-www-form-urlencoded")).await;
        reply.assert_icws_error(400, "error.request.invalidRepresentation.malformed");
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_with_429_and_retry_after() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("other", "secret", 2).await;
    for attempt in 1..=5 {
        let reply = app.icws_login_raw("agent", "wrong").await;
        assert_eq!(reply.status.as_u16(), 400, "attempt {attempt}: {}", reply.body);
        reply.assert_icws_error(400, "error.request.connection.authenticationFailure");
    }
    let locked = app.icws_login_raw("agent", "secret").await;
    locked.assert_icws_error(429, "error.request.connection.throttled");
    let retry_after: u64 =
        locked.header("retry-after").expect("Retry-After").parse().expect("Retry-After in integer seconds");
    assert!(retry_after > 0 && retry_after <= 30, "Retry-After {retry_after}");
    let other_case = app.icws_login_raw("AGENT", "secret").await;
    other_case.assert_icws_error(429, "error.request.connection.throttled");

    let other = app.icws_login_raw("other", "secret").await;
    assert_eq!(other.status.as_u16(), 201, "another account is not affected: {}", other.body);
}

// ---- the session ----

#[tokio::test]
async fn connection_state_then_logout() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let state = app.icws(Method::GET, &login, "/connection", None).await;
    assert_eq!(state.status.as_u16(), 200, "body: {}", state.body);
    assert_eq!(state.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(state.json(), json!({"connectionState": 1}));

    let logout = app.icws(Method::DELETE, &login, "/connection", None).await;
    assert_eq!(logout.status.as_u16(), 200, "body: {}", logout.body);
    assert_unauthorized(&app.icws(Method::GET, &login, "/connection", None).await);
    assert_unauthorized(&app.icws(Method::GET, &login, "/status/status-messages", None).await);
    assert_unauthorized(&app.icws(Method::DELETE, &login, "/connection", None).await);
}

#[tokio::test]
async fn logout_ends_only_that_session() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let first = app.icws_login("agent", "secret").await;
    let second = app.icws_login("agent", "secret").await;
    assert_eq!(app.icws(Method::DELETE, &first, "/connection", None).await.status.as_u16(), 200);
    assert_unauthorized(&app.icws(Method::GET, &first, "/connection", None).await);
    assert_eq!(app.icws(Method::GET, &second, "/connection", None).await.json(), json!({"connectionState": 1}));
}

#[tokio::test]
async fn session_requests_need_the_right_token_and_cookie() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("other", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let other = app.icws_login("other", "secret").await;
    let sid = login.session_id.as_str();
    let token = login.csrf_token.as_str();
    let cookie = login.cookie.as_str();
    let wrong_cookie = format!("icws_{sid}=0123456789abcdef0123456789abcdef");
    // Another session's cookie value under this session's cookie name.
    let foreign_value = other.cookie.split_once('=').expect("cookie").1;
    let foreign_cookie = format!("icws_{sid}={foreign_value}");
    let unknown_sid = if sid == "1000000000000000000" { "1000000000000000001" } else { "1000000000000000000" };

    for (case, session, token, cookie) in [
        ("missing token", sid, None, Some(cookie)),
        ("wrong token", sid, Some("not-the-token"), Some(cookie)),
        ("other session's token", sid, Some(other.csrf_token.as_str()), Some(cookie)),
        ("missing cookie", sid, Some(token), None),
        ("wrong cookie", sid, Some(token), Some(wrong_cookie.as_str())),
        ("other session's cookie", sid, Some(token), Some(other.cookie.as_str())),
        ("other session's cookie value", sid, Some(token), Some(foreign_cookie.as_str())),
        ("unknown session id", unknown_sid, Some(token), Some(cookie)),
    ] {
        for path in ["/connection", "/status/status-messages"] {
            let reply = session_request(&app, Method::GET, session, path, token, cookie).await;
            assert_eq!(reply.status.as_u16(), 401, "{case} {path}: {}", reply.body);
            assert_unauthorized(&reply);
        }
    }
    // None of this ended the real session.
    assert_eq!(app.icws(Method::GET, &login, "/connection", None).await.json(), json!({"connectionState": 1}));
}

#[tokio::test]
async fn the_raw_set_cookie_line_and_lower_case_header_names_are_accepted() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let url = app.url(&format!("/icws/{}/connection", login.session_id));

    let raw = send(
        app.client.get(&url).header("ININ-ICWS-CSRF-Token", &login.csrf_token).header("Cookie", &login.set_cookie),
    )
    .await;
    assert_eq!(raw.status.as_u16(), 200, "raw Set-Cookie line: {}", raw.body);
    assert_eq!(raw.json(), json!({"connectionState": 1}));

    let lower =
        send(app.client.get(&url).header("inin-icws-csrf-token", &login.csrf_token).header("cookie", &login.cookie))
            .await;
    assert_eq!(lower.status.as_u16(), 200, "lower-case header names: {}", lower.body);

    let among_others = send(
        app.client
            .get(&url)
            .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
            .header("Cookie", format!("theme=dark; {}; lang=fr", login.cookie)),
    )
    .await;
    assert_eq!(among_others.status.as_u16(), 200, "cookie among others: {}", among_others.body);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = TestApp::spawn_with(&["--session-idle-timeout", "1"], &[]).await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    // Every successful request counts as activity, so the gaps between polls grow until one
    // exceeds the idle timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut gap = Duration::from_millis(100);
    let expired = loop {
        let reply = app.icws(Method::GET, &login, "/connection", None).await;
        if reply.status.as_u16() == 401 {
            break reply;
        }
        assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
        assert!(tokio::time::Instant::now() < deadline, "the session did not expire within 15 s");
        tokio::time::sleep(gap).await;
        gap = (gap * 2).min(Duration::from_millis(2500));
    };
    assert_unauthorized(&expired);
    assert_unauthorized(&app.icws(Method::GET, &login, "/status/status-messages", None).await);
    // A new login works.
    let again = app.icws_login("agent", "secret").await;
    assert_eq!(app.icws(Method::GET, &again, "/connection", None).await.status.as_u16(), 200);
}

// ---- the CTI profile governs the session ----

#[tokio::test]
async fn dissociating_the_cti_profile_ends_the_session() {
    let app = TestApp::spawn().await;
    let id = app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let kept = app.icws_login("agent", "secret").await;
    assert_eq!(app.delete(&format!("/1.1/users/{id}/cti_profile")).await.status.as_u16(), 204);
    assert_unauthorized(&app.icws(Method::GET, &login, "/connection", None).await);
    assert_unauthorized(&app.icws(Method::GET, &kept, "/status/status-messages", None).await);
    app.icws_login_raw("agent", "secret")
        .await
        .assert_icws_error(400, "error.request.connection.authenticationFailure");
}

#[tokio::test]
async fn deleting_the_user_ends_the_session() {
    let app = TestApp::spawn().await;
    let id = app.presence_user("agent", "secret", 2).await;
    app.presence_user("other", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let other = app.icws_login("other", "secret").await;
    assert_eq!(app.delete(&format!("/1.1/users/{id}")).await.status.as_u16(), 204);
    assert_unauthorized(&app.icws(Method::GET, &login, "/connection", None).await);
    assert_unauthorized(&app.icws(Method::GET, &login, "/status/user-statuses/agent", None).await);
    assert_eq!(app.icws(Method::GET, &other, "/connection", None).await.status.as_u16(), 200);
}

// ---- station login ----

#[tokio::test]
async fn station_login_and_logout_show_in_the_user_status() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let before = app.user_status(&login, "agent").await;
    assert_eq!(before["stations"], json!([]));
    assert_eq!(before["loggedIn"], false);

    let body = r#"{"__type":"urn:inin.com:connection:workstationSettings","workstation":"7001"}"#;
    let put = app.icws(Method::PUT, &login, "/connection/station", Some(body)).await;
    assert_eq!(put.status.as_u16(), 200, "body: {}", put.body);
    let logged_in = app.user_status(&login, "agent").await;
    assert_eq!(logged_in["stations"], json!(["7001"]));
    assert_eq!(logged_in["loggedIn"], true);

    let delete = app.icws(Method::DELETE, &login, "/connection/station", None).await;
    assert_eq!(delete.status.as_u16(), 200, "body: {}", delete.body);
    let logged_out = app.user_status(&login, "agent").await;
    assert_eq!(logged_out["stations"], json!([]));
    assert_eq!(logged_out["loggedIn"], false);
}

#[tokio::test]
async fn station_login_needs_a_workstation_and_a_session() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let reply = app
        .icws(
            Method::PUT,
            &login,
            "/connection/station",
            Some(r#"{"__type":"urn:inin.com:connection:workstationSettings"}"#),
        )
        .await;
    assert_missing(&reply, "workstation");
    let malformed = app.icws(Method::PUT, &login, "/connection/station", Some("workstation=7001")).await;
    malformed.assert_icws_error(400, "error.request.invalidRepresentation.malformed");
    let no_session = session_request(&app, Method::PUT, &login.session_id, "/connection/station", None, None).await;
    assert_unauthorized(&no_session);
    assert_eq!(app.user_status(&login, "agent").await["loggedIn"], false);
}

// ---- CORS ----

#[tokio::test]
async fn cors_echoes_the_origin_and_exposes_the_session_headers() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let reply = send(
        app.client
            .post(app.url("/icws/connection"))
            .header("Origin", "http://desk.example")
            .body(login_body("agent", "secret")),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://desk.example"));
    assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
    let exposed = reply.header_items("access-control-expose-headers");
    for header in ["inin-icws-session-id", "inin-icws-csrf-token", "location", "set-cookie"] {
        assert!(exposed.iter().any(|h| h == header), "{header} not exposed: {exposed:?}");
    }
}

#[tokio::test]
async fn cors_preflights_are_answered() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let reply = send(
        app.client
            .request(Method::OPTIONS, app.url(&format!("/icws/{}/status/user-statuses/agent", login.session_id)))
            .header("Origin", "http://desk.example")
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "ININ-ICWS-CSRF-Token, Content-Type"),
    )
    .await;
    assert!(reply.status.is_success(), "preflight: {} {}", reply.status, reply.body);
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://desk.example"));
    assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
    let methods = reply.header_items("access-control-allow-methods");
    assert!(methods.iter().any(|m| m == "put"), "{methods:?}");
    let allowed_headers = reply.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed_headers.contains("inin-icws-csrf-token"), "{allowed_headers:?}");
}

// ---- status icons ----

#[tokio::test]
async fn status_icons_are_served_without_a_session() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/icws/status-icons/available.png"))).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert!(!reply.body.is_empty());
    let unknown = send(app.client.get(app.url("/icws/status-icons/nope.png"))).await;
    unknown.assert_icws_error(404, "error.request.notFound");
}
