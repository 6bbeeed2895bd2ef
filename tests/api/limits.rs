//! Hostile clients: oversized heads, slow clients, too many connections or sessions, password
//! guessing on the configuration API, and the security headers every answer carries.

use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_PASSWORD, TestApp, send};

/// Reads until the server closes the connection, within `deadline`; `None` if it stays open.
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0_u8; 4096];
    let outcome = tokio::time::timeout(deadline, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    outcome.ok().map(|()| String::from_utf8_lossy(&seen).into_owned())
}

async fn raw_request(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_until_closed(&mut stream, Duration::from_secs(20)).await.expect("the server answers and closes")
}

#[tokio::test]
async fn an_oversized_request_head_gets_431_and_the_server_goes_on() {
    let app = TestApp::spawn().await;
    let huge = "a".repeat(40 * 1024);
    let reply = send(app.client.get(app.url("/icws/connection/version")).header("X-Padding", huge)).await;
    assert_eq!(reply.status.as_u16(), 431, "{}", reply.body);

    let many: String = (0..150).map(|i| format!("X-Field-{i}: v\r\n")).collect();
    let answer = raw_request(
        &app.addr,
        &format!("GET /icws/connection/version HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "too many header fields: {answer}");

    let fine = send(app.client.get(app.url("/icws/connection/version"))).await;
    assert_eq!(fine.status.as_u16(), 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(&["--header-read-timeout", "1"], &[]).await;
    let mut slow = TcpStream::connect(&app.addr).await.expect("connect");
    slow.write_all(b"GET /icws/connection/version HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    // Others are served meanwhile.
    let other = send(app.client.get(app.url("/icws/connection/version"))).await;
    assert_eq!(other.status.as_u16(), 200);
    let seen = read_until_closed(&mut slow, Duration::from_secs(15)).await;
    let seen = seen.expect("the server closes a connection whose head never completes");
    assert!(!seen.contains("200 OK"), "no answer to half a request: {seen}");

    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(&app.addr).await.expect("connect");
    idle.write_all(b"GET /icws/connection/version HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let seen = read_until_closed(&mut idle, Duration::from_secs(15)).await.expect("closed once idle");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
}

#[tokio::test]
async fn a_slow_request_body_is_cut_off_with_an_error() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(&app.addr).await.expect("connect");
    stream
        .write_all(b"POST /icws/connection HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"userID\":")
        .await
        .expect("write");
    // The body never completes: within the 30 s body timeout plus margin the server gives up.
    let seen = read_until_closed(&mut stream, Duration::from_secs(60)).await.expect("the server gives up");
    assert!(!seen.starts_with("HTTP/1.1 2"), "{seen}");
}

#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_others_go_on() {
    let app = TestApp::spawn_with(&["--max-connections", "3"], &[]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&app.addr).await.expect("connect");
        // A complete request proves the connection holds a slot.
        stream.write_all(b"GET /icws/connection/version HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut buf = [0_u8; 1024];
        let n = stream.read(&mut buf).await.expect("answer");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let refused =
        raw_request(&app.addr, "GET /icws/connection/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 1\r\n"), "{refused}");

    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer =
            raw_request(&app.addr, "GET /icws/connection/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "a closed connection frees its slot: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sessions_are_capped_per_user_and_in_all() {
    let app = TestApp::spawn_with(&["--max-sessions-per-user", "2", "--max-sessions", "3"], &[]).await;
    app.presence_user("agent", "agent-pass", 2).await;
    app.presence_user("other", "other-pass", 2).await;
    let first = app.icws_login("agent", "agent-pass").await;
    app.icws_login("agent", "agent-pass").await;
    let third = app.icws_login_raw("agent", "agent-pass").await;
    third.assert_icws_error(429, "error.request.connection.tooManySessions");
    assert_eq!(third.header("retry-after"), Some("30"));
    let wrong = app.icws_login_raw("agent", "wrong").await;
    wrong.assert_icws_error(400, "error.request.connection.authenticationFailure");

    app.icws_login("other", "other-pass").await;
    let full = app.icws_login_raw("other", "other-pass").await;
    full.assert_icws_error(503, "error.request.connection.serverBusy");
    assert!(full.header("retry-after").is_some());

    let logout = app.icws(Method::DELETE, &first, "/connection", None).await;
    assert_eq!(logout.status.as_u16(), 200);
    app.icws_login("agent", "agent-pass").await;
}

#[tokio::test]
async fn repeated_bad_basic_credentials_lock_the_account_not_the_others() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let reply = send(app.client.get(app.url("/1.1/users")).basic_auth("admin", Some("guess"))).await;
        reply.assert_error(401, &["Authentication required"]);
    }
    let locked = send(app.client.get(app.url("/1.1/users")).basic_auth("admin", Some(ADMIN_PASSWORD))).await;
    assert_eq!(locked.status.as_u16(), 429, "{}", locked.body);
    assert_eq!(locked.header("content-type"), Some("application/json"));
    let seconds: u64 = locked.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=30).contains(&seconds), "{seconds}");
    assert_eq!(
        locked.json(),
        serde_json::json!([format!("Too many failed authentication attempts: retry in {seconds} seconds")])
    );
    let other = send(app.client.get(app.url("/1.1/users")).basic_auth("someone", Some("guess"))).await;
    other.assert_error(401, &["Authentication required"]);
}

#[tokio::test]
async fn repeated_bad_digest_responses_lock_the_account() {
    let app = TestApp::spawn().await;
    let challenge = send(app.client.get(app.url("/1.1/users"))).await;
    let header = challenge.header("www-authenticate").expect("challenge").to_string();
    let nonce = header.split("nonce=\"").nth(1).and_then(|r| r.split('"').next()).expect("nonce").to_string();
    let digest = |nc: u32| {
        format!(
            r#"Digest username="admin", realm="XivoRealm", nonce="{nonce}", uri="/1.1/users", qop=auth, nc={nc:08x}, cnonce="c", response="00000000000000000000000000000000", algorithm=MD5"#
        )
    };
    for nc in 1..=5 {
        let reply = send(app.client.get(app.url("/1.1/users")).header("Authorization", digest(nc))).await;
        reply.assert_error(401, &["Authentication required"]);
    }
    let locked = send(app.client.get(app.url("/1.1/users")).header("Authorization", digest(6))).await;
    assert_eq!(locked.status.as_u16(), 429, "{}", locked.body);
    assert!(locked.header("retry-after").is_some());
}

#[tokio::test]
async fn many_failures_from_one_address_lock_the_address() {
    let app = TestApp::spawn().await;
    // Each guess names another account, so only the per-address count can stop them.
    let mut refused = None;
    for i in 0..260 {
        let reply = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth(format!("guess{i}"), Some("x"))).await;
        match reply.status.as_u16() {
            401 => {}
            429 => {
                refused = Some(i);
                break;
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    let refused = refused.expect("the address is throttled after enough failures");
    assert!(refused >= 100, "an address is refused only at a far higher rate than an account: {refused}");
    let admin = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth("admin", Some(ADMIN_PASSWORD))).await;
    assert_eq!(admin.status.as_u16(), 429, "good credentials from a throttled address wait too");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "agent-pass", 2).await;
    let login = app.icws_login("agent", "agent-pass").await;
    let replies = [
        ("xivo", app.get("/1.1/users").await),
        ("xivo error", send(app.client.get(app.url("/1.1/users"))).await),
        ("not found", send(app.client.get(app.url("/nowhere"))).await),
        ("icws", app.icws(Method::GET, &login, "/status/status-messages", None).await),
        ("icws error", send(app.client.get(app.url("/icws/1/status/status-messages"))).await),
        ("openapi", send(app.client.get(app.url("/openapi.json"))).await),
        ("console", send(app.client.get(app.url("/"))).await),
    ];
    for (what, reply) in &replies {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{what}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"), "{what}");
        let policy = reply.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy}");
        assert!(reply.header("cache-control").is_some(), "{what}");
        assert_eq!(reply.header("strict-transport-security"), None, "{what}: no HSTS over plain HTTP");
    }
    let api = &replies[0].1;
    assert_eq!(api.header("cache-control"), Some("no-store"));
    assert_eq!(api.header("content-security-policy"), Some("default-src 'none'; frame-ancestors 'none'"));
    let console = &replies[6].1;
    assert!(console.header("content-security-policy").unwrap_or_default().contains("script-src 'self'"));
}
