//! The client's address when tessera runs behind proxies (nginx, a load balancer): the peer of
//! the connection is then the proxy, and the client is in `X-Forwarded-For`. That header is
//! believed only from the proxies the operator names; from anyone else it is ignored, or a
//! client could pick the address that lockouts count and ArcGIS tokens are bound to.
//!
//! A middleware puts the resolved address in place of the connection's, so every door sees
//! the client through the same `ConnectInfo` it already reads.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the right (the entry the
    /// nearest proxy added) past trusted proxies, the first address that is not one. A
    /// malformed entry ends the walk: nothing left of it can be believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) => client = address,
                Err(_) => break,
            }
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

pub async fn resolve(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = trusted.client(peer.ip(), request.headers());
        if client != peer.ip() {
            // The client's port is unknown; the proxy's would mislead.
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, 0)));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]);
        let client = |peer: &str, values: &[&str]| trusted.client(ip(peer), &headers(values));
        // An untrusted peer's header is ignored.
        assert_eq!(client("192.0.2.1", &["203.0.113.9"]), ip("192.0.2.1"));
        // A trusted proxy: the client it names.
        assert_eq!(client("127.0.0.1", &["203.0.113.9"]), ip("203.0.113.9"));
        // A client's own forged entries are left of the first untrusted address.
        assert_eq!(
            client("127.0.0.1", &["1.2.3.4, 203.0.113.9, 10.1.2.3"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client("127.0.0.1", &["1.2.3.4", "203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last address believed.
        assert_eq!(client("127.0.0.1", &["203.0.113.9, junk"]), ip("127.0.0.1"));
        assert_eq!(client("127.0.0.1", &["junk, 10.9.9.9"]), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(client("127.0.0.1", &[]), ip("127.0.0.1"));
        // IPv4-mapped IPv6 peers count as their IPv4 address.
        assert_eq!(
            client("::ffff:127.0.0.1", &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Nobody trusted: nothing believed.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), &headers(&["203.0.113.9"])),
            ip("127.0.0.1")
        );
    }
}
