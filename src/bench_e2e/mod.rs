//! `arb bench e2e`: venue frames in, signed order bytes out, through the engine's real
//! stages, measured end to end against the floors of each part of the path.
//!
//! The engine is the one `arb run` starts ([`crate::engine::start`]): the md stage plays
//! the frames ([`frames`]) through the venues' real decoders, one frame per interval,
//! each stamped when the md stage takes it; the book, detect, risk, dispatch and state
//! stages run in the configured thread layout with the journal on (real files in a
//! temporary directory); dispatch hands each order to the wire sink, which
//! builds the venue's real request, signs it, and writes it through TLS to a loopback
//! socket drained by another thread ([`crate::engine::wire`]). Tick-to-trade is the dispatcher's own measurement:
//! the trigger frame's stamp to the first leg's bytes written, and to the last leg's.
//! The floors ([`floors`]) are measured in the same process right after the run.

pub mod floors;
pub mod frames;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use adapters::decode::DecodeStats;
use adapters::feed::ReplaySource;
use adapters::venues::VenueMarket;
use anyhow::{Context, Result, bail};
use pipeline::metrics::SeriesKind;
use pipeline::runtime::{IdleKind, Layout, ThreadSpec};
use pipeline::types::Instruments;
use quanta::Clock;
use serde_json::{Value, json};

use self::floors::{Floors, Stat};
use crate::config::Config;
use crate::engine::wire::{Drained, WireSink, Written};
use crate::engine::{self, EngineSink, EngineSpec, FeedSpec};

/// What `arb bench e2e` was asked.
#[derive(Clone, Debug)]
pub struct E2eArgs {
    /// A configuration file whose `[[layout.threads]]` to use.
    pub layout: Option<PathBuf>,
    /// A capture whose frames are played after the recorded ones, before the timed part.
    pub frames: Option<PathBuf>,
    /// Crossing frames (operations) in the timed part.
    pub crossings: usize,
    /// Time between two timed frames.
    pub interval: Duration,
    /// Iterations of each floor measurement.
    pub floor_iterations: u64,
    /// Pairs per venue market: BTC/USDT, whose books cross, and `instruments - 1` more
    /// whose books move without crossing ([`frames`]).
    pub instruments: usize,
    /// Gate.io orders over the WebSocket trading API (`order_entry = "ws"`) instead of
    /// signed REST requests.
    pub gate_ws: bool,
}

impl Default for E2eArgs {
    fn default() -> Self {
        E2eArgs {
            layout: None,
            frames: None,
            crossings: 2_000,
            interval: Duration::from_micros(200),
            floor_iterations: 20_000,
            instruments: 1,
            gate_ws: false,
        }
    }
}

/// The compact layout for a 2-core machine: the whole tick-to-trade chain (md, book,
/// detect, risk, dispatch) on one thread, so a frame becomes orders in one pass with no
/// thread hop; the state stage on the other; both parking when idle, woken by a push.
pub fn compact_layout() -> Layout {
    let park = |name: &str, stages: &[&str]| ThreadSpec::new(name, stages).idle(IdleKind::Park);
    Layout::new(vec![park("trade", &["md", "book", "detect", "risk", "dispatch"]), park("state", &["state"])])
}

fn layout_from(path: &std::path::Path) -> Result<Layout> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: toml::Table = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let Some(layout) = v.get("layout") else { bail!("{}: no [layout] table", path.display()) };
    layout.clone().try_into().with_context(|| format!("{}: [layout]", path.display()))
}

/// One latency series of the run.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub stat: Stat,
}

/// What the bench measured.
#[derive(Debug)]
pub struct E2eBench {
    pub layout: Layout,
    pub frames: u64,
    pub crossing_frames: usize,
    pub opportunities: u64,
    pub executed: u64,
    pub rejected: Vec<(String, u64)>,
    pub orders: u64,
    pub orders_by_market: Vec<(String, u64, u64, u64)>,
    pub write_failures: u64,
    pub t2t: Stat,
    pub first_leg: Stat,
    pub stages: Vec<Series>,
    pub hops: Vec<Series>,
    /// Inside the dispatch stage, from the order sink: the first leg's wait for the
    /// operation's journal write, and each leg's request build and its seal and write.
    pub sink: Vec<Series>,
    pub floors: Floors,
    /// The same floors, each sample after the frames' interval of idling (the bare hop
    /// is the hot one).
    pub floors_paced: Floors,
    pub cross_thread_hops: u64,
    pub samples: Vec<(String, String)>,
    pub journal_bytes: u64,
    pub wall: Duration,
    /// Time between two timed frames.
    pub interval: Duration,
    /// Pairs per venue market the run had.
    pub instruments: usize,
    /// Books the engine kept, and their memory (in place and heap) at the end.
    pub books: usize,
    pub book_bytes: u64,
    /// Per stage thread: (name, passes, parks, wake-ups by a push).
    pub threads: Vec<(String, u64, u64, u64)>,
    /// Gate.io's orders went as trading API frames.
    pub gate_ws: bool,
}

/// One run of [`run_scaling`]: the universe's size and what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalePoint {
    /// Pairs per venue market.
    pub instruments: usize,
    pub t2t_p50_ns: u64,
    pub t2t_p99_ns: u64,
    pub book_bytes: u64,
}

impl ScalePoint {
    pub fn to_json(&self) -> Value {
        json!({
            "instruments": self.instruments,
            "t2t_p50_ns": self.t2t_p50_ns,
            "t2t_p99_ns": self.t2t_p99_ns,
            "book_bytes": self.book_bytes,
        })
    }
}

/// The bench once per size in `sizes` (pairs per venue market), in that order, in one
/// process: the last run's full result and every run's point.
pub fn run_scaling(args: &E2eArgs, sizes: &[usize]) -> Result<(E2eBench, Vec<ScalePoint>)> {
    let mut points = Vec::new();
    let mut last = None;
    for &n in sizes {
        let b = run(&E2eArgs { instruments: n.max(1), ..args.clone() })?;
        points.push(ScalePoint {
            instruments: b.instruments,
            t2t_p50_ns: b.t2t.p50_ns,
            t2t_p99_ns: b.t2t.p99_ns,
            book_bytes: b.book_bytes,
        });
        last = Some(b);
    }
    let last = last.context("no instrument count given")?;
    Ok((last, points))
}

/// The scaling table, one row per run.
pub fn scaling_text(points: &[ScalePoint]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "
{:>12} {:>12} {:>12} {:>14} {:>16}",
        "instruments", "t2t p50 ns", "t2t p99 ns", "book bytes", "p50 / first p50"
    );
    let first = points.first().map_or(0, |p| p.t2t_p50_ns);
    for p in points {
        let _ = writeln!(
            o,
            "{:>12} {:>12} {:>12} {:>14} {:>15.2}x",
            p.instruments,
            p.t2t_p50_ns,
            p.t2t_p99_ns,
            p.book_bytes,
            ratio(p.t2t_p50_ns, first)
        );
    }
    o
}

fn thread_of(layout: &Layout, stage: &str) -> Option<usize> {
    layout.threads.iter().position(|t| t.stages.iter().any(|s| s == stage))
}

/// Cross-thread hops between md and dispatch in `layout`.
fn path_hops(layout: &Layout) -> u64 {
    ["md", "book", "detect", "risk", "dispatch"]
        .windows(2)
        .filter(|w| thread_of(layout, w[0]) != thread_of(layout, w[1]))
        .count() as u64
}

fn bench_config(layout: Layout, journal: PathBuf) -> Result<Config> {
    let mut cfg = Config::load(None)?;
    cfg.layout = layout;
    cfg.dry_run = false;
    cfg.journal.dir = journal;
    // Every crossing is a new chance: no cooldown, no rate limit, limits no run reaches.
    cfg.detect.cooldown_ms = 0;
    cfg.risk.rate_limits.clear();
    let big = pipeline::units::Usd::new(1_000_000_000);
    cfg.risk.max_position_size_usd = big;
    cfg.risk.max_total_exposure_usd = big;
    cfg.risk.max_daily_loss_usd = big;
    Ok(cfg)
}

/// Runs the bench.
pub fn run(args: &E2eArgs) -> Result<E2eBench> {
    let layout = match &args.layout {
        Some(p) => layout_from(p)?,
        None => compact_layout(),
    };
    let mut f = frames::frames(args.crossings, args.instruments.max(1))?;
    if let Some(path) = &args.frames {
        let extra = adapters::capture::read_file(path)?;
        f.specs.extend(adapters::feed::metadata_specs(&extra));
        f.warmup.extend(extra);
    }
    // One spec per (venue, market, symbol): the generated ones win.
    let mut seen = std::collections::HashSet::new();
    f.specs.retain(|s| seen.insert((s.venue, s.market, s.symbol.clone())));
    let instruments = Instruments::from_specs(&f.specs)?;
    let step = args.interval.as_nanos() as u64;
    let mut records = std::mem::take(&mut f.warmup);
    for (i, r) in records.iter_mut().enumerate() {
        r.recv_ns = i as u64;
    }
    // The timed part starts once the warm-up has surely been played.
    let start = 500_000_000u64;
    let mut timed = std::mem::take(&mut f.timed);
    for (i, r) in timed.iter_mut().enumerate() {
        r.recv_ns = start + i as u64 * step;
    }
    let frames = (records.len() + timed.len()) as u64;
    records.extend(timed);

    let dir = std::env::temp_dir().join(format!("arb-bench-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = bench_config(layout.clone(), dir.join("journal"))?;
    let clock = Clock::new();
    let source = ReplaySource::new(&instruments, records, DecodeStats::new()).paced_as_read(1);
    let done = source.done_flag();
    let drained = Arc::new(Drained::default());
    let written = Arc::new(Written::default());
    let (d, w, gate_ws) = (drained.clone(), written.clone(), args.gate_ws);
    let sink: Box<dyn FnOnce(engine::SinkContext) -> Result<EngineSink> + Send> = Box::new(move |ctx| {
        let sink = WireSink::new(ctx.instruments, ctx.client_prefix, ctx.clock, d, w, gate_ws)?;
        Ok(EngineSink::Wire(Box::new(sink)))
    });
    let started = Instant::now();
    let session = engine::start(EngineSpec {
        config: cfg,
        specs: f.specs.clone(),
        feed: FeedSpec::Replay(Box::new(source)),
        sink: Some(sink),
        clock,
        metrics_clock: None,
    })?;
    while !done.load(Ordering::Acquire) && !session.control().is_stop_requested() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let journal_dir = session.journal_dir().clone();
    let stopped = session.stop()?;
    let wall = started.elapsed();
    if !stopped.faults.is_empty() {
        bail!("the engine halted: {}", stopped.faults.join("; "));
    }
    let threads = stopped.threads.iter().map(|t| (t.name.clone(), t.passes, t.parks, t.wakes)).collect();
    let hub = stopped.hub.context("the engine kept no histograms")?;
    let report = &stopped.report;

    let mut t2t = Stat::default();
    let mut first_leg = Stat::default();
    let mut stages = Vec::new();
    let mut hops = Vec::new();
    for (name, kind, h) in hub.totals() {
        if h.is_empty() {
            continue;
        }
        let stat = Stat::of(h);
        match (name, kind) {
            ("tick_to_trade", _) => t2t = stat,
            ("tick_to_trade.first_leg", _) => first_leg = stat,
            (_, SeriesKind::Stage) => stages.push(Series { name: name.to_owned(), stat }),
            (_, SeriesKind::Hop) => hops.push(Series { name: name.to_owned(), stat }),
            _ => {}
        }
    }
    let sink = written
        .legs
        .lock()
        .ok()
        .and_then(|l| {
            l.as_ref().map(|l| {
                let series = l.series().into_iter().filter(|(_, h)| !h.is_empty());
                series.map(|(n, h)| Series { name: n.to_owned(), stat: Stat::of(h) }).collect::<Vec<_>>()
            })
        })
        .unwrap_or_default();
    let journal_bytes = std::fs::read_dir(&journal_dir)
        .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    let mut orders_by_market = Vec::new();
    let mut samples = Vec::new();
    for vm in VenueMarket::ALL {
        let i = vm.index();
        let n = written.orders[i].load(Ordering::Relaxed);
        if n == 0 {
            continue;
        }
        orders_by_market.push((
            vm.to_string(),
            n,
            written.bytes[i].load(Ordering::Relaxed),
            drained.bytes[i].load(Ordering::Relaxed),
        ));
        let mut first = drained.first[i].lock().map(|b| b.clone()).unwrap_or_default();
        if args.gate_ws && vm.venue() == pipeline::types::Venue::GateIo {
            first = unmask_first_frame(&first).unwrap_or_default();
        }
        samples.push((vm.to_string(), String::from_utf8_lossy(&first).into_owned()));
    }
    let floor_dir = dir.join("floor");
    std::fs::create_dir_all(&floor_dir)?;
    let n = args.floor_iterations;
    let floors = floors::measure(&instruments, &f.samples, n, Duration::ZERO, &floor_dir, args.gate_ws)?;
    let mut floors_paced = floors::measure(
        &instruments,
        &f.samples,
        (n / 10).max(100),
        args.interval,
        &floor_dir,
        args.gate_ws,
    )?;
    floors_paced.hop = floors.hop.clone();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(E2eBench {
        cross_thread_hops: path_hops(&layout),
        layout,
        frames,
        crossing_frames: f.crossing,
        opportunities: report.opportunities_detected,
        executed: report.opportunities_executed,
        rejected: report
            .rejected_by_reason
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect(),
        orders: orders_by_market.iter().map(|o| o.1).sum(),
        orders_by_market,
        write_failures: written.failed.load(Ordering::Relaxed),
        t2t,
        first_leg,
        stages,
        hops,
        sink,
        floors,
        floors_paced,
        samples,
        journal_bytes,
        wall,
        interval: args.interval,
        threads,
        instruments: args.instruments.max(1),
        books: report.books,
        book_bytes: report.book_bytes,
        gate_ws: args.gate_ws,
    })
}

/// The text of the first client frame in `wire` (masked as clients send), for the report.
fn unmask_first_frame(wire: &[u8]) -> Option<Vec<u8>> {
    let (&b1, rest) = wire.get(1..)?.split_first()?;
    let (len, rest) = match b1 & 0x7f {
        126 => (usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)), &rest[2..]),
        127 => (usize::try_from(u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)).ok()?, &rest[8..]),
        n => (usize::from(n), rest),
    };
    let key = rest.get(..4)?;
    let body = rest.get(4..4 + len)?;
    Some(body.iter().enumerate().map(|(i, b)| b ^ key[i & 3]).collect())
}

fn describe_layout(layout: &Layout) -> String {
    layout
        .threads
        .iter()
        .map(|t| {
            let core = t.core.map(|c| format!("@{c}")).unwrap_or_default();
            format!("{}{core}[{}]({:?})", t.name, t.stages.join("+"), t.idle)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn stat_json(s: &Stat) -> Value {
    json!({"count": s.count, "p50_ns": s.p50_ns, "p99_ns": s.p99_ns, "p999_ns": s.p999_ns, "max_ns": s.max_ns})
}

fn floors_json(f: &Floors) -> Value {
    let named = |v: &[(String, Stat)]| -> Value {
        v.iter().map(|(n, s)| (n.clone(), stat_json(s))).collect::<serde_json::Map<_, _>>().into()
    };
    json!({
        "parse": named(&f.parse),
        "hop": stat_json(&f.hop),
        "journal_write": stat_json(&f.journal),
        "sign": named(&f.sign),
        "tls_record": stat_json(&f.tls_record),
        "socket_write": stat_json(&f.socket_write),
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { (a as f64 / b as f64 * 100.0).round() / 100.0 }
}

/// The engine's tick-to-trade targets, for the first leg: p50 under 5 us and within 1.3x
/// of the path's floor from the same run, and p99 under 20 us, on a core the trading
/// thread has to itself; and p99 within 2x of p50 on the production layout, one stage per
/// isolated core.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub name: &'static str,
    pub value: f64,
    pub limit: f64,
    /// Shown after the value and the limit: "ns" or "x".
    pub unit: &'static str,
}

impl Target {
    pub fn met(&self) -> bool {
        self.value <= self.limit
    }
}

impl E2eBench {
    /// The targets, each with this run's value.
    pub fn targets(&self) -> [Target; 4] {
        let (p50, p99) = (self.first_leg.p50_ns, self.first_leg.p99_ns);
        let t = |name, value, limit, unit| Target { name, value, limit, unit };
        [
            t("first_leg_p50_ns", p50 as f64, 5_000.0, "ns"),
            t("first_leg_p50_to_floor", ratio(p50, self.floor_path_p50()), 1.3, "x"),
            t("first_leg_p99_ns", p99 as f64, 20_000.0, "ns"),
            t("first_leg_p99_to_p50", ratio(p99, p50), 2.0, "x"),
        ]
    }

    pub fn floor_path_p50(&self) -> u64 {
        self.floors.path_p50(self.cross_thread_hops)
    }

    pub fn floor_path_paced_p50(&self) -> u64 {
        self.floors_paced.path_p50(self.cross_thread_hops)
    }

    pub fn to_json(&self) -> Value {
        let series = |v: &[Series]| -> Value {
            v.iter().map(|s| (s.name.clone(), stat_json(&s.stat))).collect::<serde_json::Map<_, _>>().into()
        };
        let f = &self.floors;
        json!({
            "layout": describe_layout(&self.layout),
            "gate_entry": if self.gate_ws { "ws" } else { "rest" },
            "cpu": crate::cmd::bench::cpu_model(),
            "frames": self.frames,
            "crossing_frames": self.crossing_frames,
            "opportunities": self.opportunities,
            "executed": self.executed,
            "rejected": self.rejected.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "orders": self.orders,
            "orders_by_market": self.orders_by_market.iter().map(|(m, n, w, d)| (m.clone(), json!({"orders": n, "bytes_written": w, "bytes_drained": d}))).collect::<serde_json::Map<_, _>>(),
            "write_failures": self.write_failures,
            "t2t_count": self.t2t.count,
            "t2t_p50_ns": self.t2t.p50_ns,
            "t2t_p99_ns": self.t2t.p99_ns,
            "t2t_p999_ns": self.t2t.p999_ns,
            "t2t_max_ns": self.t2t.max_ns,
            "t2t_first_leg_count": self.first_leg.count,
            "t2t_first_leg_p50_ns": self.first_leg.p50_ns,
            "t2t_first_leg_p99_ns": self.first_leg.p99_ns,
            "t2t_first_leg_p999_ns": self.first_leg.p999_ns,
            "t2t_first_leg_max_ns": self.first_leg.max_ns,
            "t2t_last_leg_p50_ns": self.t2t.p50_ns,
            "floor_path_p50_ns": self.floor_path_p50(),
            "ratio_t2t_first_leg_to_floor_p50": ratio(self.first_leg.p50_ns, self.floor_path_p50()),
            "cross_thread_hops": self.cross_thread_hops,
            "stages": series(&self.stages),
            "hops": series(&self.hops),
            "sink": series(&self.sink),
            "floors": floors_json(f),
            "floor_path_paced_p50_ns": self.floor_path_paced_p50(),
            "ratio_t2t_first_leg_to_paced_floor_p50": ratio(self.first_leg.p50_ns, self.floor_path_paced_p50()),
            "floors_paced": floors_json(&self.floors_paced),
            "targets": self.targets().iter().map(|t| (t.name.to_owned(), json!({"value": t.value, "limit": t.limit, "met": t.met()}))).collect::<serde_json::Map<_, _>>(),
            "threads": self.threads.iter().map(|(n, passes, parks, wakes)| (n.clone(), json!({"passes": passes, "parks": parks, "wakes": wakes}))).collect::<serde_json::Map<_, _>>(),
            "journal_bytes": self.journal_bytes,
            "instruments": self.instruments,
            "books": self.books,
            "book_bytes": self.book_bytes,
            "samples": self.samples.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "wall_ms": self.wall.as_millis() as u64,
        })
    }

    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "e2e bench: layout {}", describe_layout(&self.layout));
        let _ =
            writeln!(o, "gate.io order entry: {}", if self.gate_ws { "ws (trading API)" } else { "rest" });
        let _ = writeln!(o, "cpu: {}", crate::cmd::bench::cpu_model());
        let _ = writeln!(
            o,
            "frames {} ({} crossing), opportunities {}, executed {}, orders {} ({} write failures)",
            self.frames,
            self.crossing_frames,
            self.opportunities,
            self.executed,
            self.orders,
            self.write_failures
        );
        for (m, n, w, d) in &self.orders_by_market {
            let _ = writeln!(o, "  {m:<14} {n:>7} orders, {w} bytes written, {d} drained");
        }
        if !self.rejected.is_empty() {
            let r: Vec<String> = self.rejected.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(o, "  risk refusals: {}", r.join(", "));
        }
        let _ = writeln!(
            o,
            "\n{:<36} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "series (ns)", "count", "p50", "p99", "p99.9", "max"
        );
        let row = |o: &mut String, name: &str, s: &Stat| {
            let _ = writeln!(
                o,
                "{name:<36} {:>8} {:>9} {:>9} {:>9} {:>9}",
                s.count, s.p50_ns, s.p99_ns, s.p999_ns, s.max_ns
            );
        };
        row(&mut o, "tick_to_trade first leg", &self.first_leg);
        row(&mut o, "tick_to_trade last leg", &self.t2t);
        for s in self.stages.iter().chain(&self.hops).chain(&self.sink) {
            row(&mut o, &s.name, &s.stat);
        }
        let f = &self.floors;
        for (n, s) in &f.parse {
            row(&mut o, &format!("floor.parse {n}"), s);
        }
        row(&mut o, "floor.hop (bare rtrb)", &f.hop);
        row(&mut o, "floor.journal_write", &f.journal);
        for (n, s) in &f.sign {
            row(&mut o, &format!("floor.sign {n}"), s);
        }
        row(&mut o, "floor.tls_record", &f.tls_record);
        row(&mut o, "floor.socket_write", &f.socket_write);
        let floor = self.floor_path_p50();
        let _ = writeln!(
            o,
            "\nfloor of the path (parse + {} hop(s) + journal + sign + TLS + socket), p50: {floor} ns",
            self.cross_thread_hops
        );
        let _ = writeln!(
            o,
            "tick-to-trade p50 / floor: first leg {:.2}x, last leg {:.2}x",
            ratio(self.first_leg.p50_ns, floor),
            ratio(self.t2t.p50_ns, floor)
        );
        let paced = self.floor_path_paced_p50();
        let p = &self.floors_paced;
        let mean =
            |v: &[(String, Stat)]| v.iter().map(|(_, s)| s.p50_ns).sum::<u64>() / v.len().max(1) as u64;
        let _ = writeln!(
            o,
            "the same floor with each part after {} us idle (the frames' pace), p50: {paced} ns \
             (parse {}, journal {}, sign {}, TLS {}, socket {})",
            self.interval.as_micros(),
            mean(&p.parse),
            p.journal.p50_ns,
            mean(&p.sign),
            p.tls_record.p50_ns,
            p.socket_write.p50_ns
        );
        let _ = writeln!(
            o,
            "tick-to-trade p50 / paced floor: first leg {:.2}x, last leg {:.2}x",
            ratio(self.first_leg.p50_ns, paced),
            ratio(self.t2t.p50_ns, paced)
        );
        let _ = writeln!(o, "\ntargets (first leg; p99/p50 is the production layout's):");
        for t in self.targets() {
            let verdict = if t.met() { "met" } else { "not met" };
            let _ = writeln!(
                o,
                "  {:<24} {:>10} {} <= {} {}: {verdict}",
                t.name, t.value, t.unit, t.limit, t.unit
            );
        }
        for (name, passes, parks, wakes) in &self.threads {
            let _ = writeln!(
                o,
                "thread {name}: {passes} passes, {parks} parks, {wakes} woken by a push (futex wakes)"
            );
        }
        o
    }
}
