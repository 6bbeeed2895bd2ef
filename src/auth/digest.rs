//! HTTP Digest authentication (RFC 7616 with MD5 and `qop=auth`, as XiVO clients speak it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq;

use super::random;

/// How long a nonce may be used.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Most nonces held at once; the oldest are dropped beyond it.
const MAX_NONCES: usize = 100_000;

/// The parameters of an `Authorization: Digest …` header.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestParams {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub algorithm: Option<String>,
}

/// Parses the part of the header after `Digest `. `None` when malformed.
pub fn parse(header: &str) -> Option<DigestParams> {
    let mut params = DigestParams::default();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?.1),
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end?;
            value = out;
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        let slot = match key.as_str() {
            "username" => &mut params.username,
            "realm" => &mut params.realm,
            "nonce" => &mut params.nonce,
            "uri" => &mut params.uri,
            "response" => &mut params.response,
            "qop" => params.qop.insert(String::new()),
            "nc" => params.nc.insert(String::new()),
            "cnonce" => params.cnonce.insert(String::new()),
            "algorithm" => params.algorithm.insert(String::new()),
            _ => continue,
        };
        *slot = value;
    }
    Some(params)
}

/// `MD5(username:realm:password)` in hex.
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{username}:{realm}:{password}"))
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The response a client computes for `qop=auth`.
pub fn expected_response(ha1: &str, method: &str, p: &DigestParams) -> String {
    let ha2 = md5_hex(&format!("{method}:{}", p.uri));
    md5_hex(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        p.nonce,
        p.nc.as_deref().unwrap_or_default(),
        p.cnonce.as_deref().unwrap_or_default()
    ))
}

/// Why a Digest answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestFailure {
    /// Malformed, wrong realm, wrong response or replayed count.
    Invalid,
    /// The nonce expired or is unknown: the client may retry with a fresh one.
    Stale,
}

struct NonceState {
    issued: Instant,
    last_count: u64,
}

/// Nonces handed out, with the highest request count seen for each.
#[derive(Default)]
pub struct NonceRegistry {
    nonces: Mutex<HashMap<String, NonceState>>,
}

impl NonceRegistry {
    /// A fresh nonce for a challenge.
    pub fn issue(&self) -> String {
        let nonce = random::hex_token(16);
        let now = Instant::now();
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if nonces.len() >= MAX_NONCES {
            nonces.retain(|_, s| now.duration_since(s.issued) < NONCE_LIFETIME);
            if nonces.len() >= MAX_NONCES {
                let oldest = nonces.iter().min_by_key(|(_, s)| s.issued).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    nonces.remove(&oldest);
                }
            }
        }
        nonces.insert(nonce.clone(), NonceState { issued: now, last_count: 0 });
        nonce
    }

    /// Checks a Digest answer for `method` and the request target `request_uri`, given the user's HA1.
    pub fn verify(
        &self,
        p: &DigestParams,
        realm: &str,
        method: &str,
        request_uri: &str,
        ha1: &str,
    ) -> Result<(), DigestFailure> {
        if p.realm != realm
            || p.qop.as_deref() != Some("auth")
            || p.algorithm.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case("MD5"))
            || p.uri != request_uri
            || p.cnonce.is_none()
        {
            return Err(DigestFailure::Invalid);
        }
        let count =
            p.nc.as_deref()
                .filter(|nc| nc.len() == 8)
                .and_then(|nc| u64::from_str_radix(nc, 16).ok())
                .ok_or(DigestFailure::Invalid)?;
        let expected = expected_response(ha1, method, p);
        if !bool::from(expected.as_bytes().ct_eq(p.response.to_ascii_lowercase().as_bytes())) {
            return Err(DigestFailure::Invalid);
        }
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let state = nonces.get_mut(&p.nonce).ok_or(DigestFailure::Stale)?;
        if state.issued.elapsed() >= NONCE_LIFETIME {
            nonces.remove(&p.nonce);
            return Err(DigestFailure::Stale);
        }
        if count <= state.last_count {
            return Err(DigestFailure::Invalid);
        }
        state.last_count = count;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(registry: &NonceRegistry, nc: &str) -> DigestParams {
        let nonce = registry.issue();
        signed(nonce, nc)
    }

    fn signed(nonce: String, nc: &str) -> DigestParams {
        let mut p = DigestParams {
            username: "admin".into(),
            realm: "XivoRealm".into(),
            nonce,
            uri: "/1.1/users".into(),
            qop: Some("auth".into()),
            nc: Some(nc.into()),
            cnonce: Some("abc".into()),
            ..DigestParams::default()
        };
        p.response = expected_response(&ha1("admin", "XivoRealm", "pw"), "GET", &p);
        p
    }

    #[test]
    fn parses_quoted_and_bare_values() {
        let p = parse(r#"username="ad\"min", realm="XivoRealm", nonce="n", uri="/1.1/users?a=1,2", qop=auth, nc=00000001, cnonce="c", response="r""#)
            .expect("parsed");
        assert_eq!(p.username, "ad\"min");
        assert_eq!(p.uri, "/1.1/users?a=1,2");
        assert_eq!(p.qop.as_deref(), Some("auth"));
        assert_eq!(p.nc.as_deref(), Some("00000001"));
        assert!(parse(r#"username="unterminated"#).is_none());
    }

    #[test]
    fn accepts_a_good_answer_once_per_count() {
        let registry = NonceRegistry::default();
        let ha1 = ha1("admin", "XivoRealm", "pw");
        let p = answer(&registry, "00000001");
        assert_eq!(registry.verify(&p, "XivoRealm", "GET", "/1.1/users", &ha1), Ok(()));
        assert_eq!(
            registry.verify(&p, "XivoRealm", "GET", "/1.1/users", &ha1),
            Err(DigestFailure::Invalid),
            "a replayed count is refused"
        );
        let next = signed(p.nonce, "00000002");
        assert_eq!(registry.verify(&next, "XivoRealm", "GET", "/1.1/users", &ha1), Ok(()));
    }

    #[test]
    fn refuses_wrong_password_uri_and_unknown_nonce() {
        let registry = NonceRegistry::default();
        let p = answer(&registry, "00000001");
        let wrong = ha1("admin", "XivoRealm", "other");
        assert_eq!(registry.verify(&p, "XivoRealm", "GET", "/1.1/users", &wrong), Err(DigestFailure::Invalid));
        let right = ha1("admin", "XivoRealm", "pw");
        assert_eq!(registry.verify(&p, "XivoRealm", "GET", "/1.1/other", &right), Err(DigestFailure::Invalid));
        let unknown = signed("feed".into(), "00000001");
        assert_eq!(registry.verify(&unknown, "XivoRealm", "GET", "/1.1/users", &right), Err(DigestFailure::Stale));
    }
}
