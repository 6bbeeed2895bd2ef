//! PostgreSQL over TLS: `sslmode` and `sslrootcert` in the database URL, against a server of
//! its own with `ssl = on` and a certificate for `localhost` from a throw-away CA made here with
//! openssl. What an operator sees is asserted: the exit status and the line on stderr. Only on
//! PostgreSQL (`CTID_TEST_POSTGRES`, as the cluster tests).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::cluster::OwnServer;
use crate::helpers::{Backend, TestApp, backend, binary};

/// In every URL: the server trusts 127.0.0.1 and never asks for it, so it must never show.
const PASSWORD: &str = "tls-test-secret";

/// A throw-away CA (`ca.pem`), another one that signed nothing (`other-ca.pem`), and a server
/// certificate for `localhost` (DNS name only) signed by the first.
const MAKE_CERTIFICATES: &str = r#"
set -euo pipefail
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=ctid test $1" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
ca ca
ca other-ca
key server.key
openssl req -new -key server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
"#;

/// Turns TLS on in the cluster in `$1` with the certificate in `$2`; with `$3` = `hostssl`, the
/// server accepts TLS connections only.
const ENABLE_TLS: &str = r#"
set -euo pipefail
data=$1/data
owner=()
[ "$(id -u)" != 0 ] || owner=(-o postgres -g postgres)
install -m 600 "${owner[@]}" "$2/server.crt" "$data/server.crt"
install -m 600 "${owner[@]}" "$2/server.key" "$data/server.key"
echo "ssl = on" >>"$data/postgresql.conf"
if [ "$3" = hostssl ]; then
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n' >"$data/pg_hba.conf"
fi
"#;

struct TlsServer {
    server: OwnServer,
    certs: tempfile::TempDir,
}

impl TlsServer {
    /// `None` (and a note why) unless the suite runs on PostgreSQL with openssl at hand.
    fn start(hostssl_only: bool) -> Option<Self> {
        if backend() != Backend::Postgres {
            eprintln!("PostgreSQL over TLS needs PostgreSQL: set CTID_TEST_POSTGRES (scripts/test does)");
            return None;
        }
        let certs = tempfile::tempdir().expect("temp dir");
        run_bash(MAKE_CERTIFICATES, &[certs.path()]);
        let server = OwnServer::start();
        let mode = Path::new(if hostssl_only { "hostssl" } else { "host" });
        run_bash(ENABLE_TLS, &[server.dir(), certs.path(), mode]);
        server.pg_ctl("restart");
        Some(Self { server, certs })
    }

    fn ca(&self, name: &str) -> PathBuf {
        self.certs.path().join(name)
    }

    /// The URL of the server's `postgres` database by `host`, with `query` (`?…` or empty).
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@{host}:{}/postgres{query}", self.server.port())
    }
}

fn run_bash(script: &str, args: &[&Path]) {
    let out = Command::new("bash").arg("-c").arg(script).arg("bash").args(args).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `ctid ARGS` to its end (60 s at most): whether it succeeded, and its stderr.
fn ctid(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(binary())
        .args(args)
        .env_remove("CTID_LISTEN")
        .env("CTID_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctid");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ctid {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert!(!stderr.contains(PASSWORD), "the password was printed: {stderr}");
    (status.success(), stderr)
}

fn migrate(url: &str) -> (bool, String) {
    ctid(&["migrate", "--database", url])
}

/// The start-up error line (`ctid: cannot open the database …`) of a run that must fail.
#[track_caller]
fn refused(run: (bool, String)) -> String {
    let (ok, stderr) = run;
    assert!(!ok, "ctid succeeded: {stderr}");
    let line = stderr.lines().find(|l| l.starts_with("ctid: cannot open the database ")).unwrap_or_default();
    eprintln!("{line}");
    assert!(line.contains("postgres://postgres:***@"), "no start-up error naming the redacted URL: {stderr}");
    line.to_string()
}

#[track_caller]
fn connected(run: (bool, String)) {
    let (ok, stderr) = run;
    assert!(ok && stderr.contains("ctid: migrations applied to postgres://postgres:***@"), "{stderr}");
}

#[test]
fn verify_full_checks_the_ca_and_the_host_name() {
    let Some(server) = TlsServer::start(false) else { return };
    let ca = server.ca("ca.pem");
    let other = server.ca("other-ca.pem");
    connected(migrate(&server.url("localhost", &format!("?sslmode=verify-full&sslrootcert={}", ca.display()))));

    let line =
        refused(migrate(&server.url("localhost", &format!("?sslmode=verify-full&sslrootcert={}", other.display()))));
    assert!(
        line.contains(&format!(
            "the PostgreSQL server's certificate is not trusted by sslrootcert {} (sslmode=verify-full)",
            other.display()
        )),
        "{line}"
    );

    let line =
        refused(migrate(&server.url("127.0.0.1", &format!("?sslmode=verify-full&sslrootcert={}", ca.display()))));
    assert!(
        line.contains(
            "the PostgreSQL server's certificate does not match the host name 127.0.0.1 (sslmode=verify-full)"
        ),
        "{line}"
    );

    // Without a root certificate there is nothing to verify against: refused before connecting.
    let line = refused(ctid(&["migrate", "--database", &server.url("localhost", "?sslmode=verify-full")]));
    assert!(line.contains("sslmode=verify-full needs the certificate of the CA"), "{line}");
}

#[tokio::test]
async fn require_and_the_default_connect_over_tls_and_disable_is_refused() {
    // The server takes TLS connections only: connecting at all proves TLS was used.
    let Some(server) = TlsServer::start(true) else { return };
    connected(migrate(&server.url("localhost", "?sslmode=require")));
    connected(migrate(&server.url("127.0.0.1", "?sslmode=require")));
    connected(migrate(&server.url("127.0.0.1", "")));

    let line = refused(migrate(&server.url("127.0.0.1", "?sslmode=disable")));
    assert!(
        line.contains("the PostgreSQL server refuses connections without TLS, and sslmode=disable asks for one"),
        "{line}"
    );
    assert!(line.contains("no pg_hba.conf entry"), "{line}");

    // A running instance: the store's pool and the event log's connections all use TLS.
    let app = TestApp::spawn_at(&server.url("127.0.0.1", ""), &[], &[]).await;
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert_eq!(health.json()["database"], "reachable");
}

#[test]
fn verify_ca_and_require_with_a_root_certificate_check_the_chain() {
    let Some(server) = TlsServer::start(false) else { return };
    let ca = server.ca("ca.pem");
    let other = server.ca("other-ca.pem");
    connected(migrate(&server.url("localhost", &format!("?sslmode=verify-ca&sslrootcert={}", ca.display()))));

    // libpq's require with a root certificate verifies the chain.
    connected(migrate(&server.url("localhost", &format!("?sslmode=require&sslrootcert={}", ca.display()))));
    let line = refused(migrate(&server.url("localhost", &format!("?sslmode=require&sslrootcert={}", other.display()))));
    assert!(line.contains("the PostgreSQL server's certificate is not trusted by sslrootcert"), "{line}");
    assert!(line.contains("sslmode=require with a root certificate verifies the chain"), "{line}");

    // verify-ca by an address the certificate does not name: libpq connects, but sqlx 0.8 on
    // rustls 0.23.24 or later checks the name anyway. Refused, and the message says so.
    let line = refused(migrate(&server.url("127.0.0.1", &format!("?sslmode=verify-ca&sslrootcert={}", ca.display()))));
    assert!(line.contains("the PostgreSQL server's certificate does not match the host name 127.0.0.1"), "{line}");
    assert!(line.contains("cannot skip the host name check"), "{line}");
}

#[test]
fn serve_does_not_start_on_an_untrusted_server() {
    let Some(server) = TlsServer::start(false) else { return };
    let other = server.ca("other-ca.pem");
    let url = server.url("localhost", &format!("?sslmode=verify-full&sslrootcert={}", other.display()));
    let (ok, stderr) = ctid(&["serve", "--listen", "127.0.0.1:0", "--database", &url]);
    assert!(!ok, "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    let line = refused((ok, stderr.clone()));
    assert!(line.contains("the PostgreSQL server's certificate is not trusted"), "{stderr}");
}

#[test]
fn require_is_refused_by_a_server_without_tls() {
    // The suite's own server (scripts/postgres) has no TLS: prefer, the default, connects in
    // plain text there (every other PostgreSQL test does), require does not.
    let Ok(admin) = std::env::var("CTID_TEST_POSTGRES") else { return };
    if backend() != Backend::Postgres {
        return;
    }
    let url = format!(
        "{}?sslmode=require",
        admin.replacen("postgres://postgres@", &format!("postgres://postgres:{PASSWORD}@"), 1)
    );
    let line = refused(migrate(&url));
    assert!(line.contains("does not offer TLS, and sslmode=require requires it"), "{line}");
}
