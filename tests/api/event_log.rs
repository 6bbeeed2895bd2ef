//! The event log as the spine, on both stores (SPEC §4): presence sessions are rows that survive
//! a `kill -9` and a restart (id, cookie, token, subscriptions, station); a session that ended
//! stays ended; credentials are stored only as hashes; and every change, made through either API,
//! reaches subscribers through the log.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";
const STATION: &str = "/connection/station";

/// What the database of `url` holds of the log: `(kind, user id)` in order, and every stored
/// text of the session rows and the log (records and payloads).
async fn stored(url: &str) -> (Vec<(String, Option<i64>)>, String) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the SQLite file");
        let events: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT kind, user_id FROM events ORDER BY seq").fetch_all(&pool).await.expect("events");
        let texts: Vec<(String,)> =
            sqlx::query_as("SELECT record FROM sessions UNION ALL SELECT coalesce(payload, '') FROM events")
                .fetch_all(&pool)
                .await
                .expect("texts");
        pool.close().await;
        return (events, texts.into_iter().map(|(t,)| t).collect::<Vec<_>>().join("\n"));
    }
    let rows = psql(url, "SELECT kind || '|' || coalesce(user_id::text, '') FROM events ORDER BY seq");
    let events = rows
        .lines()
        .filter_map(|line| line.split_once('|'))
        .map(|(kind, user)| (kind.to_string(), user.parse().ok()))
        .collect();
    let texts = psql(url, "SELECT record FROM sessions UNION ALL SELECT coalesce(payload, '') FROM events");
    (events, texts)
}

/// The ids of the session rows.
async fn open_session_ids(url: &str) -> Vec<String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the SQLite file");
        let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM sessions").fetch_all(&pool).await.expect("sessions");
        pool.close().await;
        return ids.into_iter().map(|(id,)| id).collect();
    }
    psql(url, "SELECT id FROM sessions").lines().map(str::to_string).collect()
}

/// Every byte of the SQLite database files in `dir` (the database and its write-ahead log).
fn sqlite_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("database dir").map_while(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with("ctid.db") {
            bytes.extend(std::fs::read(entry.path()).expect("read a database file"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The cookie's value (`icws_{id}=value` → `value`).
fn cookie_value(login: &IcwsLogin) -> &str {
    login.cookie.split_once('=').map(|(_, v)| v).expect("cookie value")
}

#[tokio::test]
async fn sessions_subscriptions_and_stations_survive_a_kill_and_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let args = ["--session-idle-timeout", "3"];
    let mut app = TestApp::spawn_at(&url, &args, &[]).await;
    app.presence_user("boss", "secret", 1).await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("idler", "secret", 2).await;
    let boss = app.icws_login("boss", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    let leaver = app.icws_login("agent", "secret").await;
    let idler = app.icws_login("idler", "secret").await;

    app.subscribe(&boss, &["boss", "agent"]).await;
    let station = json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001"});
    let reply = app.icws(Method::PUT, &agent, STATION, Some(&station.to_string())).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let mut inbox = Inbox::new(&app, &boss);
    inbox.until("the agent at 7001", |m| m["userStatusList"][0]["stations"] == json!(["7001"])).await;

    // One session logs out, one goes idle until it expires; the others stay busy.
    assert_eq!(app.icws(Method::DELETE, &leaver, "/connection", None).await.status.as_u16(), 200);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for login in [&boss, &agent] {
            assert_eq!(app.icws(Method::GET, login, "/connection", None).await.status.as_u16(), 200);
        }
        // Asked the database, not the server: a request would keep the session alive.
        if !open_session_ids(&url).await.contains(&idler.session_id) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the idle session did not expire");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    app.kill();
    let app = TestApp::spawn_at(&url, &args, &[]).await;

    // The same session, cookie and token go on; the station is still there.
    let reply = app.icws(Method::GET, &agent, STATION, None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.json()["id"], "7001");
    // A rebuilt session gets a fresh full state of what it follows.
    let mut inbox = Inbox::new(&app, &boss);
    let snapshot = inbox.until("a full snapshot", |m| m["__type"] == USER_STATUS && m["isDelta"] == false).await;
    let list = &snapshot.last().expect("snapshot")["userStatusList"];
    let users: Vec<&str> = list.as_array().expect("list").iter().filter_map(|s| s["userId"].as_str()).collect();
    assert_eq!(users, ["boss", "agent"], "{list}");
    assert_eq!(list[1]["stations"], json!(["7001"]), "{list}");
    // …and later changes, as deltas.
    app.set_status(&agent, "agent", json!({"statusId": "At Lunch"})).await;
    let changed =
        inbox.until("the agent's change", |m| m["isDelta"] == true && m["userStatusList"][0]["statusId"] == "At Lunch");
    changed.await;

    // What had ended stays ended.
    app.icws(Method::GET, &leaver, "/connection", None)
        .await
        .assert_icws_error(401, "error.request.connection.invalidSession");
    app.icws(Method::GET, &idler, "/connection", None)
        .await
        .assert_icws_error(401, "error.request.connection.invalidSession");
    drop(app);
    drop_database(dir.path());
}

#[tokio::test]
async fn cookies_and_csrf_tokens_are_stored_only_as_hashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    app.subscribe(&login, &["agent"]).await;
    let (cookie, token) = (cookie_value(&login), login.csrf_token.as_str());
    assert!(cookie.len() >= 16 && token.len() >= 16, "{login:?}");

    let (events, texts) = stored(&url).await;
    assert!(events.iter().any(|(kind, _)| kind == "session_opened"), "{events:?}");
    assert!(texts.contains(&login.session_id), "the session row is there: {texts}");
    for secret in [cookie, token] {
        assert!(!texts.contains(secret), "{secret} is stored in clear: {texts}");
    }
    if backend() == Backend::Sqlite {
        // Not in any page of the files either (the write-ahead log included).
        let bytes = sqlite_bytes(dir.path());
        assert!(contains(&bytes, &login.session_id), "the files hold the session");
        assert!(!contains(&bytes, cookie) && !contains(&bytes, token), "a credential is in the files");
    } else {
        let dump = pg_dump(&url);
        assert!(dump.contains(&login.session_id), "the dump holds the session");
        assert!(!dump.contains(cookie) && !dump.contains(token), "a credential is in the dump");
    }
    // The hashes still let the client in.
    assert_eq!(app.icws(Method::GET, &login, "/connection", None).await.status.as_u16(), 200);
    drop(app);
    drop_database(dir.path());
}

#[tokio::test]
async fn changes_through_either_api_reach_subscribers_through_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    app.presence_user("boss", "secret", 1).await;
    let agent_id = app.presence_user("agent", "secret", 2).await;
    let boss = app.icws_login("boss", "secret").await;
    let agent = app.icws_login("agent", "secret").await;
    app.subscribe(&boss, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &boss);
    inbox.next().await;

    let (before, _) = stored(&url).await;
    let request =
        app.set_status(&agent, "agent", json!({"statusId": "At Lunch", "notes": "nul \u{0} one \u{1}"})).await;
    let seen = inbox.until("the change", |m| m["isDelta"] == true).await;
    let change = &seen.last().expect("change")["userStatusList"][0];
    assert_eq!(change["statusId"], "At Lunch", "{change}");
    assert_eq!(change["notes"], "nul \u{0} one \u{1}", "notes arrive intact: {change}");
    let mut agent_inbox = Inbox::new(&app, &agent);
    let completion = |m: &Value| m["requestId"] == request.as_str();
    agent_inbox.until("the completion of the change", completion).await;

    // A configuration change: the agent loses their profile, their session ends.
    let reply = app.delete(&format!("/1.1/users/{agent_id}/cti_profile")).await;
    assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    app.icws(Method::GET, &agent, "/connection", None)
        .await
        .assert_icws_error(401, "error.request.connection.invalidSession");

    let (after, _) = stored(&url).await;
    let new: Vec<&(String, Option<i64>)> = after.iter().skip(before.len()).collect();
    let kinds: Vec<&str> = new.iter().map(|(kind, _)| kind.as_str()).collect();
    assert!(new.contains(&&("status".to_string(), Some(agent_id))), "{kinds:?}");
    assert!(new.contains(&&("profile_removed".to_string(), Some(agent_id))), "{kinds:?}");
    assert!(
        kinds.iter().position(|k| *k == "status") < kinds.iter().position(|k| *k == "profile_removed"),
        "in commit order: {kinds:?}"
    );
    drop(app);
    drop_database(dir.path());
}
