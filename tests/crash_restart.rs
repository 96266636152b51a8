//! A crash in the middle of trading: `arb run` trades the simulated venues with real
//! orders (acknowledgements slowed so operations stay open for a while), is killed with
//! SIGKILL while the journal shows an operation open, and is started again on the same
//! journal. The second run replays the journal, reconciles the orders whose outcome it
//! did not know with the venues, trades on, and stops in an orderly way. Afterwards the
//! journal's positions equal what the venues' own order records add up to, exactly; no
//! client order id reached a venue twice; every venue order is in the journal.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline::journal::inspect;
use sim::{Faults, Sim, SimConfig};

fn arb(config: &Path, journal: &Path, secs: u64, sim: &Sim) -> Child {
    let e = sim.endpoints();
    Command::new(env!("CARGO_BIN_EXE_arb"))
        .args(["run", "--no-tui", "--report", "json", "--duration", &secs.to_string()])
        .arg("--config")
        .arg(config)
        .arg("--journal")
        .arg(journal)
        .env("GATEIO_API_KEY", &e.gateio.api_key)
        .env("GATEIO_API_SECRET", e.gateio.api_secret.expose())
        .env("MEXC_API_KEY", &e.mexc.api_key)
        .env("MEXC_API_SECRET", e.mexc.api_secret.expose())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("arb starts")
}

/// Operations the journal shows open, and operations it shows at all.
fn journal_ops(dir: &Path) -> (usize, usize) {
    match inspect(dir) {
        Ok(i) => (i.replay.open_ops().count(), i.replay.ops.len()),
        Err(_) => (0, 0),
    }
}

#[test]
fn a_killed_engine_restarts_on_its_journal_and_its_books_match_the_venues() {
    let sim = Sim::start(SimConfig {
        seed: 31,
        faults: Faults::parse("delay_ms=250").unwrap(),
        ..SimConfig::default()
    })
    .expect("sim starts");
    let dir: PathBuf = std::env::temp_dir().join(format!("arb-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("engine.toml");
    std::fs::write(&config, arb::cmd::sim::engine_config_toml(&sim)).unwrap();
    let journal = dir.join("journal");

    // First run: kill it once at least two operations went through and one is open.
    let mut first = arb(&config, &journal, 120, &sim);
    let deadline = Instant::now() + Duration::from_secs(90);
    let (open, total) = loop {
        let (open, total) = journal_ops(&journal);
        if open > 0 && total >= 3 {
            first.kill().expect("SIGKILL");
            break (open, total);
        }
        assert!(Instant::now() < deadline, "no operation open in 90 s ({total} seen)");
        assert!(first.try_wait().unwrap().is_none(), "the first run ended by itself");
        std::thread::sleep(Duration::from_millis(2));
    };
    let status = first.wait().unwrap();
    assert!(!status.success(), "killed, not exited");
    let crashed = inspect(&journal).unwrap();
    assert!(
        crashed.replay.open_ops().count() > 0 || crashed.replay.unresolved().count() > 0,
        "the kill left work for the restart ({open} open of {total} when killed)"
    );

    // Second run on the same journal: replay, reconcile, trade on, stop in order.
    let second = arb(&config, &journal, 15, &sim);
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success(), "the restarted engine ran and stopped cleanly");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the restarted run prints its report as JSON");
    assert_eq!(report["open_operations"], 0, "nothing left open after the orderly stop: {report}");

    let after = inspect(&journal).unwrap();
    assert!(after.replay.ops.len() >= total, "the restart kept the first run's operations");
    support::assert_books_agree(&sim, &journal);
    let _ = std::fs::remove_dir_all(&dir);
}
