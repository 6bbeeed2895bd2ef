//! A real PBX end to end: Kamailio with `contrib/kamailio/kamailio.cfg` proxies a call that
//! sipp places and answers (`contrib/kamailio/sipp/`), and reports both lines to
//! `POST /1.1/telephony/events`; the two users of those lines go on and off the phone as a
//! presence client sees it (`onPhone` in GET and in the pushed `userStatusMessage`s).
//!
//! Needs `kamailio` (with `http_client.so` from kamailio-utils-modules) and `sipp`
//! (sip-tester): `scripts/test` installs them, and the test fails when they are missing.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::helpers::*;

/// How long anything may take to happen before the test gives up (delivery, not speed).
const WAIT: Duration = Duration::from_secs(20);
/// Between two looks while waiting.
const POLL_EVERY: Duration = Duration::from_millis(50);

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";

/// Where the Kamailio configuration and the sipp scenarios live.
fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/kamailio").join(path)
}

/// An installed program, looked up in PATH and in the sbin directories (Debian installs
/// kamailio in /usr/sbin, which a non-root PATH may lack).
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed; scripts/test installs it \
                 (apt-get install kamailio kamailio-utils-modules sip-tester)"
            )
        })
}

/// Distinct loopback UDP ports that were free a moment ago.
fn free_udp_ports<const N: usize>() -> [u16; N] {
    let sockets: Vec<std::net::UdpSocket> =
        (0..N).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a free UDP port")).collect();
    std::array::from_fn(|i| sockets[i].local_addr().expect("local address").port())
}

/// A started program, in a process group of its own that is killed when this is dropped
/// (panics included); its output goes to `{name}.log`, shown with `logs` when the test fails.
struct Process {
    name: &'static str,
    child: Child,
    logs: Vec<PathBuf>,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child, logs: vec![log] }
    }

    /// Also shows this file when the test fails.
    fn with_log(mut self, path: PathBuf) -> Self {
        self.logs.push(path);
        self
    }

    fn log(&self) -> String {
        self.logs
            .iter()
            .map(|path| {
                let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                format!("--- {} ---\n{text}", path.display())
            })
            .collect()
    }

    /// Waits for the program to exit on its own and asserts it succeeded.
    async fn wait_success(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "{} exited with {status}:\n{}", self.name, self.log());
                return;
            }
            assert!(Instant::now() < deadline, "{} still running after {WAIT:?}:\n{}", self.name, self.log());
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{} output:\n{}", self.name, self.log());
        }
        let pid = self.child.id().to_string();
        if self.is_running() {
            // Kamailio's main process stops and reaps its workers on SIGTERM.
            let _ = Command::new("kill").args(["-TERM", &pid]).stderr(Stdio::null()).status();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while self.is_running() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left of the group (all of it if SIGTERM was not enough).
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

/// A SIP request sent from the test's own socket: the keepalive Kamailio answers, or the cue
/// a sipp scenario waits for (an INFO with the call's Call-ID).
fn sip_request(method: &str, to_port: u16, from_port: u16, call_id: &str, seq: u32) -> String {
    format!(
        "{method} sip:127.0.0.1:{to_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{from_port};branch=z9hG4bK-test-{seq}\r\n\
         From: <sip:test@127.0.0.1:{from_port}>;tag=test{seq}\r\n\
         To: <sip:127.0.0.1:{to_port}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {seq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Kamailio, sipp's two phones, and the socket the test speaks SIP from.
struct Pbx {
    kamailio: Process,
    kamailio_port: u16,
    uas_port: u16,
    uac_port: u16,
    socket: UdpSocket,
    seq: u32,
    /// Last, so that Kamailio's log outlives Kamailio (fields drop in order).
    dir: tempfile::TempDir,
}

impl Pbx {
    /// Starts Kamailio reporting to `app` and waits until it answers a keepalive.
    async fn start(app: &TestApp) -> Self {
        let kamailio_bin = program("kamailio");
        program("sipp");
        let dir = tempfile::tempdir().expect("temp dir");
        let [kamailio_port, uas_port, uac_port] = free_udp_ports();
        let connection = dir.path().join("ctid-http.cfg");
        std::fs::write(
            &connection,
            format!(
                "[ctid]\nurl = {}\nusername = admin\npassword = \"{ADMIN_PASSWORD}\"\nauthmethod = 1\ntimeout = 5\n",
                app.base()
            ),
        )
        .expect("write the connection file");
        let kamailio = Process::spawn(
            "kamailio",
            Command::new(kamailio_bin)
                .args(["-DD", "-E", "-n", "2", "-f"])
                .arg(contrib("kamailio.cfg"))
                .args(["-l", &format!("udp:127.0.0.1:{kamailio_port}")])
                .arg("-Y")
                .arg(dir.path())
                .args(["-A", &format!("CTID_HTTP_CONFIG=\"{}\"", connection.display())])
                .args(["-A", &format!("UPSTREAM=\"sip:127.0.0.1:{uas_port}\"")]),
            dir.path(),
        );
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind the test's SIP socket");
        let mut pbx = Self { kamailio, kamailio_port, uas_port, uac_port, socket, seq: 0, dir };
        pbx.wait_keepalive().await;
        pbx
    }

    fn next_request(&mut self, method: &str, to_port: u16, call_id: &str) -> String {
        self.seq += 1;
        let from_port = self.socket.local_addr().expect("local address").port();
        sip_request(method, to_port, from_port, call_id, self.seq)
    }

    /// OPTIONS to Kamailio until it answers 200: it is up and listening.
    async fn wait_keepalive(&mut self) {
        let deadline = Instant::now() + WAIT;
        let mut buffer = vec![0u8; 65536];
        loop {
            assert!(self.kamailio.is_running(), "kamailio exited:\n{}", self.kamailio.log());
            assert!(Instant::now() < deadline, "kamailio did not answer within {WAIT:?}:\n{}", self.kamailio.log());
            let options = self.next_request("OPTIONS", self.kamailio_port, &format!("keepalive-{}", self.seq + 1));
            self.socket.send_to(options.as_bytes(), ("127.0.0.1", self.kamailio_port)).await.expect("send OPTIONS");
            if let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_millis(200), self.socket.recv_from(&mut buffer)).await
            {
                let reply = String::from_utf8_lossy(&buffer[..n]);
                assert!(reply.starts_with("SIP/2.0 200 "), "keepalive answered: {reply}");
                return;
            }
        }
    }

    /// The called phone (line `callee`), once its port is bound.
    async fn start_uas(&self, callee: &str) -> Process {
        let messages = self.dir.path().join("uas-messages.log");
        let errors = self.dir.path().join("uas-errors.log");
        let mut uas = Process::spawn(
            "sipp-uas",
            Command::new(program("sipp"))
                .arg("-sf")
                .arg(contrib("sipp/uas.xml"))
                .args(["-s", callee, "-i", "127.0.0.1", "-p", &self.uas_port.to_string()])
                .args(["-rsa", &format!("127.0.0.1:{}", self.kamailio_port)])
                .args(["-m", "1", "-nostdin", "-timeout", "90s", "-trace_msg", "-message_file"])
                .arg(&messages)
                .args(["-trace_err", "-error_file"])
                .arg(&errors),
            self.dir.path(),
        )
        .with_log(messages)
        .with_log(errors);
        let deadline = Instant::now() + WAIT;
        // Bound by sipp once binding the same port fails.
        while std::net::UdpSocket::bind(("127.0.0.1", self.uas_port)).is_ok() {
            assert!(uas.is_running(), "sipp (called phone) exited:\n{}", uas.log());
            assert!(Instant::now() < deadline, "sipp (called phone) not listening within {WAIT:?}");
            tokio::time::sleep(POLL_EVERY).await;
        }
        uas
    }

    /// The calling phone: calls `callee` from line `caller` with this Call-ID.
    fn start_uac(&self, caller: &str, callee: &str, call_id: &str) -> Process {
        let messages = self.dir.path().join("uac-messages.log");
        let errors = self.dir.path().join("uac-errors.log");
        Process::spawn(
            "sipp-uac",
            Command::new(program("sipp"))
                .arg(format!("127.0.0.1:{}", self.kamailio_port))
                .arg("-sf")
                .arg(contrib("sipp/uac.xml"))
                .args(["-s", callee, "-key", "caller", caller, "-cid_str", call_id])
                .args(["-i", "127.0.0.1", "-p", &self.uac_port.to_string()])
                .args(["-rsa", &format!("127.0.0.1:{}", self.kamailio_port)])
                .args(["-m", "1", "-nostdin", "-timeout", "90s", "-trace_msg", "-message_file"])
                .arg(&messages)
                .args(["-trace_err", "-error_file"])
                .arg(&errors),
            self.dir.path(),
        )
        .with_log(messages)
        .with_log(errors)
    }

    /// Sends a scenario its cue (see the scenarios).
    async fn cue(&mut self, port: u16, call_id: &str) {
        let info = self.next_request("INFO", port, call_id);
        self.socket.send_to(info.as_bytes(), ("127.0.0.1", port)).await.expect("send the cue");
    }
}

/// `POST /1.1/lines`; the new line's id.
async fn create_line(app: &TestApp, name: &str) -> i64 {
    let reply = app.post("/1.1/lines", &serde_json::json!({ "name": name }).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "POST /1.1/lines {name}: {}", reply.body);
    reply.json()["id"].as_i64().expect("id")
}

/// `POST /1.1/users/{user}/lines`; asserts 201.
async fn associate(app: &TestApp, user: i64, line: i64) {
    let reply = app.post(&format!("/1.1/users/{user}/lines"), &format!(r#"{{"line_id": {line}}}"#)).await;
    assert_eq!(reply.status.as_u16(), 201, "associate line {line} to user {user}: {}", reply.body);
}

/// `GET /1.1/telephony/calls` until its items, as (line, call_id, state, user_id), are these.
async fn wait_for_calls(app: &TestApp, pbx: &Process, expected: &[(&str, &str, &str, i64)]) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut expected: Vec<Value> =
        expected.iter().map(|(line, call, state, user)| serde_json::json!([line, call, state, user])).collect();
    expected.sort_by_key(Value::to_string);
    loop {
        let reply = app.get("/1.1/telephony/calls").await;
        assert_eq!(reply.status.as_u16(), 200, "GET /1.1/telephony/calls: {}", reply.body);
        let body = reply.json();
        let items = body["items"].as_array().expect("items");
        let mut seen: Vec<Value> =
            items.iter().map(|c| serde_json::json!([c["line"], c["call_id"], c["state"], c["user_id"]])).collect();
        seen.sort_by_key(Value::to_string);
        if seen == expected {
            assert_eq!(body["total"], items.len(), "{body}");
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "calls are not {expected:?} after {WAIT:?}: {body}\nkamailio output:\n{}",
            pbx.log()
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// `GET …/status/user-statuses/{user}` until `onPhone` is `on_phone`; the status.
async fn wait_on_phone(app: &TestApp, login: &IcwsLogin, user: &str, on_phone: bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = app.icws(reqwest::Method::GET, login, &format!("/status/user-statuses/{user}"), None).await;
        assert_eq!(reply.status.as_u16(), 200, "GET status of {user}: {}", reply.body);
        let status = reply.json();
        if status["onPhone"] == on_phone {
            return status;
        }
        assert!(Instant::now() < deadline, "{user} not onPhone={on_phone} after {WAIT:?}: {status}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Short-polls the session until, for each user, a `userStatusMessage` listed them with
/// `onPhone` = `on_phone`; those entries, by user. `seen` keeps every message received.
async fn wait_pushed(app: &TestApp, login: &IcwsLogin, users: &[&str], on_phone: bool, seen: &mut Vec<Value>) {
    let deadline = Instant::now() + WAIT;
    let mut missing: Vec<&str> = users.to_vec();
    loop {
        for message in app.poll(login).await {
            if message["__type"] == USER_STATUS {
                for entry in message["userStatusList"].as_array().expect("userStatusList") {
                    assert!(
                        entry["onPhone"].is_boolean() && entry["onPhoneChanged"].is_string(),
                        "user status without onPhone/onPhoneChanged: {message}"
                    );
                    if entry["onPhone"] == on_phone {
                        missing.retain(|user| entry["userId"] != *user);
                    }
                }
            }
            seen.push(message);
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no userStatusMessage with onPhone={on_phone} for {missing:?} within {WAIT:?}; received: {seen:#?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[tokio::test]
async fn a_call_through_kamailio_puts_both_lines_users_on_the_phone_then_off() {
    let app = TestApp::spawn().await;
    let alice = app.presence_user("alice", "secret", 2).await;
    let bob = app.presence_user("bob", "secret", 2).await;
    app.presence_user("watcher", "secret", 2).await;
    let line_1001 = create_line(&app, "1001").await;
    let line_1002 = create_line(&app, "1002").await;
    associate(&app, alice, line_1001).await;
    associate(&app, bob, line_1002).await;

    let watcher = app.icws_login("watcher", "secret").await;
    app.subscribe(&watcher, &["alice", "bob"]).await;
    let mut messages = Vec::new();
    wait_pushed(&app, &watcher, &["alice", "bob"], false, &mut messages).await;
    let first = &messages[0];
    assert_eq!(first["isDelta"], false, "the first message is the full one: {first}");

    let mut pbx = Pbx::start(&app).await;
    let mut uas = pbx.start_uas("1002").await;
    // Quotes and a backslash: the configuration must escape the Call-ID for JSON.
    let call_id = format!("pbx-\"e2e\"\\{}-{}@127.0.0.1", std::process::id(), pbx.uac_port);
    let mut uac = pbx.start_uac("1001", "1002", &call_id);

    // The INVITE went through: both lines ring, both users are on the phone.
    let calls = wait_for_calls(
        &app,
        &pbx.kamailio,
        &[("1001", &call_id, "ringing", alice), ("1002", &call_id, "ringing", bob)],
    )
    .await;
    for call in calls["items"].as_array().expect("items") {
        assert!(call["since"].is_string(), "{calls}");
    }
    wait_on_phone(&app, &watcher, "alice", true).await;
    wait_on_phone(&app, &watcher, "bob", true).await;
    wait_pushed(&app, &watcher, &["alice", "bob"], true, &mut messages).await;
    for message in &messages[1..] {
        assert_eq!(message["isDelta"], true, "after the full message, deltas only: {message}");
    }

    // Answered.
    pbx.cue(pbx.uas_port, &call_id).await;
    wait_for_calls(&app, &pbx.kamailio, &[("1001", &call_id, "talking", alice), ("1002", &call_id, "talking", bob)])
        .await;
    for user in ["alice", "bob"] {
        assert_eq!(wait_on_phone(&app, &watcher, user, true).await["onPhone"], true, "{user} while talking");
    }

    // Hung up: the caller's BYE goes through Kamailio.
    pbx.cue(pbx.uac_port, &call_id).await;
    wait_on_phone(&app, &watcher, "alice", false).await;
    wait_on_phone(&app, &watcher, "bob", false).await;
    wait_pushed(&app, &watcher, &["alice", "bob"], false, &mut messages).await;
    wait_for_calls(&app, &pbx.kamailio, &[]).await;

    // Both phones went through their whole scenario, and ctid accepted every report.
    uac.wait_success().await;
    uas.wait_success().await;
    let log = pbx.kamailio.log();
    assert!(!log.contains("ctid: report failed") && !log.contains("ctid: refused"), "kamailio output:\n{log}");
    for state in ["ringing", "talking", "idle"] {
        for line in ["1001", "1002"] {
            let report = format!(r#"ctid: reported {{"line": "{line}", "call_id": "#);
            assert!(
                log.lines().any(|l| l.contains(&report) && l.contains(&format!(r#""state": "{state}""#))),
                "no {state} report for line {line}:\n{log}"
            );
        }
    }
}
