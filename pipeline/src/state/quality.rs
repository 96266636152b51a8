//! Execution quality: how each finished operation went against its plan, counted when it
//! closes, and the ratios users judge an arbitrage engine by (the original design's
//! statistics).
//!
//! - *success rate*: operations that ended successfully (completed, or missed with
//!   nothing traded) over every finished operation;
//! - *execution success*: operations whose entry legs all filled in full, with no
//!   recovery, over every finished operation (a missed IOC counts against it);
//! - *recovery success*: operations that needed recovery (their legs were left unmatched
//!   once the entries settled) and still ended balanced (hedged or unwound to within a
//!   lot), over those that needed recovery;
//! - *profitable share*: operations that closed with a positive realized P&L over every
//!   finished operation;
//! - *average execution time*: approval to close, over the operations this process
//!   approved (one restored from the journal started in another process);
//! - *round trips ended flat*: spot-spot and triangular operations buy and sell the same
//!   quantity, so each must end with its legs matched (to within a lot); counted apart,
//!   because a basis entry ends holding both legs until its exit rule closes them.
//!
//! Counters only, written by the state stage and read by the cold side; the ratios are
//! computed on the snapshot.

use crate::cells::Counter;
use crate::msg::OppKind;
use crate::types::Amount;

use super::operations::{Op, Purpose};

/// The counters behind the execution statistics.
#[derive(Debug, Default)]
pub struct QualityStats {
    pub finished: Counter,
    pub succeeded: Counter,
    pub as_planned: Counter,
    pub needed_recovery: Counter,
    pub recovered_balanced: Counter,
    pub profitable: Counter,
    /// Spot-spot and triangular operations finished, and those that ended balanced.
    pub round_trips: Counter,
    pub round_trips_flat: Counter,
    /// Operations timed from approval to close, and the sum of their times.
    pub timed: Counter,
    pub execution_ns: Counter,
}

impl QualityStats {
    /// Counts operation `op`, closing now: `balanced` when its legs are matched,
    /// `success` as its outcome says, `pnl` its realized P&L.
    pub(super) fn record(&self, op: &Op, balanced: bool, success: bool, pnl: Amount, now: u64) {
        self.finished.inc();
        if success {
            self.succeeded.inc();
        }
        if is_as_planned(op) {
            self.as_planned.inc();
        }
        if op.needed_recovery {
            self.needed_recovery.inc();
            if balanced {
                self.recovered_balanced.inc();
            }
        }
        if pnl > Amount::ZERO {
            self.profitable.inc();
        }
        if matches!(op.exec.opp().kind, OppKind::SpotSpot | OppKind::Triangular) {
            self.round_trips.inc();
            if balanced {
                self.round_trips_flat.inc();
            }
        }
        let approved = op.exec.approved_ns();
        if !op.resumed && approved > 0 && now >= approved {
            self.timed.inc();
            self.execution_ns.add(now - approved);
        }
    }

    pub fn snapshot(&self) -> QualitySnapshot {
        QualitySnapshot {
            finished: self.finished.get(),
            succeeded: self.succeeded.get(),
            as_planned: self.as_planned.get(),
            needed_recovery: self.needed_recovery.get(),
            recovered_balanced: self.recovered_balanced.get(),
            profitable: self.profitable.get(),
            round_trips: self.round_trips.get(),
            round_trips_flat: self.round_trips_flat.get(),
            timed: self.timed.get(),
            execution_ns: self.execution_ns.get(),
        }
    }
}

/// Every entry order filled its whole quantity and nothing else was sent.
fn is_as_planned(op: &Op) -> bool {
    !op.needed_recovery
        && op.orders().iter().all(|o| o.purpose == Purpose::Entry && o.applied.filled >= o.qty)
        && op.n_orders == op.legs().len()
}

/// A copy of [`QualityStats`], with the ratios.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QualitySnapshot {
    pub finished: u64,
    pub succeeded: u64,
    pub as_planned: u64,
    pub needed_recovery: u64,
    pub recovered_balanced: u64,
    pub profitable: u64,
    pub round_trips: u64,
    pub round_trips_flat: u64,
    pub timed: u64,
    pub execution_ns: u64,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl QualitySnapshot {
    /// Successful operations over finished ones; `None` before any finished.
    pub fn success_rate(&self) -> Option<f64> {
        ratio(self.succeeded, self.finished)
    }

    /// Operations whose legs filled as planned over finished ones.
    pub fn execution_success(&self) -> Option<f64> {
        ratio(self.as_planned, self.finished)
    }

    /// Operations that needed recovery and ended balanced over those that needed it;
    /// `None` while none needed it.
    pub fn recovery_success(&self) -> Option<f64> {
        ratio(self.recovered_balanced, self.needed_recovery)
    }

    /// Operations that closed with a profit over finished ones.
    pub fn profitable_share(&self) -> Option<f64> {
        ratio(self.profitable, self.finished)
    }

    /// Mean time from approval to close, in milliseconds.
    pub fn avg_execution_ms(&self) -> Option<f64> {
        ratio(self.execution_ns, self.timed).map(|ns| ns / 1e6)
    }
}

impl std::fmt::Display for QualitySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0));
        write!(
            f,
            "execution: success rate {}, execution success {} ({} of {} as planned), recovery success {} \
             ({} of {} balanced), profitable {}, average execution {}",
            pct(self.success_rate()),
            pct(self.execution_success()),
            self.as_planned,
            self.finished,
            pct(self.recovery_success()),
            self.recovered_balanced,
            self.needed_recovery,
            pct(self.profitable_share()),
            self.avg_execution_ms().map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_undefined_until_their_denominator_counts() {
        let s = QualitySnapshot::default();
        assert_eq!((s.execution_success(), s.recovery_success(), s.avg_execution_ms()), (None, None, None));
        let s = QualitySnapshot {
            finished: 20,
            succeeded: 19,
            as_planned: 18,
            needed_recovery: 2,
            recovered_balanced: 1,
            profitable: 17,
            timed: 4,
            execution_ns: 40_000_000,
            round_trips: 6,
            round_trips_flat: 6,
        };
        assert_eq!(s.execution_success(), Some(0.9));
        assert_eq!(s.recovery_success(), Some(0.5));
        assert_eq!(s.success_rate(), Some(0.95));
        assert_eq!(s.profitable_share(), Some(0.85));
        assert_eq!(s.avg_execution_ms(), Some(10.0));
        assert!(s.to_string().contains("execution success 90.0% (18 of 20 as planned)"), "{s}");
    }
}
