//! The kill switch and the daily-loss breaker survive a crash: `arb run` trades the
//! simulated venues with real orders, the operator throws the kill switch (or a losing
//! operation trips the daily-loss breaker), the engine is killed with SIGKILL and started
//! again on the same journal. The restarted engine refuses every opportunity and sends
//! no order until an operator lifts the halt (`arb ctl resume-trading`, journaled), after
//! which it trades again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline::journal::inspect;
use pipeline::risk::Breaker;
use pipeline::types::{Market, Venue};
use sim::catalog::Asset;
use sim::{DislocationKind, ModelConfig, Scripted, Sim, SimConfig};

/// `arb run` in a child process, with its stderr collected.
struct Engine {
    child: Child,
    socket: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Engine {
    fn start(config: &Path, journal: &Path, sim: &Sim) -> Engine {
        let e = sim.endpoints();
        let mut child = Command::new(env!("CARGO_BIN_EXE_arb"))
            .args(["run", "--no-tui", "--duration", "120"])
            .arg("--config")
            .arg(config)
            .arg("--journal")
            .arg(journal)
            .env("GATEIO_API_KEY", &e.gateio.api_key)
            .env("GATEIO_API_SECRET", e.gateio.api_secret.expose())
            .env("MEXC_API_KEY", &e.mexc.api_key)
            .env("MEXC_API_SECRET", e.mexc.api_secret.expose())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("arb starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let engine = Engine { child, socket: journal.join("arb.sock"), stderr };
        engine.wait("the control socket", 60, |e| e.stderr().contains("control: arb ctl"));
        engine
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `arb ctl REQUEST`'s answer.
    fn ctl(&self, request: &str) -> serde_json::Value {
        arb::ctl::request(&self.socket, request).expect("the engine answers")
    }

    /// The trading snapshot `arb ctl status` shows.
    fn status(&self) -> String {
        let s = self.ctl("status");
        s["result"]["trading"].as_str().unwrap_or_default().to_owned()
    }

    fn wait(&self, what: &str, secs: u64, mut done: impl FnMut(&Engine) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            assert!(Instant::now() < deadline, "{what}: not within {secs} s\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL");
        assert!(!self.child.wait().unwrap().success(), "killed, not exited");
    }

    /// `arb ctl stop`; the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        assert_eq!(self.ctl("stop")["ok"], true);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "no exit within 30 s of arb ctl stop\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A spot-spot dislocation on BTC every call: an opportunity for the engine.
fn dislocate(sim: &Sim) {
    sim.dislocate(DislocationKind::SpotSpot, Venue::Mexc, Asset::BTC, 60.0);
}

/// The highest op id the journal names, and how many orders it holds an intent for.
fn journal_counts(journal: &Path) -> (u64, usize) {
    inspect(journal)
        .map_or((0, 0), |i| (i.replay.last_op_id, i.replay.orders.iter().filter(|o| o.intent).count()))
}

fn setup(name: &str, seed: u64, daily_loss: &str) -> (Sim, PathBuf, PathBuf, PathBuf) {
    // No dislocations of the model's own: the test makes each opportunity. (The seed also
    // names the simulator's certificate folder: one per test.)
    let model = ModelConfig { dislocation_every_ms: u64::MAX / 4, ..ModelConfig::default() };
    let sim = Sim::start(SimConfig { seed, model, ..SimConfig::default() }).expect("sim starts");
    let dir = std::env::temp_dir().join(format!("arb-durable-kill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let toml = arb::cmd::sim::engine_config_toml(&sim);
    assert!(toml.contains("max_daily_loss_usd = 500"), "the demo config's [risk] changed");
    let toml = toml.replace("max_daily_loss_usd = 500", &format!("max_daily_loss_usd = {daily_loss}"));
    let config = dir.join("engine.toml");
    std::fs::write(&config, toml).unwrap();
    let journal = dir.join("journal");
    (sim, dir, config, journal)
}

#[test]
fn the_kill_switch_survives_a_sigkill_until_an_operator_resumes() {
    let (sim, dir, config, journal) = setup("switch", 29, "500");

    let first = Engine::start(&config, &journal, &sim);
    first.wait("a first operation", 60, |_| {
        dislocate(&sim);
        journal_counts(&journal).0 >= 1
    });
    assert_eq!(first.ctl("kill")["ok"], true);
    first.wait("the kill switch is journaled", 10, |_| {
        inspect(&journal).ok().and_then(|i| i.replay.kill_switch).is_some_and(|k| k.operator)
    });
    first.sigkill();

    // The restart finds the switch on: opportunities are refused, no order goes out.
    let (ops, intents) = journal_counts(&journal);
    let second = Engine::start(&config, &journal, &sim);
    second.wait("opportunities refused by the kill switch", 60, |e| {
        dislocate(&sim);
        e.status().contains("rejected kill_switch")
    });
    let status = second.status();
    assert!(status.contains("kill switch ON"), "{status}");
    assert!(status.contains("KILL SWITCH ON"), "the state stage is killed too: {status}");
    assert_eq!(journal_counts(&journal), (ops, intents), "nothing sent after the restart");

    // The operator lifts it: journaled, and trading resumes.
    let answer = second.ctl("resume-trading");
    assert_eq!(answer["ok"], true, "{answer}");
    second.wait("trading again after the resume", 60, |_| {
        dislocate(&sim);
        journal_counts(&journal).0 > ops
    });
    assert_eq!(inspect(&journal).unwrap().replay.kill_switch, None, "the lift is journaled");
    let status = second.status();
    assert!(status.contains("kill switch off"), "{status}");
    let exit = second.stop();
    assert!(exit.success(), "an operator's kill switch is no fault ({exit})");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_daily_loss_breaker_survives_a_sigkill() {
    // Any realized loss trips the daily-loss breaker.
    let (sim, dir, config, journal) = setup("daily-loss", 30, "\"0.01\"");
    let first = Engine::start(&config, &journal, &sim);
    assert!(sim.script(Venue::Mexc, Market::Spot, "BTCUSDT", Scripted::Reject));
    first.wait("a losing operation trips the daily-loss breaker", 60, |e| {
        dislocate(&sim);
        e.status().contains("breaker daily_loss             OPEN")
    });
    first.wait("the breaker is journaled", 10, |_| {
        inspect(&journal)
            .ok()
            .and_then(|i| i.replay.breakers)
            .is_some_and(|b| b.tripped_ms[Breaker::DailyLoss.index()] > 0)
    });
    first.sigkill();

    let (ops, intents) = journal_counts(&journal);
    let second = Engine::start(&config, &journal, &sim);
    let status = second.status();
    assert!(status.contains("breaker daily_loss             OPEN"), "still tripped at once: {status}");
    second.wait("opportunities refused by the breaker", 60, |e| {
        dislocate(&sim);
        e.status().contains("rejected breaker_daily_loss")
    });
    assert_eq!(journal_counts(&journal), (ops, intents), "nothing sent after the restart");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}
