//! The OpenAPI document: committed copy in sync with the code, and served.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// The document `ctid openapi` prints.
fn document() -> Value {
    let output = std::process::Command::new(binary()).arg("openapi").output().expect("ctid openapi");
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

/// `schema`, or the component its `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// The required members of the schema of a documented response body.
fn required_members(doc: &Value, path: &str, method: &str, status: &str, media_type: &str) -> HashSet<String> {
    let schema = &doc["paths"][path][method]["responses"][status]["content"][media_type]["schema"];
    let required = required_of(doc, schema);
    assert!(!required.is_empty(), "{method} {path}: {schema}");
    required
}

/// The required members of `schema`, through references and `allOf` (how a flattened member is
/// documented).
fn required_of(doc: &Value, schema: &Value) -> HashSet<String> {
    let schema = resolve(doc, schema);
    let own = schema["required"].as_array().into_iter().flatten();
    let mut required: HashSet<String> = own.map(|m| m.as_str().expect("member name").to_string()).collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        required.extend(required_of(doc, part));
    }
    required
}

fn members(body: &Value) -> HashSet<String> {
    body.as_object().expect("object").keys().cloned().collect()
}

#[test]
fn committed_document_matches_the_generated_one() {
    let generated = std::process::Command::new(binary()).arg("openapi").output().expect("ctid openapi");
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).expect("utf-8");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("CTID_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).expect("openapi.json is committed");
    assert!(
        committed == generated,
        "openapi.json is out of date: run `CTID_UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn the_server_serves_the_document() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(reply.status.as_u16(), 200);
    let doc = reply.json();
    assert_eq!(doc["info"]["title"], "ctid");
    assert!(doc["paths"]["/1.1/users/{user_id}/cti_profile"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["digest"].is_object());
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = HashSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(seen.insert(id.to_string()), "{method} {path}: operationId {id} is used twice");
    }
}

#[test]
fn the_layers_responses_are_documented_in_each_apis_format() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().expect("responses");
        let what = format!("{method} {path}");
        if path.starts_with("/1.1/") {
            for status in ["401", "406", "429"] {
                let schema = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(schema["type"], "array", "{what} {status}");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses.contains_key("400") && responses.contains_key("413"), "{what}");
            }
        } else if path == "/health" {
            for status in ["200", "503"] {
                assert!(responses[status]["content"]["application/json"].is_object(), "{what} {status}");
            }
        } else {
            for (status, response) in responses {
                for media_type in response["content"].as_object().into_iter().flatten().map(|(k, _)| k) {
                    let known = ["application/vnd.inin.icws+JSON", "text/event-stream", "image/png"];
                    assert!(known.contains(&media_type.as_str()), "{what} {status}: {media_type}");
                }
            }
            if path.starts_with("/icws/{sessionId}/") {
                let schema = &responses["401"]["content"]["application/vnd.inin.icws+JSON"]["schema"];
                assert_eq!(schema["$ref"], "#/components/schemas/IcwsErrorBody", "{what}");
            }
        }
    }
}

/// Each API's status representation has its own schema, matching what the server sends.
#[tokio::test]
async fn the_two_status_representations_are_documented_apart() {
    let doc = document();
    let app = TestApp::spawn().await;

    let xivo = app.get("/1.1/status_messages/Available").await;
    assert_eq!(xivo.status.as_u16(), 200, "{}", xivo.body);
    let documented = required_members(&doc, "/1.1/status_messages/{status_id}", "get", "200", "application/json");
    assert_eq!(members(&xivo.json()), documented);

    app.presence_user("agent1", "pass1234", 1).await;
    let login = app.icws_login("agent1", "pass1234").await;
    let icws = app.icws(Method::GET, &login, "/status/status-messages", None).await;
    assert_eq!(icws.status.as_u16(), 200, "{}", icws.body);
    let ok = &doc["paths"]["/icws/{sessionId}/status/status-messages"]["get"]["responses"]["200"];
    let list = &ok["content"]["application/vnd.inin.icws+JSON"]["schema"];
    let item = resolve(&doc, &resolve(&doc, list)["properties"]["statusMessageList"]["items"]);
    let documented: HashSet<String> =
        item["required"].as_array().expect("required").iter().map(|m| m.as_str().expect("name").to_string()).collect();
    let first = &icws.json()["statusMessageList"][0];
    assert_eq!(members(first), documented);
}

/// Previous info: the answer and the pushed message have the members their schemas document
/// (the message's schema is named like its `__type` and listed with the messages).
#[tokio::test]
async fn previous_info_is_documented_as_sent() {
    let doc = document();
    let app = TestApp::spawn().await;
    app.presence_user("agent", "pass1234", 2).await;
    let login = app.icws_login("agent", "pass1234").await;
    app.set_status(&login, "agent", serde_json::json!({"statusId": "Available, Forward", "forwardNumber": "555"}))
        .await;
    let path = "/messaging/subscriptions/status/user-status-previous-info";
    assert_eq!(app.icws(Method::PUT, &login, path, None).await.status.as_u16(), 200);

    let reply = app.icws(Method::GET, &login, "/status/user-status-previous-info/agent", None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let answer = reply.json();
    let path = "/icws/{sessionId}/status/user-status-previous-info/{userId}";
    let media_type = "application/vnd.inin.icws+JSON";
    assert_eq!(members(&answer), required_members(&doc, path, "get", "200", media_type));
    let item = &doc["components"]["schemas"]["UserStatusPreviousInfo"];
    let documented: HashSet<String> = item["properties"].as_object().expect("properties").keys().cloned().collect();
    let required = required_of(&doc, item);
    for entry in answer["userStatusPreviousInfoList"].as_array().expect("list") {
        let sent = members(entry);
        assert!(required.is_subset(&sent) && sent.is_subset(&documented), "{entry} against {item}");
    }

    let message =
        app.poll(&login).await.into_iter().find(|m| m["__type"] == "urn:inin.com:status:userStatusPreviousInfoMessage");
    let message = message.expect("the previous info message");
    let schema = &doc["components"]["schemas"]["UserStatusPreviousInfoMessage"];
    assert_eq!(schema["properties"]["__type"]["example"], message["__type"]);
    assert_eq!(members(&message), required_of(&doc, schema));
    let listed = &doc["paths"]["/icws/{sessionId}/messaging/messages"]["get"]["responses"]["200"]["description"];
    assert!(listed.as_str().is_some_and(|d| d.contains("UserStatusPreviousInfoMessage")), "{listed}");
}
