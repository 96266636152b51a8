//! Operator control of a running engine over a local Unix socket (`arb ctl`).
//!
//! One request per connection: a line of text, answered with one JSON object. The
//! server runs on a cold thread and acts only through the control rings and the
//! telemetry handle, like any other cold-side caller.
//!
//! Requests: `status`, `pause INSTRUMENT`, `resume INSTRUMENT`, `add-symbol INSTRUMENT`,
//! `kill`, `resume-trading`, `reset-breakers`, `recoveries`, `approve OP`, `retry OP`,
//! `abandon OP`, `stop`. An INSTRUMENT is `venue:market:SYMBOL` (`gateio:spot:BTC_USDT`) or a
//! pair `BASE/QUOTE`, meaning every instrument of it.
//!
//! Instruments are loaded at start (their ids are journaled), so `add-symbol` starts
//! trading one that was loaded without being traded (`[market] standby`) or paused;
//! `pause` removes one from trading while its book stays in sync.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pipeline::msg::{AlertKind, DetectControl, RiskControl, StateControl};
use serde_json::{Value, json};

use crate::engine::Controls;
use crate::instruments::resolve;
use crate::telemetry::Telemetry;

/// A running control socket; removes its file and stops when dropped.
#[derive(Debug)]
pub struct CtlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CtlServer {
    pub fn start(path: &Path, controls: Arc<Controls>, telemetry: Telemetry) -> Result<Self> {
        if path.exists() {
            // A socket left by a crashed run: refuse if something still answers on it.
            if UnixStream::connect(path).is_ok() {
                bail!("{}: another engine is listening on this control socket", path.display());
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new().name("ctl".into()).spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &controls, &telemetry),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
        Ok(Self { path: path.to_owned(), stop, thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, controls: &Controls, t: &Telemetry) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let answer = match handle(line.trim(), controls, t) {
        Ok(v) => json!({"ok": true, "result": v}),
        Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
    };
    let mut w = &stream;
    let _ = writeln!(w, "{answer}");
}

fn op_arg(arg: Option<&str>) -> Result<u64> {
    arg.context("an operation id is required")?.parse().context("an operation id is a number")
}

fn handle(line: &str, controls: &Controls, t: &Telemetry) -> Result<Value> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let arg = words.next();
    let ins = &t.instruments;
    let sent = |ok: bool| if ok { Ok(json!("sent")) } else { bail!("the control ring is full; try again") };
    match cmd {
        "status" => {
            let (_, health) = t.health();
            let snap = t.stats.snapshot();
            Ok(json!({"health": health, "trading": snap.to_string()}))
        }
        "pause" | "resume" | "add-symbol" => {
            let ids = resolve(ins, arg.context("an instrument is required")?)?;
            let mut ok = true;
            for id in &ids {
                let c = if cmd == "pause" { DetectControl::Disable(*id) } else { DetectControl::Enable(*id) };
                ok &= controls.detect(c);
            }
            let names: Vec<String> = ids
                .iter()
                .map(|&id| {
                    let i = ins.get(id);
                    format!("{}:{}:{}", i.venue, i.market, i.symbol)
                })
                .collect();
            sent(ok).map(|_| json!({"instruments": names, "trading": cmd != "pause"}))
        }
        "kill" => {
            controls.kill_switch();
            Ok(json!("kill switch on: no new operations, open orders cancelled"))
        }
        "stop" => {
            controls.request_shutdown();
            Ok(json!("stopping: no new operations; open ones finish, then the engine reports and exits"))
        }
        "resume-trading" => sent(controls.risk(RiskControl::Resume)),
        "reset-breakers" => sent(controls.risk(RiskControl::ResetBreakers)),
        "recoveries" => {
            let alerts = t.view.lock().map(|v| v.alerts.clone()).unwrap_or_default();
            let waiting: Vec<Value> = alerts
                .iter()
                .filter(|a| a.kind == AlertKind::RecoveryExhausted)
                .map(|a| json!({"op": a.op, "rounds": a.value}))
                .collect();
            Ok(json!({"awaiting_operator": waiting, "open": t.stats.snapshot().state.open}))
        }
        "approve" => sent(controls.state(StateControl::Approve { op: op_arg(arg)? })),
        "retry" => sent(controls.state(StateControl::Retry { op: op_arg(arg)? })),
        "abandon" => sent(controls.state(StateControl::Abandon { op: op_arg(arg)? })),
        "" => bail!("empty request"),
        other => bail!(
            "unknown request `{other}` (status, pause, resume, add-symbol, kill, resume-trading, \
             reset-breakers, recoveries, approve, retry, abandon, stop)"
        ),
    }
}

/// Sends one request to the engine listening on `path` and returns its JSON answer.
pub fn request(path: &Path, line: &str) -> Result<Value> {
    let mut s = UnixStream::connect(path).with_context(|| {
        format!("no engine is listening on {} (is `arb run` or `arb demo` running?)", path.display())
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    writeln!(s, "{line}")?;
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer)?;
    serde_json::from_str(&answer).context("the engine's answer is not JSON")
}
