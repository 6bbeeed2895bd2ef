//! Whatever a client sends: a XiVO error array or a success, never a 500, a panic or a hang.

use proptest::prelude::*;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// Asserts the reply is a success or a 4xx with a JSON array of strings.
fn assert_well_formed(reply: &Reply, what: &str) {
    let status = reply.status.as_u16();
    assert!(status < 500, "{what}: {status} {}", reply.body);
    if status >= 400 {
        assert_eq!(reply.header("content-type"), Some("application/json"), "{what}");
        let body = reply.json();
        let messages = body.as_array().unwrap_or_else(|| panic!("{what}: not an array: {body}"));
        assert!(!messages.is_empty() && messages.iter().all(Value::is_string), "{what}: {body}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("cti_profile_id"), Just("firstname"), Just("name"), Just("status_id")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("cti_profile_id".to_string()),
                    Just("firstname".to_string()),
                    Just("username".to_string()),
                    Just("password".to_string()),
                    Just("name".to_string()),
                    Just("allowed_statuses".to_string()),
                    Just("status_id".to_string()),
                    Just("message_text".to_string()),
                    Just("group_tag".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const BODY_TARGETS: [(&str, &str); 8] = [
    ("POST", "/1.1/users/1/cti_profile"),
    ("PUT", "/1.1/users/1/cti_profile"),
    ("POST", "/1.1/users"),
    ("PUT", "/1.1/users/1"),
    ("POST", "/1.1/cti_profiles"),
    ("PUT", "/1.1/cti_profiles/5"),
    ("POST", "/1.1/status_messages"),
    ("PUT", "/1.1/status_messages/Available"),
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let app = runtime.block_on(async {
            let app = TestApp::spawn().await;
            app.create_user(serde_json::json!({"firstname": "Target", "username": "target"})).await;
            app
        });
        Self { runtime, app }
    }

    fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        self.runtime.block_on(send(
            self.app.client.request(method, self.app.url(path)).basic_auth("admin", Some(ADMIN_PASSWORD)).body(body),
        ))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_bodies_get_a_xivo_answer(value in json_value(), target in 0..BODY_TARGETS.len()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let (method, path) = BODY_TARGETS[target];
        FIXTURE.with(|f| {
            let reply = f.send(method, path, value.to_string().into_bytes());
            assert_well_formed(&reply, &format!("{method} {path} {value}"));
        });
    }

    #[test]
    fn arbitrary_bytes_get_a_xivo_answer(bytes in prop::collection::vec(any::<u8>(), 0..256), target in 0..BODY_TARGETS.len()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let (method, path) = BODY_TARGETS[target];
        FIXTURE.with(|f| {
            let reply = f.send(method, path, bytes.clone());
            assert_well_formed(&reply, &format!("{method} {path} {bytes:?}"));
        });
    }

    #[test]
    // Not "." or "..": clients resolve those segments (even percent-encoded) before sending, so
    // `/1.1/..` reaches `/`, which is not the configuration API.
    fn arbitrary_path_segments_get_a_xivo_answer(segment in "[^/?#]{0,24}".prop_filter("a dot segment", |s| s != "." && s != ".."), method in prop_oneof![Just("GET"), Just("DELETE"), Just("PUT"), Just("POST")]) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let encoded = percent_encoding::utf8_percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).to_string();
        FIXTURE.with(|f| {
            for path in [
                format!("/1.1/users/{encoded}/cti_profile"),
                format!("/1.1/users/{encoded}"),
                format!("/1.1/cti_profiles/{encoded}"),
                format!("/1.1/status_messages/{encoded}x"),
                format!("/1.1/{encoded}"),
            ] {
                let reply = f.send(method, &path, b"{\"cti_profile_id\": 1}".to_vec());
                assert_well_formed(&reply, &format!("{method} {path}"));
            }
        });
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let reply = app.request(Method::PATCH, "/1.1/users/1/cti_profile", Some("{}")).await;
    reply.assert_error(405, &["Method not allowed on this resource"]);
    let allow = reply.header("allow").expect("Allow header");
    for method in ["GET", "POST", "PUT", "DELETE"] {
        assert!(allow.contains(method), "{allow}");
    }
}

#[tokio::test]
async fn accept_without_json_is_406() {
    let app = TestApp::spawn().await;
    let reply = send(
        app.client.get(app.url("/1.1/users")).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", "text/html"),
    )
    .await;
    reply.assert_error(406, &["Not acceptable: this API only produces application/json"]);
    let ok = send(
        app.client
            .get(app.url("/1.1/users"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Accept", "text/html, application/json;q=0.5"),
    )
    .await;
    assert_eq!(ok.status.as_u16(), 200);
}

#[tokio::test]
async fn unknown_routes_are_404_arrays() {
    let app = TestApp::spawn().await;
    app.get("/1.1/trunks").await.assert_error(404, &["Resource not found: /1.1/trunks"]);
    app.get("/1.1/users/1/cti_profile/extra")
        .await
        .assert_error(404, &["Resource not found: /1.1/users/1/cti_profile/extra"]);
}

#[tokio::test]
async fn oversized_bodies_are_413_arrays() {
    let app = TestApp::spawn().await;
    let id = app.create_user(serde_json::json!({"firstname": "A"})).await;
    let huge = format!(r#"{{"cti_profile_id": 1, "pad": "{}"}}"#, "x".repeat(70_000));
    let reply = app.post(&format!("/1.1/users/{id}/cti_profile"), &huge).await;
    reply.assert_error(413, &["Request body is larger than 65536 bytes"]);
    // The server closes a connection whose body it did not read: ask again on a new one.
    let fresh = reqwest::Client::new();
    send(fresh.get(app.url(&format!("/1.1/users/{id}/cti_profile"))).basic_auth("admin", Some(ADMIN_PASSWORD)))
        .await
        .assert_error(404, &[&format!("User with id={id} does not have a CTI profile")]);
}

/// A presence request member of the wrong type is refused even where its value would not be
/// used, as the OpenAPI document states its type (found by schemathesis).
#[tokio::test]
async fn icws_members_of_the_wrong_type_are_refused_even_when_unused() {
    let app = TestApp::spawn().await;
    app.presence_user("agent1", "pass1234", 1).await;
    let login = app.icws_login("agent1", "pass1234").await;

    let station = serde_json::json!({
        "__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001", "readyForInteractions": {}
    });
    let reply = app.icws(Method::PUT, &login, "/connection/station", Some(&station.to_string())).await;
    reply.assert_icws_error(400, "error.request.invalidRepresentation.invalidProperty");
    assert_eq!(reply.json()["propertyName"], "readyForInteractions");

    let until = serde_json::json!({"untilDateTime": "2030-02-16T16:42Z", "hasDate": true, "hasTime": true});
    for (body, property) in [
        (serde_json::json!({"statusId": "At Lunch", "hasTime": {}}), "hasTime"),
        (serde_json::json!({"statusId": "At Lunch", "until": until, "hasDate": "yes"}), "hasDate"),
        (serde_json::json!({"statusId": "At Lunch", "until": {"hasDate": 1}}), "hasDate"),
    ] {
        let reply = app.icws(Method::PUT, &login, "/status/user-statuses/agent1", Some(&body.to_string())).await;
        reply.assert_icws_error(400, "error.request.invalidRepresentation.invalidProperty");
        assert_eq!(reply.json()["propertyName"], property, "{body}");
    }
    let status = app.icws(Method::GET, &login, "/status/user-statuses/agent1", None).await;
    assert_eq!(status.json()["statusId"], "Available", "no refused change was applied");

    let ready = serde_json::json!({"workstation": "7001", "readyForInteractions": false});
    let reply = app.icws(Method::PUT, &login, "/connection/station", Some(&ready.to_string())).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    app.set_status(&login, "agent1", serde_json::json!({"statusId": "At Lunch", "until": until, "hasDate": true}))
        .await;
}
