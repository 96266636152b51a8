//! HdrHistogram percentile-distribution (`.hgrm`) output, the text format that
//! HdrHistogram's own tools print and its plotter reads. Values are written in
//! microseconds.

use std::io::{self, Write};

use super::series::LatencyHistogram;

/// Writes `h` (in nanoseconds) as a percentile distribution in microseconds.
pub fn write_hgrm(out: &mut impl Write, h: &LatencyHistogram) -> io::Result<()> {
    let us = |ns: u64| ns as f64 / 1000.0;
    writeln!(out, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")?;
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    out,
                    "{:>12.3} {:>2.12} {:>10} {:>14.2}",
                    us(v.value_iterated_to()),
                    q,
                    total,
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{:>12.3} {:>2.12} {:>10}", us(v.value_iterated_to()), q, total)?;
            }
        }
    }
    let (mean, stdev, max) =
        if h.is_empty() { (0.0, 0.0, 0.0) } else { (h.mean() / 1000.0, h.stdev() / 1000.0, us(h.max())) };
    writeln!(out, "#[Mean    = {mean:>12.3}, StdDeviation   = {stdev:>12.3}]")?;
    writeln!(out, "#[Max     = {max:>12.3}, Total count    = {:>12}]", h.len())?;
    writeln!(out, "#[Buckets = {:>12}, SubBuckets     = {:>12}]", h.buckets(), h.distinct_values())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_standard_layout() {
        let mut h = *crate::metrics::new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&mut out, &h).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Value") && lines[0].contains("1/(1-Percentile)"));
        assert_eq!(lines[1], "");
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(first[0], "1.000");
        assert_eq!(first[1], "0.000000000000");
        assert!(text.contains("#[Max     =     1000.447, Total count    =         1000]"), "{text}");
        let last_data = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        assert!(last_data.contains("1.000000000000"), "{last_data}");
    }
}
