//! Previous info (SPEC §5 "Previous info"): `GET …/status/user-status-previous-info/{userId}`
//! lists, for each status a user has held, the notes and forward number they last had with it;
//! `…/messaging/subscriptions/status/user-status-previous-info` pushes the session user's own
//! list, whole, then the entries that change. On both stores, across a restart, and in the
//! shape the vendor SDK decodes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::icws_message_shapes::{decode_message, decode_previous_infos};

const PREVIOUS_INFO: &str = "urn:inin.com:status:userStatusPreviousInfoMessage";
const COMPLETED: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
const SUBSCRIPTION: &str = "/messaging/subscriptions/status/user-status-previous-info";
const ACCESS_DENIED: &str = "error.request.accessDenied";
const NOT_FOUND: &str = "error.request.notFound";

async fn get_previous(app: &TestApp, login: &IcwsLogin, user: &str) -> Reply {
    app.icws(Method::GET, login, &format!("/status/user-status-previous-info/{user}"), None).await
}

/// The list `GET` answers (200, checked against the vendor contract).
async fn previous_of(app: &TestApp, login: &IcwsLogin, user: &str) -> Value {
    let reply = get_previous(app, login, user).await;
    assert_eq!(reply.status.as_u16(), 200, "GET previous info of {user}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    let body = reply.json();
    decode_previous_infos(&body).unwrap_or_else(|why| panic!("{why}: {body}"));
    body["userStatusPreviousInfoList"].clone()
}

/// Subscribes the session to its previous info with `body`; asserts 200 with no body.
async fn subscribe(app: &TestApp, login: &IcwsLogin, body: Option<&str>) {
    let reply = app.icws(Method::PUT, login, SUBSCRIPTION, body).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.body, "");
}

/// The next previous info message (checked against the vendor contract); other messages before
/// it are skipped.
async fn next_previous(inbox: &mut Inbox<'_>) -> Value {
    let seen = inbox.until("a previous info message", |m| m["__type"] == PREVIOUS_INFO).await;
    let message = seen.last().expect("a message").clone();
    decode_message(&message).unwrap_or_else(|why| panic!("{why}: {message}"));
    message
}

/// Every message up to the completion of `request`, which must hold no previous info.
async fn no_previous_until(inbox: &mut Inbox<'_>, request: &str) {
    let seen = inbox.until("the completion", |m| m["__type"] == COMPLETED && m["requestId"] == request).await;
    assert!(seen.iter().all(|m| m["__type"] != PREVIOUS_INFO), "{seen:#?}");
}

#[tokio::test]
async fn get_lists_each_status_held_with_its_last_notes_and_forward_number() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    // A new user has held `Available`, without notes.
    assert_eq!(previous_of(&app, &login, "agent").await, json!([{"statusId": "Available", "notes": ""}]));

    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "sandwich"})).await;
    app.set_status(
        &login,
        "agent",
        json!({"statusId": "Available, Forward", "forwardNumber": "+33 1 23", "notes": ""}),
    )
    .await;
    app.set_status(&login, "agent", json!({"statusId": "at lunch", "notes": "soup"})).await;
    // Notes kept from the status before, as a status change keeps them.
    app.set_status(&login, "agent", json!({"statusId": "Gone Home"})).await;
    let until = json!({"untilDateTime": "20301231T170000Z", "hasDate": true, "hasTime": true});
    app.set_status(&login, "agent", json!({"statusId": "On Vacation", "notes": "", "until": until})).await;
    app.set_status(&login, "agent", json!({"statusId": "Available", "notes": "back"})).await;

    // Catalog order; the latest notes of each; a forward number only where one was set.
    assert_eq!(
        previous_of(&app, &login, "agent").await,
        json!([
            {"statusId": "Available", "notes": "back"},
            {"statusId": "Available, Forward", "notes": "", "forwardNumber": "+33 1 23"},
            {"statusId": "At Lunch", "notes": "soup"},
            {"statusId": "Gone Home", "notes": "soup"},
            {"statusId": "On Vacation", "notes": ""},
        ])
    );
}

#[tokio::test]
async fn statuses_deleted_from_the_catalog_are_left_out() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let coffee = r#"{"status_id": "Coffee", "message_text": "Coffee", "group_tag": "BREAK"}"#;
    assert_eq!(app.post("/1.1/status_messages", coffee).await.status.as_u16(), 201);
    app.set_status(&login, "agent", json!({"statusId": "Coffee", "notes": "espresso"})).await;
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": ""})).await;
    let held: Vec<Value> = previous_of(&app, &login, "agent")
        .await
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["statusId"].clone())
        .collect();
    assert_eq!(held, [json!("Available"), json!("At Lunch"), json!("Coffee")]);

    assert_eq!(app.delete("/1.1/status_messages/Coffee").await.status.as_u16(), 204);
    assert_eq!(
        previous_of(&app, &login, "agent").await,
        json!([{"statusId": "Available", "notes": ""}, {"statusId": "At Lunch", "notes": ""}])
    );
}

#[tokio::test]
async fn get_has_the_rights_and_errors_of_user_statuses() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/cti_profiles", r#"{"name": "Loner", "view_statuses": "self"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let loner_profile = reply.json()["id"].as_i64().expect("id");
    app.presence_user("loner", "secret", loner_profile).await;
    app.presence_user("Agent.Smith@corp", "secret", 2).await;
    let loner = app.icws_login("loner", "secret").await;
    let agent = app.icws_login("Agent.Smith@corp", "secret").await;
    app.set_status(&agent, "Agent.Smith@corp", json!({"statusId": "At Lunch", "notes": "out"})).await;

    // Not viewable: 403, as for the user's status; the session stands.
    get_previous(&app, &loner, "Agent.Smith@corp").await.assert_icws_error(403, ACCESS_DENIED);
    app.icws(Method::GET, &loner, "/status/user-statuses/Agent.Smith@corp", None)
        .await
        .assert_icws_error(403, ACCESS_DENIED);
    // A view-self session learns nothing of who exists.
    get_previous(&app, &loner, "ghost").await.assert_icws_error(403, ACCESS_DENIED);
    assert_eq!(previous_of(&app, &loner, "LONER").await, json!([{"statusId": "Available", "notes": ""}]));
    assert_eq!(app.icws(Method::GET, &loner, "/connection", None).await.status.as_u16(), 200);

    // Unknown user: 404.
    get_previous(&app, &agent, "ghost").await.assert_icws_error(404, NOT_FOUND);

    // The user id is percent-decoded and matched case-insensitively.
    let expected = json!([{"statusId": "Available", "notes": ""}, {"statusId": "At Lunch", "notes": "out"}]);
    for path in ["AGENT.SMITH%40CORP", "agent.smith@corp", "aGeNt%2EsMiTh%40CoRp"] {
        assert_eq!(previous_of(&app, &agent, path).await, expected, "{path}");
    }
}

#[tokio::test]
async fn a_subscription_gets_the_whole_list_then_the_entries_that_change() {
    let app = TestApp::spawn().await;
    app.presence_user("boss", "secret", 1).await;
    app.presence_user("agent", "secret", 2).await;
    let boss = app.icws_login("boss", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    let other = app.icws_login("agent", "secret").await;
    app.set_status(&agent, "agent", json!({"statusId": "At Lunch", "notes": "soup"})).await;

    // An empty body: the whole list.
    subscribe(&app, &agent, None).await;
    let mut inbox = Inbox::new(&app, &agent);
    let whole = next_previous(&mut inbox).await;
    assert_eq!(
        whole,
        json!({"__type": PREVIOUS_INFO, "isDelta": false, "userStatusPreviousInfoList": [
            {"statusId": "Available", "notes": ""}, {"statusId": "At Lunch", "notes": "soup"}]})
    );

    // A change: only the entry it alters.
    app.set_status(&agent, "agent", json!({"statusId": "Available, Forward", "forwardNumber": "555", "notes": "fwd"}))
        .await;
    assert_eq!(
        next_previous(&mut inbox).await,
        json!({"__type": PREVIOUS_INFO, "isDelta": true, "userStatusPreviousInfoList": [
            {"statusId": "Available, Forward", "notes": "fwd", "forwardNumber": "555"}]})
    );
    // Made by someone else, it is the user's list all the same.
    app.set_status(&boss, "agent", json!({"statusId": "At Lunch", "notes": "salad"})).await;
    let delta = next_previous(&mut inbox).await;
    assert_eq!(delta["userStatusPreviousInfoList"], json!([{"statusId": "At Lunch", "notes": "salad"}]));
    // A change that alters no entry (the same status again, or back to a status with the notes
    // it had) sends nothing.
    let same = app.set_status(&agent, "agent", json!({"statusId": "At Lunch"})).await;
    no_previous_until(&mut inbox, &same).await;
    app.set_status(&agent, "agent", json!({"statusId": "Available, Forward", "forwardNumber": "555", "notes": "fwd"}))
        .await;
    let back = app.set_status(&agent, "agent", json!({"statusId": "At Lunch", "notes": "salad"})).await;
    no_previous_until(&mut inbox, &back).await;
    // Another user's change is not in this list.
    let elsewhere = app.set_status(&boss, "boss", json!({"statusId": "Gone Home", "notes": "bye"})).await;
    app.set_status(&agent, "agent", json!({"statusId": "Gone Home", "notes": "later"})).await;
    let delta = next_previous(&mut inbox).await;
    assert_eq!(delta["userStatusPreviousInfoList"], json!([{"statusId": "Gone Home", "notes": "later"}]));
    assert!(!delta.to_string().contains("bye"), "{delta} ({elsewhere})");

    // `{}` subscribes as well, and the whole list comes again.
    subscribe(&app, &agent, Some("{}")).await;
    let whole = next_previous(&mut inbox).await;
    assert_eq!(whole["isDelta"], false);
    assert_eq!(whole["userStatusPreviousInfoList"], previous_of(&app, &agent, "agent").await);

    // The other session of the same user did not subscribe: none of it.
    let messages = app.poll(&other).await;
    assert!(messages.iter().all(|m| m["__type"] != PREVIOUS_INFO), "{messages:#?}");

    // DELETE: 204, and no more.
    let reply = app.icws(Method::DELETE, &agent, SUBSCRIPTION, None).await;
    assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    let after = app.set_status(&agent, "agent", json!({"statusId": "Do Not disturb", "notes": "focus"})).await;
    no_previous_until(&mut inbox, &after).await;
}

#[tokio::test]
async fn the_list_and_the_subscription_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &[], &[]).await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "soup"})).await;
    app.set_status(&login, "agent", json!({"statusId": "Available, Forward", "forwardNumber": "555", "notes": ""}))
        .await;
    subscribe(&app, &login, None).await;
    let before = previous_of(&app, &login, "agent").await;
    assert_eq!(app.poll(&login).await.iter().filter(|m| m["__type"] == PREVIOUS_INFO).count(), 1);

    app.kill();
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    assert_eq!(previous_of(&app, &login, "agent").await, before);
    // The rebuilt session gets the whole list again, then the entries that change.
    let mut inbox = Inbox::new(&app, &login);
    let whole = next_previous(&mut inbox).await;
    assert_eq!(whole["isDelta"], false, "{whole}");
    assert_eq!(whole["userStatusPreviousInfoList"], before);
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "pasta"})).await;
    let delta = next_previous(&mut inbox).await;
    assert_eq!(
        delta,
        json!({"__type": PREVIOUS_INFO, "isDelta": true,
               "userStatusPreviousInfoList": [{"statusId": "At Lunch", "notes": "pasta"}]})
    );
    drop(app);
    drop_database(dir.path());
}

/// Every previous info object, answered or pushed, decodes with the vendor SDK's types:
/// `statusId` and `notes` present strings (never null), `forwardNumber` absent or a string.
#[tokio::test]
async fn every_previous_info_object_meets_the_vendor_contract() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    subscribe(&app, &login, None).await;
    let mut stream = app.sse(&login, None).await;
    let changes = [
        json!({"statusId": "Available, Forward", "forwardNumber": "+33 (0)1 23-45", "notes": ""}),
        json!({"statusId": "At Lunch", "notes": "nul \u{0} and \u{1}, quotes \" and é"}),
        json!({"statusId": "Out of Town", "notes": "", "until": {"untilDateTime": "2030-12-31T17:00Z"}}),
        json!({"statusId": "Available, Forward", "forwardNumber": "556"}),
        json!({"statusId": "Available", "notes": ""}),
    ];
    for change in &changes {
        app.set_status(&login, "agent", change.clone()).await;
        let list = previous_of(&app, &login, "agent").await;
        for entry in list.as_array().expect("list") {
            assert!(entry["notes"].is_string(), "{entry}");
            assert!(entry.get("forwardNumber").is_none_or(Value::is_string), "{entry}");
        }
    }
    let list = previous_of(&app, &login, "agent").await;
    assert_eq!(list[2], json!({"statusId": "At Lunch", "notes": "nul \u{0} and \u{1}, quotes \" and é"}));
    // Notes kept from `Out of Town`, which had none.
    assert_eq!(list[1], json!({"statusId": "Available, Forward", "notes": "", "forwardNumber": "556"}));

    // Pushed: the whole list, then one delta per change that altered an entry (the last change
    // puts back `Available` as it was: no delta).
    let mut pushed = Vec::new();
    while pushed.len() < 5 {
        let event = stream.next(WAIT).await.unwrap_or_else(|| panic!("no message within {WAIT:?}: {pushed:#?}"));
        if event.data["__type"] == PREVIOUS_INFO {
            pushed.push(event.data);
        }
    }
    for message in &pushed {
        assert_eq!(decode_message(message), Ok(PREVIOUS_INFO.to_string()), "{message}");
    }
    let deltas: Vec<bool> = pushed.iter().map(|m| m["isDelta"] == true).collect();
    assert_eq!(deltas, [false, true, true, true, true], "{pushed:#?}");
    assert_eq!(pushed[0]["userStatusPreviousInfoList"], json!([{"statusId": "Available", "notes": ""}]));
    assert_eq!(pushed[3]["userStatusPreviousInfoList"], json!([{"statusId": "Out of Town", "notes": ""}]));
}
