//! How far the engine is from every book in sync: how many books, how many are synced
//! now, how long after start every book had synced at least once (the time a large
//! universe takes to come up, its REST snapshots paced by the venues' limits), how many
//! resyncs completed and the share of the time every book was synced at once. Read from
//! the book stage's published counters; the report, the dashboard and /metrics show the
//! same figures. The resync time percentiles of all books together are the hub's
//! `book.resync` series ([`resync_summary`]).

use pipeline::metrics::Summary;

use pipeline::book::BookCounters;
use std::collections::BTreeSet;

use pipeline::types::{InstrumentId, Instruments};

/// The books' sync progress.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncProgress {
    pub books_total: usize,
    pub books_synced: usize,
    /// Milliseconds from the engine's start until the last book listed at start first
    /// synced; `None` until every one has. A book added while running has its own
    /// first sync, which says nothing of how the engine came up.
    pub time_to_all_synced_ms: Option<u64>,
    /// Memory the books hold (in place and heap), bytes.
    pub book_bytes: u64,
    /// Resyncs completed over all books (lost sync, then synced again).
    pub resyncs_done: u64,
    /// The share of the time every book was synced at once, since they all first were;
    /// `None` until then.
    pub all_synced_share: Option<f64>,
}

impl SyncProgress {
    /// From the counters of `instruments`' books, less the `removed` ones (removed
    /// while running: no book); `started_ns` is the engine's start on the book stage's
    /// clock, when the first `listed_at_start` instruments were listed.
    pub fn read(
        books: &BookCounters,
        instruments: &Instruments,
        removed: &BTreeSet<InstrumentId>,
        started_ns: u64,
        listed_at_start: usize,
    ) -> Self {
        let mut p = SyncProgress::default();
        let mut last_first_sync = Some(0u64);
        for i in instruments.iter().filter(|i| !removed.contains(&i.id)) {
            p.books_total += 1;
            let c = books.get(i.id);
            p.books_synced += usize::from(c.synced);
            p.book_bytes += c.bytes;
            p.resyncs_done += c.resyncs_done;
            if i.id.index() >= listed_at_start {
                continue;
            }
            last_first_sync = match (last_first_sync, c.first_synced_ns) {
                (Some(t), f) if f > 0 => Some(t.max(f)),
                _ => None,
            };
        }
        p.time_to_all_synced_ms = last_first_sync.map(|t| t.saturating_sub(started_ns) / 1_000_000);
        p.all_synced_share = pipeline::book::all_synced_share(books.all_synced());
        p
    }
}

/// The resync times of every book together (the hub's `book.resync` series), if any
/// resync completed.
pub fn resync_summary(latency: &[Summary]) -> Option<&Summary> {
    latency.iter().find(|s| s.name == super::RESYNC_SERIES && s.count > 0)
}

/// "resync p50 12.3 ms p99 480.0 ms, all synced 71% of the time" (what is known).
pub fn resync_text(p: &SyncProgress, resync: Option<&Summary>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = resync {
        parts.push(format!(
            "resync p50 {:.1} ms p99 {:.1} ms ({})",
            s.p50_ns as f64 / 1e6,
            s.p99_ns as f64 / 1e6,
            s.count
        ));
    }
    if let Some(share) = p.all_synced_share {
        parts.push(format!("all synced {:.0}% of the time", share * 100.0));
    }
    parts.join(", ")
}
