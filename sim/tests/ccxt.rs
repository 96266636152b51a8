//! Driver of the independent-client check: starts the sim (plain) and runs
//! `scripts/check-sim-with-ccxt.py` with the interpreter named by `SIM_CCXT_PYTHON`,
//! handing it the endpoints line on stdin; any check ccxt fails fails this test.
//!
//! `scripts/test.sh` makes the interpreter (a virtual environment with the pinned ccxt,
//! `scripts/ccxt-venv.sh`) and sets `SIM_CCXT_PYTHON`. Without it this test fails,
//! saying so, unless `ARB_ALLOW_SKIP_CCXT=1` says to skip it, and then it prints a
//! SKIPPED line on stderr.

use std::io::Write;
use std::process::{Command, Stdio};

use sim::{Sim, SimConfig, endpoints_json};

#[test]
fn ccxt_trades_against_the_sim() {
    let Ok(python) = std::env::var("SIM_CCXT_PYTHON") else {
        let why = "SIM_CCXT_PYTHON is not set, so ccxt cannot be run against the simulated venues \
                   (scripts/test.sh sets it up; scripts/check-sim-with-ccxt.sh runs this test alone)";
        if std::env::var("ARB_ALLOW_SKIP_CCXT").as_deref() == Ok("1") {
            eprintln!("SKIPPED ccxt_trades_against_the_sim: {why}; ARB_ALLOW_SKIP_CCXT=1 allows it");
            return;
        }
        panic!("{why}; set ARB_ALLOW_SKIP_CCXT=1 to skip this check");
    };
    let sim = Sim::start(SimConfig { plain: true, seed: 9, ..SimConfig::default() }).unwrap();
    let script = std::env::var("SIM_CCXT_SCRIPT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-sim-with-ccxt.py").to_owned()
    });
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let line = endpoints_json(sim.endpoints());
    child.stdin.take().unwrap().write_all(format!("{line}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{text}");
    assert!(out.status.success(), "ccxt disagrees with the simulated venues (output above)");
    let summary = text.lines().last().unwrap_or("");
    assert!(summary.ends_with(" passed, 0 failed"), "the ccxt check did not finish: {summary:?}");
}
