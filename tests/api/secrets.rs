//! Secrets stay secret: passwords never reach the logs or the database in clear, and a
//! database URL's password is never printed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{ADMIN_PASSWORD, Backend, backend, binary, database_url, pg_dump, send};

const USER_PASSWORD: &str = "Pa55-word-in-clear";
const WEBSERVICE_PASSWORD: &str = "Ws-secret-0417";

/// Waits for `listening on ADDR` in the log file.
fn address_in(log: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) =
            text.lines().find_map(|l| l.split("listening on ").nth(1)).and_then(|rest| rest.split_whitespace().next())
        {
            return addr.to_string();
        }
        assert!(Instant::now() < deadline, "ctid did not start: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn passwords_reach_neither_the_logs_nor_the_database() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let log_path = dir.path().join("ctid.log");
    let added = Command::new(binary())
        .args(["webservice-user", "add", "provisioning", "--database", &url])
        .env("CTID_WEBSERVICE_PASSWORD", WEBSERVICE_PASSWORD)
        .env("CTID_LOG", "trace")
        .output()
        .expect("add a web-service user");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    // A web-service account exists: no admin is bootstrapped, and none is needed.
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
        .env("CTID_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start ctid");
    let addr = address_in(&log_path);
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let base = format!("http://{addr}");

    let created = send(
        client
            .post(format!("{base}/1.1/users"))
            .basic_auth("provisioning", Some(WEBSERVICE_PASSWORD))
            .body(format!(r#"{{"firstname":"Ann","username":"ann","password":"{USER_PASSWORD}"}}"#)),
    )
    .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert!(!created.body.contains(USER_PASSWORD), "the password is write-only");
    let id = created.json()["id"].as_i64().expect("id");
    let associated = send(
        client
            .post(format!("{base}/1.1/users/{id}/cti_profile"))
            .basic_auth("provisioning", Some(WEBSERVICE_PASSWORD))
            .body(r#"{"cti_profile_id": 2}"#),
    )
    .await;
    assert_eq!(associated.status.as_u16(), 201);
    let fetched =
        send(client.get(format!("{base}/1.1/users/{id}")).basic_auth("provisioning", Some(WEBSERVICE_PASSWORD))).await;
    assert_eq!(fetched.json()["password"], serde_json::Value::Null);
    let login = send(
        client
            .post(format!("{base}/icws/connection"))
            .body(format!(r#"{{"userID":"ann","password":"{USER_PASSWORD}"}}"#)),
    )
    .await;
    assert_eq!(login.status.as_u16(), 201, "{}", login.body);
    let failed =
        send(client.post(format!("{base}/icws/connection")).body(r#"{"userID":"ann","password":"Wrong-pass-9931"}"#))
            .await;
    assert_eq!(failed.status.as_u16(), 400);

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.lines().count() > 5, "the trace log was written: {log}");
    for secret in [USER_PASSWORD, WEBSERVICE_PASSWORD, "Wrong-pass-9931"] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
    // SQLite: the bytes of the database files (with the journal); PostgreSQL: every row, dumped.
    let stored = match backend() {
        Backend::Sqlite => {
            let mut stored = Vec::new();
            for entry in std::fs::read_dir(dir.path()).expect("dir") {
                let path = entry.expect("entry").path();
                if path.to_string_lossy().contains("ctid.db") {
                    stored.extend(std::fs::read(&path).expect("database file"));
                }
            }
            String::from_utf8_lossy(&stored).into_owned()
        }
        Backend::Postgres => pg_dump(&url),
    };
    assert!(!stored.is_empty());
    for secret in [USER_PASSWORD, WEBSERVICE_PASSWORD] {
        assert!(!stored.contains(secret), "{secret} is stored in clear");
    }
    assert!(stored.contains("$argon2id$"), "passwords are stored as argon2 hashes");
}

#[test]
fn a_database_password_is_never_printed() {
    for level in ["info", "trace"] {
        let out = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--database", "postgres://ctid:Db-Secret-55@127.0.0.1:1/ctid"])
            .env("CTID_LOG", level)
            .env("CTID_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("run ctid");
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!printed.contains("Db-Secret-55"), "{level}: {printed}");
        assert!(printed.contains("ctid:") || printed.contains("postgres"), "{level}: something was said: {printed}");
    }
}
