//! How long books take to sync again, and how much of the time every book is synced.
//!
//! The book stage sees every change of a book's sync state, so it times them here:
//!
//! - **Resync time:** from the moment a book that had synced loses sync (a sequence gap,
//!   a crossed book, a feed loss, an undecodable update, staleness) to the moment it is
//!   synced again, in nanoseconds on the stage's clock. The first sync after start is not
//!   a resync (the start-up time is `time_to_all_synced`). Each book keeps its own small
//!   histogram (one significant digit, about 2 KiB), allocated when the stage is built,
//!   so recording allocates nothing; the stage also records every sample into the
//!   metrics hub's `book.resync` series (three significant digits, every book together).
//! - **All synced:** from the moment every book had first synced, the time during which
//!   all of them were synced at once ([`AllSynced`]); the share is that time over the
//!   time observed.
//!
//! Cold side reads: the stage publishes per-book counts and percentiles and the two
//! all-synced totals through [`super::BookCounters`] on its maintenance pass.

use hdrhistogram::Histogram;

/// Per-book resync histogram bounds: 1 µs to 2^40 ns (about 18 minutes), one
/// significant digit (a value is kept within 1 part in 16).
const LOWEST_NS: u64 = 1_000;
const HIGHEST_NS: u64 = 1 << 40;
const SIGNIFICANT_DIGITS: u8 = 1;

/// Time during which every book was synced at once, since they all first were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllSynced {
    /// When every book had first synced; `None` until then.
    since_ns: Option<u64>,
    /// When the current all-synced spell began; `None` while some book is not synced.
    spell_from: Option<u64>,
    /// Finished all-synced spells, summed.
    done_ns: u64,
}

impl AllSynced {
    /// Records whether every book is synced at `now_ns` (called when that may change).
    pub fn set(&mut self, all: bool, now_ns: u64) {
        match (all, self.spell_from) {
            (true, None) => {
                self.since_ns.get_or_insert(now_ns);
                self.spell_from = Some(now_ns);
            }
            (false, Some(from)) => {
                self.done_ns += now_ns.saturating_sub(from);
                self.spell_from = None;
            }
            _ => {}
        }
    }

    /// `(all-synced ns, observed ns)` up to `now_ns`: the time every book was synced
    /// at once and the time since they all first were; `(0, 0)` until they have.
    pub fn totals(&self, now_ns: u64) -> (u64, u64) {
        let Some(since) = self.since_ns else { return (0, 0) };
        let open = self.spell_from.map_or(0, |from| now_ns.saturating_sub(from));
        (self.done_ns + open, now_ns.saturating_sub(since))
    }

    /// The share of the observed time during which every book was synced; `None`
    /// until they all have synced or while no time has passed since.
    pub fn share(&self, now_ns: u64) -> Option<f64> {
        share(self.totals(now_ns))
    }
}

/// `all / observed` from [`AllSynced::totals`]; `None` when nothing was observed.
pub fn share((all_ns, observed_ns): (u64, u64)) -> Option<f64> {
    (observed_ns > 0).then(|| all_ns.min(observed_ns) as f64 / observed_ns as f64)
}

/// One book's resync timing.
#[derive(Clone, Debug)]
struct BookTimes {
    /// When the book lost sync after having been synced; `None` while synced or before
    /// its first sync.
    lost_ns: Option<u64>,
    synced: bool,
    hist: Box<Histogram<u32>>,
    /// Resyncs counted at the last [`SyncTimes::percentiles_if_changed`].
    published: u64,
}

/// Resync percentiles of one book, nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResyncPercentiles {
    /// Resyncs completed.
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
}

/// Every book's resync timing and the all-synced time.
#[derive(Clone, Debug)]
pub struct SyncTimes {
    books: Vec<BookTimes>,
    unsynced: usize,
    all: AllSynced,
}

impl SyncTimes {
    /// Timing for `books` books, all unsynced.
    pub fn new(books: usize) -> Self {
        let hist = || {
            // Constant bounds that hdrhistogram accepts.
            Box::new(
                Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
                    .expect("constant histogram bounds are valid"),
            )
        };
        Self {
            books: (0..books)
                .map(|_| BookTimes { lost_ns: None, synced: false, hist: hist(), published: 0 })
                .collect(),
            unsynced: books,
            all: AllSynced::default(),
        }
    }

    /// Makes room for book `i` (added while running), unsynced until it syncs: the
    /// all-synced time waits for it. Cold: allocates its histogram.
    pub fn add(&mut self, i: usize, now_ns: u64) {
        while self.books.len() <= i {
            self.books.push(BookTimes { lost_ns: None, synced: true, hist: Self::hist(), published: 0 });
        }
        if self.books[i].synced {
            self.note_change(i, false, now_ns);
            // Its first sync is start-up, not a resync.
            self.books[i].lost_ns = None;
        }
    }

    /// Book `i` was removed while running: it no longer holds back the all-synced time.
    pub fn remove(&mut self, i: usize, now_ns: u64) {
        if let Some(b) = self.books.get_mut(i).filter(|b| !b.synced) {
            // Not a resync: it will not come back in sync.
            b.lost_ns = None;
            self.note_change(i, true, now_ns);
        }
    }

    fn hist() -> Box<Histogram<u32>> {
        // Constant bounds that hdrhistogram accepts.
        Box::new(
            Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid"),
        )
    }

    /// Book `i` is (`synced`) or is not synced at `now_ns`; returns the resync time in
    /// ns when this ends a resync. Cheap when nothing changed (one compare).
    #[inline]
    pub fn note(&mut self, i: usize, synced: bool, now_ns: u64) -> Option<u64> {
        let b = self.books.get_mut(i)?;
        if b.synced == synced {
            return None;
        }
        self.note_change(i, synced, now_ns)
    }

    #[cold]
    #[inline(never)]
    fn note_change(&mut self, i: usize, synced: bool, now_ns: u64) -> Option<u64> {
        let b = &mut self.books[i];
        b.synced = synced;
        let took = if synced {
            self.unsynced -= 1;
            b.lost_ns.take().map(|lost| {
                let ns = now_ns.saturating_sub(lost);
                b.hist.saturating_record(ns.max(LOWEST_NS));
                ns
            })
        } else {
            self.unsynced += 1;
            b.lost_ns = Some(now_ns);
            None
        };
        self.all.set(self.unsynced == 0, now_ns);
        took
    }

    /// The all-synced time so far.
    pub fn all(&self) -> &AllSynced {
        &self.all
    }

    /// Book `i`'s resync count and percentiles if it completed a resync since the last
    /// call (computing percentiles scans the histogram: done only then).
    pub fn percentiles_if_changed(&mut self, i: usize) -> Option<ResyncPercentiles> {
        let b = self.books.get_mut(i)?;
        let count = b.hist.len();
        if count == b.published {
            return None;
        }
        b.published = count;
        Some(ResyncPercentiles {
            count,
            p50_ns: b.hist.value_at_quantile(0.5),
            p99_ns: b.hist.value_at_quantile(0.99),
        })
    }

    /// Heap bytes the histograms hold.
    pub fn heap_bytes(&self) -> usize {
        self.books.iter().map(|b| b.hist.distinct_values() * 4).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_book_added_while_running_holds_back_all_synced_until_it_syncs_and_a_removed_one_does_not() {
        let mut t = SyncTimes::new(1);
        t.note(0, true, MS);
        assert_eq!(t.all().totals(2 * MS).0, MS, "all synced since 1 ms");
        t.add(2, 3 * MS);
        t.note(2, true, 4 * MS);
        // Slot 1 (an id taken by another addition not seen yet) holds nothing back.
        assert!(t.all().share(10 * MS).is_some());
        let before = t.all().totals(5 * MS).0;
        t.add(3, 5 * MS);
        assert_eq!(t.all().totals(9 * MS).0, before, "book 3 is not synced yet");
        assert_eq!(t.note(3, true, 9 * MS), None, "a first sync is no resync");
        t.note(3, false, 10 * MS);
        t.remove(3, 11 * MS);
        let at = t.all().totals(11 * MS).0;
        assert!(t.all().totals(20 * MS).0 > at, "a removed book holds nothing back");
    }

    #[test]
    fn a_resync_is_timed_from_losing_sync_to_syncing_again() {
        let mut t = SyncTimes::new(2);
        // First syncs are start-up, not resyncs.
        assert_eq!(t.note(0, true, 10 * MS), None);
        assert_eq!(t.note(1, true, 12 * MS), None);
        // Repeating a state changes nothing.
        assert_eq!(t.note(0, true, 13 * MS), None);
        assert_eq!(t.note(0, false, 100 * MS), None);
        assert_eq!(t.note(0, false, 120 * MS), None, "still the same loss");
        assert_eq!(t.note(0, true, 150 * MS), Some(50 * MS));
        assert_eq!(t.note(1, false, 200 * MS), None);
        assert_eq!(t.note(1, true, 1_200 * MS), Some(1_000 * MS));
        let p = t.percentiles_if_changed(0).unwrap();
        assert_eq!(p.count, 1);
        // One significant digit: within 1 part in 16.
        assert!(p.p50_ns.abs_diff(50 * MS) <= 50 * MS / 16, "{p:?}");
        assert_eq!(t.percentiles_if_changed(0), None, "unchanged since the last call");
        assert!(t.percentiles_if_changed(1).unwrap().p99_ns.abs_diff(1_000 * MS) <= 1_000 * MS / 16);
        assert_eq!(t.percentiles_if_changed(7), None, "no such book");
        assert_eq!(t.note(7, true, 0), None);
    }

    #[test]
    fn percentiles_split_fast_and_slow_resyncs() {
        let mut t = SyncTimes::new(1);
        t.note(0, true, 0);
        let mut now = 0;
        for k in 0..100u64 {
            let took = if k < 98 { 20 * MS } else { 3_000 * MS };
            t.note(0, false, now);
            now += took;
            assert_eq!(t.note(0, true, now), Some(took));
            now += MS;
        }
        let p = t.percentiles_if_changed(0).unwrap();
        assert_eq!(p.count, 100);
        assert!(p.p50_ns.abs_diff(20 * MS) <= 20 * MS / 16, "{p:?}");
        assert!(p.p99_ns.abs_diff(3_000 * MS) <= 3_000 * MS / 16, "{p:?}");
    }

    #[test]
    fn the_all_synced_share_counts_only_time_with_every_book_synced() {
        let mut t = SyncTimes::new(2);
        t.note(0, true, 0);
        assert_eq!(t.all().share(5 * MS), None, "not every book has synced yet");
        t.note(1, true, 10 * MS); // all synced from 10 ms
        t.note(0, false, 40 * MS); // 30 ms all synced
        t.note(1, false, 50 * MS);
        t.note(0, true, 60 * MS);
        t.note(1, true, 90 * MS); // all synced again from 90 ms
        assert_eq!(t.all().totals(110 * MS), (50 * MS, 100 * MS));
        assert_eq!(t.all().share(110 * MS), Some(0.5));
        t.note(1, false, 110 * MS);
        // Time passes with a book unsynced: the share falls.
        assert_eq!(t.all().totals(210 * MS), (50 * MS, 200 * MS));
        assert_eq!(t.all().share(210 * MS), Some(0.25));
    }

    #[test]
    fn share_arithmetic() {
        assert_eq!(share((0, 0)), None);
        assert_eq!(share((0, 10)), Some(0.0));
        assert_eq!(share((10, 10)), Some(1.0));
        assert_eq!(share((3, 4)), Some(0.75));
        assert_eq!(share((12, 10)), Some(1.0), "never above one");
    }
}
