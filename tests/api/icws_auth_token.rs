//! Single-use login tokens: `POST /icws/{sessionId}/connection/unique-auth-token` and the login
//! with `authTokenConnectionRequestSettings` (SPEC §3 "More connection resources").

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN_LOGIN: &str = "urn:inin.com:connection:authTokenConnectionRequestSettings";
const FAILURE: &str = "error.request.connection.authenticationFailure";

/// A token for the session's user with this seed; asserts 200 and the body's shape.
async fn token_for(app: &TestApp, login: &IcwsLogin, seed: &str) -> String {
    let body = json!({"authTokenSeed": seed}).to_string();
    let reply = app.icws(Method::POST, login, "/connection/unique-auth-token", Some(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "only authToken: {body}");
    let token = body["authToken"].as_str().expect("authToken").to_string();
    assert!(token.len() >= 32, "{token}");
    token
}

/// `POST /icws/connection` with a token login body, raw.
async fn token_login(app: &TestApp, body: Value) -> Reply {
    send(app.client.post(app.url("/icws/connection")).body(body.to_string())).await
}

fn body(token: &str, seed: &str, source: &str) -> Value {
    json!({"__type": TOKEN_LOGIN, "applicationName": "second app", "authToken": token,
           "authTokenSeed": seed, "authTokenSourceSession": source})
}

/// The session a successful token login opened, checked like a password login's.
#[track_caller]
fn assert_opened(reply: &Reply, user: &str) -> IcwsLogin {
    let login = IcwsLogin::from_reply(reply);
    let session_id = login.session_id.as_str();
    assert_eq!(login.body["userID"], user, "{}", login.body);
    assert_eq!(login.body["sessionId"], session_id, "{}", login.body);
    assert_eq!(reply.header("location"), Some(format!("/icws/{session_id}/connection").as_str()));
    login
}

async fn connection_state(app: &TestApp, login: &IcwsLogin) -> StatusCode {
    app.icws(Method::GET, login, "/connection", None).await.status
}

#[tokio::test]
async fn a_token_opens_one_session_for_the_same_user_once() {
    let app = TestApp::spawn().await;
    app.presence_user("Agent.One", "secret", 2).await;
    let first = app.icws_login("agent.one", "secret").await;
    let token = token_for(&app, &first, "desk-7001").await;

    let reply = token_login(&app, body(&token, "desk-7001", &first.session_id)).await;
    let second = assert_opened(&reply, "Agent.One");
    assert_ne!(second.session_id, first.session_id);
    assert_eq!(connection_state(&app, &second).await, StatusCode::OK);
    assert_eq!(connection_state(&app, &first).await, StatusCode::OK, "the source session goes on");
    let status = app.icws(Method::GET, &second, "/status/user-statuses/agent.one", None).await;
    assert_eq!(status.json()["icServers"].as_array().map(Vec::len), Some(1), "{}", status.body);

    let again = token_login(&app, body(&token, "desk-7001", &first.session_id)).await;
    again.assert_icws_error(400, FAILURE);

    // Without naming the source session, a fresh token works too.
    let token = token_for(&app, &first, "x").await;
    let reply = token_login(
        &app,
        json!({"__type": TOKEN_LOGIN, "applicationName": "third", "authToken": token, "authTokenSeed": "x"}),
    )
    .await;
    assert_opened(&reply, "Agent.One");
}

#[tokio::test]
async fn a_wrong_seed_source_or_token_fails_like_a_wrong_password_and_burns_the_token() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("other", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    let other = app.icws_login("other", "secret").await;
    let password_failure = app.icws_login_raw("agent", "wrong").await;
    password_failure.assert_icws_error(400, FAILURE);

    let token = token_for(&app, &agent, "seed").await;
    let wrong_seed = token_login(&app, body(&token, "other seed", &agent.session_id)).await;
    wrong_seed.assert_icws_error(400, FAILURE);
    assert_eq!(wrong_seed.json()["message"], password_failure.json()["message"], "no hint of why");
    let right = token_login(&app, body(&token, "seed", &agent.session_id)).await;
    right.assert_icws_error(400, FAILURE);

    let token = token_for(&app, &agent, "seed").await;
    let wrong_source = token_login(&app, body(&token, "seed", &other.session_id)).await;
    wrong_source.assert_icws_error(400, FAILURE);

    let made_up = token_login(&app, body(&"0".repeat(64), "seed", &agent.session_id)).await;
    made_up.assert_icws_error(400, FAILURE);

    for (member, value) in [("authToken", Value::Null), ("authTokenSeed", json!(""))] {
        let mut incomplete = body("abc", "seed", &agent.session_id);
        incomplete[member] = value;
        let reply = token_login(&app, incomplete).await;
        reply.assert_icws_error(400, "error.request.invalidRepresentation.missingRequired");
        assert_eq!(reply.json()["propertyName"], member);
    }
    let reply = token_login(&app, json!({"__type": "urn:inin.com:connection:samlConnectionRequestSettings"})).await;
    reply.assert_icws_error(400, "error.request.invalidRepresentation.invalidProperty");
    assert_eq!(reply.json()["propertyName"], "__type");
}

#[tokio::test]
async fn a_token_expires_after_seven_seconds() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    let token = token_for(&app, &agent, "seed").await;
    // The token's lifetime is the point of this test, not a synchronisation.
    tokio::time::sleep(Duration::from_millis(7_300)).await;
    token_login(&app, body(&token, "seed", &agent.session_id)).await.assert_icws_error(400, FAILURE);
}

#[tokio::test]
async fn disconnecting_the_source_session_ends_it() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let first = app.icws_login("agent", "secret").await;
    let token = token_for(&app, &first, "handover").await;
    let mut handover = body(&token, "handover", &first.session_id);
    handover["disconnectSourceSession"] = json!(true);
    let second = assert_opened(&token_login(&app, handover).await, "agent");
    assert_eq!(connection_state(&app, &first).await, StatusCode::UNAUTHORIZED, "the source session ended");
    assert_eq!(connection_state(&app, &second).await, StatusCode::OK);
}

#[tokio::test]
async fn a_user_who_lost_the_cti_profile_cannot_use_a_token() {
    let app = TestApp::spawn().await;
    let id = app.presence_user("agent", "secret", 2).await;
    let first = app.icws_login("agent", "secret").await;
    let token = token_for(&app, &first, "seed").await;
    let reply = app.delete(&format!("/1.1/users/{id}/cti_profile")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    token_login(&app, body(&token, "seed", &first.session_id)).await.assert_icws_error(400, FAILURE);
}

#[tokio::test]
async fn asking_for_a_token_needs_a_session_and_a_bounded_seed() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    let no_seed = app.icws(Method::POST, &agent, "/connection/unique-auth-token", Some("{}")).await;
    no_seed.assert_icws_error(400, "error.request.invalidRepresentation.missingRequired");
    assert_eq!(no_seed.json()["propertyName"], "authTokenSeed");
    let long = json!({"authTokenSeed": "s".repeat(257)}).to_string();
    let too_long = app.icws(Method::POST, &agent, "/connection/unique-auth-token", Some(&long)).await;
    too_long.assert_icws_error(400, "error.request.invalidRepresentation.invalidProperty");
    let url = app.url(&format!("/icws/{}/connection/unique-auth-token", agent.session_id));
    let anonymous = send(app.client.post(url).body(r#"{"authTokenSeed":"x"}"#)).await;
    anonymous.assert_icws_error(401, "error.request.connection.invalidSession");
}

#[tokio::test]
async fn a_token_made_on_one_instance_is_valid_once_on_any_other() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let a = TestApp::spawn_at(&url, &[], &[]).await;
    let b = TestApp::spawn_at(&url, &[], &[]).await;
    a.presence_user("agent", "secret", 2).await;
    let first = a.icws_login("agent", "secret").await;
    let token = token_for(&a, &first, "seed").await;
    let mut handover = body(&token, "seed", &first.session_id);
    handover["disconnectSourceSession"] = json!(true);
    let second = assert_opened(&token_login(&b, handover.clone()).await, "agent");
    assert_eq!(connection_state(&a, &second).await, StatusCode::OK, "the new session is everywhere");
    assert_eq!(connection_state(&a, &first).await, StatusCode::UNAUTHORIZED, "the source ended everywhere");
    token_login(&a, handover).await.assert_icws_error(400, FAILURE);
}
