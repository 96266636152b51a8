//! Simulated MEXC: spot REST v3 and futures (contract) REST on one origin, the spot
//! WebSocket in protobuf (`PushDataV3ApiWrapper` binary frames, JSON text acks, listen
//! keys for the private channels) and the futures WebSocket in JSON (protocols.md A, B,
//! C; adapters/test_data/mexc).
//!
//! Futures positions are one-way (net), not MEXC's default hedge mode: `positionType`
//! follows the sign of the net position.
//!
//! The rooms: `rest` (the routers) with `market`, `account` and `trading` (one
//! function per route); `orders` (order parameters and refusals); `json` (the shapes
//! and codes); `spot_ws` and `futures_ws` (the two WebSocket servers).

mod account;
mod futures_ws;
mod json;
mod market;
mod orders;
mod rest;
mod spot_ws;
mod trading;

use std::sync::Arc;

use crate::server::{Stream, serve_http};
use crate::venue::VenueCtx;

pub use futures_ws::serve_futures_ws;
pub use rest::rest;
pub use spot_ws::serve_spot_ws;

/// Serves MEXC REST on one connection.
pub fn serve_rest(ctx: Arc<VenueCtx>, stream: Stream) {
    serve_http(stream, &ctx.stop.clone(), &|r| rest(&ctx, r));
}
