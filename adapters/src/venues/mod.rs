//! Each venue's room, and the one place that picks a room for a (venue, market).
//!
//! A room (`gateio/`, `mexc/`) holds everything its venue means, in the same files in
//! every room: `md` (public frames and snapshots decoded to events), `feed`
//! (subscriptions, snapshot routes, pings), `meta` (instrument metadata routes and
//! parsing), `symbols` (how a pair is spelled), `sign` (request signing), `orders` (order
//! entry), `private` (private streams and the account state they carry), and the
//! default endpoints in its `mod.rs`. When a venue changes its API, the change and the
//! recorded-frame tests that show it live in its room.
//!
//! [`VenueMarket`] names one of the four markets and answers, for it, what every caller
//! needs: the symbol spelling, the metadata route, the feed's subscriptions and snapshot
//! paths, its ping, a decoder ([`MdDecoder`]) and an order client ([`OrderClient`]).
//! Callers never match on (venue, market) themselves.

pub mod decoder;
pub mod endpoints;
pub mod gateio;
pub mod meta_json;
pub mod mexc;
pub mod order_client;
pub mod venue_market;

pub use decoder::MdDecoder;
pub use endpoints::Endpoints;
pub use gateio::feed::GateDepth;
pub use meta_json::{MetaError, Volume24h};
pub use venue_market::{FeedOptions, VenueMarket};
