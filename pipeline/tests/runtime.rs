//! The runtime under load: ordering and no loss across threads, every idle policy, one
//! and several threads, shutdown under load, and a stage that panics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline::metrics::{MetricsHub, SeriesKind};
use pipeline::runtime::{Backpressure, Control, IdleKind, Layout, RunError, Runner, Stage, ThreadSpec, link};
use pipeline::synthetic::{Emit, Probe, Progress, Relay, Sink, Source};
use quanta::Clock;

const STAGES: [&str; 4] = ["source", "relay1", "relay2", "sink"];

struct Chain {
    runner: Runner,
    hub: MetricsHub,
    progress: Arc<Progress>,
}

/// source -> relay1 -> relay2 -> sink, each link `cap` slots.
fn chain(emit: Emit, batch: usize, limit: u64, cap: usize) -> Chain {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let progress = Progress::new();
    let mut runner = Runner::new(clock.clone());
    let mut ends = Vec::new();
    for i in 0..3 {
        let rec = hub.recorder(format!("hop{i}"), SeriesKind::Hop);
        ends.push(link::<Probe>(format!("hop{i}"), cap, Backpressure::Retry, clock.clone(), rec));
    }
    let path = hub.recorder("e2e", SeriesKind::Path);
    let (tx0, rx0) = ends.remove(0);
    let (tx1, rx1) = ends.remove(0);
    let (tx2, rx2) = ends.remove(0);
    let (c, p) = (clock.clone(), progress.clone());
    runner.stage("source", move || Source::new(tx0, c, emit, limit, p));
    runner.stage("relay1", move || Relay::new(rx0, tx1, batch));
    runner.stage("relay2", move || Relay::new(rx1, tx2, batch));
    let (c, p) = (clock, progress.clone());
    runner.stage("sink", move || Sink::new(rx2, c, batch, p, path));
    Chain { runner, hub, progress }
}

fn run_to_completion(c: Chain, layout: &Layout, limit: u64, within: Duration) -> MetricsHub {
    let Chain { runner, mut hub, progress } = c;
    let running = runner.start(layout, &mut hub, Control::new()).expect("layout starts");
    let deadline = Instant::now() + within;
    while progress.received() < limit {
        assert!(Instant::now() < deadline, "only {} of {limit} arrived", progress.received());
        std::thread::sleep(Duration::from_millis(2));
        hub.collect();
    }
    let report = running.join().expect("clean stop");
    assert_eq!(progress.received(), limit);
    assert_eq!(progress.disorder(), 0, "events arrived out of order");
    assert!(report.threads.iter().all(|t| t.panic.is_none()));
    hub.collect();
    hub
}

fn three_threads(idle: IdleKind) -> Layout {
    Layout::new(vec![
        ThreadSpec::new("t-source", &["source"]).idle(idle),
        ThreadSpec::new("t-relays", &["relay1", "relay2"]).idle(idle),
        ThreadSpec::new("t-sink", &["sink"]).idle(idle),
    ])
}

#[test]
fn tens_of_millions_cross_threads_in_order_without_loss() {
    let limit = 20_000_000;
    let c = chain(Emit::Batched(256), 256, limit, 4096);
    let hub = run_to_completion(c, &three_threads(IdleKind::SpinYield), limit, Duration::from_secs(240));
    for s in hub.summaries().iter().filter(|s| s.kind == SeriesKind::Hop) {
        assert_eq!(s.count, limit, "every event on {} is measured", s.name);
    }
}

#[test]
fn single_pushes_through_tiny_rings_keep_order() {
    // A ring of 2 is full almost always: every push exercises the retry path.
    let limit = 200_000;
    let c = chain(Emit::Single, 1, limit, 2);
    run_to_completion(c, &three_threads(IdleKind::SpinYield), limit, Duration::from_secs(120));
}

#[test]
fn every_idle_policy_runs_to_completion() {
    for idle in [IdleKind::BusySpin, IdleKind::SpinYield, IdleKind::Park] {
        let limit = 2_000;
        let c = chain(Emit::Paced, 1, limit, 64);
        let layout = Layout::new(vec![
            ThreadSpec::new("a", &["source", "relay1"]).idle(idle),
            ThreadSpec::new("b", &["relay2", "sink"]).idle(idle),
        ]);
        let hub = run_to_completion(c, &layout, limit, Duration::from_secs(60));
        let e2e = hub.summaries().into_iter().find(|s| s.name == "e2e").unwrap();
        assert_eq!(e2e.count, limit, "{idle:?}: one end-to-end sample per paced probe");
    }
}

#[test]
fn one_thread_runs_the_whole_chain() {
    let limit = 1_000_000;
    let c = chain(Emit::Batched(64), 64, limit, 1024);
    let layout = Layout::single_thread(&STAGES);
    run_to_completion(c, &layout, limit, Duration::from_secs(60));
}

#[test]
fn one_thread_per_stage() {
    let limit = 1_000_000;
    let c = chain(Emit::Batched(64), 64, limit, 1024);
    let layout = Layout::new(STAGES.iter().map(|s| ThreadSpec::new(format!("t-{s}"), &[s])).collect());
    run_to_completion(c, &layout, limit, Duration::from_secs(120));
}

#[test]
fn stops_promptly_under_load() {
    let c = chain(Emit::Batched(256), 256, u64::MAX, 4096);
    let Chain { runner, mut hub, progress } = c;
    let running = runner.start(&three_threads(IdleKind::SpinYield), &mut hub, Control::new()).unwrap();
    while progress.received() < 100_000 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let asked = Instant::now();
    running.stop();
    let report = running.join().expect("clean stop");
    assert!(asked.elapsed() < Duration::from_secs(2), "stop took {:?}", asked.elapsed());
    assert_eq!(progress.disorder(), 0);
    assert!(report.threads.iter().all(|t| t.busy_passes > 0));
}

#[test]
fn a_stop_reaches_parked_threads() {
    let c = chain(Emit::Paced, 1, 0, 16);
    let Chain { runner, mut hub, .. } = c;
    let layout = Layout::new(vec![ThreadSpec {
        park_us: 5_000_000,
        idle_spins: 0,
        idle_yields: 0,
        ..ThreadSpec::new("parked", &STAGES).idle(IdleKind::Park)
    }]);
    let running = runner.start(&layout, &mut hub, Control::new()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let asked = Instant::now();
    running.join().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(1), "stop took {:?}", asked.elapsed());
}

struct Bomb {
    polls: u32,
}

impl Stage for Bomb {
    fn poll(&mut self) -> usize {
        self.polls += 1;
        if self.polls == 1000 {
            panic!("venue sent something impossible");
        }
        1
    }
}

struct Idle;
impl Stage for Idle {
    fn poll(&mut self) -> usize {
        0
    }
}

#[test]
fn a_panicking_stage_halts_trading_and_is_reported() {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let mut runner = Runner::new(clock);
    runner.stage("decode", || Bomb { polls: 0 });
    runner.stage("state", || Idle);
    let layout = Layout::new(vec![ThreadSpec::new("md", &["decode"]), ThreadSpec::new("st", &["state"])]);
    let control = Control::new();
    let running = runner.start(&layout, &mut hub, control.clone()).unwrap();
    assert!(running.wait_for_stop(Duration::from_secs(10), Duration::from_millis(1)));
    let err = running.join().unwrap_err();
    match &err {
        RunError::StagePanicked { thread, stage, message } => {
            assert_eq!((thread.as_str(), stage.as_str()), ("md", "decode"));
            assert_eq!(message, "venue sent something impossible");
        }
    }
    assert!(control.is_halted());
    assert!(control.halt_reasons()[0].contains("`decode`"));
}

#[test]
fn a_panic_while_building_a_stage_is_reported() {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let mut runner = Runner::new(clock);
    runner.stage("book", || -> Idle { panic!("no instruments loaded") });
    let running = runner.start(&Layout::single_thread(&["book"]), &mut hub, Control::new()).unwrap();
    let err = running.join().unwrap_err();
    assert!(
        err.to_string().contains("stage `book` on thread `pipeline` panicked: no instruments loaded"),
        "{err}"
    );
}

#[test]
fn a_bad_layout_is_refused_before_any_thread_starts() {
    let c = chain(Emit::Paced, 1, 10, 16);
    let Chain { runner, mut hub, .. } = c;
    let layout = Layout::new(vec![ThreadSpec::new("a", &["source", "relay1", "relay2"])]);
    let err = runner.start(&layout, &mut hub, Control::new()).unwrap_err();
    assert_eq!(err.to_string(), "stage `sink` is not placed on any thread");
}

/// Works for `ms` milliseconds in its first poll, then says it is done.
struct Slow {
    ms: u64,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Stage for Slow {
    fn poll(&mut self) -> usize {
        if self.done.load(std::sync::atomic::Ordering::Acquire) {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(self.ms));
        self.done.store(true, std::sync::atomic::Ordering::Release);
        1
    }
}

#[test]
fn stage_service_time_is_recorded_in_nanoseconds() {
    // One poll of 20 ms: recorded in ns it lies between the sleep and the wall time from
    // before the start to after the poll; in raw ticks of a GHz counter it would exceed
    // that wall time by the tick rate.
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let mut runner = Runner::new(clock);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    runner.stage("slow", move || Slow { ms: 20, done: d });
    let started = Instant::now();
    let running = runner.start(&Layout::single_thread(&["slow"]), &mut hub, Control::new()).unwrap();
    while !done.load(std::sync::atomic::Ordering::Acquire) {
        std::thread::sleep(Duration::from_micros(100));
    }
    let wall_ns = started.elapsed().as_nanos() as u64;
    running.join().unwrap();
    hub.collect();
    let s = hub.summaries().into_iter().find(|s| s.name == "stage.slow").unwrap();
    assert_eq!(s.count, 1);
    assert!(s.max_ns >= 20_000_000, "{s:?}");
    assert!(s.max_ns <= wall_ns + wall_ns / 1000, "{s:?}, wall {wall_ns} ns");
}

#[test]
fn a_push_wakes_a_parked_consumer_instead_of_waiting_out_its_park() {
    // Every thread parks at once when idle, for up to 200 ms. One probe at a time
    // crosses three threads and back: waiting out the parks, 200 probes would take
    // minutes; woken by each push they take a moment.
    let limit = 200;
    let Chain { runner, mut hub, progress } = chain(Emit::Paced, 1, limit, 16);
    let park = |name: &str, stages: &[&str]| ThreadSpec {
        park_us: 200_000,
        idle_spins: 0,
        idle_yields: 0,
        ..ThreadSpec::new(name, stages).idle(IdleKind::Park)
    };
    let layout = Layout::new(vec![
        park("t-ends", &["source", "sink"]),
        park("t-relay1", &["relay1"]),
        park("t-relay2", &["relay2"]),
    ]);
    let running = runner.start(&layout, &mut hub, Control::new()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while progress.received() < limit {
        assert!(Instant::now() < deadline, "only {} of {limit} arrived", progress.received());
        std::thread::sleep(Duration::from_millis(2));
        hub.collect();
    }
    let report = running.join().unwrap();
    hub.collect();
    assert_eq!(progress.disorder(), 0);
    let wakes: u64 = report.threads.iter().map(|t| t.wakes).sum();
    let parks: u64 = report.threads.iter().map(|t| t.parks).sum();
    assert!(wakes > 0 && parks > 0, "{:?}", report.threads);
    for s in hub.summaries().into_iter().filter(|s| s.name.starts_with("hop")) {
        assert_eq!(s.count, limit, "{s:?}");
        assert!(s.p50_ns < 20_000_000, "a hop does not wait out the 200 ms park: {s:?}");
    }
}
