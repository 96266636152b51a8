//! The embedded demo end to end: simulated venues on loopback, the engine connected to
//! them over real sockets (TLS with the generated CA), trading for a while. Every kind
//! of opportunity is detected and executed, books stay in sync, operations end hedged,
//! and the journal replays to the same P&L.

use std::time::Duration;

use arb::cmd::{demo, live};
use arb::config::Config;
use pipeline::journal::{Verdict, inspect};
use pipeline::types::Amount;
use sim::{Sim, SimConfig};

#[test]
fn the_demo_trades_every_kind_and_ends_hedged() {
    let sim = Sim::start(SimConfig { seed: 7, ..SimConfig::default() }).expect("sim starts");
    let journal = std::env::temp_dir().join(format!("arb-demo-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let cfg = demo::config_for(&sim, Config::load(None).unwrap(), journal.clone());
    let session = live::start(cfg, None).expect("engine starts");
    let metrics =
        arb::metrics_server::MetricsServer::start("127.0.0.1:0", arb::telemetry::Telemetry::of(&session))
            .unwrap();
    // Run until every kind has executed at least once, or give up after 90 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let s = session.stats().snapshot();
        let detected =
            pipeline::msg::OppKind::ALL.into_iter().filter(|k| *k != pipeline::msg::OppKind::Flatten);
        if detected.map(|k| s.state.ops_completed[k.index()]).all(|n| n > 0)
            && s.state.open.iter().sum::<i64>() == 0
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not every kind completed in 90 s:\n{s}");
    }
    // Every metric the dashboards use is exported, and health is ok while running.
    std::thread::sleep(Duration::from_millis(1200));
    let text = http_get(metrics.addr(), "/metrics");
    let documented =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/METRICS.md")).unwrap();
    // This demo trades the paper venue: what only real venue accounts have is absent.
    let rows = documented.lines().filter(|l| !l.contains("absent behind the paper venue"));
    for name in rows.filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split('`').next()) {
        assert!(text.contains(&format!("\n{name}")), "metric {name} missing from /metrics");
    }
    let health = http_get(metrics.addr(), "/health");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains(r#""status":"ok""#), "{health}");
    drop(metrics);
    let stopped = session.stop().expect("clean stop");
    let r = &stopped.report;
    assert_eq!(r.books_synced, r.books, "every book in sync at the end");
    assert_eq!(r.decode_refused, 0, "the sim speaks the protocols exactly");
    assert_eq!(r.operations_failed, 0, "{}", r.to_text());
    assert!(r.realized_pnl_usd > Amount::ZERO, "{}", r.to_text());
    assert!(
        r.open_exposure_usd.abs() < Amount::from_int(5),
        "unhedged: {} USD\n{}",
        r.open_exposure_usd,
        r.to_text()
    );
    let t2t = &r.latency["tick_to_trade"].1;
    assert!(t2t.count > 0 && t2t.p50 > 0, "tick-to-trade measured");
    for stage in pipeline::STAGES {
        assert!(r.latency[&format!("stage.{stage}")].1.count > 0, "stage {stage} measured");
    }
    let json = r.to_json();
    for key in [
        "opportunities_detected",
        "opportunities_executed",
        "operations_completed",
        "operations_failed",
        "recoveries",
        "rejected_by_reason",
    ] {
        assert!(json.get(key).is_some(), "report key {key}");
    }
    assert!(json["realized_pnl_usd"].as_str().unwrap().parse::<f64>().is_ok());
    // The journal replays to the engine's realized P&L: each operation journals what it
    // realized on closed quantity less its fees.
    let ins = inspect(&journal).unwrap();
    assert_eq!(ins.verdict, Verdict::Intact);
    assert_eq!(ins.replay.realized_pnl, r.realized_pnl_usd - r.fees_usd);
    let _ = std::fs::remove_dir_all(&journal);
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
