//! The end-of-run report: what was detected, executed, completed and refused, the money
//! (exact decimal strings), and the latency percentiles of every stage, hop and of
//! tick-to-trade. Printed as text or as one JSON object; histograms can be saved as
//! `.hgrm` files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use pipeline::metrics::{MetricsHub, SeriesKind, Summary, write_hgrm};
use pipeline::types::Amount;
use serde_json::{Value, json};

use super::Session;

/// Percentiles of one series, in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LatencyEntry {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: u64,
    pub count: u64,
}

impl From<&Summary> for LatencyEntry {
    fn from(s: &Summary) -> Self {
        Self {
            p50: s.p50_ns,
            p90: s.p90_ns,
            p99: s.p99_ns,
            p999: s.p999_ns,
            max: s.max_ns,
            mean: s.mean_ns,
            count: s.count,
        }
    }
}

/// One book's resyncs in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookResyncs {
    pub resyncs: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub gaps: u64,
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

/// One wallet line of the report: a spot asset, the futures cash (`USDT`) or a
/// perpetual's contracts (`"<SYMBOL> contracts"`, negative for shorts), as the engine
/// believes it; `None` where no report from the venue told the engine the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceLine {
    pub venue: &'static str,
    pub account: &'static str,
    pub asset: String,
    pub start: Option<String>,
    pub end: Option<String>,
}

impl BalanceLine {
    fn to_json(&self) -> Value {
        json!({"venue": self.venue, "account": self.account, "asset": self.asset,
               "start": self.start, "end": self.end})
    }
}

/// The wallets of every venue traded, as the state stage booked them.
fn balances(s: &Session) -> Vec<BalanceLine> {
    use pipeline::types::{Market, Venue};
    let m = &s.money;
    let mut out = Vec::new();
    for v in Venue::ALL {
        let mut assets: Vec<pipeline::types::AssetId> = s
            .instruments
            .iter()
            .filter(|i| i.venue == v && i.market == Market::Spot)
            .flat_map(|i| [i.base, i.quote])
            .collect();
        assets.sort_by_key(|a| a.0);
        assets.dedup();
        for a in assets {
            let start = m.spot_start(v, a);
            out.push(BalanceLine {
                venue: v.name(),
                account: "spot",
                asset: s.instruments.asset_name(a).to_owned(),
                start: start.map(|x| x.to_string()),
                end: start.map(|x| (x + m.wallet(v, a)).to_string()),
            });
        }
        let perps: Vec<&pipeline::types::Instrument> =
            s.instruments.iter().filter(|i| i.venue == v && i.market == Market::Futures).collect();
        if perps.is_empty() {
            continue;
        }
        let start = m.futures_start(v);
        out.push(BalanceLine {
            venue: v.name(),
            account: "futures",
            asset: "USDT".to_owned(),
            start: start.map(|x| x.to_string()),
            end: start.map(|x| (x + m.futures_cash(v)).to_string()),
        });
        for i in perps {
            out.push(BalanceLine {
                venue: v.name(),
                account: "futures",
                asset: format!("{} contracts", i.symbol),
                start: Some("0".to_owned()),
                end: Some(m.contracts(i).display(i.qty_scale).to_string()),
            });
        }
    }
    out
}

/// The final report of a run.
#[derive(Clone, Debug)]
pub struct Report {
    pub duration: Duration,
    pub dry_run: bool,
    pub opportunities_detected: u64,
    pub opportunities_detected_by_kind: BTreeMap<&'static str, u64>,
    pub opportunities_executed: u64,
    pub executed_by_kind: BTreeMap<&'static str, u64>,
    pub operations_completed: u64,
    pub operations_failed: u64,
    pub operations_missed: u64,
    pub recoveries: u64,
    /// How finished operations went against their plans (execution statistics).
    pub quality: pipeline::state::QualitySnapshot,
    /// This instance's client order id prefix.
    pub client_order_id_prefix: String,
    /// Orders and fills on the account this instance did not send (`foreign_fills`).
    pub foreign: Value,
    pub foreign_fill_count: u64,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    /// Realized P&L on closed quantity only, fees not deducted.
    pub realized_pnl_usd: Amount,
    /// Open lots at their executable prices (bid for longs, ask for shorts) less cost.
    pub unrealized_pnl_usd: Amount,
    /// Fees per asset, in the asset charged.
    pub fees: BTreeMap<String, Amount>,
    pub fees_usd: Amount,
    /// Funding the venues booked (positive received).
    pub funding_usd: Amount,
    /// realized + unrealized - fees + funding.
    pub equity_change_usd: Amount,
    /// Every wallet as the engine believes it, start and end.
    pub balances: Vec<BalanceLine>,
    pub open_exposure_usd: Amount,
    /// The part of the open exposure below every venue's minimum order (the flattener
    /// cannot trade it).
    pub dust_usd: Amount,
    /// The open exposure less the dust: exposure that could be hedged and is not.
    pub unhedged_exposure_usd: Amount,
    pub open_operations: i64,
    pub halted: bool,
    pub halt_reasons: Vec<String>,
    pub books_synced: usize,
    pub books: usize,
    /// The books not in sync at the end (`venue:market:SYMBOL`).
    pub books_unsynced: Vec<String>,
    /// Milliseconds from start until every book had synced once; `None` if some never did.
    pub time_to_all_synced_ms: Option<u64>,
    /// Memory the books hold, in place and heap.
    pub book_bytes: u64,
    /// Resync times (gap to synced again) of every book together, if any completed.
    pub resync: Option<LatencyEntry>,
    /// The share of the time every book was synced at once, since they all first were.
    pub all_books_synced_share: Option<f64>,
    /// Per book (`venue:market:SYMBOL`) that resynced: resyncs, p50 and p99 (ns), gaps.
    pub resync_by_book: BTreeMap<String, BookResyncs>,
    /// Executions per instrument traded (`venue:market:SYMBOL`), those that traded.
    pub executed_by_instrument: BTreeMap<String, u64>,
    pub decode_refused: u64,
    pub frames: u64,
    /// Every latency series by name: `tick_to_trade`, `stage.<name>`, `hop.<a->b>`.
    pub latency: BTreeMap<String, (SeriesKind, LatencyEntry)>,
    pub trading: String,
}

impl Report {
    pub(crate) fn build(s: &Session, hub: Option<&MetricsHub>) -> Self {
        let snap = s.stats.snapshot();
        let kinds = pipeline::msg::OppKind::ALL;
        let by_kind = |v: &[u64]| kinds.iter().map(|k| (k.name(), v[k.index()])).collect::<BTreeMap<_, _>>();
        let latency = hub
            .map(|h| h.summaries())
            .unwrap_or_else(|| s.view().latency)
            .into_iter()
            .map(|sum| (sum.name.clone(), (sum.kind, LatencyEntry::from(&sum))))
            .collect();
        let progress = s.sync_progress();
        let removed = s.controls.listing.removed();
        let books_unsynced = s
            .instruments
            .iter()
            .filter(|i| !removed.contains(&i.id) && !s.books.get(i.id).synced)
            .map(|i| format!("{}:{}:{}", i.venue.name(), i.market.name(), i.symbol))
            .collect();
        let resync_by_book = s
            .instruments
            .iter()
            .map(|i| (i, s.books.get(i.id)))
            .filter(|(_, c)| c.resyncs_done > 0 || c.gaps > 0)
            .map(|(i, c)| {
                (
                    format!("{}:{}:{}", i.venue.name(), i.market.name(), i.symbol),
                    BookResyncs {
                        resyncs: c.resyncs_done,
                        p50_ns: c.resync_p50_ns,
                        p99_ns: c.resync_p99_ns,
                        gaps: c.gaps,
                    },
                )
            })
            .collect();
        let executed_by_instrument = s
            .instruments
            .iter()
            .map(|i| (format!("{}:{}:{}", i.venue.name(), i.market.name(), i.symbol), s.executed.get(i.id)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Self {
            duration: s.uptime(),
            dry_run: s.dry_run,
            opportunities_detected: snap.detect.emitted.iter().sum(),
            opportunities_detected_by_kind: by_kind(&snap.detect.emitted),
            opportunities_executed: snap.risk.approved.iter().sum(),
            executed_by_kind: by_kind(&snap.risk.approved),
            operations_completed: snap.state.ops_completed.iter().sum(),
            operations_failed: snap.state.ops_failed.iter().sum(),
            operations_missed: snap.state.ops_missed.iter().sum(),
            recoveries: snap.state.recoveries,
            quality: snap.state.quality,
            client_order_id_prefix: s.identity.to_string(),
            foreign: foreign_json(s, &snap.state.foreign),
            foreign_fill_count: snap.state.foreign.total_fills(),
            rejected_by_reason: snap.risk.rejected_by_reason().into_iter().filter(|(_, n)| *n > 0).collect(),
            realized_pnl_usd: s.money.realized_usd.get(),
            unrealized_pnl_usd: s.money.unrealized_usd.get(),
            fees: (0..s.instruments.asset_count())
                .map(|a| pipeline::types::AssetId(a as u16))
                .filter(|&a| !s.money.fees(a).is_zero())
                .map(|a| (s.instruments.asset_name(a).to_owned(), s.money.fees(a)))
                .collect(),
            fees_usd: s.money.fees_usd.get(),
            funding_usd: s.money.funding_usd.get(),
            equity_change_usd: s.money.equity_change_usd.get(),
            balances: balances(s),
            open_exposure_usd: snap.risk.exposure,
            dust_usd: snap.state.dust_usd,
            unhedged_exposure_usd: snap.risk.exposure.saturating_sub(snap.state.dust_usd).max(Amount::ZERO),
            open_operations: snap.state.open.iter().sum(),
            halted: s.control.is_halted() || snap.risk.halted,
            halt_reasons: s.control.halt_reasons(),
            books_synced: progress.books_synced,
            books_unsynced,
            books: progress.books_total,
            time_to_all_synced_ms: progress.time_to_all_synced_ms,
            book_bytes: progress.book_bytes,
            resync: None,
            all_books_synced_share: progress.all_synced_share,
            resync_by_book,
            executed_by_instrument,
            decode_refused: s.decode.total_refused(),
            frames: s.decode.frames(),
            latency,
            trading: snap.to_string(),
        }
        .with_resync()
    }

    /// Takes the resync entry from the latency series.
    fn with_resync(mut self) -> Self {
        self.resync =
            self.latency.get(super::RESYNC_SERIES).filter(|(_, e)| e.count > 0).map(|(_, e)| e.clone());
        self
    }

    fn entry(&self, name: &str) -> Value {
        match self.latency.get(name) {
            Some((_, e)) => {
                json!({"p50": e.p50, "p90": e.p90, "p99": e.p99, "p999": e.p999, "max": e.max, "mean": e.mean, "count": e.count})
            }
            None => json!({"p50": 0, "p90": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0, "count": 0}),
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut latency = serde_json::Map::new();
        latency.insert("tick_to_trade_ns".into(), self.entry("tick_to_trade"));
        for stage in pipeline::STAGES {
            latency.insert(stage.into(), self.entry(&format!("stage.{stage}")));
        }
        let hops: serde_json::Map<String, Value> = self
            .latency
            .iter()
            .filter(|(_, (k, e))| *k == SeriesKind::Hop && e.count > 0)
            .map(|(n, _)| (n.trim_start_matches("hop.").to_owned(), self.entry(n)))
            .collect();
        latency.insert("hops".into(), Value::Object(hops));
        let q = &self.quality;
        let mut out = json!({
            "duration_s": self.duration.as_secs_f64(),
            "dry_run": self.dry_run,
            "opportunities_detected": self.opportunities_detected,
            "opportunities_detected_by_kind": self.opportunities_detected_by_kind,
            "opportunities_executed": self.opportunities_executed,
            "executed_by_kind": self.executed_by_kind,
            "operations_completed": self.operations_completed,
            "operations_failed": self.operations_failed,
            "operations_missed": self.operations_missed,
            "recoveries": self.recoveries,
            "success_rate": q.success_rate(),
            "execution_success": q.execution_success(),
            "recovery_success": q.recovery_success(),
            "profitable_share": q.profitable_share(),
            "avg_execution_ms": q.avg_execution_ms(),
            "execution": {
                "finished": q.finished,
                "succeeded": q.succeeded,
                "as_planned": q.as_planned,
                "needed_recovery": q.needed_recovery,
                "recovered_balanced": q.recovered_balanced,
                "profitable": q.profitable,
            },
            "round_trips": {
                "kinds": ["spot_spot", "triangular"],
                "finished": q.round_trips,
                "ended_flat": q.round_trips_flat,
            },
            "client_order_id_prefix": self.client_order_id_prefix,
            "foreign_fills": self.foreign,
            "rejected_by_reason": self.rejected_by_reason,
            "realized_pnl_usd": self.realized_pnl_usd.to_string(),
            "unrealized_pnl_usd": self.unrealized_pnl_usd.to_string(),
            "fees": self.fees.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<BTreeMap<_, _>>(),
            "fees_usd": self.fees_usd.to_string(),
            "funding_usd": self.funding_usd.to_string(),
            "equity_change_usd": self.equity_change_usd.to_string(),
            "balances": self.balances.iter().map(BalanceLine::to_json).collect::<Vec<_>>(),
            "open_exposure_usd": self.open_exposure_usd.to_string(),
            "dust_usd": self.dust_usd.to_string(),
            "unhedged_exposure_usd": self.unhedged_exposure_usd.to_string(),
            "open_operations": self.open_operations,
            "halted": self.halted,
            "halt_reasons": self.halt_reasons,
            "books_synced": self.books_synced,
            "books_unsynced": self.books_unsynced,
            "books": self.books,
            "books_total": self.books,
            "time_to_all_synced_ms": self.time_to_all_synced_ms,
            "book_bytes": self.book_bytes,
            "executed_by_instrument": self.executed_by_instrument,
            "frames": self.frames,
            "decode_refused": self.decode_refused,
            "latency": latency,
        });
        if let (Value::Object(out), Value::Object(resync)) = (&mut out, self.resync_json()) {
            out.extend(resync);
        }
        out
    }

    /// Resync times, overall and per book (`venue:market:SYMBOL`).
    fn resync_json(&self) -> Value {
        json!({
        "resyncs": self.resync.as_ref().map_or(0, |e| e.count),
        "resync_p50_ms": self.resync.as_ref().map(|e| ms(e.p50)),
        "resync_p99_ms": self.resync.as_ref().map(|e| ms(e.p99)),
        "resync_max_ms": self.resync.as_ref().map(|e| ms(e.max)),
        "all_books_synced_share": self.all_books_synced_share.map(|s| (s * 1e4).round() / 1e4),
        "resync_by_book": self.resync_by_book.iter().map(|(k, b)| (k.clone(), json!({
            "resyncs": b.resyncs,
            "gaps": b.gaps,
            "p50_ms": (b.resyncs > 0).then(|| ms(b.p50_ns)),
            "p99_ms": (b.resyncs > 0).then(|| ms(b.p99_ns)),
        }))).collect::<serde_json::Map<String, Value>>()
            })
    }

    /// The report as text.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let mut all_synced = match self.time_to_all_synced_ms {
            Some(ms) => format!("all synced {:.1} s after start", ms as f64 / 1000.0),
            None => "not all ever synced".to_owned(),
        };
        if !self.books_unsynced.is_empty() {
            all_synced.push_str(&format!("; not in sync at the end: {}", self.books_unsynced.join(", ")));
        }
        let _ = writeln!(
            o,
            "run: {:.1} s, {}; books synced {}/{} ({all_synced}; {} KiB); {} frames, {} refused",
            self.duration.as_secs_f64(),
            if self.dry_run { "paper trading" } else { "live orders" },
            self.books_synced,
            self.books,
            self.book_bytes / 1024,
            self.frames,
            self.decode_refused
        );
        let _ = writeln!(
            o,
            "opportunities: {} detected, {} executed; operations: {} completed, {} failed, {} missed, {} recoveries",
            self.opportunities_detected,
            self.opportunities_executed,
            self.operations_completed,
            self.operations_failed,
            self.operations_missed,
            self.recoveries
        );
        let _ = writeln!(
            o,
            "P&L: realized {} USD, unrealized {} USD; open exposure {} USD; open operations {}",
            self.realized_pnl_usd, self.unrealized_pnl_usd, self.open_exposure_usd, self.open_operations
        );
        let fees: Vec<String> = self.fees.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(
            o,
            "money: fees {} USD ({}); funding {} USD; equity change {} USD (realized + unrealized - fees + funding)",
            self.fees_usd,
            if fees.is_empty() { "none".to_owned() } else { fees.join(", ") },
            self.funding_usd,
            self.equity_change_usd
        );
        let _ = writeln!(o, "{}", self.quality);
        let _ = writeln!(
            o,
            "spot-spot and triangular operations end flat: {} of {} ended with their legs matched (to within a lot); \
             basis positions stay open until their exit rule closes them",
            self.quality.round_trips_flat, self.quality.round_trips
        );
        let _ = writeln!(
            o,
            "client order ids: prefix {:?}; foreign activity on the account (never adopted): {} fills, {} orders",
            self.client_order_id_prefix, self.foreign_fill_count, self.foreign["orders"]
        );
        match (&self.resync, self.all_books_synced_share) {
            (None, None) => {}
            (r, share) => {
                let r = r.as_ref().map_or_else(
                    || "no resyncs".to_owned(),
                    |e| {
                        format!(
                            "{} resyncs, p50 {} ms, p99 {} ms, max {} ms",
                            e.count,
                            ms(e.p50),
                            ms(e.p99),
                            ms(e.max)
                        )
                    },
                );
                let share = share.map_or_else(String::new, |s| {
                    format!("; every book synced {:.1}% of the time", s * 100.0)
                });
                let _ = writeln!(o, "books: {r}{share}");
            }
        }
        if !self.executed_by_instrument.is_empty() {
            let mut top: Vec<(&String, &u64)> = self.executed_by_instrument.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown: Vec<String> = top.iter().take(8).map(|(k, n)| format!("{k} {n}")).collect();
            let more = top.len().saturating_sub(shown.len());
            let more = if more > 0 { format!(", and {more} more") } else { String::new() };
            let _ = writeln!(o, "executed on {} instruments: {}{more}", top.len(), shown.join(", "));
        }
        if self.halted {
            let _ = writeln!(o, "TRADING HALTED: {}", self.halt_reasons.join("; "));
        }
        o.push('\n');
        o.push_str(&self.trading);
        o.push('\n');
        let rows: Vec<Summary> = self
            .latency
            .iter()
            .filter(|(_, (_, e))| e.count > 0)
            .map(|(n, (k, e))| Summary {
                name: n.clone(),
                kind: *k,
                count: e.count,
                p50_ns: e.p50,
                p90_ns: e.p90,
                p99_ns: e.p99,
                p999_ns: e.p999,
                max_ns: e.max,
                mean_ns: e.mean,
            })
            .collect();
        o.push_str("latency:\n");
        o.push_str(&pipeline::metrics::format_table(&rows));
        o
    }
}

/// The `foreign_fills` report object: counts per venue, fills per instrument and side,
/// and the latest foreign orders and fills as the venues showed them.
fn foreign_json(s: &Session, counts: &pipeline::state::ForeignSnapshot) -> Value {
    let view = s.view().foreign;
    let name = |id: pipeline::types::InstrumentId| {
        s.instruments
            .try_get(id)
            .map(|i| (i.venue.name(), i.market.name(), i.symbol.clone(), i.qty_scale, i.price_scale))
    };
    let by_venue: serde_json::Map<String, Value> = pipeline::types::Venue::ALL
        .iter()
        .map(|v| {
            (
                v.name().to_owned(),
                json!({"fills": counts.fills[v.index()], "orders": counts.orders[v.index()]}),
            )
        })
        .collect();
    let by_instrument: Vec<Value> = view
        .fills_by
        .iter()
        .filter_map(|(&(inst, side), &(n, qty))| {
            let (venue, market, symbol, qs, _) = name(inst)?;
            Some(json!({"venue": venue, "market": market, "symbol": symbol, "side": side,
                        "fills": n, "qty": qty.display(qs).to_string()}))
        })
        .collect();
    let recent: Vec<Value> = view
        .recent
        .iter()
        .filter_map(|f| {
            let (venue, market, symbol, qs, ps) = name(f.inst)?;
            Some(json!({"venue": venue, "market": market, "symbol": symbol, "side": f.side,
                        "kind": if f.fill { "fill" } else { "order" },
                        "price": f.price.display(ps).to_string(), "qty": f.qty.display(qs).to_string(),
                        "fee": f.fee.to_string(), "fee_asset": s.instruments.asset_name(f.fee_asset),
                        "client_order_id": f.client_text.as_str(), "venue_order_id": f.venue_order.as_str()}))
        })
        .collect();
    json!({
        "count": counts.total_fills(),
        "orders": counts.total_orders(),
        "by_venue": by_venue,
        "by_instrument": by_instrument,
        "recent": recent,
    })
}

/// Writes every non-empty series of `hub` as `<dir>/<series>.hgrm`, and the percentile
/// distributions as SVG plots: `latency-path.svg` (tick-to-trade), `latency-stage.svg`
/// and `latency-hop.svg`.
pub fn write_histograms(hub: &MetricsHub, dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (kind, name, title) in [
        (SeriesKind::Path, "path", "Tick-to-trade"),
        (SeriesKind::Stage, "stage", "Stage time per poll with work"),
        (SeriesKind::Hop, "hop", "Ring hop (push to pop)"),
    ] {
        let series: Vec<_> =
            crate::plot::hub_series(hub, Some(kind)).into_iter().filter(|s| !s.1.is_empty()).collect();
        if series.is_empty() {
            continue;
        }
        let file = dir.join(format!("latency-{name}.svg"));
        crate::plot::write_percentile_svg(&file, title, &series)?;
        out.push(file);
    }
    for (name, _, h) in hub.totals() {
        if h.is_empty() {
            continue;
        }
        let file = dir.join(format!("{}.hgrm", name.replace("->", "-to-").replace(['/', ' '], "_")));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
        write_hgrm(&mut f, h)?;
        out.push(file);
    }
    Ok(out)
}
