//! The network edge: everything between a venue's socket and the decoders.
//!
//! No async runtime: every client here is a plain struct whose sockets are registered in
//! a `mio::Poll` owned by the I/O thread that drives it, and whose `poll` method does a
//! bounded amount of non-blocking work. One thread can drive many clients.
//!
//! - [`tls`]: rustls client configuration (ring provider, always verified).
//! - [`handshake`]: rustls' handshake over a non-blocking socket, handing its keys over.
//! - [`records`]: TLS records opened and sealed in place after that handshake.
//! - [`ws`]: self-healing WebSocket client for feeds and the Gate order API.
//! - [`http`]: HTTP/1.1 keep-alive client for REST order entry and snapshots.
//! - [`backoff`]: jittered exponential backoff shared by both clients and their callers.

pub mod backoff;
mod dial;
pub mod endpoint;
pub mod handshake;
pub mod http;
pub mod records;
pub mod tls;
mod transport;
pub mod ws;
