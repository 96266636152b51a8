//! Recording live venue messages and replaying them: `arb record` captures what the
//! simulated venues send (snapshots included, requested as a live engine would), `arb
//! book` rebuilds every book from the capture, and `arb replay` trades the capture in
//! recorded time with the same result every time.

use std::time::Duration;

use arb::cmd::{book, live, record, replay};
use sim::{Sim, SimConfig};

#[test]
fn a_recorded_session_rebuilds_its_books_and_replays_deterministically() {
    let sim = Sim::start(SimConfig { seed: 11, plain: true, ..SimConfig::default() }).unwrap();
    let dir = std::env::temp_dir().join(format!("arb-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("sim.toml");
    let text = arb::cmd::sim::engine_config_toml(&sim).replace("dry_run = false", "dry_run = true");
    std::fs::write(&config, text).unwrap();
    let out = dir.join("capture.jsonl.gz");
    record::run(record::RecordArgs { config, out: out.clone(), duration: Some(Duration::from_secs(8)) })
        .unwrap();
    drop(sim);

    let books =
        book::run(book::BookArgs { files: vec![out.clone()], depth: 3, json: true, instruments: None })
            .unwrap();
    let lines: Vec<serde_json::Value> = books.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10, "{books}");
    assert!(lines.iter().all(|b| b["synced"] == true && b["gaps"] == 0), "{books}");

    let args = replay::ReplayArgs {
        files: vec![out],
        config: None,
        instruments: None,
        report: live::ReportFormat::Json,
        hgrm_dir: None,
    };
    let a = replay::replay(&args).unwrap().report;
    let b = replay::replay(&args).unwrap().report;
    assert!(a.frames > 1000, "{}", a.to_text());
    assert_eq!(a.books_synced, a.books);
    assert!(a.books_unsynced.is_empty(), "{:?}", a.books_unsynced);
    let key = |r: &arb::engine::Report| {
        (
            r.opportunities_detected,
            r.opportunities_executed,
            r.operations_completed,
            r.operations_failed,
            r.realized_pnl_usd,
        )
    };
    assert_eq!(key(&a), key(&b), "a replay is deterministic");
    assert!(a.opportunities_detected > 0, "{}", a.to_text());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The recorded Gate.io session of 2021 ends with one book out of sync (it lost sync,
/// and a replay fetches no snapshot to bring it back): the report names it.
#[test]
fn a_replay_names_the_books_out_of_sync_at_its_end() {
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/adapters/test_data/gateio/corpus-2021/capture.jsonl");
    let args = replay::ReplayArgs {
        files: vec![capture.into()],
        config: None,
        instruments: None,
        report: live::ReportFormat::Json,
        hgrm_dir: None,
    };
    let r = replay::replay(&args).unwrap().report;
    assert_eq!(r.books_synced + r.books_unsynced.len(), r.books);
    assert_eq!(r.books_unsynced, ["gateio:spot:INK_USDT"]);
    assert!(r.to_text().contains("not in sync at the end: gateio:spot:INK_USDT"), "{}", r.to_text());
}
