//! The cold monitor thread: merges the stages' latency histograms, acts on alerts
//! (halting trading when a stage asks for it, with the cause: the journal's I/O error,
//! an operator's kill switch), and keeps the view that the dashboard, reports and
//! callers of manual operations read. It never touches a hot ring from the
//! producing side and the hot path never waits on it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipeline::metrics::{MetricsHub, Summary};
use pipeline::msg::{Alert, AlertKind, Foreign, OpOutcome};
use pipeline::runtime::Control;
use pipeline::types::{InstrumentId, Qty, Side, Venue};

use super::ColdRings;

/// Finished operations kept for the dashboard and manual callers.
pub const OUTCOMES_KEPT: usize = 4096;
/// Alerts kept for the dashboard.
const ALERTS_KEPT: usize = 256;
/// Foreign orders and fills kept for the dashboard and the report.
pub const FOREIGN_KEPT: usize = 64;
/// How often the latency windows roll.
const WINDOW: Duration = Duration::from_secs(1);

/// Upper bounds of the Prometheus latency buckets, in nanoseconds (deploy/METRICS.md).
pub const BUCKETS_NS: [u64; 19] = [
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
];

/// One latency series as Prometheus buckets: cumulative counts at or below each bound
/// of [`BUCKETS_NS`], the total count and the sum in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    pub name: String,
    pub kind: pipeline::metrics::SeriesKind,
    pub le: [u64; BUCKETS_NS.len()],
    pub count: u64,
    pub sum_ns: f64,
}

/// What the cold side knows, refreshed by the monitor.
#[derive(Clone, Debug, Default)]
pub struct MonitorView {
    /// Latency since start, per series.
    pub latency: Vec<Summary>,
    /// The same series as Prometheus buckets.
    pub buckets: Vec<Buckets>,
    /// Latency over the last window, per series.
    pub window: Vec<Summary>,
    /// Finished operations, oldest first.
    pub outcomes: VecDeque<OpOutcome>,
    /// Alerts, oldest first.
    pub alerts: VecDeque<Alert>,
    /// Why trading was halted without an operator asking, most specific first.
    pub faults: Vec<String>,
    /// Activity on the account this instance did not create.
    pub foreign: ForeignView,
}

/// Orders and fills on the account that this instance did not send, as the cold side
/// keeps them (the state stage's counters are the totals).
#[derive(Clone, Debug, Default)]
pub struct ForeignView {
    /// The latest, oldest first ([`FOREIGN_KEPT`]).
    pub recent: VecDeque<Foreign>,
    /// Foreign fills per instrument and side: how many, and their summed quantity.
    pub fills_by: BTreeMap<(InstrumentId, Side), (u64, Qty)>,
}

impl ForeignView {
    fn add(&mut self, f: Foreign) {
        if f.fill {
            let e = self.fills_by.entry((f.inst, f.side)).or_insert((0, Qty::ZERO));
            e.0 += 1;
            e.1 = Qty(e.1.0.saturating_add(f.qty.0));
        }
        if self.recent.len() == FOREIGN_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(f);
    }
}

impl MonitorView {
    /// The outcome of the operation of opportunity `opp_id`, if it finished.
    pub fn outcome_of(&self, opp_id: u64) -> Option<OpOutcome> {
        self.outcomes.iter().rev().find(|o| o.opp_id == opp_id).copied()
    }
}

pub(crate) struct Monitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<MetricsHub>,
}

impl Monitor {
    pub fn start(
        hub: MetricsHub,
        rings: ColdRings,
        control: Arc<Control>,
        view: Arc<Mutex<MonitorView>>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || run(hub, rings, control, view, s))
            .expect("spawning the monitor thread");
        Self { stop, thread }
    }

    /// Stops the monitor after a last collection and returns the hub with every series.
    pub fn finish(self) -> MetricsHub {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_else(|_| MetricsHub::new(quanta::Clock::new()))
    }
}

fn run(
    mut hub: MetricsHub,
    mut rings: ColdRings,
    control: Arc<Control>,
    view: Arc<Mutex<MonitorView>>,
    stop: Arc<AtomicBool>,
) -> MetricsHub {
    let mut next_window = Instant::now() + WINDOW;
    let mut faults: Vec<String> = Vec::new();
    let mut halt_logged = false;
    loop {
        let stopping = stop.load(Ordering::Acquire);
        hub.collect();
        let mut alerts = Vec::new();
        // The state stage's first: its journal failure comes before the risk gate's halt
        // that follows from it.
        rings.state_alerts.drain(usize::MAX, |a| alerts.push(a));
        rings.risk_alerts.drain(usize::MAX, |a| alerts.push(a));
        let mut outcomes = Vec::new();
        rings.outcomes.drain(usize::MAX, |o| outcomes.push(o));
        let mut foreign = Vec::new();
        rings.foreign.drain(usize::MAX, |f| foreign.push(f));
        let now_ns = pipeline::clock::now_ns(&rings.clock);
        let wall = |ts_ns: u64| pipeline::clock::unix_ns().saturating_sub(now_ns.saturating_sub(ts_ns));
        for a in &alerts {
            let cause = halt_cause(a, &rings, &mut faults);
            if let Some(c) = &cause {
                if !control.halt_reasons().contains(c) {
                    control.halt(c.clone());
                }
            }
            if repeats_halt(a, &mut halt_logged) {
                continue;
            }
            let (level, cause) = match &cause {
                Some(c) if a.kind == AlertKind::JournalFailed => {
                    ("error", format!(r#","cause":{}"#, json_str(c)))
                }
                Some(c) => ("warn", format!(r#","cause":{}"#, json_str(c))),
                None => ("warn", String::new()),
            };
            let detail = drift_detail(a, &rings.drift);
            let message = json_str(&alert_message(a, &rings.controls.listing.instruments));
            rings.log.line(&format!(
                r#"{{"ts_ns":{},"level":"{level}","source":"alerts","event":"{:?}","op":{},"value":{},"message":{message}{cause}{detail}}}"#,
                wall(a.ts_ns),
                a.kind,
                a.op,
                a.value
            ));
        }
        for f in &foreign {
            rings.log.line(&format!(
                r#"{{"ts_ns":{},"level":"warn","source":"state","event":"ForeignActivity","venue":"{}","inst":{},"side":"{:?}","fill":{},"client_order_id":{},"venue_order_id":{}}}"#,
                wall(f.ts_ns),
                f.venue,
                f.inst.0,
                f.side,
                f.fill,
                json_str(f.client_text.as_str()),
                json_str(f.venue_order.as_str())
            ));
        }
        for (source, rx) in &mut rings.logs {
            rx.drain(256, |r| rings.log.line(&r.to_json(wall(r.ts_ns), source)));
        }
        let roll = Instant::now() >= next_window;
        let window = if roll {
            next_window = Instant::now() + WINDOW;
            Some(hub.take_window())
        } else {
            None
        };
        if let Ok(mut v) = view.lock() {
            if v.faults.len() != faults.len() {
                v.faults.clone_from(&faults);
            }
            for a in alerts {
                if v.alerts.len() == ALERTS_KEPT {
                    v.alerts.pop_front();
                }
                v.alerts.push_back(a);
            }
            for f in foreign {
                v.foreign.add(f);
            }
            for o in outcomes {
                if v.outcomes.len() == OUTCOMES_KEPT {
                    v.outcomes.pop_front();
                }
                v.outcomes.push_back(o);
            }
            if let Some(w) = window {
                v.window = w;
                v.latency = hub.summaries();
                v.buckets = buckets(&hub);
            }
        }
        if stopping {
            // The stage threads have joined: their recorders handed over on drop. Every
            // reader (the dashboard, /metrics, the report, the .hgrm files) now sees
            // the same final histograms.
            hub.collect();
            if let Ok(mut v) = view.lock() {
                v.latency = hub.summaries();
                v.buckets = buckets(&hub);
            }
            return hub;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Why alert `a` halts trading, if it does; a cause that is no operator's request is
/// added to `faults` (a journal failure ahead of a kill switch that follows from it).
fn halt_cause(a: &Alert, rings: &ColdRings, faults: &mut Vec<String>) -> Option<String> {
    match a.kind {
        AlertKind::JournalFailed => {
            let cause = match rings.journal_causes.iter().find_map(|c| c.get()) {
                Some(e) => format!("journal write failed: {e}"),
                None => "journal write failed: a record could not be written".to_owned(),
            };
            if !faults.contains(&cause) {
                faults.insert(0, cause.clone());
            }
            Some(cause)
        }
        AlertKind::Halted if a.value == pipeline::msg::HALT_RESTORED_OPERATOR => Some(
            "kill switch (operator, journaled before the restart; `arb ctl resume-trading` lifts it)"
                .to_owned(),
        ),
        AlertKind::Halted if a.value == pipeline::msg::HALT_RESTORED_FAULT => {
            let cause = "kill switch thrown by the engine before the restart (journaled; `arb ctl \
                         resume-trading` lifts it)"
                .to_owned();
            if !faults.contains(&cause) {
                faults.push(cause.clone());
            }
            Some(cause)
        }
        AlertKind::Halted if rings.controls.operator_killed() => Some("kill switch (operator)".to_owned()),
        // The engine threw the kill switch itself: for the fault already known, if any.
        AlertKind::Halted => Some(faults.first().cloned().unwrap_or_else(|| {
            let cause = format!("kill switch thrown by the engine (alert from op {})", a.op);
            faults.push(cause.clone());
            cause
        })),
        _ => None,
    }
}

/// Whether `a` says again that trading halted, with no resume since the halt logged
/// (`logged`): one kill switch halts both the risk gate and the state stage, and each
/// says so; the operator reads it once.
fn repeats_halt(a: &Alert, logged: &mut bool) -> bool {
    match a.kind {
        AlertKind::Halted => std::mem::replace(logged, true),
        AlertKind::Resumed => {
            *logged = false;
            false
        }
        _ => false,
    }
}

/// What alert `a` means and what follows from it, in an operator's words: the kind's
/// `value` (a breaker's index, an instrument's id, a leg, a count) named.
fn alert_message(a: &Alert, instruments: &pipeline::types::Instruments) -> String {
    let op = a.op;
    let breaker = || {
        usize::try_from(a.value)
            .ok()
            .and_then(|i| pipeline::risk::Breaker::ALL.get(i))
            .map_or("unknown", |b| b.name())
    };
    match a.kind {
        AlertKind::BreakerTripped => {
            format!("circuit breaker {} opened: no new operations until it resets", breaker())
        }
        AlertKind::BreakerReset => format!("circuit breaker {} closed: new operations allowed", breaker()),
        AlertKind::Halted => "kill switch on: no new operations, open orders cancelled".to_owned(),
        AlertKind::Resumed => "kill switch lifted".to_owned(),
        AlertKind::RecoveryExhausted => format!(
            "operation {op}: recovery gave up after {} rounds with a position not flat; its instruments are halted until an operator decides: `arb ctl approve|retry|abandon {op}`",
            a.value
        ),
        AlertKind::DeadlineMissed => {
            format!("operation {op}: its deadline passed with its legs not matched; recovery goes on")
        }
        AlertKind::UnknownOrder => format!(
            "operation {op}, leg {}: the order's outcome is unknown; it is queried, and new operations wait until it is known",
            a.value
        ),
        AlertKind::JournalFailed => "a journal write failed: trading halts".to_owned(),
        AlertKind::InstrumentHalted => {
            let inst = u16::try_from(a.value).ok().and_then(|i| instruments.try_get(InstrumentId(i)));
            let name = inst.map_or_else(
                || format!("id {}", a.value),
                |i| format!("{}:{}:{}", i.venue.name(), i.market.name(), i.symbol),
            );
            // Raised for an operation given up on and for one restored at start alike.
            format!(
                "instrument {name} halted: no new operations on it until operation {op} is resolved \
                 (`arb ctl recoveries`)"
            )
        }
        AlertKind::BalanceDrift => {
            "a venue's balance differs from the engine's books beyond the tolerance".to_owned()
        }
        AlertKind::DriftHalted => "new entries on the venue halted for a balance drift".to_owned(),
        AlertKind::DriftAcknowledged => "an operator took the venue's balances as they are".to_owned(),
        AlertKind::RecoveryBounded => format!(
            "operation {op}, leg {}: a recovery order was clamped to the operation's own quantities, or refused beyond the notional limit",
            a.value
        ),
    }
}

/// A drift alert's wallet, in the words an operator needs: venue, account, asset, the
/// balance the engine's books expect and the venue's (empty for other alerts).
fn drift_detail(a: &Alert, board: &pipeline::state::DriftBoard) -> String {
    match a.kind {
        AlertKind::BalanceDrift | AlertKind::DriftHalted if a.value >= 0 => {
            board.line(a.value as usize).map_or_else(String::new, |l| {
                format!(
                    r#","venue":"{}","account":"{}","asset":{},"expected":"{}","actual":"{}","drift":"{}"{}"#,
                    l.venue,
                    l.account.name(),
                    json_str(&l.asset),
                    l.expected,
                    l.actual,
                    l.drift,
                    if a.kind == AlertKind::DriftHalted {
                        format!(
                            r#","action":"new entries on {} halted; `arb ctl ack-drift {}` after checking the account""#,
                            l.venue, l.venue
                        )
                    } else {
                        String::new()
                    }
                )
            })
        }
        AlertKind::DriftHalted => {
            let v = Venue::ALL.get((-1 - a.value) as usize).copied();
            v.map_or_else(String::new, |v| {
                format!(
                    r#","venue":"{v}","action":"drift halt journaled before the restart; `arb ctl ack-drift {v}` lifts it""#
                )
            })
        }
        AlertKind::DriftAcknowledged => {
            Venue::ALL.get(a.value as usize).map_or_else(String::new, |v| format!(r#","venue":"{v}""#))
        }
        _ => String::new(),
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Every series of `hub` as cumulative Prometheus buckets, read from the same
/// histograms (nanoseconds) as the report and the `.hgrm` files.
fn buckets(hub: &MetricsHub) -> Vec<Buckets> {
    hub.totals()
        .map(|(name, kind, h)| {
            let mut le = [0u64; BUCKETS_NS.len()];
            for (slot, &bound) in le.iter_mut().zip(BUCKETS_NS.iter()) {
                *slot = if h.is_empty() { 0 } else { h.count_between(0, bound) };
            }
            let sum_ns = if h.is_empty() { 0.0 } else { h.mean() * h.len() as f64 };
            Buckets { name: name.to_owned(), kind, le, count: h.len(), sum_ns }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_is_logged_once_until_trading_resumes() {
        let alert = |kind| Alert { kind, op: 0, value: 0, ts_ns: 0 };
        let mut logged = false;
        let seen: Vec<bool> = [AlertKind::Halted, AlertKind::Halted, AlertKind::Resumed, AlertKind::Halted]
            .into_iter()
            .map(|k| repeats_halt(&alert(k), &mut logged))
            .collect();
        assert_eq!(seen, [false, true, false, false]);
    }

    #[test]
    fn alerts_name_their_breaker_instrument_and_what_the_operator_can_do() {
        let specs: Vec<_> = sim::catalog::listings().iter().map(|l| l.spec()).collect();
        let t = pipeline::types::Instruments::from_specs(&specs).unwrap();
        let id = t.find(Venue::GateIo, pipeline::types::Market::Spot, "ETH_BTC").unwrap();
        let alert = |kind, op, value| Alert { kind, op, value, ts_ns: 0 };
        let breaker = pipeline::risk::Breaker::ErrorRate.index() as i64;
        let m = alert_message(&alert(AlertKind::BreakerTripped, 0, breaker), &t);
        assert!(m.contains("circuit breaker error_rate opened"), "{m}");
        let m = alert_message(&alert(AlertKind::InstrumentHalted, 5, i64::from(id.0)), &t);
        assert!(m.contains("instrument gateio:spot:ETH_BTC halted") && m.contains("operation 5"), "{m}");
        let m = alert_message(&alert(AlertKind::RecoveryExhausted, 5, 3), &t);
        assert!(m.contains("after 3 rounds") && m.contains("arb ctl approve|retry|abandon 5"), "{m}");
        // Values that name nothing are shown as they are, never a panic.
        let m = alert_message(&alert(AlertKind::InstrumentHalted, 1, -7), &t);
        assert!(m.contains("id -7"), "{m}");
        let m = alert_message(&alert(AlertKind::BreakerReset, 0, 99), &t);
        assert!(m.contains("unknown"), "{m}");
        for kind in [AlertKind::RecoveryExhausted, AlertKind::UnknownOrder, AlertKind::RecoveryBounded] {
            let m = alert_message(&alert(kind, 1, 0), &t);
            assert!(!m.contains("  "), "one space between words: {m}");
        }
    }
}
