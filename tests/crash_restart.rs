//! A crash in the middle of trading: `arb run` trades the simulated venues with real
//! orders (acknowledgements slowed so operations stay open for a while), is killed with
//! SIGKILL while the journal shows an operation open, and is started again on the same
//! journal. The second run replays the journal, reconciles the orders whose outcome it
//! did not know with the venues, trades on, and stops in an orderly way. Afterwards the
//! journal's positions equal what the venues' own order records add up to, exactly; no
//! client order id reached a venue twice; every venue order is in the journal.
//!
//! The same after a power loss: the journal's sync thread group-commits off the hot
//! path, so a host crash loses what was written since its last sync. The engine is
//! killed with SIGKILL and each journal file is cut back to the length the sync thread
//! last recorded as durable (`journal.synced`), dropping the unsynced tail with orders
//! that had reached the venues or were still on their way (acknowledgements take 250
//! ms). The restart waits until any request the dead run had in flight has landed or
//! expired (`orders.restart_settle_ms`), finds its orders on the venues by client order
//! id, writes them back, reconciles and trades on, with the same checks afterwards: no
//! client order id reached a venue twice.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline::journal::inspect;
use pipeline::types::Venue;
use sim::{Faults, Sim, SimConfig};

fn arb(config: &Path, journal: &Path, secs: u64, sim: &Sim) -> Child {
    arb_with(config, journal, secs, sim, Stdio::null())
}

fn arb_with(config: &Path, journal: &Path, secs: u64, sim: &Sim, stderr: Stdio) -> Child {
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
        .stderr(stderr)
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

/// The client order ids the journal in `dir` holds an intent for.
fn intents(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = inspect(dir)
        .map(|i| {
            i.replay
                .orders
                .iter()
                .filter(|o| o.intent)
                .map(|o| format!("{}-{}-{}", o.client.op, o.client.leg, o.client.attempt))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn after_a_power_loss_the_orders_of_the_unsynced_tail_are_found_on_the_venues() {
    let sim = Sim::start(SimConfig {
        seed: 43,
        faults: Faults::parse("delay_ms=250").unwrap(),
        ..SimConfig::default()
    })
    .expect("sim starts");
    let dir: PathBuf = std::env::temp_dir().join(format!("arb-power-loss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The sync thread syncs every 10 minutes: within a run nothing but what open found
    // is durable, so a power loss takes everything the run wrote.
    let toml = arb::cmd::sim::engine_config_toml(&sim);
    assert!(toml.contains("fsync = \"never\""));
    let config = dir.join("engine.toml");
    std::fs::write(&config, toml.replace("fsync = \"never\"", "fsync = { interval_ms = 600000 }")).unwrap();
    let journal = dir.join("journal");

    // A first run that stops in order: its stop syncs everything.
    let first = arb(&config, &journal, 4, &sim).wait_with_output().unwrap();
    assert!(first.status.success());
    let (_, before) = journal_ops(&journal);
    let first_run = intents(&journal);
    // The client order ids of the orders on the venues' accounts, as the journal names
    // them: the instance's prefix (letters) goes, leaving op-leg-attempt.
    let on_venues = || -> Vec<String> {
        Venue::ALL
            .iter()
            .flat_map(|&v| sim.account_orders(v))
            .map(|o| {
                o.text
                    .strip_prefix("t-")
                    .unwrap_or(&o.text)
                    .trim_start_matches(|c: char| c.is_ascii_lowercase())
                    .to_owned()
            })
            .collect()
    };

    // A second run, killed once it has written at least two more operations, one open,
    // and some of its own orders reached the venues. The venues answer 250 ms late, so
    // orders of the first run may still be landing: they do not count.
    let mut second = arb(&config, &journal, 120, &sim);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (open, total) = journal_ops(&journal);
        if open > 0 && total >= before + 2 && on_venues().iter().any(|id| !first_run.contains(id)) {
            second.kill().expect("SIGKILL");
            break;
        }
        assert!(Instant::now() < deadline, "no new operation open in 90 s ({total} seen, {before} before)");
        assert!(second.try_wait().unwrap().is_none(), "the second run ended by itself");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!second.wait().unwrap().success(), "killed, not exited");

    // The power loss: each file back to its last synced length.
    let written = intents(&journal);
    let synced = pipeline::journal::read_synced(&journal).expect("the sync thread recorded what is durable");
    assert_eq!(synced.len(), 2, "{synced:?}");
    for (file, len) in &synced {
        let now = std::fs::metadata(file).unwrap().len();
        assert!(*len <= now, "{}: synced {len} of {now} bytes", file.display());
        std::fs::OpenOptions::new().write(true).open(file).unwrap().set_len(*len).unwrap();
    }
    let survived = intents(&journal);
    let lost: Vec<&String> = written.iter().filter(|id| !survived.contains(id)).collect();
    assert!(!lost.is_empty(), "the unsynced tail held orders: {written:?} written, {survived:?} survived");
    let on_venues = on_venues();
    assert!(
        lost.iter().any(|id| on_venues.contains(id)),
        "some lost order reached a venue: lost {lost:?}, venues {on_venues:?}"
    );

    // The restart finds them, writes them back, reconciles, trades on and stops in order.
    let third = arb_with(&config, &journal, 15, &sim, Stdio::piped()).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(third.status.success(), "the restarted engine ran and stopped cleanly: {stderr}");
    assert!(stderr.contains("were missing from the journal"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&third.stdout).expect("a JSON report");
    // A lost operation whose orders on the venues are not every leg of its kind is put
    // before an operator, not recovered on a guess (which of them the kill left so is a
    // matter of timing): those stay open, waiting; nothing else does.
    let for_operator: Vec<u64> = stderr
        .split_once("] waiting for an operator")
        .and_then(|(head, _)| head.rsplit_once('['))
        .map(|(_, ids)| ids.split(", ").map(|id| id.parse().expect("an operation id")).collect())
        .unwrap_or_default();
    let awaiting: Vec<u64> = inspect(&journal)
        .unwrap()
        .replay
        .open_ops()
        .filter(|o| o.phase == pipeline::journal::OpPhase::AwaitingOperator)
        .map(|o| o.op)
        .collect();
    assert_eq!(awaiting, for_operator, "{stderr}");
    assert_eq!(
        report["open_operations"].as_u64(),
        Some(for_operator.len() as u64),
        "nothing else left open after the orderly stop: {report}"
    );
    for id in lost.iter().filter(|id| on_venues.contains(id)) {
        assert!(intents(&journal).contains(id), "lost order {id} is back in the journal");
    }
    support::assert_books_agree(&sim, &journal);
    let _ = std::fs::remove_dir_all(&dir);
}
