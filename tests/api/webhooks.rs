//! Webhooks (SPEC §6): the `/1.1/webhooks` resource, and deliveries to a real receiver that
//! checks each signature, answers scripted statuses and records what it got.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, database_url, on_postgres};

const SECRET: &str = "receiver-secret";
const PASSWORD: &str = "hook-pass";
/// Hang guard for a wait on the receiver; never reached when ctid behaves.
const PATIENCE: Duration = Duration::from_secs(30);
/// Flags that keep retries and the take-over of a stopped instance's lease short.
const FAST: [&str; 4] = ["--webhook-retry-first-ms", "100", "--webhook-lease-ms", "1500"];

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: i64,
    body: Value,
    /// The status the receiver answered.
    answered: u16,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Statuses to answer, in order; 200 when none is left.
    script: VecDeque<u16>,
    /// Answered when the script is empty.
    otherwise: u16,
}

/// An HTTP server on 127.0.0.1:0 that verifies the Standard Webhooks signature of each
/// request (a bad one fails the test) and records it.
#[derive(Clone)]
struct Receiver {
    inner: Arc<Mutex<Inner>>,
    url: String,
}

/// The documented recipe: base64 HMAC-SHA256 of `id.timestamp.body` with the secret's bytes.
fn expected_signature(id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    assert_eq!(signature, expected_signature(&id, &timestamp, &body), "signature of webhook {id}");
    let sent_at: i64 = timestamp.parse().expect("webhook-timestamp");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!((i64::try_from(now).expect("now") - sent_at).abs() < 60, "timestamp {sent_at}");
    assert_eq!(header("content-type"), "application/json");
    let body: Value = serde_json::from_slice(&body).expect("JSON body");
    let mut inner = receiver.inner.lock().expect("receiver");
    let answered = inner.script.pop_front().unwrap_or(inner.otherwise);
    inner.received.push(Received { id: id.parse().expect("webhook-id"), body, answered });
    (StatusCode::from_u16(answered).expect("status"), "receiver says no")
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner { otherwise: 200, ..Inner::default() }));
        let receiver = Self { inner, url };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn script(&self, statuses: &[u16], otherwise: u16) {
        let mut inner = self.inner.lock().expect("receiver");
        inner.script = statuses.iter().copied().collect();
        inner.otherwise = otherwise;
    }

    fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("receiver").received.clone()
    }

    /// What the receiver got once `done` holds of it (fails after a while).
    async fn until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(Instant::now() < deadline, "{what}: got {received:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The notes of the status payloads delivered with a 2xx, in order.
fn delivered_notes(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter(|r| r.answered == 200 && r.body["type"] == "presence.status")
        .map(|r| r.body["data"]["notes"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn add_webhook(app: &TestApp, url: &str, events: &[&str]) -> i64 {
    let body = json!({"url": url, "events": events, "secret": SECRET});
    let reply = app.post("/1.1/webhooks", &body.to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

/// Sets `notes` as the status notes of `user` (a presence user logged in), one after the other.
async fn set_notes(app: &TestApp, user: &str, notes: &[String]) {
    let login = app.icws_login(user, PASSWORD).await;
    for note in notes {
        app.set_status(&login, user, json!({"statusId": "At Lunch", "notes": note})).await;
    }
}

fn notes(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

#[tokio::test]
async fn webhooks_are_managed_in_the_xivo_style() {
    let app = TestApp::spawn().await;
    for (body, message) in [
        (json!({"url": "ftp://example.org/", "secret": "k"}), "Invalid parameters: url"),
        (json!({"url": "not a url", "secret": "k"}), "Invalid parameters: url"),
        (
            json!({"url": "https://example.org/", "secret": "k", "events": ["status", "calls"]}),
            "Invalid parameters: events",
        ),
        (json!({"url": "https://example.org/", "secret": "k", "events": []}), "Invalid parameters: events"),
        (json!({"url": "https://example.org/", "secret": "k", "colour": "red"}), "Invalid parameters: colour"),
        (json!({"events": ["status"]}), "Missing parameters: url,secret"),
        (json!({"url": "https://example.org/", "secret": 3}), "Invalid parameters: secret must be a string"),
        (json!({"url": format!("https://example.org/{}", "a".repeat(2048)), "secret": "k"}), "Invalid parameters: url"),
        (json!({"url": "https://example.org/", "secret": "k".repeat(257)}), "Invalid parameters: secret"),
    ] {
        app.post("/1.1/webhooks", &body.to_string()).await.assert_error(400, &[message]);
    }
    app.post("/1.1/webhooks", "nope")
        .await
        .assert_error(400, &["No parsable data in the request, Be sure to send a valid JSON file"]);

    let body = json!({"url": "https://example.org/hook", "events": ["user", "status"], "secret": "hush-hush"});
    let created = app.post("/1.1/webhooks", &body.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().expect("id");
    assert_eq!(created.header("location"), Some(format!("/1.1/webhooks/{id}").as_str()));
    let shown = created.json();
    assert_eq!(
        shown,
        json!({
            "id": id, "url": "https://example.org/hook", "events": ["status", "user"], "enabled": true,
            "disabled_reason": null, "failing_since": null, "next_attempt_at": null,
            "links": [{"rel": "webhooks", "href": format!("{}/1.1/webhooks/{id}", app.base())}],
        })
    );
    assert_eq!(app.get(&format!("/1.1/webhooks/{id}")).await.json(), shown);
    let list = app.get("/1.1/webhooks").await;
    assert_eq!(list.json(), json!({"total": 1, "items": [shown.clone()]}));

    // PUT what was got, changed: read-only members are ignored; absent ones are kept.
    let mut edited = shown.clone();
    edited["enabled"] = json!(false);
    edited["events"] = json!(["phone"]);
    let reply = app.put(&format!("/1.1/webhooks/{id}"), &edited.to_string()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let now = app.get(&format!("/1.1/webhooks/{id}")).await.json();
    assert_eq!((now["enabled"].clone(), now["events"].clone()), (json!(false), json!(["phone"])));
    app.put(&format!("/1.1/webhooks/{id}"), r#"{"url": "mailto:a@b"}"#)
        .await
        .assert_error(400, &["Invalid parameters: url"]);
    for reply in [&created, &list, &app.get(&format!("/1.1/webhooks/{id}")).await] {
        assert!(!reply.body.contains("hush-hush") && !reply.body.contains("secret"), "{}", reply.body);
    }
    let deliveries = app.get(&format!("/1.1/webhooks/{id}/deliveries")).await;
    assert_eq!(deliveries.json(), json!({"total": 0, "items": []}));

    for missing in ["999", "abc"] {
        let message = format!("Webhook with id={missing} does not exist");
        app.get(&format!("/1.1/webhooks/{missing}")).await.assert_error(404, &[&message]);
        app.put(&format!("/1.1/webhooks/{missing}"), "{}").await.assert_error(404, &[&message]);
        app.delete(&format!("/1.1/webhooks/{missing}")).await.assert_error(404, &[&message]);
        app.get(&format!("/1.1/webhooks/{missing}/deliveries")).await.assert_error(404, &[&message]);
    }
    assert_eq!(app.delete(&format!("/1.1/webhooks/{id}")).await.status, 204);
    app.get(&format!("/1.1/webhooks/{id}")).await.assert_error(404, &[&format!("Webhook with id={id} does not exist")]);
    let anonymous = app.client.get(app.url("/1.1/webhooks")).send().await.expect("request");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn status_changes_are_delivered_signed_and_in_log_order() {
    let app = TestApp::spawn_with(&FAST, &[]).await;
    let receiver = Receiver::start().await;
    app.presence_user("ann", PASSWORD, 1).await;
    let hook = add_webhook(&app, &receiver.url, &["status"]).await;
    let sent = notes("n", 6);
    set_notes(&app, "ann", &sent).await;
    let received = receiver.until("six status changes", |r| delivered_notes(r).len() >= sent.len()).await;
    assert_eq!(delivered_notes(&received), sent);
    // Only what it selected (no session event for the login), each once, in log order.
    assert!(received.iter().all(|r| r.body["type"] == "presence.status"), "{received:#?}");
    let ids: Vec<i64> = received.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let first = &received[0].body;
    assert_eq!(first["data"]["id"], received[0].id);
    assert_eq!(first["data"]["username"], "ann");
    assert_eq!(first["data"]["kind"], "status");
    assert_eq!(first["data"]["status_id"], "At Lunch");
    assert_eq!(first["data"]["actor"], json!({"type": "user", "name": "ann"}));
    assert!(first["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{first}");

    let deliveries = app.get(&format!("/1.1/webhooks/{hook}/deliveries")).await.json();
    assert_eq!(deliveries["total"], 6);
    let newest = &deliveries["items"][0];
    assert_eq!((newest["event_id"].as_i64(), newest["status_code"].clone()), (Some(ids[5]), json!(200)));
    assert_eq!(newest["error"], Value::Null);
}

#[tokio::test]
async fn configuration_changes_are_delivered_as_resources() {
    let app = TestApp::spawn_with(&FAST, &[]).await;
    let receiver = Receiver::start().await;
    add_webhook(&app, &receiver.url, &["user", "cti_profile"]).await;
    let id = app.create_user(json!({"firstname": "Zoe", "lastname": "Hook"})).await;
    let received = receiver.until("the user created", |r| !r.is_empty()).await;
    assert_eq!(received[0].body["type"], "config.user");
    let user = &received[0].body["data"];
    assert_eq!((user["id"].as_i64(), user["firstname"].as_str()), (Some(id), Some("Zoe")));
    assert_eq!((user["password"].clone(), user.get("links")), (Value::Null, None));

    assert_eq!(app.delete(&format!("/1.1/users/{id}")).await.status, 204);
    let deleted = json!({"id": id, "deleted": true});
    receiver.until("the user deleted", |r| r.last().is_some_and(|r| r.body["data"] == deleted)).await;
    let reply = app.put("/1.1/cti_profiles/2", r#"{"name": "Hooked"}"#).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let received =
        receiver.until("a profile edited", |r| r.last().is_some_and(|r| r.body["type"] == "config.cti_profile")).await;
    assert_eq!(received[received.len() - 1].body["data"], json!({}));
    assert!(received.iter().all(|r| r.body["type"] != "presence.status"), "{received:#?}");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_before_any_later_event() {
    let app = TestApp::spawn_with(&FAST, &[]).await;
    let receiver = Receiver::start().await;
    receiver.script(&[500, 500], 200);
    app.presence_user("bea", PASSWORD, 1).await;
    let hook = add_webhook(&app, &receiver.url, &["status"]).await;
    set_notes(&app, "bea", &notes("r", 3)).await;
    let received = receiver.until("three changes delivered", |r| delivered_notes(r).len() >= 3).await;
    let seen: Vec<(i64, u16)> = received.iter().map(|r| (r.id, r.answered)).collect();
    let first = seen[0].0;
    assert_eq!(&seen[..3], &[(first, 500), (first, 500), (first, 200)], "{seen:?}");
    assert!(seen[3..].iter().all(|(id, status)| *id > first && *status == 200), "{seen:?}");
    assert_eq!(delivered_notes(&received), notes("r", 3));

    let deliveries = app.get(&format!("/1.1/webhooks/{hook}/deliveries")).await.json();
    let items = deliveries["items"].as_array().expect("items").clone();
    let oldest = &items[items.len() - 1];
    assert_eq!((oldest["event_id"].as_i64(), oldest["status_code"].clone()), (Some(first), json!(500)));
    assert_eq!(oldest["error"], "HTTP 500: receiver says no");
    let webhook = app.get(&format!("/1.1/webhooks/{hook}")).await.json();
    assert_eq!((webhook["failing_since"].clone(), webhook["enabled"].clone()), (Value::Null, json!(true)));
}

#[tokio::test]
async fn a_webhook_failing_too_long_is_disabled_and_says_why() {
    let app = TestApp::spawn_with(&["--webhook-retry-first-ms", "50", "--webhook-give-up-ms", "400"], &[]).await;
    let receiver = Receiver::start().await;
    receiver.script(&[], 503);
    app.presence_user("cid", PASSWORD, 1).await;
    let hook = add_webhook(&app, &receiver.url, &["status"]).await;
    set_notes(&app, "cid", &notes("d", 2)).await;
    let path = format!("/1.1/webhooks/{hook}");
    let deadline = Instant::now() + PATIENCE;
    let webhook = loop {
        let webhook = app.get(&path).await.json();
        if webhook["enabled"] == false {
            break webhook;
        }
        assert!(Instant::now() < deadline, "never disabled: {webhook}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = webhook["disabled_reason"].as_str().expect("reason");
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(webhook["failing_since"].is_string(), "{webhook}");
    assert!(receiver.received().iter().all(|r| r.body["data"]["notes"] == "d1"), "later events wait");

    // Enabled again, it goes on from the event that failed.
    receiver.script(&[], 200);
    assert_eq!(app.put(&path, r#"{"enabled": true}"#).await.status, 204);
    let webhook = app.get(&path).await.json();
    assert_eq!((webhook["disabled_reason"].clone(), webhook["failing_since"].clone()), (Value::Null, Value::Null));
    let received = receiver.until("both changes once enabled", |r| delivered_notes(r).len() >= 2).await;
    assert_eq!(delivered_notes(&received), notes("d", 2));
}

#[tokio::test]
async fn the_backlog_is_delivered_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &FAST, &[]).await;
    let receiver = Receiver::start().await;
    receiver.script(&[], 503);
    app.presence_user("dan", PASSWORD, 1).await;
    add_webhook(&app, &receiver.url, &["status"]).await;
    set_notes(&app, "dan", &notes("k", 4)).await;
    receiver.until("a first attempt", |r| !r.is_empty()).await;
    app.kill();

    receiver.script(&[], 200);
    let app = TestApp::spawn_at(&url, &FAST, &[]).await;
    let received = receiver.until("the backlog", |r| delivered_notes(r).len() >= 4).await;
    assert_eq!(delivered_notes(&received), notes("k", 4));
    drop(app);
    crate::helpers::drop_database(dir.path());
}

#[tokio::test]
async fn a_cluster_delivers_each_event_once() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut a = TestApp::spawn_at(&url, &FAST, &[]).await;
    let b = TestApp::spawn_at(&url, &FAST, &[]).await;
    let receiver = Receiver::start().await;
    a.presence_user("eve", PASSWORD, 1).await;
    add_webhook(&b, &receiver.url, &["status"]).await;
    let login_a = a.icws_login("eve", PASSWORD).await;
    let login_b = b.icws_login("eve", PASSWORD).await;
    let sent = notes("c", 10);
    for (i, note) in sent.iter().enumerate() {
        let (app, login) = if i % 2 == 0 { (&a, &login_a) } else { (&b, &login_b) };
        app.set_status(login, "eve", json!({"statusId": "At Lunch", "notes": note})).await;
    }
    receiver.until("ten changes", |r| delivered_notes(r).len() >= sent.len()).await;
    // A second instance delivering too would repeat them within its next tick.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    assert_eq!(delivered_notes(&received), sent);
    let mut ids: Vec<i64> = received.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), received.len(), "{received:#?}");

    // Whichever instance delivered, killing one leaves the other to deliver what follows.
    a.kill();
    let more = notes("after", 2);
    for note in &more {
        b.set_status(&login_b, "eve", json!({"statusId": "At Lunch", "notes": note})).await;
    }
    let received = receiver.until("changes after a kill", |r| delivered_notes(r).len() >= sent.len() + 2).await;
    assert_eq!(delivered_notes(&received)[sent.len()..], more[..]);
    drop((a, b));
    crate::helpers::drop_database(dir.path());
}

/// Makes every event of the database at `url` two hours old.
async fn age_the_log(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let pool = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
            .await
            .expect("open the SQLite file");
        sqlx::query("UPDATE events SET at = at - 7200000").execute(&pool).await.expect("age the log");
        pool.close().await;
    } else {
        crate::helpers::psql(url, "UPDATE events SET at = at - interval '2 hours'");
    }
}

#[tokio::test]
async fn the_log_keeps_what_an_enabled_webhook_has_not_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &FAST, &[]).await;
    let receiver = Receiver::start().await;
    receiver.script(&[], 503);
    app.presence_user("fay", PASSWORD, 1).await;
    add_webhook(&app, &receiver.url, &["status"]).await;
    set_notes(&app, "fay", &notes("p", 3)).await;
    receiver.until("a first attempt", |r| !r.is_empty()).await;
    app.kill();

    // Older than the retention (an hour): a restart purges them, but for the webhook.
    age_the_log(&url).await;
    receiver.script(&[], 200);
    let app = TestApp::spawn_at(&url, &FAST, &[]).await;
    let received = receiver.until("the aged backlog", |r| delivered_notes(r).len() >= 3).await;
    assert_eq!(delivered_notes(&received), notes("p", 3));
    drop(app);
    crate::helpers::drop_database(dir.path());
}
