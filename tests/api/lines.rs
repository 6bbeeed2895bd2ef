//! `/1.1/lines` and `/1.1/users/{user_id}/lines`: SIP lines and which user each belongs to.

use serde_json::{Value, json};

use crate::helpers::*;

const NO_DATA: &str = "No parsable data in the request, Be sure to send a valid JSON file";
const NOT_AN_OBJECT: &str = "Invalid parameters: the request body must be a JSON object";

/// The representation of a line as the server shows it to this client.
fn line(app: &TestApp, id: i64, name: &str, context: &str, number: Option<&str>) -> Value {
    json!({
        "id": id,
        "name": name,
        "protocol": "sip",
        "context": context,
        "number": number,
        "links": [{"rel": "lines", "href": format!("{}/1.1/lines/{id}", app.base())}]
    })
}

/// The representation of a user ↔ line association.
fn association(app: &TestApp, user: i64, line: i64) -> Value {
    let base = app.base();
    json!({
        "user_id": user,
        "line_id": line,
        "links": [
            {"rel": "users", "href": format!("{base}/1.1/users/{user}")},
            {"rel": "lines", "href": format!("{base}/1.1/lines/{line}")}
        ]
    })
}

/// Creates a line and returns its id; asserts 201.
async fn create_line(app: &TestApp, body: Value) -> i64 {
    let reply = app.post("/1.1/lines", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

async fn user(app: &TestApp, firstname: &str) -> i64 {
    app.create_user(json!({"firstname": firstname, "lastname": "Doe"})).await
}

/// `POST /1.1/users/{user}/lines` with `{"line_id": line}`, raw.
async fn associate_raw(app: &TestApp, user: i64, line: i64) -> Reply {
    app.post(&format!("/1.1/users/{user}/lines"), &json!({"line_id": line}).to_string()).await
}

/// Associates; asserts 201.
async fn associate(app: &TestApp, user: i64, line: i64) {
    let reply = associate_raw(app, user, line).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
}

/// 400 with one message about `field`; the contract does not word it further.
#[track_caller]
fn assert_invalid_about(reply: &Reply, field: &str) {
    assert_eq!(reply.status.as_u16(), 400, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let messages = reply.json();
    let prefix = format!("Invalid parameters: {field}");
    assert!(
        messages.as_array().is_some_and(|m| m.len() == 1 && m[0].as_str().is_some_and(|t| t.starts_with(&prefix))),
        "expected one message starting with {prefix:?}: {messages}"
    );
}

#[track_caller]
fn assert_no_content(reply: &Reply) {
    assert_eq!(reply.status.as_u16(), 204, "body: {}", reply.body);
    assert!(reply.body.is_empty(), "204 with a body: {:?}", reply.body);
}

/// The `line_id` of each item of `GET /1.1/users/{user}/lines`, in order; asserts 200 and total.
async fn line_ids_of(app: &TestApp, user: i64) -> Vec<i64> {
    let reply = app.get(&format!("/1.1/users/{user}/lines")).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let items = body["items"].as_array().expect("items");
    assert_eq!(body["total"].as_u64(), Some(items.len() as u64), "{body}");
    items.iter().map(|i| i["line_id"].as_i64().expect("line_id")).collect()
}

// ---- lines: create ----

#[tokio::test]
async fn create_answers_201_with_location_and_the_defaults() {
    let app = TestApp::spawn().await;
    let reply = app.post("/1.1/lines", r#"{"name": "1001"}"#).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = reply.json()["id"].as_i64().expect("id");
    assert_eq!(reply.header("location"), Some(format!("/1.1/lines/{id}").as_str()));
    assert_eq!(reply.json(), line(&app, id, "1001", "default", None));
}

#[tokio::test]
async fn create_keeps_every_member_sent() {
    let app = TestApp::spawn().await;
    let sent = json!({"name": "alice.desk_2+b-1", "protocol": "sip", "context": "from-intern_2", "number": "*12#+3"});
    let reply = app.post("/1.1/lines", &sent.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    let expected = line(&app, id, "alice.desk_2+b-1", "from-intern_2", Some("*12#+3"));
    assert_eq!(reply.json(), expected);
    let got = app.get(&format!("/1.1/lines/{id}")).await;
    assert_eq!(got.status.as_u16(), 200, "body: {}", got.body);
    assert_eq!(got.json(), expected);
}

#[tokio::test]
async fn names_and_contexts_at_their_length_limits_are_accepted() {
    let app = TestApp::spawn().await;
    let name = "n".repeat(40);
    let context = "c".repeat(39);
    let number = "9".repeat(40);
    let id = create_line(&app, json!({"name": name, "context": context, "number": number})).await;
    assert_eq!(app.get(&format!("/1.1/lines/{id}")).await.json(), line(&app, id, &name, &context, Some(&number)));
    let id = create_line(&app, json!({"name": "x", "context": "c", "number": "1"})).await;
    assert_eq!(app.get(&format!("/1.1/lines/{id}")).await.json(), line(&app, id, "x", "c", Some("1")));
}

#[tokio::test]
async fn missing_name_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/lines", "{}").await.assert_error(400, &["Missing parameters: name"]);
    app.post("/1.1/lines", r#"{"context": "default"}"#).await.assert_error(400, &["Missing parameters: name"]);
    app.post("/1.1/lines", r#"{"name": null}"#).await.assert_error(400, &["Missing parameters: name"]);
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn badly_formed_name_is_invalid() {
    let app = TestApp::spawn().await;
    let too_long = "n".repeat(41);
    for name in ["", "has space", "a/b", "semi;colon", "caf\u{e9}", "at@host", too_long.as_str()] {
        app.post("/1.1/lines", &json!({"name": name}).to_string())
            .await
            .assert_error(400, &["Invalid parameters: name"]);
    }
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn badly_formed_protocol_context_and_number_are_invalid() {
    let app = TestApp::spawn().await;
    let long_context = "c".repeat(40);
    let long_number = "1".repeat(41);
    for (body, field) in [
        (json!({"name": "1001", "context": ""}), "context"),
        (json!({"name": "1001", "context": "a.b"}), "context"),
        (json!({"name": "1001", "context": long_context}), "context"),
        (json!({"name": "1001", "number": ""}), "number"),
        (json!({"name": "1001", "number": "12a"}), "number"),
        (json!({"name": "1001", "number": "1 2"}), "number"),
        (json!({"name": "1001", "number": long_number}), "number"),
    ] {
        app.post("/1.1/lines", &body.to_string()).await.assert_error(400, &[&format!("Invalid parameters: {field}")]);
    }
    // Only SIP; the message names the member.
    for protocol in ["iax", "sccp", "", "custom"] {
        assert_invalid_about(
            &app.post("/1.1/lines", &json!({"name": "1001", "protocol": protocol}).to_string()).await,
            "protocol",
        );
    }
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn name_is_unique_by_exact_match() {
    let app = TestApp::spawn().await;
    create_line(&app, json!({"name": "1001"})).await;
    app.post("/1.1/lines", r#"{"name": "1001", "context": "other"}"#)
        .await
        .assert_error(400, &["Invalid parameters: line name 1001 already exists"]);
    create_line(&app, json!({"name": "alice"})).await;
    app.post("/1.1/lines", r#"{"name": "alice"}"#)
        .await
        .assert_error(400, &["Invalid parameters: line name alice already exists"]);
    // Exact match: another case is another name.
    create_line(&app, json!({"name": "ALICE"})).await;
    assert_eq!(app.get("/1.1/lines").await.json()["total"], 3);
}

#[tokio::test]
async fn unknown_member_is_invalid() {
    let app = TestApp::spawn().await;
    app.post("/1.1/lines", r#"{"name": "1001", "colour": "red"}"#)
        .await
        .assert_error(400, &["Invalid parameters: colour"]);
    app.post("/1.1/lines", r#"{"colour": "red"}"#).await.assert_error(400, &["Invalid parameters: colour"]);
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn body_that_is_not_a_json_object_is_refused() {
    let app = TestApp::spawn().await;
    app.post("/1.1/lines", "").await.assert_error(400, &[NO_DATA]);
    app.post("/1.1/lines", "name=1001").await.assert_error(400, &[NO_DATA]);
    app.post("/1.1/lines", r#"["1001"]"#).await.assert_error(400, &[NOT_AN_OBJECT]);
    let reply = app.post("/1.1/lines", r#"{"name": 1001}"#).await;
    assert_eq!(reply.status.as_u16(), 400, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let messages = reply.json();
    assert!(
        messages
            .as_array()
            .is_some_and(|m| m.len() == 1 && m[0].as_str().is_some_and(|t| t.starts_with("Invalid parameters: name"))),
        "{messages}"
    );
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn read_only_id_and_links_sent_on_create_are_ignored() {
    let app = TestApp::spawn().await;
    let body =
        json!({"id": 999, "name": "1001", "links": [{"rel": "lines", "href": "http://elsewhere/1.1/lines/999"}]});
    let reply = app.post("/1.1/lines", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let id = reply.json()["id"].as_i64().expect("id");
    assert_ne!(id, 999);
    assert_eq!(reply.json(), line(&app, id, "1001", "default", None));
}

// ---- lines: read ----

#[tokio::test]
async fn get_returns_the_line_and_404_for_an_unknown_one() {
    let app = TestApp::spawn().await;
    let id = create_line(&app, json!({"name": "1001", "number": "1001"})).await;
    let reply = app.get(&format!("/1.1/lines/{id}")).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), line(&app, id, "1001", "default", Some("1001")));
    app.get("/1.1/lines/99").await.assert_error(404, &["Line with id=99 does not exist"]);
    app.get("/1.1/lines/0").await.assert_error(404, &["Line with id=0 does not exist"]);
}

#[tokio::test]
async fn links_follow_the_host_header() {
    let app = TestApp::spawn().await;
    let id = create_line(&app, json!({"name": "1001"})).await;
    for path in [format!("/1.1/lines/{id}"), "/1.1/lines".to_string()] {
        let reply =
            send(app.client.get(app.url(&path)).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Host", "xivoserver"))
                .await;
        assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
        let body = reply.json();
        let item = if body.get("items").is_some() { body["items"][0].clone() } else { body };
        assert_eq!(item["links"], json!([{"rel": "lines", "href": format!("http://xivoserver/1.1/lines/{id}")}]));
    }
}

#[tokio::test]
async fn list_is_ordered_by_id_and_pages_with_limit_and_skip() {
    let app = TestApp::spawn().await;
    let empty = app.get("/1.1/lines").await;
    assert_eq!(empty.status.as_u16(), 200, "body: {}", empty.body);
    assert_eq!(empty.header("content-type"), Some("application/json"));
    assert_eq!(empty.json(), json!({"total": 0, "items": []}));

    let names = ["3003", "1001", "zeta", "2002"];
    let mut all = Vec::new();
    for name in names {
        let id = create_line(&app, json!({"name": name})).await;
        all.push(line(&app, id, name, "default", None));
    }
    assert_eq!(app.get("/1.1/lines").await.json(), json!({"total": 4, "items": all}));
    assert_eq!(app.get("/1.1/lines?limit=2").await.json(), json!({"total": 4, "items": all[..2]}));
    assert_eq!(app.get("/1.1/lines?limit=2&skip=2").await.json(), json!({"total": 4, "items": all[2..]}));
    assert_eq!(app.get("/1.1/lines?skip=3").await.json(), json!({"total": 4, "items": all[3..]}));
    assert_eq!(app.get("/1.1/lines?skip=1&limit=1").await.json(), json!({"total": 4, "items": all[1..2]}));
    assert_eq!(app.get("/1.1/lines?skip=10").await.json(), json!({"total": 4, "items": []}));
}

#[tokio::test]
async fn bad_limit_or_skip_is_refused() {
    let app = TestApp::spawn().await;
    create_line(&app, json!({"name": "1001"})).await;
    for value in ["0", "-1", "abc", "1.5"] {
        app.get(&format!("/1.1/lines?limit={value}"))
            .await
            .assert_error(400, &["Invalid parameters: limit must be a positive number"]);
    }
    for value in ["-1", "abc", "2.5"] {
        app.get(&format!("/1.1/lines?skip={value}"))
            .await
            .assert_error(400, &["Invalid parameters: skip must be a positive number or zero"]);
    }
}

#[tokio::test]
async fn a_non_numeric_line_id_is_404() {
    let app = TestApp::spawn().await;
    app.get("/1.1/lines/abc").await.assert_error(404, &["Line with id=abc does not exist"]);
    app.put("/1.1/lines/abc", r#"{"number": "1"}"#).await.assert_error(404, &["Line with id=abc does not exist"]);
    app.delete("/1.1/lines/abc").await.assert_error(404, &["Line with id=abc does not exist"]);
}

// ---- lines: edit ----

#[tokio::test]
async fn put_is_partial_and_answers_204() {
    let app = TestApp::spawn().await;
    let id = create_line(&app, json!({"name": "1001", "context": "intern", "number": "1001"})).await;
    let path = format!("/1.1/lines/{id}");

    assert_no_content(&app.put(&path, r#"{"number": "2002"}"#).await);
    assert_eq!(app.get(&path).await.json(), line(&app, id, "1001", "intern", Some("2002")));

    assert_no_content(&app.put(&path, r#"{"name": "2002", "context": "extern"}"#).await);
    assert_eq!(app.get(&path).await.json(), line(&app, id, "2002", "extern", Some("2002")));

    assert_no_content(&app.put(&path, r#"{"number": null}"#).await);
    assert_eq!(app.get(&path).await.json(), line(&app, id, "2002", "extern", None));

    assert_no_content(&app.put(&path, "{}").await);
    assert_no_content(&app.put(&path, r#"{"name": "2002"}"#).await);
    assert_eq!(app.get(&path).await.json(), line(&app, id, "2002", "extern", None));
}

#[tokio::test]
async fn put_errors_change_nothing() {
    let app = TestApp::spawn().await;
    let id = create_line(&app, json!({"name": "1001", "number": "1001"})).await;
    create_line(&app, json!({"name": "1002"})).await;
    let path = format!("/1.1/lines/{id}");

    app.put("/1.1/lines/99", r#"{"number": "5"}"#).await.assert_error(404, &["Line with id=99 does not exist"]);
    app.put(&path, r#"{"name": "1002"}"#)
        .await
        .assert_error(400, &["Invalid parameters: line name 1002 already exists"]);
    app.put(&path, r#"{"name": "bad name"}"#).await.assert_error(400, &["Invalid parameters: name"]);
    app.put(&path, r#"{"name": null}"#).await.assert_error(400, &["Missing parameters: name"]);
    app.put(&path, r#"{"number": "x"}"#).await.assert_error(400, &["Invalid parameters: number"]);
    assert_invalid_about(&app.put(&path, r#"{"protocol": "iax"}"#).await, "protocol");
    app.put(&path, r#"{"context": "a b"}"#).await.assert_error(400, &["Invalid parameters: context"]);
    app.put(&path, r#"{"colour": "red"}"#).await.assert_error(400, &["Invalid parameters: colour"]);
    app.put(&path, "").await.assert_error(400, &[NO_DATA]);
    app.put(&path, "[]").await.assert_error(400, &[NOT_AN_OBJECT]);
    assert_eq!(app.get(&path).await.json(), line(&app, id, "1001", "default", Some("1001")));
}

// ---- lines: delete ----

#[tokio::test]
async fn delete_answers_204_then_the_line_is_gone() {
    let app = TestApp::spawn().await;
    let first = create_line(&app, json!({"name": "1001"})).await;
    let second = create_line(&app, json!({"name": "1002"})).await;
    assert_no_content(&app.delete(&format!("/1.1/lines/{first}")).await);
    app.get(&format!("/1.1/lines/{first}")).await.assert_error(404, &[&format!("Line with id={first} does not exist")]);
    app.delete(&format!("/1.1/lines/{first}"))
        .await
        .assert_error(404, &[&format!("Line with id={first} does not exist")]);
    app.delete("/1.1/lines/99").await.assert_error(404, &["Line with id=99 does not exist"]);
    assert_eq!(
        app.get("/1.1/lines").await.json(),
        json!({"total": 1, "items": [line(&app, second, "1002", "default", None)]})
    );
    // The name is free again.
    create_line(&app, json!({"name": "1001"})).await;
}

#[tokio::test]
async fn lines_need_web_service_credentials() {
    let app = TestApp::spawn().await;
    let id = create_line(&app, json!({"name": "1001"})).await;
    for (i, (method, path)) in [
        (reqwest::Method::GET, "/1.1/lines".to_string()),
        (reqwest::Method::POST, "/1.1/lines".to_string()),
        (reqwest::Method::GET, format!("/1.1/lines/{id}")),
        (reqwest::Method::PUT, format!("/1.1/lines/{id}")),
        (reqwest::Method::DELETE, format!("/1.1/lines/{id}")),
        (reqwest::Method::GET, "/1.1/users/1/lines".to_string()),
    ]
    .into_iter()
    .enumerate()
    {
        let anonymous = send(app.client.request(method.clone(), app.url(&path)).body(r#"{"name": "x"}"#)).await;
        anonymous.assert_error(401, &["Authentication required"]);
        assert!(anonymous.header("www-authenticate").is_some(), "{method} {path}");
        // Another account each time: repeated failures for one account would lock it (429).
        let intruder = format!("intruder{i}");
        let wrong =
            send(app.client.request(method.clone(), app.url(&path)).basic_auth(intruder, Some("wrong")).body("{}"))
                .await;
        wrong.assert_error(401, &["Authentication required"]);
    }
    assert_eq!(app.get(&format!("/1.1/lines/{id}")).await.json(), line(&app, id, "1001", "default", None));
}

// ---- user ↔ line ----

#[tokio::test]
async fn post_associates_and_answers_201_with_location_and_links() {
    let app = TestApp::spawn().await;
    let user = user(&app, "John").await;
    let line = create_line(&app, json!({"name": "1001"})).await;
    let reply = associate_raw(&app, user, line).await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    assert_eq!(reply.header("location"), Some(format!("/1.1/users/{user}/lines/{line}").as_str()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), association(&app, user, line));

    let got = app.get(&format!("/1.1/users/{user}/lines/{line}")).await;
    assert_eq!(got.status.as_u16(), 200, "body: {}", got.body);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.json(), association(&app, user, line));

    let list = app.get(&format!("/1.1/users/{user}/lines")).await;
    assert_eq!(list.status.as_u16(), 200, "body: {}", list.body);
    assert_eq!(list.json(), json!({"total": 1, "items": [association(&app, user, line)]}));
}

#[tokio::test]
async fn a_user_without_lines_lists_none() {
    let app = TestApp::spawn().await;
    let user = user(&app, "John").await;
    let reply = app.get(&format!("/1.1/users/{user}/lines")).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"total": 0, "items": []}));
}

#[tokio::test]
async fn a_user_may_have_several_lines_listed_by_line_id() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let first = create_line(&app, json!({"name": "1001"})).await;
    let second = create_line(&app, json!({"name": "1002"})).await;
    let third = create_line(&app, json!({"name": "1003"})).await;
    associate(&app, john, third).await;
    associate(&app, john, first).await;
    associate(&app, john, second).await;
    let reply = app.get(&format!("/1.1/users/{john}/lines")).await;
    assert_eq!(
        reply.json(),
        json!({"total": 3, "items": [
            association(&app, john, first),
            association(&app, john, second),
            association(&app, john, third)
        ]})
    );
}

#[tokio::test]
async fn a_line_belongs_to_at_most_one_user() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let jane = user(&app, "Jane").await;
    let line = create_line(&app, json!({"name": "1001"})).await;
    associate(&app, john, line).await;
    let taken = format!("Invalid parameters: line with id {line} is already associated to a user");
    associate_raw(&app, jane, line).await.assert_error(400, &[&taken]);
    associate_raw(&app, john, line).await.assert_error(400, &[&taken]);
    assert_eq!(line_ids_of(&app, john).await, [line]);
    assert_eq!(line_ids_of(&app, jane).await, Vec::<i64>::new());

    // Once dissociated, another user may take it.
    assert_no_content(&app.delete(&format!("/1.1/users/{john}/lines/{line}")).await);
    associate(&app, jane, line).await;
    assert_eq!(line_ids_of(&app, jane).await, [line]);
    assert_eq!(line_ids_of(&app, john).await, Vec::<i64>::new());
}

#[tokio::test]
async fn association_links_follow_the_host_header() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let line = create_line(&app, json!({"name": "1001"})).await;
    associate(&app, john, line).await;
    let expected = json!([
        {"rel": "users", "href": format!("http://xivoserver/1.1/users/{john}")},
        {"rel": "lines", "href": format!("http://xivoserver/1.1/lines/{line}")}
    ]);
    let single = send(
        app.client
            .get(app.url(&format!("/1.1/users/{john}/lines/{line}")))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Host", "xivoserver"),
    )
    .await;
    assert_eq!(single.json()["links"], expected);
    let list = send(
        app.client
            .get(app.url(&format!("/1.1/users/{john}/lines")))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Host", "xivoserver"),
    )
    .await;
    assert_eq!(list.json()["items"][0]["links"], expected);
}

#[tokio::test]
async fn delete_dissociates_with_204_and_empty_body() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let first = create_line(&app, json!({"name": "1001"})).await;
    let second = create_line(&app, json!({"name": "1002"})).await;
    associate(&app, john, first).await;
    associate(&app, john, second).await;
    assert_no_content(&app.delete(&format!("/1.1/users/{john}/lines/{first}")).await);
    app.get(&format!("/1.1/users/{john}/lines/{first}"))
        .await
        .assert_error(404, &[&format!("User with id={john} does not have line {first}")]);
    assert_eq!(line_ids_of(&app, john).await, [second]);
    // The line itself remains.
    assert_eq!(app.get(&format!("/1.1/lines/{first}")).await.status.as_u16(), 200);
}

#[tokio::test]
async fn association_get_and_delete_errors() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let jane = user(&app, "Jane").await;
    let line = create_line(&app, json!({"name": "1001"})).await;
    associate(&app, jane, line).await;

    app.get("/1.1/users/999/lines").await.assert_error(404, &["User with id=999 does not exist"]);
    for reply in [
        app.get(&format!("/1.1/users/999/lines/{line}")).await,
        app.delete(&format!("/1.1/users/999/lines/{line}")).await,
    ] {
        reply.assert_error(404, &["User with id=999 does not exist"]);
    }
    for reply in [
        app.get(&format!("/1.1/users/{john}/lines/{line}")).await,
        app.delete(&format!("/1.1/users/{john}/lines/{line}")).await,
    ] {
        reply.assert_error(404, &[&format!("User with id={john} does not have line {line}")]);
    }
    for reply in [
        app.get(&format!("/1.1/users/{john}/lines/999")).await,
        app.delete(&format!("/1.1/users/{john}/lines/999")).await,
    ] {
        reply.assert_error(404, &[&format!("User with id={john} does not have line 999")]);
    }
    // Nothing was removed by the refused deletes.
    assert_eq!(line_ids_of(&app, jane).await, [line]);
}

#[tokio::test]
async fn association_post_errors() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let line = create_line(&app, json!({"name": "1001"})).await;
    let path = format!("/1.1/users/{john}/lines");

    app.post("/1.1/users/999/lines", &json!({"line_id": line}).to_string())
        .await
        .assert_error(404, &["User with id=999 does not exist"]);
    app.post(&path, "{}").await.assert_error(400, &["Missing parameters: line_id"]);
    app.post(&path, r#"{"line_id": null}"#).await.assert_error(400, &["Missing parameters: line_id"]);
    app.post(&path, r#"{"line_id": 42}"#)
        .await
        .assert_error(400, &["Nonexistent parameters: line_id 42 does not exist"]);
    app.post(&path, &json!({"line_id": line, "colour": "red"}).to_string())
        .await
        .assert_error(400, &["Invalid parameters: colour"]);
    app.post(&path, "").await.assert_error(400, &[NO_DATA]);
    app.post(&path, &format!("[{line}]")).await.assert_error(400, &[NOT_AN_OBJECT]);
    let reply = app.post(&path, &json!({"line_id": line.to_string()}).to_string()).await;
    assert_eq!(reply.status.as_u16(), 400, "a string line_id: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.json()[0].as_str().is_some_and(|m| m.starts_with("Invalid parameters: line_id")), "{}", reply.body);
    assert_eq!(line_ids_of(&app, john).await, Vec::<i64>::new());
}

#[tokio::test]
async fn deleting_a_user_frees_its_lines() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let jane = user(&app, "Jane").await;
    let first = create_line(&app, json!({"name": "1001"})).await;
    let second = create_line(&app, json!({"name": "1002"})).await;
    associate(&app, john, first).await;
    associate(&app, john, second).await;

    assert_no_content(&app.delete(&format!("/1.1/users/{john}")).await);
    app.get(&format!("/1.1/users/{john}/lines"))
        .await
        .assert_error(404, &[&format!("User with id={john} does not exist")]);
    app.get(&format!("/1.1/users/{john}/lines/{first}"))
        .await
        .assert_error(404, &[&format!("User with id={john} does not exist")]);
    // The lines remain and are free.
    assert_eq!(app.get("/1.1/lines").await.json()["total"], 2);
    associate(&app, jane, first).await;
    associate(&app, jane, second).await;
    assert_eq!(line_ids_of(&app, jane).await, [first, second]);
}

#[tokio::test]
async fn deleting_a_line_removes_its_association() {
    let app = TestApp::spawn().await;
    let john = user(&app, "John").await;
    let first = create_line(&app, json!({"name": "1001"})).await;
    let second = create_line(&app, json!({"name": "1002"})).await;
    associate(&app, john, first).await;
    associate(&app, john, second).await;

    assert_no_content(&app.delete(&format!("/1.1/lines/{first}")).await);
    assert_eq!(
        app.get(&format!("/1.1/users/{john}/lines")).await.json(),
        json!({"total": 1, "items": [association(&app, john, second)]})
    );
    app.get(&format!("/1.1/users/{john}/lines/{first}"))
        .await
        .assert_error(404, &[&format!("User with id={john} does not have line {first}")]);
    associate_raw(&app, john, first)
        .await
        .assert_error(400, &[&format!("Nonexistent parameters: line_id {first} does not exist")]);
    // The user itself remains.
    assert_eq!(app.get(&format!("/1.1/users/{john}")).await.status.as_u16(), 200);
}
