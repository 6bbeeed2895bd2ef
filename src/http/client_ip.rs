//! The address a request comes from, for throttling and logs.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::AppState;

/// The client's address: the peer, or, behind `--trusted-proxy` peers, the nearest
/// `X-Forwarded-For` hop that is not itself a trusted proxy. Hops further left were written
/// by the client and prove nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(Self(peer.map(|peer| resolve(peer, &parts.headers, &state.trusted_proxies))))
    }
}

fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or_default().split(','))
        .map(|hop| hop.trim().parse().ok())
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if trusted.contains(&ip) => client = ip,
            Some(ip) => return ip,
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().expect("header"));
        }
        map
    }

    #[test]
    fn forwarded_hops_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let client: IpAddr = [192, 0, 2, 7].into();
        let spoofed = headers(&["203.0.113.9"]);
        assert_eq!(resolve(client, &spoofed, &[proxy]), client, "an untrusted peer is the client");
        assert_eq!(resolve(proxy, &headers(&["192.0.2.7"]), &[proxy]), client);
        assert_eq!(resolve(proxy, &headers(&["203.0.113.9, 192.0.2.7"]), &[proxy]), client, "the nearest hop wins");
        assert_eq!(resolve(proxy, &headers(&["203.0.113.9", "192.0.2.7, 10.0.0.1"]), &[proxy]), client);
        assert_eq!(resolve(proxy, &HeaderMap::new(), &[proxy]), proxy);
        assert_eq!(resolve(proxy, &headers(&["garbage"]), &[proxy]), proxy);
        assert_eq!(resolve(proxy, &headers(&["garbage, 192.0.2.7"]), &[proxy]), client);
    }
}
