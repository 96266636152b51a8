//! Stage 3, detect (detection): find price differences that pay after fees, sized by
//! book depth.
//!
//! - **Input rings:** `Rx<BookTop>` (the tops of every instrument's book, synced or not,
//!   from the book stage; a `DropAndCount` link is fine: when it overflows every book is
//!   invalidated until its next update, since the dropped one may have been an unsynced
//!   notice) and `Rx<DetectControl>` (enable or disable an instrument, from the cold
//!   side).
//! - **Output ring:** `Tx<Opportunity>` to the risk gate. Opportunities are perishable:
//!   when the ring is full the opportunity is dropped and counted, detection never waits.
//! - **State owned:** the latest top of every instrument's book (a `Vec` indexed by
//!   instrument id), which instruments are enabled, every candidate (a direction of a
//!   spot-spot pair, a basis pair or a triangle) computed once at construction with the
//!   candidates each instrument takes part in, and each candidate's last emission time.
//! - **Invariants:** a book that is not synced, or whose data is older than
//!   `max_data_age_ms` relative to the triggering event's receive time, is never used; an
//!   emitted opportunity's legs all satisfy their instrument's tick, lot, min/max quantity
//!   and min notional, with quantities rounded down and limits never beyond the levels
//!   walked plus an allowance (`limit_slippage_bps`, and at most `limit_edge_share_pct`
//!   of the edge over the legs); its expected edge after taker fees is at least
//!   `min_profit_bps` and its USD notional at most `max_notional_usd`; the same candidate
//!   is emitted at most once per `cooldown_ms` however long it persists. Exact arithmetic
//!   only; no allocation in `poll`; no input makes it panic.
//! - **Latency budget:** a book update with no opportunity costs one evaluation of each
//!   candidate the instrument is in (well under a microsecond each); an opportunity adds
//!   a binary search over sizes (about 30 evaluations at most): a few microseconds.
//!
//! What detection finds:
//! - **Spot-spot**: buy spot on one venue, sell the same pair's spot on another (the sell
//!   side spends inventory held there; the risk gate reserves it).
//! - **Basis**: buy spot and sell the USDT perpetual of the same asset (same venue, or
//!   across venues when `basis_cross_venue`); the reverse (sell spot you hold, buy the
//!   perpetual) only for the venues and assets listed in `reverse_basis`, and never for
//!   more than the inventory configured there.
//! - **Triangular**: inside one venue, over `X/Q`, `Y/X`, `Y/Q` with `Q` a USD asset, both
//!   directions.
//!
//! The early operation states of the design (IDLE, DETECTING, OPPORTUNITY_FOUND) live
//! here and are reported as counters: `evaluations` (detecting), `found` (found, before
//! de-duplication) and `emitted` (handed to the risk gate).
//!
//! Instruments are added and removed at run time by enabling and disabling entries of the
//! instrument table the detector was built with; an instrument the table does not know
//! needs a restart (its candidates are computed at construction, so `poll` never
//! allocates).

mod config;
mod sizing;
mod stats;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;

pub use config::{DetectConfig, DetectConfigError, ReverseBasis};
pub use sizing::{Params, Quote, Refusal, Sized, lcm, lot_base, size_pair, size_triangle};
pub use stats::{DetectSnapshot, DetectStats};

use crate::msg::{BookTop, DetectControl, MAX_LEGS, OppKind, Opportunity};
use crate::runtime::{Rx, Stage, Tx};
use crate::types::{Amount, AssetId, InstrumentId, Instruments, Market, Venue};
use crate::units::{ms_to_ns, now_ns};

/// What a candidate trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Buy `buy`, sell `sell`, the same base quantity.
    Pair { buy: InstrumentId, sell: InstrumentId, inventory: Option<Amount> },
    /// `a = X/Q`, `b = Y/X`, `c = Y/Q`.
    Triangle { a: InstrumentId, b: InstrumentId, c: InstrumentId, forward: bool },
}

/// One direction of one opportunity, with its de-duplication state.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    kind: OppKind,
    shape: Shape,
    insts: [InstrumentId; MAX_LEGS],
    n_insts: u8,
    /// The common base step (lcm of the lots in base units).
    lattice: Amount,
    last_emit_ns: u64,
    ever_emitted: bool,
    /// Found at the last evaluation.
    present: bool,
}

#[derive(Clone, Copy, Debug)]
struct BookSlot {
    top: BookTop,
    valid: bool,
}

/// The detection stage.
pub struct Detector {
    input: Rx<BookTop>,
    control: Rx<DetectControl>,
    output: Tx<Opportunity>,
    core: Core,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector").field("candidates", &self.core.cands.len()).finish_non_exhaustive()
    }
}

struct Core {
    instruments: Arc<Instruments>,
    books: Vec<BookSlot>,
    enabled: Vec<bool>,
    cands: Vec<Candidate>,
    by_inst: Vec<Vec<u32>>,
    params: Params,
    max_age_ns: u64,
    cooldown_ns: u64,
    next_id: u64,
    clock: Clock,
    stats: Arc<DetectStats>,
}

/// Book updates taken per poll.
const BATCH: usize = 64;

impl Detector {
    /// Builds the detector over `instruments` (all enabled), computing every candidate.
    pub fn new(
        config: &DetectConfig,
        instruments: Arc<Instruments>,
        input: Rx<BookTop>,
        control: Rx<DetectControl>,
        output: Tx<Opportunity>,
        clock: Clock,
        stats: Arc<DetectStats>,
    ) -> Result<Self, DetectConfigError> {
        if config.max_notional_usd.amount().0 <= 0 {
            return Err(DetectConfigError::NotPositive("max_notional_usd"));
        }
        if config.limit_edge_share_pct > 100 {
            return Err(DetectConfigError::EdgeShare);
        }
        let cands = candidates(config, &instruments)?;
        let n = instruments.len();
        let mut by_inst = vec![Vec::new(); n];
        for (ci, c) in cands.iter().enumerate() {
            for inst in &c.insts[..c.n_insts as usize] {
                by_inst[inst.index()].push(ci as u32);
            }
        }
        let books =
            instruments.iter().map(|i| BookSlot { top: BookTop::unsynced(i.id, 0), valid: false }).collect();
        let core = Core {
            books,
            enabled: vec![true; n],
            cands,
            by_inst,
            params: Params {
                min_edge: config.min_profit_bps.rate(),
                max_notional: config.max_notional_usd.amount(),
                slippage: config.limit_slippage_bps.rate(),
                edge_share_pct: config.limit_edge_share_pct,
            },
            max_age_ns: ms_to_ns(config.max_data_age_ms),
            cooldown_ns: ms_to_ns(config.cooldown_ms),
            next_id: 1,
            clock,
            stats,
            instruments,
        };
        Ok(Self { input, control, output, core })
    }

    /// Starts with `id` disabled: its book is followed but nothing is traded on it
    /// until a [`DetectControl::Enable`].
    pub fn disable(&mut self, id: InstrumentId) {
        if let Some(e) = self.core.enabled.get_mut(id.index()) {
            *e = false;
        }
    }

    /// How many candidates (directions) detection evaluates, by kind.
    pub fn candidate_counts(&self) -> [usize; OppKind::COUNT] {
        let mut n = [0; OppKind::COUNT];
        for c in &self.core.cands {
            n[c.kind.index()] += 1;
        }
        n
    }

    pub fn stats(&self) -> &Arc<DetectStats> {
        &self.core.stats
    }
}

impl Stage for Detector {
    fn poll(&mut self) -> usize {
        let core = &mut self.core;
        if self.input.take_overflow() {
            // A dropped update may have been an unsynced notice: trust no book until its
            // next update.
            core.invalidate_all();
        }
        let output = &mut self.output;
        let mut work = self.control.drain(BATCH, |c| core.on_control(c, output));
        work += self.input.drain(BATCH, |top| core.on_top(&top, output));
        work
    }
}

impl Core {
    fn invalidate_all(&mut self) {
        self.stats.input_overflows.inc();
        for b in &mut self.books {
            b.valid = false;
        }
    }

    fn on_control(&mut self, c: DetectControl, out: &mut Tx<Opportunity>) {
        self.stats.control_messages.inc();
        let (id, on) = match c {
            DetectControl::Enable(id) => (id, true),
            DetectControl::Disable(id) => (id, false),
            DetectControl::Inject(opp) => {
                if out.push(opp).is_err() {
                    self.stats.dropped_full.inc();
                }
                return;
            }
        };
        if let Some(e) = self.enabled.get_mut(id.index()) {
            *e = on;
        }
    }

    fn on_top(&mut self, top: &BookTop, out: &mut Tx<Opportunity>) {
        let i = top.inst.index();
        let Some(slot) = self.books.get_mut(i) else {
            self.stats.unknown_instrument.inc();
            return;
        };
        self.stats.book_updates.inc();
        if !top.synced || top.n_bids as usize > top.bids.len() || top.n_asks as usize > top.asks.len() {
            slot.valid = false;
            self.stats.unsynced_updates.inc();
            return;
        }
        slot.top = *top;
        slot.valid = true;
        if !self.enabled[i] {
            return;
        }
        for k in 0..self.by_inst[i].len() {
            let ci = self.by_inst[i][k] as usize;
            self.evaluate(ci, top.recv_ns, out);
        }
    }

    /// The book of `id` if it may be used for an event received at `trigger_ns`.
    fn usable(&self, id: InstrumentId, trigger_ns: u64) -> Result<&BookSlot, bool> {
        let slot = &self.books[id.index()];
        if !slot.valid || !self.enabled[id.index()] {
            return Err(false);
        }
        if trigger_ns.saturating_sub(slot.top.recv_ns) > self.max_age_ns {
            return Err(true);
        }
        Ok(slot)
    }

    fn evaluate(&mut self, ci: usize, trigger_ns: u64, out: &mut Tx<Opportunity>) {
        let c = self.cands[ci];
        let mut oldest = trigger_ns;
        for id in &c.insts[..c.n_insts as usize] {
            match self.usable(*id, trigger_ns) {
                Ok(slot) => oldest = oldest.min(slot.top.recv_ns),
                Err(stale) => {
                    if stale {
                        self.stats.refused_stale.inc();
                    }
                    self.cands[ci].present = false;
                    return;
                }
            }
        }
        self.stats.evaluations.inc();
        let quote =
            |id: InstrumentId| Quote { inst: self.instruments.get(id), top: &self.books[id.index()].top };
        let sized = match c.shape {
            Shape::Pair { buy, sell, inventory } => {
                size_pair(quote(buy), quote(sell), c.lattice, inventory, &self.params)
            }
            Shape::Triangle { a, b, c: cc, forward } => {
                size_triangle(quote(a), quote(b), quote(cc), forward, c.lattice, &self.params)
            }
        };
        let s = match sized {
            Ok(s) => s,
            Err(r) => {
                match r {
                    Refusal::Unprofitable => self.stats.refused_unprofitable.inc(),
                    Refusal::NoDepth => self.stats.refused_no_depth.inc(),
                    Refusal::BelowMinimum => self.stats.refused_below_minimum.inc(),
                    Refusal::Inventory => self.stats.refused_inventory.inc(),
                    Refusal::Overflow => self.stats.refused_overflow.inc(),
                }
                self.cands[ci].present = false;
                return;
            }
        };
        self.stats.found[c.kind.index()].inc();
        let was_present = c.present;
        self.cands[ci].present = true;
        if c.ever_emitted && trigger_ns.saturating_sub(c.last_emit_ns) < self.cooldown_ns {
            if was_present {
                self.stats.suppressed_duplicate.inc();
            } else {
                self.stats.suppressed_cooldown.inc();
            }
            return;
        }
        let opp = Opportunity {
            id: self.next_id,
            kind: c.kind,
            n_legs: s.n_legs,
            legs: s.legs,
            expected_profit: s.profit,
            edge: s.edge,
            notional: s.notional,
            slippage: s.slippage,
            trigger_ns,
            oldest_ns: oldest,
            detected_ns: now_ns(&self.clock),
        };
        if out.push(opp).is_err() {
            self.stats.dropped_full.inc();
            return;
        }
        self.next_id += 1;
        self.stats.emitted[c.kind.index()].inc();
        let c = &mut self.cands[ci];
        c.last_emit_ns = trigger_ns;
        c.ever_emitted = true;
    }
}

/// Every candidate the instrument table offers under `config`.
fn candidates(config: &DetectConfig, t: &Instruments) -> Result<Vec<Candidate>, DetectConfigError> {
    let usd: Vec<AssetId> = config.usd_assets.iter().filter_map(|a| t.find_asset(a)).collect();
    let mut inventory: Vec<(Venue, AssetId, Amount)> = Vec::new();
    for r in &config.reverse_basis {
        let a = t.find_asset(&r.asset).ok_or_else(|| DetectConfigError::UnknownAsset(r.asset.clone()))?;
        inventory.push((r.venue, a, r.max_base.amount()));
    }
    let tradable: Vec<_> = t.iter().filter(|i| i.trading_enabled && lot_base(i).is_some()).collect();
    let spot_usd: Vec<_> =
        tradable.iter().filter(|i| i.market == Market::Spot && usd.contains(&i.quote)).collect();
    let mut out = Vec::new();
    let pair = |kind, buy: &crate::types::Instrument, sell: &crate::types::Instrument, inventory| {
        let lattice = lcm(lot_base(buy)?, lot_base(sell)?)?;
        Some(Candidate {
            kind,
            shape: Shape::Pair { buy: buy.id, sell: sell.id, inventory },
            insts: [buy.id, sell.id, buy.id],
            n_insts: 2,
            lattice,
            last_emit_ns: 0,
            ever_emitted: false,
            present: false,
        })
    };
    if config.spot_spot {
        for a in &spot_usd {
            for b in &spot_usd {
                if a.venue != b.venue && a.base == b.base && a.quote == b.quote {
                    out.extend(pair(OppKind::SpotSpot, a, b, None));
                }
            }
        }
    }
    if config.basis {
        for s in &spot_usd {
            for f in tradable.iter().filter(|f| f.market == Market::Futures) {
                if f.base != s.base || f.quote != s.quote || (f.venue != s.venue && !config.basis_cross_venue)
                {
                    continue;
                }
                out.extend(pair(OppKind::Basis, s, f, None));
                if let Some(&(_, _, max)) = inventory.iter().find(|(v, a, _)| *v == s.venue && *a == s.base) {
                    out.extend(pair(OppKind::Basis, f, s, Some(max)));
                }
            }
        }
    }
    if config.triangular {
        for a in &spot_usd {
            for c in &spot_usd {
                if c.venue != a.venue || c.quote != a.quote || c.base == a.base {
                    continue;
                }
                for b in tradable.iter().filter(|b| b.market == Market::Spot && b.venue == a.venue) {
                    if b.base != c.base || b.quote != a.base {
                        continue;
                    }
                    let Some(lattice) = lot_base(b).zip(lot_base(c)).and_then(|(x, y)| lcm(x, y)) else {
                        continue;
                    };
                    for forward in [true, false] {
                        out.push(Candidate {
                            kind: OppKind::Triangular,
                            shape: Shape::Triangle { a: a.id, b: b.id, c: c.id, forward },
                            insts: [a.id, b.id, c.id],
                            n_insts: 3,
                            lattice,
                            last_emit_ns: 0,
                            ever_emitted: false,
                            present: false,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}
