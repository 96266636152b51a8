//! Latency measurement: per-thread histograms on the hot side, merged and printed on the
//! cold side.
//!
//! Every ring hop, every stage and every path (tick-to-trade) records into a
//! [`Recorder`], an HdrHistogram owned by the thread that records. Every series holds
//! nanoseconds from the moment it is recorded: a hop or a stage reads raw clock ticks
//! (`quanta::Clock::raw`, one `rdtsc`) and converts the difference with
//! `Clock::delta_as_nanos`, a multiply and a shift, before recording; a path is the
//! difference of two event timestamps already in nanoseconds. One unit everywhere means
//! the cold side never converts: the report, the dashboard, `/metrics`, the `.hgrm` files
//! and the plots read the same histograms and print the same numbers.
//!
//! A recorder hands its histogram to the cold side by swapping boxes through two SPSC
//! rings: it pushes the full histogram on one ring and takes an empty one from the other.
//! Each recorder owns three boxes for its whole life (one recording, two in flight or
//! spare) and both rings hold three, so a push never fails and nothing is allocated after
//! start. The hot path takes no lock; a swap is two ring operations every
//! [`FLUSH_INTERVAL`] at most.
//!
//! The cold side ([`MetricsHub`]) drains the rings, adds each histogram to a cumulative
//! total and to a window that the dashboard reads and resets, and prints percentile
//! tables and HdrHistogram `.hgrm` percentile-distribution files.

mod hgrm;
mod series;
mod summary;

use std::fmt;
use std::time::Duration;

use quanta::Clock;

pub use hgrm::write_hgrm;
pub use series::{LatencyHistogram, SeriesKind, new_histogram};
pub use summary::{Summary, format_table};

/// How often a recorder hands its histogram to the cold side while events flow.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

const BOXES_PER_RECORDER: usize = 3;

/// The hot-side end of a latency series: records nanoseconds into a thread-owned
/// histogram. Flush times (`now`) are raw clock ticks, the cheap reading the hot loops
/// already have.
pub struct Recorder {
    hist: Box<LatencyHistogram>,
    full: rtrb::Producer<Box<LatencyHistogram>>,
    spare: rtrb::Consumer<Box<LatencyHistogram>>,
    next_flush: u64,
    flush_every: u64,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").field("pending", &self.hist.len()).finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records one latency in nanoseconds. Values beyond the tracked range saturate.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
    }

    /// Records `count` events of the same latency, in nanoseconds.
    #[inline]
    pub fn record_n(&mut self, ns: u64, count: u64) {
        self.hist.saturating_record_n(ns, count);
    }

    /// Records one latency in nanoseconds and hands the histogram over if a flush is due
    /// at `now` (raw clock ticks).
    #[inline]
    pub fn record_at(&mut self, ns: u64, now: u64) {
        self.hist.saturating_record(ns);
        if now >= self.next_flush {
            self.flush(now);
        }
    }

    /// Hands the histogram over if a flush is due at `now` (raw clock ticks).
    #[inline]
    pub fn maybe_flush(&mut self, now: u64) {
        if now >= self.next_flush {
            self.flush(now);
        }
    }

    /// Hands the current histogram to the cold side if it holds anything and a spare is
    /// available; otherwise keeps recording into the same one.
    #[cold]
    pub fn flush(&mut self, now: u64) {
        self.next_flush = now.saturating_add(self.flush_every);
        if self.hist.is_empty() {
            return;
        }
        if let Ok(fresh) = self.spare.pop() {
            let full = std::mem::replace(&mut self.hist, fresh);
            // Three boxes circulate and the ring holds three, so this cannot be full.
            let _ = self.full.push(full);
        }
    }
}

impl Drop for Recorder {
    /// Hands over whatever is still recorded. With no spare left (the hub lagging), the
    /// recording box itself goes; the placeholder left behind is never recorded into.
    fn drop(&mut self) {
        if self.hist.is_empty() {
            return;
        }
        let fresh = match self.spare.pop() {
            Ok(fresh) => fresh,
            Err(_) => match LatencyHistogram::new(1) {
                Ok(h) => Box::new(h),
                Err(_) => return,
            },
        };
        let full = std::mem::replace(&mut self.hist, fresh);
        let _ = self.full.push(full);
    }
}

struct Series {
    name: String,
    kind: SeriesKind,
    full: rtrb::Consumer<Box<LatencyHistogram>>,
    spare: rtrb::Producer<Box<LatencyHistogram>>,
    total: Box<LatencyHistogram>,
    window: Box<LatencyHistogram>,
}

/// The cold-side owner of every latency series.
///
/// Create recorders with [`MetricsHub::recorder`] before the stage threads start, move
/// the recorders into the stages, then call [`MetricsHub::collect`] from a cold thread.
pub struct MetricsHub {
    clock: Clock,
    series: Vec<Series>,
    /// [`FLUSH_INTERVAL`] in raw clock ticks.
    flush_every: u64,
}

impl fmt::Debug for MetricsHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsHub")
            .field("series", &self.series.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MetricsHub {
    /// A hub whose recorders measure with `clock`.
    pub fn new(clock: Clock) -> Self {
        let probe: u64 = 1 << 30;
        let ns_per_tick = clock.delta_as_nanos(0, probe) as f64 / probe as f64;
        let ns_per_tick = if ns_per_tick > 0.0 { ns_per_tick } else { 1.0 };
        let flush_every = (FLUSH_INTERVAL.as_nanos() as f64 / ns_per_tick) as u64;
        Self { clock, series: Vec::new(), flush_every: flush_every.max(1) }
    }

    /// The clock the recorders measure with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Registers a series (recorded in nanoseconds) and returns its recorder.
    pub fn recorder(&mut self, name: impl Into<String>, kind: SeriesKind) -> Recorder {
        let name = name.into();
        let (full_tx, full_rx) = rtrb::RingBuffer::new(BOXES_PER_RECORDER);
        let (mut spare_tx, spare_rx) = rtrb::RingBuffer::new(BOXES_PER_RECORDER);
        for _ in 1..BOXES_PER_RECORDER {
            let _ = spare_tx.push(new_histogram());
        }
        self.series.push(Series {
            name,
            kind,
            full: full_rx,
            spare: spare_tx,
            total: new_histogram(),
            window: new_histogram(),
        });
        Recorder {
            hist: new_histogram(),
            full: full_tx,
            spare: spare_rx,
            next_flush: self.clock.raw().saturating_add(self.flush_every),
            flush_every: self.flush_every,
        }
    }

    /// Takes every histogram the recorders have handed over, merges it into the totals
    /// and windows, and returns the emptied boxes. Returns how many were taken.
    pub fn collect(&mut self) -> usize {
        let mut taken = 0;
        for s in &mut self.series {
            while let Ok(mut h) = s.full.pop() {
                // Same bounds everywhere, so adding cannot fail.
                let _ = s.total.add(&*h);
                let _ = s.window.add(&*h);
                h.reset();
                let _ = s.spare.push(h);
                taken += 1;
            }
        }
        taken
    }

    /// Percentile summaries of every series since the start, in nanoseconds.
    pub fn summaries(&self) -> Vec<Summary> {
        self.series.iter().map(|s| Summary::of(&s.name, s.kind, &s.total)).collect()
    }

    /// Percentile summaries of every series since the last call, in nanoseconds; resets
    /// the windows.
    pub fn take_window(&mut self) -> Vec<Summary> {
        self.series
            .iter_mut()
            .map(|s| {
                let sum = Summary::of(&s.name, s.kind, &s.window);
                s.window.reset();
                sum
            })
            .collect()
    }

    /// The cumulative histogram of one series, in nanoseconds.
    pub fn total(&self, name: &str) -> Option<&LatencyHistogram> {
        self.series.iter().find(|s| s.name == name).map(|s| &*s.total)
    }

    /// Every series name with its kind and cumulative histogram (nanoseconds).
    pub fn totals(&self) -> impl Iterator<Item = (&str, SeriesKind, &LatencyHistogram)> {
        self.series.iter().map(|s| (s.name.as_str(), s.kind, &*s.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushed_histograms_reach_the_hub_and_boxes_circulate() {
        let (clock, mock) = Clock::mock();
        let mut hub = MetricsHub::new(clock.clone());
        let mut rec = hub.recorder("a->b", SeriesKind::Hop);
        for round in 0..10u64 {
            for v in 1..=100 {
                rec.record(v * 10);
            }
            mock.increment(FLUSH_INTERVAL.as_nanos() as u64 + 1);
            rec.maybe_flush(clock.raw());
            assert_eq!(hub.collect(), 1, "round {round}");
        }
        let s = &hub.summaries()[0];
        assert_eq!(s.count, 1000);
        assert_eq!(s.max_ns, 1000);
        assert!((495..=505).contains(&s.p50_ns), "p50 {}", s.p50_ns);
    }

    #[test]
    fn a_dropped_recorder_hands_over_what_it_holds() {
        let mut hub = MetricsHub::new(Clock::new());
        let mut rec = hub.recorder("stage", SeriesKind::Stage);
        rec.record(42);
        drop(rec);
        hub.collect();
        assert_eq!(hub.summaries()[0].count, 1);
    }

    #[test]
    fn the_window_resets_and_the_total_keeps_counting() {
        let mut hub = MetricsHub::new(Clock::new());
        let mut rec = hub.recorder("s", SeriesKind::Stage);
        rec.record(5);
        rec.flush(0);
        hub.collect();
        assert_eq!(hub.take_window()[0].count, 1);
        assert_eq!(hub.take_window()[0].count, 0);
        assert_eq!(hub.summaries()[0].count, 1);
    }

    #[test]
    fn a_lagging_hub_never_loses_counts() {
        let mut hub = MetricsHub::new(Clock::new());
        let mut rec = hub.recorder("s", SeriesKind::Stage);
        // Flush many times without collecting: the recorder keeps recording into the
        // same box once the spares are gone.
        for i in 0..10 {
            rec.record(i + 1);
            rec.flush(0);
        }
        drop(rec);
        hub.collect();
        assert_eq!(hub.summaries()[0].count, 10);
    }
}
