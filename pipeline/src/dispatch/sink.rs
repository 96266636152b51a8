//! The order sink: what dispatch needs from a venue connection.
//!
//! The `adapters` crate implements [`OrderSink`] for the real venues (REST or WebSocket
//! order entry, signed), usually as one sink that routes by the instrument's venue to an
//! enum of venue clients; [`super::PaperSink`] implements it against live books.
//!
//! The contract keeps the hot path non-blocking and allocation-free:
//! - `submit`, `cancel`, `query`... only *start* a request: encode it into a buffer the
//!   sink owns and write what the socket takes now; they never wait for the answer.
//!   Every answer (ack, reject, fill, status, balance) comes back through `poll`.
//! - An `Err(SinkError::NotSent(_))` promises the request never left the process (the
//!   connection was down before the write, a local check failed): the order cannot
//!   fill. Anything that *may* have reached the venue is `Ok` (or `Unknown` when the write
//!   itself failed midway): its outcome then arrives through `poll`, and a request
//!   nobody answers is reported by the sink as [`OrderUpdate::Unknown`] after its own
//!   timeout, never silently dropped. A 5xx is `Unknown` too (MEXC documents it as
//!   "execution status unknown").
//! - `poll` hands over at most `max` events, oldest first, and keeps the rest.
//! - Orders carry their [`ClientOrderId`] to the venue (Gate `text`, MEXC
//!   `clientOrderId`), so fills and queries can always be matched to op, leg and attempt.
//!
//! [`OrderUpdate::Unknown`]: crate::msg::OrderUpdate::Unknown

use crate::journal::TimeInForce;
use crate::msg::{ClientOrderId, RejectReason, StateInput};
use crate::types::{InstrumentId, Market, Price, Qty, Side, Venue};

/// One order to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub venue: Venue,
    pub market: Market,
    pub side: Side,
    /// Limit price, on the instrument's tick.
    pub price: Price,
    /// Quantity on the lot (contracts for futures).
    pub qty: Qty,
    pub tif: TimeInForce,
    /// When dispatch handed it over (local ns).
    pub ts_ns: u64,
}

/// Why a request did not go out, or may not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkError {
    /// It never left the process; nothing can come of it.
    NotSent(RejectReason),
    /// It may have reached the venue: reconcile by query.
    Unknown,
}

/// A venue order-entry connection (or several, routed by venue).
pub trait OrderSink: Send {
    /// Starts sending an order.
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError>;

    /// Starts cancelling an order.
    fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError>;

    /// Starts cancelling every open order on every venue.
    fn cancel_all(&mut self) -> Result<(), SinkError>;

    /// Starts querying an order; the answer is an [`crate::msg::OrderUpdate::Status`]
    /// (or `Rejected(NotFound)` when the venue never saw it).
    fn query(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError>;

    /// Starts querying every balance on `venue`; the answers are balance events.
    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError>;

    /// True when the instrument's venue accepts fill-or-kill orders.
    fn supports_fok(&self, inst: InstrumentId) -> bool {
        let _ = inst;
        false
    }

    /// Hands over up to `max` events (acks, rejects, fills, statuses, balances), oldest
    /// first; returns how many.
    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize;

    /// Called once when the runner stops.
    fn stop(&mut self) {}
}
