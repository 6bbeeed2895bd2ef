//! `TestApp`: a `ctid serve` process on a free port with a fresh database.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "s3cret-admin";

/// The fourteen statuses of a fresh catalog, in order.
pub const CATALOG: [&str; 14] = [
    "Available",
    "Available, No ACD",
    "Available, Forward",
    "Away from desk",
    "At Lunch",
    "At a training session",
    "Follow Up",
    "Do Not disturb",
    "In a meeting",
    "Gone Home",
    "On Vacation",
    "Out of the office",
    "Out of Town",
    "AcdAgentNotAnswering",
];

/// Every selectable status of the default catalog, in catalog order (all but the last).
pub const SELECTABLE: [&str; 13] = [
    CATALOG[0],
    CATALOG[1],
    CATALOG[2],
    CATALOG[3],
    CATALOG[4],
    CATALOG[5],
    CATALOG[6],
    CATALOG[7],
    CATALOG[8],
    CATALOG[9],
    CATALOG[10],
    CATALOG[11],
    CATALOG[12],
];

pub struct TestApp {
    pub addr: String,
    pub client: reqwest::Client,
    child: Child,
    stderr: std::sync::Mutex<mpsc::Receiver<String>>,
    /// Holds the SQLite files, or notes the PostgreSQL database to drop, when `database_url` made
    /// the database in it.
    dir: tempfile::TempDir,
    /// The database it serves.
    url: String,
}

/// What a client sees of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every comma-separated item of every `name` header, trimmed and lowercased.
    pub fn header_items(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|item| item.trim().to_ascii_lowercase())
            .collect()
    }

    /// Asserts the XiVO error shape: this status and exactly these messages.
    #[track_caller]
    pub fn assert_error(&self, status: u16, messages: &[&str]) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.json(), serde_json::json!(messages));
    }
}

/// The path of the `ctid` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ctid")
}

/// The database the suite runs on: SQLite files by default, PostgreSQL when
/// `CTID_TEST_POSTGRES` holds the URL of an admin database on a running server (scripts/postgres
/// starts a throw-away one); each test then gets a database of its own on that server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    if postgres_admin_url().is_some() { Backend::Postgres } else { Backend::Sqlite }
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("CTID_TEST_POSTGRES").ok().filter(|url| !url.is_empty())
}

/// In a directory `database_url` was given on PostgreSQL: the name of the database made for it.
const POSTGRES_DATABASE_NOTE: &str = "postgres-database";

/// A database URL for a fresh database that belongs to `dir`: the file `ctid.db` inside `dir` on
/// SQLite; on PostgreSQL a new database (its name noted in `dir`), dropped with the `TestApp`
/// that owns `dir`.
pub fn database_url(dir: &std::path::Path) -> String {
    let Some(admin) = postgres_admin_url() else {
        return format!("sqlite://{}", dir.join("ctid.db").display());
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Unique across the test threads (counter) and concurrent runs (pid, random).
    let random = RandomState::new().hash_one((n, std::time::SystemTime::now()));
    let name = format!("ctid_t_{}_{n}_{random:016x}", std::process::id());
    psql(&admin, &format!("CREATE DATABASE {name}"));
    std::fs::write(dir.join(POSTGRES_DATABASE_NOTE), &name).expect("note the database name");
    with_database(&admin, &name)
}

/// Drops the PostgreSQL database `database_url(dir)` made, if any (best effort: the server is
/// throw-away).
pub fn drop_database(dir: &std::path::Path) {
    let Some(admin) = postgres_admin_url() else { return };
    let Ok(name) = std::fs::read_to_string(dir.join(POSTGRES_DATABASE_NOTE)) else { return };
    let _ = Command::new("psql")
        .args(["-X", "-q", "-d", &admin, "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `url` (`postgres://…/DB?…`) naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs `sql` on the PostgreSQL database at `url` with `psql`; returns the rows, unaligned.
pub fn psql(url: &str, sql: &str) -> String {
    postgres_client("psql", &["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
}

/// Everything the PostgreSQL database at `url` holds, as `pg_dump` prints it.
pub fn pg_dump(url: &str) -> String {
    postgres_client("pg_dump", &["--no-owner", "-d", url])
}

fn postgres_client(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} ({e}): CTID_TEST_POSTGRES needs PostgreSQL's client programs"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?}: {}", stderr.trim());
    String::from_utf8(out.stdout).expect("UTF-8")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[], &[]).await
    }

    /// Starts `ctid serve` with extra arguments and environment variables.
    pub async fn spawn_with(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = database_url(dir.path());
        Self::spawn_on(dir, &url, args, envs).await
    }

    /// Starts `ctid serve` on `url`, keeping `dir` (and the database `database_url(dir)` made, if
    /// any) as long as the app.
    pub async fn spawn_on(dir: tempfile::TempDir, url: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
            .args(args)
            .env_remove("CTID_LISTEN")
            .env("CTID_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CTID_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start ctid");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("ctid did not start; stderr: {seen:#?}"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().expect("address").to_string();
            }
            seen.push(line);
        };
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { addr, client, child, stderr: std::sync::Mutex::new(rx), dir, url: url.to_string() }
    }

    /// The first line the server logs from now on that contains `needle`, within `within`.
    pub fn log_line(&self, needle: &str, within: Duration) -> Option<String> {
        let lines = self.stderr.lock().expect("stderr");
        let deadline = std::time::Instant::now() + within;
        loop {
            let line = lines.recv_timeout(deadline.checked_duration_since(std::time::Instant::now())?).ok()?;
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request as the admin (Basic), with an optional raw body.
    pub async fn request(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let mut builder = self.client.request(method, self.url(path)).basic_auth("admin", Some(ADMIN_PASSWORD));
        if let Some(body) = body {
            builder = builder.body(body.to_string());
        }
        send(builder).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, body: Value) -> i64 {
        let reply = self.post("/1.1/users", &body.to_string()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.json()["id"].as_i64().expect("id")
    }

    /// Base URL as the server builds links for this client.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of the database it serves.
    pub fn database_url(&self) -> String {
        self.url.clone()
    }

    /// The server's resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends SIGKILL and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal_term();
        self.child.wait().expect("wait")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
        drop_database(self.dir.path());
    }
}

pub async fn send(builder: reqwest::RequestBuilder) -> Reply {
    let response = tokio::time::timeout(Duration::from_secs(30), builder.send())
        .await
        .expect("no answer within 30 s")
        .expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Reply { status, headers, body }
}

/// An open presence session as a client holds it.
#[derive(Debug, Clone)]
pub struct IcwsLogin {
    pub session_id: String,
    pub csrf_token: String,
    /// `icws_{id}=value`, as a `Cookie` header sends it.
    pub cookie: String,
    /// The raw `Set-Cookie` line.
    pub set_cookie: String,
    pub body: Value,
}

impl IcwsLogin {
    /// The session a login answer opened; asserts 201.
    #[track_caller]
    pub fn from_reply(reply: &Reply) -> Self {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let set_cookie = reply.header("set-cookie").expect("Set-Cookie").to_string();
        Self {
            session_id: reply.header("inin-icws-session-id").expect("session id").to_string(),
            csrf_token: reply.header("inin-icws-csrf-token").expect("token").to_string(),
            cookie: set_cookie.split(';').next().expect("cookie").to_string(),
            set_cookie,
            body: reply.json(),
        }
    }
}

/// Whether the suite runs on PostgreSQL; if not, says on stderr that `what` needs it.
pub fn on_postgres(what: &str) -> bool {
    let yes = backend() == Backend::Postgres;
    if !yes {
        eprintln!("{what} need PostgreSQL: set CTID_TEST_POSTGRES (scripts/test does)");
    }
    yes
}

pub const ICWS_CONTENT_TYPE: &str = "application/vnd.inin.icws+JSON; charset=utf-8";

impl Reply {
    /// Asserts the ICWS error shape: this status and errorId.
    #[track_caller]
    pub fn assert_icws_error(&self, status: u16, error_id: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some(ICWS_CONTENT_TYPE));
        let body = self.json();
        assert_eq!(body["errorId"], error_id, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

impl TestApp {
    /// Creates a presence user (username, password, CTI profile) and returns its id.
    pub async fn presence_user(&self, username: &str, password: &str, profile: i64) -> i64 {
        let id = self
            .create_user(serde_json::json!({
                "firstname": username, "lastname": "Tester", "username": username, "password": password
            }))
            .await;
        let reply =
            self.post(&format!("/1.1/users/{id}/cti_profile"), &format!(r#"{{"cti_profile_id": {profile}}}"#)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        id
    }

    /// `POST /icws/connection` with these credentials, raw.
    pub async fn icws_login_raw(&self, user: &str, password: &str) -> Reply {
        let body = serde_json::json!({
            "__type": "urn:inin.com:connection:icAuthConnectionRequestSettings",
            "applicationName": "ctid tests",
            "userID": user,
            "password": password,
        });
        send(self.client.post(self.url("/icws/connection")).body(body.to_string())).await
    }

    /// Logs in and returns the session; asserts 201.
    pub async fn icws_login(&self, user: &str, password: &str) -> IcwsLogin {
        IcwsLogin::from_reply(&self.icws_login_raw(user, password).await)
    }

    /// `GET …/status/user-statuses/{user}`, which must answer 200.
    pub async fn user_status(&self, login: &IcwsLogin, user: &str) -> Value {
        let reply = self.icws(Method::GET, login, &format!("/status/user-statuses/{user}"), None).await;
        assert_eq!(reply.status.as_u16(), 200, "GET {user}: {}", reply.body);
        reply.json()
    }

    /// A session request with the token and cookie; `path` is relative to `/icws/{sessionId}`.
    pub async fn icws(&self, method: Method, login: &IcwsLogin, path: &str, body: Option<&str>) -> Reply {
        let url = self.url(&format!("/icws/{}{path}", login.session_id));
        let mut builder = self
            .client
            .request(method, url)
            .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
            .header("Cookie", &login.cookie);
        if let Some(body) = body {
            builder = builder.body(body.to_string());
        }
        send(builder).await
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub data: Value,
}

/// An open `text/event-stream` response, read event by event.
pub struct SseStream {
    pub response: reqwest::Response,
    buffer: String,
    /// `:` comment lines seen so far.
    pub comments: usize,
}

impl SseStream {
    /// The next event, waiting at most `within`; `None` on timeout or end of stream.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(rest) = line.strip_prefix("id:") {
                        id = Some(rest.trim().to_string());
                    } else if let Some(rest) = line.strip_prefix("data:") {
                        data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                    }
                }
                if !data.is_empty() {
                    let data =
                        serde_json::from_str(&data).unwrap_or_else(|e| panic!("event data not JSON ({e}): {data}"));
                    return Some(SseEvent { id, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

impl TestApp {
    /// `GET …/messaging/messages` (short poll) as a JSON array.
    pub async fn poll(&self, login: &IcwsLogin) -> Vec<Value> {
        let reply = self.icws(Method::GET, login, "/messaging/messages", None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json().as_array().expect("array").clone()
    }

    /// Opens the event stream with the cookie only (and `Last-Event-ID` when given).
    pub async fn sse(&self, login: &IcwsLogin, last_event_id: Option<&str>) -> SseStream {
        let mut builder = self
            .client
            .get(self.url(&format!("/icws/{}/messaging/messages", login.session_id)))
            .header("Accept", "text/event-stream")
            .header("Cookie", &login.cookie);
        if let Some(id) = last_event_id {
            builder = builder.header("Last-Event-ID", id);
        }
        let response = builder.send().await.expect("event stream");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        SseStream { response, buffer: String::new(), comments: 0 }
    }

    /// Subscribes the session to these users' statuses; asserts 200 with no body.
    pub async fn subscribe(&self, login: &IcwsLogin, users: &[&str]) {
        let body = serde_json::json!({ "userIds": users }).to_string();
        let reply = self.icws(Method::PUT, login, "/messaging/subscriptions/status/user-statuses", Some(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, "");
    }

    /// Sets a user's status through the session; asserts 202 and returns the request id.
    pub async fn set_status(&self, login: &IcwsLogin, user: &str, body: Value) -> String {
        let reply =
            self.icws(Method::PUT, login, &format!("/status/user-statuses/{user}"), Some(&body.to_string())).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        reply.json()["requestId"].as_str().expect("requestId").to_string()
    }
}

impl TestApp {
    /// Starts `ctid serve` on a database the caller owns (the files, or the PostgreSQL database,
    /// outlive this process), e.g. to restart on the same database after `kill()`.
    pub async fn spawn_at(url: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let scratch = tempfile::tempdir().expect("temp dir");
        Self::spawn_on(scratch, url, args, envs).await
    }
}

/// How long a message may take to arrive before a test gives up (delivery, not speed).
pub const WAIT: Duration = Duration::from_secs(10);
/// Between two short polls while waiting for a message.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Every message carries `__type` and `isDelta`.
#[track_caller]
pub fn assert_envelope(message: &Value) {
    assert!(message["__type"].as_str().is_some_and(|t| t.starts_with("urn:inin.com:")), "{message}");
    assert!(message["isDelta"].is_boolean(), "{message}");
}

/// A session's messages read by short poll, one at a time and in order.
pub struct Inbox<'a> {
    pub app: &'a TestApp,
    pub login: IcwsLogin,
    pub queue: VecDeque<Value>,
}

impl<'a> Inbox<'a> {
    pub fn new(app: &'a TestApp, login: &IcwsLogin) -> Self {
        Self { app, login: login.clone(), queue: VecDeque::new() }
    }

    /// Every message up to and including the first that matches, polling every 20 ms for up
    /// to 10 s.
    pub async fn until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            while let Some(message) = self.queue.pop_front() {
                assert_envelope(&message);
                let done = matches(&message);
                seen.push(message);
                if done {
                    return seen;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not received within {WAIT:?}; received: {seen:#?}"
            );
            let batch = self.app.poll(&self.login).await;
            if batch.is_empty() {
                tokio::time::sleep(POLL_EVERY).await;
            }
            self.queue.extend(batch);
        }
    }

    /// The next message.
    pub async fn next(&mut self) -> Value {
        self.until("a message", |_| true).await.pop().expect("a message")
    }
}
