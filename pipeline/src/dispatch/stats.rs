//! Dispatch's counters, written by the stage and read by the cold side, and the copy the
//! report prints.

use std::fmt;

use crate::cells::{Counter, Gauge};

/// Dispatch counters, readable from the cold side.
#[derive(Debug, Default)]
pub struct DispatchStats {
    pub executions: Counter,
    pub orders_sent: Counter,
    /// Orders the sink refused before they left (reported `Rejected`).
    pub orders_not_sent: Counter,
    /// Orders whose hand-over failed midway (reported `Unknown`).
    pub orders_unknown: Counter,
    pub recovery_orders: Counter,
    pub cancels: Counter,
    pub queries: Counter,
    pub cancel_alls: Counter,
    pub balance_queries: Counter,
    /// Requests the sink could not send (cancels, queries): the state stage retries.
    pub requests_failed: Counter,
    pub journal_failures: Counter,
    /// Cancels and queries sent although the journal could not record them.
    pub unjournaled: Counter,
    pub events_forwarded: Counter,
    pub outbox_high_water: Gauge,
}

impl DispatchStats {
    pub fn snapshot(&self) -> DispatchSnapshot {
        DispatchSnapshot {
            executions: self.executions.get(),
            orders_sent: self.orders_sent.get(),
            orders_not_sent: self.orders_not_sent.get(),
            orders_unknown: self.orders_unknown.get(),
            recovery_orders: self.recovery_orders.get(),
            cancels: self.cancels.get(),
            queries: self.queries.get(),
            cancel_alls: self.cancel_alls.get(),
            journal_failures: self.journal_failures.get(),
            events_forwarded: self.events_forwarded.get(),
        }
    }
}

/// A copy of [`DispatchStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DispatchSnapshot {
    pub executions: u64,
    pub orders_sent: u64,
    pub orders_not_sent: u64,
    pub orders_unknown: u64,
    pub recovery_orders: u64,
    pub cancels: u64,
    pub queries: u64,
    pub cancel_alls: u64,
    pub journal_failures: u64,
    pub events_forwarded: u64,
}

impl fmt::Display for DispatchSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dispatch: {} executions, {} orders sent ({} recovery), {} not sent, {} unknown; {} cancels, {} queries, {} cancel-alls; {} journal failures",
            self.executions,
            self.orders_sent,
            self.recovery_orders,
            self.orders_not_sent,
            self.orders_unknown,
            self.cancels,
            self.queries,
            self.cancel_alls,
            self.journal_failures
        )
    }
}
