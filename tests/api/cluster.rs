//! Several `ctid serve` processes on one PostgreSQL database, as one service; and one instance
//! riding out a restart of PostgreSQL. Only on PostgreSQL (`CTID_TEST_POSTGRES`): on SQLite
//! there is one process by design, and these tests say so and stop.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{IcwsLogin, Inbox, SseStream, TestApp, database_url, on_postgres, psql};

/// The user-status entries of a message list, `(userId, notes)` in order.
fn notes_of(messages: &[Value], user: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["__type"] == "urn:inin.com:status:userStatusMessage")
        .flat_map(|m| m["userStatusList"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["userId"] == user)
        .map(|e| e["notes"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn completions(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["__type"] == "urn:inin.com:messaging:asyncOperationCompletedMessage")
        .map(|m| m["requestId"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Events of the stream until one carries `notes` for `user` (fails after 10 s).
async fn stream_until(stream: &mut SseStream, user: &str, notes: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = stream.next(Duration::from_secs(10)).await;
        let event = event.unwrap_or_else(|| panic!("no event with notes {notes} for {user}; saw {seen:?}"));
        seen.push(event.data);
        if notes_of(&seen[seen.len() - 1..], user).iter().any(|n| n == notes) {
            return seen;
        }
    }
}

async fn status_notes(app: &TestApp, login: &IcwsLogin, user: &str) -> String {
    let reply = app.icws(Method::GET, login, &format!("/status/user-statuses/{user}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["notes"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn three_instances_on_one_database_serve_as_one() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let a = TestApp::spawn_at(&url, &[], &[]).await;
    let mut b = TestApp::spawn_at(&url, &[], &[]).await;
    let c = TestApp::spawn_at(&url, &[], &[]).await;

    // Provisioned through A, usable everywhere.
    a.presence_user("boss", "secret", 1).await;
    a.presence_user("agent", "secret", 2).await;
    a.presence_user("peer", "secret", 2).await;

    // A session opened on one instance is valid on every other at once.
    let boss = b.icws_login("boss", "secret").await;
    let agent = c.icws_login("agent", "secret").await;
    for app in [&a, &b, &c] {
        let reply = app.icws(Method::GET, &boss, "/connection", None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    // Subscribed through A; polled on B: one full message.
    a.subscribe(&boss, &["agent", "peer"]).await;
    let first = b.poll(&boss).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["isDelta"], false);
    assert_eq!(first[0]["userStatusList"].as_array().map(Vec::len), Some(2));
    assert_eq!(c.poll(&boss).await, Vec::<Value>::new(), "what B handed out is not handed out again by C");

    // The agent follows its peer on an event stream served by A.
    c.subscribe(&agent, &["peer"]).await;
    let mut stream = a.sse(&agent, None).await;
    let full = stream.next(Duration::from_secs(10)).await.expect("full state");
    assert_eq!(full.data["isDelta"], false);

    // Changes of one user through alternating instances: every subscriber, wherever it reads,
    // sees each once, in commit order; the caller gets each completion after its change.
    let apps = [&a, &b, &c];
    let mut expected = Vec::new();
    let mut requests = Vec::new();
    let mut polled = Vec::new();
    for i in 0..12 {
        let notes = format!("n{i}");
        requests.push(apps[i % 3].set_status(&boss, "peer", json!({"statusId": "Available", "notes": notes})).await);
        expected.push(notes);
        if i % 4 == 3 {
            polled.extend(apps[(i + 1) % 3].poll(&boss).await);
        }
    }
    polled.extend(b.poll(&boss).await);
    assert_eq!(notes_of(&polled, "peer"), expected, "poll across instances: {polled:?}");
    assert_eq!(completions(&polled), requests, "completions: {polled:?}");
    let streamed = stream_until(&mut stream, "peer", "n11").await;
    assert_eq!(notes_of(&streamed, "peer"), expected, "event stream on A: {streamed:?}");
    for app in apps {
        assert_eq!(status_notes(app, &agent, "peer").await, "n11");
    }

    // Rights changed through one instance apply on the others at once.
    let agent_id = c.get("/1.1/users?search=agent").await.json()["items"][0]["id"].as_i64().expect("id");
    let removed = b.delete(&format!("/1.1/users/{agent_id}/cti_profile")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    for app in apps {
        let reply = app.icws(Method::GET, &agent, "/connection", None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }

    // B dies while acknowledging changes; nothing it acknowledged is lost.
    for i in 0..5 {
        b.set_status(&boss, "peer", json!({"statusId": "At Lunch", "notes": format!("b{i}")})).await;
    }
    b.kill();
    assert_eq!(status_notes(&a, &boss, "peer").await, "b4");
    let polled = c.poll(&boss).await;
    assert_eq!(notes_of(&polled, "peer"), ["b0", "b1", "b2", "b3", "b4"], "{polled:?}");
    a.set_status(&boss, "peer", json!({"statusId": "Available", "notes": "after"})).await;

    // Restarted, B serves the same sessions: a fresh full state, then deltas.
    let b = TestApp::spawn_at(&url, &[], &[]).await;
    assert_eq!(status_notes(&b, &boss, "peer").await, "after");
    let resumed = b.poll(&boss).await;
    assert!(
        notes_of(&resumed, "peer").last().is_some_and(|n| n == "after"),
        "B hands out the latest state of the subscribed users: {resumed:?}"
    );
    assert_eq!(a.poll(&boss).await, Vec::<Value>::new(), "nothing handed out twice: {resumed:?}");
    c.set_status(&boss, "peer", json!({"statusId": "Available", "notes": "last"})).await;
    assert_eq!(notes_of(&b.poll(&boss).await, "peer"), ["last"]);
}

#[tokio::test]
async fn notes_with_control_characters_arrive_intact_on_another_instance() {
    if !on_postgres("several instances") {
        return;
    }
    let (_dir, a, b) = two_instances_with_a_boss().await;
    a.presence_user("agent", "secret", 2).await;
    let boss = b.icws_login("boss", "secret").await;
    b.subscribe(&boss, &["agent"]).await;
    let mut inbox = Inbox::new(&b, &boss);
    inbox.next().await;

    // PostgreSQL cannot hold U+0000 in text: the store escapes it; the log must carry the
    // status as the client set it.
    let notes = "nul \u{0} start \u{1} end \\u0000 \u{1}0000";
    a.set_status(&boss, "agent", json!({"statusId": "Available", "notes": notes})).await;
    let seen = inbox.until("the change made through A", |m| m["isDelta"] == true).await;
    assert_eq!(notes_of(&seen, "agent"), [notes], "{seen:?}");
    assert_eq!(status_notes(&b, &boss, "agent").await, notes);
    assert_eq!(status_notes(&a, &boss, "agent").await, notes);
}

/// Two instances on a fresh database (kept as long as the directory), and a user `boss` who
/// may see everyone.
async fn two_instances_with_a_boss() -> (tempfile::TempDir, TestApp, TestApp) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let a = TestApp::spawn_at(&url, &[], &[]).await;
    let b = TestApp::spawn_at(&url, &[], &[]).await;
    a.presence_user("boss", "secret", 1).await;
    (dir, a, b)
}

/// A throw-away PostgreSQL cluster of its own (scripts/postgres), to stop and start.
pub(crate) struct OwnServer {
    dir: tempfile::TempDir,
    pub(crate) admin: String,
}

impl OwnServer {
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // A port outside the range other throw-away servers are started in: while this one is
        // stopped, nobody else takes it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let out = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .arg(dir.path())
            .env("PORT", port.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/postgres");
        assert!(out.status.success(), "scripts/postgres failed");
        let admin = String::from_utf8(out.stdout).expect("UTF-8").trim().to_string();
        Self { dir, admin }
    }

    /// The cluster's directory (its data directory is `data` inside).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn port(&self) -> String {
        self.admin.rsplit(':').next().and_then(|p| p.split('/').next()).expect("port").to_string()
    }

    pub(crate) fn pg_ctl(&self, action: &str) {
        let port = self.port();
        let script = format!(
            "bin=$(printf '%s\\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1); \
             cmd=(\"$bin/pg_ctl\" -D '{dir}/data' -l '{dir}/log' -o '-p {port}' -w -t 60 -s -m fast {action}); \
             if [ \"$(id -u)\" = 0 ]; then cd / && runuser -u postgres -- \"${{cmd[@]}}\"; else \"${{cmd[@]}}\"; fi",
            dir = self.dir.path().display()
        );
        let status = Command::new("bash").arg("-c").arg(script).status().expect("pg_ctl");
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        assert!(status.success(), "pg_ctl {action}: {log}");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .args(["stop", &self.dir.path().display().to_string()])
            .status();
    }
}

#[tokio::test]
async fn an_instance_rides_out_a_postgresql_restart() {
    if !on_postgres("several instances") {
        return;
    }
    let server = OwnServer::start();
    psql(&server.admin, "CREATE DATABASE ctid");
    let url = format!("{}/ctid", server.admin.rsplit_once('/').expect("admin URL").0);
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    app.presence_user("boss", "secret", 1).await;
    app.presence_user("agent", "secret", 2).await;
    let poller = app.icws_login("boss", "secret").await;
    let streamer = app.icws_login("boss", "secret").await;
    app.subscribe(&poller, &["agent"]).await;
    app.subscribe(&streamer, &["agent"]).await;
    assert_eq!(app.poll(&poller).await.len(), 1, "full state");
    let mut stream = app.sse(&streamer, None).await;
    assert_eq!(stream.next(Duration::from_secs(10)).await.expect("full state").data["isDelta"], false);
    let before = app.set_status(&poller, "agent", json!({"statusId": "Available", "notes": "before"})).await;
    let polled = app.poll(&poller).await;
    assert_eq!(notes_of(&polled, "agent"), ["before"]);
    assert_eq!(completions(&polled), [before]);
    stream_until(&mut stream, "agent", "before").await;

    server.pg_ctl("stop");
    // Down: clear errors in each API's format, never an answer from what it cannot check.
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{}", health.body);
    assert_eq!(health.json()["database"], "unreachable");
    app.icws(Method::GET, &poller, "/status/user-statuses/agent", None)
        .await
        .assert_icws_error(503, "error.server.unavailable");
    let users = app.get("/1.1/users").await;
    assert_eq!(users.status, StatusCode::SERVICE_UNAVAILABLE, "{}", users.body);
    assert!(users.json()[0].as_str().is_some_and(|m| m.contains("database")), "{}", users.body);
    let refused =
        app.icws(Method::PUT, &poller, "/status/user-statuses/agent", Some(r#"{"statusId":"At Lunch"}"#)).await;
    refused.assert_icws_error(503, "error.server.unavailable");

    server.pg_ctl("start");
    // Back without a restart of its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.get("/health").await.status != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "not healthy 30 s after PostgreSQL came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/health").await.json(), json!({"status": "ok", "database": "reachable"}));
    assert_eq!(app.poll(&poller).await, Vec::<Value>::new(), "nothing handed out twice, nothing invented");
    let after = app.set_status(&poller, "agent", json!({"statusId": "At Lunch", "notes": "after"})).await;
    let polled = app.poll(&poller).await;
    assert_eq!(notes_of(&polled, "agent"), ["after"], "{polled:?}");
    assert_eq!(completions(&polled), [after]);
    // The stream opened before the restart goes on: the next change, once.
    let streamed = stream_until(&mut stream, "agent", "after").await;
    assert_eq!(notes_of(&streamed, "agent"), ["after"], "{streamed:?}");
    // The refused change was never applied.
    let status = app.icws(Method::GET, &poller, "/status/user-statuses/agent", None).await.json();
    assert_eq!(status["statusId"], "At Lunch");
    assert_eq!(status["notes"], "after");
}

#[tokio::test]
async fn health_reports_that_the_database_answers() {
    // On both stores: what a load balancer's health check reads.
    let app = TestApp::spawn().await;
    let reply = app.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"status": "ok", "database": "reachable"}));
    // No credentials needed, and nothing else is told.
    let head = app.request(Method::POST, "/health", Some("{}")).await;
    assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// What an event stream on one instance handed out is recorded for the others: a client
/// that later polls the same session elsewhere is not handed it again.
#[tokio::test]
async fn what_a_stream_handed_out_is_not_handed_out_again_elsewhere() {
    if !on_postgres("several instances") {
        return;
    }
    let (_dir, a, b) = two_instances_with_a_boss().await;
    a.presence_user("peer", "secret", 2).await;
    let boss = a.icws_login("boss", "secret").await;
    let peer = b.icws_login("peer", "secret").await;
    a.subscribe(&boss, &["peer"]).await;

    let mut stream = a.sse(&boss, None).await;
    let full = stream.next(Duration::from_secs(10)).await.expect("full state");
    assert_eq!(full.data["isDelta"], false);
    for notes in ["s1", "s2", "s3"] {
        b.set_status(&peer, "peer", json!({"statusId": "Available", "notes": notes})).await;
        stream_until(&mut stream, "peer", notes).await;
    }
    drop(stream);
    // The stream's position is written soon after each batch, without the stream waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.poll(&boss).await, Vec::<Value>::new(), "handed out by A's stream, not again by B");
    b.set_status(&peer, "peer", json!({"statusId": "Available", "notes": "after"})).await;
    assert_eq!(notes_of(&b.poll(&boss).await, "peer"), ["after"]);
}

#[tokio::test]
async fn a_restarted_instance_sends_the_catalog_and_allowed_statuses_whole_then_changes() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut first = TestApp::spawn_at(&url, &[], &[]).await;
    first.presence_user("agent", "secret", 2).await;
    let agent = first.icws_login("agent", "secret").await;
    for (path, body) in [
        ("/messaging/subscriptions/status/status-messages", "{}"),
        ("/messaging/subscriptions/status/status-messages-user-access", r#"{"userIds": ["agent"]}"#),
    ] {
        let reply = first.icws(Method::PUT, &agent, path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    assert_eq!(first.poll(&agent).await.len(), 2, "the catalog and the allowed statuses");
    first.kill();

    // The session comes back from its row; what it follows comes again whole.
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    let whole = app.poll(&agent).await;
    let types: Vec<(&str, bool)> =
        whole.iter().map(|m| (m["__type"].as_str().unwrap_or_default(), m["isDelta"] == true)).collect();
    assert_eq!(
        types,
        [
            ("urn:inin.com:status:statusMessagesMessage", false),
            ("urn:inin.com:status:statusMessagesUserAccessMessage", false)
        ],
        "{whole:#?}"
    );
    assert_eq!(whole[0]["statusMessagesAdded"].as_array().map(Vec::len), Some(14), "{}", whole[0]);
    // Then only what changes.
    let coffee = r#"{"status_id": "Coffee", "message_text": "Coffee", "group_tag": "BREAK"}"#;
    assert_eq!(app.post("/1.1/status_messages", coffee).await.status, StatusCode::CREATED);
    let mut inbox = Inbox::new(&app, &agent);
    let changes = [inbox.next().await, inbox.next().await];
    assert_eq!(changes[0]["isDelta"], true, "{}", changes[0]);
    assert_eq!(changes[0]["statusMessagesAdded"][0]["statusId"], "Coffee", "{}", changes[0]);
    assert_eq!(
        changes[1]["statusMessagesUserAccessChanges"],
        json!([{"userId": "agent", "statusMessagesAdded": ["Coffee"], "statusMessagesRemoved": []}]),
        "{}",
        changes[1]
    );
}
