//! Whatever a client sends under `/icws`: an ICWS error or a success, never a 500, a panic or a hang.

use proptest::prelude::*;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

fn assert_well_formed(reply: &Reply, what: &str) {
    let status = reply.status.as_u16();
    assert!(status < 500, "{what}: {status} {}", reply.body);
    if status >= 400 {
        assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE), "{what}");
        let body = reply.json();
        assert!(body["errorId"].is_string() && body["message"].is_string(), "{what}: {body}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("Available"),
            Just("Available, Forward"),
            Just("Out of Town"),
            Just("2012-02-16T16:42Z"),
            Just("20120216T164200Z"),
            Just("target"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("statusId".to_string()),
                    Just("notes".to_string()),
                    Just("forwardNumber".to_string()),
                    Just("until".to_string()),
                    Just("untilDateTime".to_string()),
                    Just("hasDate".to_string()),
                    Just("hasTime".to_string()),
                    Just("workstation".to_string()),
                    Just("__type".to_string()),
                    Just("userID".to_string()),
                    Just("password".to_string()),
                    "[a-zA-Z_]{1,10}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
    login: IcwsLogin,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let (app, login) = runtime.block_on(async {
            let app = TestApp::spawn().await;
            app.presence_user("boss", "boss-pass", 1).await;
            app.presence_user("target", "target-pass", 2).await;
            let login = app.icws_login("boss", "boss-pass").await;
            (app, login)
        });
        Self { runtime, app, login }
    }

    fn session(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        self.runtime.block_on(self.app.icws(method, &self.login, path, Some(&String::from_utf8_lossy(body))))
    }

    fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        self.runtime.block_on(send(self.app.client.request(method, self.app.url(path)).body(body)))
    }
}

const SESSION_TARGETS: [(&str, &str); 3] =
    [("PUT", "/status/user-statuses/target"), ("PUT", "/status/user-statuses/boss"), ("PUT", "/connection/station")];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_bodies_get_an_icws_answer(value in json_value(), target in 0..SESSION_TARGETS.len()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let (method, path) = SESSION_TARGETS[target];
        FIXTURE.with(|f| {
            let reply = f.session(method, path, value.to_string().as_bytes());
            assert_well_formed(&reply, &format!("{method} {path} {value}"));
            let login = f.raw("POST", "/icws/connection?include=version", value.to_string().into_bytes());
            assert_well_formed(&login, &format!("login {value}"));
        });
    }

    #[test]
    fn arbitrary_bytes_get_an_icws_answer(bytes in prop::collection::vec(any::<u8>(), 0..256), target in 0..SESSION_TARGETS.len()) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let (method, path) = SESSION_TARGETS[target];
        FIXTURE.with(|f| {
            assert_well_formed(&f.session(method, path, &bytes), &format!("{method} {path} {bytes:?}"));
            assert_well_formed(&f.raw("POST", "/icws/connection", bytes.clone()), &format!("login {bytes:?}"));
        });
    }

    #[test]
    fn arbitrary_path_segments_get_an_icws_answer(
        segment in "[^/?#]{0,24}",
        method in prop_oneof![Just("GET"), Just("PUT"), Just("DELETE"), Just("POST")],
    ) {
        thread_local!(static FIXTURE: Fixture = Fixture::new());
        let encoded = percent_encoding::utf8_percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).to_string();
        FIXTURE.with(|f| {
            for path in [
                format!("/status/user-statuses/{encoded}"),
                format!("/status/status-messages-user-access/{encoded}"),
                format!("/{encoded}"),
                format!("/status/{encoded}"),
            ] {
                let reply = f.session(method, &path, br#"{"statusId": "Available"}"#);
                assert_well_formed(&reply, &format!("{method} {path}"));
            }
            for path in [
                format!("/icws/{encoded}/connection"),
                format!("/icws/{encoded}/status/user-statuses/target"),
                format!("/icws/connection/features/{encoded}"),
                format!("/icws/status-icons/{encoded}"),
                format!("/icws/{encoded}"),
            ] {
                let reply = f.raw(method, &path, b"{}".to_vec());
                assert_well_formed(&reply, &format!("{method} {path}"));
            }
        });
    }
}
