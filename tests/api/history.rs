//! The presence history (SPEC §6 "History"): every status, phone, station and session change
//! recorded with its actor, read through `/1.1/status_history` and
//! `/1.1/users/{id}/status_history` with filters, paging and CSV; purged past its retention;
//! exported by `ctid history export`. On both stores.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SUPERVISOR: i64 = 1;
const AGENT: i64 = 2;

/// `GET path` answering 200 JSON `{total, items}`: the items.
async fn records(app: &TestApp, path: &str) -> Vec<Value> {
    let reply = app.get(path).await;
    assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let items = body["items"].as_array().expect("items").clone();
    assert!(body["total"].as_u64().expect("total") >= items.len() as u64, "{body}");
    items
}

/// `(kind, actor type, actor name)` of each record.
fn summary(items: &[Value]) -> Vec<(String, String, Value)> {
    items
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("kind").into(),
                r["actor"]["type"].as_str().expect("type").into(),
                r["actor"]["name"].clone(),
            )
        })
        .collect()
}

/// Waits until `path` lists `n` records (status changes are committed asynchronously).
async fn wait_for(app: &TestApp, path: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let items = records(app, path).await;
        if items.len() >= n || std::time::Instant::now() > deadline {
            assert_eq!(items.len(), n, "{path}: {items:#?}");
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_change_is_recorded_with_its_actor() {
    let app = TestApp::spawn().await;
    let agent = app.presence_user("agent", "secret", AGENT).await;
    app.presence_user("boss", "secret", SUPERVISOR).await;
    let path = format!("/1.1/users/{agent}/status_history");
    // The user's first status, set by the configuration API.
    let first = wait_for(&app, &path, 1).await;
    assert_eq!(first[0]["kind"], "status");
    assert_eq!(first[0]["status_id"], "Available");
    assert_eq!(first[0]["actor"], json!({"type": "admin", "name": null}));

    let login = app.icws_login("agent", "secret").await;
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "soup"})).await;
    let boss = app.icws_login("boss", "secret").await;
    app.set_status(&boss, "agent", json!({"statusId": "Available"})).await;
    let station = json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001"});
    let reply = app.icws(Method::PUT, &login, "/connection/station", Some(&station.to_string())).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let reply = app.icws(Method::DELETE, &login, "/connection/station", None).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let reply = app.icws(Method::DELETE, &login, "/connection", None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);

    let items = wait_for(&app, &path, 7).await;
    let expected = [
        ("status", "admin", Value::Null),
        ("session", "user", json!("agent")),
        ("status", "user", json!("agent")),
        // A supervisor's change names the supervisor.
        ("status", "user", json!("boss")),
        ("station", "user", json!("agent")),
        ("station", "user", json!("agent")),
        ("session", "user", json!("agent")),
    ];
    let expected: Vec<_> = expected.into_iter().map(|(k, t, n)| (k.to_string(), t.to_string(), n)).collect();
    assert_eq!(summary(&items), expected);
    let lunch = &items[2];
    assert_eq!((lunch["status_id"].as_str(), lunch["notes"].as_str()), (Some("At Lunch"), Some("soup")));
    assert_eq!(lunch["username"], "agent");
    assert_eq!(lunch["user_id"], agent);
    assert_eq!(lunch["on_phone"], Value::Null);
    assert_eq!(items[4]["station"], "7001");
    assert_eq!(items[5]["station"], Value::Null);
    assert_eq!(items[1]["session_id"].as_str(), Some(login.session_id.as_str()));
    assert_eq!(items[6]["session_id"].as_str(), Some(login.session_id.as_str()));
    // Ids are the log's numbers: increasing; times are RFC 3339 UTC with milliseconds.
    for pair in items.windows(2) {
        assert!(pair[0]["id"].as_i64() < pair[1]["id"].as_i64(), "{pair:#?}");
        assert!(pair[0]["at"].as_str() <= pair[1]["at"].as_str(), "{pair:#?}");
    }
    for item in &items {
        let at = item["at"].as_str().expect("at");
        assert!(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    }
}

#[tokio::test]
async fn phone_flips_are_recorded_as_the_pbx() {
    let app = TestApp::spawn().await;
    let agent = app.presence_user("agent", "secret", AGENT).await;
    let reply = app.post("/1.1/lines", &json!({"name": "100"}).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let line = reply.json()["id"].as_i64().expect("id");
    let reply = app.post(&format!("/1.1/users/{agent}/lines"), &json!({"line_id": line}).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    for state in ["talking", "idle"] {
        let event = json!({"line": "100", "call_id": "c1", "state": state, "timestamp": now_seconds()});
        let reply = app.post("/1.1/telephony/events", &event.to_string()).await;
        assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    }
    let items = wait_for(&app, &format!("/1.1/status_history?kind=phone&user_id={agent}"), 2).await;
    assert_eq!(
        summary(&items),
        [("phone".into(), "pbx".into(), Value::Null), ("phone".into(), "pbx".into(), Value::Null)]
    );
    assert_eq!((items[0]["on_phone"].as_bool(), items[1]["on_phone"].as_bool()), (Some(true), Some(false)));
    assert_eq!(items[0]["status_id"], Value::Null);
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64()
}

#[tokio::test]
async fn idle_sessions_end_as_the_system() {
    let app = TestApp::spawn_with(&["--session-idle-timeout", "1"], &[]).await;
    let agent = app.presence_user("agent", "secret", AGENT).await;
    app.icws_login("agent", "secret").await;
    let items = wait_for(&app, &format!("/1.1/users/{agent}/status_history?kind=session"), 2).await;
    assert_eq!(summary(&items)[1], ("session".into(), "system".into(), Value::Null));
}

#[tokio::test]
async fn filters_paging_and_direction() {
    let app = TestApp::spawn().await;
    let ann = app.presence_user("ann", "secret", AGENT).await;
    let bob = app.presence_user("bob", "secret", AGENT).await;
    let login = app.icws_login("ann", "secret").await;
    for status in ["At Lunch", "Available", "At Lunch", "Gone Home"] {
        app.set_status(&login, "ann", json!({"statusId": status})).await;
    }
    let all = wait_for(&app, "/1.1/status_history", 7).await;
    assert_eq!(all.iter().filter(|r| r["user_id"] == bob).count(), 1);

    let lunch = records(&app, "/1.1/status_history?status_id=At%20Lunch").await;
    assert_eq!(lunch.len(), 2);
    assert!(lunch.iter().all(|r| r["user_id"] == ann && r["status_id"] == "At Lunch"));
    let statuses = records(&app, &format!("/1.1/status_history?user_id={ann}&kind=status")).await;
    assert_eq!(statuses.len(), 5);

    let reply = app.get(&format!("/1.1/status_history?user_id={ann}&kind=status&limit=2&skip=1")).await;
    let page = reply.json();
    assert_eq!(page["total"], 5, "{page}");
    assert_eq!(page["items"].as_array().expect("items")[..], statuses[1..3]);
    let desc = records(&app, &format!("/1.1/status_history?user_id={ann}&kind=status&direction=desc")).await;
    assert_eq!(desc.into_iter().rev().collect::<Vec<_>>(), statuses);

    // A window after every record holds none; one that ends before the first, none either.
    let first = all[0]["at"].as_str().expect("at").to_string();
    let before = records(&app, &format!("/1.1/status_history?to={}", first.replace(':', "%3A"))).await;
    assert!(before.is_empty(), "{before:#?}");
    let since = records(&app, &format!("/1.1/status_history?from={}", first.replace(':', "%3A"))).await;
    assert_eq!(since.len(), 7);
    // A user's history of another user's id is theirs only; an unknown user is a 404.
    let own = records(&app, &format!("/1.1/users/{bob}/status_history?user_id={ann}")).await;
    assert_eq!(own.len(), 1);
    app.get("/1.1/users/999/status_history").await.assert_error(404, &["User with id=999 does not exist"]);
}

#[tokio::test]
async fn bad_parameters_name_themselves() {
    let app = TestApp::spawn().await;
    app.get("/1.1/status_history?from=yesterday").await.assert_error(400, &["Invalid parameters: from"]);
    app.get("/1.1/status_history?to=2027-02-30T00:00:00Z").await.assert_error(400, &["Invalid parameters: to"]);
    let reversed = "/1.1/status_history?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z";
    app.get(reversed).await.assert_error(400, &["Invalid parameters: to"]);
    let too_long = "/1.1/status_history?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z";
    app.get(too_long).await.assert_error(400, &["Invalid parameters: to"]);
    app.get("/1.1/status_history?kind=mood").await.assert_error(400, &["Invalid parameters: kind"]);
    app.get("/1.1/status_history?limit=10001").await.assert_error(400, &["Invalid parameters: limit"]);
}

#[tokio::test]
async fn csv_has_a_header_and_one_line_per_record() {
    let app = TestApp::spawn().await;
    let agent = app.presence_user("agent", "secret", AGENT).await;
    let login = app.icws_login("agent", "secret").await;
    app.set_status(&login, "agent", json!({"statusId": "At Lunch", "notes": "soup, \"hot\"\nand bread"})).await;
    let path = format!("/1.1/users/{agent}/status_history");
    let json_items = wait_for(&app, &path, 3).await;
    let reply =
        send(app.client.get(app.url(&path)).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", "text/csv"))
            .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut csv = csv::Reader::from_reader(reply.body.as_bytes());
    let header: Vec<String> = csv.headers().expect("header").iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "id",
            "at",
            "user_id",
            "username",
            "kind",
            "status_id",
            "notes",
            "forward_number",
            "until",
            "on_phone",
            "station",
            "session_id",
            "actor_type",
            "actor_name"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), json_items.len());
    let lunch = &rows[2];
    assert_eq!(&lunch[0], json_items[2]["id"].to_string());
    assert_eq!(&lunch[1], json_items[2]["at"].as_str().expect("at"));
    assert_eq!((&lunch[4], &lunch[5], &lunch[6]), ("status", "At Lunch", "soup, \"hot\"\nand bread"));
    assert_eq!((&lunch[12], &lunch[13]), ("user", "agent"));
    // CSV is offered by the history only.
    let users = send(
        app.client.get(app.url("/1.1/users")).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", "text/csv"),
    )
    .await;
    assert_eq!(users.status.as_u16(), 406, "{}", users.body);
}

#[tokio::test]
async fn records_past_the_retention_are_purged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &[], &[]).await;
    let agent = app.presence_user("agent", "secret", AGENT).await;
    wait_for(&app, &format!("/1.1/users/{agent}/status_history"), 1).await;
    app.kill();
    // A record of three days ago, as if written then.
    let old = now_seconds() as i64 * 1000 - 3 * 86_400_000;
    let insert = format!(
        "INSERT INTO history (id, at, user_id, username, kind, status_id, actor_type) \
         VALUES (1000000, {old}, {agent}, 'agent', 'status', 'At Lunch', 'user')"
    );
    run_sql(&url, &insert).await;
    // The only record of another user: their last status, kept however old.
    let only = format!(
        "INSERT INTO history (id, at, user_id, username, kind, status_id, actor_type) \
         VALUES (1000001, {old}, 999, 'gone', 'status', 'Gone Home', 'user')"
    );
    run_sql(&url, &only).await;
    let week =
        format!("/1.1/users/{agent}/status_history?from={}&to={}", iso(old - 86_400_000), iso(old + 4 * 86_400_000));
    let app = TestApp::spawn_at(&url, &["--history-retention-days", "7"], &[]).await;
    assert_eq!(records(&app, &week).await.len(), 2);
    drop(app);
    let app = TestApp::spawn_at(&url, &["--history-retention-days", "2"], &[]).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let items = records(&app, &week).await;
        if items.len() == 1 {
            assert_eq!(items[0]["actor"]["type"], "admin");
            let kept = format!("/1.1/status_history?user_id=999&from={}&to={}", iso(old - 1000), iso(old + 1000));
            assert_eq!(records(&app, &kept).await.len(), 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not purged: {items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unix milliseconds as RFC 3339 for a query string.
fn iso(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms / 1000).expect("in range");
    at.format(&time::format_description::well_known::Rfc3339).expect("format").replace(':', "%3A").replace('+', "%2B")
}

/// Runs one statement on the test's database (the server stopped, on SQLite).
async fn run_sql(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        psql(url, sql);
    } else {
        use sqlx::Connection as _;
        let mut connection = sqlx::SqliteConnection::connect(url).await.expect("open the database");
        sqlx::query(sql).execute(&mut connection).await.expect("run the statement");
        connection.close().await.expect("close the database");
    }
}

#[tokio::test]
async fn history_export_streams_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(app.presence_user(&format!("agent{n}"), "secret", AGENT).await);
    }
    let login = app.icws_login("agent0", "secret").await;
    app.set_status(&login, "agent0", json!({"statusId": "At Lunch"})).await;
    let items = wait_for(&app, "/1.1/status_history", 5).await;
    let out = std::process::Command::new(binary())
        .args(["history", "export", "--database", &url])
        .output()
        .expect("ctid history export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut csv = csv::Reader::from_reader(out.stdout.as_slice());
    let exported: Vec<String> = csv.records().map(|r| r.expect("row")[0].to_string()).collect();
    assert_eq!(exported, items.iter().map(|r| r["id"].to_string()).collect::<Vec<_>>());
    let out = std::process::Command::new(binary())
        .args(["history", "export", "--kind", "session", "--user-id", &ids[0].to_string(), "--database", &url])
        .output()
        .expect("ctid history export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(csv::Reader::from_reader(out.stdout.as_slice()).records().count(), 1);
    let out = std::process::Command::new(binary())
        .args(["history", "export", "--from", "soon", "--database", &url])
        .output()
        .expect("ctid history export");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("from"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn two_instances_record_each_change_once() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let a = TestApp::spawn_at(&url, &[], &[]).await;
    let b = TestApp::spawn_at(&url, &[], &[]).await;
    let agent = a.presence_user("agent", "secret", AGENT).await;
    a.presence_user("boss", "secret", SUPERVISOR).await;
    let on_a = a.icws_login("agent", "secret").await;
    let on_b = b.icws_login("boss", "secret").await;
    for n in 0..5 {
        a.set_status(&on_a, "agent", json!({"statusId": "At Lunch", "notes": format!("a{n}")})).await;
        b.set_status(&on_b, "agent", json!({"statusId": "Available", "notes": format!("b{n}")})).await;
    }
    // The first status, the login, ten changes: each once, whichever instance is asked.
    let path = format!("/1.1/users/{agent}/status_history");
    let items = wait_for(&a, &path, 12).await;
    assert_eq!(records(&b, &path).await, items);
    let notes: Vec<_> = items.iter().filter_map(|r| r["notes"].as_str()).collect();
    assert_eq!(notes, ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"]);
    let actors: Vec<_> = items[2..].iter().map(|r| r["actor"]["name"].as_str().expect("name")).collect();
    assert_eq!(actors, ["agent", "boss"].repeat(5));
}
