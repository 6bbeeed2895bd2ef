//! Bounded stress: 1,000 sessions subscribed across 50 users, 2,000 status changes. Every
//! session receives every change of its users, in commit order, none lost or duplicated.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const USERS: usize = 50;
const SESSIONS: usize = 1_000;
const CHANGES: usize = 2_000;
const USERS_PER_SESSION: usize = 5;
const WRITERS: usize = 10;

fn user_name(i: usize) -> String {
    format!("agent{i:02}")
}

/// The users session `s` subscribes to.
fn users_of(s: usize) -> Vec<usize> {
    (0..USERS_PER_SESSION).map(|k| (s * USERS_PER_SESSION + k * 7) % USERS).collect()
}

/// Per user, the change numbers (from the `notes`) seen in the session's deltas, in order.
fn record(seen: &mut HashMap<String, Vec<usize>>, message: &Value) {
    if message["__type"] != "urn:inin.com:status:userStatusMessage" || message["isDelta"] != true {
        return;
    }
    for status in message["userStatusList"].as_array().expect("list") {
        let user = status["userId"].as_str().expect("userId").to_string();
        let notes = status["notes"].as_str().expect("notes");
        let number = notes.trim_start_matches('c').parse().expect("change number");
        seen.entry(user).or_default().push(number);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_session_gets_every_change_of_its_users_in_order() {
    let app = Arc::new(TestApp::spawn().await);
    for i in 0..USERS {
        app.presence_user(&user_name(i), "agent-pass", 2).await;
    }
    app.presence_user("boss", "boss-pass", 1).await;

    // Log in the sessions, a few at a time.
    let mut sessions = Vec::with_capacity(SESSIONS);
    for chunk in (0..SESSIONS).collect::<Vec<_>>().chunks(8) {
        let logins: Vec<_> = chunk
            .iter()
            .map(|&s| {
                let app = app.clone();
                tokio::spawn(async move {
                    let login = app.icws_login(&user_name(s % USERS), "agent-pass").await;
                    let users: Vec<String> = users_of(s).into_iter().map(user_name).collect();
                    let body = json!({"userIds": users, "userStatusProperties": ["statusId", "notes"]}).to_string();
                    let reply = app
                        .icws(
                            reqwest::Method::PUT,
                            &login,
                            "/messaging/subscriptions/status/user-statuses",
                            Some(&body),
                        )
                        .await;
                    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
                    let first = app.poll(&login).await;
                    assert_eq!(first.len(), 1, "only the snapshot: {first:?}");
                    assert_eq!(first[0]["isDelta"], false);
                    login
                })
            })
            .collect();
        for login in logins {
            sessions.push(login.await.expect("login task"));
        }
    }

    // Writers: each owns a set of users and changes them in sequence, so the commit order of
    // one user's changes is the order of their numbers.
    let boss = app.icws_login("boss", "boss-pass").await;
    let per_user = CHANGES / USERS;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (app, boss) = (app.clone(), boss.clone());
            tokio::spawn(async move {
                for n in 1..=per_user {
                    for user in (w..USERS).step_by(WRITERS) {
                        let status = if n % 2 == 0 { "Available" } else { "At Lunch" };
                        app.set_status(&boss, &user_name(user), json!({"statusId": status, "notes": format!("c{n}")}))
                            .await;
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }

    // Read every session's mailbox; changes were acknowledged, so they are queued already.
    let expected: Vec<usize> = (1..=per_user).collect();
    let mut readers = Vec::new();
    for (s, login) in sessions.into_iter().enumerate() {
        let app = app.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                for message in app.poll(&login).await {
                    record(&mut seen, &message);
                }
                let complete = users_of(s).iter().all(|u| seen.get(&user_name(*u)).map_or(0, Vec::len) >= per_user);
                if complete || tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (s, seen)
        }));
        if readers.len() >= 16 {
            check(readers.remove(0).await.expect("reader"), &expected);
        }
    }
    for reader in readers {
        check(reader.await.expect("reader"), &expected);
    }
}

fn check((session, seen): (usize, HashMap<String, Vec<usize>>), expected: &[usize]) {
    for user in users_of(session) {
        let name = user_name(user);
        assert_eq!(seen.get(&name).map(Vec::as_slice), Some(expected), "session {session}, user {name}");
    }
    assert_eq!(seen.len(), USERS_PER_SESSION, "session {session} got only its users");
}
