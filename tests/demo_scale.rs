//! `arb demo --pairs 50`: fifty USDT pairs on each simulated venue (with their
//! perpetuals and crosses), every one traded. Every book syncs (the report's
//! `books_total`, `books_synced`, `time_to_all_synced_ms`), opportunities are executed on
//! more than one pair (`executed_by_instrument`), and every stage's latency is measured.
//! The quick version of the acceptance run in perf/scale.md (`--pairs 300 --duration 60`).

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn fifty_pairs_per_venue_sync_and_trade_on_several_pairs() {
    let journal = std::env::temp_dir().join(format!("arb-demo-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let out = Command::new(env!("CARGO_BIN_EXE_arb"))
        .args(["demo", "--pairs", "50", "--duration", "12", "--seed", "3", "--report", "json", "--no-tui"])
        .arg("--journal")
        .arg(&journal)
        .output()
        .expect("arb runs");
    let _ = std::fs::remove_dir_all(&journal);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "arb demo failed: {stderr}");
    let last = stdout.lines().last().expect("a report");
    let r: serde_json::Value = serde_json::from_str(last).expect("the report is one JSON object");
    let total = r["books_total"].as_u64().unwrap();
    // 50 USDT pairs and their crosses on two spot markets, a perpetual on every third.
    assert!(total > 2 * 50 + 2 * 16, "{total} books");
    assert_eq!(r["books_synced"].as_u64(), Some(total), "every book synced at the end: {stderr}");
    let all = r["time_to_all_synced_ms"].as_u64().expect("every book synced once");
    assert!(all < 12_000, "all synced after {all} ms");
    let executed = r["executed_by_instrument"].as_object().expect("executions per instrument");
    // Instruments are `venue:market:SYMBOL`; a pair is the symbol without its venue's
    // spelling (`BTC_USDT`, `BTCUSDT`).
    let pairs: BTreeSet<String> =
        executed.keys().map(|k| k.rsplit(':').next().unwrap().replace('_', "")).collect();
    assert!(pairs.len() > 1, "executions on {pairs:?}\n{last}");
    for stage in ["md", "book", "detect", "risk", "dispatch", "state"] {
        assert!(r["latency"][stage]["count"].as_u64().unwrap() > 0, "stage {stage} measured");
    }
    assert!(r["latency"]["tick_to_trade_ns"]["count"].as_u64().unwrap() > 0);
    assert_eq!(r["decode_refused"].as_u64(), Some(0), "the sim speaks the protocols exactly");
}
