//! How ctid connects to PostgreSQL: the connection options every connection uses (the store's
//! pool and the event log's), with `sslmode` and `sslrootcert` read as libpq reads them, and the
//! start-up errors a failed TLS connection turns into.
//!
//! libpq's rules kept here: `prefer` is the default; `verify-ca` and `verify-full` need a root
//! certificate (`sslrootcert=FILE`, else `~/.postgresql/root.crt`, or `sslrootcert=system` for the
//! system's trusted CAs); `require` with a root certificate verifies the chain as `verify-ca` does.
//! `allow` is refused: the driver would never try TLS with it.

use std::fmt;
use std::path::PathBuf;

use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use url::Url;

/// `sslmode`, as the URL (or `PGSSLMODE`) gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            "allow" => {
                Err("sslmode=allow is not supported: use prefer (TLS when the server offers it) or disable".into())
            }
            _ => Err(format!(
                "unknown sslmode {text:?}: use disable, prefer (the default), require, verify-ca or verify-full"
            )),
        }
    }

    fn driver(self) -> PgSslMode {
        match self {
            Self::Disable => PgSslMode::Disable,
            Self::Prefer => PgSslMode::Prefer,
            Self::Require => PgSslMode::Require,
            Self::VerifyCa => PgSslMode::VerifyCa,
            Self::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        })
    }
}

/// The CAs the server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// `sslrootcert=FILE`, or libpq's default `~/.postgresql/root.crt` when it exists.
    File(PathBuf),
    /// `sslrootcert=system`: the system's trusted CAs.
    System,
}

impl fmt::Display for RootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "sslrootcert {}", path.display()),
            Self::System => f.write_str("the system's trusted CAs (sslrootcert=system)"),
        }
    }
}

/// The TLS settings of the connections, for start-up messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// As configured.
    pub mode: SslMode,
    /// What the connections do: `require` with a root certificate is `verify-ca`.
    pub effective: SslMode,
    pub root: Option<RootCert>,
    pub host: String,
}

/// The options of every connection to the database at `url`, and their TLS settings.
pub fn connect_options(url: &str) -> Result<(PgConnectOptions, Tls), String> {
    let mut parsed = Url::parse(url).map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
    let mut mode = std::env::var("PGSSLMODE").ok().filter(|m| !m.is_empty());
    let mut root = std::env::var("PGSSLROOTCERT").ok().filter(|r| !r.is_empty());
    let from_env = root.is_some();
    let mut root_in_url = false;
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "sslmode" | "ssl-mode" => mode = Some(value.into_owned()),
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => {
                root = Some(value.into_owned());
                root_in_url = true;
            }
            _ => {}
        }
    }
    let mode = mode.as_deref().map_or(Ok(SslMode::Prefer), SslMode::parse)?;
    let root = match root.as_deref() {
        Some("system") if from_env && !root_in_url => {
            return Err("PGSSLROOTCERT=system is not supported: put sslrootcert=system in the database URL".into());
        }
        Some("system") => Some(RootCert::System),
        Some(path) => Some(RootCert::File(PathBuf::from(path))),
        None => default_root_cert().map(RootCert::File),
    };
    let effective = match (mode, &root) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(format!(
                "sslmode={mode} needs the certificate of the CA that signed the PostgreSQL server's: \
                 add sslrootcert=FILE to the database URL (or sslrootcert=system for the system's trusted CAs)"
            ));
        }
        _ => mode,
    };
    if let (false, Some(RootCert::File(path))) = (effective == SslMode::Disable, &root) {
        check_root_cert(path)?;
    }
    // The driver reads sslrootcert as a file name: "system" means its built-in store, which it
    // always trusts, so the parameter goes.
    if root == Some(RootCert::System) {
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| !matches!(&**k, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.set_query(None);
        if !kept.is_empty() {
            parsed.query_pairs_mut().extend_pairs(kept);
        }
    }
    let mut options = PgConnectOptions::from_url(&parsed).map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
    options = options.ssl_mode(effective.driver());
    if let Some(RootCert::File(path)) = &root {
        options = options.ssl_root_cert(path);
    }
    if options.get_application_name().is_none() {
        options = options.application_name("ctid");
    }
    let host = options.get_host().to_string();
    Ok((options, Tls { mode, effective, root, host }))
}

/// libpq's default root certificate, `~/.postgresql/root.crt`, when it exists.
fn default_root_cert() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let path = PathBuf::from(home).join(".postgresql").join("root.crt");
    path.is_file().then_some(path)
}

fn check_root_cert(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
    if !text.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!("sslrootcert {} holds no PEM certificate", path.display()));
    }
    Ok(())
}

/// A TLS handshake that failed (the server's certificate, a protocol error): trying again
/// cannot help.
pub fn is_tls_failure(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => rustls_error(io).is_some(),
        _ => false,
    }
}

fn rustls_error(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

impl Tls {
    /// What an operator needs to read when the first connection fails because of TLS, or
    /// `None` when the failure has nothing to do with it.
    pub fn explain(&self, err: &sqlx::Error) -> Option<String> {
        match err {
            sqlx::Error::Io(io) => rustls_error(io).map(|e| self.explain_tls(e)),
            sqlx::Error::Tls(inner) => Some(match inner.downcast_ref::<rustls::Error>() {
                Some(e) => self.explain_tls(e),
                None if inner.to_string().contains("does not support TLS") => format!(
                    "the PostgreSQL server at {} does not offer TLS, and sslmode={} requires it",
                    self.host, self.mode
                ),
                None => format!("TLS with the PostgreSQL server at {} failed: {inner}", self.host),
            }),
            sqlx::Error::Database(db)
                if self.effective == SslMode::Disable
                    && db.code().as_deref() == Some("28000")
                    && db.message().contains("no encryption") =>
            {
                Some(format!(
                    "the PostgreSQL server refuses connections without TLS, and sslmode=disable asks for one: {}",
                    db.message()
                ))
            }
            _ => None,
        }
    }

    fn explain_tls(&self, err: &rustls::Error) -> String {
        use rustls::CertificateError as C;
        let trusted_by = self.root.as_ref().map_or_else(|| "no root certificate".to_string(), ToString::to_string);
        let how = if self.mode == self.effective {
            format!("sslmode={}", self.mode)
        } else {
            format!("sslmode={} with a root certificate verifies the chain, as libpq does", self.mode)
        };
        match err {
            rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })
                if self.effective == SslMode::VerifyCa =>
            {
                format!(
                    "the PostgreSQL server's certificate does not match the host name {}: {err}; \
                     {} leaves the name out, but this build cannot skip the host name \
                     check (sqlx 0.8 on rustls 0.23.24 or later, sqlx issue #3793): connect by a name \
                     the certificate holds, with sslmode=verify-full",
                    self.host,
                    if self.mode == SslMode::VerifyCa {
                        "sslmode=verify-ca"
                    } else {
                        "sslmode=require with a root certificate (verify-ca, as libpq does)"
                    }
                )
            }
            rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                format!("the PostgreSQL server's certificate does not match the host name {} ({how}): {err}", self.host)
            }
            rustls::Error::InvalidCertificate(
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
            ) => format!("the PostgreSQL server's certificate is out of its validity period ({how}): {err}"),
            rustls::Error::InvalidCertificate(_) => {
                format!("the PostgreSQL server's certificate is not trusted by {trusted_by} ({how}): {err}")
            }
            _ => format!("TLS with the PostgreSQL server at {} failed ({how}): {err}", self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> Result<Tls, String> {
        connect_options(url).map(|(_, tls)| tls)
    }

    #[test]
    fn prefer_is_the_default() {
        let tls = tls("postgres://ctid:pw@db/ctid").expect("valid");
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(tls.effective, SslMode::Prefer);
    }

    #[test]
    fn verifying_modes_need_a_root_certificate() {
        let err = tls("postgres://ctid:pw@db/ctid?sslmode=verify-full").expect_err("no root certificate");
        assert!(err.contains("sslmode=verify-full needs") && err.contains("sslrootcert=FILE"), "{err}");
        let system = tls("postgres://db/ctid?sslmode=verify-ca&sslrootcert=system").expect("system store");
        assert_eq!(system.root, Some(RootCert::System));
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n").expect("write");
        let tls = tls(&format!("postgres://db/ctid?sslmode=require&sslrootcert={}", ca.display())).expect("valid");
        assert_eq!((tls.mode, tls.effective), (SslMode::Require, SslMode::VerifyCa));
        assert_eq!(tls.root, Some(RootCert::File(ca)));
    }

    #[test]
    fn a_missing_root_certificate_is_named() {
        let err = tls("postgres://db/ctid?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").expect_err("missing");
        assert!(err.starts_with("cannot read sslrootcert /nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn allow_and_unknown_modes_are_refused() {
        assert!(tls("postgres://db/ctid?sslmode=allow").expect_err("allow").contains("not supported"));
        assert!(tls("postgres://db/ctid?sslmode=on").expect_err("unknown").contains("unknown sslmode"));
    }
}
