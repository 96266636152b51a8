//! Percentile summaries of a latency histogram, and the table that prints them.

use std::fmt::Write as _;

use super::series::{LatencyHistogram, SeriesKind};

/// Percentiles of one latency series, in nanoseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub kind: SeriesKind,
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
}

impl Summary {
    /// Summarises a histogram of nanoseconds. Each percentile is the histogram's own
    /// value at that quantile (the highest value equivalent to the bucket it falls in),
    /// so every reader of the same histogram prints the same number.
    pub fn of(name: &str, kind: SeriesKind, h: &LatencyHistogram) -> Self {
        let q = |quantile: f64| if h.is_empty() { 0 } else { h.value_at_quantile(quantile) };
        Self {
            name: name.to_owned(),
            kind,
            count: h.len(),
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: if h.is_empty() { 0 } else { h.max() },
            mean_ns: if h.is_empty() { 0 } else { h.mean().round() as u64 },
        }
    }
}

/// Formats summaries as an aligned percentile table (nanoseconds).
pub fn format_table(rows: &[Summary]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "series", "count", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns", "max ns"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<width$} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10}",
            r.name, r.count, r.p50_ns, r.p90_ns, r.p99_ns, r.p999_ns, r.max_ns
        );
    }
    out
}
