//! Latency percentile distributions as SVG, the plot HdrHistogram's own plotter draws:
//! percentile on the x axis, spaced by `log10(1 / (1 - p))` so 0%, 90%, 99%, 99.9%, ...
//! are equally far apart and the tail gets the room; latency on a log y axis so a
//! 300 ns median and a 2 ms outlier are both readable.
//!
//! Hand-written SVG (a few hundred bytes of markup per series, no dependency): the
//! `plotters` crate would bring a font stack or a text-free SVG backend for one chart
//! type. Each series is one `<path>`; axes and grid are `<line>` and `<text>` elements.
//! Cold path only: it runs after a run, from the histograms the metrics hub collected.
//!
//! The histograms hold nanoseconds, as every reader of them does. Each series' path
//! carries its percentiles as attributes (`data-series`, `data-count`, `data-p50-ns`,
//! `data-p99-ns`, `data-max-ns`), read from the same histogram as the curve, so the
//! figure's numbers can be checked against the report's.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;
use pipeline::metrics::{MetricsHub, SeriesKind};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 260.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;
/// The deepest percentile axis drawn: 99.99999%.
const MAX_NINES: u32 = 7;
/// A colour-blind-friendly palette (Okabe-Ito, then Tol's), cycled.
const COLORS: [&str; 10] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255", "#117733",
    "#999933",
];

/// One series as plotted: the name and the histogram (nanoseconds).
pub type PlotSeries<'a> = (String, &'a Histogram<u64>);

/// The series of `hub`, optionally only those of one kind, ready for [`percentile_svg`].
pub fn hub_series(hub: &MetricsHub, kind: Option<SeriesKind>) -> Vec<PlotSeries<'_>> {
    hub.totals()
        .filter(|(_, k, _)| kind.is_none_or(|want| *k == want))
        .map(|(name, _, hist)| (name.to_owned(), hist))
        .collect()
}

/// Writes [`percentile_svg`] to `path`.
pub fn write_percentile_svg(path: &Path, title: &str, series: &[PlotSeries<'_>]) -> io::Result<()> {
    std::fs::write(path, percentile_svg(title, series))
}

/// One point of a series: x in "nines" (`log10(1/(1-p))`), y in nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Point {
    nines: f64,
    ns: f64,
}

fn points(hist: &Histogram<u64>, max_nines: f64) -> Vec<Point> {
    if hist.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Point> = hist
        .iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let nines = if q >= 1.0 { max_nines } else { (1.0 / (1.0 - q)).log10().min(max_nines) };
            Point { nines, ns: v.value_iterated_to() as f64 }
        })
        .collect();
    // The distribution starts at the minimum, at 0%.
    out.insert(0, Point { nines: 0.0, ns: hist.min() as f64 });
    out
}

/// The percentile distribution of every series as an SVG document. Empty histograms
/// are listed in the legend and draw no path.
pub fn percentile_svg(title: &str, series: &[PlotSeries<'_>]) -> String {
    let max_count = series.iter().map(|(_, h)| h.len()).max().unwrap_or(0).max(10);
    let max_nines = ((max_count as f64).log10().ceil() as u32).clamp(1, MAX_NINES) as f64;
    let all: Vec<Vec<Point>> = series.iter().map(|(_, h)| points(h, max_nines)).collect();
    let positive = all.iter().flatten().map(|p| p.ns).filter(|&ns| ns > 0.0);
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(lo, hi), ns| (lo.min(ns), hi.max(ns)));
    let (y_lo, y_hi) = if hi > 0.0 {
        let lo = lo.log10().floor();
        let hi = hi.log10().ceil();
        (lo, if hi > lo { hi } else { lo + 1.0 })
    } else {
        (1.0, 4.0)
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |nines: f64| LEFT + nines / max_nines * plot_w;
    let y = |ns: f64| {
        let l = if ns > 0.0 { ns.log10().clamp(y_lo, y_hi) } else { y_lo };
        TOP + (y_hi - l) / (y_hi - y_lo) * plot_h
    };

    // The canvas grows downwards when the legend needs more room than the plot.
    let canvas_h = HEIGHT.max(TOP + 16.0 + series.len() as f64 * 34.0);
    let mut svg = String::with_capacity(4096 + series.len() * 2048);
    open_svg(&mut svg, title, canvas_h, LEFT + plot_w / 2.0);

    // Grid and axes.
    svg.push_str("<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for n in 0..=max_nines as u32 {
        let gx = x(f64::from(n));
        let _ = writeln!(svg, r#"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}"/>"#, TOP + plot_h);
    }
    let mut decade = y_lo;
    while decade <= y_hi {
        for (mult, major) in [(1.0, true), (2.0, false), (5.0, false)] {
            let ns = 10f64.powf(decade) * mult;
            if ns.log10() > y_hi + 1e-9 {
                break;
            }
            let gy = y(ns);
            let stroke = if major { "" } else { r##" stroke="#f0f0f0""## };
            let _ = writeln!(
                svg,
                r#"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}"{stroke}/>"#,
                LEFT + plot_w
            );
        }
        decade += 1.0;
    }
    svg.push_str("</g>\n<g class=\"axes\" fill=\"#333333\">\n");
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#333333"/>"##
    );
    for n in 0..=max_nines as u32 {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(f64::from(n)),
            TOP + plot_h + 18.0,
            percentile_label(n)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0
    );
    let mut decade = y_lo;
    while decade <= y_hi {
        let ns = 10f64.powf(decade);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y(ns) + 4.0,
            format_ns(ns)
        );
        decade += 1.0;
    }
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">latency</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    svg.push_str("</g>\n");

    // One path per series, then the legend.
    svg.push_str("<g class=\"series\" fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\">\n");
    for (i, pts) in all.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let mut d = String::with_capacity(pts.len() * 16);
        for (j, p) in pts.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if j == 0 { "M" } else { " L" }, x(p.nines), y(p.ns));
        }
        let (name, hist) = &series[i];
        let _ = writeln!(
            svg,
            r#"<path d="{d}" stroke="{}" data-series="{n}" data-count="{}" data-p50-ns="{}" data-p99-ns="{}" data-max-ns="{}"><title>{n}</title></path>"#,
            COLORS[i % COLORS.len()],
            hist.len(),
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.max(),
            n = escape(name),
        );
    }
    svg.push_str("</g>\n<g class=\"legend\">\n");
    let lx = WIDTH - RIGHT + 16.0;
    for (i, (name, hist)) in series.iter().enumerate() {
        let ly = TOP + 8.0 + i as f64 * 34.0;
        let q = |p: f64| format_ns(hist.value_at_quantile(p) as f64);
        let stats = if hist.is_empty() {
            "no samples".to_owned()
        } else {
            format!("p50 {} p99 {} max {}", q(0.5), q(0.99), format_ns(hist.max() as f64))
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text x="{tx:.1}" y="{:.1}">{}</text><text x="{tx:.1}" y="{:.1}" fill="#666666" font-size="11">{}</text>"##,
            lx + 18.0,
            COLORS[i % COLORS.len()],
            ly + 4.0,
            escape(name),
            ly + 18.0,
            escape(&stats),
            tx = lx + 24.0,
        );
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

/// One panel of a time-series plot: its name and its `(x, y)` points.
pub type TimeSeries = (String, Vec<(f64, f64)>);

/// Height of one time-series panel, and the gap above each.
const PANEL_H: f64 = 150.0;
const PANEL_GAP: f64 = 34.0;

/// Time series as an SVG document: one panel per series, stacked, sharing the x axis
/// (`x_label`, such as seconds), each with its own linear y axis from zero (or its
/// minimum, if negative) to its maximum, so a flat memory line looks flat and a drift
/// shows at its true size. Each path carries
/// `data-series`, `data-first`, `data-last`, `data-min` and `data-max`.
pub fn time_series_svg(title: &str, x_label: &str, series: &[TimeSeries]) -> String {
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0));
    let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x_lo, x_hi) = if x_lo.is_finite() && x_hi > x_lo { (x_lo, x_hi) } else { (0.0, 1.0) };
    let plot_w = WIDTH - LEFT - 40.0;
    let height = TOP + series.len() as f64 * (PANEL_H + PANEL_GAP) + BOTTOM;
    let x = |v: f64| LEFT + (v - x_lo) / (x_hi - x_lo) * plot_w;
    let mut svg = String::with_capacity(4096 + series.len() * 8192);
    open_svg(&mut svg, title, height, LEFT + plot_w / 2.0);
    for (i, (name, pts)) in series.iter().enumerate() {
        let top = TOP + PANEL_GAP + i as f64 * (PANEL_H + PANEL_GAP);
        let ys = pts.iter().map(|p| p.1).filter(|y| y.is_finite());
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let (y_lo, y_hi) = if lo.is_finite() { (lo.min(0.0), hi.max(0.0)) } else { (0.0, 1.0) };
        let y_hi = if y_hi > y_lo { y_hi } else { y_lo + 1.0 };
        let y = |v: f64| top + (y_hi - v) / (y_hi - y_lo) * PANEL_H;
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_w:.1}" height="{PANEL_H}" fill="none" stroke="#333333"/>
<text x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            top - 8.0,
            escape(name),
            LEFT - 6.0,
            top + 10.0,
            short_number(y_hi),
            LEFT - 6.0,
            top + PANEL_H,
            short_number(y_lo),
        );
        let mut d = String::with_capacity(pts.len() * 16);
        for (j, p) in pts.iter().filter(|p| p.1.is_finite()).enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if j == 0 { "M" } else { " L" }, x(p.0), y(p.1));
        }
        let first = pts.first().map_or(f64::NAN, |p| p.1);
        let last = pts.last().map_or(f64::NAN, |p| p.1);
        let _ = writeln!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.8" data-series="{n}" data-first="{first}" data-last="{last}" data-min="{lo}" data-max="{hi}"><title>{n}</title></path>"#,
            COLORS[i % COLORS.len()],
            n = escape(name),
        );
    }
    let axis_y = height - BOTTOM + 18.0;
    for k in 0..=4 {
        let v = x_lo + (x_hi - x_lo) * f64::from(k) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{axis_y:.1}" text-anchor="middle">{}</text>"#,
            x(v),
            short_number(v)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        axis_y + 20.0,
        escape(x_label)
    );
    svg.push_str("</svg>\n");
    svg
}

/// A number short enough for an axis: `1.5e6` as `1500000`, `0.25` as `0.25`.
/// The document's start: a white canvas `height` high and the title centred on `cx`.
fn open_svg(svg: &mut String, title: &str, height: f64, cx: f64) {
    let _ = write!(
        svg,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<title>{t}</title>
<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>
<text x="{cx:.1}" y="24" text-anchor="middle" font-size="16">{t}</text>
"##,
        t = escape(title),
    );
}

fn short_number(v: f64) -> String {
    if v.fract().abs() < 1e-9 || v.abs() >= 1000.0 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// `0%`, `90%`, `99%`, `99.9%`, ... for 0, 1, 2, 3 nines.
fn percentile_label(nines: u32) -> String {
    match nines {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)).replace(".%", "%"),
    }
}

/// A latency with a unit that keeps it short: `250 ns`, `1.5 µs`, `12 ms`.
fn format_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if v >= 100.0 || v.fract() < 0.05 { format!("{v:.0} {unit}") } else { format!("{v:.1} {unit}") }
}

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_series_panel_per_column_with_its_own_range() {
        let rss = (0..10).map(|i| (f64::from(i) * 10.0, 50_000.0 + f64::from(i % 2))).collect();
        let books = vec![(0.0, 10.0), (10.0, 7.0), (20.0, 10.0)];
        let svg =
            time_series_svg("soak", "seconds", &[("rss_kb".into(), rss), ("books <synced>".into(), books)]);
        assert!(svg.starts_with("<?xml") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<path ").count(), 2);
        assert!(svg.contains(
            r#"data-series="rss_kb" data-first="50000" data-last="50001" data-min="50000" data-max="50001""#
        ));
        assert!(svg.contains("books &lt;synced&gt;"), "names are escaped");
        // Each panel runs from zero to its own maximum: the 1 KiB wiggle on 50 MB stays
        // flat, at the top of its panel.
        let path = svg.split(r#"data-series="rss_kb""#).next().unwrap().rsplit("<path d=\"").next().unwrap();
        let ys: Vec<f64> = path
            .split(['M', 'L', '"'])
            .filter_map(|p| p.trim().split_once(',').and_then(|(_, y)| y.parse().ok()))
            .collect();
        let (lo, hi) = ys.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &y| (lo.min(y), hi.max(y)));
        assert!(hi - lo < 0.5, "{lo} {hi}");
        assert!(
            svg.contains(r#"text-anchor="end">50001</text>"#)
                && svg.contains(r#"text-anchor="end">0</text>"#)
        );
    }

    fn synthetic(base: u64, tail: u64, n: u64) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
        for i in 0..n {
            // Mostly around `base`, one in a thousand out at `tail`.
            let v = if i % 1000 == 999 { tail + i % 7 } else { base + i % 97 };
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn one_path_per_series_in_valid_svg() {
        let (a, b, c) = (
            synthetic(300, 20_000, 100_000),
            synthetic(40, 900, 50_000),
            synthetic(1_000, 2_000_000, 10_000),
        );
        let empty = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
        let series = vec![
            ("tick_to_trade".to_owned(), &a),
            ("hop.book->detect".to_owned(), &b),
            ("stage.<risk> & co".to_owned(), &c),
            ("stage.idle".to_owned(), &empty),
        ];
        let path = std::env::temp_dir().join(format!("arb-plot-{}.svg", std::process::id()));
        write_percentile_svg(&path, "latency \"demo\"", &series).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        if std::env::var_os("ARB_KEEP_PLOT").is_none() {
            std::fs::remove_file(&path).unwrap();
        }
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let paths: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("path")).collect();
        assert_eq!(paths.len(), 3, "one path per non-empty series");
        let t2t = paths.iter().find(|p| p.attribute("data-series") == Some("tick_to_trade")).unwrap();
        assert_eq!(t2t.attribute("data-p50-ns").unwrap(), a.value_at_quantile(0.5).to_string());
        assert_eq!(t2t.attribute("data-max-ns").unwrap(), a.max().to_string());
        assert_eq!(t2t.attribute("data-count").unwrap(), "100000");
        for p in &paths {
            let d = p.attribute("d").unwrap();
            assert!(d.starts_with('M') && d.matches(" L").count() > 10, "{d}");
            for coord in d.split([' ', ',', 'M', 'L']).filter(|s| !s.is_empty()) {
                let v: f64 = coord.parse().unwrap();
                assert!(v.is_finite() && (0.0..=WIDTH).contains(&v), "{coord}");
            }
        }
        let text: String = doc.descendants().filter_map(|n| n.text()).collect();
        for want in ["hop.book->detect", "stage.<risk> & co", "no samples", "99.99%", "0%", "90%", "µs"] {
            assert!(text.contains(want), "{want} not in {text}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!((0..5).map(percentile_label).collect::<Vec<_>>(), ["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(format_ns(250.0), "250 ns");
        assert_eq!(format_ns(1_500.0), "1.5 µs");
        assert_eq!(format_ns(12_000_000.0), "12 ms");
        assert_eq!(format_ns(2e9), "2 s");
    }

    #[test]
    fn no_series_still_draws_axes() {
        let svg = percentile_svg("nothing", &[]);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("path")).count(), 0);
    }
}
