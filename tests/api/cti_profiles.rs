//! `/1.1/cti_profiles`: the seeded profiles, their presence policy and the administrator extensions.

use serde_json::{Value, json};

use crate::helpers::*;

fn profile(app: &TestApp, id: i64, name: &str, allowed: &[&str], view: &str, change: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "allowed_statuses": allowed,
        "view_statuses": view,
        "change_statuses": change,
        "links": [{"rel": "cti_profiles", "href": format!("{}/1.1/cti_profiles/{id}", app.base())}]
    })
}

fn seeded(app: &TestApp) -> Vec<Value> {
    vec![
        profile(app, 1, "Supervisor", &SELECTABLE, "all", "all"),
        profile(app, 2, "Agent", &SELECTABLE, "all", "self"),
        profile(app, 3, "Client", &SELECTABLE, "all", "self"),
        profile(app, 4, "Switchboard", &SELECTABLE, "all", "self"),
    ]
}

#[track_caller]
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    assert!(reply.body.is_empty(), "204 with a body: {:?}", reply.body);
}

/// Creates a profile and returns its id.
async fn create_profile(app: &TestApp, body: Value) -> i64 {
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

async fn profile_count(app: &TestApp) -> i64 {
    app.get("/1.1/cti_profiles").await.json()["total"].as_i64().expect("total")
}

// ---- seeded profiles ----

#[tokio::test]
async fn list_has_the_four_seeded_profiles() {
    let app = TestApp::spawn().await;
    let reply = app.get("/1.1/cti_profiles").await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"total": 4, "items": seeded(&app)}));
}

#[tokio::test]
async fn get_returns_each_seeded_profile() {
    let app = TestApp::spawn().await;
    for (id, expected) in (1..=4).zip(seeded(&app)) {
        let reply = app.get(&format!("/1.1/cti_profiles/{id}")).await;
        assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json(), expected);
    }
}

#[tokio::test]
async fn seeded_profiles_do_not_allow_the_non_selectable_status() {
    let app = TestApp::spawn().await;
    let reply = app.get("/1.1/cti_profiles/2").await;
    let allowed = reply.json()["allowed_statuses"].as_array().expect("allowed_statuses").clone();
    assert_eq!(allowed.len(), 13);
    assert!(!allowed.contains(&json!("AcdAgentNotAnswering")));
}

#[tokio::test]
async fn get_unknown_profile_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/cti_profiles/9").await.assert_error(404, &["CTI profile with id=9 does not exist"]);
    app.get("/1.1/cti_profiles/0").await.assert_error(404, &["CTI profile with id=0 does not exist"]);
}

#[tokio::test]
async fn get_non_numeric_id_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/cti_profiles/abc").await.assert_error(404, &["CTI profile with id=abc does not exist"]);
}

// ---- create ----

#[tokio::test]
async fn create_answers_201_with_location_and_the_defaults() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/cti_profiles", r#"{"name": "Night shift"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = reply.json()["id"].as_i64().expect("id");
    assert!(id > 4, "id {id} collides with a seeded profile");
    assert_eq!(reply.header("location"), Some(format!("/1.1/cti_profiles/{id}").as_str()));
    let expected = profile(&app, id, "Night shift", &SELECTABLE, "all", "self");
    assert_eq!(reply.json(), expected);

    assert_eq!(app.get(&format!("/1.1/cti_profiles/{id}")).await.json(), expected);
    let mut items = seeded(&app);
    items.push(expected);
    assert_eq!(app.get("/1.1/cti_profiles").await.json(), json!({"total": 5, "items": items}));
}

#[tokio::test]
async fn create_with_null_policy_members_gets_the_defaults() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "Night", "allowed_statuses": null, "view_statuses": null, "change_statuses": null});
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_eq!(reply.json(), profile(&app, id, "Night", &SELECTABLE, "all", "self"));
}

#[tokio::test]
async fn create_with_explicit_policy() {
    let app = TestApp::spawn().await;
    let body = json!({
        "name": "Reception",
        "allowed_statuses": ["Available", "At Lunch"],
        "view_statuses": "self",
        "change_statuses": "all"
    });
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    let expected = profile(&app, id, "Reception", &["Available", "At Lunch"], "self", "all");
    assert_eq!(reply.json(), expected);
    assert_eq!(app.get(&format!("/1.1/cti_profiles/{id}")).await.json(), expected);
}

#[tokio::test]
async fn allowed_statuses_take_the_catalog_spelling_and_order() {
    let app = TestApp::spawn().await;
    let body = json!({
        "name": "Night",
        "allowed_statuses": ["out of town", "at lunch", "AVAILABLE", "Gone home", "At Lunch", "do not DISTURB"]
    });
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    let expected = profile(
        &app,
        id,
        "Night",
        &["Available", "At Lunch", "Do Not disturb", "Gone Home", "Out of Town"],
        "all",
        "self",
    );
    assert_eq!(reply.json(), expected);
    assert_eq!(app.get(&format!("/1.1/cti_profiles/{id}")).await.json(), expected);
}

#[tokio::test]
async fn empty_allowed_statuses_allows_nothing() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/cti_profiles", r#"{"name": "Mute", "allowed_statuses": []}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_eq!(reply.json(), profile(&app, id, "Mute", &[], "all", "self"));
}

#[tokio::test]
async fn unknown_allowed_status_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "allowed_statuses": ["Available", "Sleeping"]}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: allowed_statuses Sleeping does not exist"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn non_selectable_allowed_status_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "allowed_statuses": ["acdagentnotanswering"]}"#)
        .await
        .assert_error(400, &["Invalid parameters: allowed_statuses AcdAgentNotAnswering is not a selectable status"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn bad_scope_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "view_statuses": "everyone"}"#)
        .await
        .assert_error(400, &["Invalid parameters: view_statuses must be 'all' or 'self'"]);
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "change_statuses": "none"}"#)
        .await
        .assert_error(400, &["Invalid parameters: change_statuses must be 'all' or 'self'"]);
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "view_statuses": "ALL"}"#)
        .await
        .assert_error(400, &["Invalid parameters: view_statuses must be 'all' or 'self'"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn wrong_types_name_the_field() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": 5}"#)
        .await
        .assert_error(400, &["Invalid parameters: name must be a string"]);
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "allowed_statuses": "Available"}"#)
        .await
        .assert_error(400, &["Invalid parameters: allowed_statuses must be a list of strings"]);
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "allowed_statuses": ["Available", 3]}"#)
        .await
        .assert_error(400, &["Invalid parameters: allowed_statuses must be a list of strings"]);
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "view_statuses": true}"#)
        .await
        .assert_error(400, &["Invalid parameters: view_statuses must be a string"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn duplicate_name_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": "Agent"}"#)
        .await
        .assert_error(400, &["Invalid parameters: name Agent already exists"]);
    app.post("/1.1/cti_profiles", r#"{"name": "agent"}"#)
        .await
        .assert_error(400, &["Invalid parameters: name agent already exists"]);
    create_profile(&app, json!({"name": "Night"})).await;
    app.post("/1.1/cti_profiles", r#"{"name": "Night"}"#)
        .await
        .assert_error(400, &["Invalid parameters: name Night already exists"]);
    assert_eq!(profile_count(&app).await, 5);
}

#[tokio::test]
async fn missing_name_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", "{}").await.assert_error(400, &["Missing parameters: name"]);
    app.post("/1.1/cti_profiles", r#"{"name": null}"#).await.assert_error(400, &["Missing parameters: name"]);
    app.post("/1.1/cti_profiles", r#"{"view_statuses": "self"}"#)
        .await
        .assert_error(400, &["Missing parameters: name"]);
    app.post("/1.1/cti_profiles", r#"{"name": ""}"#).await.assert_error(400, &["Invalid parameters: name"]);
    app.post("/1.1/cti_profiles", r#"{"name": "  "}"#).await.assert_error(400, &["Invalid parameters: name"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn unknown_member_is_refused_before_missing_ones() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", r#"{"name": "Night", "color": "blue"}"#)
        .await
        .assert_error(400, &["Invalid parameters: color"]);
    app.post("/1.1/cti_profiles", r#"{"color": "blue"}"#).await.assert_error(400, &["Invalid parameters: color"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn body_that_is_not_a_json_object_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/cti_profiles", "name=Night")
        .await
        .assert_error(400, &["No parsable data in the request, Be sure to send a valid JSON file"]);
    app.post("/1.1/cti_profiles", r#"["Night"]"#)
        .await
        .assert_error(400, &["Invalid parameters: the request body must be a JSON object"]);
    assert_eq!(profile_count(&app).await, 4);
}

#[tokio::test]
async fn read_only_members_sent_on_create_are_ignored() {
    let app = TestApp::spawn().await;
    let body =
        json!({"id": 1, "name": "Night", "links": [{"rel": "cti_profiles", "href": "http://x/1.1/cti_profiles/1"}]});
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_ne!(id, 1);
    assert_eq!(reply.json(), profile(&app, id, "Night", &SELECTABLE, "all", "self"));
    assert_eq!(app.get("/1.1/cti_profiles/1").await.json(), seeded(&app)[0]);
}

// ---- edit ----

#[tokio::test]
async fn put_is_partial_and_answers_204() {
    let app = TestApp::spawn().await;
    assert_no_content(&app.put("/1.1/cti_profiles/2", r#"{"view_statuses": "self"}"#).await);
    assert_eq!(app.get("/1.1/cti_profiles/2").await.json(), profile(&app, 2, "Agent", &SELECTABLE, "self", "self"));

    assert_no_content(
        &app.put("/1.1/cti_profiles/2", r#"{"allowed_statuses": ["at lunch", "available"], "change_statuses": "all"}"#)
            .await,
    );
    assert_eq!(
        app.get("/1.1/cti_profiles/2").await.json(),
        profile(&app, 2, "Agent", &["Available", "At Lunch"], "self", "all")
    );

    assert_no_content(&app.put("/1.1/cti_profiles/2", r#"{"name": "Agents"}"#).await);
    assert_eq!(
        app.get("/1.1/cti_profiles/2").await.json(),
        profile(&app, 2, "Agents", &["Available", "At Lunch"], "self", "all")
    );
    // The others are untouched.
    assert_eq!(app.get("/1.1/cti_profiles/3").await.json(), seeded(&app)[2]);
}

#[tokio::test]
async fn put_null_restores_the_defaults() {
    let app = TestApp::spawn().await;
    assert_no_content(
        &app.put(
            "/1.1/cti_profiles/3",
            r#"{"allowed_statuses": ["Available"], "view_statuses": "self", "change_statuses": "all"}"#,
        )
        .await,
    );
    assert_no_content(
        &app.put(
            "/1.1/cti_profiles/3",
            r#"{"allowed_statuses": null, "view_statuses": null, "change_statuses": null}"#,
        )
        .await,
    );
    assert_eq!(app.get("/1.1/cti_profiles/3").await.json(), seeded(&app)[2]);
}

#[tokio::test]
async fn put_what_was_got_is_accepted() {
    let app = TestApp::spawn().await;
    let mut body = app.get("/1.1/cti_profiles/4").await.json();
    body["name"] = json!("Operators");
    body["id"] = json!(77);
    assert_no_content(&app.put("/1.1/cti_profiles/4", &body.to_string()).await);
    assert_eq!(app.get("/1.1/cti_profiles/4").await.json(), profile(&app, 4, "Operators", &SELECTABLE, "all", "self"));
    app.get("/1.1/cti_profiles/77").await.assert_error(404, &["CTI profile with id=77 does not exist"]);
}

#[tokio::test]
async fn put_refuses_invalid_changes_and_keeps_the_profile() {
    let app = TestApp::spawn().await;
    app.put("/1.1/cti_profiles/2", r#"{"name": "Client"}"#)
        .await
        .assert_error(400, &["Invalid parameters: name Client already exists"]);
    app.put("/1.1/cti_profiles/2", r#"{"name": null}"#).await.assert_error(400, &["Missing parameters: name"]);
    app.put("/1.1/cti_profiles/2", r#"{"name": ""}"#).await.assert_error(400, &["Invalid parameters: name"]);
    app.put("/1.1/cti_profiles/2", r#"{"view_statuses": "some"}"#)
        .await
        .assert_error(400, &["Invalid parameters: view_statuses must be 'all' or 'self'"]);
    app.put("/1.1/cti_profiles/2", r#"{"allowed_statuses": ["Sleeping"]}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: allowed_statuses Sleeping does not exist"]);
    app.put("/1.1/cti_profiles/2", r#"{"color": "red"}"#).await.assert_error(400, &["Invalid parameters: color"]);
    assert_eq!(app.get("/1.1/cti_profiles/2").await.json(), seeded(&app)[1]);
}

#[tokio::test]
async fn renaming_to_its_own_name_in_another_case_is_allowed() {
    let app = TestApp::spawn().await;
    assert_no_content(&app.put("/1.1/cti_profiles/2", r#"{"name": "AGENT"}"#).await);
    assert_eq!(app.get("/1.1/cti_profiles/2").await.json()["name"], json!("AGENT"));
}

#[tokio::test]
async fn put_unknown_profile_is_404() {
    let app = TestApp::spawn().await;
    app.put("/1.1/cti_profiles/9", r#"{"name": "Night"}"#)
        .await
        .assert_error(404, &["CTI profile with id=9 does not exist"]);
    app.put("/1.1/cti_profiles/abc", r#"{"name": "Night"}"#)
        .await
        .assert_error(404, &["CTI profile with id=abc does not exist"]);
}

// ---- delete ----

#[tokio::test]
async fn delete_answers_204_then_the_profile_is_gone() {
    let app = TestApp::spawn().await;
    let id = create_profile(&app, json!({"name": "Night"})).await;
    let path = format!("/1.1/cti_profiles/{id}");
    assert_no_content(&app.delete(&path).await);
    app.get(&path).await.assert_error(404, &[&format!("CTI profile with id={id} does not exist")]);
    app.delete(&path).await.assert_error(404, &[&format!("CTI profile with id={id} does not exist")]);
    assert_eq!(app.get("/1.1/cti_profiles").await.json(), json!({"total": 4, "items": seeded(&app)}));
}

#[tokio::test]
async fn a_seeded_profile_without_users_can_be_deleted() {
    let app = TestApp::spawn().await;
    assert_no_content(&app.delete("/1.1/cti_profiles/3").await);
    let mut items = seeded(&app);
    items.remove(2);
    assert_eq!(app.get("/1.1/cti_profiles").await.json(), json!({"total": 3, "items": items}));
}

#[tokio::test]
async fn delete_unknown_profile_is_404() {
    let app = TestApp::spawn().await;
    app.delete("/1.1/cti_profiles/9").await.assert_error(404, &["CTI profile with id=9 does not exist"]);
    app.delete("/1.1/cti_profiles/abc").await.assert_error(404, &["CTI profile with id=abc does not exist"]);
}

#[tokio::test]
async fn delete_of_a_profile_still_associated_is_refused() {
    let app = TestApp::spawn().await;
    let profile_id = create_profile(&app, json!({"name": "Night"})).await;
    let user = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let associated =
        app.post(&format!("/1.1/users/{user}/cti_profile"), &json!({"cti_profile_id": profile_id}).to_string()).await;
    assert_eq!(associated.status.as_u16(), 201, "body: {}", associated.body);

    let path = format!("/1.1/cti_profiles/{profile_id}");
    app.delete(&path).await.assert_error(
        400,
        &[&format!("Invalid parameters: CTI profile with id={profile_id} is still associated with users")],
    );
    assert_eq!(app.get(&path).await.json(), profile(&app, profile_id, "Night", &SELECTABLE, "all", "self"));

    // Once dissociated, it can go.
    assert_no_content(&app.delete(&format!("/1.1/users/{user}/cti_profile")).await);
    assert_no_content(&app.delete(&path).await);
    app.get(&path).await.assert_error(404, &[&format!("CTI profile with id={profile_id} does not exist")]);
}

#[tokio::test]
async fn delete_of_a_seeded_profile_still_associated_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.create_user(json!({"firstname": "John"})).await;
    let associated = app.post(&format!("/1.1/users/{user}/cti_profile"), r#"{"cti_profile_id": 1}"#).await;
    assert_eq!(associated.status.as_u16(), 201, "body: {}", associated.body);
    app.delete("/1.1/cti_profiles/1")
        .await
        .assert_error(400, &["Invalid parameters: CTI profile with id=1 is still associated with users"]);
    // Deleting the user releases the profile.
    assert_no_content(&app.delete(&format!("/1.1/users/{user}")).await);
    assert_no_content(&app.delete("/1.1/cti_profiles/1").await);
}
