//! Simulated Gate.io: REST v4 (spot and USDT futures), the spot and futures public and
//! private WebSocket channels, and the WebSocket trading API, with Gate's paths, field
//! names, JSON types and error labels (protocols.md D, E, F; adapters/test_data/gateio).
//!
//! Shapes follow the recorded messages: spot decimals as strings; futures sizes as JSON
//! integers in `order_book_update`, `book_ticker` and REST books but strings in `obu`;
//! futures order pushes with numeric prices and a string `user`; REST futures times as
//! float seconds.
//!
//! The rooms: `rest` (the router) with `market`, `account` and `trading` (one
//! function per route); `orders` (order bodies and refusals, shared with the trading
//! API); `json` (the shapes); `ws` (sessions and subscriptions), `push` (events to
//! pushes) and `api` (the WebSocket trading API).

mod account;
mod api;
mod json;
mod market;
mod orders;
mod push;
mod rest;
mod trading;
mod ws;

use std::sync::Arc;

use crate::server::{Stream, serve_http};
use crate::venue::VenueCtx;

pub use rest::rest;
pub use ws::serve_ws;

/// Serves Gate REST on one connection.
pub fn serve_rest(ctx: Arc<VenueCtx>, stream: Stream) {
    serve_http(stream, &ctx.stop.clone(), &|r| rest(&ctx, r));
}
