//! A user's presence history through the presence API (ctid extension, SPEC §6 "History"):
//! `GET /icws/{sessionId}/status/status-history/{userId}?from=&to=` lists the user's status,
//! phone, station and session records of a window with who made each, under the view rights
//! of the user's status.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const ACCESS_DENIED: &str = "error.request.accessDenied";
const NOT_FOUND: &str = "error.request.notFound";
const INVALID_PROPERTY: &str = "error.request.invalidRepresentation.invalidProperty";

async fn get_history(app: &TestApp, login: &IcwsLogin, user: &str, query: &str) -> Reply {
    app.icws(Method::GET, login, &format!("/status/status-history/{user}{query}"), None).await
}

/// The items of `user`'s history (200 required, never truncated here).
async fn items_of(app: &TestApp, login: &IcwsLogin, user: &str, query: &str) -> Vec<Value> {
    let reply = get_history(app, login, user, query).await;
    assert_eq!(reply.status, StatusCode::OK, "GET history of {user}{query}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    assert!(body.get("truncated").is_none(), "{body}");
    body["items"].as_array().expect("items").clone()
}

/// The items of one kind.
fn of_kind(items: &[Value], kind: &str) -> Vec<Value> {
    items.iter().filter(|item| item["kind"] == kind).cloned().collect()
}

/// The members of an item, sorted.
fn members(item: &Value) -> Vec<String> {
    let mut names: Vec<String> = item.as_object().expect("an object").keys().cloned().collect();
    names.sort();
    names
}

#[tokio::test]
async fn status_changes_show_who_made_them() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("boss", "secret", 1).await;
    let agent = app.icws_login("agent", "secret").await;
    let boss = app.icws_login("boss", "secret").await;
    app.set_status(&agent, "agent", json!({"statusId": "At Lunch", "notes": "sandwich"})).await;
    app.set_status(&boss, "AGENT", json!({"statusId": "Available, Forward", "forwardNumber": "+33 1 23"})).await;
    let until = json!({"untilDateTime": "2030-12-31T17:00:00Z", "hasDate": true, "hasTime": true});
    app.set_status(&agent, "agent", json!({"statusId": "on vacation", "notes": "", "until": until})).await;

    let items = items_of(&app, &boss, "agent", "").await;
    let statuses = of_kind(&items, "status");
    assert_eq!(statuses.len(), 4, "{items:#?}");
    let strip = |item: &Value| {
        let mut item = item.clone();
        let object = item.as_object_mut().expect("an object");
        object.remove("id");
        object.remove("at");
        item
    };
    // Notes kept from the status before (sent as "" they are cleared: omitted, like the
    // forward number), the catalog's spelling, the until in RFC 3339.
    assert_eq!(
        statuses.iter().map(strip).collect::<Vec<_>>(),
        vec![
            // The user's creation through the configuration API.
            json!({"kind": "status", "statusId": "Available", "actor": {"type": "admin"}}),
            json!({"kind": "status", "statusId": "At Lunch", "notes": "sandwich",
                "actor": {"type": "user", "name": "agent"}}),
            json!({"kind": "status", "statusId": "Available, Forward", "notes": "sandwich",
                "forwardNumber": "+33 1 23", "actor": {"type": "user", "name": "boss"}}),
            json!({"kind": "status", "statusId": "On Vacation", "until": "2030-12-31T17:00:00.000Z",
                "actor": {"type": "user", "name": "agent"}}),
        ]
    );
    // Time order, numbers growing, `at` in RFC 3339 UTC with milliseconds.
    let ats: Vec<&str> = items.iter().map(|item| item["at"].as_str().expect("at")).collect();
    assert!(ats.windows(2).all(|pair| pair[0] <= pair[1]), "{ats:?}");
    let ids: Vec<i64> = items.iter().map(|item| item["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    for at in ats {
        assert_eq!(at.len(), "2026-12-07T14:00:00.250Z".len(), "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    }
    // The agent reads their own history alike.
    assert_eq!(items_of(&app, &agent, "agent", "").await, items);
}

#[tokio::test]
async fn sessions_and_stations_are_recorded() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("boss", "secret", 1).await;
    let boss = app.icws_login("boss", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    let station = json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001"});
    let reply = app.icws(Method::PUT, &agent, "/connection/station", Some(&station.to_string())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app.icws(Method::DELETE, &agent, "/connection/station", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app.icws(Method::DELETE, &agent, "/connection", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let items = items_of(&app, &boss, "agent", "").await;
    let sessions = of_kind(&items, "session");
    assert_eq!(sessions.len(), 2, "login and logout: {items:#?}");
    for item in &sessions {
        assert_eq!(item["sessionId"], json!(agent.session_id));
        assert_eq!(item["actor"], json!({"type": "user", "name": "agent"}));
        assert_eq!(members(item), ["actor", "at", "id", "kind", "sessionId"]);
    }
    let stations = of_kind(&items, "station");
    assert_eq!(stations.len(), 2, "station login and logout: {items:#?}");
    assert_eq!(stations[0]["station"], "7001");
    assert_eq!(members(&stations[0]), ["actor", "at", "id", "kind", "sessionId", "station"]);
    // A station logout names no station.
    assert_eq!(members(&stations[1]), ["actor", "at", "id", "kind", "sessionId"]);
    for item in &stations {
        assert_eq!(item["sessionId"], json!(agent.session_id));
        assert_eq!(item["actor"], json!({"type": "user", "name": "agent"}));
    }
    let kinds: Vec<&str> = items.iter().map(|item| item["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["status", "session", "station", "station", "session"], "creation, then time order");
    // The boss's history holds only the boss's creation and session.
    let own = items_of(&app, &boss, "boss", "").await;
    assert_eq!(own.len(), 2, "{own:#?}");
    assert_eq!(own[1]["sessionId"], json!(boss.session_id));
}

#[tokio::test]
async fn the_window_selects_the_records() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    for status in ["At Lunch", "Gone Home", "Available"] {
        app.set_status(&agent, "agent", json!({"statusId": status})).await;
        // Apart in time, so that each record has its own millisecond.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let all = items_of(&app, &agent, "agent", "").await;
    assert_eq!(all.len(), 5, "the creation, the login and three changes: {all:#?}");
    let at = all[3]["at"].as_str().expect("at");
    let encoded = at.replace(':', "%3A");

    // `from` is included, `to` is not.
    let after = items_of(&app, &agent, "agent", &format!("?from={encoded}")).await;
    assert_eq!(after, all[3..]);
    let before = items_of(&app, &agent, "agent", &format!("?to={encoded}")).await;
    assert_eq!(before, all[..3]);
    let from = all[2]["at"].as_str().expect("at");
    let between = items_of(&app, &agent, "agent", &format!("?from={from}&to={at}")).await;
    assert_eq!(between, all[2..3]);
    // A window before the user existed, with an offset.
    assert!(
        items_of(&app, &agent, "agent", "?from=2000-01-01T01:00:00%2B01:00&to=2000-01-02T00:00:00Z").await.is_empty()
    );
    assert!(items_of(&app, &agent, "agent", "?to=2000-01-01T00:00:00Z").await.is_empty());
}

#[tokio::test]
async fn bad_windows_name_the_parameter() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    for (query, name) in [
        ("?from=yesterday", "from"),
        ("?to=2027-13-01T00:00:00Z", "to"),
        ("?from=2027-01-01T00:00:00Z&to=", "to"),
        ("?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z", "to"),
        ("?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", "to"),
    ] {
        let reply = get_history(&app, &agent, "agent", query).await;
        reply.assert_icws_error(400, INVALID_PROPERTY);
        let body = reply.json();
        assert_eq!(body["propertyName"], name, "{query}: {body}");
        assert!(body["message"].as_str().expect("message").contains(name), "{query}: {body}");
    }
    // Unknown parameters are ignored.
    let reply = get_history(&app, &agent, "agent", "?kind=mood").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_viewer_without_rights_cannot_read_the_history() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "Loner", "view_statuses": "self"});
    let loner = app.post("/1.1/cti_profiles", &body.to_string()).await.json()["id"].as_i64().expect("profile id");
    app.presence_user("agent", "secret", loner).await;
    app.presence_user("peer", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    get_history(&app, &login, "peer", "").await.assert_icws_error(403, ACCESS_DENIED);
    // Unknown users are refused alike: nothing is learnt of who exists.
    get_history(&app, &login, "nobody", "").await.assert_icws_error(403, ACCESS_DENIED);
    let own = items_of(&app, &login, "agent", "").await;
    assert_eq!(of_kind(&own, "session").len(), 1, "{own:#?}");
    app.presence_user("boss", "secret", 1).await;
    let boss = app.icws_login("boss", "secret").await;
    get_history(&app, &boss, "nobody", "").await.assert_icws_error(404, NOT_FOUND);
    // Without a session: 401.
    let reply = app.get(&format!("/icws/{}/status/status-history/agent", login.session_id)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}

#[tokio::test]
async fn a_long_history_is_cut_at_a_thousand_records_and_says_so() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let agent = app.icws_login("agent", "secret").await;
    // The creation, the login and 999 changes.
    for i in 0..999 {
        let status = if i % 2 == 0 { "At Lunch" } else { "Available" };
        app.set_status(&agent, "agent", json!({"statusId": status})).await;
    }
    let reply = get_history(&app, &agent, "agent", "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["truncated"], true);
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1000);
    // The first ones of the window: the creation and the login come first, the last change
    // is left out.
    assert_eq!(items[0]["actor"]["type"], "admin");
    assert_eq!(items[1]["kind"], "session");
    assert_eq!(items[999]["statusId"], "Available");
    // From the last one read, the rest.
    let last = items[999]["at"].as_str().expect("at");
    let rest = items_of(&app, &agent, "agent", &format!("?from={last}")).await;
    assert_eq!(rest.len(), 2, "{rest:#?}");
    assert_eq!(rest[1]["statusId"], "At Lunch");
}

#[tokio::test]
async fn phone_changes_are_made_by_the_pbx() {
    let app = TestApp::spawn().await;
    let user = app.presence_user("agent", "secret", 2).await;
    let line = app.post("/1.1/lines", &json!({"name": "1001"}).to_string()).await;
    assert_eq!(line.status, StatusCode::CREATED, "{}", line.body);
    let line = line.json()["id"].as_i64().expect("line id");
    let associated = app.post(&format!("/1.1/users/{user}/lines"), &json!({"line_id": line}).to_string()).await;
    assert_eq!(associated.status, StatusCode::CREATED, "{}", associated.body);
    let login = app.icws_login("agent", "secret").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    for (state, at) in [("talking", now - 2.0), ("idle", now - 1.0)] {
        let event = json!({"line": "1001", "call_id": "c1", "state": state, "timestamp": at});
        let reply = app.post("/1.1/telephony/events", &event.to_string()).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    let phone = of_kind(&items_of(&app, &login, "agent", "").await, "phone");
    assert_eq!(phone.len(), 2, "{phone:#?}");
    assert_eq!(phone[0]["onPhone"], true);
    assert_eq!(phone[1]["onPhone"], false);
    for item in &phone {
        assert_eq!(item["actor"], json!({"type": "pbx"}));
        assert_eq!(members(item), ["actor", "at", "id", "kind", "onPhone"]);
    }
}
