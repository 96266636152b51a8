//! Finding the engine's own orders on the venues, by client order id, at a restart.
//!
//! The journal's sync thread makes records durable a little after they are written, so
//! a host crash can lose the last records of the journal while their orders reached the
//! venues. Before trading resumes, the engine lists each instrument's recent orders on
//! its venue (open and finished: Gate.io `GET /spot/orders` and `/futures/usdt/orders`
//! with `status=open` and `status=finished`, MEXC `GET /api/v3/allOrders` and
//! `GET /api/v1/private/order/list/history_orders`) and keeps those whose client text is
//! one of ours (`t-<op>-<leg>-<attempt>`); the wiring compares them with the journal.
//!
//! Cold path only: run once at start, before the dispatch thread owns the sink.

use pipeline::msg::ClientOrderId;
use pipeline::types::{InstrumentId, Market, Price, Qty, Side, Venue};

/// One of our orders as a venue lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscoveredOrder {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    /// Limit price, on the instrument's tick.
    pub price: Price,
    /// Ordered quantity (contracts for futures).
    pub qty: Qty,
    /// The venue says it can still fill.
    pub open: bool,
}

/// What a discovery has found so far.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub found: Vec<DiscoveredOrder>,
    /// List requests not answered yet.
    pub pending: usize,
    /// Lists that could not be read, named (venue, market, symbol, why).
    pub failures: Vec<String>,
}

impl Discovery {
    /// A list request went out (`sent`) or could not be sent.
    pub fn requested(&mut self, sent: bool, venue: Venue, market: Market, symbol: &str) {
        if sent {
            self.pending += 1;
        } else {
            self.failures.push(format!("{venue} {market} {symbol}: the list request could not be sent"));
        }
    }

    /// A list came back; `orders` are ours among it.
    pub fn answered(&mut self, orders: impl IntoIterator<Item = DiscoveredOrder>) {
        self.pending = self.pending.saturating_sub(1);
        for o in orders {
            match self.found.iter_mut().find(|f| f.client == o.client && f.inst == o.inst) {
                // Listed open and finished (it ended between the two lists): finished.
                Some(f) => f.open &= o.open,
                None => self.found.push(o),
            }
        }
    }

    /// A list request failed.
    pub fn failed(&mut self, venue: Venue, market: Market, symbol: &str, why: impl std::fmt::Display) {
        self.pending = self.pending.saturating_sub(1);
        self.failures.push(format!("{venue} {market} {symbol}: {why}"));
    }
}
