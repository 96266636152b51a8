//! Operator control of a running engine over a local Unix socket (`arb ctl`).
//!
//! One request per connection: a line of text, answered with one JSON object. The
//! server runs on a cold thread and acts only through the control rings and the
//! telemetry handle, like any other cold-side caller. Many clients are served at once
//! ([`crate::request_server`]): a line longer than [`MAX_LINE`] or not complete within
//! [`DEADLINE`] is answered with an error and the connection closed, so a slow or
//! hostile client never holds up `arb ctl kill`.
//!
//! The socket is the operator's alone: it is created with mode 0600 (the journal
//! directory it sits in is 0700 when the engine creates it).
//!
//! Requests: `status`, `pause INSTRUMENT`, `resume INSTRUMENT`,
//! `add-symbol PAIR [--venue V] [--market spot|futures]`, `remove-symbol PAIR [--venue V]
//! [--market spot|futures]`, `kill`, `resume-trading`, `reset-breakers`, `recoveries`,
//! `approve OP`, `retry OP`, `abandon OP`, `ack-drift [VENUE]`, `stop`. An INSTRUMENT is
//! `venue:market:SYMBOL` (`gateio:spot:BTC_USDT`) or a pair `BASE/QUOTE`, meaning every
//! instrument of it.
//!
//! `add-symbol` starts trading a pair: one loaded without being traded (`[market]
//! standby`), paused or removed, or one not loaded at all, whose metadata is fetched,
//! subscribed, synced and indexed for detection while everything else keeps trading
//! ([`crate::engine::listing`]). `remove-symbol` stops opening operations on it, then
//! unsubscribes it and frees its book once open operations finish; ids stay (journaled).
//! `pause` removes one from trading while its book stays in sync.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use pipeline::msg::{AlertKind, DetectControl, RiskControl, StateControl};
use pipeline::types::{InstrumentId, Instruments, Venue};
use serde_json::{Value, json};

use crate::engine::Controls;
use crate::engine::listing::SymbolArgs;
use crate::instruments::resolve;
use crate::request_server::{Limits, Listener, Protocol, RequestServer};
use crate::telemetry::Telemetry;

/// The longest request line, newline included.
pub const MAX_LINE: usize = 4096;
/// Time a client has to send its whole line.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// How long `arb ctl` waits for the engine's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

const LIMITS: Limits =
    Limits { max_request: MAX_LINE, deadline: DEADLINE, max_connections: 64, linger: Duration::from_secs(1) };

/// A running control socket; removes its file and stops when dropped.
#[derive(Debug)]
pub struct CtlServer {
    path: PathBuf,
    server: Option<RequestServer>,
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
        // Bound under a temporary name and made the owner's alone before it takes its
        // name, so it is never reachable there with a wider mode.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let fresh = path.with_file_name(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        let listener =
            UnixListener::bind(&fresh).with_context(|| format!("cannot bind {}", path.display()))?;
        let placed = std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&fresh, path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&fresh);
            return Err(e).with_context(|| format!("cannot create {}", path.display()));
        }
        let server = Listener::unix(listener)
            .and_then(|l| RequestServer::start("ctl", l, LIMITS, CtlProtocol { controls, telemetry }));
        match server {
            Ok(server) => Ok(Self { path: path.to_owned(), server: Some(server) }),
            Err(e) => {
                let _ = std::fs::remove_file(path);
                Err(e).with_context(|| format!("cannot serve {}", path.display()))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

struct CtlProtocol {
    controls: Arc<Controls>,
    telemetry: Telemetry,
}

impl CtlProtocol {
    fn reply(answer: Result<Value>) -> Vec<u8> {
        let answer = match answer {
            Ok(v) => json!({"ok": true, "result": v}),
            Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
        };
        format!("{answer}\n").into_bytes()
    }
}

impl Protocol for CtlProtocol {
    fn answer(&mut self, received: &[u8], eof: bool) -> Option<Vec<u8>> {
        let request = read_request(received, eof, &self.telemetry.instruments)?;
        Some(Self::reply(request.and_then(|r| handle(r, &self.controls, &self.telemetry))))
    }

    fn too_large(&mut self) -> Vec<u8> {
        Self::reply(Err(anyhow!("request longer than {MAX_LINE} bytes; nothing was done")))
    }

    fn too_slow(&mut self) -> Vec<u8> {
        Self::reply(Err(anyhow!("no complete request line within {DEADLINE:?}; nothing was done")))
    }
}

/// A request, as read from its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Status,
    Pause(Vec<InstrumentId>),
    Resume(Vec<InstrumentId>),
    AddSymbol(SymbolArgs),
    RemoveSymbol(SymbolArgs),
    Kill,
    Stop,
    ResumeTrading,
    ResetBreakers,
    Recoveries,
    Approve(u64),
    Retry(u64),
    Abandon(u64),
    /// Acknowledge a venue's balance drift (every venue's without one).
    AckDrift(Option<Venue>),
}

impl Request {
    /// The instruments it names.
    pub fn instruments(&self) -> &[InstrumentId] {
        match self {
            Request::Pause(ids) | Request::Resume(ids) => ids,
            _ => &[],
        }
    }
}

fn op_arg(arg: Option<&str>) -> Result<u64> {
    arg.context("an operation id is required")?.parse().context("an operation id is a number")
}

/// Reads the request in what a client sent so far: `None` while its line is not complete
/// (and the client has not finished sending, `eof`), else the request or why it is
/// refused. Only the first line counts.
pub fn read_request(received: &[u8], eof: bool, instruments: &Instruments) -> Option<Result<Request>> {
    let line = match received.iter().position(|&b| b == b'\n') {
        Some(end) => &received[..end],
        None if eof => received,
        None => return None,
    };
    Some(match std::str::from_utf8(line) {
        Ok(line) => parse_line(line, instruments),
        Err(_) => Err(anyhow!("the request is not UTF-8 text")),
    })
}

fn parse_line(line: &str, instruments: &Instruments) -> Result<Request> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let arg = words.next();
    let ids = || resolve(instruments, arg.context("an instrument is required")?);
    let request = match cmd {
        "status" => Request::Status,
        "pause" => Request::Pause(ids()?),
        "resume" => Request::Resume(ids()?),
        "add-symbol" => Request::AddSymbol(symbol_args(line, instruments)?),
        "remove-symbol" => Request::RemoveSymbol(symbol_args(line, instruments)?),
        "kill" => Request::Kill,
        "stop" => Request::Stop,
        "resume-trading" => Request::ResumeTrading,
        "reset-breakers" => Request::ResetBreakers,
        "recoveries" => Request::Recoveries,
        "approve" => Request::Approve(op_arg(arg)?),
        "retry" => Request::Retry(op_arg(arg)?),
        "abandon" => Request::Abandon(op_arg(arg)?),
        "ack-drift" => {
            Request::AckDrift(arg.map(|v| v.parse::<Venue>().map_err(|e| anyhow!("{e}"))).transpose()?)
        }
        "" => bail!("empty request"),
        other => bail!(
            "unknown request `{other}` (status, pause, resume, add-symbol, remove-symbol, kill, \
             resume-trading, reset-breakers, recoveries, approve, retry, abandon, ack-drift, stop)"
        ),
    };
    // A word past what the request takes is refused, not dropped: `approve 12 13` would
    // otherwise act on 12 alone and say nothing of 13.
    let takes = match request {
        Request::AddSymbol(_) | Request::RemoveSymbol(_) => return Ok(request),
        Request::Pause(_)
        | Request::Resume(_)
        | Request::Approve(_)
        | Request::Retry(_)
        | Request::Abandon(_)
        | Request::AckDrift(_) => 1,
        _ => 0,
    };
    if let Some(extra) = line.split_whitespace().nth(1 + takes) {
        let what = if takes == 0 { "no argument" } else { "one argument" };
        bail!("`{cmd}` takes {what}: `{extra}` is not understood");
    }
    Ok(request)
}

/// The arguments of `add-symbol` and `remove-symbol`: `PAIR [--venue V] [--market M]`,
/// or one loaded instrument as `venue:market:SYMBOL`.
fn symbol_args(line: &str, instruments: &Instruments) -> Result<SymbolArgs> {
    let mut words = line.split_whitespace().skip(1).peekable();
    if let Some(arg) = words.peek().filter(|a| a.contains(':')) {
        let [id] = resolve(instruments, arg)?[..] else { bail!("`{arg}` names more than one instrument") };
        let i = instruments.get(id);
        return Ok(SymbolArgs {
            pair: instruments.pair_name(id),
            venue: Some(i.venue),
            market: Some(i.market),
        });
    }
    SymbolArgs::parse(words)
}

/// Whether `op` may be the subject of an operator's decision: `retry` is for an
/// operation that waits for an operator; `approve` and `abandon` for any open one (an
/// operation whose order's outcome can never be learned stays open without ever
/// waiting for an operator, and abandoning it is the way out). An id that names no such
/// operation (a typo, one already closed) is refused with the ones that qualify. When
/// more are open than the state stage lists, an id not listed is let through.
fn decision_for(t: &Telemetry, op: u64, waiting_only: bool) -> Result<()> {
    let state = t.stats.snapshot().state;
    let (listed, count, what) = if waiting_only {
        (&state.awaiting_operator, state.open[2], "awaiting an operator")
    } else {
        (&state.open_ops, state.open.iter().sum::<i64>(), "open")
    };
    if listed.contains(&op) || count > listed.len() as i64 {
        return Ok(());
    }
    bail!("operation {op} is not {what} ({what}: {listed:?}; see `arb ctl recoveries`)")
}

/// Requests that would let detection open operations again, which an orderly stop has
/// turned off on every instrument.
fn opens_operations(request: &Request) -> bool {
    matches!(request, Request::AddSymbol(_) | Request::Resume(_))
}

fn handle(request: Request, controls: &Arc<Controls>, t: &Telemetry) -> Result<Value> {
    let ins = &t.instruments;
    let sent = |ok: bool| if ok { Ok(json!("sent")) } else { bail!("the control ring is full; try again") };
    match request {
        Request::Status => {
            let (_, health) = t.health();
            let snap = t.stats.snapshot();
            Ok(json!({"health": health, "trading": snap.to_string()}))
        }
        _ if opens_operations(&request) && controls.shutdown_requested() => {
            bail!("the engine is stopping: it opens no new operations")
        }
        Request::AddSymbol(ref args) => controls.listing.add(controls, args),
        Request::RemoveSymbol(ref args) => controls.listing.remove(controls, args),
        Request::Pause(ref ids) | Request::Resume(ref ids) => {
            let pause = matches!(request, Request::Pause(_));
            let mut ok = true;
            for id in ids {
                let c = if pause { DetectControl::Disable(*id) } else { DetectControl::Enable(*id) };
                ok &= controls.detect(c);
            }
            let names: Vec<String> = ids
                .iter()
                .map(|&id| {
                    let i = ins.get(id);
                    format!("{}:{}:{}", i.venue, i.market, i.symbol)
                })
                .collect();
            sent(ok).map(|_| json!({"instruments": names, "trading": !pause}))
        }
        Request::Kill => {
            controls.kill_switch();
            Ok(json!("kill switch on: no new operations, open orders cancelled"))
        }
        Request::Stop => {
            controls.request_shutdown();
            Ok(json!("stopping: no new operations; open ones finish, then the engine reports and exits"))
        }
        Request::ResumeTrading => {
            let was_on = controls.operator_killed() || t.stats.snapshot().state.killed;
            sent(controls.resume_trading()).map(|_| {
                if was_on {
                    json!("kill switch lifted (journaled): trading resumes unless a fault halted it")
                } else {
                    json!("the kill switch was not on: nothing to lift")
                }
            })
        }
        Request::ResetBreakers => sent(controls.risk(RiskControl::ResetBreakers)),
        Request::Recoveries => {
            // The state stage's own list: it holds operations restored from the journal
            // too, which raised no alert in this run.
            let state = t.stats.snapshot().state;
            let alerts = t.view.lock().map(|v| v.alerts.clone()).unwrap_or_default();
            let rounds = |op: u64| {
                alerts
                    .iter()
                    .rev()
                    .find(|a| a.kind == AlertKind::RecoveryExhausted && a.op == op)
                    .map(|a| a.value)
            };
            let waiting: Vec<Value> =
                state.awaiting_operator.iter().map(|&op| json!({"op": op, "rounds": rounds(op)})).collect();
            let unlisted = (state.open[2] as usize).saturating_sub(waiting.len());
            Ok(json!({"awaiting_operator": waiting, "not_listed": unlisted, "open": state.open,
                      "open_operations": state.open_ops}))
        }
        Request::Approve(op) => {
            decision_for(t, op, false)?;
            sent(controls.state(StateControl::Approve { op }))
        }
        Request::Retry(op) => {
            decision_for(t, op, true)?;
            sent(controls.state(StateControl::Retry { op }))
        }
        Request::Abandon(op) => {
            decision_for(t, op, false)?;
            sent(controls.state(StateControl::Abandon { op }))
        }
        Request::AckDrift(venue) => {
            let drifting: Vec<Value> = t
                .drift
                .lines()
                .into_iter()
                .filter(|l| venue.is_none_or(|v| v == l.venue) && !l.drift.is_zero())
                .map(|l| {
                    json!({"venue": l.venue.name(), "account": l.account.name(), "asset": l.asset,
                           "expected": l.expected.to_string(), "actual": l.actual.to_string()})
                })
                .collect();
            sent(controls.state(StateControl::AckDrift { venue })).map(|_| {
                json!({"acknowledged": venue.map_or("every venue", |v| v.name()),
                       "accepted": drifting,
                       "effect": "the venues' balances are taken as they are; a drift halt is lifted (journaled)"})
            })
        }
    }
}

/// Sends one request to the engine listening on `path` and returns its JSON answer.
pub fn request(path: &Path, line: &str) -> Result<Value> {
    let mut s = UnixStream::connect(path).map_err(|e| connect_error(path, e))?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    writeln!(s, "{line}")?;
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            anyhow!("the engine on {} did not answer within {ANSWER_TIMEOUT:?}", path.display())
        }
        _ => anyhow::Error::new(e).context(format!("reading the answer from {}", path.display())),
    })?;
    serde_json::from_str(&answer).context("the engine's answer is not JSON")
}

/// Why connecting to the control socket failed, in an operator's words.
fn connect_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => anyhow::Error::new(e).context(format!(
            "no engine is listening on {} (is `arb run` or `arb demo` running?)",
            path.display()
        )),
        ErrorKind::PermissionDenied => {
            anyhow!(
                "permission denied on {} ({}; run `arb ctl` as that user)",
                path.display(),
                owner_of(path)
            )
        }
        _ => anyhow::Error::new(e).context(format!("cannot connect to {}", path.display())),
    }
}

/// Who owns the socket (or, when even that cannot be read, its directory).
fn owner_of(path: &Path) -> String {
    if let Ok(m) = std::fs::metadata(path) {
        return format!("the socket belongs to {}, mode {:03o}", user_name(m.uid()), m.mode() & 0o777);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) => format!(
            "its directory {} belongs to {}, mode {:03o}",
            dir.display(),
            user_name(m.uid()),
            m.mode() & 0o777
        ),
        Err(_) => "its owner cannot be read".to_owned(),
    }
}

/// `name (uid N)` from /etc/passwd, or `uid N`.
fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|text| {
        text.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
    });
    match name {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_read_or_refused_with_the_reason() {
        use pipeline::types::{InstrumentSpec, Market};
        let spec = InstrumentSpec {
            venue: Venue::GateIo,
            market: Market::Spot,
            symbol: "BTC_USDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            tick: "0.01".into(),
            lot: "0.0001".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: "1".into(),
            taker_fee: None,
            maker_fee: None,
            trading_enabled: true,
        };
        let t = Instruments::from_specs([&spec]).unwrap();
        let id = t.find(Venue::GateIo, Market::Spot, "BTC_USDT").unwrap();
        let read =
            |line: &str, eof| read_request(line.as_bytes(), eof, &t).map(|r| r.map_err(|e| format!("{e:#}")));
        assert_eq!(read("status", false), None, "a line is complete with its newline");
        assert_eq!(read("status", true), Some(Ok(Request::Status)));
        assert_eq!(read(" pause  gateio:spot:BTC_USDT \nkill\n", false), Some(Ok(Request::Pause(vec![id]))));
        assert_eq!(read("resume BTC/USDT\n", false), Some(Ok(Request::Resume(vec![id]))));
        assert_eq!(read("approve 17\n", false), Some(Ok(Request::Approve(17))));
        assert_eq!(read("ack-drift gateio\n", false), Some(Ok(Request::AckDrift(Some(Venue::GateIo)))));
        assert_eq!(read("ack-drift\n", false), Some(Ok(Request::AckDrift(None))));
        // While the engine stops, what would turn detection back on is refused.
        let opens = |line: &str| opens_operations(&read(line, true).unwrap().unwrap());
        assert!(opens("resume BTC/USDT") && !opens("pause BTC/USDT") && !opens("kill") && !opens("status"));
        let refused = |line: &str| read(line, true).unwrap().unwrap_err();
        assert_eq!(refused("approve -1"), "an operation id is a number: invalid digit found in string");
        assert_eq!(refused("pause"), "an instrument is required");
        assert!(refused("pause ETH/USDT").starts_with("no instrument of ETH/USDT"));
        assert_eq!(refused(""), "empty request");
        assert_eq!(refused("approve 12 13"), "`approve` takes one argument: `13` is not understood");
        assert_eq!(refused("stop now please"), "`stop` takes no argument: `now` is not understood");
        assert!(refused("launch").starts_with("unknown request `launch`"));
        assert_eq!(
            read_request(b"st\xffatus\n", false, &t).unwrap().unwrap_err().to_string(),
            "the request is not UTF-8 text"
        );
    }

    #[test]
    fn connect_errors_say_what_to_do() {
        let path = Path::new("/nonexistent-arb-test/arb.sock");
        let e = connect_error(path, ErrorKind::NotFound.into());
        assert!(
            format!("{e:#}").starts_with("no engine is listening on /nonexistent-arb-test/arb.sock"),
            "{e:#}"
        );
        let e = connect_error(path, ErrorKind::ConnectionRefused.into());
        assert!(format!("{e:#}").contains("no engine is listening"), "{e:#}");
        let e = connect_error(Path::new("/etc/passwd"), ErrorKind::PermissionDenied.into());
        let text = format!("{e:#}");
        assert!(
            text.starts_with("permission denied on /etc/passwd (the socket belongs to root (uid 0)"),
            "{text}"
        );
        assert!(text.ends_with("run `arb ctl` as that user)"), "{text}");
        assert!(!text.contains("no engine"), "{text}");
    }
}
