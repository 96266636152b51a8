//! The parts of a `ws://`, `wss://`, `http://` or `https://` URL a client needs: whether to
//! use TLS, the host to resolve and verify, the port, and the request target.

use std::fmt;

/// A parsed URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    /// Host as written, IPv6 literals without brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

/// A URL the clients cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad URL {url:?}: {reason}")]
pub struct EndpointError {
    pub url: String,
    pub reason: &'static str,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let err = |reason| EndpointError { url: url.to_owned(), reason };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| err("missing scheme"))?;
        let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => (false, 80),
            "wss" | "https" => (true, 443),
            _ => return Err(err("scheme must be ws, wss, http or https")),
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let target = target.split('#').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(err("user info is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| err("unclosed IPv6 literal"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| err("junk after IPv6 literal"))?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("empty host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p.parse().map_err(|_| err("bad port"))?,
        };
        let target = if target.starts_with('/') { target.to_owned() } else { format!("/{target}") };
        Ok(Endpoint { tls, host: host.to_owned(), port, target })
    }

    /// `host[:port]` as sent in the `Host` header (port omitted when it is the default).
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", if self.tls { "tls" } else { "tcp" }, self.authority(), self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_venue_urls() {
        let e = Endpoint::parse("wss://api.gateio.ws/ws/v4/").unwrap();
        assert_eq!(
            (e.tls, e.host.as_str(), e.port, e.target.as_str()),
            (true, "api.gateio.ws", 443, "/ws/v4/")
        );
        let e = Endpoint::parse("wss://wbs-api.mexc.com/ws?listenKey=abc").unwrap();
        assert_eq!(e.target, "/ws?listenKey=abc");
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (e.tls, e.port, e.target.as_str(), e.authority().as_str()),
            (false, 8080, "/", "127.0.0.1:8080")
        );
        let e = Endpoint::parse("ws://[::1]:9000/x#frag").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.target.as_str()), ("::1", 9000, "/x"));
        assert_eq!(e.authority(), "[::1]:9000");
        assert_eq!(Endpoint::parse("https://h").unwrap().authority(), "h");
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        for bad in ["api.gateio.ws", "ftp://x", "wss://", "wss://h:99999", "wss://u@h", "ws://[::1"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
