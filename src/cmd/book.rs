//! `arb book FILE...`: runs captures through the live decoders and book code and prints
//! the final state of every book seen.

use std::fmt::Write as _;
use std::path::PathBuf;

use adapters::capture::{self, Record};
use adapters::feed::{Decoders, discover_symbols, metadata_specs};
use anyhow::{Context, Result};
use pipeline::book::{BookConfig, Books};
use pipeline::msg::{FeedLoss, Level, MdBody, MdEvent};
use pipeline::types::{InstrumentId, InstrumentSpec, Instruments, Market, Venue};
use serde_json::json;

/// What `arb book` was asked.
#[derive(Debug)]
pub struct BookArgs {
    pub files: Vec<PathBuf>,
    pub depth: usize,
    pub json: bool,
    pub instruments: Option<PathBuf>,
}

/// Quote currencies tried, longest first, to split a MEXC spot symbol like `BTCUSDT`.
const QUOTES: [&str; 8] = ["USDT", "USDC", "USDE", "FDUSD", "BTC", "ETH", "EUR", "USD"];

fn split_symbol(symbol: &str) -> (String, String) {
    if let Some((b, q)) = symbol.split_once('_') {
        return (b.to_owned(), q.to_owned());
    }
    for q in QUOTES {
        if let Some(b) = symbol.strip_suffix(q) {
            if !b.is_empty() {
                return (b.to_owned(), q.to_owned());
            }
        }
    }
    (symbol.to_owned(), "?".to_owned())
}

/// An instrument for a symbol no metadata describes: scales wide enough for venue text
/// (prices to 10 places up to 9.2e8, quantities to 10 places up to 9.2e8).
fn inferred(venue: Venue, market: Market, symbol: &str) -> InstrumentSpec {
    let (base, quote) = split_symbol(symbol);
    InstrumentSpec {
        venue,
        market,
        symbol: symbol.to_owned(),
        base,
        quote,
        tick: "0.00000001".into(),
        lot: "0.0001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: false,
    }
}

/// The instrument table for a capture: given specs first, then metadata the capture
/// recorded, then inferred specs for any other symbol it names.
pub fn instruments_for(records: &[Record], given: Vec<InstrumentSpec>) -> Result<Instruments> {
    Ok(Instruments::from_specs(&specs_for(records, given)?)?)
}

/// The instrument specifications of [`instruments_for`], in table order.
pub fn specs_for(records: &[Record], given: Vec<InstrumentSpec>) -> Result<Vec<InstrumentSpec>> {
    let seen = discover_symbols(records);
    let mut t = Instruments::new();
    let mut out: Vec<InstrumentSpec> = Vec::new();
    let mut add = |s: &InstrumentSpec, t: &mut Instruments| -> Result<()> {
        if t.find(s.venue, s.market, &s.symbol).is_none() {
            t.add(s)?;
            out.push(s.clone());
        }
        Ok(())
    };
    for s in given.iter().chain(metadata_specs(records).iter()) {
        // Only what the capture's data names: metadata lists thousands of instruments.
        if seen.contains(&(s.venue, s.market, s.symbol.clone())) {
            add(s, &mut t)?;
        }
    }
    for (v, m, s) in &seen {
        add(&inferred(*v, *m, s), &mut t)?;
    }
    Ok(out)
}

/// Instrument specs from `--instruments FILE`, else from the sidecar `arb record` writes
/// beside the first capture (`<capture>.instruments.json`).
pub fn given_instruments(path: Option<&std::path::Path>, files: &[PathBuf]) -> Result<Vec<InstrumentSpec>> {
    let sidecar = files.first().map(|f| PathBuf::from(format!("{}.instruments.json", f.display())));
    let path = match (path, sidecar) {
        (Some(p), _) => p.to_owned(),
        (None, Some(s)) if s.exists() => s,
        _ => return Ok(Vec::new()),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a list of instruments", path.display()))
}

/// Replays `records` into books; returns the books and which instruments saw data.
pub fn build_books(records: &[Record], instruments: &Instruments) -> (Books, Vec<bool>) {
    let decoders = Decoders::new(instruments);
    let mut books = Books::for_instruments(instruments, BookConfig { stale_ms: 0, ..BookConfig::default() });
    let mut seen = vec![false; instruments.len()];
    let mut out: Vec<MdEvent> = Vec::with_capacity(4096);
    for rec in records {
        out.clear();
        if let Err(e) = decoders.decode(rec, rec.recv_ns, &mut out) {
            if let Some(inst) = e.inst {
                out.push(MdEvent {
                    inst,
                    recv_ns: rec.recv_ns,
                    exch_ms: 0,
                    body: MdBody::FeedLost { reason: FeedLoss::BadUpdate },
                });
            }
        }
        for ev in &out {
            if let Some(s) = seen.get_mut(ev.inst.index()) {
                *s = true;
            }
            books.apply(ev, rec.recv_ns, &mut |_| {});
        }
    }
    (books, seen)
}

fn levels(
    instruments: &Instruments,
    inst: InstrumentId,
    it: impl Iterator<Item = Level>,
    depth: usize,
) -> Vec<[String; 2]> {
    let i = instruments.get(inst);
    it.take(depth)
        .map(|l| [l.price.display(i.price_scale).to_string(), l.qty.display(i.qty_scale).to_string()])
        .collect()
}

pub fn run(args: BookArgs) -> Result<String> {
    let records = capture::read_files(&args.files)?;
    let given = given_instruments(args.instruments.as_deref(), &args.files)?;
    let instruments = instruments_for(&records, given)?;
    let (books, seen) = build_books(&records, &instruments);
    let mut out = String::new();
    for book in books.iter().filter(|b| seen[b.inst().index()]) {
        let i = instruments.get(book.inst());
        let bids = levels(&instruments, book.inst(), book.bids().iter(), args.depth);
        let asks = levels(&instruments, book.inst(), book.asks().iter(), args.depth);
        let s = book.stats();
        if args.json {
            let line = json!({
                "venue": i.venue, "market": i.market, "symbol": i.symbol,
                "synced": book.is_synced(), "last_update_id": book.last_id(),
                "bids": bids, "asks": asks, "gaps": s.gaps, "resyncs": s.resyncs,
            });
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(
                out,
                "{} {} {}  synced={} last_update_id={} gaps={} resyncs={} levels={}/{}",
                i.venue,
                i.market,
                i.symbol,
                book.is_synced(),
                book.last_id(),
                s.gaps,
                s.resyncs,
                book.bids().len(),
                book.asks().len()
            );
            for row in 0..bids.len().max(asks.len()) {
                let b = bids
                    .get(row)
                    .map(|[p, q]| format!("{q:>18} @ {p:<16}"))
                    .unwrap_or_else(|| " ".repeat(37));
                let a = asks.get(row).map(|[p, q]| format!("{p:>16} x {q:<18}")).unwrap_or_default();
                let _ = writeln!(out, "  {b} | {a}");
            }
        }
    }
    Ok(out)
}
