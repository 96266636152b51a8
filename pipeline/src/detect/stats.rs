//! Detection's counters, written by the stage and read by the cold side, and the copy the
//! report prints.

use std::fmt;

use crate::cells::{self, Counter};
use crate::msg::OppKind;

/// Detection counters, readable from the cold side.
#[derive(Debug, Default)]
pub struct DetectStats {
    pub book_updates: Counter,
    pub unsynced_updates: Counter,
    pub unknown_instrument: Counter,
    /// Candidate evaluations (the DETECTING state).
    pub evaluations: Counter,
    /// Opportunities found, by kind, before de-duplication (OPPORTUNITY_FOUND).
    pub found: [Counter; OppKind::COUNT],
    /// Opportunities handed to the risk gate, by kind.
    pub emitted: [Counter; OppKind::COUNT],
    /// Found again while still present, inside the cooldown.
    pub suppressed_duplicate: Counter,
    /// Found again after vanishing, inside the cooldown.
    pub suppressed_cooldown: Counter,
    pub refused_stale: Counter,
    pub refused_unprofitable: Counter,
    pub refused_no_depth: Counter,
    pub refused_below_minimum: Counter,
    pub refused_inventory: Counter,
    pub refused_overflow: Counter,
    /// Emitted opportunities dropped because the risk gate's ring was full.
    pub dropped_full: Counter,
    pub control_messages: Counter,
    /// Times the book ring dropped updates (every book was invalidated until updated).
    pub input_overflows: Counter,
}

impl DetectStats {
    pub fn snapshot(&self) -> DetectSnapshot {
        DetectSnapshot {
            book_updates: self.book_updates.get(),
            unsynced_updates: self.unsynced_updates.get(),
            evaluations: self.evaluations.get(),
            found: cells::read(&self.found),
            emitted: cells::read(&self.emitted),
            suppressed_duplicate: self.suppressed_duplicate.get(),
            suppressed_cooldown: self.suppressed_cooldown.get(),
            refused_stale: self.refused_stale.get(),
            refused_unprofitable: self.refused_unprofitable.get(),
            refused_no_depth: self.refused_no_depth.get(),
            refused_below_minimum: self.refused_below_minimum.get(),
            refused_inventory: self.refused_inventory.get(),
            dropped_full: self.dropped_full.get(),
        }
    }
}

/// A copy of [`DetectStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectSnapshot {
    pub book_updates: u64,
    pub unsynced_updates: u64,
    pub evaluations: u64,
    pub found: [u64; OppKind::COUNT],
    pub emitted: [u64; OppKind::COUNT],
    pub suppressed_duplicate: u64,
    pub suppressed_cooldown: u64,
    pub refused_stale: u64,
    pub refused_unprofitable: u64,
    pub refused_no_depth: u64,
    pub refused_below_minimum: u64,
    pub refused_inventory: u64,
    pub dropped_full: u64,
}

impl fmt::Display for DetectSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "detection: {} book updates ({} unsynced), {} evaluations",
            self.book_updates, self.unsynced_updates, self.evaluations
        )?;
        for k in OppKind::ALL {
            writeln!(
                f,
                "  {:<11} found {:>8}  emitted {:>8}",
                k.name(),
                self.found[k.index()],
                self.emitted[k.index()]
            )?;
        }
        writeln!(
            f,
            "  suppressed: duplicate {}, cooldown {}; refused: stale {}, unprofitable {}, depth {}, minimum {}, inventory {}; dropped (ring full) {}",
            self.suppressed_duplicate,
            self.suppressed_cooldown,
            self.refused_stale,
            self.refused_unprofitable,
            self.refused_no_depth,
            self.refused_below_minimum,
            self.refused_inventory,
            self.dropped_full
        )
    }
}
