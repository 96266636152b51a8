//! What a running engine shows the outside: a cloneable handle on its counters, the
//! Prometheus text exposition (`/metrics`, names in deploy/METRICS.md) and the health
//! summary (`/health`). Everything here reads atomics and the monitor's view; nothing
//! reaches into a stage.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use adapters::decode::{BadInput, DecodeStats};
use adapters::net::ws::{LinkState, WsStats};
use pipeline::book::BookCounters;
use pipeline::msg::OppKind;
use pipeline::risk::{Breaker, Veto};
use pipeline::runtime::Control;
use pipeline::stats::TradingStats;
use pipeline::types::{Instruments, Venue};
use serde_json::json;

use crate::engine::{BUCKETS_NS, MonitorView, Session, SyncProgress};
use crate::instruments::{MetadataProgress, MetadataState, MetadataStatus};

/// A cloneable view of a running engine.
#[derive(Clone)]
pub struct Telemetry {
    pub stats: TradingStats,
    pub books: Arc<BookCounters>,
    pub decode: Arc<DecodeStats>,
    pub view: Arc<Mutex<MonitorView>>,
    pub control: Arc<Control>,
    pub instruments: Arc<Instruments>,
    /// Instruments removed while running (no book).
    pub removed: Arc<Mutex<std::collections::BTreeSet<pipeline::types::InstrumentId>>>,
    pub connections: adapters::feed::live::ConnectionList,
    pub positions: Arc<pipeline::cells::PositionBoard>,
    /// Fees, funding, P&L and wallets as the state stage books them.
    pub money: Arc<pipeline::state::MoneyBoard>,
    /// Every wallet against its venue's balance, while running.
    pub drift: Arc<pipeline::state::DriftBoard>,
    pub started: Instant,
    /// The start on the engine's clock (ns).
    pub started_ns: u64,
    /// Instruments listed at start.
    pub listed_at_start: usize,
    pub dry_run: bool,
    pub clock: quanta::Clock,
    /// The universe traded, in one line.
    pub universe: String,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").field("instruments", &self.instruments.len()).finish_non_exhaustive()
    }
}

struct Out(String);

impl Out {
    fn help(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn line(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

impl Telemetry {
    /// A handle on `session`'s counters for other threads (metrics endpoint, control
    /// socket, dashboard).
    pub fn of(session: &Session) -> Telemetry {
        Telemetry {
            stats: session.stats().clone(),
            books: session.book_counters().clone(),
            decode: session.decode_stats().clone(),
            view: session.shared_view().clone(),
            control: session.control().clone(),
            instruments: session.instruments().clone(),
            removed: session.controls().listing.removed_handle(),
            connections: session.connections().clone(),
            positions: session.positions().clone(),
            money: session.money().clone(),
            drift: session.drift().clone(),
            started: session.started(),
            started_ns: session.started_ns(),
            listed_at_start: session.listed_at_start(),
            dry_run: session.is_dry_run(),
            clock: session.clock().clone(),
            universe: session.universe().to_owned(),
        }
    }

    /// The books' sync progress since start.
    pub fn sync_progress(&self) -> SyncProgress {
        let removed = self.removed.lock().map(|r| r.clone()).unwrap_or_default();
        SyncProgress::read(&self.books, &self.instruments, &removed, self.started_ns, self.listed_at_start)
    }

    /// Seconds since the newest frame of a connection, if any came.
    fn data_age_s(&self, s: &WsStats) -> Option<f64> {
        let snap = s.snapshot();
        (snap.last_data_raw != 0)
            .then(|| self.clock.delta_as_nanos(snap.last_data_raw, self.clock.raw()) as f64 / 1e9)
    }

    /// The Prometheus text exposition of every metric in deploy/METRICS.md.
    pub fn prometheus(&self) -> String {
        let mut o = Out(String::with_capacity(16 * 1024));
        let snap = self.stats.snapshot();
        o.help("arb_up", "gauge", "1 while the engine runs");
        o.line("arb_up", &[], u8::from(!self.control.is_stop_requested()));
        o.help("arb_halted", "gauge", "1 once trading is halted");
        o.line("arb_halted", &[], u8::from(self.control.is_halted() || snap.risk.halted));
        o.help("arb_uptime_seconds", "gauge", "seconds since start");
        o.line("arb_uptime_seconds", &[], format!("{:.3}", self.started.elapsed().as_secs_f64()));
        o.help("arb_waiting_for_data", "gauge", "1 while no order book is in sync");
        o.line("arb_waiting_for_data", &[], u8::from(self.is_waiting_for_data()));
        let per_kind = |o: &mut Out, name: &str, help: &str, v: &[u64]| {
            o.help(name, "counter", help);
            for k in OppKind::ALL {
                o.line(name, &[("kind", k.name())], v[k.index()]);
            }
        };
        per_kind(
            &mut o,
            "arb_opportunities_detected_total",
            "opportunities handed to the risk gate",
            &snap.detect.emitted,
        );
        per_kind(
            &mut o,
            "arb_opportunities_executed_total",
            "opportunities the risk gate approved",
            &snap.risk.approved,
        );
        per_kind(
            &mut o,
            "arb_operations_completed_total",
            "operations closed hedged",
            &snap.state.ops_completed,
        );
        per_kind(
            &mut o,
            "arb_operations_failed_total",
            "operations closed by unwinding or unresolved",
            &snap.state.ops_failed,
        );
        per_kind(
            &mut o,
            "arb_operations_missed_total",
            "operations where no leg filled",
            &snap.state.ops_missed,
        );
        o.help("arb_operations_open", "gauge", "open operations by phase");
        for (phase, n) in ["executing", "recovering", "awaiting_operator"].iter().zip(snap.state.open) {
            o.line("arb_operations_open", &[("phase", phase)], n);
        }
        o.help("arb_recoveries_total", "counter", "operations that needed recovery");
        o.line("arb_recoveries_total", &[], snap.state.recoveries);
        let q = snap.state.quality;
        for (name, help, v) in [
            ("arb_operations_finished_total", "operations closed, whatever the outcome", q.finished),
            ("arb_operations_as_planned_total", "operations whose legs all filled as planned", q.as_planned),
            (
                "arb_operations_needing_recovery_total",
                "operations left unmatched after their entries",
                q.needed_recovery,
            ),
            (
                "arb_recoveries_balanced_total",
                "operations that needed recovery and ended balanced",
                q.recovered_balanced,
            ),
            (
                "arb_operations_profitable_total",
                "operations closed with a positive realized P&L",
                q.profitable,
            ),
            ("arb_round_trips_total", "spot-spot and triangular operations finished", q.round_trips),
            (
                "arb_round_trips_flat_total",
                "spot-spot and triangular operations that ended with their legs matched",
                q.round_trips_flat,
            ),
        ] {
            o.help(name, "counter", help);
            o.line(name, &[], v);
        }
        for (name, help, v) in [
            ("arb_success_ratio", "successful operations over finished ones", q.success_rate()),
            (
                "arb_execution_success_ratio",
                "operations filled as planned over finished ones",
                q.execution_success(),
            ),
            (
                "arb_recovery_success_ratio",
                "recoveries that ended balanced over those needed",
                q.recovery_success(),
            ),
            ("arb_profitable_ratio", "operations closed profitable over finished ones", q.profitable_share()),
        ] {
            o.help(name, "gauge", help);
            o.line(name, &[], format!("{:.6}", v.unwrap_or(f64::NAN)));
        }
        o.help("arb_execution_time_seconds_avg", "gauge", "mean time from approval to close");
        o.line(
            "arb_execution_time_seconds_avg",
            &[],
            format!("{:.9}", q.avg_execution_ms().map_or(f64::NAN, |ms| ms / 1e3)),
        );
        o.help(
            "arb_foreign_fills_total",
            "counter",
            "fills on the account of orders this instance did not send",
        );
        for v in Venue::ALL {
            o.line("arb_foreign_fills_total", &[("venue", v.name())], snap.state.foreign.fills[v.index()]);
        }
        o.help("arb_foreign_orders_total", "counter", "orders on the account this instance did not send");
        for v in Venue::ALL {
            o.line("arb_foreign_orders_total", &[("venue", v.name())], snap.state.foreign.orders[v.index()]);
        }
        o.help("arb_risk_rejected_total", "counter", "refusals by the risk gate");
        for r in Veto::ALL {
            o.line("arb_risk_rejected_total", &[("reason", r.name())], snap.risk.rejected(r));
        }
        o.help("arb_breaker_open", "gauge", "1 while a circuit breaker is open");
        for b in Breaker::ALL {
            o.line(
                "arb_breaker_open",
                &[("breaker", b.name())],
                u8::from(snap.risk.breaker_open[b as usize]),
            );
        }
        let m = &self.money;
        for (name, help, v) in [
            (
                "arb_realized_pnl_usd",
                "realized P&L on closed quantity, fees not deducted",
                m.realized_usd.get(),
            ),
            (
                "arb_daily_pnl_usd",
                "realized P&L less fees plus funding since the day rolled (risk.day_roll_utc_hour)",
                snap.state.daily_pnl,
            ),
            (
                "arb_unrealized_pnl_usd",
                "open positions at executable prices (bid for longs, ask for shorts) less cost",
                m.unrealized_usd.get(),
            ),
            ("arb_fees_usd", "fees charged, valued at each fill's price", m.fees_usd.get()),
            ("arb_funding_usd", "funding the venues booked (positive received)", m.funding_usd.get()),
            ("arb_equity_change_usd", "realized + unrealized - fees + funding", m.equity_change_usd.get()),
            ("arb_open_exposure_usd", "net USD exposure summed over assets", snap.risk.exposure),
        ] {
            o.help(name, "gauge", help);
            o.line(name, &[], v);
        }
        o.help(
            "arb_balance_drift",
            "gauge",
            "a wallet's balance at its venue less the balance the engine's books expect, in the asset",
        );
        for l in self.drift.lines() {
            o.line(
                "arb_balance_drift",
                &[("venue", l.venue.name()), ("account", l.account.name()), ("asset", &l.asset)],
                l.drift,
            );
        }
        o.help(
            "arb_reconcile_mismatches_total",
            "counter",
            "balance checks that found a wallet drifted beyond state.reconcile_tolerance_usd",
        );
        for v in Venue::ALL {
            o.line("arb_reconcile_mismatches_total", &[("venue", v.name())], self.drift.mismatches(v));
        }
        o.help(
            "arb_drift_halted",
            "gauge",
            "1 while new entries on the venue are halted for a persistent balance drift",
        );
        for v in Venue::ALL {
            o.line("arb_drift_halted", &[("venue", v.name())], u8::from(self.drift.is_halted(v)));
        }
        o.help("arb_fees", "gauge", "fees charged per asset, in the asset");
        for a in 0..self.instruments.asset_count() {
            let a = pipeline::types::AssetId(a as u16);
            let fee = m.fees(a);
            if !fee.is_zero() {
                o.line("arb_fees", &[("asset", self.instruments.asset_name(a))], fee);
            }
        }
        let progress = self.sync_progress();
        o.help("arb_books_total", "gauge", "books the engine keeps");
        o.line("arb_books_total", &[], progress.books_total);
        o.help("arb_books_synced", "gauge", "books in sync now");
        o.line("arb_books_synced", &[], progress.books_synced);
        if let Some(ms) = progress.time_to_all_synced_ms {
            o.help("arb_time_to_all_synced_seconds", "gauge", "start until every book had synced once");
            o.line("arb_time_to_all_synced_seconds", &[], format!("{:.3}", ms as f64 / 1000.0));
        }
        if let Some(share) = progress.all_synced_share {
            o.help(
                "arb_all_books_synced_ratio",
                "gauge",
                "share of the time every book was synced at once, since they all first were",
            );
            o.line("arb_all_books_synced_ratio", &[], format!("{share:.4}"));
        }
        let latency = self.view.lock().map(|v| v.latency.clone()).unwrap_or_default();
        o.help(
            "arb_resync_seconds",
            "summary",
            "time from a book losing sync (gap, crossed, stale, feed lost) to synced again",
        );
        let resync = crate::engine::resync_summary(&latency);
        for (q, ns) in [("0.5", resync.map(|s| s.p50_ns)), ("0.99", resync.map(|s| s.p99_ns))] {
            let v = ns.map_or_else(|| "NaN".to_owned(), |ns| format!("{:.6}", ns as f64 / 1e9));
            o.line("arb_resync_seconds", &[("quantile", q)], v);
        }
        let (sum_s, count) = resync.map_or((0.0, 0), |s| (s.mean_ns as f64 * s.count as f64 / 1e9, s.count));
        o.line("arb_resync_seconds_sum", &[], format!("{sum_s:.6}"));
        o.line("arb_resync_seconds_count", &[], count);
        o.help("arb_book_bytes", "gauge", "memory the books hold, in place and heap");
        o.line("arb_book_bytes", &[], progress.book_bytes);
        o.help("arb_book_synced", "gauge", "1 while the book is in sync");
        let book = |o: &mut Out, name: &str, f: &dyn Fn(pipeline::book::BookCounterSnapshot) -> u64| {
            for i in self.instruments.iter() {
                let c = self.books.get(i.id);
                o.line(
                    name,
                    &[("venue", i.venue.name()), ("market", i.market.name()), ("symbol", &i.symbol)],
                    f(c),
                );
            }
        };
        book(&mut o, "arb_book_synced", &|c| u64::from(c.synced));
        o.help("arb_book_gaps_total", "counter", "sequence gaps");
        book(&mut o, "arb_book_gaps_total", &|c| c.gaps);
        o.help("arb_book_resyncs_total", "counter", "resyncs requested (the first sync is none)");
        book(&mut o, "arb_book_resyncs_total", &|c| c.resyncs);
        o.help("arb_book_resyncs_done_total", "counter", "resyncs completed (lost sync, then synced again)");
        book(&mut o, "arb_book_resyncs_done_total", &|c| c.resyncs_done);
        o.help("arb_book_resync_p99_seconds", "gauge", "99th percentile of the book's resync times");
        for i in self.instruments.iter() {
            let c = self.books.get(i.id);
            let p99 = if c.resyncs_done > 0 {
                format!("{:.6}", c.resync_p99_ns as f64 / 1e9)
            } else {
                "NaN".into()
            };
            o.line(
                "arb_book_resync_p99_seconds",
                &[("venue", i.venue.name()), ("market", i.market.name()), ("symbol", &i.symbol)],
                p99,
            );
        }
        o.help("arb_feed_frames_total", "counter", "market-data frames decoded");
        o.line("arb_feed_frames_total", &[], self.decode.frames());
        o.help("arb_decode_refused_total", "counter", "frames refused by the decoders");
        for r in BadInput::ALL {
            o.line("arb_decode_refused_total", &[("reason", r.name())], self.decode.refused(r));
        }
        let connections = self.connections.list();
        o.help(
            "arb_ws_reconnects_total",
            "counter",
            "market-data connection attempts after the first, failed ones included",
        );
        for (v, m, s) in &connections {
            o.line(
                "arb_ws_reconnects_total",
                &[("venue", v.name()), ("market", m.name())],
                s.snapshot().reconnects(),
            );
        }
        o.help(
            "arb_ws_connect_failures_total",
            "counter",
            "market-data connection attempts that failed before a session opened",
        );
        for (v, m, s) in &connections {
            o.line(
                "arb_ws_connect_failures_total",
                &[("venue", v.name()), ("market", m.name())],
                s.snapshot().connect_failures(),
            );
        }
        o.help("arb_ws_last_message_age_seconds", "gauge", "age of the newest frame");
        for (v, m, s) in &connections {
            if let Some(age) = self.data_age_s(s) {
                o.line(
                    "arb_ws_last_message_age_seconds",
                    &[("venue", v.name()), ("market", m.name())],
                    format!("{age:.6}"),
                );
            }
        }
        o.help("arb_orders_sent_total", "counter", "orders handed to venue connections");
        o.line("arb_orders_sent_total", &[], snap.dispatch.orders_sent);
        let view = self.view.lock().map(|v| v.buckets.clone()).unwrap_or_default();
        let hist = |o: &mut Out, name: &str, label: Option<(&str, &str)>, b: &crate::engine::Buckets| {
            for (bound, n) in BUCKETS_NS.iter().zip(b.le) {
                let le = format!("{}", *bound as f64 / 1e9);
                let mut labels: Vec<(&str, &str)> = label.into_iter().collect();
                labels.push(("le", &le));
                o.line(&format!("{name}_bucket"), &labels, n);
            }
            let mut labels: Vec<(&str, &str)> = label.into_iter().collect();
            labels.push(("le", "+Inf"));
            o.line(&format!("{name}_bucket"), &labels, b.count);
            let base: Vec<(&str, &str)> = label.into_iter().collect();
            o.line(&format!("{name}_sum"), &base, format!("{:.9}", b.sum_ns / 1e9));
            o.line(&format!("{name}_count"), &base, b.count);
        };
        o.help("arb_tick_to_trade_seconds", "histogram", "market data received to the last leg sent");
        for b in view.iter().filter(|b| b.name == "tick_to_trade") {
            hist(&mut o, "arb_tick_to_trade_seconds", None, b);
        }
        o.help("arb_stage_latency_seconds", "histogram", "service time of one poll that did work");
        for b in view.iter() {
            if let Some(stage) = b.name.strip_prefix("stage.") {
                hist(&mut o, "arb_stage_latency_seconds", Some(("stage", stage)), b);
            }
        }
        o.help("arb_hop_latency_seconds", "histogram", "ring push to pop");
        for b in view.iter() {
            if let Some(hop) = b.name.strip_prefix("hop.") {
                hist(&mut o, "arb_hop_latency_seconds", Some(("hop", hop)), b);
            }
        }
        o.0
    }

    /// Books in sync, of all books (instruments removed while running have none).
    pub fn books_synced(&self) -> (usize, usize) {
        let p = self.sync_progress();
        (p.books_synced, p.books_total)
    }

    /// No book is in sync: nothing can be traded until market data comes (at start, or
    /// while every connection is down).
    pub fn is_waiting_for_data(&self) -> bool {
        waiting_for_data(self.books_synced())
    }

    /// Each component's state as JSON, and whether the engine as a whole is healthy.
    pub fn health(&self) -> (bool, serde_json::Value) {
        let snap = self.stats.snapshot();
        let halted = self.control.is_halted() || snap.risk.halted;
        let books: Vec<_> = self
            .instruments
            .iter()
            .map(|i| {
                let c = self.books.get(i.id);
                json!({"venue": i.venue, "market": i.market, "symbol": i.symbol, "synced": c.synced, "gaps": c.gaps, "resyncs": c.resyncs})
            })
            .collect();
        let synced = books.iter().filter(|b| b["synced"] == true).count();
        let connections = self.connections.list();
        let conns: Vec<_> = connections
            .iter()
            .map(|(v, m, s)| {
                let snap = s.snapshot();
                json!({"venue": v, "market": m, "state": format!("{:?}", snap.state).to_lowercase(),
                       "reconnects": snap.reconnects(), "connect_failures": snap.connect_failures(),
                       "data_age_s": self.data_age_s(s)})
            })
            .collect();
        let open = connections.iter().filter(|(_, _, s)| s.snapshot().state == LinkState::Open).count();
        let breakers: Vec<_> =
            Breaker::ALL.iter().filter(|b| snap.risk.breaker_open[**b as usize]).map(|b| b.name()).collect();
        let waiting = waiting_for_data((synced, books.len()));
        let drift_halted: Vec<&str> =
            Venue::ALL.iter().filter(|v| self.drift.is_halted(**v)).map(|v| v.name()).collect();
        let drifting: Vec<_> = self
            .drift
            .lines()
            .into_iter()
            .filter(|l| l.streak > 0)
            .map(|l| {
                json!({"venue": l.venue.name(), "account": l.account.name(), "asset": l.asset,
                       "expected": l.expected.to_string(), "actual": l.actual.to_string(),
                       "drift": l.drift.to_string(), "checks": l.streak})
            })
            .collect();
        let ok = drift_halted.is_empty()
            && !halted
            && !waiting
            && !self.control.is_stop_requested()
            && open == connections.len();
        let status = if halted {
            "halted"
        } else if waiting {
            "waiting"
        } else if ok {
            "ok"
        } else {
            "degraded"
        };
        let body = json!({
            "status": status,
            "waiting_for": waiting.then_some("market data: no order book is in sync yet"),
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "mode": if self.dry_run { "paper" } else { "live" },
            "halted": halted,
            "halt_reasons": self.control.halt_reasons(),
            "feed": {"connections": conns, "open": open},
            "books": {"synced": synced, "total": books.len(),
                      "time_to_all_synced_ms": self.sync_progress().time_to_all_synced_ms, "detail": books},
            "risk": {"breakers_open": breakers, "in_flight": snap.risk.in_flight, "reconciling": snap.risk.reconciling},
            "state": {"open_operations": snap.state.open, "pending_reconcile": snap.state.pending_reconcile},
            "foreign": {"fills": snap.state.foreign.total_fills(), "orders": snap.state.foreign.total_orders()},
            "reconcile": {"drift_halted": drift_halted, "drifting": drifting},
        });
        (ok, body)
    }
}

/// Whether an engine with `(synced, total)` books waits for market data.
pub fn waiting_for_data((synced, total): (usize, usize)) -> bool {
    total > 0 && synced == 0
}

/// What `/metrics` and `/health` report while a start waits for instrument metadata,
/// before the engine exists.
#[derive(Debug)]
pub struct Starting {
    pub status: Arc<MetadataStatus>,
    pub since: Instant,
}

impl Starting {
    /// Metadata still missing: venue markets neither fetched nor taken from the cache.
    fn pending(&self) -> Vec<MetadataProgress> {
        self.status
            .snapshot()
            .into_iter()
            .filter(|p| matches!(p.state, MetadataState::Fetching | MetadataState::Retrying))
            .collect()
    }

    /// Never healthy: nothing trades yet. The body names each venue market waited for,
    /// its last error and when it is tried next.
    pub fn health(&self) -> (bool, serde_json::Value) {
        let now = Instant::now();
        let markets: Vec<_> = self
            .status
            .snapshot()
            .into_iter()
            .map(|p| {
                json!({"venue": p.venue, "market": p.market, "state": p.state.name(),
                       "failures": p.failures, "last_error": p.last_error,
                       "next_attempt_in_s": p.next_attempt.map(|t| t.saturating_duration_since(now).as_secs_f64())})
            })
            .collect();
        let body = json!({
            "status": "waiting",
            "waiting_for": "instrument metadata: the engine starts once every venue market has it",
            "uptime_s": self.since.elapsed().as_secs_f64(),
            "halted": false,
            "metadata": markets,
            "pending": self.pending().len(),
        });
        (false, body)
    }

    /// The few metrics a start has: up, uptime, waiting, failed metadata fetches.
    pub fn prometheus(&self) -> String {
        let mut o = Out(String::with_capacity(1024));
        o.help("arb_up", "gauge", "1 while the engine runs");
        o.line("arb_up", &[], 1);
        o.help("arb_uptime_seconds", "gauge", "seconds since start");
        o.line("arb_uptime_seconds", &[], format!("{:.3}", self.since.elapsed().as_secs_f64()));
        o.help("arb_waiting_for_data", "gauge", "1 while no order book is in sync");
        o.line("arb_waiting_for_data", &[], 1);
        o.help("arb_metadata_fetch_failures_total", "counter", "failed instrument metadata fetches at start");
        for p in self.status.snapshot() {
            o.line(
                "arb_metadata_fetch_failures_total",
                &[("venue", p.venue.name()), ("market", p.market.name())],
                p.failures,
            );
        }
        o.0
    }
}
