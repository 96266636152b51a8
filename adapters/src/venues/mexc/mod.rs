//! MEXC: spot v3 (protobuf WebSocket) and USDT perpetual futures (contract API).
//!
//! The room holds everything MEXC means, in the same files as every venue's room:
//! [`md`] (public frames and snapshots), [`feed`] (subscriptions, snapshot routes, pings),
//! [`meta`] (instrument metadata routes and parsing), [`symbols`] (how pairs are spelled),
//! [`sign`] (request signing), [`orders`] (order entry), [`private`] (private streams and
//! account state), and the default endpoints below.

pub mod feed;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod md;
pub mod meta;
pub mod orders;
pub mod private;
pub mod sign;
pub mod symbols;

use pipeline::types::Venue;

use crate::venues::endpoints::Endpoints;

/// MEXC's public endpoints (futures on their own origin).
pub fn endpoints() -> Endpoints {
    Endpoints {
        venue: Venue::Mexc,
        rest: "https://api.mexc.com".into(),
        rest_futures: Some("https://contract.mexc.com".into()),
        ws_spot: "wss://wbs-api.mexc.com/ws".into(),
        ws_futures: "wss://contract.mexc.com/edge".into(),
    }
}
