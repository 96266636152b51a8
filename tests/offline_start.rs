//! A start without network (`arb run` as a child process, every venue endpoint a closed
//! loopback port) keeps running and says why it does not trade. Without cached metadata
//! it prints one short line per venue market and cause with the next attempt time, one
//! hint, retries with backoff, reports "waiting" on `/health`, and stops cleanly on
//! SIGINT. With cached metadata it starts the engine, logs the refused WebSocket
//! connections, counts them in `arb_ws_reconnects_total`, and its status line says
//! CONNECTING, never TRADING.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline::types::{InstrumentSpec, Market, Venue};

/// A loopback port nobody listens on: every connection is refused at once.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("arb-offline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// A paper configuration for BTC/USDT spot on both venues, every endpoint refused.
fn config(name: &str, cache: &Path) -> PathBuf {
    let port = closed_port();
    let origin = format!("http://127.0.0.1:{port}");
    let ws = format!("ws://127.0.0.1:{port}/ws");
    let path = temp(&format!("{name}.toml"));
    let mut text = String::from("dry_run = true\n");
    for venue in ["gateio", "mexc"] {
        text += &format!(
            "[[venues]]\nvenue = \"{venue}\"\nrest = \"{origin}\"\nrest_futures = \"{origin}\"\n\
             ws_spot = \"{ws}\"\nws_futures = \"{ws}\"\n\n"
        );
    }
    text += &format!(
        "[market]\npairs = [\"BTC/USDT\"]\nfutures = []\nmetadata_cache = {:?}\n\n",
        cache.display().to_string()
    );
    for name in ["md", "trade"] {
        let stages =
            if name == "md" { r#"["md", "book"]"# } else { r#"["detect", "risk", "dispatch", "state"]"# };
        text += &format!("[[layout.threads]]\nname = \"{name}\"\nidle = \"park\"\nstages = {stages}\n\n");
    }
    for venue in ["gateio", "mexc"] {
        for (asset, amount) in [("USDT", "10000"), ("BTC", "0.1")] {
            text += &format!(
                "[[paper.balances]]\nvenue = \"{venue}\"\nasset = \"{asset}\"\namount = \"{amount}\"\n\n"
            );
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `arb run` in a child process, its stderr collected.
struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
    files: Vec<PathBuf>,
}

impl Run {
    fn start(config: &Path, journal: &Path, files: Vec<PathBuf>) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arb"))
            .args(["run", "--no-tui", "--metrics", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--journal")
            .arg(journal)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("arb run starts");
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
        Run { child, stderr, files }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `done` holds for stderr; the process must keep running meanwhile.
    fn wait_for(&mut self, what: &str, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.stderr();
            if done(&text) {
                return text;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("arb run exited ({status}) waiting for {what}:\n{text}");
            }
            assert!(Instant::now() < deadline, "no {what} within {within:?}:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn metrics_addr(&mut self) -> SocketAddr {
        let text =
            self.wait_for("the metrics address", Duration::from_secs(30), |t| t.contains("metrics: http://"));
        text.lines()
            .find_map(|l| l.strip_prefix("metrics: http://"))
            .and_then(|l| l.split('/').next())
            .map(|a| a.parse().unwrap())
            .unwrap()
    }

    /// SIGINT, as Ctrl-C sends it; the exit status within `within`.
    fn interrupt(&mut self, within: Duration) -> ExitStatus {
        let kill = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running {within:?} after SIGINT:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for f in &self.files {
            let _ = std::fs::remove_dir_all(f);
            let _ = std::fs::remove_file(f);
        }
    }
}

/// One HTTP/1.0 GET: status code and body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (code, body)
}

/// The value of the one sample of `name` with `labels` in Prometheus text.
fn sample(text: &str, name: &str, labels: &str) -> u64 {
    let prefix = format!("{name}{labels} ");
    let line =
        text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix}in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

#[test]
fn without_metadata_it_waits_retries_says_why_and_stops_on_sigint() {
    let cache = temp("absent-cache.json");
    let config = config("no-cache", &cache);
    let journal = temp("no-cache-journal");
    let mut run = Run::start(&config, &journal, vec![config.clone(), journal.clone()]);
    let metrics = run.metrics_addr();
    // Each venue market fails, is told in one line, and is tried again.
    let line = |t: &str, venue: &str, n: usize| {
        t.lines().filter(|l| l.starts_with(&format!("instruments: {venue} spot: "))).count() >= n
    };
    let text = run.wait_for("a retried metadata fetch per venue", Duration::from_secs(20), |t| {
        line(t, "gateio", 2) && line(t, "mexc", 2)
    });
    for l in text.lines().filter(|l| l.starts_with("instruments: ")) {
        assert!(l.contains("refused") && l.contains("next attempt at ") && l.contains(" UTC (in "), "{l}");
        assert!(l.len() < 200, "{} characters: {l}", l.len());
    }
    assert_eq!(text.lines().filter(|l| l.starts_with("hint: ")).count(), 1, "{text}");
    assert!(text.contains("arb demo") && text.contains("metadata_cache"), "{text}");
    assert!(!text.contains("no instrument"), "a missing fetch is not a missing instrument:\n{text}");

    let (code, body) = http_get(metrics, "/health");
    assert_eq!(code, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "waiting", "{body}");
    let gate = health["metadata"].as_array().unwrap().iter().find(|m| m["venue"] == "gateio").unwrap();
    assert!(gate["last_error"].as_str().unwrap().contains("refused"), "{body}");
    let (code, text) = http_get(metrics, "/metrics");
    assert_eq!(code, 200);
    assert!(
        sample(&text, "arb_metadata_fetch_failures_total", r#"{venue="gateio",market="spot"}"#) >= 2,
        "{text}"
    );

    let status = run.interrupt(Duration::from_secs(5));
    assert!(status.success(), "an operator's stop is no failure: {status}\n{}", run.stderr());
    assert!(run.stderr().contains("stopped before the engine started"), "{}", run.stderr());
}

#[test]
fn with_cached_metadata_refused_connections_are_logged_counted_and_not_trading() {
    let cache = temp("cache.json");
    let spec = |venue, symbol: &str| InstrumentSpec {
        venue,
        market: Market::Spot,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: "0.1".into(),
        lot: "0.000001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: Some("0.001".into()),
        maker_fee: None,
        trading_enabled: true,
    };
    let specs = [spec(Venue::GateIo, "BTC_USDT"), spec(Venue::Mexc, "BTCUSDT")];
    std::fs::write(&cache, serde_json::to_string(&specs).unwrap()).unwrap();
    let config = config("cache", &cache);
    let journal = temp("cache-journal");
    let mut run = Run::start(&config, &journal, vec![config.clone(), journal.clone(), cache.clone()]);
    let metrics = run.metrics_addr();
    let text = run.wait_for("the cache in use", Duration::from_secs(20), |t| {
        t.matches("using the cached metadata in").count() == 2
    });
    assert!(!text.contains("hint: "), "the cache held what was needed:\n{text}");
    // The engine runs: refused connections are logged (JSON, with the cause), one
    // connection at most once a second.
    run.wait_for("a logged refused connection per venue", Duration::from_secs(20), |t| {
        ["gateio", "mexc"].iter().all(|v| {
            t.lines().any(|l| {
                l.contains(r#""event":"ws_connect_failed""#)
                    && l.contains(&format!(r#""detail":"{v}""#))
                    && l.contains("refused")
                    && l.contains("next attempt in")
            })
        })
    });
    let status =
        run.wait_for("a status line", Duration::from_secs(10), |t| t.lines().any(|l| l.contains("] ")));
    let line = status.lines().find(|l| l.starts_with('[') && l.contains("] ")).unwrap();
    assert!(line.contains("CONNECTING") && line.contains("books 0/2"), "{line}");
    assert!(!status.contains("TRADING"), "{status}");
    std::thread::sleep(Duration::from_millis(1500));
    let (code, text) = http_get(metrics, "/metrics");
    assert_eq!(code, 200);
    for venue in ["gateio", "mexc"] {
        let labels = format!(r#"{{venue="{venue}",market="spot"}}"#);
        let failed = sample(&text, "arb_ws_connect_failures_total", &labels);
        let reconnects = sample(&text, "arb_ws_reconnects_total", &labels);
        assert!(
            failed >= 2 && reconnects == failed - 1,
            "{venue}: {failed} failed, {reconnects} reconnects\n{text}"
        );
    }
    assert_eq!(sample(&text, "arb_waiting_for_data", ""), 1, "{text}");
    let logged = run.stderr().lines().filter(|l| l.contains(r#""event":"ws_connect_failed""#)).count() as u64;
    let failed: u64 = ["gateio", "mexc"]
        .iter()
        .map(|v| sample(&text, "arb_ws_connect_failures_total", &format!(r#"{{venue="{v}",market="spot"}}"#)))
        .sum();
    assert!(logged <= failed, "{logged} lines for {failed} failures");
    let (code, body) = http_get(metrics, "/health");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(r#""status":"waiting""#), "{body}");

    let status = run.interrupt(Duration::from_secs(10));
    assert!(status.success(), "an operator's stop is no failure: {status}\n{}", run.stderr());
}
