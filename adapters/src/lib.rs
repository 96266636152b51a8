//! All I/O and venue formats.
//!
//! - [`net`]: the network edge: TLS configuration, a non-blocking WebSocket client and a
//!   non-blocking HTTP/1.1 keep-alive client, all driven by one `mio::Poll` per I/O thread.
//! - [`auth`]: API credentials and the keyed hashes requests are signed with.
//! - [`venues`]: each venue's wire formats and signing.
#![forbid(unsafe_code)]

pub mod auth;
pub mod net;
pub mod venues;
