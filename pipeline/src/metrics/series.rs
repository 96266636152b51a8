//! What a latency series is: its histogram type, in nanoseconds, with the bounds every
//! histogram of the engine shares, and the kind that decides where it is shown.

use hdrhistogram::Histogram;

/// The largest latency a histogram tracks, in nanoseconds; larger values saturate to it.
/// 2^40 ns is about 18 minutes.
const HIGHEST_TRACKABLE_NS: u64 = 1 << 40;
/// Three significant digits: a value is kept within 0.1% (1 part in 1024 above 2048 ns).
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in nanoseconds: every series of the engine, whatever it measures.
pub type LatencyHistogram = Histogram<u64>;

/// A histogram with the engine's shared bounds.
pub fn new_histogram() -> Box<LatencyHistogram> {
    // The bounds are constants that hdrhistogram accepts; failure here is a programming
    // error caught by every test that records anything.
    Box::new(
        Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid"),
    )
}

/// What a latency series measures; it decides where the series is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Push-to-pop time of one ring link.
    Hop,
    /// Time a stage spends in one `poll` that did work.
    Stage,
    /// A path across several stages, such as tick-to-trade.
    Path,
    /// A book's time from losing sync (gap, crossed, stale, feed lost) to synced again.
    Resync,
}
