//! The command line: database URL parsing, web-service users, migrations, shutdown, restarts.

use std::process::Command;

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn ctid(args: &[&str]) -> std::process::Output {
    Command::new(binary()).args(args).env("CTID_LOG", "warn").output().expect("run ctid")
}

/// About parsing the URL: no database is opened, so the test is the same on every backend.
#[test]
fn unsupported_database_urls_are_refused_at_start() {
    for url in ["mysql://root@localhost/ctid", "ctid.db", "sqlite://", "sqlite://:memory:"] {
        let out = ctid(&["serve", "--listen", "127.0.0.1:0", "--database", url]);
        assert!(!out.status.success(), "{url} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("sqlite://") || stderr.contains("memory"), "{url}: {stderr}");
    }
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    // On PostgreSQL the harness made the (empty) database: migrate creates the tables in it.
    let tables = || {
        psql(&url, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
    };
    if backend() == Backend::Postgres {
        assert_eq!(tables(), "", "a fresh database");
    }
    let out = ctid(&["migrate", "--database", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match backend() {
        Backend::Sqlite => assert!(dir.path().join("ctid.db").exists()),
        Backend::Postgres => assert!(tables().lines().any(|table| table == "users"), "{}", tables()),
    }
}

#[tokio::test]
async fn webservice_users_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let out = Command::new(binary())
        .args(["webservice-user", "add", "provisioning", "--database", &url])
        .env("CTID_WEBSERVICE_PASSWORD", "prov-pass")
        .output()
        .expect("add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = ctid(&["webservice-user", "add", "robot", "--database", &url]);
    let printed = String::from_utf8_lossy(&generated.stdout).to_string();
    let robot_password = printed.trim().rsplit(' ').next().expect("password").to_string();
    assert!(printed.starts_with("web-service user robot added with password "), "{printed}");
    let duplicate = ctid(&["webservice-user", "add", "robot", "--password", "abcd", "--database", &url]);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let list = ctid(&["webservice-user", "list", "--database", &url]);
    assert_eq!(String::from_utf8_lossy(&list.stdout), "provisioning\nrobot\n");

    // Accounts already exist: no admin is bootstrapped.
    let app = TestApp::spawn_on(dir, &url, &[], &[]).await;
    let as_prov = send(app.client.get(app.url("/1.1/users")).basic_auth("provisioning", Some("prov-pass"))).await;
    assert_eq!(as_prov.status.as_u16(), 200);
    let as_robot = send(app.client.get(app.url("/1.1/users")).basic_auth("robot", Some(&robot_password))).await;
    assert_eq!(as_robot.status.as_u16(), 200);
    app.get("/1.1/users").await.assert_error(401, &["Authentication required"]);

    let removed = ctid(&["webservice-user", "remove", "robot", "--database", &url]);
    assert!(removed.status.success());
    let missing = ctid(&["webservice-user", "remove", "robot", "--database", &url]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.get("/1.1/users").await.status.as_u16(), 200);
    let status = app.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn acknowledged_changes_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_on(dir, &url, &[], &[]).await;
    let id = app.create_user(json!({"firstname": "Kept", "username": "kept", "password": "pass"})).await;
    assert_eq!(
        app.post(&format!("/1.1/users/{id}/cti_profile"), r#"{"cti_profile_id": 2}"#).await.status.as_u16(),
        201
    );
    let profile = app.post("/1.1/cti_profiles", r#"{"name": "Night shift"}"#).await;
    assert_eq!(profile.status.as_u16(), 201);
    app.kill();

    let restarted = TestApp::spawn_on(tempfile::tempdir().expect("dir"), &url, &[], &[]).await;
    assert_eq!(restarted.get(&format!("/1.1/users/{id}")).await.json()["firstname"], "Kept");
    assert_eq!(restarted.get(&format!("/1.1/users/{id}/cti_profile")).await.json()["cti_profile_id"], 2);
    assert_eq!(restarted.get("/1.1/cti_profiles").await.json()["total"], 5);
    drop(app);
}

#[tokio::test]
async fn defaults_are_seeded_once() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_on(dir, &url, &[], &[]).await;
    assert_eq!(app.delete("/1.1/cti_profiles/4").await.status.as_u16(), 204);
    app.terminate();
    let again = TestApp::spawn_on(tempfile::tempdir().expect("dir"), &url, &[], &[]).await;
    let names: Vec<_> = again.get("/1.1/cti_profiles").await.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, ["Supervisor", "Agent", "Client"], "a deleted default does not come back");
}

#[tokio::test]
async fn several_listen_addresses_serve_the_same_data() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(binary())
        .args(["serve", "--database", &database_url(dir.path())])
        .env("CTID_LISTEN", "127.0.0.1:0,127.0.0.1:0")
        .env("CTID_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CTID_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let addrs: Vec<String> = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .filter_map(|line| line.split("listening on ").nth(1).map(|r| r.split_whitespace().next().map(str::to_string)))
        .flatten()
        .take(2)
        .collect();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    let client = reqwest::Client::new();
    let created = send(
        client
            .post(format!("http://{}/1.1/users", addrs[0]))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .body(r#"{"firstname": "Both"}"#),
    )
    .await;
    let id = created.json()["id"].as_i64().expect("id");
    let read =
        send(client.get(format!("http://{}/1.1/users/{id}", addrs[1])).basic_auth("admin", Some(ADMIN_PASSWORD))).await;
    assert_eq!(read.json()["firstname"], "Both");
    assert_eq!(read.json()["links"][0]["href"], json!(format!("http://{}/1.1/users/{id}", addrs[1])));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn tls_listener_serves_https_links() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (cert.to_string_lossy().to_string(), key.to_string_lossy().to_string());
    let app = TestApp::spawn_with(&["--tls-cert", &cert, "--tls-key", &key], &[]).await;
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(["-sk", "-u", &format!("admin:{ADMIN_PASSWORD}")]).args(args).output();
        String::from_utf8(out.expect("curl is installed").stdout).expect("utf-8")
    };
    let created = curl(&["-d", r#"{"firstname":"Tls"}"#, &format!("https://{}/1.1/users", app.addr)]);
    let body: serde_json::Value = serde_json::from_str(&created).expect("JSON over HTTPS");
    let id = body["id"].as_i64().expect("id");
    assert_eq!(body["links"][0]["href"], json!(format!("https://{}/1.1/users/{id}", app.addr)));
    let head = curl(&["-D", "-", "-o", "/dev/null", &format!("https://{}/1.1/users/{id}", app.addr)]);
    assert!(
        head.to_ascii_lowercase().contains("strict-transport-security: max-age=31536000"),
        "HSTS over HTTPS: {head}"
    );
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{}/1.1/users", app.addr)])
        .output()
        .expect("curl");
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200", "plain HTTP is not served on a TLS listener");
}

#[tokio::test]
async fn shutdown_closes_event_streams_with_a_last_message() {
    let mut app = TestApp::spawn().await;
    app.presence_user("agent", "agent-pass", 2).await;
    let login = app.icws_login("agent", "agent-pass").await;
    app.subscribe(&login, &["agent"]).await;
    let mut stream = app.sse(&login, None).await;
    let snapshot = stream.next(Duration::from_secs(10)).await.expect("snapshot");
    assert_eq!(snapshot.data["isDelta"], false);
    app.signal_term();
    let last = stream.next(Duration::from_secs(10)).await.expect("a last message");
    assert_eq!(last.data["__type"], "urn:inin.com:connection:connectionStateChangeMessage");
    assert_eq!(last.data["previousConnectionState"], 1, "{:?}", last.data);
    assert_eq!(last.data["shouldReconnect"], true, "the client may log in again: {:?}", last.data);
    assert!(stream.next(Duration::from_secs(10)).await.is_none(), "the stream ends");
    let status = app.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn users_are_imported_from_csv_all_or_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "firstname,lastname,username,mobile_phone_number\nAnn,Lee,ann,0612\nBob,Ray,ANN,\nCid,,cid,06-12\n",
    )
    .expect("write");
    let out = ctid(&["user", "import", bad.to_str().expect("path"), "--database", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: username ANN appears twice"), "{stderr}");
    assert!(stderr.contains("line 4: Invalid parameters: mobile_phone_number"), "{stderr}");

    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "firstname,lastname,username,password,cti_profile_id\nAnn,\"Lee, Jr\",ann,ann-pass,2\nBob,Ray,bob,,\nCid,Sun,,,\n",
    )
    .expect("write");
    let out = ctid(&["user", "import", good.to_str().expect("path"), "--database", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "imported 3 users\n");

    let again = ctid(&["user", "import", good.to_str().expect("path"), "--database", &url]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("line 2: username ann already exists"));

    let app = TestApp::spawn_on(dir, &url, &[], &[]).await;
    let list = app.get("/1.1/users?order=firstname").await.json();
    assert_eq!(list["total"], 3, "the failed imports wrote nothing");
    assert_eq!(list["items"][0]["lastname"], "Lee, Jr");
    assert_eq!(list["items"][0]["caller_id"], "\"Ann Lee, Jr\"");
    let login = app.icws_login("ann", "ann-pass").await;
    let status = app.icws(reqwest::Method::GET, &login, "/status/user-statuses/ann", None).await;
    assert_eq!(status.json()["statusId"], "Available");
}

/// At start the server reads every user into its cache, in pages, beside serving requests:
/// all of them are cached, and changes made meanwhile are not undone by the warm-up.
#[tokio::test]
async fn a_started_server_caches_every_user_without_undoing_changes() {
    const USERS: usize = 4_500;
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let csv = dir.path().join("users.csv");
    let mut text = String::from("firstname,lastname,username,password,cti_profile_id\n");
    text.push_str("Sue,Visor,u0,u0-pass,1\n");
    for i in 1..USERS {
        text.push_str(&format!("First{i},Last{i},u{i},,2\n"));
    }
    std::fs::write(&csv, text).expect("write");
    let out = ctid(&["user", "import", csv.to_str().expect("path"), "--database", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let app = TestApp::spawn_on(dir, &url, &[], &[("CTID_LOG", "info")]).await;
    let last = format!("u{}", USERS - 1);
    let last_id = USERS as i64;
    let login = app.icws_login("u0", "u0-pass").await;
    app.set_status(&login, &last, json!({"statusId": "At Lunch", "notes": "back at two"})).await;
    let moved = app.put(&format!("/1.1/users/{}/cti_profile", last_id - 1), r#"{"cti_profile_id": 1}"#).await;
    assert_eq!(moved.status, 200, "{}", moved.body);

    let line = app.log_line("user cache warm", Duration::from_secs(30)).expect("the warm-up is logged");
    assert!(line.contains(&format!("users={USERS}")), "{line}");
    let status = app.icws(reqwest::Method::GET, &login, &format!("/status/user-statuses/{last}"), None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json()["statusId"], "At Lunch");
    assert_eq!(status.json()["notes"], "back at two");
    let association = app.get(&format!("/1.1/users/{}/cti_profile", last_id - 1)).await;
    assert_eq!(association.json()["cti_profile_id"], 1);
    let user = app.get(&format!("/1.1/users/{last_id}")).await;
    assert_eq!(user.json()["username"], last.as_str());
    let middle = app.icws(reqwest::Method::GET, &login, "/status/user-statuses/u2500", None).await;
    assert_eq!(middle.json()["statusId"], "Available");
}

/// A user as the list shows it, without its links (they name the server that answered).
fn without_links(mut user: serde_json::Value) -> serde_json::Value {
    user.as_object_mut().expect("object").remove("links");
    user
}

#[tokio::test]
async fn backup_copies_a_consistent_database_while_changes_are_committed() {
    if backend() == Backend::Postgres {
        let out = ctid(&["backup", "/nonexistent/copy.db", "--database", "postgres://ctid:secret@127.0.0.1/ctid"]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pg_dump") && !stderr.contains("secret"), "{stderr}");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    for i in 0..50 {
        app.create_user(json!({"firstname": format!("Before{i}"), "username": format!("before{i}")})).await;
    }
    // Writers commit users, each acknowledged, all through the backup.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, stop) = (app.client.clone(), app.url("/1.1/users"), stop.clone());
            tokio::spawn(async move {
                let mut written = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"firstname": format!("During{w}x{written}"), "lastname": "Writer"}).to_string();
                    let reply = send(client.post(&base).basic_auth("admin", Some(ADMIN_PASSWORD)).body(body)).await;
                    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
                    written += 1;
                }
                written
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let copy = dir.path().join("copy.db");
    let copy_path = copy.to_string_lossy().to_string();
    let out =
        tokio::task::spawn_blocking(move || ctid(&["backup", &copy_path, "--database", &url])).await.expect("backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut written = 0;
    for writer in writers {
        written += writer.await.expect("writer");
    }
    assert!(written > 0, "changes were committed during the backup");

    // A second backup to the same file is refused rather than overwriting it.
    let again = ctid(&["backup", &copy.to_string_lossy(), "--database", &database_url(dir.path())]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // The copy opens, holds every user committed before it started, and each user it holds is
    // whole and as the original has it.
    let restored = TestApp::spawn_at(&format!("sqlite://{}", copy.display()), &[], &[]).await;
    let listed = restored.get("/1.1/users?limit=100000").await.json();
    let original = app.get("/1.1/users?limit=100000").await.json();
    let total = listed["total"].as_u64().expect("total");
    assert!(total >= 50 && total <= original["total"].as_u64().expect("total"), "{total}");
    let originals: Vec<serde_json::Value> =
        original["items"].as_array().expect("items").iter().cloned().map(without_links).collect();
    for user in listed["items"].as_array().expect("items") {
        assert!(originals.contains(&without_links(user.clone())), "not in the original: {user}");
    }
    for i in 0..50 {
        let name = format!("before{i}");
        assert!(listed["items"].as_array().expect("items").iter().any(|u| u["username"] == name), "{name}");
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = ctid(&["--version"]);
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(printed, format!("ctid {} (commit {commit})", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn the_catalog_is_listed_with_return_statuses() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let app = TestApp::spawn_at(&url, &[], &[]).await;
    let reply = app.put("/1.1/status_messages/Gone%20Home", r#"{"return_status_id": "Available"}"#).await;
    assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    let out = ctid(&["status-message", "list", "--database", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14, "{text}");
    assert_eq!(lines[0], "Available\tAVAILABLE\tselectable\t-");
    assert!(lines.contains(&"Gone Home\tUNAVAILABLE\tselectable\tAvailable"), "{text}");
    assert!(lines.contains(&"AcdAgentNotAnswering\tUNAVAILABLE\t-\t-"), "{text}");
    drop(app);
    drop(dir);
}
