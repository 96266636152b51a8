//! All I/O and venue formats.
//!
//! - [`net`]: the network edge: TLS configuration, a non-blocking WebSocket client and a
//!   non-blocking HTTP/1.1 keep-alive client, all driven by one `mio::Poll` per I/O thread.
//! - [`auth`]: API credentials and the keyed hashes requests are signed with.
//! - [`venues`]: each venue's wire formats: market data, metadata, signing, orders.
//! - [`json`], [`proto`]: the zero-copy readers the decoders use.
//! - [`capture`]: recorded venue messages; [`feed`]: the sources the md stage polls.
//! - [`orders`]: the real venues' order entry and private streams as an `OrderSink`.
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
