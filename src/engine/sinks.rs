//! The order sinks the dispatcher can drive, behind one statically dispatched enum.

use pipeline::dispatch::{OrderRequest, OrderSink, PaperSink, SinkError};
use pipeline::msg::{ClientOrderId, StateInput};
use pipeline::types::{InstrumentId, Venue};

/// The dispatcher's sink: the paper venue (dry run), the real venues' order entry, or
/// the venues' real order bytes written to a loopback drain (`arb bench e2e`).
#[derive(Debug)]
pub enum EngineSink {
    Paper(Box<PaperSink>),
    Venue(Box<adapters::orders::VenueSink>),
    Wire(Box<super::wire::WireSink>),
}

impl OrderSink for EngineSink {
    fn submit(&mut self, order: &OrderRequest) -> Result<(), SinkError> {
        match self {
            EngineSink::Paper(s) => s.submit(order),
            EngineSink::Venue(s) => s.submit(order),
            EngineSink::Wire(s) => s.submit(order),
        }
    }

    fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        match self {
            EngineSink::Paper(s) => s.cancel(client, inst),
            EngineSink::Venue(s) => s.cancel(client, inst),
            EngineSink::Wire(s) => s.cancel(client, inst),
        }
    }

    fn cancel_all(&mut self) -> Result<(), SinkError> {
        match self {
            EngineSink::Paper(s) => s.cancel_all(),
            EngineSink::Venue(s) => s.cancel_all(),
            EngineSink::Wire(s) => s.cancel_all(),
        }
    }

    fn query(&mut self, client: ClientOrderId, inst: InstrumentId) -> Result<(), SinkError> {
        match self {
            EngineSink::Paper(s) => s.query(client, inst),
            EngineSink::Venue(s) => s.query(client, inst),
            EngineSink::Wire(s) => s.query(client, inst),
        }
    }

    fn query_balances(&mut self, venue: Venue) -> Result<(), SinkError> {
        match self {
            EngineSink::Paper(s) => s.query_balances(venue),
            EngineSink::Venue(s) => s.query_balances(venue),
            EngineSink::Wire(s) => s.query_balances(venue),
        }
    }

    fn supports_fok(&self, inst: InstrumentId) -> bool {
        match self {
            EngineSink::Paper(s) => s.supports_fok(inst),
            EngineSink::Venue(s) => s.supports_fok(inst),
            EngineSink::Wire(s) => s.supports_fok(inst),
        }
    }

    fn poll(&mut self, max: usize, out: &mut dyn FnMut(StateInput)) -> usize {
        match self {
            EngineSink::Paper(s) => s.poll(max, out),
            EngineSink::Venue(s) => s.poll(max, out),
            EngineSink::Wire(s) => s.poll(max, out),
        }
    }

    fn stop(&mut self) {
        match self {
            EngineSink::Paper(s) => s.stop(),
            EngineSink::Venue(s) => s.stop(),
            EngineSink::Wire(s) => s.stop(),
        }
    }
}
