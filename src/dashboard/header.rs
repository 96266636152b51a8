//! The state word at the head of the dashboard and of each status line. It says whether
//! the engine can trade: a green TRADING only while every book is in sync, so that an
//! engine with no market data (no network, venues down) never looks like one at work.

use adapters::net::ws::LinkState;

use crate::telemetry::Telemetry;

/// What the engine is doing, as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// Trading stopped (kill switch, breaker, journal failure).
    Halted,
    /// No market-data connection is open: nothing can be in sync.
    Connecting,
    /// Some connection is open but not every book is in sync; the engine trades only
    /// on the books that are.
    NotSynced { synced: usize, books: usize },
    /// Every book in sync.
    Trading,
}

impl Header {
    /// The header of an engine with `links_open` of its market-data connections open
    /// and `synced` of its `books` in sync.
    pub fn of(halted: bool, links_open: usize, synced: usize, books: usize) -> Header {
        if halted {
            Header::Halted
        } else if books > 0 && synced == books {
            Header::Trading
        } else if links_open == 0 {
            Header::Connecting
        } else {
            Header::NotSynced { synced, books }
        }
    }

    /// The header of the engine `t` reports.
    pub fn from(t: &Telemetry) -> Header {
        let halted = t.control.is_halted() || t.stats.snapshot().risk.halted;
        let open =
            t.connections.list().iter().filter(|(_, _, s)| s.snapshot().state == LinkState::Open).count();
        let (synced, books) = t.books_synced();
        Header::of(halted, open, synced, books)
    }

    /// The word as shown.
    pub fn label(self) -> String {
        match self {
            Header::Halted => "HALTED".into(),
            Header::Connecting => "CONNECTING".into(),
            Header::NotSynced { synced, books } => format!("NOT SYNCED {synced}/{books}"),
            Header::Trading => "TRADING".into(),
        }
    }

    /// Whether the engine trades as configured (the header is green).
    pub fn is_trading(self) -> bool {
        self == Header::Trading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trading_only_with_every_book_in_sync() {
        assert_eq!(Header::of(false, 4, 10, 10), Header::Trading);
        assert!(Header::of(false, 4, 10, 10).is_trading());
        for (open, synced) in [(0, 0), (4, 0), (4, 9), (1, 3)] {
            assert!(!Header::of(false, open, synced, 10).is_trading(), "{open} open, {synced}/10");
        }
        // No book at all is nothing to trade on.
        assert!(!Header::of(false, 0, 0, 0).is_trading());
    }

    #[test]
    fn says_why_it_does_not_trade() {
        assert_eq!(Header::of(false, 0, 0, 10).label(), "CONNECTING");
        assert_eq!(Header::of(false, 2, 0, 10).label(), "NOT SYNCED 0/10");
        assert_eq!(Header::of(false, 4, 7, 10).label(), "NOT SYNCED 7/10");
        assert_eq!(Header::of(true, 4, 10, 10).label(), "HALTED");
        assert_eq!(Header::of(true, 0, 0, 10).label(), "HALTED");
        assert_eq!(Header::of(false, 4, 10, 10).label(), "TRADING");
    }
}
