//! Resync speed against the simulated venues on loopback, with depth updates dropped
//! (the gap fault) and every connection cut every 3 s: each book that loses sync is
//! synced again within a second (p99), and a REST-synced book needs one snapshot per
//! resync (a snapshot asked for before the new session's first update could never be
//! bridged, and a second request must wait for its turn, not be dropped).

use std::time::{Duration, Instant};

use arb::cmd::{demo, live};
use arb::config::Config;
use sim::faults::Faults;
use sim::{Sim, SimConfig};

/// Resyncs to wait for before judging (each book resyncs a few times a second).
const RESYNCS: u64 = 60;

struct Run {
    report: arb::engine::Report,
    snapshots_requested: u64,
    snapshots_discarded: u64,
}

fn run(seed: u64, gate_depth: adapters::venues::GateDepth) -> Run {
    let faults = Faults::parse("gap=0.05,disconnect_every_s=3").unwrap();
    let sim = Sim::start(SimConfig { seed, faults, ..SimConfig::default() }).expect("sim starts");
    let journal = std::env::temp_dir().join(format!("arb-resync-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let mut cfg = demo::config_for(&sim, Config::load(None).unwrap(), journal.clone());
    cfg.feed.gate_depth = gate_depth;
    let session = live::start(cfg, None).expect("engine starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let p = session.sync_progress();
        if p.resyncs_done >= RESYNCS {
            break;
        }
        assert!(Instant::now() < deadline, "only {} resyncs in 90 s: {p:?}", p.resyncs_done);
    }
    let counters = session.feed_counters().expect("a live feed").clone();
    let stopped = session.stop().expect("clean stop");
    let _ = std::fs::remove_dir_all(&journal);
    use std::sync::atomic::Ordering::Relaxed;
    Run {
        report: stopped.report,
        snapshots_requested: counters.snapshots_requested.load(Relaxed),
        snapshots_discarded: counters.snapshots_discarded.load(Relaxed),
    }
}

fn assert_fast(r: &arb::engine::Report) {
    let resync = r.resync.as_ref().expect("resyncs measured");
    assert!(resync.count >= RESYNCS, "{resync:?}");
    // On loopback a resync is a snapshot round trip and the next update or two; a
    // second is generous for a loaded machine, and far below the 3 s retry a dropped
    // request used to wait for.
    assert!(resync.p99 < 1_000_000_000, "resync p99 {} ms\n{}", resync.p99 / 1_000_000, r.to_text());
    assert!(resync.p50 > 0 && resync.p50 <= resync.p99);
    // Every book resynced and has its own figures.
    assert_eq!(r.resync_by_book.len(), r.books, "{:?}", r.resync_by_book);
    for (book, b) in &r.resync_by_book {
        assert!(b.resyncs > 0 && b.p99_ns < 2_000_000_000, "{book}: {b:?}");
    }
    let share = r.all_books_synced_share.expect("every book synced at some point");
    assert!(share > 0.0 && share < 1.0, "gaps keep some book resyncing: {share}");
}

#[test]
fn with_gaps_and_disconnects_every_resync_takes_one_snapshot_and_under_a_second() {
    // Gate.io books on order_book_update: every book is synced by REST snapshots.
    let r = run(21, adapters::venues::GateDepth::OrderBookUpdate);
    assert_fast(&r.report);
    let books = r.report.books as u64;
    let resyncs: u64 = r.report.resync_by_book.values().map(|b| b.resyncs).sum();
    // One snapshot for each book's first sync, one per resync completed, and at most
    // one per book for resyncs still under way at the stop. A snapshot that arrives
    // after its connection was cut is discarded and counts against this budget.
    let budget = books + resyncs + books;
    assert!(
        r.snapshots_requested <= budget,
        "{} snapshot requests for {resyncs} resyncs of {books} books ({} discarded)\n{}",
        r.snapshots_requested,
        r.snapshots_discarded,
        r.report.to_text()
    );
    assert!(r.snapshots_requested >= resyncs / 2, "resyncs of REST-synced books use snapshots");
}

#[test]
fn with_gaps_and_disconnects_books_synced_by_resubscribing_resync_under_a_second() {
    // Gate.io books on obu (the default): resynced by resubscribing.
    let r = run(22, adapters::venues::GateDepth::Obu);
    assert_fast(&r.report);
}
