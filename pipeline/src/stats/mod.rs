//! Every trading stage's statistics in one place, for the final report and the
//! dashboard.
//!
//! This module gathers from the stage rooms (detect, risk, dispatch, state) and sits above
//! them: the stages never import it. Their counters are made of the single-writer cells
//! in [`crate::cells`].

use std::fmt;
use std::sync::Arc;

use crate::detect::{DetectSnapshot, DetectStats};
use crate::dispatch::{DispatchSnapshot, DispatchStats};
use crate::risk::{RiskSnapshot, RiskStats};
use crate::state::{StateSnapshot, StateStats};

/// Every trading stage's statistics, shared with the cold side.
#[derive(Clone, Debug, Default)]
pub struct TradingStats {
    pub detect: Arc<DetectStats>,
    pub risk: Arc<RiskStats>,
    pub dispatch: Arc<DispatchStats>,
    pub state: Arc<StateStats>,
}

impl TradingStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Operations executing or recovering, and approvals on their way to dispatch: what
    /// an orderly stop or a removal waits for.
    pub fn operations_in_progress(&self) -> i64 {
        let s = self.state.snapshot();
        // The risk gate holds a reservation for each operation it approved until it
        // closes: those beyond the ones the state stage has open are on their way to it.
        let on_the_way = self.risk.snapshot().in_flight.saturating_sub(s.open_reserved).max(0);
        s.open[0] + s.open[1] + on_the_way
    }

    /// A plain copy of every counter, for reports.
    pub fn snapshot(&self) -> TradingSnapshot {
        TradingSnapshot {
            detect: self.detect.snapshot(),
            risk: self.risk.snapshot(),
            dispatch: self.dispatch.snapshot(),
            state: self.state.snapshot(),
        }
    }
}

/// A copy of [`TradingStats`] at one moment; `Display` prints the report section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradingSnapshot {
    pub detect: DetectSnapshot,
    pub risk: RiskSnapshot,
    pub dispatch: DispatchSnapshot,
    pub state: StateSnapshot,
}

impl fmt::Display for TradingSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}{}", self.detect, self.risk, self.dispatch, self.state)
    }
}
