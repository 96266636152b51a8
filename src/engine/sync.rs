//! How far the engine is from every book in sync: how many books, how many are synced
//! now, and how long after start every book had synced at least once (the time a large
//! universe takes to come up, its REST snapshots paced by the venues' limits). Read from
//! the book stage's published counters; the report, the dashboard and /metrics show the
//! same figures.

use pipeline::book::BookCounters;
use pipeline::types::Instruments;

/// The books' sync progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncProgress {
    pub books_total: usize,
    pub books_synced: usize,
    /// Milliseconds from the engine's start until the last book first synced; `None`
    /// until every book has.
    pub time_to_all_synced_ms: Option<u64>,
    /// Memory the books hold (in place and heap), bytes.
    pub book_bytes: u64,
}

impl SyncProgress {
    /// From the counters of `instruments`' books; `started_ns` is the engine's start on
    /// the book stage's clock.
    pub fn read(books: &BookCounters, instruments: &Instruments, started_ns: u64) -> Self {
        let mut p = SyncProgress { books_total: instruments.len(), ..SyncProgress::default() };
        let mut last_first_sync = Some(0u64);
        for i in instruments.iter() {
            let c = books.get(i.id);
            p.books_synced += usize::from(c.synced);
            p.book_bytes += c.bytes;
            last_first_sync = match (last_first_sync, c.first_synced_ns) {
                (Some(t), f) if f > 0 => Some(t.max(f)),
                _ => None,
            };
        }
        p.time_to_all_synced_ms = last_first_sync.map(|t| t.saturating_sub(started_ns) / 1_000_000);
        p
    }
}
