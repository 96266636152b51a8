//! Driver of the independent-client check: starts the sim (plain) and runs
//! `scripts/check-sim-with-ccxt.py` with the interpreter named by `SIM_CCXT_PYTHON`,
//! handing it the endpoints line on stdin. Without `SIM_CCXT_PYTHON` it does nothing
//! (the check needs ccxt from PyPI): run `scripts/check-sim-with-ccxt.sh`.

use std::io::Write;
use std::process::{Command, Stdio};

use sim::{Sim, SimConfig, endpoints_json};

#[test]
fn ccxt_trades_against_the_sim() {
    let Ok(python) = std::env::var("SIM_CCXT_PYTHON") else {
        eprintln!("SIM_CCXT_PYTHON is not set; run scripts/check-sim-with-ccxt.sh for the ccxt check");
        return;
    };
    let sim = Sim::start(SimConfig { plain: true, seed: 9, ..SimConfig::default() }).unwrap();
    let script = std::env::var("SIM_CCXT_SCRIPT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-sim-with-ccxt.py").to_owned()
    });
    let mut child = Command::new(python).arg(script).stdin(Stdio::piped()).spawn().unwrap();
    let line = endpoints_json(sim.endpoints());
    child.stdin.take().unwrap().write_all(format!("{line}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the ccxt check failed");
}
