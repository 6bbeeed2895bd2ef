//! A connection after an answer given before the request body was read (a Digest challenge,
//! an error): the server either reads the body and serves the next request on the same
//! connection, or says `Connection: close` and closes; it never drops a connection unannounced.

use std::time::Duration;

use base64::Engine as _;
use md5::{Digest as _, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_PASSWORD, TestApp};

/// The pause between a request's head and its body, long enough for an early answer.
const PAUSE: Duration = Duration::from_millis(300);
/// Longest wait for one response.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// A response as read off the socket.
#[derive(Debug)]
struct RawReply {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn says_close(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .any(|(_, v)| v.split(',').any(|token| token.trim().eq_ignore_ascii_case("close")))
    }
}

/// One client connection, HTTP/1.1 over a plain socket.
struct Connection {
    stream: TcpStream,
    /// Bytes read past the last response.
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // As common clients do: the head and the body then leave in separate segments.
        stream.set_nodelay(true)?;
        Ok(Self { stream, buffer: Vec::new() })
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads more bytes; an error if the server closed the connection.
    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0_u8; 8192];
        let n = tokio::time::timeout(ANSWER_WITHIN, self.stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed by the server"));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next response (with a `Content-Length` body, or none).
    async fn response(&mut self) -> std::io::Result<RawReply> {
        let head_end = loop {
            if let Some(i) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize =
            headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or_default();
        while self.buffer.len() < head_end + length {
            self.fill().await?;
        }
        let body = String::from_utf8_lossy(&self.buffer[head_end..head_end + length]).into_owned();
        self.buffer.drain(..head_end + length);
        Ok(RawReply { status, headers, body })
    }

    /// Whether the server closes the connection (without sending anything more) within `within`.
    async fn closed_by_server(&mut self, within: Duration) -> bool {
        let mut chunk = [0_u8; 1024];
        match tokio::time::timeout(within, self.stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => self.buffer.is_empty(),
            Ok(Ok(_)) | Err(_) => false,
        }
    }
}

fn request_head(method: &str, path: &str, extra: &str, length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: ctid\r\nContent-Type: application/json\r\n{extra}Content-Length: {length}\r\n\r\n"
    )
}

fn basic() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    format!("Authorization: Basic {token}\r\n")
}

/// What a client could do with the connection after the answer.
#[derive(Debug, PartialEq, Eq)]
enum After {
    /// The answer said `Connection: close` and the server closed the connection.
    Closed,
    /// The answer did not say `Connection: close` and the next request got this status.
    Served(u16),
}

/// Sends a request's head, pauses, sends its body, and reads the answer; then, unless the
/// answer says `Connection: close` (the server must then close), sends `next` (a complete
/// request) on the same connection.
async fn answer_before_the_body(app: &TestApp, head: &str, body: &[u8], next: &str) -> (RawReply, After) {
    let mut connection = Connection::open(&app.addr).await.expect("connect");
    connection.write(head.as_bytes()).await.expect("head");
    tokio::time::sleep(PAUSE).await;
    // The server may have answered and closed already (saying so): this write may fail.
    let _ = connection.write(body).await;
    let reply = connection.response().await.unwrap_or_else(|e| panic!("no answer to {head:?}: {e}"));
    if reply.says_close() {
        assert!(connection.closed_by_server(ANSWER_WITHIN).await, "{head:?}: said close, left the connection open");
        return (reply, After::Closed);
    }
    let status = reply.status;
    connection.write(next.as_bytes()).await.unwrap_or_else(|e| {
        panic!("{head:?} answered {status} without Connection: close, then the next request could not be sent: {e}")
    });
    let second = connection.response().await.unwrap_or_else(|e| {
        panic!("{head:?} answered {status} without Connection: close, then the next request got no answer: {e}")
    });
    (reply, After::Served(second.status))
}

#[tokio::test]
async fn a_401_sent_before_the_body_arrived_leaves_the_connection_usable_or_says_close() {
    let app = TestApp::spawn().await;
    let body = r#"{"firstname": "Ann", "lastname": "Early"}"#;
    let head = request_head("POST", "/1.1/users", "", body.len());
    let next = format!("{}{body}", request_head("POST", "/1.1/users", &basic(), body.len()));
    let (reply, after) = answer_before_the_body(&app, &head, body.as_bytes(), &next).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.body, r#"["Authentication required"]"#);
    assert!(reply.header("www-authenticate").is_some_and(|c| c.starts_with("Digest ")), "{reply:?}");
    assert!(matches!(after, After::Closed | After::Served(201)), "{after:?}");
}

#[tokio::test]
async fn every_early_answer_leaves_the_connection_usable_or_says_close() {
    let app = TestApp::spawn().await;
    let next = "GET /icws/connection/version HTTP/1.1\r\nHost: ctid\r\n\r\n";
    let json = r#"{"firstname": "Ann"}"#;
    let auth = basic();
    let over_limit = format!(r#"{{"firstname": "{}"}}"#, "a".repeat(256 * 1024));
    let chunked = "POST /1.1/users HTTP/1.1\r\nHost: ctid\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases = [
        // A body no longer than any the APIs accept is read and the connection goes on.
        (request_head("POST", "/1.1/no/such/route", &auth, json.len()), json.to_string(), 404, After::Served(200)),
        (request_head("PATCH", "/1.1/users", &auth, json.len()), json.to_string(), 405, After::Served(200)),
        (
            request_head("POST", "/1.1/users", &format!("{auth}Accept: text/html\r\n"), json.len()),
            json.to_string(),
            406,
            After::Served(200),
        ),
        (request_head("POST", "/icws/123/messaging/heartbeat", "", 2), "{}".to_string(), 401, After::Served(200)),
        (request_head("POST", "/icws/no/such/route", "", 2), "{}".to_string(), 404, After::Served(200)),
        // A longer body, or one of unknown length, is not waited for: the answer says close.
        (request_head("POST", "/1.1/users", &auth, over_limit.len()), over_limit, 413, After::Closed),
        (chunked.to_string(), format!("{:x}\r\n{json}\r\n0\r\n\r\n", json.len()), 401, After::Closed),
    ];
    let outcomes = futures_util::future::join_all(
        cases.iter().map(|(head, body, _, _)| answer_before_the_body(&app, head, body.as_bytes(), next)),
    )
    .await;
    for ((head, _, status, expected), (reply, after)) in cases.iter().zip(outcomes) {
        assert_eq!(reply.status, *status, "{head:?}: {reply:?}");
        assert_eq!(&after, expected, "{head:?}: {reply:?}");
    }
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The `Authorization` a Digest client sends in answer to `challenge` (first use of its nonce).
fn digest_authorization(challenge: &str, method: &str, uri: &str, cnonce: &str) -> String {
    let start = challenge.find("nonce=\"").expect("nonce") + 7;
    let nonce = &challenge[start..start + challenge[start..].find('"').expect("closing quote")];
    let ha1 = md5_hex(&format!("admin:XivoRealm:{ADMIN_PASSWORD}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
    format!(
        r#"Digest username="admin", realm="XivoRealm", nonce="{nonce}", uri="{uri}", response="{response}", algorithm="MD5", qop="auth", nc=00000001, cnonce="{cnonce}""#
    )
}

/// One `POST` as a Digest client (python-requests' `HTTPDigestAuth`) makes it on a fresh
/// connection: without credentials first, then, on the `401`, again with them on the same
/// connection, or on a new one if the `401` said `Connection: close`. Head and body leave in
/// separate writes. Returns the final status.
async fn digest_post(addr: &str, path: &str, body: &str, cnonce: &str) -> Result<u16, String> {
    let mut connection = Connection::open(addr).await.map_err(|e| format!("connect: {e}"))?;
    connection.write(request_head("POST", path, "", body.len()).as_bytes()).await.map_err(|e| format!("head: {e}"))?;
    connection.write(body.as_bytes()).await.map_err(|e| format!("body: {e}"))?;
    let challenge = connection.response().await.map_err(|e| format!("first answer: {e}"))?;
    if challenge.status != 401 {
        return Err(format!("first answer: {challenge:?}"));
    }
    let header = challenge.header("www-authenticate").ok_or_else(|| format!("no challenge: {challenge:?}"))?;
    let authorization = digest_authorization(header, "POST", path, cnonce);
    let reconnected = challenge.says_close();
    if reconnected {
        connection = Connection::open(addr).await.map_err(|e| format!("reconnect: {e}"))?;
    }
    let head = request_head("POST", path, &format!("Authorization: {authorization}\r\n"), body.len());
    connection.write(head.as_bytes()).await.map_err(|e| format!("retry head: {e}"))?;
    connection.write(body.as_bytes()).await.map_err(|e| format!("retry body: {e}"))?;
    let reply = connection.response().await.map_err(|e| format!("retry answer (reconnected: {reconnected}): {e}"))?;
    Ok(reply.status)
}

#[tokio::test]
async fn a_digest_client_on_fresh_connections_loses_no_request() {
    const REQUESTS: usize = 500;
    const CLIENTS: usize = 10;
    let app = TestApp::spawn().await;
    let line = app.post("/1.1/lines", r#"{"name": "1001"}"#).await;
    assert_eq!(line.status.as_u16(), 201, "{}", line.body);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();

    let clients = (0..CLIENTS).map(|client| {
        let addr = app.addr.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in (client..REQUESTS).step_by(CLIENTS) {
                let (path, body) = match i % 3 {
                    0 => ("/1.1/users", format!(r#"{{"firstname": "Digest", "lastname": "Client {i}"}}"#)),
                    1 => ("/1.1/lines", format!(r#"{{"name": "{}"}}"#, 2000 + i)),
                    _ => (
                        "/1.1/telephony/events",
                        format!(r#"{{"line": "1001", "call_id": "digest-{i}", "state": "idle", "timestamp": {now}}}"#),
                    ),
                };
                outcomes.push((i, path, digest_post(&addr, path, &body, &format!("{i:08x}")).await));
            }
            outcomes
        })
    });
    let mut outcomes = Vec::new();
    for client in clients.collect::<Vec<_>>() {
        outcomes.extend(client.await.expect("client"));
    }
    assert_eq!(outcomes.len(), REQUESTS);
    let failures: Vec<_> = outcomes
        .iter()
        .filter(|(_, _, outcome)| !matches!(outcome, Ok(status) if (200..300).contains(status)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );

    let users = app.get("/1.1/users").await;
    assert_eq!(users.json()["total"], REQUESTS.div_ceil(3));
    let lines = app.get("/1.1/lines").await;
    assert_eq!(lines.json()["total"], 1 + (REQUESTS + 1) / 3);
}
