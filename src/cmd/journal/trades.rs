//! The trade history views of `arb journal`: `--operations`, `--fills` and `--daily`,
//! each as a table (for people: P&L rounded to cents, fees to eight places, colour when
//! wanted), CSV or JSON Lines (exact decimal strings, never rounded).
//!
//! Fees are kept per asset (each instrument's quote asset, as the engine books them):
//! CSV has one `fees_<ASSET>` column per asset the history holds, JSON an object of
//! them. A time the journal cannot date is empty in CSV, `null` in JSON, `-` in tables.

use std::collections::BTreeMap;

use pipeline::journal::{Day, History, HistoryFill, HistoryOp, Outcome};
use pipeline::msg::Leg;
use pipeline::types::{Amount, AssetId, InstrumentId, Instruments};
use serde::Serialize;

use super::render::{Align, Paint, Table, cents, csv_line, short, utc_day, utc_time};

/// How a view is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people, with the daily summary at the end.
    #[default]
    Table,
    /// Comma-separated values with a header line; exact amounts.
    Csv,
    /// One JSON object per line; exact amounts as strings.
    Jsonl,
}

/// Which view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Operations,
    Fills,
    Daily,
}

/// Names instruments and assets by the journal's instrument table.
struct Names<'a>(&'a Instruments);

impl Names<'_> {
    fn inst(&self, id: InstrumentId) -> String {
        match self.0.try_get(id) {
            Some(i) => format!("{}:{}:{}", i.venue, i.market, i.symbol),
            None => format!("instrument#{}", id.0),
        }
    }

    fn asset(&self, id: AssetId) -> String {
        if id.index() < self.0.asset_count() {
            self.0.asset_name(id).to_owned()
        } else {
            format!("asset#{}", id.0)
        }
    }

    fn fees(&self, fees: &[(AssetId, Amount)]) -> BTreeMap<String, String> {
        fees.iter().map(|(a, f)| (self.asset(*a), f.to_string())).collect()
    }

    /// Every fee asset of the history, by name: the `fees_<ASSET>` columns.
    fn fee_assets(&self, ops: &[HistoryOp]) -> Vec<String> {
        let mut v: Vec<String> =
            ops.iter().flat_map(|o| o.fees.iter().map(|(a, _)| self.asset(*a))).collect();
        v.sort();
        v.dedup();
        v
    }

    fn fees_cell(&self, fees: &[(AssetId, Amount)]) -> String {
        if fees.is_empty() {
            return "0".to_owned();
        }
        fees.iter().map(|(a, f)| format!("{} {}", short(*f), self.asset(*a))).collect::<Vec<_>>().join(", ")
    }
}

fn time(ms: Option<u64>) -> Option<String> {
    ms.map(utc_time)
}

fn day_name(d: &Day) -> String {
    d.day.map_or_else(|| "unknown".to_owned(), utc_day)
}

fn outcome_paint(o: Outcome) -> Paint {
    match o {
        Outcome::Completed => Paint::Good,
        Outcome::Failed => Paint::Bad,
        Outcome::Missed => Paint::Dim,
        Outcome::Open(_) => Paint::Plain,
    }
}

#[derive(Serialize)]
struct LegLine {
    side: &'static str,
    instrument: String,
    qty: String,
    price: String,
}

#[derive(Serialize)]
struct OpLine<'a> {
    op: u64,
    kind: &'a str,
    opened: Option<String>,
    closed: Option<String>,
    legs: Vec<LegLine>,
    outcome: &'a str,
    recoveries: u32,
    realized_pnl: Option<String>,
    fees: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct FillLine {
    time: Option<String>,
    op: u64,
    leg: u8,
    venue: String,
    market: String,
    symbol: String,
    side: &'static str,
    price: String,
    qty: String,
    fee: String,
    fee_asset: String,
    fee_quote: String,
    venue_order_id: String,
    client_order_id: String,
}

#[derive(Serialize)]
struct DayLine {
    day: String,
    operations: u64,
    completed: u64,
    failed: u64,
    missed: u64,
    open: u64,
    realized_pnl: String,
    fees: BTreeMap<String, String>,
}

fn leg_line(n: &Names, l: &Leg) -> LegLine {
    let (qty, price) = match n.0.try_get(l.inst) {
        Some(i) => (l.qty.display(i.qty_scale).to_string(), l.price.display(i.price_scale).to_string()),
        None => (l.qty.0.to_string(), l.price.0.to_string()),
    };
    LegLine { side: l.side.name(), instrument: n.inst(l.inst), qty, price }
}

fn op_line<'a>(n: &Names, o: &'a HistoryOp) -> OpLine<'a> {
    OpLine {
        op: o.op,
        kind: o.kind.map_or("unknown", |k| k.name()),
        opened: time(o.opened_ms),
        closed: time(o.closed_ms),
        legs: o.legs.iter().map(|l| leg_line(n, l)).collect(),
        outcome: o.outcome.name(),
        recoveries: o.recovery_orders,
        realized_pnl: o.realized_pnl.map(|p| p.to_string()),
        fees: n.fees(&o.fees),
    }
}

fn fill_line(n: &Names, f: &HistoryFill) -> FillLine {
    let i = n.0.try_get(f.inst);
    let (venue, market, symbol) = match i {
        Some(i) => (i.venue.to_string(), i.market.to_string(), i.symbol.clone()),
        None => (String::new(), String::new(), n.inst(f.inst)),
    };
    let (price, qty) = match i {
        Some(i) => (f.price.display(i.price_scale).to_string(), f.qty.display(i.qty_scale).to_string()),
        None => (f.price.0.to_string(), f.qty.0.to_string()),
    };
    FillLine {
        time: time(f.time_ms),
        op: f.client.op,
        leg: f.client.leg,
        venue,
        market,
        symbol,
        side: f.side.name(),
        price,
        qty,
        fee: f.fee.to_string(),
        fee_asset: n.asset(f.fee_asset),
        fee_quote: f.fee_quote.to_string(),
        venue_order_id: f.venue_order.as_str().to_owned(),
        client_order_id: format!("{}-{}-{}", f.client.op, f.client.leg, f.client.attempt),
    }
}

fn day_line(n: &Names, d: &Day) -> DayLine {
    DayLine {
        day: day_name(d),
        operations: d.operations,
        completed: d.completed,
        failed: d.failed,
        missed: d.missed,
        open: d.open,
        realized_pnl: d.realized_pnl.to_string(),
        fees: n.fees(&d.fees),
    }
}

fn jsonl<T: Serialize>(lines: impl Iterator<Item = T>, out: &mut String) {
    for l in lines {
        out.push_str(&serde_json::to_string(&l).unwrap_or_default());
        out.push('\n');
    }
}

fn fee_columns(assets: &[String], fees: &BTreeMap<String, String>) -> Vec<String> {
    assets.iter().map(|a| fees.get(a).cloned().unwrap_or_else(|| "0".to_owned())).collect()
}

fn header(fixed: &[&str], assets: &[String]) -> Vec<String> {
    fixed.iter().map(|s| (*s).to_owned()).chain(assets.iter().map(|a| format!("fees_{a}"))).collect()
}

/// Writes `view` of `h` in `format`.
pub fn render(h: &History, table: &Instruments, view: View, format: Format, color: bool) -> String {
    let n = Names(table);
    let days = pipeline::journal::daily(&h.ops);
    let assets = n.fee_assets(&h.ops);
    let mut out = String::new();
    match (view, format) {
        (View::Operations, Format::Jsonl) => jsonl(h.ops.iter().map(|o| op_line(&n, o)), &mut out),
        (View::Fills, Format::Jsonl) => jsonl(h.fills.iter().map(|f| fill_line(&n, f)), &mut out),
        (View::Daily, Format::Jsonl) => jsonl(days.iter().map(|d| day_line(&n, d)), &mut out),
        (View::Operations, Format::Csv) => {
            let fixed = ["op", "kind", "opened", "closed", "legs", "outcome", "recoveries", "realized_pnl"];
            csv_line(&header(&fixed, &assets), &mut out);
            for o in &h.ops {
                let l = op_line(&n, o);
                let legs: Vec<String> = l
                    .legs
                    .iter()
                    .map(|g| format!("{} {} {} @ {}", g.side, g.qty, g.instrument, g.price))
                    .collect();
                let mut row = vec![
                    l.op.to_string(),
                    l.kind.to_owned(),
                    l.opened.unwrap_or_default(),
                    l.closed.unwrap_or_default(),
                    legs.join("; "),
                    l.outcome.to_owned(),
                    l.recoveries.to_string(),
                    l.realized_pnl.unwrap_or_default(),
                ];
                row.extend(fee_columns(&assets, &l.fees));
                csv_line(&row, &mut out);
            }
        }
        (View::Fills, Format::Csv) => {
            let head = [
                "time",
                "op",
                "leg",
                "venue",
                "market",
                "symbol",
                "side",
                "price",
                "qty",
                "fee",
                "fee_asset",
                "fee_quote",
                "venue_order_id",
                "client_order_id",
            ];
            csv_line(&header(&head, &[]), &mut out);
            for f in &h.fills {
                let l = fill_line(&n, f);
                let row = [
                    l.time.unwrap_or_default(),
                    l.op.to_string(),
                    l.leg.to_string(),
                    l.venue,
                    l.market,
                    l.symbol,
                    l.side.to_owned(),
                    l.price,
                    l.qty,
                    l.fee,
                    l.fee_asset,
                    l.fee_quote,
                    l.venue_order_id,
                    l.client_order_id,
                ];
                csv_line(&row, &mut out);
            }
        }
        (View::Daily, Format::Csv) => {
            let fixed = ["day", "operations", "completed", "failed", "missed", "open", "realized_pnl"];
            csv_line(&header(&fixed, &assets), &mut out);
            for d in &days {
                let l = day_line(&n, d);
                let mut row = vec![
                    l.day,
                    l.operations.to_string(),
                    l.completed.to_string(),
                    l.failed.to_string(),
                    l.missed.to_string(),
                    l.open.to_string(),
                    l.realized_pnl,
                ];
                row.extend(fee_columns(&assets, &l.fees));
                csv_line(&row, &mut out);
            }
        }
        (View::Operations, Format::Table) => {
            ops_table(&n, &h.ops, color, &mut out);
            out.push('\n');
            days_table(&n, &days, color, &mut out);
        }
        (View::Fills, Format::Table) => {
            fills_table(&n, &h.fills, color, &mut out);
            out.push('\n');
            days_table(&n, &days, color, &mut out);
        }
        (View::Daily, Format::Table) => days_table(&n, &days, color, &mut out),
    }
    out
}

fn ops_table(n: &Names, ops: &[HistoryOp], color: bool, out: &mut String) {
    use Align::{Left, Right};
    let mut t = Table::new(&[
        ("op", Right),
        ("kind", Left),
        ("opened (UTC)", Left),
        ("closed (UTC)", Left),
        ("legs", Left),
        ("outcome", Left),
        ("recoveries", Right),
        ("P&L (USD)", Right),
        ("fees", Left),
    ]);
    for o in ops {
        let plain = |s: String| (s, Paint::Plain);
        let legs: Vec<String> = o.legs.iter().map(|l| format!("{} {}", l.side, n.inst(l.inst))).collect();
        t.push(vec![
            plain(o.op.to_string()),
            plain(o.kind.map_or("unknown", |k| k.name()).to_owned()),
            plain(time(o.opened_ms).unwrap_or_else(|| "-".into())),
            plain(time(o.closed_ms).unwrap_or_else(|| "-".into())),
            plain(legs.join(", ")),
            (o.outcome.name().to_owned(), outcome_paint(o.outcome)),
            plain(o.recovery_orders.to_string()),
            o.realized_pnl.map_or_else(|| plain("-".into()), |p| (cents(p), Paint::of(p))),
            plain(n.fees_cell(&o.fees)),
        ]);
    }
    if t.is_empty() {
        out.push_str("no operations\n");
    } else {
        t.render(color, out);
    }
}

fn fills_table(n: &Names, fills: &[HistoryFill], color: bool, out: &mut String) {
    use Align::{Left, Right};
    let mut t = Table::new(&[
        ("time (UTC)", Left),
        ("op", Right),
        ("leg", Right),
        ("venue", Left),
        ("market", Left),
        ("symbol", Left),
        ("side", Left),
        ("price", Right),
        ("qty", Right),
        ("fee", Right),
        ("fee asset", Left),
        ("venue order id", Left),
        ("client order id", Left),
    ]);
    for f in fills {
        let l = fill_line(n, f);
        let plain = |s: String| (s, Paint::Plain);
        t.push(vec![
            plain(l.time.unwrap_or_else(|| "-".into())),
            plain(l.op.to_string()),
            plain(l.leg.to_string()),
            plain(l.venue),
            plain(l.market),
            plain(l.symbol),
            plain(l.side.to_owned()),
            plain(l.price),
            plain(l.qty),
            plain(short(f.fee)),
            plain(l.fee_asset),
            plain(l.venue_order_id),
            plain(l.client_order_id),
        ]);
    }
    if t.is_empty() {
        out.push_str("no fills\n");
    } else {
        t.render(color, out);
    }
}

fn days_table(n: &Names, days: &[Day], color: bool, out: &mut String) {
    use Align::{Left, Right};
    let mut t = Table::new(&[
        ("day (UTC)", Left),
        ("operations", Right),
        ("completed", Right),
        ("failed", Right),
        ("missed", Right),
        ("open", Right),
        ("P&L (USD)", Right),
        ("fees", Left),
    ]);
    let mut total = Day {
        day: None,
        operations: 0,
        completed: 0,
        failed: 0,
        missed: 0,
        open: 0,
        realized_pnl: Amount::ZERO,
        fees: Vec::new(),
    };
    let row = |name: String, d: &Day| {
        let plain = |s: String| (s, Paint::Plain);
        vec![
            plain(name),
            plain(d.operations.to_string()),
            plain(d.completed.to_string()),
            plain(d.failed.to_string()),
            plain(d.missed.to_string()),
            plain(d.open.to_string()),
            (cents(d.realized_pnl), Paint::of(d.realized_pnl)),
            plain(n.fees_cell(&d.fees)),
        ]
    };
    for d in days {
        t.push(row(day_name(d), d));
        total.operations += d.operations;
        total.completed += d.completed;
        total.failed += d.failed;
        total.missed += d.missed;
        total.open += d.open;
        total.realized_pnl = total.realized_pnl.saturating_add(d.realized_pnl);
        for &(a, f) in &d.fees {
            match total.fees.iter_mut().find(|(x, _)| *x == a) {
                Some(e) => e.1 = e.1.saturating_add(f),
                None => total.fees.push((a, f)),
            }
        }
    }
    out.push_str("daily summary:\n");
    if days.len() > 1 {
        total.fees.sort_by_key(|(a, _)| *a);
        t.push(row("total".to_owned(), &total));
    }
    if t.is_empty() {
        out.push_str("no operations\n");
    } else {
        t.render(color, out);
    }
}
