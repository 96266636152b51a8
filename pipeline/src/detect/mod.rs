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
//!   A poll returns as soon as an update has emitted one, so that the risk gate and
//!   dispatch (the next stages on a compact layout's thread) act on it before the rest
//!   of that update's candidates are sized; the next poll resumes them.
//! - **State owned:** the latest top of every instrument's book (a `Vec` indexed by
//!   instrument id), which instruments are enabled, every candidate (a direction of a
//!   spot-spot pair, a basis pair or a triangle) found instrument by instrument through
//!   an index of the universe ([`candidates`]), the candidates each instrument takes
//!   part in, and each candidate's last emission time. Every table is indexed by
//!   instrument id and only appended to.
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
//!   candidate the instrument is in (well under a microsecond each), whatever the size
//!   of the universe (`cargo bench --bench detect` measures it); an opportunity adds
//!   the search over sizes: two evaluations when it pays up to the notional cap, a
//!   binary search below it.
//!
//! What detection finds:
//! - **Spot-spot**: buy spot on one venue, sell the same pair's spot on another (the sell
//!   side spends inventory held there; the risk gate reserves it).
//! - **Basis**: buy spot and sell the USDT perpetual of the same asset (same venue, or
//!   across venues when `basis_cross_venue`); the reverse (sell spot you hold, buy the
//!   perpetual) only for the venues and assets listed in `reverse_basis`, and never for
//!   more than the inventory configured there.
//! - **Triangular**: inside one venue, over `X/Q`, `Y/X`, `Y/Q` with `Q` a USD asset, both
//!   directions; every listed cross `Y/X` with both legs to a USD asset makes one.
//!
//! The early operation states of the design (IDLE, DETECTING, OPPORTUNITY_FOUND) live
//! here and are reported as counters: `evaluations` (detecting), `found` (found, before
//! de-duplication) and `emitted` (handed to the risk gate).
//!
//! Instruments are added and removed at run time by enabling and disabling entries of the
//! instrument table the detector was built with; an instrument the table does not know
//! needs a restart (`poll` never allocates, and the table is shared read-only).

mod candidates;
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

use candidates::{Candidate, CandidateIndex, Shape};

use crate::msg::{BookTop, DetectControl, OppKind, Opportunity};
use crate::runtime::{Rx, Stage, Tx};
use crate::types::{InstrumentId, Instruments};
use crate::units::{ms_to_ns, now_ns};

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
    index: CandidateIndex,
    params: Params,
    max_age_ns: u64,
    cooldown_ns: u64,
    next_id: u64,
    clock: Clock,
    stats: Arc<DetectStats>,
    /// The candidates of an update not evaluated yet, because an earlier one emitted.
    pending: Option<Pending>,
}

/// Where to resume an update's candidates.
#[derive(Clone, Copy, Debug)]
struct Pending {
    inst: usize,
    next: usize,
    trigger_ns: u64,
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
        let index = CandidateIndex::new(config, &instruments)?;
        let n = instruments.len();
        // Room for every slot of the table: an instrument added while running takes one.
        let cap = instruments.capacity();
        let mut core = Core {
            books: Vec::with_capacity(cap),
            enabled: Vec::with_capacity(cap),
            cands: Vec::new(),
            by_inst: Vec::with_capacity(cap),
            index,
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
            pending: None,
        };
        for id in (0..n).map(|i| InstrumentId(i as u16)) {
            core.add(id);
        }
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
    /// Takes book updates until one emits an opportunity, then returns, so that the
    /// risk gate and dispatch (next on a compact layout's thread) act on it before the
    /// rest of that update's candidates are evaluated; the next poll resumes them.
    fn poll(&mut self) -> usize {
        let core = &mut self.core;
        if self.input.take_overflow() {
            // A dropped update may have been an unsynced notice: trust no book until its
            // next update.
            core.invalidate_all();
        }
        let output = &mut self.output;
        let mut work = self.control.drain(BATCH, |c| core.on_control(c, output));
        if let Some(p) = core.pending.take() {
            work += 1;
            if core.evaluate_from(p, output) {
                return work;
            }
        }
        for _ in 0..BATCH {
            let Some(top) = self.input.pop() else { break };
            work += 1;
            if core.on_top(&top, output) {
                break;
            }
        }
        work
    }
}

impl Core {
    /// Takes the table's instrument `id` (the next one: ids are dense and only grow):
    /// its book slot, enabled, and every candidate it completes with the instruments
    /// already taken.
    fn add(&mut self, id: InstrumentId) {
        debug_assert_eq!(id.index(), self.books.len());
        self.books.push(BookSlot { top: BookTop::unsynced(id, 0), valid: false });
        self.enabled.push(true);
        self.by_inst.push(Vec::new());
        let first = self.cands.len();
        self.index.add(&self.instruments, id, &mut self.cands);
        for ci in first..self.cands.len() {
            for inst in self.cands[ci].instruments() {
                self.by_inst[inst.index()].push(ci as u32);
            }
        }
    }

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
            DetectControl::Added => {
                // Cold: the index hashes and the new candidates allocate. Ids are dense
                // and only grow, so the ones not taken yet are the new ones.
                for k in self.books.len()..self.instruments.len() {
                    self.add(InstrumentId(k as u16));
                }
                return;
            }
            DetectControl::Removed(id) => {
                if let Some(b) = self.books.get_mut(id.index()) {
                    b.valid = false;
                }
                (id, false)
            }
        };
        if let Some(e) = self.enabled.get_mut(id.index()) {
            *e = on;
        }
    }

    /// Takes one book update and evaluates its instrument's candidates; true when one
    /// emitted an opportunity (the rest wait in `pending`).
    fn on_top(&mut self, top: &BookTop, out: &mut Tx<Opportunity>) -> bool {
        let i = top.inst.index();
        let Some(slot) = self.books.get_mut(i) else {
            self.stats.unknown_instrument.inc();
            return false;
        };
        self.stats.book_updates.inc();
        if !top.synced || top.n_bids as usize > top.bids.len() || top.n_asks as usize > top.asks.len() {
            slot.valid = false;
            self.stats.unsynced_updates.inc();
            return false;
        }
        slot.top = *top;
        slot.valid = true;
        if !self.enabled[i] {
            return false;
        }
        self.evaluate_from(Pending { inst: i, next: 0, trigger_ns: top.recv_ns }, out)
    }

    /// Evaluates the candidates of instrument `p.inst` from `p.next` on, stopping after
    /// the first that emits; true when one did.
    fn evaluate_from(&mut self, p: Pending, out: &mut Tx<Opportunity>) -> bool {
        for k in p.next..self.by_inst[p.inst].len() {
            let ci = self.by_inst[p.inst][k] as usize;
            if self.evaluate(ci, p.trigger_ns, out) {
                if k + 1 < self.by_inst[p.inst].len() {
                    self.pending = Some(Pending { next: k + 1, ..p });
                }
                return true;
            }
        }
        false
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

    /// Evaluates candidate `ci`; true when it emitted an opportunity.
    fn evaluate(&mut self, ci: usize, trigger_ns: u64, out: &mut Tx<Opportunity>) -> bool {
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
                    return false;
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
                return false;
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
            return false;
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
            return false;
        }
        self.next_id += 1;
        self.stats.emitted[c.kind.index()].inc();
        let c = &mut self.cands[ci];
        c.last_emit_ns = trigger_ns;
        c.ever_emitted = true;
        true
    }
}
