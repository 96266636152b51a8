//! Foreign activity: orders and fills on the account that this engine instance did not
//! send (their client order ids lack the instance's prefix: another engine on the same
//! account, a person, another program). The order sinks separate them out before the
//! order tracker sees them; here they are counted per venue and handed to the cold side
//! for the report and the dashboard. They never touch an operation or a position: the
//! engine's books hold only what it traded itself.

use crate::cells::{self, Counter};
use crate::msg::Foreign;
use crate::types::Venue;

use super::StateKeeper;

/// Foreign activity seen, per venue ([`Venue::index`]).
#[derive(Debug, Default)]
pub struct ForeignStats {
    pub fills: [Counter; Venue::COUNT],
    pub orders: [Counter; Venue::COUNT],
}

impl ForeignStats {
    pub fn snapshot(&self) -> ForeignSnapshot {
        ForeignSnapshot { fills: cells::read(&self.fills), orders: cells::read(&self.orders) }
    }
}

/// A copy of [`ForeignStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForeignSnapshot {
    pub fills: [u64; Venue::COUNT],
    pub orders: [u64; Venue::COUNT],
}

impl ForeignSnapshot {
    pub fn total_fills(&self) -> u64 {
        self.fills.iter().sum()
    }

    pub fn total_orders(&self) -> u64 {
        self.orders.iter().sum()
    }
}

impl StateKeeper {
    /// Counts a foreign order or fill and passes it to the cold side (a dropping link: a
    /// full ring loses the detail, never the count).
    pub(super) fn on_foreign(&mut self, f: Foreign) {
        let counters = if f.fill { &self.stats.foreign.fills } else { &self.stats.foreign.orders };
        counters[f.venue.index()].inc();
        self.drift_foreign(&f);
        if let Some(tx) = self.foreign_out.as_mut() {
            let _ = tx.push(f);
        }
    }
}
