//! What the MEXC public feeds subscribe to and where their snapshots come from.
//!
//! Spot (v3, protobuf pushes): `spot@public.aggre.depth.v3.api.pb@<interval>@<symbol>`
//! and `spot@public.aggre.bookTicker.v3.api.pb@<interval>@<symbol>`, synced against a
//! REST `/api/v3/depth` snapshot. MEXC allows at most [`TOPICS_PER_CONNECTION`] topics on
//! one spot connection, and acknowledges a subscription by echoing its topic in `msg`: an
//! acknowledgement that echoes something else is a refusal. Futures: `sub.depth` (merged
//! pushes, compressed) synced against `/api/v1/contract/depth/<symbol>`. MEXC closes every
//! connection after 24 hours; the client reconnects before ([`MAX_SESSION`]).

use std::time::Duration;

use pipeline::types::{InstrumentId, Market};

use crate::feed::topic::Subscription;
use crate::net::ws::AppPing;

/// Most topics MEXC allows on one spot connection.
pub const TOPICS_PER_CONNECTION: usize = 30;

/// Messages per second MEXC allows a spot WebSocket client ("100 times/s", its scope
/// not stated: taken per IP, so connections open one after another, each sending its
/// subscriptions in a share of that second).
pub const SPOT_MESSAGES_PER_S: u32 = 100;

/// REST depth snapshots per second this client allows itself: spot `/api/v3/depth`
/// (weight 1) shares MEXC's 500 per 10 s per endpoint and IP; futures
/// `/api/v1/contract/depth` allows 20 per 2 s. Both at 80%, leaving room for other
/// clients of the same IP.
pub const SPOT_SNAPSHOTS_PER_S: u32 = 40;
pub const FUTURES_SNAPSHOTS_PER_S: u32 = 8;

/// Sessions are renewed before MEXC's 24-hour cut.
pub const MAX_SESSION: Duration = Duration::from_secs(23 * 3600);

/// `{"method":"PING"}`, answered by `{"id":0,"code":0,"msg":"PONG"}`.
pub const SPOT_PING: AppPing =
    AppPing { message: |_, out| out.push_str(r#"{"method":"PING"}"#), pong_marker: r#""msg":"PONG""# };

/// `{"method":"ping"}`, answered by `{"channel":"pong","data":<ms>}`.
pub const FUTURES_PING: AppPing =
    AppPing { message: |_, out| out.push_str(r#"{"method":"ping"}"#), pong_marker: r#""channel":"pong""# };

/// The application ping of a market's WebSocket (public and private alike).
pub fn ping(market: Market) -> AppPing {
    match market {
        Market::Spot => SPOT_PING,
        Market::Futures => FUTURES_PING,
    }
}

/// The subscriptions of one instrument; `interval` is the spot push interval (`10ms` or
/// `100ms`).
pub fn subscriptions(market: Market, symbol: &str, inst: InstrumentId, interval: &str) -> Vec<Subscription> {
    match market {
        Market::Spot => [
            format!("spot@public.aggre.depth.v3.api.pb@{interval}@{symbol}"),
            format!("spot@public.aggre.bookTicker.v3.api.pb@{interval}@{symbol}"),
        ]
        .into_iter()
        .map(|topic| Subscription {
            inst,
            message: format!(r#"{{"method":"SUBSCRIPTION","params":["{topic}"]}}"#),
            topic,
        })
        .collect(),
        Market::Futures => vec![Subscription {
            inst,
            topic: symbol.to_owned(),
            message: format!(r#"{{"method":"sub.depth","param":{{"symbol":"{symbol}","compress":true}}}}"#),
        }],
    }
}

/// The message that ends a subscription made with `message` (one of [`subscriptions`]):
/// `UNSUBSCRIPTION` on spot, `unsub.<channel>` on futures.
pub fn unsubscribe(market: Market, message: &str) -> String {
    match market {
        Market::Spot => message.replacen(r#""SUBSCRIPTION""#, r#""UNSUBSCRIPTION""#, 1),
        Market::Futures => message.replacen(r#""method":"sub."#, r#""method":"unsub."#, 1),
    }
}

/// REST snapshots per second, and how many may go at once after a quiet spell.
pub fn snapshot_rate(market: Market) -> (u32, u32) {
    match market {
        Market::Spot => (SPOT_SNAPSHOTS_PER_S, 10),
        Market::Futures => (FUTURES_SNAPSHOTS_PER_S, 4),
    }
}

/// Whether an acknowledgement must echo the subscribed topic to count as a success.
pub fn ack_echoes_topic(market: Market) -> bool {
    market == Market::Spot
}

/// The REST order-book snapshot request of a symbol (path and query, after the origin).
pub fn snapshot_path(market: Market, symbol: &str, limit: u32) -> String {
    match market {
        Market::Spot => format!("/api/v3/depth?symbol={symbol}&limit={limit}"),
        Market::Futures => format!("/api/v1/contract/depth/{symbol}"),
    }
}

/// The market and symbol a REST order-book request path names
/// (`/api/v3/depth?symbol=BTCUSDT&...`, `/api/v1/contract/depth/BTC_USDT`).
pub fn snapshot_target(path: &str) -> Option<(Market, &str)> {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if route.ends_with("/api/v3/depth") {
        let s = query.split('&').find_map(|kv| kv.strip_prefix("symbol="))?;
        Some((Market::Spot, s))
    } else {
        let s = route.split("/api/v1/contract/depth/").nth(1)?;
        Some((Market::Futures, s.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ws::Payload;

    #[test]
    fn ping_messages_and_pongs_from_the_venue_docs() {
        assert_eq!(SPOT_PING.message(0), r#"{"method":"PING"}"#);
        assert_eq!(FUTURES_PING.message(0), r#"{"method":"ping"}"#);
        let t = Payload::Text;
        assert!(SPOT_PING.is_pong(&t(r#"{"id":0,"code":0,"msg":"PONG"}"#)));
        assert!(FUTURES_PING.is_pong(&t(r#"{"channel":"pong","data":1587453241453}"#)));
        assert!(!SPOT_PING.is_pong(&Payload::Binary(b"PONG")));
    }

    #[test]
    fn snapshot_paths_read_back() {
        assert_eq!(
            snapshot_target(&snapshot_path(Market::Spot, "ETHBTC", 100)),
            Some((Market::Spot, "ETHBTC"))
        );
        assert_eq!(
            snapshot_target(&snapshot_path(Market::Futures, "BTC_USDT", 100)),
            Some((Market::Futures, "BTC_USDT"))
        );
        assert_eq!(snapshot_target("/api/v3/ticker/price?symbol=BTCUSDT"), None);
    }

    #[test]
    fn spot_subscriptions_fit_a_connection_by_pairs() {
        let s = subscriptions(Market::Spot, "BTCUSDT", InstrumentId(1), "10ms");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].topic, "spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT");
        assert_eq!(
            s[0].message,
            r#"{"method":"SUBSCRIPTION","params":["spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT"]}"#
        );
        assert_eq!(TOPICS_PER_CONNECTION % s.len(), 0);
        let f = subscriptions(Market::Futures, "BTC_USDT", InstrumentId(2), "10ms");
        assert_eq!(f[0].message, r#"{"method":"sub.depth","param":{"symbol":"BTC_USDT","compress":true}}"#);
    }
}
