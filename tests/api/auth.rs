//! Authentication of the configuration API: 401 challenge, Digest, Basic.

use md5::{Digest as _, Md5};
use reqwest::Method;

use crate::helpers::*;

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The `nonce` of a `WWW-Authenticate: Digest …` value.
fn nonce_of(challenge: &str) -> String {
    let start = challenge.find("nonce=\"").expect("nonce") + 7;
    let end = challenge[start..].find('"').expect("closing quote") + start;
    challenge[start..end].to_string()
}

fn digest_header(user: &str, password: &str, method: &str, uri: &str, nonce: &str, nc: u32) -> String {
    let ha1 = md5_hex(&format!("{user}:XivoRealm:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        r#"Digest username="{user}", realm="XivoRealm", nonce="{nonce}", uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", algorithm=MD5"#
    )
}

async fn challenge(app: &TestApp) -> String {
    let reply = send(app.client.get(app.url("/1.1/users"))).await;
    reply.header("www-authenticate").expect("challenge").to_string()
}

async fn with_authorization(app: &TestApp, method: Method, path: &str, authorization: &str) -> Reply {
    send(app.client.request(method, app.url(path)).header("Authorization", authorization)).await
}

#[tokio::test]
async fn anonymous_requests_get_a_digest_challenge() {
    let app = TestApp::spawn().await;
    for path in ["/1.1/users", "/1.1/users/1/cti_profile", "/1.1/no/such/route"] {
        let reply = send(app.client.get(app.url(path))).await;
        reply.assert_error(401, &["Authentication required"]);
        let challenge = reply.header("www-authenticate").expect("challenge");
        assert!(challenge.starts_with(r#"Digest realm="XivoRealm", nonce=""#), "{challenge}");
        assert!(challenge.contains(r#"qop="auth""#), "{challenge}");
    }
}

#[tokio::test]
async fn digest_authentication_succeeds_and_a_count_cannot_be_replayed() {
    let app = TestApp::spawn().await;
    let nonce = nonce_of(&challenge(&app).await);
    let first = digest_header("admin", ADMIN_PASSWORD, "GET", "/1.1/users", &nonce, 1);
    let reply = with_authorization(&app, Method::GET, "/1.1/users", &first).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.json(), serde_json::json!({"total": 0, "items": []}));

    with_authorization(&app, Method::GET, "/1.1/users", &first).await.assert_error(401, &["Authentication required"]);

    let second = digest_header("admin", ADMIN_PASSWORD, "GET", "/1.1/users", &nonce, 2);
    assert_eq!(with_authorization(&app, Method::GET, "/1.1/users", &second).await.status.as_u16(), 200);
}

#[tokio::test]
async fn digest_with_a_query_string_and_a_body() {
    let app = TestApp::spawn().await;
    let nonce = nonce_of(&challenge(&app).await);
    let header = digest_header("admin", ADMIN_PASSWORD, "POST", "/1.1/users", &nonce, 1);
    let reply =
        send(app.client.post(app.url("/1.1/users")).header("Authorization", header).body(r#"{"firstname":"Ann"}"#))
            .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let uri = "/1.1/users?search=ann&limit=5";
    let header = digest_header("admin", ADMIN_PASSWORD, "GET", uri, &nonce, 2);
    let reply = with_authorization(&app, Method::GET, uri, &header).await;
    assert_eq!(reply.json()["total"], 1);
}

#[tokio::test]
async fn digest_failures() {
    let app = TestApp::spawn().await;
    let nonce = nonce_of(&challenge(&app).await);
    let wrong_password = digest_header("admin", "nope", "GET", "/1.1/users", &nonce, 1);
    with_authorization(&app, Method::GET, "/1.1/users", &wrong_password)
        .await
        .assert_error(401, &["Authentication required"]);
    let unknown_user = digest_header("mallory", ADMIN_PASSWORD, "GET", "/1.1/users", &nonce, 2);
    with_authorization(&app, Method::GET, "/1.1/users", &unknown_user)
        .await
        .assert_error(401, &["Authentication required"]);
    let other_uri = digest_header("admin", ADMIN_PASSWORD, "GET", "/1.1/cti_profiles", &nonce, 3);
    with_authorization(&app, Method::GET, "/1.1/users", &other_uri)
        .await
        .assert_error(401, &["Authentication required"]);

    let made_up = digest_header("admin", ADMIN_PASSWORD, "GET", "/1.1/users", "00112233445566778899aabbccddeeff", 1);
    let reply = with_authorization(&app, Method::GET, "/1.1/users", &made_up).await;
    reply.assert_error(401, &["Authentication required"]);
    assert!(reply.header("www-authenticate").expect("challenge").contains("stale=true"));

    for garbage in ["Digest", "Digest username=", "Digest username=\"admin", "Bearer abc", "Basic !!!"] {
        with_authorization(&app, Method::GET, "/1.1/users", garbage)
            .await
            .assert_error(401, &["Authentication required"]);
    }
}

#[tokio::test]
async fn basic_authentication() {
    let app = TestApp::spawn().await;
    let ok = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth("admin", Some(ADMIN_PASSWORD))).await;
    assert_eq!(ok.status.as_u16(), 200);
    assert_eq!(ok.json()["total"], 4);
    let again = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth("admin", Some(ADMIN_PASSWORD))).await;
    assert_eq!(again.status.as_u16(), 200, "a cached credential still works");
    let wrong = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth("admin", Some("wrong"))).await;
    wrong.assert_error(401, &["Authentication required"]);
    assert!(wrong.header("www-authenticate").is_some());
    let unknown = send(app.client.get(app.url("/1.1/cti_profiles")).basic_auth("nobody", Some(ADMIN_PASSWORD))).await;
    unknown.assert_error(401, &["Authentication required"]);
}

#[tokio::test]
async fn generated_admin_password_is_printed_once_and_works() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let mut command = std::process::Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
        .env("CTID_ADMIN_PASSWORD", "")
        .env("CTID_LOG", "warn")
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut password = None;
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("admin with password ").nth(1) {
            password = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let (password, addr) = (password.expect("password printed"), addr.expect("address"));
    let client = reqwest::Client::new();
    let reply = send(client.get(format!("http://{addr}/1.1/users")).basic_auth("admin", Some(&password))).await;
    assert_eq!(reply.status.as_u16(), 200);
    let _ = child.kill();
    let _ = child.wait();
}
