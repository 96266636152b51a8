//! Percentile summaries of a latency histogram, and the table that prints them.

use std::fmt::Write as _;

use super::series::{SeriesKind, TickHistogram};

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
    /// Summarises a histogram of ticks, converting with `ns_per_tick`.
    pub fn of(name: &str, kind: SeriesKind, h: &TickHistogram, ns_per_tick: f64) -> Self {
        let ns = |ticks: u64| (ticks as f64 * ns_per_tick).round() as u64;
        let q = |quantile: f64| if h.is_empty() { 0 } else { ns(h.value_at_quantile(quantile)) };
        Self {
            name: name.to_owned(),
            kind,
            count: h.len(),
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: if h.is_empty() { 0 } else { ns(h.max()) },
            mean_ns: if h.is_empty() { 0 } else { (h.mean() * ns_per_tick).round() as u64 },
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
