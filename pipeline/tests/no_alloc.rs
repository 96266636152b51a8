//! Zero heap allocations per event after warm-up, proven with a counting allocator.
//!
//! This file holds one test so that nothing else allocates in the process while it
//! measures; the main thread only sleeps and reads atomics during the window.

use std::time::{Duration, Instant};

use pipeline::metrics::{MetricsHub, SeriesKind};
use pipeline::runtime::{Backpressure, Control, Layout, Runner, ThreadSpec, link};
use pipeline::synthetic::{Emit, Probe, Progress, Relay, Sink, Source};
use pipeline::testkit::counting::{self, CountingAlloc};
use quanta::Clock;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn wait_for(progress: &Progress, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress.received() < n {
        assert!(Instant::now() < deadline, "pipeline stalled at {}", progress.received());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn measure(emit: Emit, batch: usize, warm: u64, window: u64) -> u64 {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let progress = Progress::new();
    let mut runner = Runner::new(clock.clone());
    let (tx0, rx0) =
        link::<Probe>("a", 1024, Backpressure::Retry, clock.clone(), hub.recorder("a", SeriesKind::Hop));
    let (tx1, rx1) = link::<Probe>(
        "b",
        1024,
        Backpressure::DropAndCount,
        clock.clone(),
        hub.recorder("b", SeriesKind::Hop),
    );
    let path = hub.recorder("e2e", SeriesKind::Path);
    let (c, p) = (clock.clone(), progress.clone());
    runner.stage("source", move || Source::new(tx0, c, emit, u64::MAX, p));
    runner.stage("relay", move || Relay::new(rx0, tx1, batch));
    let (c, p) = (clock, progress.clone());
    runner.stage("sink", move || Sink::new(rx1, c, batch, p, path));
    let layout =
        Layout::new(vec![ThreadSpec::new("src", &["source", "relay"]), ThreadSpec::new("dst", &["sink"])]);
    let running = runner.start(&layout, &mut hub, Control::new()).unwrap();
    wait_for(&progress, warm);
    // Let every recorder pass its first flush so the spare boxes are in circulation.
    hub.collect();
    std::thread::sleep(Duration::from_millis(250));
    hub.collect();
    let before = counting::allocations();
    let start = progress.received();
    wait_for(&progress, start + window);
    let after = counting::allocations();
    running.join().unwrap();
    after - before
}

#[test]
fn no_allocation_per_event_after_warm_up() {
    let batched = measure(Emit::Batched(128), 128, 1_000_000, 5_000_000);
    assert_eq!(batched, 0, "allocations while 5M batched events flowed");
    let single = measure(Emit::Single, 1, 100_000, 1_000_000);
    assert_eq!(single, 0, "allocations while 1M single events flowed");
}
