//! All I/O and venue formats.
//!
//! - [`net`]: the network edge: TLS configuration, a non-blocking WebSocket client and a
//!   non-blocking HTTP/1.1 keep-alive client, all driven by one `mio::Poll` per I/O thread.
//! - [`auth`]: API credentials and the keyed hashes requests are signed with.
//! - [`venues`]: a room per venue holding everything it means (market data, feed
//!   subscriptions, metadata, symbols, signing, order entry, private streams, endpoint
//!   defaults), and [`venues::VenueMarket`], the one place that picks a room.
//! - [`json`], [`proto`], [`decode`]: the zero-copy readers and decoding helpers the
//!   venues' decoders share.
//! - [`capture`]: recorded venue messages; [`feed`]: the sources the md stage polls.
//! - [`orders`]: the venue-neutral side of order entry (tracker, pending requests, the
//!   router) that makes the venues' clients one `OrderSink`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod capture;
pub mod decode;
pub mod feed;
pub mod json;
pub mod net;
pub mod orders;
pub mod proto;
pub mod venues;
