//! What the Gate.io public feed subscribes to and where its snapshots come from.
//!
//! Depth is `*.obu` (order book v2, 50 levels every 20 ms: a full book on subscribe,
//! resync by unsubscribing and subscribing again) or `*.order_book_update` (deltas every
//! 100 ms, synced against a REST snapshot), configured by [`GateDepth`]; the best bid and
//! offer come from `*.book_ticker`. Each topic goes in its own message, so one refused
//! symbol cannot take others down. Requests carry the time in seconds (`{time}` in a
//! [`Subscription`]'s message). Both markets answer an application ping.

use pipeline::types::{InstrumentId, Market};
use serde::{Deserialize, Serialize};

use crate::feed::topic::Subscription;
use crate::net::ws::AppPing;

/// How Gate.io books are kept in sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDepth {
    /// `*.obu`, 50 levels every 20 ms: a full book on subscribe, resync by resubscribing.
    #[default]
    Obu,
    /// `*.order_book_update` every 100 ms, synced against REST snapshots.
    OrderBookUpdate,
}

impl GateDepth {
    /// Whether books are synced by REST snapshots (else by resubscribing).
    pub fn is_snapshot_synced(self) -> bool {
        self == GateDepth::OrderBookUpdate
    }
}

/// REST order-book snapshots per second this client allows itself: Gate allows 200
/// public requests per 10 s per endpoint and IP; 80% of that. Gate documents no limit of
/// subscriptions per WebSocket connection (only 300 connections per IP), so each market
/// takes one connection.
pub const SNAPSHOTS_PER_S: u32 = 16;

/// REST snapshots per second, and how many may go at once after a quiet spell.
pub fn snapshot_rate(_market: Market) -> (u32, u32) {
    (SNAPSHOTS_PER_S, 8)
}

/// `{"time":<s>,"channel":"spot.ping"}`, answered by `…"channel":"spot.pong"…`.
pub const SPOT_PING: AppPing = AppPing {
    message: |now_ms, out| {
        let _ = std::fmt::Write::write_fmt(
            out,
            format_args!(r#"{{"time":{},"channel":"spot.ping"}}"#, now_ms / 1000),
        );
    },
    pong_marker: r#""channel":"spot.pong""#,
};

/// `{"time":<s>,"channel":"futures.ping"}`, answered by `…"channel":"futures.pong"…`.
pub const FUTURES_PING: AppPing = AppPing {
    message: |now_ms, out| {
        let _ = std::fmt::Write::write_fmt(
            out,
            format_args!(r#"{{"time":{},"channel":"futures.ping"}}"#, now_ms / 1000),
        );
    },
    pong_marker: r#""channel":"futures.pong""#,
};

/// The application ping of a market's WebSocket (public and private alike).
pub fn ping(market: Market) -> AppPing {
    match market {
        Market::Spot => SPOT_PING,
        Market::Futures => FUTURES_PING,
    }
}

fn channel_prefix(market: Market) -> &'static str {
    match market {
        Market::Spot => "spot",
        Market::Futures => "futures",
    }
}

/// The order book v2 topic of a symbol.
fn obu_topic(symbol: &str) -> String {
    format!("ob.{symbol}.50")
}

/// The subscriptions of one instrument: depth and best bid/offer.
pub fn subscriptions(
    market: Market,
    symbol: &str,
    inst: InstrumentId,
    depth: GateDepth,
) -> Vec<Subscription> {
    let sub = |channel: &str, payload: String| Subscription {
        inst,
        topic: payload.trim_matches('"').split('"').next().unwrap_or(symbol).to_owned(),
        message: format!(
            r#"{{"time":{{time}},"channel":"{channel}","event":"subscribe","payload":[{payload}]}}"#
        ),
    };
    let prefix = channel_prefix(market);
    let depth = match depth {
        GateDepth::Obu => sub(&format!("{prefix}.obu"), format!("\"{}\"", obu_topic(symbol))),
        GateDepth::OrderBookUpdate => {
            let payload = match market {
                Market::Spot => format!("\"{symbol}\",\"100ms\""),
                Market::Futures => format!("\"{symbol}\",\"100ms\",\"100\""),
            };
            sub(&format!("{prefix}.order_book_update"), payload)
        }
    };
    vec![depth, sub(&format!("{prefix}.book_ticker"), format!("\"{symbol}\""))]
}

/// The message that ends a subscription made with `message` (one of [`subscriptions`]).
pub fn unsubscribe(message: &str) -> String {
    message.replacen(r#""event":"subscribe""#, r#""event":"unsubscribe""#, 1)
}

/// The unsubscribe and subscribe messages that make Gate send a fresh full `obu` book.
pub fn resubscribe(market: Market, symbol: &str, now_s: u64) -> [String; 2] {
    let channel = format!("{}.obu", channel_prefix(market));
    let topic = obu_topic(symbol);
    ["unsubscribe", "subscribe"].map(|event| {
        format!(r#"{{"time":{now_s},"channel":"{channel}","event":"{event}","payload":["{topic}"]}}"#)
    })
}

/// The REST order-book snapshot request of a symbol (path and query, after the origin).
pub fn snapshot_path(market: Market, symbol: &str, limit: u32) -> String {
    match market {
        Market::Spot => format!("/api/v4/spot/order_book?currency_pair={symbol}&limit={limit}&with_id=true"),
        Market::Futures => {
            format!("/api/v4/futures/usdt/order_book?contract={symbol}&limit={limit}&with_id=true")
        }
    }
}

/// The market and symbol a REST order-book request path names
/// (`/api/v4/spot/order_book?currency_pair=BTC_USDT&...`,
/// `/api/v4/futures/usdt/order_book?contract=BTC_USDT&...`).
pub fn snapshot_target(path: &str) -> Option<(Market, &str)> {
    let (route, query) = path.split_once('?')?;
    let market = if route.ends_with("/spot/order_book") {
        Market::Spot
    } else if route.ends_with("/futures/usdt/order_book") {
        Market::Futures
    } else {
        return None;
    };
    let key = if market == Market::Spot { "currency_pair" } else { "contract" };
    query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')).map(|s| (market, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ws::Payload;

    #[test]
    fn ping_messages_and_pongs_from_the_venue_docs() {
        assert_eq!(SPOT_PING.message(1_545_404_023_123), r#"{"time":1545404023,"channel":"spot.ping"}"#);
        assert_eq!(FUTURES_PING.message(123_456_000), r#"{"time":123456,"channel":"futures.ping"}"#);
        let t = Payload::Text;
        assert!(SPOT_PING.is_pong(&t(
            r#"{"time":1545404023,"channel":"spot.pong","event":"","error":null,"result":null}"#
        )));
        assert!(FUTURES_PING.is_pong(&t(
            r#"{"time":1545404023,"time_ms":1545404023123,"channel":"futures.pong","event":"","result":null}"#
        )));
        assert!(!SPOT_PING.is_pong(&t(r#"{"channel":"spot.book_ticker","result":{}}"#)));
    }

    #[test]
    fn snapshot_paths_read_back() {
        for market in Market::ALL {
            let path = snapshot_path(market, "BTC_USDT", 100);
            assert_eq!(snapshot_target(&path), Some((market, "BTC_USDT")));
        }
        assert_eq!(snapshot_target("/api/v4/spot/tickers?currency_pair=BTC_USDT"), None);
    }

    #[test]
    fn subscriptions_name_their_topics() {
        let s = subscriptions(Market::Futures, "ETH_USDT", InstrumentId(3), GateDepth::Obu);
        assert_eq!(s[0].topic, "ob.ETH_USDT.50");
        assert_eq!(
            s[0].message,
            r#"{"time":{time},"channel":"futures.obu","event":"subscribe","payload":["ob.ETH_USDT.50"]}"#
        );
        assert_eq!(s[1].topic, "ETH_USDT");
        let s = subscriptions(Market::Spot, "BTC_USDT", InstrumentId(0), GateDepth::OrderBookUpdate);
        assert!(s[0].message.contains(r#""channel":"spot.order_book_update""#));
        assert!(s[0].message.contains(r#"["BTC_USDT","100ms"]"#));
        let [unsub, sub] = resubscribe(Market::Spot, "BTC_USDT", 9);
        assert_eq!(
            unsub,
            r#"{"time":9,"channel":"spot.obu","event":"unsubscribe","payload":["ob.BTC_USDT.50"]}"#
        );
        assert!(sub.contains(r#""event":"subscribe""#));
    }
}
