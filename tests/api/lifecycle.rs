//! The status lifecycle (SPEC §5), on both stores: return statuses applied when a user's
//! `until` passes, scheduled statuses with their start and end, exactly once, through the log
//! (pushed like any change), durable across a `kill -9`, and found from the store by time.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::helpers::*;

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";

fn now_s() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at).expect("time").format(&Rfc3339).expect("format")
}

/// As ICWS writes date-times.
fn icws_date(at: i64) -> String {
    let basic = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from_unix_timestamp(at).expect("time").format(basic).expect("format")
}

/// Waits until the wall clock passes `at` (Unix seconds) by `margin`.
async fn sleep_past(at: i64, margin: Duration) {
    let target = Duration::from_secs(u64::try_from(at).expect("positive")) + margin;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    if let Some(left) = target.checked_sub(now) {
        tokio::time::sleep(left).await;
    }
}

/// The `userStatusList` entries of `user` in these messages.
fn entries_of(messages: &[Value], user: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["__type"] == USER_STATUS)
        .flat_map(|m| m["userStatusList"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["userId"] == user)
        .collect()
}

/// Every status event of the log: `(user id, status id, actor)` in order.
async fn status_events(url: &str) -> Vec<(i64, String, String)> {
    let payloads: Vec<(i64, String)> = if let Some(path) = url.strip_prefix("sqlite://") {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the SQLite file");
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT user_id, payload FROM events WHERE kind = 'status' ORDER BY seq")
                .fetch_all(&pool)
                .await
                .expect("events");
        pool.close().await;
        rows
    } else {
        psql(url, "SELECT user_id || '|' || payload FROM events WHERE kind = 'status' ORDER BY seq")
            .lines()
            .filter_map(|line| line.split_once('|'))
            .map(|(user, payload)| (user.parse().expect("user id"), payload.to_string()))
            .collect()
    };
    payloads
        .into_iter()
        .map(|(user, payload)| {
            let payload: Value = serde_json::from_str(&payload).expect("JSON payload");
            let status = payload["status"]["status_id"].as_str().expect("status id").to_string();
            (user, status, payload["actor"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// The statuses the scheduler set for `user`, in order.
async fn scheduled_changes(url: &str, user: i64) -> Vec<String> {
    status_events(url)
        .await
        .into_iter()
        .filter(|(u, _, actor)| *u == user && actor == "schedule")
        .map(|e| e.1)
        .collect()
}

async fn schedule(app: &TestApp, user: i64, body: Value) -> Reply {
    app.post(&format!("/1.1/users/{user}/scheduled_statuses"), &body.to_string()).await
}

async fn set_return(app: &TestApp, status: &str, back: Value) -> Reply {
    let path = format!("/1.1/status_messages/{}", status.replace(' ', "%20"));
    app.put(&path, &json!({ "return_status_id": back }).to_string()).await
}

#[tokio::test]
async fn return_status_ids_are_validated_and_shown() {
    let app = TestApp::spawn().await;
    let reply = app.get("/1.1/status_messages").await;
    let items = reply.json()["items"].as_array().cloned().expect("items");
    assert!(items.iter().all(|s| s.get("return_status_id") == Some(&Value::Null)), "built-ins have none: {items:?}");

    set_return(&app, "Gone Home", json!("Nope"))
        .await
        .assert_error(400, &["Nonexistent parameters: return_status_id Nope does not exist"]);
    for invalid in ["Gone Home", "Available, Forward", "AcdAgentNotAnswering"] {
        set_return(&app, "Gone Home", json!(invalid))
            .await
            .assert_error(400, &["Invalid parameters: return_status_id"]);
    }
    let reply = set_return(&app, "Gone Home", json!(5)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);

    assert_eq!(set_return(&app, "Gone Home", json!("available")).await.status, StatusCode::NO_CONTENT);
    let gone = app.get("/1.1/status_messages/Gone%20Home").await.json();
    assert_eq!(gone["return_status_id"], "Available", "the catalog's spelling");

    // Created with one; the presence catalog shows it too (omitted where none).
    let body = json!({"status_id": "Brb", "message_text": "Be right back", "group_tag": "BREAK",
        "can_have_date": true, "can_have_time": true, "return_status_id": "At Lunch"});
    let reply = app.post("/1.1/status_messages", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.json()["return_status_id"], "At Lunch");
    app.presence_user("viewer", "secret", 1).await;
    let login = app.icws_login("viewer", "secret").await;
    let catalog = app.icws(Method::GET, &login, "/status/status-messages", None).await.json();
    let list = catalog["statusMessageList"].as_array().cloned().expect("list");
    let find = |id: &str| list.iter().find(|s| s["statusId"] == id).cloned().expect("listed");
    assert_eq!(find("Brb")["returnStatusId"], "At Lunch");
    assert_eq!(find("Gone Home")["returnStatusId"], "Available");
    assert!(find("Available").get("returnStatusId").is_none());

    // Deleting the return status leaves statuses that returned to it without one.
    assert_eq!(app.delete("/1.1/status_messages/Brb").await.status, StatusCode::NO_CONTENT);
    let body = json!({"status_id": "Tmp", "message_text": "Tmp", "group_tag": "BREAK"});
    assert_eq!(app.post("/1.1/status_messages", &body.to_string()).await.status, StatusCode::CREATED);
    assert_eq!(set_return(&app, "Gone Home", json!("Tmp")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete("/1.1/status_messages/Tmp").await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/1.1/status_messages/Gone%20Home").await.json()["return_status_id"], Value::Null);
    assert_eq!(set_return(&app, "Gone Home", Value::Null).await.status, StatusCode::NO_CONTENT);

    // In the OpenAPI document.
    let doc = app.get("/openapi.json").await.json();
    let text = doc.to_string();
    assert!(text.contains("return_status_id"), "documented");
    assert!(text.contains("/1.1/users/{user_id}/scheduled_statuses"), "documented");
    assert!(text.contains("/icws/{sessionId}/status/scheduled-statuses/{userId}"), "documented");
}

#[tokio::test]
async fn a_status_returns_at_its_until_once_pushed_and_dated_at_the_until() {
    let app = TestApp::spawn().await;
    assert_eq!(set_return(&app, "Gone Home", json!("Available")).await.status, StatusCode::NO_CONTENT);
    app.presence_user("agent", "secret", 1).await;
    app.presence_user("stays", "secret", 1).await;
    let login = app.icws_login("agent", "secret").await;
    let other = app.icws_login("stays", "secret").await;
    app.subscribe(&login, &["agent", "stays"]).await;
    let mut inbox = Inbox::new(&app, &login);
    inbox.until("the full message", |m| m["__type"] == USER_STATUS).await;

    let until = now_s() + 2;
    let gone = json!({"statusId": "Gone Home", "notes": "bye",
        "until": {"untilDateTime": icws_date(until), "hasDate": true, "hasTime": true}});
    app.set_status(&login, "agent", gone.clone()).await;
    // This one changes status before its until: untouched.
    app.set_status(&other, "stays", gone).await;
    app.set_status(&other, "stays", json!({"statusId": "At Lunch"})).await;

    let seen = inbox
        .until("the return", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "Available")
        })
        .await;
    let arrived = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    let late = arrived.as_secs_f64() - until as f64;
    assert!(late < 1.5, "the return came {late:.3} s after the until");
    let back = entries_of(&seen, "agent").pop().expect("entry");
    assert_eq!(back["statusChanged"], icws_date(until), "{back}");
    assert!(
        back.get("notes").is_none() && back.get("until").is_none() && back.get("untilDateTime").is_none(),
        "{back}"
    );

    sleep_past(until, Duration::from_millis(1500)).await;
    assert_eq!(app.user_status(&login, "agent").await["statusId"], "Available");
    assert_eq!(app.user_status(&login, "stays").await["statusId"], "At Lunch");
    // Exactly once, by the scheduler.
    let url = app.database_url();
    let agent_id = user_id(&app, "agent").await;
    assert_eq!(scheduled_changes(&url, agent_id).await, vec!["Available".to_string()]);
    let more = app.poll(&login).await;
    assert!(entries_of(&more, "agent").is_empty(), "pushed once: {more:?}");
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    let reply = app.get(&format!("/1.1/users?search={username}")).await;
    reply.json()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|u| u["username"] == username))
        .and_then(|u| u["id"].as_i64())
        .expect("user id")
}

#[tokio::test]
async fn scheduled_statuses_are_validated_as_the_configuration_api_does() {
    let app = TestApp::spawn().await;
    let user = app.presence_user("agent", "secret", 1).await;
    let soon = now_s() + 3600;
    let post = |body: Value| schedule(&app, user, body);

    post(json!({"status_id": "Nope", "start": rfc3339(soon)}))
        .await
        .assert_error(400, &["Nonexistent parameters: status_id Nope does not exist"]);
    post(json!({"status_id": "AcdAgentNotAnswering", "start": rfc3339(soon)}))
        .await
        .assert_error(400, &["Nonexistent parameters: status_id AcdAgentNotAnswering does not exist"]);
    post(json!({"status_id": "At Lunch", "start": rfc3339(soon), "end": rfc3339(soon)}))
        .await
        .assert_error(400, &["Invalid parameters: end"]);
    post(json!({"status_id": "At Lunch", "start": rfc3339(soon - 7200), "end": rfc3339(soon - 3700)}))
        .await
        .assert_error(400, &["Invalid parameters: end"]);
    post(json!({"status_id": "Available, Forward", "start": rfc3339(soon)}))
        .await
        .assert_error(400, &["Missing parameters: forward_number"]);
    post(json!({"status_id": "At Lunch"})).await.assert_error(400, &["Missing parameters: start"]);
    post(json!({"status_id": "At Lunch", "start": "tomorrow"})).await.assert_error(400, &["Invalid parameters: start"]);
    let reply = post(json!({"status_id": "At Lunch", "start": rfc3339(soon), "color": "red"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = schedule(&app, 999, json!({"status_id": "At Lunch", "start": rfc3339(soon)})).await;
    reply.assert_error(404, &["User with id=999 does not exist"]);

    let reply = post(json!({"status_id": "on vacation", "notes": "ski", "start": rfc3339(soon),
        "end": rfc3339(soon + 3600)}))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = reply.json();
    let id = created["id"].as_i64().expect("id");
    assert_eq!(reply.header("location"), Some(format!("/1.1/users/{user}/scheduled_statuses/{id}").as_str()));
    assert_eq!(created["user_id"], user);
    assert_eq!(created["status_id"], "On Vacation");
    assert_eq!(created["notes"], "ski");
    assert_eq!(created["forward_number"], Value::Null);
    assert_eq!(created["start"], rfc3339(soon));
    assert_eq!(created["end"], rfc3339(soon + 3600));
    assert_eq!(created["state"], "pending");
    assert!(created["links"].as_array().is_some_and(|l| !l.is_empty()), "{created}");

    // Overlaps with a pending one, an open end overlapping everything after its start.
    post(json!({"status_id": "At Lunch", "start": rfc3339(soon + 1800), "end": rfc3339(soon + 7200)}))
        .await
        .assert_error(400, &[&format!("Invalid parameters: schedule overlaps schedule {id}")]);
    post(json!({"status_id": "At Lunch", "start": rfc3339(soon - 60)}))
        .await
        .assert_error(400, &[&format!("Invalid parameters: schedule overlaps schedule {id}")]);
    let after =
        post(json!({"status_id": "At Lunch", "start": rfc3339(soon + 3600), "end": rfc3339(soon + 7200)})).await;
    assert_eq!(after.status, StatusCode::CREATED, "back to back: {}", after.body);

    let list = app.get(&format!("/1.1/users/{user}/scheduled_statuses")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["total"], 2);
    assert_eq!(list.json()["items"][0]["id"], id, "by start");
    let one = app.get(&format!("/1.1/users/{user}/scheduled_statuses/{id}")).await;
    assert_eq!(one.json(), created);
    app.get(&format!("/1.1/users/{user}/scheduled_statuses/9999"))
        .await
        .assert_error(404, &["Scheduled status with id=9999 does not exist"]);
    app.get(&format!("/1.1/users/{user}/scheduled_statuses/abc"))
        .await
        .assert_error(404, &["Scheduled status with id=abc does not exist"]);
    app.get("/1.1/users/999/scheduled_statuses").await.assert_error(404, &["User with id=999 does not exist"]);

    let path = format!("/1.1/users/{user}/scheduled_statuses/{id}");
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    app.get(&path).await.assert_error(404, &[&format!("Scheduled status with id={id} does not exist")]);
    app.delete(&path).await.assert_error(404, &[&format!("Scheduled status with id={id} does not exist")]);

    // Deleting a catalog status deletes the schedules naming it; deleting the user, all theirs.
    let body = json!({"status_id": "Tmp", "message_text": "Tmp", "group_tag": "BREAK"});
    assert_eq!(app.post("/1.1/status_messages", &body.to_string()).await.status, StatusCode::CREATED);
    let tmp = post(json!({"status_id": "Tmp", "start": rfc3339(soon + 9000)})).await;
    assert_eq!(tmp.status, StatusCode::CREATED, "{}", tmp.body);
    assert_eq!(app.delete("/1.1/status_messages/Tmp").await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/1.1/users/{user}/scheduled_statuses")).await.json()["total"], 1);
    assert_eq!(app.delete(&format!("/1.1/users/{user}")).await.status, StatusCode::NO_CONTENT);
    let again = app.presence_user("agent", "secret", 1).await;
    assert_ne!(again, user);
    app.get(&format!("/1.1/users/{user}/scheduled_statuses"))
        .await
        .assert_error(404, &[&format!("User with id={user} does not exist")]);
    assert_eq!(count_schedules(&app.database_url()).await, 0, "the user's schedules went with them");
}

async fn count_schedules(url: &str) -> i64 {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the SQLite file");
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM scheduled_statuses").fetch_one(&pool).await.expect("count");
        pool.close().await;
        return n;
    }
    psql(url, "SELECT count(*) FROM scheduled_statuses").trim().parse().expect("count")
}

#[tokio::test]
async fn a_schedule_starts_and_ends_on_time_and_restores_what_was_held() {
    let app = TestApp::spawn().await;
    let user = app.presence_user("agent", "secret", 1).await;
    app.presence_user("boss", "secret", 1).await;
    let login = app.icws_login("agent", "secret").await;
    app.set_status(&login, "agent", json!({"statusId": "Away from desk", "notes": "desk 4"})).await;
    app.subscribe(&login, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &login);
    inbox.until("the full message", |m| m["__type"] == USER_STATUS).await;

    let start = now_s() + 2;
    let body =
        json!({"status_id": "In a meeting", "notes": "weekly", "start": rfc3339(start), "end": rfc3339(start + 2)});
    assert_eq!(schedule(&app, user, body).await.status, StatusCode::CREATED);
    // An upcoming schedule is visible to whoever may view the user.
    let boss_login = app.icws_login("boss", "secret").await;
    let upcoming = app.icws(Method::GET, &boss_login, "/status/scheduled-statuses/AGENT", None).await;
    assert_eq!(upcoming.status, StatusCode::OK, "{}", upcoming.body);
    let upcoming = upcoming.json();
    assert_eq!(upcoming["userId"], "agent");
    assert_eq!(upcoming["scheduledStatusList"][0]["statusId"], "In a meeting");
    assert_eq!(upcoming["scheduledStatusList"][0]["startDateTime"], icws_date(start));
    assert_eq!(upcoming["scheduledStatusList"][0]["endDateTime"], icws_date(start + 2));
    assert_eq!(upcoming["scheduledStatusList"][0]["state"], "pending");

    let started = inbox
        .until("the start", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "In a meeting")
        })
        .await;
    let entry = entries_of(&started, "agent").pop().expect("entry");
    assert_eq!(entry["notes"], "weekly");
    assert_eq!(entry["statusChanged"], icws_date(start));
    let ended = inbox
        .until("the end", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "Away from desk")
        })
        .await;
    let arrived = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    assert!(arrived - ((start + 2) as f64) < 1.5, "the end came {:.3} s late", arrived - (start + 2) as f64);
    let entry = entries_of(&ended, "agent").pop().expect("entry");
    assert_eq!(entry["notes"], "desk 4", "the notes held before the start");
    assert_eq!(entry["statusChanged"], icws_date(start + 2));
    let list = app.get(&format!("/1.1/users/{user}/scheduled_statuses")).await.json();
    assert_eq!(list["items"][0]["state"], "done");
    let upcoming = app.icws(Method::GET, &boss_login, "/status/scheduled-statuses/agent", None).await.json();
    assert_eq!(upcoming["scheduledStatusList"], json!([]), "done ones are not upcoming");
    assert_eq!(scheduled_changes(&app.database_url(), user).await, vec!["In a meeting", "Away from desk"]);

    // Changed meanwhile: the end leaves the user alone.
    let start = now_s() + 1;
    let body = json!({"status_id": "At Lunch", "start": rfc3339(start), "end": rfc3339(start + 2)});
    assert_eq!(schedule(&app, user, body).await.status, StatusCode::CREATED);
    inbox
        .until("the second start", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "At Lunch")
        })
        .await;
    app.set_status(&login, "agent", json!({"statusId": "Available"})).await;
    sleep_past(start + 2, Duration::from_millis(1500)).await;
    assert_eq!(app.user_status(&login, "agent").await["statusId"], "Available");
    assert_eq!(scheduled_changes(&app.database_url(), user).await, vec!["In a meeting", "Away from desk", "At Lunch"]);

    // Deleting an active schedule ends it now.
    let body = json!({"status_id": "Do Not disturb", "start": rfc3339(now_s() - 1), "end": rfc3339(now_s() + 3600)});
    let reply = schedule(&app, user, body).await;
    let id = reply.json()["id"].as_i64().expect("id");
    inbox
        .until("the immediate start", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "Do Not disturb")
        })
        .await;
    assert_eq!(app.get(&format!("/1.1/users/{user}/scheduled_statuses/{id}")).await.json()["state"], "active");
    assert_eq!(app.delete(&format!("/1.1/users/{user}/scheduled_statuses/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.user_status(&login, "agent").await["statusId"], "Available", "read your write");
    inbox
        .until("the end by deletion", |m| {
            entries_of(std::slice::from_ref(m), "agent").iter().any(|e| e["statusId"] == "Available")
        })
        .await;
}

#[tokio::test]
async fn a_viewer_without_rights_cannot_see_schedules() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "Loner", "view_statuses": "self"});
    let loner = app.post("/1.1/cti_profiles", &body.to_string()).await.json()["id"].as_i64().expect("profile id");
    app.presence_user("agent", "secret", loner).await;
    app.presence_user("peer", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    app.icws(Method::GET, &login, "/status/scheduled-statuses/peer", None)
        .await
        .assert_icws_error(403, "error.request.accessDenied");
    let own = app.icws(Method::GET, &login, "/status/scheduled-statuses/agent", None).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.json()["scheduledStatusList"], json!([]));
    app.icws(Method::GET, &login, "/status/scheduled-statuses/nobody", None)
        .await
        .assert_icws_error(403, "error.request.accessDenied");
    app.presence_user("boss", "secret", 1).await;
    let boss = app.icws_login("boss", "secret").await;
    let reply = app.icws(Method::GET, &boss, "/status/scheduled-statuses/nobody", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
}

#[tokio::test]
async fn transitions_due_during_downtime_apply_once_at_start_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &[], &[]).await;
    assert_eq!(set_return(&app, "Gone Home", json!("Available, No ACD")).await.status, StatusCode::NO_CONTENT);
    let scheduled = app.presence_user("scheduled", "secret", 1).await;
    let returning = app.presence_user("returning", "secret", 1).await;
    let login = app.icws_login("returning", "secret").await;
    app.set_status(&login, "scheduled", json!({"statusId": "Follow Up", "notes": "case 7"})).await;
    let t = now_s() + 2;
    let gone = json!({"statusId": "Gone Home", "untilDateTime": icws_date(t), "hasDate": true, "hasTime": true});
    app.set_status(&login, "returning", gone).await;
    for (start, end, status) in [(t, t + 1, "At Lunch"), (t + 1, t + 2, "In a meeting")] {
        let body = json!({"status_id": status, "start": rfc3339(start), "end": rfc3339(end)});
        assert_eq!(schedule(&app, scheduled, body).await.status, StatusCode::CREATED);
    }
    app.kill();
    sleep_past(t + 2, Duration::from_millis(500)).await;
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    let login = app.icws_login("returning", "secret").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let a = app.user_status(&login, "returning").await["statusId"].clone();
        let b = app.user_status(&login, "scheduled").await;
        if a == "Available, No ACD" && b["statusId"] == "Follow Up" && count_done(&app, scheduled).await == 2 {
            assert_eq!(b["notes"], "case 7");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not applied at start: {a} {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Once each, in order: start, end, start, end.
    assert_eq!(scheduled_changes(&url, scheduled).await, vec!["At Lunch", "Follow Up", "In a meeting", "Follow Up"],);
    assert_eq!(scheduled_changes(&url, returning).await, vec!["Available, No ACD"]);
    // A restart applies nothing twice.
    drop(app);
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(scheduled_changes(&url, scheduled).await.len(), 4);
    assert_eq!(scheduled_changes(&url, returning).await.len(), 1);
    drop(app);
}

async fn count_done(app: &TestApp, user: i64) -> usize {
    let list = app.get(&format!("/1.1/users/{user}/scheduled_statuses")).await.json();
    list["items"].as_array().map_or(0, |items| items.iter().filter(|s| s["state"] == "done").count())
}

#[tokio::test]
async fn two_instances_apply_each_transition_once() {
    if !on_postgres("several instances") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let a = TestApp::spawn_at(&url, &[], &[]).await;
    let b = TestApp::spawn_at(&url, &[], &[]).await;
    assert_eq!(set_return(&a, "Gone Home", json!("Available")).await.status, StatusCode::NO_CONTENT);
    a.presence_user("watcher", "secret", 1).await;
    const USERS: usize = 20;
    let mut ids = Vec::new();
    let names: Vec<String> = (0..USERS).map(|i| format!("agent{i}")).collect();
    for name in &names {
        ids.push(a.presence_user(name, "secret", 1).await);
    }
    let on_a = a.icws_login("watcher", "secret").await;
    let on_b = b.icws_login("watcher", "secret").await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    a.subscribe(&on_a, &refs).await;
    b.subscribe(&on_b, &refs).await;
    let mut inbox_a = Inbox::new(&a, &on_a);
    let mut inbox_b = Inbox::new(&b, &on_b);
    inbox_a.until("full", |m| m["__type"] == USER_STATUS).await;
    inbox_b.until("full", |m| m["__type"] == USER_STATUS).await;

    let t = now_s() + 3;
    for (i, (id, name)) in ids.iter().zip(&names).enumerate() {
        if i % 2 == 0 {
            let body = json!({"status_id": "At Lunch", "start": rfc3339(t), "end": rfc3339(t + 1)});
            let app = if i % 4 == 0 { &a } else { &b };
            assert_eq!(schedule(app, *id, body).await.status, StatusCode::CREATED);
        } else {
            let gone =
                json!({"statusId": "Gone Home", "untilDateTime": icws_date(t), "hasDate": true, "hasTime": true});
            a.set_status(&on_a, name, gone).await;
        }
    }
    sleep_past(t + 1, Duration::from_millis(2500)).await;
    for (inbox, what) in [(&mut inbox_a, "A"), (&mut inbox_b, "B")] {
        let mut messages = Vec::new();
        loop {
            let batch = inbox.app.poll(&inbox.login).await;
            if batch.is_empty() {
                break;
            }
            messages.extend(batch);
        }
        for (i, name) in names.iter().enumerate() {
            let statuses: Vec<String> =
                entries_of(&messages, name).iter().map(|e| e["statusId"].as_str().unwrap_or("").to_string()).collect();
            let expected: Vec<&str> =
                if i % 2 == 0 { vec!["At Lunch", "Available"] } else { vec!["Gone Home", "Available"] };
            assert_eq!(statuses, expected, "{name} as pushed by {what}");
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let expected: Vec<&str> = if i % 2 == 0 { vec!["At Lunch", "Available"] } else { vec!["Available"] };
        assert_eq!(scheduled_changes(&url, *id).await, expected, "user {id} in the log");
    }
}

#[tokio::test]
async fn ten_thousand_pending_schedules_cost_no_memory_in_the_server() {
    let app = TestApp::spawn().await;
    const USERS: usize = 50;
    const EACH: i64 = 200;
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(app.create_user(json!({"firstname": format!("u{i}")})).await);
    }
    let base = now_s() + 86_400;
    // Warm: the first requests allocate what any request needs.
    let warm = json!({"status_id": "In a meeting", "start": rfc3339(base - 7200), "end": rfc3339(base - 3600)});
    assert_eq!(schedule(&app, users[0], warm).await.status, StatusCode::CREATED);
    let before = app.rss_kib();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in users.chunks(USERS / 8 + 1) {
        let (client, url, chunk) = (app.client.clone(), app.url(""), chunk.to_vec());
        tasks.spawn(async move {
            for user in chunk {
                for k in 0..EACH {
                    let start = base + k * 3600;
                    let body =
                        json!({"status_id": "In a meeting", "start": rfc3339(start), "end": rfc3339(start + 1800)});
                    let request = client
                        .post(format!("{url}/1.1/users/{user}/scheduled_statuses"))
                        .basic_auth("admin", Some(ADMIN_PASSWORD))
                        .body(body.to_string());
                    let reply = send(request).await;
                    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a writer");
    }
    let after = app.rss_kib();
    assert_eq!(count_schedules(&app.database_url()).await, 10_001);
    let grown = after.saturating_sub(before);
    assert!(grown < 5 * 1024, "RSS grew by {grown} KiB with 10,000 pending schedules ({before} → {after} KiB)");
}
