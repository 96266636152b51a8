//! What a latency series is: its histogram type, in raw clock ticks, with the bounds
//! every histogram of the engine shares, and the kind that decides where it is shown.

use hdrhistogram::Histogram;

/// The largest latency a histogram tracks, in ticks; larger values saturate to it.
/// 2^40 ticks is several minutes on any clock quanta uses.
const HIGHEST_TRACKABLE: u64 = 1 << 40;
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in raw clock ticks.
pub type TickHistogram = Histogram<u64>;

pub(super) fn new_histogram() -> Box<TickHistogram> {
    // The bounds are constants that hdrhistogram accepts; failure here is a programming
    // error caught by every test that records anything.
    Box::new(
        Histogram::new_with_bounds(1, HIGHEST_TRACKABLE, SIGNIFICANT_DIGITS)
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
}
