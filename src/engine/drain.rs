//! What an orderly stop waits for, in words the operator reads while it waits.
//!
//! A stop lets the open operations finish (recovery included) and flattens what they
//! left, for up to `state.drain_timeout_ms`. That can take seconds with a venue that
//! rate-limits or answers slowly, so the engine says what it is waiting for, and names
//! what it leaves to the next start when the wait runs out.

use pipeline::stats::TradingStats;

/// The open work an orderly stop waits for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// Operations executing or recovering, and approved ones not yet executing.
    pub operations: i64,
    /// Assets whose leftover is waiting to be flattened.
    pub leftovers: i64,
    /// The ids of the open operations the state stage lists, those waiting for an
    /// operator left out (a stop does not wait for them).
    pub ids: Vec<u64>,
}

impl Waiting {
    pub(crate) fn of(stats: &TradingStats) -> Waiting {
        let s = stats.state.snapshot();
        let ids = s.open_ops.iter().copied().filter(|id| !s.awaiting_operator.contains(id)).collect();
        Waiting { operations: stats.operations_in_progress(), leftovers: s.flatten_pending, ids }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.operations <= 0 && self.leftovers <= 0
    }

    /// "1 open operation (7), 2 leftovers to flatten".
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.operations > 0 {
            let n = self.operations;
            let mut s = format!("{n} open operation{}", if n == 1 { "" } else { "s" });
            if !self.ids.is_empty() {
                let ids: Vec<String> = self.ids.iter().map(u64::to_string).collect();
                s.push_str(&format!(" ({})", ids.join(", ")));
            }
            parts.push(s);
        }
        if self.leftovers > 0 {
            let n = self.leftovers;
            parts.push(format!("{n} leftover{} to flatten", if n == 1 { "" } else { "s" }));
        }
        if parts.is_empty() { "nothing".to_owned() } else { parts.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_names_its_operations_and_leftovers() {
        let w = |operations, leftovers, ids: &[u64]| Waiting { operations, leftovers, ids: ids.to_vec() };
        assert_eq!(w(1, 0, &[7]).describe(), "1 open operation (7)");
        assert_eq!(w(3, 2, &[7, 9]).describe(), "3 open operations (7, 9), 2 leftovers to flatten");
        assert_eq!(w(0, 1, &[]).describe(), "1 leftover to flatten");
        assert!(w(0, 0, &[]).is_done());
        assert!(!w(0, 1, &[]).is_done());
    }

    #[test]
    fn operations_waiting_for_an_operator_are_not_waited_for() {
        let stats = TradingStats::new();
        let s = &stats.state;
        // Op 4 recovers, op 5 waits for an operator: the risk gate holds a reservation
        // for each.
        s.open_recovering.set(1);
        s.open_awaiting_operator.set(1);
        s.open_reserved.set(2);
        stats.risk.in_flight.set(2);
        s.open_ids[0].set(4 + 1);
        s.open_ids[1].set(5 + 1);
        s.awaiting_ids[0].set(5 + 1);
        let w = Waiting::of(&stats);
        assert_eq!((w.operations, w.ids.clone()), (1, vec![4]));
        // Op 4 closes: nothing is left to wait for.
        s.open_recovering.set(0);
        s.open_reserved.set(1);
        s.open_ids[0].set(0);
        stats.risk.in_flight.set(1);
        assert!(Waiting::of(&stats).is_done());
        // An approval not yet at the state stage is waited for, also when op 5 was
        // restored from the journal (no reservation of its own).
        stats.risk.in_flight.set(2);
        assert_eq!(Waiting::of(&stats).operations, 1);
        s.open_reserved.set(0);
        stats.risk.in_flight.set(1);
        assert_eq!(Waiting::of(&stats).operations, 1);
    }
}
