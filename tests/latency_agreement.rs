//! One source of truth for latency: the demo trades the simulated venues for a few
//! seconds, stops, and every place a user reads latency from shows the same numbers for
//! tick-to-trade, a stage and a hop: the report (JSON), the dashboard's view (the
//! `MonitorView` it draws from), `/metrics`, the `.hgrm` files and the SVG plots' data.
//!
//! They all read the same histograms, in nanoseconds, so the percentiles must be equal
//! (the report, the view, the plots) or equal within the precision of the format (the
//! `.hgrm` files print microseconds with three decimals; `/metrics` gives a count, a sum
//! and cumulative buckets, which must hold the median where the report puts it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use arb::cmd::demo;
use arb::config::Config;
use arb::engine::BUCKETS_NS;
use pipeline::metrics::Summary;
use sim::{Sim, SimConfig};

const SERIES: [(&str, &str, &str); 3] = [
    ("tick_to_trade", "latency-path.svg", "arb_tick_to_trade_seconds"),
    ("stage.dispatch", "latency-stage.svg", "arb_stage_latency_seconds{stage=\"dispatch\""),
    ("hop.risk->dispatch", "latency-hop.svg", "arb_hop_latency_seconds{hop=\"risk->dispatch\""),
];

#[test]
fn report_dashboard_metrics_hgrm_and_plots_agree() {
    let sim = Sim::start(SimConfig { seed: 11, ..SimConfig::default() }).expect("sim starts");
    let dir = std::env::temp_dir().join(format!("arb-latency-agree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = demo::config_for(&sim, Config::load(None).unwrap(), dir.join("journal"));
    let session = demo::start_on(&sim, cfg, false).expect("engine starts");
    let telemetry = arb::telemetry::Telemetry::of(&session);
    let metrics = arb::metrics_server::MetricsServer::start("127.0.0.1:0", telemetry.clone()).unwrap();

    // A few operations, so every series has samples.
    let deadline = Instant::now() + Duration::from_secs(60);
    while session.stats().snapshot().risk.approved.iter().sum::<u64>() < 5 {
        assert!(Instant::now() < deadline, "fewer than 5 operations in 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = session.started();
    let stopped = session.stop().expect("clean stop");
    let run_ns = started.elapsed().as_nanos() as u64;
    let hub = stopped.hub.as_ref().expect("the hub comes back");
    let files = arb::engine::write_histograms(hub, &dir.join("hist")).unwrap();
    assert!(!files.is_empty());

    let report = stopped.report.to_json();
    let view = telemetry.view.lock().unwrap().clone();
    let prometheus = http_get(metrics.addr(), "/metrics");

    for (name, svg, metric) in SERIES {
        let from_report = report_entry(&report, name);
        assert!(from_report.count > 0, "{name} has samples");
        // Recorded in ns: nothing can have taken longer than the run itself.
        assert!(
            from_report.max_ns <= run_ns,
            "{name}: max {} ns in a run of {run_ns} ns",
            from_report.max_ns
        );

        let from_view = view.latency.iter().find(|s| s.name == name).expect("in the view");
        assert_eq!(
            (from_view.count, from_view.p50_ns, from_view.p99_ns, from_view.max_ns, from_view.mean_ns),
            (
                from_report.count,
                from_report.p50_ns,
                from_report.p99_ns,
                from_report.max_ns,
                from_report.mean_ns
            ),
            "{name}: the dashboard's view and the report"
        );

        let hgrm = read_hgrm(&dir.join("hist").join(format!("{}.hgrm", name.replace("->", "-to-"))));
        assert_eq!(hgrm.count, from_report.count, "{name}: .hgrm total count");
        assert_close(hgrm.max_us * 1000.0, from_report.max_ns, &format!("{name}: .hgrm max"));
        assert_close(hgrm.at(0.5) * 1000.0, from_report.p50_ns, &format!("{name}: .hgrm p50"));
        assert_close(hgrm.at(0.99) * 1000.0, from_report.p99_ns, &format!("{name}: .hgrm p99"));

        let plot = read_plot(&dir.join("hist").join(svg), name);
        assert_eq!(
            plot,
            [from_report.count, from_report.p50_ns, from_report.p99_ns, from_report.max_ns],
            "{name}: {svg}"
        );

        let prom = read_prometheus(&prometheus, metric);
        assert_eq!(prom.count, from_report.count, "{name}: /metrics count");
        let mean_ns = prom.sum_s * 1e9 / prom.count as f64;
        assert_close(mean_ns, from_report.mean_ns, &format!("{name}: /metrics sum / count"));
        // The buckets hold the median where the report puts it: at least half the
        // samples at or below the first bound above p50, fewer than half at or below
        // the last bound under it.
        let half = prom.count.div_ceil(2);
        let p50 = from_report.p50_ns;
        if let Some(i) = BUCKETS_NS.iter().position(|&b| b as f64 >= p50 as f64 * 1.001) {
            assert!(
                prom.le[i] >= half,
                "{name}: /metrics le {} holds {} of {}, p50 {p50} ns",
                BUCKETS_NS[i],
                prom.le[i],
                prom.count
            );
        }
        if let Some(i) = BUCKETS_NS.iter().rposition(|&b| (b as f64) < p50 as f64 / 1.001) {
            assert!(
                prom.le[i] < half,
                "{name}: /metrics le {} holds {} of {}, p50 {p50} ns",
                BUCKETS_NS[i],
                prom.le[i],
                prom.count
            );
        }
    }
    drop(metrics);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Equal within the precision of three significant decimal digits (HdrHistogram's) plus
/// the .hgrm file's rounding to a nanosecond.
fn assert_close(got: f64, want: u64, what: &str) {
    let tolerance = want as f64 * 0.001 + 1.0;
    assert!((got - want as f64).abs() <= tolerance, "{what}: {got} vs {want} ns");
}

fn report_entry(report: &serde_json::Value, name: &str) -> Summary {
    let lat = &report["latency"];
    let e = if name == "tick_to_trade" {
        &lat["tick_to_trade_ns"]
    } else if let Some(stage) = name.strip_prefix("stage.") {
        &lat[stage]
    } else {
        &lat["hops"][name.trim_start_matches("hop.")]
    };
    let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{name}.{k} in {e}"));
    Summary {
        name: name.to_owned(),
        kind: pipeline::metrics::SeriesKind::Path,
        count: n("count"),
        p50_ns: n("p50"),
        p90_ns: n("p90"),
        p99_ns: n("p99"),
        p999_ns: n("p999"),
        max_ns: n("max"),
        mean_ns: n("mean"),
    }
}

struct Hgrm {
    /// (percentile, value in µs), in file order.
    rows: Vec<(f64, f64)>,
    max_us: f64,
    count: u64,
}

impl Hgrm {
    /// The value at the first row whose percentile reaches `q`.
    fn at(&self, q: f64) -> f64 {
        self.rows.iter().find(|(p, _)| *p >= q).map(|r| r.1).expect("percentile in the file")
    }
}

fn read_hgrm(path: &Path) -> Hgrm {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = Vec::new();
    let (mut max_us, mut count) = (f64::NAN, 0);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#[Max     =") {
            let (max, total) = rest.split_once(", Total count    =").unwrap();
            max_us = max.trim().parse().unwrap();
            count = total.trim_end_matches(']').trim().parse().unwrap();
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 3 && !line.starts_with('#') {
            if let (Ok(v), Ok(p)) = (f[0].parse::<f64>(), f[1].parse::<f64>()) {
                rows.push((p, v));
            }
        }
    }
    Hgrm { rows, max_us, count }
}

/// `[count, p50, p99, max]` of `series` as the SVG plot carries them.
fn read_plot(path: &Path, series: &str) -> [u64; 4] {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let p = doc
        .descendants()
        .find(|n| n.has_tag_name("path") && n.attribute("data-series") == Some(series))
        .unwrap_or_else(|| panic!("{series} not plotted in {}", path.display()));
    let n = |k: &str| p.attribute(k).unwrap().parse::<u64>().unwrap();
    [n("data-count"), n("data-p50-ns"), n("data-p99-ns"), n("data-max-ns")]
}

struct Prom {
    le: Vec<u64>,
    count: u64,
    sum_s: f64,
}

/// The histogram `metric` (a name, or a name with its first label unclosed) in the text
/// exposition.
fn read_prometheus(text: &str, metric: &str) -> Prom {
    let (name, label) = match metric.split_once('{') {
        Some((n, l)) => (n, Some(l)),
        None => (metric, None),
    };
    let mut le = Vec::new();
    let (mut count, mut sum_s) = (None, None);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else { continue };
        if label.is_some_and(|l| !key.contains(l)) {
            continue;
        }
        if key.starts_with(&format!("{name}_bucket")) && !key.contains("+Inf") {
            le.push(value.parse().unwrap());
        } else if key.starts_with(&format!("{name}_count")) {
            count = Some(value.parse().unwrap());
        } else if key.starts_with(&format!("{name}_sum")) {
            sum_s = Some(value.parse().unwrap());
        }
    }
    assert_eq!(le.len(), BUCKETS_NS.len(), "{metric} buckets in /metrics");
    Prom { le, count: count.expect("a count"), sum_s: sum_s.expect("a sum") }
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
