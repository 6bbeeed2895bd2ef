//! `/1.1/status_messages`: the status catalog (ctid extension).

use serde_json::{Value, json};

use crate::helpers::*;

/// `/1.1/status_messages/{id}` with everything but ASCII letters and digits percent-encoded.
fn path_of(status_id: &str) -> String {
    let mut encoded = String::new();
    for byte in status_id.bytes() {
        if byte.is_ascii_alphanumeric() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("/1.1/status_messages/{encoded}")
}

/// A status as listed, every flag false but `is_selectable_status`, then `flags` set to true.
fn status(app: &TestApp, status_id: &str, group_tag: &str, built_in: bool, flags: &[&str]) -> Value {
    let mut value = json!({
        "status_id": status_id,
        "message_text": status_id,
        "icon_uri": format!("/icws/status-icons/{}.png", group_tag.to_ascii_lowercase()),
        "group_tag": group_tag,
        "can_have_date": false,
        "can_have_time": false,
        "can_have_forward_number": false,
        "is_do_not_disturb_status": false,
        "is_selectable_status": true,
        "is_persistent_status": false,
        "is_forward_status": false,
        "is_after_call_work_status": false,
        "is_acd_status": false,
        "is_allow_follow_up_status": false,
        "system_id": status_id,
        "built_in": built_in,
        "return_status_id": null,
        "links": [{"rel": "status_messages", "href": format!("{}{}", app.base(), path_of(status_id))}]
    });
    for flag in flags {
        value[*flag] = json!(true);
    }
    value
}

/// The fourteen statuses of a fresh database, in order.
fn seeded(app: &TestApp) -> Vec<Value> {
    let dated = ["can_have_date", "can_have_time", "is_persistent_status"];
    let mut not_answering = status(app, "AcdAgentNotAnswering", "UNAVAILABLE", true, &["is_acd_status"]);
    not_answering["is_selectable_status"] = json!(false);
    vec![
        status(app, "Available", "AVAILABLE", true, &["is_acd_status", "is_allow_follow_up_status"]),
        status(app, "Available, No ACD", "AVAILABLE", true, &[]),
        status(app, "Available, Forward", "AVAILABLE", true, &["can_have_forward_number", "is_forward_status"]),
        status(app, "Away from desk", "BREAK", true, &[]),
        status(app, "At Lunch", "BREAK", true, &[]),
        status(app, "At a training session", "TRAINING", true, &[]),
        status(app, "Follow Up", "FOLLOWUP", true, &["is_after_call_work_status", "is_allow_follow_up_status"]),
        status(app, "Do Not disturb", "UNAVAILABLE", true, &["is_do_not_disturb_status"]),
        status(app, "In a meeting", "UNAVAILABLE", true, &["is_do_not_disturb_status"]),
        status(app, "Gone Home", "UNAVAILABLE", true, &dated),
        status(app, "On Vacation", "UNAVAILABLE", true, &dated),
        status(app, "Out of the office", "UNAVAILABLE", true, &dated),
        status(app, "Out of Town", "UNAVAILABLE", true, &dated),
        not_answering,
    ]
}

/// The ids of the selectable seeded statuses, in catalog order.
fn selectable_ids(app: &TestApp) -> Vec<Value> {
    seeded(app)
        .into_iter()
        .filter(|s| s["is_selectable_status"] == json!(true))
        .map(|s| s["status_id"].clone())
        .collect()
}

#[track_caller]
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    assert!(reply.body.is_empty(), "204 with a body: {:?}", reply.body);
}

const COFFEE: &str = r#"{"status_id": "Coffee Break", "message_text": "Having a coffee", "group_tag": "BREAK"}"#;

fn coffee(app: &TestApp) -> Value {
    let mut value = status(app, "Coffee Break", "BREAK", false, &[]);
    value["message_text"] = json!("Having a coffee");
    value
}

// ---- list and get ----

#[tokio::test]
async fn list_has_the_fourteen_seeded_statuses_in_order() {
    let app = TestApp::spawn().await;
    let reply = app.get("/1.1/status_messages").await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"total": 14, "items": seeded(&app)}));
}

#[tokio::test]
async fn get_returns_each_seeded_status() {
    let app = TestApp::spawn().await;
    for expected in seeded(&app) {
        let id = expected["status_id"].as_str().expect("status_id");
        let reply = app.get(&path_of(id)).await;
        assert_eq!(reply.status.as_u16(), 200, "{id}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json(), expected, "{id}");
    }
}

#[tokio::test]
async fn get_matches_the_id_case_insensitively() {
    let app = TestApp::spawn().await;
    let items = seeded(&app);
    let lunch = app.get("/1.1/status_messages/at%20lunch").await;
    assert_eq!(lunch.status.as_u16(), 200, "body: {}", lunch.body);
    assert_eq!(lunch.json()["status_id"], json!("At Lunch"));
    assert_eq!(lunch.json(), items[4]);
    let no_acd = app.get("/1.1/status_messages/AVAILABLE%2C%20NO%20acd").await;
    assert_eq!(no_acd.status.as_u16(), 200, "body: {}", no_acd.body);
    assert_eq!(no_acd.json(), items[1]);
    let dnd = app.get("/1.1/status_messages/do%20not%20Disturb").await;
    assert_eq!(dnd.json(), items[7]);
    let acd = app.get("/1.1/status_messages/acdagentnotanswering").await;
    assert_eq!(acd.json(), items[13]);
}

#[tokio::test]
async fn get_unknown_status_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/status_messages/Sleeping")
        .await
        .assert_error(404, &["Status message with id=Sleeping does not exist"]);
    app.get("/1.1/status_messages/Out%20to%20sea")
        .await
        .assert_error(404, &["Status message with id=Out to sea does not exist"]);
}

// ---- create ----

#[tokio::test]
async fn create_answers_201_with_an_encoded_location_and_appends_to_the_list() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("location"), Some("/1.1/status_messages/Coffee%20Break"));
    assert_eq!(reply.json(), coffee(&app));

    assert_eq!(app.get("/1.1/status_messages/Coffee%20Break").await.json(), coffee(&app));
    assert_eq!(app.get("/1.1/status_messages/coffee%20break").await.json(), coffee(&app));
    let mut items = seeded(&app);
    items.push(coffee(&app));
    assert_eq!(app.get("/1.1/status_messages").await.json(), json!({"total": 15, "items": items}));
}

#[tokio::test]
async fn create_with_every_attribute() {
    let app = TestApp::spawn().await;
    let body = json!({
        "status_id": "Working from home, remote",
        "message_text": "Remote",
        "icon_uri": "/icons/home.png",
        "group_tag": "AVAILABLE",
        "can_have_date": true,
        "can_have_time": true,
        "can_have_forward_number": true,
        "is_do_not_disturb_status": false,
        "is_selectable_status": true,
        "is_persistent_status": true,
        "is_forward_status": true,
        "is_after_call_work_status": false,
        "is_acd_status": true,
        "is_allow_follow_up_status": true,
        "system_id": "WFH",
        "return_status_id": "Available, No ACD"
    });
    let reply = app.post("/1.1/status_messages", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("location"), Some("/1.1/status_messages/Working%20from%20home%2C%20remote"));
    let mut expected = body.clone();
    expected["built_in"] = json!(false);
    expected["links"] = json!([{
        "rel": "status_messages",
        "href": format!("{}/1.1/status_messages/Working%20from%20home%2C%20remote", app.base())
    }]);
    assert_eq!(reply.json(), expected);
    assert_eq!(app.get("/1.1/status_messages/working%20from%20home%2C%20remote").await.json(), expected);
}

#[tokio::test]
async fn a_new_selectable_status_is_allowed_by_profiles_with_the_default_policy() {
    let app = TestApp::spawn().await;
    let restricted = app.post("/1.1/cti_profiles", r#"{"name": "Lunch only", "allowed_statuses": ["At Lunch"]}"#).await;
    assert_eq!(restricted.status.as_u16(), 201, "body: {}", restricted.body);
    let restricted_id = restricted.json()["id"].as_i64().expect("id");
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);

    let mut allowed = selectable_ids(&app);
    allowed.push(json!("Coffee Break"));
    for id in 1..=4 {
        let reply = app.get(&format!("/1.1/cti_profiles/{id}")).await;
        assert_eq!(reply.json()["allowed_statuses"], json!(allowed), "profile {id}");
    }
    let list = app.get("/1.1/cti_profiles").await.json();
    assert_eq!(list["items"][0]["allowed_statuses"], json!(allowed));
    // A profile with an explicit list keeps it.
    let reply = app.get(&format!("/1.1/cti_profiles/{restricted_id}")).await;
    assert_eq!(reply.json()["allowed_statuses"], json!(["At Lunch"]));
}

#[tokio::test]
async fn a_new_status_can_be_allowed_explicitly() {
    let app = TestApp::spawn().await;
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    let reply =
        app.post("/1.1/cti_profiles", r#"{"name": "Breaks", "allowed_statuses": ["coffee break", "at lunch"]}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.json()["allowed_statuses"], json!(["At Lunch", "Coffee Break"]));
}

#[tokio::test]
async fn a_new_non_selectable_status_is_not_allowed_by_profiles() {
    let app = TestApp::spawn().await;
    let body = r#"{"status_id": "System busy", "message_text": "Busy", "group_tag": "UNAVAILABLE",
        "is_selectable_status": false}"#;
    let reply = app.post("/1.1/status_messages", body).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.json()["is_selectable_status"], json!(false));
    let profile = app.get("/1.1/cti_profiles/1").await;
    assert_eq!(profile.json()["allowed_statuses"], json!(selectable_ids(&app)));
}

#[tokio::test]
async fn missing_members_are_listed() {
    let app = TestApp::spawn().await;
    app.post("/1.1/status_messages", "{}")
        .await
        .assert_error(400, &["Missing parameters: status_id,message_text,group_tag"]);
    app.post("/1.1/status_messages", r#"{"status_id": "Coffee"}"#)
        .await
        .assert_error(400, &["Missing parameters: message_text,group_tag"]);
    app.post("/1.1/status_messages", r#"{"status_id": "Coffee", "message_text": "Coffee", "group_tag": null}"#)
        .await
        .assert_error(400, &["Missing parameters: group_tag"]);
    assert_eq!(app.get("/1.1/status_messages").await.json()["total"], json!(14));
}

#[tokio::test]
async fn duplicate_status_id_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/status_messages", r#"{"status_id": "Available", "message_text": "Here", "group_tag": "AVAILABLE"}"#)
        .await
        .assert_error(400, &["Invalid parameters: status_id Available already exists"]);
    app.post("/1.1/status_messages", r#"{"status_id": "at lunch", "message_text": "Lunch", "group_tag": "BREAK"}"#)
        .await
        .assert_error(400, &["Invalid parameters: status_id at lunch already exists"]);
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    app.post("/1.1/status_messages", COFFEE)
        .await
        .assert_error(400, &["Invalid parameters: status_id Coffee Break already exists"]);
    assert_eq!(app.get("/1.1/status_messages").await.json()["total"], json!(15));
    assert_eq!(app.get("/1.1/status_messages/Available").await.json(), seeded(&app)[0]);
}

#[tokio::test]
async fn invalid_members_are_refused() {
    let app = TestApp::spawn().await;
    app.post(
        "/1.1/status_messages",
        r#"{"status_id": "Coffee", "message_text": "x", "group_tag": "BREAK", "mood": 1}"#,
    )
    .await
    .assert_error(400, &["Invalid parameters: mood"]);
    app.post(
        "/1.1/status_messages",
        r#"{"status_id": "Coffee", "message_text": "x", "group_tag": "BREAK", "can_have_date": "yes"}"#,
    )
    .await
    .assert_error(400, &["Invalid parameters: can_have_date must be a boolean"]);
    app.post("/1.1/status_messages", r#"{"status_id": 7, "message_text": "x", "group_tag": "BREAK"}"#)
        .await
        .assert_error(400, &["Invalid parameters: status_id must be a string"]);
    app.post("/1.1/status_messages", r#"{"status_id": "a/b", "message_text": "x", "group_tag": "BREAK"}"#)
        .await
        .assert_error(400, &["Invalid parameters: status_id"]);
    app.post("/1.1/status_messages", r#"{"status_id": "Coffee", "message_text": "", "group_tag": "BREAK"}"#)
        .await
        .assert_error(400, &["Invalid parameters: message_text"]);
    app.post("/1.1/status_messages", "status_id=Coffee")
        .await
        .assert_error(400, &["No parsable data in the request, Be sure to send a valid JSON file"]);
    app.post("/1.1/status_messages", "[]")
        .await
        .assert_error(400, &["Invalid parameters: the request body must be a JSON object"]);
    assert_eq!(app.get("/1.1/status_messages").await.json()["total"], json!(14));
}

#[tokio::test]
async fn a_forward_status_needs_a_forward_number() {
    let app = TestApp::spawn().await;
    let body = r#"{"status_id": "Forwarded", "message_text": "Forwarded", "group_tag": "AVAILABLE",
        "is_forward_status": true}"#;
    app.post("/1.1/status_messages", body)
        .await
        .assert_error(400, &["Invalid parameters: a forward status must have can_have_forward_number"]);
}

// ---- edit ----

#[tokio::test]
async fn put_edits_a_built_in_status_partially() {
    let app = TestApp::spawn().await;
    let reply =
        app.put("/1.1/status_messages/At%20Lunch", r#"{"message_text": "Lunch break", "can_have_time": true}"#).await;
    assert_no_content(&reply);
    let mut expected = seeded(&app)[4].clone();
    expected["message_text"] = json!("Lunch break");
    expected["can_have_time"] = json!(true);
    assert_eq!(app.get("/1.1/status_messages/At%20Lunch").await.json(), expected);
    let list = app.get("/1.1/status_messages").await.json();
    assert_eq!(list["total"], json!(14));
    assert_eq!(list["items"][4], expected);
}

#[tokio::test]
async fn put_matches_the_id_case_insensitively() {
    let app = TestApp::spawn().await;
    assert_no_content(&app.put("/1.1/status_messages/away%20FROM%20desk", r#"{"group_tag": "AWAY"}"#).await);
    let mut expected = seeded(&app)[3].clone();
    expected["group_tag"] = json!("AWAY");
    assert_eq!(app.get("/1.1/status_messages/Away%20from%20desk").await.json(), expected);
}

#[tokio::test]
async fn put_edits_a_custom_status() {
    let app = TestApp::spawn().await;
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    assert_no_content(
        &app.put("/1.1/status_messages/Coffee%20Break", r#"{"is_do_not_disturb_status": true, "system_id": "CB"}"#)
            .await,
    );
    let mut expected = coffee(&app);
    expected["is_do_not_disturb_status"] = json!(true);
    expected["system_id"] = json!("CB");
    assert_eq!(app.get("/1.1/status_messages/Coffee%20Break").await.json(), expected);
}

#[tokio::test]
async fn put_what_was_got_is_accepted() {
    let app = TestApp::spawn().await;
    let mut body = app.get("/1.1/status_messages/Gone%20Home").await.json();
    body["message_text"] = json!("Gone for the day");
    assert_no_content(&app.put("/1.1/status_messages/Gone%20Home", &body.to_string()).await);
    let mut expected = seeded(&app)[9].clone();
    expected["message_text"] = json!("Gone for the day");
    assert_eq!(app.get("/1.1/status_messages/Gone%20Home").await.json(), expected);
}

#[tokio::test]
async fn put_refuses_invalid_edits() {
    let app = TestApp::spawn().await;
    app.put("/1.1/status_messages/Available", r#"{"status_id": "Here"}"#)
        .await
        .assert_error(400, &["Invalid parameters: status_id cannot be changed"]);
    app.put("/1.1/status_messages/Available", r#"{"built_in": false}"#)
        .await
        .assert_error(400, &["Invalid parameters: built_in is read-only"]);
    app.put("/1.1/status_messages/Available", r#"{"message_text": null}"#)
        .await
        .assert_error(400, &["Missing parameters: message_text"]);
    app.put("/1.1/status_messages/Available", r#"{"is_acd_status": "no"}"#)
        .await
        .assert_error(400, &["Invalid parameters: is_acd_status must be a boolean"]);
    app.put("/1.1/status_messages/Available", r#"{"mood": "happy"}"#)
        .await
        .assert_error(400, &["Invalid parameters: mood"]);
    assert_eq!(app.get("/1.1/status_messages/Available").await.json(), seeded(&app)[0]);
}

#[tokio::test]
async fn put_unknown_status_is_404() {
    let app = TestApp::spawn().await;
    app.put("/1.1/status_messages/Sleeping", r#"{"message_text": "Zzz"}"#)
        .await
        .assert_error(404, &["Status message with id=Sleeping does not exist"]);
}

// ---- delete ----

#[tokio::test]
async fn delete_of_a_custom_status_answers_204() {
    let app = TestApp::spawn().await;
    let created = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(created.status.as_u16(), 201, "body: {}", created.body);
    assert_no_content(&app.delete("/1.1/status_messages/coffee%20break").await);
    app.get("/1.1/status_messages/Coffee%20Break")
        .await
        .assert_error(404, &["Status message with id=Coffee Break does not exist"]);
    assert_eq!(app.get("/1.1/status_messages").await.json(), json!({"total": 14, "items": seeded(&app)}));
    assert_eq!(app.get("/1.1/cti_profiles/2").await.json()["allowed_statuses"], json!(selectable_ids(&app)));
    app.delete("/1.1/status_messages/Coffee%20Break")
        .await
        .assert_error(404, &["Status message with id=Coffee Break does not exist"]);
}

#[tokio::test]
async fn deleted_status_id_can_be_created_again() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post("/1.1/status_messages", COFFEE).await.status.as_u16(), 201);
    assert_no_content(&app.delete("/1.1/status_messages/Coffee%20Break").await);
    let again = app.post("/1.1/status_messages", COFFEE).await;
    assert_eq!(again.status.as_u16(), 201, "body: {}", again.body);
    assert_eq!(again.json(), coffee(&app));
}

#[tokio::test]
async fn delete_of_a_built_in_status_is_refused() {
    let app = TestApp::spawn().await;
    app.delete("/1.1/status_messages/Available")
        .await
        .assert_error(400, &["Invalid parameters: status Available is built in and cannot be deleted"]);
    app.delete("/1.1/status_messages/at%20LUNCH")
        .await
        .assert_error(400, &["Invalid parameters: status At Lunch is built in and cannot be deleted"]);
    assert_eq!(app.get("/1.1/status_messages").await.json(), json!({"total": 14, "items": seeded(&app)}));
}

#[tokio::test]
async fn delete_unknown_status_is_404() {
    let app = TestApp::spawn().await;
    app.delete("/1.1/status_messages/Sleeping")
        .await
        .assert_error(404, &["Status message with id=Sleeping does not exist"]);
}
