//! Time in status (SPEC §6): `GET /1.1/status_reports/time_in_status` and the ICWS
//! `…/status/time-in-status/{userId}`: intervals clipped to `[from, to)`, the open one counted
//! up to `min(now, to)`, users without time left out, JSON and CSV, errors, the `user_id`
//! filter; and the same answer from the raw history and from the daily rollups.

use std::process::Command;
use std::time::Duration;

use ctid::domain::clock::format_rfc3339_ms;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    ctid::domain::clock::now_ms()
}

fn report_path(from: i64, to: i64, users: &[i64]) -> String {
    let mut path = format!(
        "/1.1/status_reports/time_in_status?from={}&to={}",
        format_rfc3339_ms(from).replace('+', "%2B"),
        format_rfc3339_ms(to).replace('+', "%2B")
    );
    for user in users {
        path.push_str(&format!("&user_id={user}"));
    }
    path
}

async fn report(app: &TestApp, from: i64, to: i64, users: &[i64]) -> Value {
    let reply = app.get(&report_path(from, to, users)).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.json()
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `{status_id: seconds}` of a user's item.
fn statuses_of(item: &Value) -> Vec<(String, f64)> {
    item["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| (s["status_id"].as_str().expect("status_id").to_string(), s["seconds"].as_f64().expect("seconds")))
        .collect()
}

/// `GET path` as the admin with `Accept: text/csv`.
async fn get_csv(app: &TestApp, path: &str) -> Reply {
    send(app.client.get(app.url(path)).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", "text/csv")).await
}

fn pause() -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(300))
}

#[tokio::test]
async fn statuses_are_timed_within_the_window_up_to_now() {
    let app = TestApp::spawn().await;
    let t0 = now_ms();
    let agent = app.presence_user("agent", "secret", 2).await;
    let t1 = now_ms();
    pause().await;
    let login = app.icws_login("agent", "secret").await;
    let t2 = now_ms();
    app.set_status(&login, "agent", json!({"statusId": "Away from desk"})).await;
    let t3 = now_ms();
    pause().await;
    let t4 = now_ms();

    // Available from creation (before t1) to the change (after t2): all of [t1, t2).
    let body = report(&app, t1, t2, &[]).await;
    assert_eq!(body["from"], format_rfc3339_ms(t1));
    assert_eq!(body["to"], format_rfc3339_ms(t2));
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["user_id"], agent);
    assert_eq!(items[0]["username"], "agent");
    assert_eq!(items[0]["on_phone_seconds"], json!(0.0));
    assert_eq!(
        items[0]["statuses"],
        json!([{"status_id": "Available", "group_tag": "AVAILABLE", "seconds": seconds(t2 - t1)}])
    );

    // Away from desk for all of [t3, t4).
    let body = report(&app, t3, t4, &[agent]).await;
    assert_eq!(statuses_of(&body["items"][0]), vec![("Away from desk".to_string(), seconds(t4 - t3))]);

    // A window reaching into the future: the open interval counts up to now.
    let later = t4 + HOUR;
    let before = now_ms();
    let body = report(&app, t0 - 1000, later, &[]).await;
    let after = now_ms();
    let times = statuses_of(&body["items"][0]);
    assert_eq!(
        times.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["Available", "Away from desk"],
        "catalog order"
    );
    let (available, away) = (times[0].1, times[1].1);
    assert!(available >= seconds(t2 - t1) && available <= seconds(t3 - t0), "{available}");
    assert!(away >= seconds(before - t3) && away <= seconds(after - t2), "{away}");

    // Before the user existed: nobody has time.
    let body = report(&app, t0 - DAY, t0 - 1, &[]).await;
    assert_eq!(body["items"], json!([]));

    // A user created later is left out of earlier windows, and found by the filter.
    let other = app.presence_user("other", "secret", 2).await;
    let body = report(&app, t1, t2, &[]).await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    let body = report(&app, t1, now_ms() + HOUR, &[other]).await;
    let items = body["items"].as_array().expect("items");
    assert_eq!((items.len(), &items[0]["user_id"]), (1, &json!(other)));
    let body = report(&app, t1, now_ms() + HOUR, &[other, agent]).await;
    let ids: Vec<_> = body["items"].as_array().expect("items").iter().map(|i| i["user_id"].clone()).collect();
    assert_eq!(ids, [json!(agent), json!(other)], "by user id");
    let body = report(&app, t1, now_ms(), &[other + 100]).await;
    assert_eq!(body["items"], json!([]));

    // The same for one user through ICWS, under the view rights of their status.
    let path = format!(
        "/status/time-in-status/agent?from={}&to={}",
        format_rfc3339_ms(t3).replace('+', "%2B"),
        format_rfc3339_ms(t4).replace('+', "%2B")
    );
    let reply = app.icws(Method::GET, &login, &path, None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"from": format_rfc3339_ms(t3), "to": format_rfc3339_ms(t4),
            "statuses": [{"statusId": "Away from desk", "groupTag": "BREAK", "seconds": seconds(t4 - t3)}],
            "onPhoneSeconds": 0.0})
    );
    let path =
        format!("/status/time-in-status/agent?from={}&to={}", format_rfc3339_ms(t0 - DAY), format_rfc3339_ms(t0 - 1));
    let reply = app.icws(Method::GET, &login, &path, None).await;
    assert_eq!(reply.json()["statuses"], json!([]));
    let reply = app.icws(Method::GET, &login, "/status/time-in-status/agent?from=yesterday", None).await;
    reply.assert_icws_error(400, "error.request.invalidRepresentation.invalidProperty");
    let unknown = app.icws(Method::GET, &login, "/status/time-in-status/nobody", None).await;
    let status = app.icws(Method::GET, &login, "/status/user-statuses/nobody", None).await;
    assert_eq!((unknown.status, unknown.json()["errorId"].clone()), (status.status, status.json()["errorId"].clone()));
}

#[tokio::test]
async fn csv_has_one_row_per_user_and_status() {
    let app = TestApp::spawn().await;
    let agent = app.presence_user("agent", "secret", 2).await;
    let t1 = now_ms();
    let login = app.icws_login("agent", "secret").await;
    pause().await;
    let t2 = now_ms();
    app.set_status(&login, "agent", json!({"statusId": "At Lunch"})).await;
    let t3 = now_ms();
    pause().await;
    let t4 = now_ms();
    let reply = get_csv(&app, &report_path(t1, t2, &[])).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert!(reply.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    let expected = format!(
        "user_id,username,status_id,group_tag,seconds\n{agent},agent,Available,AVAILABLE,{:.3}\n",
        seconds(t2 - t1)
    );
    assert_eq!(reply.body, expected);
    let reply = get_csv(&app, &report_path(t3, t4, &[])).await;
    assert_eq!(
        reply.body,
        format!("user_id,username,status_id,group_tag,seconds\n{agent},agent,At Lunch,BREAK,{:.3}\n", seconds(t4 - t3))
    );
    // Nobody: the header alone.
    let reply = get_csv(&app, &report_path(t1 - DAY, t1 - DAY + 1, &[])).await;
    assert_eq!(reply.body, "user_id,username,status_id,group_tag,seconds\n");
    // Other resources still speak JSON only.
    let reply = get_csv(&app, "/1.1/users").await;
    assert_eq!(reply.status.as_u16(), 406);
}

#[tokio::test]
async fn bad_windows_and_filters_are_refused() {
    let app = TestApp::spawn().await;
    let cases = [
        ("from=yesterday", "Invalid parameters: from"),
        ("to=2027-13-01T00:00:00Z", "Invalid parameters: to"),
        ("from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z", "Invalid parameters: to"),
        ("from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", "Invalid parameters: to"),
        ("user_id=me", "Invalid parameters: user_id"),
    ];
    for (query, message) in cases {
        let reply = app.get(&format!("/1.1/status_reports/time_in_status?{query}")).await;
        reply.assert_error(400, &[message]);
    }
    let many: String = (1..=1001).map(|i| format!("user_id={i}&")).collect();
    let reply = app.get(&format!("/1.1/status_reports/time_in_status?{many}")).await;
    reply.assert_error(400, &["Invalid parameters: user_id"]);
    // The default window: the last 24 hours.
    let reply = app.get("/1.1/status_reports/time_in_status").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let body = reply.json();
    let from = ctid::domain::clock::parse_rfc3339_ms(body["from"].as_str().expect("from")).expect("RFC 3339");
    let to = ctid::domain::clock::parse_rfc3339_ms(body["to"].as_str().expect("to")).expect("RFC 3339");
    assert_eq!(to - from, DAY);
}

/// Runs `sql` on the test's database.
async fn execute(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        psql(url, sql);
    } else {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the database");
        sqlx::raw_sql(sql).execute(&mut conn).await.expect("run SQL");
        conn.close().await.expect("close");
    }
}

/// One record inserted: `(at, user, status or phone)`.
#[derive(Clone, Copy)]
enum Change {
    Status(&'static str),
    Phone(bool),
}

/// The time in each status and on the phone that `records` (of one user, by time) give within
/// `[from, to)`: the reference the report must match.
fn expected(records: &[(i64, Change)], from: i64, to: i64) -> (Vec<(String, i64)>, i64) {
    let mut statuses: Vec<(String, i64)> = Vec::new();
    let mut phone = 0;
    let clip = |a: i64, b: i64| (b.min(to) - a.max(from)).max(0);
    let ends = |i: usize, phone_kind: bool| {
        records[i + 1..]
            .iter()
            .find(|(_, c)| matches!(c, Change::Phone(_)) == phone_kind)
            .map_or(i64::MAX, |(at, _)| *at)
    };
    for (i, (at, change)) in records.iter().enumerate() {
        match change {
            Change::Status(id) => {
                let ms = clip(*at, ends(i, false));
                match statuses.iter_mut().find(|(s, _)| s == id) {
                    Some(entry) => entry.1 += ms,
                    None => statuses.push((id.to_string(), ms)),
                }
            }
            Change::Phone(true) => phone += clip(*at, ends(i, true)),
            Change::Phone(false) => {}
        }
    }
    statuses.retain(|(_, ms)| *ms > 0);
    (statuses, phone)
}

#[tokio::test]
async fn rolled_up_days_and_raw_history_give_the_same_answer() {
    let app = TestApp::spawn().await;
    let a = app.presence_user("alpha", "secret", 2).await;
    let b = app.presence_user("bravo", "secret", 2).await;
    let base = (now_ms() / DAY - 6) * DAY;
    let timelines: [(i64, Vec<(i64, Change)>); 2] = [
        (
            a,
            vec![
                (base + HOUR, Change::Status("Away from desk")),
                (base + HOUR + 30 * 60_000, Change::Phone(true)),
                (base + DAY + HOUR, Change::Phone(false)),
                (base + DAY + 2 * HOUR, Change::Status("At Lunch")),
                (base + 2 * DAY + 1234, Change::Status("Available")),
                (base + 2 * DAY + 5 * HOUR, Change::Phone(true)),
                (base + 2 * DAY + 5 * HOUR + 777, Change::Phone(false)),
                (base + 4 * DAY + 3 * HOUR, Change::Status("Away from desk")),
            ],
        ),
        (
            b,
            vec![
                (base + 12 * HOUR, Change::Status("At Lunch")),
                (base + 3 * DAY + 5 * HOUR, Change::Phone(true)),
                (base + 5 * DAY - 1, Change::Status("Available")),
            ],
        ),
    ];
    let mut id = 1_000_000_000;
    let mut rows = Vec::new();
    for (user, records) in &timelines {
        for (at, change) in records {
            id += 1;
            rows.push(match change {
                Change::Status(s) => format!("({id}, {at}, {user}, 'x', 'status', '{s}', NULL, 'system')"),
                Change::Phone(on) => format!("({id}, {at}, {user}, 'x', 'phone', NULL, {}, 'pbx')", i64::from(*on)),
            });
        }
    }
    let url = app.database_url();
    let insert = format!(
        "INSERT INTO history (id, at, user_id, username, kind, status_id, on_phone, actor_type) VALUES {}",
        rows.join(", ")
    );
    execute(&url, &insert).await;

    let windows = [
        (base, base + 5 * DAY),
        (base + 30 * 60_000, base + 4 * DAY + 7 * HOUR),
        (base + DAY + HOUR + 1, base + 3 * DAY - 1),
        (base + 2 * DAY, base + 2 * DAY + 6 * HOUR),
    ];
    let check = |body: &Value, from: i64, to: i64| {
        for (user, records) in &timelines {
            let (statuses, phone) = expected(records, from, to);
            let item = body["items"].as_array().expect("items").iter().find(|i| i["user_id"] == *user).cloned();
            if statuses.is_empty() && phone == 0 {
                assert!(item.is_none(), "{from}..{to} {user}: {body}");
                continue;
            }
            let item = item.unwrap_or_else(|| panic!("{from}..{to} {user}: {body}"));
            let mut got = statuses_of(&item);
            got.sort_by(|x, y| x.0.cmp(&y.0));
            let mut want: Vec<_> = statuses.iter().map(|(s, ms)| (s.clone(), seconds(*ms))).collect();
            want.sort_by(|x, y| x.0.cmp(&y.0));
            assert_eq!(got, want, "{from}..{to} user {user}");
            assert_eq!(item["on_phone_seconds"].as_f64(), Some(seconds(phone)), "{from}..{to} user {user}");
        }
    };
    let mut raw = Vec::new();
    for (from, to) in windows {
        let body = report(&app, from, to, &[a, b]).await;
        check(&body, from, to);
        raw.push(body);
    }

    let out = Command::new(binary())
        .args(["roll-up", "--database", &url])
        .env("CTID_LOG", "warn")
        .output()
        .expect("run ctid");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = Command::new(binary())
        .args(["roll-up", "--database", &url])
        .env("CTID_LOG", "warn")
        .output()
        .expect("run ctid");
    assert_eq!(String::from_utf8_lossy(&again.stdout), "rolled up 0 days\n", "each day once");

    for ((from, to), before) in windows.into_iter().zip(raw) {
        let body = report(&app, from, to, &[a, b]).await;
        check(&body, from, to);
        assert_eq!(body, before, "{from}..{to}");
    }
}
