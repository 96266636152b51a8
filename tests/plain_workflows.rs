//! The README's plain (no TLS) workflows as an operator types them: `arb demo --plain`
//! with real signed orders needs no trust anchors, and `arb sim` prints the `export`
//! lines that let `arb run` trade against it with the configuration it wrote.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ARB: &str = env!("CARGO_BIN_EXE_arb");

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("arb-plain-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plain_demo_with_real_orders_runs_without_trust_anchors() {
    let journal = temp("demo-journal");
    let out = Command::new(ARB)
        .args(["demo", "--plain", "--duration", "3", "--no-tui", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "exit {}:\n{stderr}", out.status);
    assert!(!stderr.contains("trust anchors"), "{stderr}");
    let _ = std::fs::remove_dir_all(&journal);
}

#[test]
fn sim_prints_the_exports_that_let_run_trade_against_it() {
    let config = temp("sim.toml");
    let journal = temp("sim-journal");
    let mut sim = Command::new(ARB)
        .args(["sim", "--plain", "--duration", "60", "--write-config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(sim.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < 5 {
        let mut l = String::new();
        assert!(stdout.read_line(&mut l).unwrap() > 0, "arb sim ended its output early: {lines:?}");
        lines.push(l.trim_end().to_owned());
    }
    let exports = &lines[1..];
    let names: Vec<&str> = exports
        .iter()
        .map(|l| l.strip_prefix("export ").and_then(|l| l.split_once('=')).unwrap().0)
        .collect();
    assert_eq!(
        names,
        ["GATEIO_API_KEY", "GATEIO_API_SECRET", "MEXC_API_KEY", "MEXC_API_SECRET"],
        "{lines:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !config.exists() {
        assert!(Instant::now() < deadline, "no configuration from arb sim");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));

    // The exports pasted into a clean shell, then the engine with real orders.
    let script = format!("{}\nexec \"$0\" \"$@\"", exports.join("\n"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(ARB)
        .args(["run", "--no-tui", "--duration", "3", "--config"])
        .arg(&config)
        .arg("--journal")
        .arg(&journal)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "exit {}:\n{stderr}", out.status);
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_dir_all(&journal);
}
