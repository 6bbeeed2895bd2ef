//! `/1.1/users`: create, read, edit, delete, validation and the list's search, order and paging.

use serde_json::{Value, json};

use crate::helpers::*;

const NO_DATA: &str = "No parsable data in the request, Be sure to send a valid JSON file";

/// The representation of a user named John Doe with every optional member at its default.
fn john_doe(app: &TestApp, id: i64) -> Value {
    json!({
        "id": id,
        "firstname": "John",
        "lastname": "Doe",
        "caller_id": "\"John Doe\"",
        "outgoing_caller_id": "default",
        "username": null,
        "password": null,
        "music_on_hold": null,
        "mobile_phone_number": null,
        "userfield": null,
        "timezone": null,
        "language": null,
        "description": null,
        "preprocess_subroutine": null,
        "links": [{"rel": "users", "href": format!("{}/1.1/users/{id}", app.base())}]
    })
}

/// `"Firstname Lastname"` of each item of a list reply, in order.
fn full_names(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| {
            format!("{} {}", u["firstname"].as_str().expect("firstname"), u["lastname"].as_str().expect("lastname"))
        })
        .collect()
}

fn total(reply: &Reply) -> i64 {
    reply.json()["total"].as_i64().expect("total")
}

#[track_caller]
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    assert!(reply.body.is_empty(), "204 with a body: {:?}", reply.body);
}

async fn user_count(app: &TestApp) -> i64 {
    total(&app.get("/1.1/users").await)
}

// ---- create ----

#[tokio::test]
async fn create_answers_201_with_location_and_the_full_body() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/users", r#"{"firstname": "John", "lastname": "Doe"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = reply.json()["id"].as_i64().expect("id");
    assert_eq!(reply.header("location"), Some(format!("/1.1/users/{id}").as_str()));
    assert_eq!(reply.json(), john_doe(&app, id));
}

#[tokio::test]
async fn create_keeps_every_member_sent_and_never_shows_the_password() {
    let app = TestApp::spawn().await;
    let sent = json!({
        "firstname": "Ada",
        "lastname": "Lovelace",
        "caller_id": "Countess",
        "outgoing_caller_id": "anonymous",
        "username": "ada",
        "password": "analytical-engine",
        "music_on_hold": "classical",
        "mobile_phone_number": "0612345678",
        "userfield": "engine",
        "timezone": "Europe/London",
        "language": "en_US",
        "description": "First programmer",
        "preprocess_subroutine": "sub-ada"
    });
    let reply = app.post("/1.1/users", &sent.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    let mut expected = sent.clone();
    expected["id"] = json!(id);
    expected["password"] = Value::Null;
    expected["links"] = json!([{"rel": "users", "href": format!("{}/1.1/users/{id}", app.base())}]);
    assert_eq!(reply.json(), expected);
    assert!(!reply.body.contains("analytical-engine"));

    let got = app.get(&format!("/1.1/users/{id}")).await;
    assert_eq!(got.status.as_u16(), 200);
    assert_eq!(got.json(), expected);
    assert!(!got.body.contains("analytical-engine"));

    let list = app.get("/1.1/users").await;
    assert_eq!(list.json(), json!({"total": 1, "items": [expected]}));
    assert!(!list.body.contains("analytical-engine"));
}

#[tokio::test]
async fn caller_id_defaults_to_the_quoted_full_name() {
    let app = TestApp::spawn().await;
    let alone = app.post("/1.1/users", r#"{"firstname": "Alice"}"#).await;
    assert_eq!(alone.status.as_u16(), 201, "body: {}", alone.body);
    assert_eq!(alone.json()["caller_id"], json!("\"Alice\""));
    assert_eq!(alone.json()["lastname"], json!(""));
    let named = app.post("/1.1/users", r#"{"firstname": "Bob", "lastname": "Marley", "caller_id": null}"#).await;
    assert_eq!(named.status.as_u16(), 201, "body: {}", named.body);
    assert_eq!(named.json()["caller_id"], json!("\"Bob Marley\""));
}

#[tokio::test]
async fn body_is_json_whatever_the_content_type() {
    let app = TestApp::spawn().await;
    let reply = send(
        app.client
            .post(app.url("/1.1/users"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(r#"{"firstname": "John", "lastname": "Doe"}"#),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_eq!(reply.json(), john_doe(&app, id));
}

#[tokio::test]
async fn read_only_id_and_links_sent_on_create_are_ignored() {
    let app = TestApp::spawn().await;
    let body = json!({
        "id": 999,
        "firstname": "John",
        "lastname": "Doe",
        "links": [{"rel": "users", "href": "http://elsewhere/1.1/users/999"}]
    });
    let reply = app.post("/1.1/users", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_ne!(id, 999);
    assert_eq!(reply.json(), john_doe(&app, id));
    app.get("/1.1/users/999").await.assert_error(404, &["User with id=999 does not exist"]);
}

// ---- get ----

#[tokio::test]
async fn get_returns_the_user() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let reply = app.get(&format!("/1.1/users/{id}")).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), john_doe(&app, id));
}

#[tokio::test]
async fn get_unknown_user_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/users/34").await.assert_error(404, &["User with id=34 does not exist"]);
}

#[tokio::test]
async fn get_non_numeric_id_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/users/abc").await.assert_error(404, &["User with id=abc does not exist"]);
}

// ---- edit ----

#[tokio::test]
async fn put_is_partial_and_answers_204() {
    let app = TestApp::spawn().await;
    let id = app
        .create_user(json!({"firstname": "John", "lastname": "Doe", "description": "day shift", "username": "jdoe"}))
        .await;
    let reply = app.put(&format!("/1.1/users/{id}"), r#"{"mobile_phone_number": "0612", "userfield": "x"}"#).await;
    assert_no_content(&reply);

    let mut expected = john_doe(&app, id);
    expected["description"] = json!("day shift");
    expected["username"] = json!("jdoe");
    expected["mobile_phone_number"] = json!("0612");
    expected["userfield"] = json!("x");
    let got = app.get(&format!("/1.1/users/{id}")).await;
    assert_eq!(got.status.as_u16(), 200);
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn put_null_clears_an_optional_member() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe", "description": "day shift"})).await;
    assert_no_content(&app.put(&format!("/1.1/users/{id}"), r#"{"description": null}"#).await);
    assert_eq!(app.get(&format!("/1.1/users/{id}")).await.json(), john_doe(&app, id));
}

#[tokio::test]
async fn renaming_follows_a_derived_caller_id_but_keeps_a_custom_one() {
    let app = TestApp::spawn().await;
    let derived = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let custom = app.create_user(json!({"firstname": "John", "lastname": "Roe", "caller_id": "Boss"})).await;
    assert_no_content(&app.put(&format!("/1.1/users/{derived}"), r#"{"firstname": "Jane"}"#).await);
    assert_no_content(&app.put(&format!("/1.1/users/{custom}"), r#"{"firstname": "Jane"}"#).await);
    assert_eq!(app.get(&format!("/1.1/users/{derived}")).await.json()["caller_id"], json!("\"Jane Doe\""));
    assert_eq!(app.get(&format!("/1.1/users/{custom}")).await.json()["caller_id"], json!("Boss"));
}

#[tokio::test]
async fn put_what_was_got_is_accepted_and_ignores_read_only_members() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe", "password": "secret"})).await;
    let mut body = app.get(&format!("/1.1/users/{id}")).await.json();
    body["firstname"] = json!("Johnny");
    body["id"] = json!(id + 100);
    body["links"] = json!([{"rel": "users", "href": "http://elsewhere/1.1/users/1"}]);
    assert_no_content(&app.put(&format!("/1.1/users/{id}"), &body.to_string()).await);

    // The caller id sent back is kept as sent, not derived again from the new name.
    let mut expected = john_doe(&app, id);
    expected["firstname"] = json!("Johnny");
    assert_eq!(app.get(&format!("/1.1/users/{id}")).await.json(), expected);
    app.get(&format!("/1.1/users/{}", id + 100))
        .await
        .assert_error(404, &[&format!("User with id={} does not exist", id + 100)]);
}

#[tokio::test]
async fn put_unknown_user_is_404() {
    let app = TestApp::spawn().await;
    app.put("/1.1/users/42", r#"{"firstname": "Jane"}"#).await.assert_error(404, &["User with id=42 does not exist"]);
    app.put("/1.1/users/abc", r#"{"firstname": "Jane"}"#).await.assert_error(404, &["User with id=abc does not exist"]);
}

#[tokio::test]
async fn put_with_an_invalid_member_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let path = format!("/1.1/users/{id}");
    app.put(&path, r#"{"firstname": "", "lastname": "Smith"}"#)
        .await
        .assert_error(400, &["Invalid parameters: firstname"]);
    app.put(&path, r#"{"firstname": null}"#).await.assert_error(400, &["Missing parameters: firstname"]);
    app.put(&path, r#"{"mobile_phone_number": "+33 6"}"#)
        .await
        .assert_error(400, &["Invalid parameters: mobile_phone_number"]);
    app.put(&path, r#"{"password": "abc"}"#)
        .await
        .assert_error(400, &["Invalid parameters: password must have at least 4 characters"]);
    app.put(&path, r#"{"nickname": "jd"}"#).await.assert_error(400, &["Invalid parameters: nickname"]);
    app.put(&path, "not json").await.assert_error(400, &[NO_DATA]);
    assert_eq!(app.get(&path).await.json(), john_doe(&app, id));
}

// ---- delete ----

#[tokio::test]
async fn delete_answers_204_then_the_user_is_gone() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let path = format!("/1.1/users/{id}");
    assert_no_content(&app.delete(&path).await);
    app.get(&path).await.assert_error(404, &[&format!("User with id={id} does not exist")]);
    app.delete(&path).await.assert_error(404, &[&format!("User with id={id} does not exist")]);
    assert_eq!(app.get("/1.1/users").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn delete_of_a_user_with_a_cti_profile_answers_204() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let associated = app.post(&format!("/1.1/users/{id}/cti_profile"), r#"{"cti_profile_id": 2}"#).await;
    assert_eq!(associated.status.as_u16(), 201, "body: {}", associated.body);
    assert_no_content(&app.delete(&format!("/1.1/users/{id}")).await);
    app.get(&format!("/1.1/users/{id}")).await.assert_error(404, &[&format!("User with id={id} does not exist")]);
    app.get(&format!("/1.1/users/{id}/cti_profile"))
        .await
        .assert_error(404, &[&format!("User with id={id} does not exist")]);
}

#[tokio::test]
async fn delete_unknown_or_non_numeric_user_is_404() {
    let app = TestApp::spawn().await;
    app.delete("/1.1/users/7").await.assert_error(404, &["User with id=7 does not exist"]);
    app.delete("/1.1/users/abc").await.assert_error(404, &["User with id=abc does not exist"]);
}

#[tokio::test]
async fn a_deleted_username_can_be_taken_again() {
    let app = TestApp::spawn().await;
    let id = app.create_user(json!({"firstname": "John", "username": "jdoe"})).await;
    assert_no_content(&app.delete(&format!("/1.1/users/{id}")).await);
    let reply = app.post("/1.1/users", r#"{"firstname": "Jane", "username": "JDoe"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.json()["username"], json!("JDoe"));
}

// ---- validation ----

#[tokio::test]
async fn missing_or_null_firstname_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"lastname": "Doe"}"#).await.assert_error(400, &["Missing parameters: firstname"]);
    app.post("/1.1/users", r#"{"firstname": null}"#).await.assert_error(400, &["Missing parameters: firstname"]);
    app.post("/1.1/users", "{}").await.assert_error(400, &["Missing parameters: firstname"]);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn empty_firstname_is_invalid() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"firstname": ""}"#).await.assert_error(400, &["Invalid parameters: firstname"]);
    app.post("/1.1/users", r#"{"firstname": "   "}"#).await.assert_error(400, &["Invalid parameters: firstname"]);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn unknown_member_is_invalid_and_checked_before_missing_ones() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"firstname": "John", "nickname": "jd"}"#)
        .await
        .assert_error(400, &["Invalid parameters: nickname"]);
    app.post("/1.1/users", r#"{"nickname": "jd"}"#).await.assert_error(400, &["Invalid parameters: nickname"]);
    app.post("/1.1/users", r#"{"firstname": "John", "cti_profile_id": 1}"#)
        .await
        .assert_error(400, &["Invalid parameters: cti_profile_id"]);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn wrong_type_names_the_field() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"firstname": 3}"#)
        .await
        .assert_error(400, &["Invalid parameters: firstname must be a string"]);
    app.post("/1.1/users", r#"{"firstname": "John", "mobile_phone_number": 612345678}"#)
        .await
        .assert_error(400, &["Invalid parameters: mobile_phone_number must be a string"]);
    app.post("/1.1/users", r#"{"firstname": ["John"]}"#)
        .await
        .assert_error(400, &["Invalid parameters: firstname must be a string"]);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn mobile_phone_number_must_be_digits() {
    let app = TestApp::spawn().await;
    for number in ["06-12-34", "+33612", "06 12", "abc"] {
        let body = json!({"firstname": "John", "mobile_phone_number": number}).to_string();
        app.post("/1.1/users", &body).await.assert_error(400, &["Invalid parameters: mobile_phone_number"]);
    }
    let ok = app.post("/1.1/users", r#"{"firstname": "John", "mobile_phone_number": "0612345678"}"#).await;
    assert_eq!(ok.status.as_u16(), 201, "body: {}", ok.body);
    assert_eq!(ok.json()["mobile_phone_number"], json!("0612345678"));
}

#[tokio::test]
async fn password_needs_at_least_four_characters() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"firstname": "John", "password": "abc"}"#)
        .await
        .assert_error(400, &["Invalid parameters: password must have at least 4 characters"]);
    let ok = app.post("/1.1/users", r#"{"firstname": "John", "password": "abcd"}"#).await;
    assert_eq!(ok.status.as_u16(), 201, "body: {}", ok.body);
    assert_eq!(ok.json()["password"], Value::Null);
}

#[tokio::test]
async fn several_invalid_members_are_reported_together() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", r#"{"firstname": "John", "mobile_phone_number": "06-12", "password": "abc"}"#)
        .await
        .assert_error(400, &["Invalid parameters: mobile_phone_number,password must have at least 4 characters"]);
}

#[tokio::test]
async fn duplicate_username_is_refused_case_insensitively() {
    let app = TestApp::spawn().await;
    app.create_user(json!({"firstname": "Alice", "username": "alice"})).await;
    app.post("/1.1/users", r#"{"firstname": "Alice", "username": "alice"}"#)
        .await
        .assert_error(400, &["Invalid parameters: username alice already exists"]);
    app.post("/1.1/users", r#"{"firstname": "Alice", "username": "ALICE"}"#)
        .await
        .assert_error(400, &["Invalid parameters: username ALICE already exists"]);
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn duplicate_username_is_refused_on_edit() {
    let app = TestApp::spawn().await;
    app.create_user(json!({"firstname": "Alice", "username": "alice"})).await;
    let bob = app.create_user(json!({"firstname": "Bob", "username": "bob"})).await;
    app.put(&format!("/1.1/users/{bob}"), r#"{"username": "Alice"}"#)
        .await
        .assert_error(400, &["Invalid parameters: username Alice already exists"]);
    assert_eq!(app.get(&format!("/1.1/users/{bob}")).await.json()["username"], json!("bob"));
    // Changing the case of one's own username is no conflict.
    assert_no_content(&app.put(&format!("/1.1/users/{bob}"), r#"{"username": "Bob"}"#).await);
    assert_eq!(app.get(&format!("/1.1/users/{bob}")).await.json()["username"], json!("Bob"));
}

#[tokio::test]
async fn body_that_is_not_json_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/users", "firstname=John").await.assert_error(400, &[NO_DATA]);
    app.post("/1.1/users", r#"{"firstname": "John""#).await.assert_error(400, &[NO_DATA]);
    app.post("/1.1/users", "").await.assert_error(400, &[NO_DATA]);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn body_that_is_not_an_object_is_refused() {
    let app = TestApp::spawn().await;
    let message = "Invalid parameters: the request body must be a JSON object";
    app.post("/1.1/users", r#"[{"firstname": "John"}]"#).await.assert_error(400, &[message]);
    app.post("/1.1/users", r#""John""#).await.assert_error(400, &[message]);
    app.post("/1.1/users", "null").await.assert_error(400, &[message]);
    assert_eq!(user_count(&app).await, 0);
}

// ---- list ----

#[tokio::test]
async fn empty_list() {
    let app = TestApp::spawn().await;
    let reply = app.get("/1.1/users").await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn list_shows_full_representations() {
    let app = TestApp::spawn().await;
    let first = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let second = app.create_user(json!({"firstname": "John", "lastname": "Doe"})).await;
    let reply = app.get("/1.1/users").await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.json(), json!({"total": 2, "items": [john_doe(&app, first), john_doe(&app, second)]}));
}

/// Four users whose columns sort differently.
async fn app_for_ordering() -> TestApp {
    let app = TestApp::spawn().await;
    for body in [
        json!({"firstname": "Charlie", "lastname": "Brown", "caller_id": "Alpha", "description": "d2", "userfield": "u3"}),
        json!({"firstname": "Alice", "lastname": "Zimmer", "caller_id": "Mike", "description": "d4", "userfield": "u1"}),
        json!({"firstname": "Bob", "lastname": "Adams", "caller_id": "Kilo", "description": "d1", "userfield": "u4"}),
        json!({"firstname": "Alice", "lastname": "Anders", "caller_id": "Zed", "description": "d3", "userfield": "u2"}),
    ] {
        app.create_user(body).await;
    }
    app
}

#[tokio::test]
async fn list_is_ordered_by_lastname_by_default() {
    let app = app_for_ordering().await;
    let reply = app.get("/1.1/users").await;
    assert_eq!(total(&reply), 4);
    assert_eq!(full_names(&reply), ["Bob Adams", "Alice Anders", "Charlie Brown", "Alice Zimmer"]);
    let explicit = app.get("/1.1/users?order=lastname&direction=asc").await;
    assert_eq!(full_names(&explicit), ["Bob Adams", "Alice Anders", "Charlie Brown", "Alice Zimmer"]);
}

#[tokio::test]
async fn list_orders_by_each_column() {
    let app = app_for_ordering().await;
    let firstnames: Vec<String> = full_names(&app.get("/1.1/users?order=firstname").await)
        .iter()
        .map(|n| n.split(' ').next().expect("firstname").to_string())
        .collect();
    assert_eq!(firstnames, ["Alice", "Alice", "Bob", "Charlie"]);
    let cases = [
        ("fullname", ["Alice Anders", "Alice Zimmer", "Bob Adams", "Charlie Brown"]),
        ("caller_id", ["Charlie Brown", "Bob Adams", "Alice Zimmer", "Alice Anders"]),
        ("description", ["Bob Adams", "Charlie Brown", "Alice Anders", "Alice Zimmer"]),
        ("userfield", ["Alice Zimmer", "Alice Anders", "Charlie Brown", "Bob Adams"]),
        ("lastname", ["Bob Adams", "Alice Anders", "Charlie Brown", "Alice Zimmer"]),
    ];
    for (order, expected) in cases {
        let reply = app.get(&format!("/1.1/users?order={order}")).await;
        assert_eq!(full_names(&reply), expected, "order={order}");
        assert_eq!(total(&reply), 4, "order={order}");
    }
}

#[tokio::test]
async fn list_direction_desc_reverses_the_order() {
    let app = app_for_ordering().await;
    let reply = app.get("/1.1/users?direction=desc").await;
    assert_eq!(full_names(&reply), ["Alice Zimmer", "Charlie Brown", "Alice Anders", "Bob Adams"]);
    let by_userfield = app.get("/1.1/users?order=userfield&direction=desc").await;
    assert_eq!(full_names(&by_userfield), ["Bob Adams", "Charlie Brown", "Alice Anders", "Alice Zimmer"]);
    let asc = app.get("/1.1/users?order=fullname&direction=asc").await;
    assert_eq!(full_names(&asc), ["Alice Anders", "Alice Zimmer", "Bob Adams", "Charlie Brown"]);
}

#[tokio::test]
async fn list_ordering_ignores_case() {
    let app = TestApp::spawn().await;
    for (first, last) in [("bob", "b"), ("Charlie", "c"), ("alice", "a"), ("Dave", "d")] {
        app.create_user(json!({"firstname": first, "lastname": last})).await;
    }
    let reply = app.get("/1.1/users?order=firstname").await;
    assert_eq!(full_names(&reply), ["alice a", "bob b", "Charlie c", "Dave d"]);
}

#[tokio::test]
async fn list_limit_and_skip_page_through_and_total_counts_everything() {
    let app = app_for_ordering().await;
    let first_page = app.get("/1.1/users?limit=2").await;
    assert_eq!(total(&first_page), 4);
    assert_eq!(full_names(&first_page), ["Bob Adams", "Alice Anders"]);
    let second_page = app.get("/1.1/users?limit=2&skip=2").await;
    assert_eq!(total(&second_page), 4);
    assert_eq!(full_names(&second_page), ["Charlie Brown", "Alice Zimmer"]);
    let skipped = app.get("/1.1/users?skip=3").await;
    assert_eq!(total(&skipped), 4);
    assert_eq!(full_names(&skipped), ["Alice Zimmer"]);
    let beyond = app.get("/1.1/users?skip=10").await;
    assert_eq!(beyond.json(), json!({"total": 4, "items": []}));
    let zero = app.get("/1.1/users?skip=0&limit=1").await;
    assert_eq!(total(&zero), 4);
    assert_eq!(full_names(&zero), ["Bob Adams"]);
    let large = app.get("/1.1/users?limit=100").await;
    assert_eq!(full_names(&large).len(), 4);
}

#[tokio::test]
async fn list_offset_is_an_alias_of_skip() {
    let app = app_for_ordering().await;
    let reply = app.get("/1.1/users?offset=1&limit=2").await;
    assert_eq!(total(&reply), 4);
    assert_eq!(full_names(&reply), ["Alice Anders", "Charlie Brown"]);
}

#[tokio::test]
async fn list_paging_applies_after_ordering() {
    let app = app_for_ordering().await;
    let reply = app.get("/1.1/users?order=caller_id&direction=desc&limit=2&skip=1").await;
    assert_eq!(total(&reply), 4);
    assert_eq!(full_names(&reply), ["Alice Zimmer", "Bob Adams"]);
}

/// Four users matching `shift` through different columns, or not at all.
async fn app_for_search() -> TestApp {
    let app = TestApp::spawn().await;
    for body in [
        json!({"firstname": "John", "lastname": "Doe"}),
        json!({"firstname": "Jane", "lastname": "Smith", "caller_id": "Reception", "description": "Night SHIFT"}),
        json!({"firstname": "Paul", "lastname": "Martin", "userfield": "shift-b"}),
        json!({"firstname": "Marie", "lastname": "Curie", "caller_id": "Shifty"}),
    ] {
        app.create_user(body).await;
    }
    app
}

#[tokio::test]
async fn search_matches_caller_id_description_and_userfield_case_insensitively() {
    let app = app_for_search().await;
    for needle in ["shift", "SHIFT", "Shift"] {
        let reply = app.get(&format!("/1.1/users?search={needle}")).await;
        assert_eq!(total(&reply), 3, "search={needle}");
        assert_eq!(full_names(&reply), ["Marie Curie", "Paul Martin", "Jane Smith"], "search={needle}");
    }
    assert_eq!(full_names(&app.get("/1.1/users?search=recep").await), ["Jane Smith"]);
    assert_eq!(full_names(&app.get("/1.1/users?search=night").await), ["Jane Smith"]);
    assert_eq!(full_names(&app.get("/1.1/users?search=-B").await), ["Paul Martin"]);
}

#[tokio::test]
async fn search_matches_firstname_and_lastname() {
    let app = app_for_search().await;
    assert_eq!(full_names(&app.get("/1.1/users?search=john").await), ["John Doe"]);
    assert_eq!(full_names(&app.get("/1.1/users?search=DOE").await), ["John Doe"]);
    // Across the space between first and last name.
    assert_eq!(full_names(&app.get("/1.1/users?search=n%20d").await), ["John Doe"]);
    assert_eq!(full_names(&app.get("/1.1/users?search=ie%20c").await), ["Marie Curie"]);
    let ja = app.get("/1.1/users?search=ja").await;
    assert_eq!(full_names(&ja), ["Jane Smith"]);
}

#[tokio::test]
async fn search_without_match_is_an_empty_list() {
    let app = app_for_search().await;
    assert_eq!(app.get("/1.1/users?search=zzz").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn empty_search_matches_everyone() {
    let app = app_for_search().await;
    assert_eq!(total(&app.get("/1.1/users?search=").await), 4);
}

#[tokio::test]
async fn legacy_q_searches_too() {
    let app = app_for_search().await;
    let reply = app.get("/1.1/users?q=shift").await;
    assert_eq!(total(&reply), 3);
    assert_eq!(full_names(&reply), ["Marie Curie", "Paul Martin", "Jane Smith"]);
    assert_eq!(full_names(&app.get("/1.1/users?q=doe").await), ["John Doe"]);
}

#[tokio::test]
async fn search_total_ignores_limit_and_skip() {
    let app = app_for_search().await;
    let reply = app.get("/1.1/users?search=shift&limit=1&skip=1").await;
    assert_eq!(total(&reply), 3);
    assert_eq!(full_names(&reply), ["Paul Martin"]);
    let desc = app.get("/1.1/users?search=shift&order=firstname&direction=desc&limit=2").await;
    assert_eq!(total(&desc), 3);
    assert_eq!(full_names(&desc), ["Paul Martin", "Marie Curie"]);
}

#[tokio::test]
async fn bad_limit_is_refused() {
    let app = TestApp::spawn().await;
    for value in ["0", "-1", "abc", "1.5", ""] {
        app.get(&format!("/1.1/users?limit={value}"))
            .await
            .assert_error(400, &["Invalid parameters: limit must be a positive number"]);
    }
}

#[tokio::test]
async fn bad_direction_is_refused() {
    let app = TestApp::spawn().await;
    for value in ["up", "ASC", "descending", ""] {
        app.get(&format!("/1.1/users?direction={value}"))
            .await
            .assert_error(400, &["Invalid parameters: direction must be 'asc' or 'desc'"]);
    }
}

#[tokio::test]
async fn bad_order_is_refused() {
    let app = TestApp::spawn().await;
    app.get("/1.1/users?order=x").await.assert_error(400, &["Invalid parameters: ordering column 'x' does not exist"]);
    app.get("/1.1/users?order=password")
        .await
        .assert_error(400, &["Invalid parameters: ordering column 'password' does not exist"]);
    app.get("/1.1/users?order=id")
        .await
        .assert_error(400, &["Invalid parameters: ordering column 'id' does not exist"]);
}

#[tokio::test]
async fn bad_skip_is_refused() {
    let app = TestApp::spawn().await;
    for value in ["-1", "abc", "2.5"] {
        app.get(&format!("/1.1/users?skip={value}"))
            .await
            .assert_error(400, &["Invalid parameters: skip must be a positive number or zero"]);
    }
    app.get("/1.1/users?offset=-1")
        .await
        .assert_error(400, &["Invalid parameters: offset must be a positive number or zero"]);
}

#[tokio::test]
async fn every_bad_list_parameter_is_reported() {
    let app = TestApp::spawn().await;
    app.get("/1.1/users?limit=0&direction=up&order=x").await.assert_error(
        400,
        &[
            "Invalid parameters: limit must be a positive number,direction must be 'asc' or 'desc',ordering column 'x' does not exist",
        ],
    );
}

#[tokio::test]
async fn concurrent_partial_edits_of_one_user_are_all_kept() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let id = app.create_user(json!({"firstname": "Start", "lastname": "Start"})).await;
    let editor = |field: &'static str, prefix: &'static str| {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let body = json!({ field: format!("{prefix}{i}") }).to_string();
                let reply = app.put(&format!("/1.1/users/{id}"), &body).await;
                assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
            }
        })
    };
    let (first, last, caller) =
        (editor("firstname", "First"), editor("lastname", "Last"), editor("mobile_phone_number", "55500"));
    for task in [first, last, caller] {
        task.await.expect("editor");
    }
    let user = app.get(&format!("/1.1/users/{id}")).await.json();
    assert_eq!(user["firstname"], "First39", "{user}");
    assert_eq!(user["lastname"], "Last39", "{user}");
    assert_eq!(user["mobile_phone_number"], "5550039", "{user}");
}
