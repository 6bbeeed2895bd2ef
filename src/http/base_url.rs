//! The absolute base URL of a request (`https://xivoserver`), for links.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::AppState;

/// The scheme a listener serves, set as a request extension by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// `scheme://host[:port]` of the request, as the client addressed the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Is `host` a plausible `Host` value (name or address, optional port)?
fn valid_host(host: &str) -> bool {
    !host.is_empty() && host.len() <= 255 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(value.split(',').next()?.trim().to_string())
}

impl<S> FromRequestParts<S> for BaseUrl
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let mut scheme = parts.extensions.get::<Scheme>().copied().unwrap_or(Scheme::Http).as_str().to_string();
        let mut host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()));
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if peer.is_some_and(|ip| state.trusted_proxies.contains(&ip)) {
            if let Some(proto) = first_value(&parts.headers, "x-forwarded-proto")
                && (proto == "http" || proto == "https")
            {
                scheme = proto;
            }
            if let Some(forwarded) = first_value(&parts.headers, "x-forwarded-host") {
                host = Some(forwarded);
            }
        }
        let host = host.filter(|h| valid_host(h)).unwrap_or_else(|| state.server_name.to_string());
        Ok(Self(format!("{scheme}://{host}")))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_host;

    #[test]
    fn host_values_are_checked() {
        assert!(valid_host("xivoserver"));
        assert!(valid_host("127.0.0.1:8018"));
        assert!(valid_host("[::1]:8018"));
        assert!(!valid_host("evil/\"><"));
        assert!(!valid_host(""));
    }
}
