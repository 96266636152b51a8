//! Gate.io API v4: spot and USDT perpetual futures.
//!
//! The room holds everything Gate.io means, in the same files as every venue's room:
//! [`md`] (public frames and snapshots), [`feed`] (subscriptions, snapshot routes, pings),
//! [`meta`] (instrument metadata routes and parsing), [`symbols`] (how pairs are spelled),
//! [`sign`] (request signing), [`orders`] (order entry: REST, and the choice of
//! [`ws_api`], order entry over the WebSocket trading API), [`private`] (private streams and account state), and
//! the default endpoints below.

pub mod feed;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod md;
pub mod meta;
pub mod orders;
pub mod private;
pub mod sign;
pub mod symbols;
pub mod ws_api;

use pipeline::types::Venue;

use crate::venues::endpoints::Endpoints;

/// Gate.io's public endpoints.
pub fn endpoints() -> Endpoints {
    Endpoints {
        venue: Venue::GateIo,
        rest: "https://api.gateio.ws".into(),
        rest_futures: None,
        ws_spot: "wss://api.gateio.ws/ws/v4/".into(),
        ws_futures: "wss://fx-ws.gateio.ws/v4/ws/usdt".into(),
    }
}
