//! `arb bench pipeline`: synthetic events through the six stages in the configured
//! layout, against a bare rtrb floor measured in the same process.

use std::fmt::Write as _;

use anyhow::Result;
use pipeline::bench::{self, BATCH, ChainLatency};
use pipeline::metrics::Summary;
use pipeline::runtime::Layout;
use serde_json::json;

/// What the benchmark measured.
#[derive(Debug)]
pub struct PipelineBench {
    pub layout: Layout,
    pub events: u64,
    pub throughput_events: u64,
    pub latency: ChainLatency,
    pub floor: Summary,
    pub throughput_single: f64,
    pub throughput_batched: f64,
    pub floor_throughput_single: f64,
    pub floor_throughput_batched: f64,
    pub chain_throughput_batched: f64,
    pub cores: (Option<usize>, Option<usize>),
}

/// The cores of the first pair of stages that sit on different threads, so the floor
/// runs where the runtime's cross-thread hop runs.
fn floor_cores(layout: &Layout) -> (Option<usize>, Option<usize>) {
    let core_of = |stage: &str| {
        layout.threads.iter().find(|t| t.stages.iter().any(|s| s == stage)).and_then(|t| t.core)
    };
    let thread_of = |stage: &str| layout.threads.iter().position(|t| t.stages.iter().any(|s| s == stage));
    pipeline::STAGES
        .windows(2)
        .find(|w| thread_of(w[0]) != thread_of(w[1]))
        .map(|w| (core_of(w[0]), core_of(w[1])))
        .unwrap_or((None, None))
}

pub fn run(layout: Layout, events: u64, throughput_events: u64) -> Result<PipelineBench> {
    let stages = pipeline::STAGES;
    let cores = floor_cores(&layout);
    // Warm up caches, the clock calibration and the thread machinery once.
    let _ = bench::floor_latency(events.min(10_000), cores);
    let latency = bench::chain_latency(&layout, &stages, events)?;
    let floor = bench::floor_latency(events, cores);
    let throughput_single = bench::link_throughput(throughput_events, 1, cores);
    let throughput_batched = bench::link_throughput(throughput_events, BATCH, cores);
    let floor_throughput_single = bench::floor_throughput(throughput_events, 1, cores);
    let floor_throughput_batched = bench::floor_throughput(throughput_events, BATCH, cores);
    let chain_throughput_batched = bench::chain_throughput(&layout, &stages, throughput_events, BATCH)?;
    Ok(PipelineBench {
        layout,
        events,
        throughput_events,
        latency,
        floor,
        throughput_single,
        throughput_batched,
        floor_throughput_single,
        floor_throughput_batched,
        chain_throughput_batched,
        cores,
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn describe_layout(layout: &Layout) -> String {
    layout
        .threads
        .iter()
        .map(|t| {
            let core = t.core.map(|c| format!("@{c}")).unwrap_or_default();
            format!("{}{core}[{}]", t.name, t.stages.join("+"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl PipelineBench {
    pub fn to_json(&self) -> serde_json::Value {
        let hops: Vec<_> = self
            .latency
            .hops
            .iter()
            .map(|h| {
                json!({
                    "name": h.name, "cross_thread": h.cross_thread,
                    "p50_ns": h.summary.p50_ns, "p99_ns": h.summary.p99_ns,
                    "p999_ns": h.summary.p999_ns, "max_ns": h.summary.max_ns,
                })
            })
            .collect();
        let hop = &self.latency.hop;
        let e2e = &self.latency.end_to_end;
        json!({
            "layout": describe_layout(&self.layout),
            "cpu": cpu_model(),
            "events": self.events,
            "throughput_events": self.throughput_events,
            "hop_p50_ns": hop.p50_ns,
            "hop_p99_ns": hop.p99_ns,
            "hop_p999_ns": hop.p999_ns,
            "floor_hop_p50_ns": self.floor.p50_ns,
            "floor_hop_p99_ns": self.floor.p99_ns,
            "floor_hop_p999_ns": self.floor.p999_ns,
            "ratio_p50": ratio(hop.p50_ns, self.floor.p50_ns),
            "ratio_p99": ratio(hop.p99_ns, self.floor.p99_ns),
            "e2e_p50_ns": e2e.p50_ns,
            "e2e_p99_ns": e2e.p99_ns,
            "e2e_p999_ns": e2e.p999_ns,
            "throughput_single_per_s": self.throughput_single.round(),
            "throughput_batched_per_s": self.throughput_batched.round(),
            "floor_throughput_single_per_s": self.floor_throughput_single.round(),
            "floor_throughput_batched_per_s": self.floor_throughput_batched.round(),
            "chain_throughput_batched_per_s": self.chain_throughput_batched.round(),
            "hops": hops,
        })
    }

    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "pipeline bench: six trivial stages, layout {}", describe_layout(&self.layout));
        let _ = writeln!(o, "cpu: {}", cpu_model());
        let _ = writeln!(o, "latency: {} paced events (one in flight at a time)\n", self.events);
        let _ =
            writeln!(o, "{:<28} {:>9} {:>9} {:>9} {:>9}", "hop", "p50 ns", "p99 ns", "p99.9 ns", "max ns");
        let row = |o: &mut String, name: &str, s: &Summary| {
            let _ =
                writeln!(o, "{name:<28} {:>9} {:>9} {:>9} {:>9}", s.p50_ns, s.p99_ns, s.p999_ns, s.max_ns);
        };
        for h in &self.latency.hops {
            let name = format!("{}{}", h.name, if h.cross_thread { " (x-thread)" } else { "" });
            row(&mut o, &name, &h.summary);
        }
        row(&mut o, &self.latency.hop.name, &self.latency.hop);
        row(&mut o, "end-to-end", &self.latency.end_to_end);
        row(&mut o, "floor: bare rtrb, 2 threads", &self.floor);
        let hop = &self.latency.hop;
        let _ = writeln!(
            o,
            "\nratio ours/floor: p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x",
            ratio(hop.p50_ns, self.floor.p50_ns),
            ratio(hop.p99_ns, self.floor.p99_ns),
            ratio(hop.p999_ns, self.floor.p999_ns)
        );
        let m = |v: f64| v / 1e6;
        let _ = writeln!(o, "\nthroughput ({} events each, M events/s):", self.throughput_events);
        let _ = writeln!(
            o,
            "  link, 2 threads   single {:>7.1}   batched({BATCH}) {:>7.1}",
            m(self.throughput_single),
            m(self.throughput_batched)
        );
        let _ = writeln!(
            o,
            "  floor, bare rtrb  single {:>7.1}   batched({BATCH}) {:>7.1}",
            m(self.floor_throughput_single),
            m(self.floor_throughput_batched)
        );
        let _ = writeln!(
            o,
            "  six-stage chain                    batched({BATCH}) {:>7.1}",
            m(self.chain_throughput_batched)
        );
        let _ = writeln!(
            o,
            "  ratio ours/floor  single {:>6.2}x   batched {:>6.2}x",
            self.throughput_single / self.floor_throughput_single,
            self.throughput_batched / self.floor_throughput_batched
        );
        o
    }
}

/// The CPU model from /proc/cpuinfo, for the record.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
