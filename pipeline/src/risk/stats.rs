//! The risk gate's counters and visible state, written by the stage and read by the cold
//! side, and the copy the report prints.

use std::fmt;

use super::breakers::Breaker;
use super::veto::Veto;
use crate::cells::{self, AmountCell, Counter, Gauge};
use crate::msg::OppKind;
use crate::types::{Amount, Venue};

/// The risk gate's counters and visible state, readable from the cold side.
#[derive(Debug, Default)]
pub struct RiskStats {
    pub approved: [Counter; OppKind::COUNT],
    pub rejected: [Counter; Veto::COUNT],
    /// 1 while the breaker is open.
    pub breaker_open: [Gauge; Breaker::COUNT],
    pub breaker_trips: [Counter; Breaker::COUNT],
    /// 1 while the kill switch is on.
    pub halted: Gauge,
    pub in_flight: Gauge,
    pub reconciling: Gauge,
    pub last_op_id: Gauge,
    pub daily_pnl: AmountCell,
    /// Net USD exposure summed over assets (without operations in flight).
    pub exposure: AmountCell,
    pub alerts_dropped: Counter,
    pub updates: Counter,
    /// Smoothed order acknowledgement time per venue, in nanoseconds.
    pub order_latency_ns: [Gauge; Venue::COUNT],
}

impl RiskStats {
    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot {
            approved: cells::read(&self.approved),
            rejected: cells::read(&self.rejected),
            breaker_open: std::array::from_fn(|i| self.breaker_open[i].get() != 0),
            breaker_trips: cells::read(&self.breaker_trips),
            halted: self.halted.get() != 0,
            in_flight: self.in_flight.get(),
            reconciling: self.reconciling.get(),
            last_op_id: self.last_op_id.get() as u64,
            daily_pnl: self.daily_pnl.get(),
            exposure: self.exposure.get(),
            alerts_dropped: self.alerts_dropped.get(),
        }
    }
}

/// A copy of [`RiskStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RiskSnapshot {
    pub approved: [u64; OppKind::COUNT],
    pub rejected: [u64; Veto::COUNT],
    pub breaker_open: [bool; Breaker::COUNT],
    pub breaker_trips: [u64; Breaker::COUNT],
    pub halted: bool,
    pub in_flight: i64,
    pub reconciling: i64,
    pub last_op_id: u64,
    pub daily_pnl: Amount,
    pub exposure: Amount,
    pub alerts_dropped: u64,
}

impl RiskSnapshot {
    /// Refusals by reason, as (name, count), every reason listed.
    pub fn rejected_by_reason(&self) -> Vec<(&'static str, u64)> {
        Veto::ALL.iter().map(|r| (r.name(), self.rejected[*r as usize])).collect()
    }

    pub fn rejected(&self, r: Veto) -> u64 {
        self.rejected[r as usize]
    }
}

impl fmt::Display for RiskSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let approved: u64 = self.approved.iter().sum();
        let rejected: u64 = self.rejected.iter().sum();
        writeln!(
            f,
            "risk: {approved} approved ({} spot_spot, {} basis, {} triangular), {rejected} rejected; kill switch {}; in flight {}; daily P&L {} USD; exposure {} USD",
            self.approved[0],
            self.approved[1],
            self.approved[2],
            if self.halted { "ON" } else { "off" },
            self.in_flight,
            self.daily_pnl,
            self.exposure
        )?;
        for (name, n) in self.rejected_by_reason().into_iter().filter(|(_, n)| *n > 0) {
            writeln!(f, "  rejected {name:<30} {n}")?;
        }
        for b in Breaker::ALL {
            writeln!(
                f,
                "  breaker {:<22} {} (tripped {} times)",
                b.name(),
                if self.breaker_open[b.index()] { "OPEN" } else { "closed" },
                self.breaker_trips[b.index()]
            )?;
        }
        Ok(())
    }
}
