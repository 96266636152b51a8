//! Stage 4, risk (the risk gate): every opportunity passes every limit here before an
//! order exists.
//!
//! - **Input rings:** `Rx<Opportunity>` from detection; `Rx<RiskUpdate>` from the state
//!   stage (positions, balances, realized P&L, finished operations, halts, order
//!   latency, reconciliation); `Rx<RiskControl>` from the cold side (halt, resume,
//!   reset breakers). The runtime's `Control` halt flag is read on every decision.
//! - **Output rings:** `Tx<Execution>` to dispatch (a `Retry` link: an approved execution
//!   waits in the gate until dispatch takes it, and no new opportunity is read
//!   meanwhile); `Tx<Alert>` to a cold thread (dropped and counted when full);
//!   optionally `Tx<BreakerRecord>` to the state stage, which journals the breakers
//!   after every change (a full ring delays the record, never loses the latest).
//! - **State owned:** positions and USD exposure per instrument and net per asset,
//!   venue balances and the amounts reserved against them per operation in flight, the
//!   token buckets, the circuit breakers, the kill switch, instrument halts, the next op
//!   id.
//! - **Invariants:** nothing is approved while the kill switch is on, while orders are
//!   being reconciled, while any breaker is open, or when any limit would be crossed;
//!   every leg's balance is reserved before its execution leaves, and released only when
//!   the state stage reports the operation done; op ids strictly increase from the
//!   journal's last op id, so they never repeat across restarts; every refusal is counted
//!   by reason. No allocation, lock or panic in `poll`.
//! - **Latency budget:** one decision is a few hundred nanoseconds (a dozen comparisons,
//!   a handful of i128 multiplications, a scan of the operations in flight).
//!
//! Limits (`[risk]`, the names users know from the original design):
//! `max_position_size_usd` (per instrument, after the trade), `max_total_exposure_usd`
//! (net USD delta per asset, summed over assets, plus the notional of operations in
//! flight), `max_daily_loss_usd` (a breaker), `min_profit_margin_bps` (expected edge),
//! `max_execution_time_ms` (passed on as the execution's deadline, enforced by state),
//! `max_slippage_bps` (how far detection's limits may sit from the best prices; state
//! also bounds hedges by it), `max_data_age_ms` (age of the oldest book at approval).
//!
//! Balance reservation: each leg is reserved against the account it draws on, and the
//! spot and futures accounts are separate (as they are on both venues). A spot buy
//! reserves its quote notional at the limit price plus the taker fee and a spot sell its
//! base quantity, in the venue's spot balance of that asset; a futures order reserves
//! its notional times `futures_margin_bps` plus the fee in the venue's futures account,
//! against the margin the venue says new orders may use. A finished operation's futures
//! margin stays counted as used until the venue next reports its futures account (the
//! position it opened holds that margin at the venue). Every leg of an operation goes
//! out at once, so a triangle needs inventory of all three assets on its venue.

mod breakers;
mod config;
mod limiter;
mod stats;
mod veto;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;

pub use breakers::{Breaker, BreakerConfig};
pub use config::{RiskConfig, RiskConfigError};
pub use limiter::{Bucket, Limiter, RateLimit, published_limits};
pub use stats::{RiskSnapshot, RiskStats};
pub use veto::Veto;

use breakers::Breakers;

use crate::journal::BreakerRecord;
use crate::msg::{Alert, AlertKind, Execution, MAX_LEGS, Opportunity, RiskControl, RiskUpdate};
use crate::runtime::{Control, Held, Rx, Stage, Tx};
use crate::types::{Amount, AssetId, InstrumentId, Instruments, Market, Qty, Rate, Rounding, Side, Venue};
use crate::units::{ms_to_ns, now_ns};

/// The gate's rings.
#[derive(Debug)]
pub struct RiskRings {
    pub opportunities: Rx<Opportunity>,
    pub updates: Rx<RiskUpdate>,
    pub control: Rx<RiskControl>,
    pub executions: Tx<Execution>,
    pub alerts: Tx<Alert>,
}

/// Reservations of one operation in flight.
#[derive(Clone, Copy, Debug, Default)]
struct Reservation {
    op: u64,
    used: bool,
    /// (balance index, amount); indices below `Venue::COUNT` are futures accounts.
    items: [(u32, Amount); MAX_LEGS],
    n_items: u8,
    insts: [InstrumentId; MAX_LEGS],
    n_insts: u8,
    notional: Amount,
}

/// The risk gate stage.
pub struct RiskGate {
    rings: RiskRings,
    runtime: Arc<Control>,
    clock: Clock,
    instruments: Arc<Instruments>,
    stats: Arc<RiskStats>,
    /// Deciding a basis exit (no profit margin, no position or exposure limit).
    exiting: bool,
    // Limits.
    max_position: Amount,
    max_exposure: Amount,
    max_daily_loss: Amount,
    min_margin: Rate,
    max_slippage: Rate,
    max_age_ns: u64,
    exec_time_ns: u64,
    futures_margin: Rate,
    usd: Vec<bool>,
    /// `usd_assets`: the flags are derived again when an added instrument brings an asset.
    usd_names: Vec<String>,
    // State.
    next_op: u64,
    halted: bool,
    reconciling: u32,
    inst_halted: Vec<bool>,
    inst_busy: Vec<u16>,
    /// Per instrument: quantity, base exposure and quote exposure (USD).
    position: Vec<(Qty, Amount, Amount)>,
    asset_net: Vec<Amount>,
    exposure_total: Amount,
    in_flight_notional: Amount,
    /// Futures accounts first (one per venue), then spot balances per venue and asset.
    balance: Vec<Amount>,
    reserved: Vec<Amount>,
    /// Per venue: futures margin of operations finished since the venue last reported
    /// its futures account.
    margin_unreported: [Amount; Venue::COUNT],
    reservations: Vec<Reservation>,
    limiter: Limiter,
    breakers: Breakers,
    /// The approved execution dispatch's ring refused: sent before anything new is read.
    held: Held<Execution>,
    /// Where the breakers go after a change, to be journaled.
    breaker_log: Option<Tx<BreakerRecord>>,
    /// The breakers changed since the last record went out.
    breakers_dirty: bool,
}

impl fmt::Debug for RiskGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskGate")
            .field("next_op", &self.next_op)
            .field("halted", &self.halted)
            .finish_non_exhaustive()
    }
}

/// Updates and opportunities taken per poll.
const BATCH: usize = 64;

impl RiskGate {
    /// Builds the gate. `last_op_id` is the highest op id the journal holds (replay's
    /// `last_op_id`); the first operation approved gets `last_op_id + 1`.
    pub fn new(
        config: &RiskConfig,
        instruments: Arc<Instruments>,
        rings: RiskRings,
        runtime: Arc<Control>,
        clock: Clock,
        last_op_id: u64,
        stats: Arc<RiskStats>,
    ) -> Result<Self, RiskConfigError> {
        if config.max_ops_in_flight == 0 || config.max_ops_in_flight > 4096 {
            return Err(RiskConfigError::InFlight);
        }
        if config.entry_share_pct == 0 || config.entry_share_pct > 100 {
            return Err(RiskConfigError::Share);
        }
        // Sized by the table's capacity: an instrument added while running has its slots.
        let n = instruments.capacity();
        // Per-asset state by the table's asset capacity, and per (venue, asset) strided by
        // it: an asset added while running has its slots too.
        let assets = instruments.asset_capacity();
        let mut usd = vec![false; assets];
        instruments.flag_assets(&config.usd_assets, &mut usd);
        let now = now_ns(&clock);
        stats.last_op_id.set(last_op_id as i64);
        Ok(Self {
            limiter: Limiter::new(&instruments, &config.rate_limits, config.entry_share_pct, now),
            breakers: Breakers::new(config.breakers).rolling_at(config.day_roll_utc_hour),
            exiting: false,
            max_position: config.max_position_size_usd.amount(),
            max_exposure: config.max_total_exposure_usd.amount(),
            max_daily_loss: config.max_daily_loss_usd.amount(),
            min_margin: config.min_profit_margin_bps.rate(),
            max_slippage: config.max_slippage_bps.rate(),
            max_age_ns: ms_to_ns(config.max_data_age_ms),
            exec_time_ns: ms_to_ns(config.max_execution_time_ms),
            futures_margin: config.futures_margin_bps.rate(),
            usd,
            usd_names: config.usd_assets.clone(),
            next_op: last_op_id.saturating_add(1),
            halted: false,
            reconciling: 0,
            inst_halted: vec![false; n],
            inst_busy: vec![0; n],
            position: vec![(Qty::ZERO, Amount::ZERO, Amount::ZERO); n],
            asset_net: vec![Amount::ZERO; assets],
            exposure_total: Amount::ZERO,
            in_flight_notional: Amount::ZERO,
            balance: vec![Amount::ZERO; Venue::COUNT * (assets + 1)],
            reserved: vec![Amount::ZERO; Venue::COUNT * (assets + 1)],
            margin_unreported: [Amount::ZERO; Venue::COUNT],
            reservations: vec![Reservation::default(); config.max_ops_in_flight],
            held: Held::new(1),
            breaker_log: None,
            breakers_dirty: false,
            rings,
            runtime,
            clock,
            instruments,
            stats,
        })
    }

    pub fn stats(&self) -> &Arc<RiskStats> {
        &self.stats
    }

    /// Sends the breakers on `tx` after every change, for the state stage to journal.
    pub fn with_breaker_log(mut self, tx: Tx<BreakerRecord>) -> Self {
        self.breaker_log = Some(tx);
        self
    }

    /// Starts from the breakers the journal last recorded (replay's `breakers`).
    pub fn with_breakers(mut self, record: Option<&BreakerRecord>) -> Self {
        if let Some(r) = record {
            let before = self.breakers.open_flags();
            self.breakers.restore(r, now_ns(&self.clock), crate::clock::unix_ns() / 1_000_000);
            for b in Breaker::ALL {
                let open = self.breakers.open_flags()[b.index()];
                if open != before[b.index()] {
                    self.stats.breaker_open[b.index()].set(open as i64);
                }
            }
        }
        self
    }

    /// Starts with the kill switch on when the journal shows it on (replay's
    /// `kill_switch`): nothing is approved until an operator resumes. No alert: the
    /// state stage, which journaled it, reports it.
    pub fn with_kill_switch(mut self, on: bool) -> Self {
        if on {
            self.halted = true;
            self.stats.halted.set(1);
        }
        self
    }

    /// Whether `b` is open.
    pub fn breaker_open(&self, b: Breaker) -> bool {
        self.breakers.open_flags()[b.index()]
    }

    /// The op id the next approved operation gets.
    pub fn next_op_id(&self) -> u64 {
        self.next_op
    }

    /// The amount of `asset` on `venue`'s spot account reserved by operations in flight.
    pub fn reserved(&self, venue: Venue, asset: AssetId) -> Amount {
        self.balance_index(venue, asset).map_or(Amount::ZERO, |i| self.reserved[i])
    }

    /// The margin of `venue`'s futures account counted as used: reserved by operations
    /// in flight, plus that of operations finished since the venue last reported it.
    pub fn futures_margin_used(&self, venue: Venue) -> Amount {
        let i = Self::futures_index(venue);
        self.reserved[i].saturating_add(self.margin_unreported[venue.index()])
    }

    fn balance_index(&self, venue: Venue, asset: AssetId) -> Option<usize> {
        let assets = self.instruments.asset_capacity();
        (asset.index() < assets).then(|| Venue::COUNT + venue.index() * assets + asset.index())
    }

    fn futures_index(venue: Venue) -> usize {
        venue.index()
    }

    fn alert(&mut self, kind: AlertKind, op: u64, value: i64) {
        let a = Alert { kind, op, value, ts_ns: now_ns(&self.clock) };
        if self.rings.alerts.push(a).is_err() {
            self.stats.alerts_dropped.inc();
        }
    }

    /// Publishes breaker changes and alerts about them.
    fn sync_breakers(&mut self, before: [bool; Breaker::COUNT]) {
        let after = self.breakers.open_flags();
        for b in Breaker::ALL {
            let i = b.index();
            if before[i] != after[i] {
                self.breakers_dirty = true;
                self.stats.breaker_open[i].set(after[i] as i64);
                if after[i] {
                    self.stats.breaker_trips[i].inc();
                    self.alert(AlertKind::BreakerTripped, 0, i as i64);
                } else {
                    self.alert(AlertKind::BreakerReset, 0, i as i64);
                }
            }
        }
    }

    fn set_halted(&mut self, on: bool) {
        if self.halted != on {
            self.halted = on;
            self.stats.halted.set(on as i64);
            self.alert(if on { AlertKind::Halted } else { AlertKind::Resumed }, 0, 0);
        }
    }

    fn on_control(&mut self, c: RiskControl) {
        match c {
            RiskControl::Halt => self.set_halted(true),
            RiskControl::Resume => self.set_halted(false),
            RiskControl::Added => {
                // Cold: a bucket of its own may be allocated.
                let now = now_ns(&self.clock);
                for i in self.instruments.iter() {
                    self.limiter.add(i, now);
                }
                // A new asset's flags (its balance, reserved and net slots are sized).
                self.instruments.flag_assets(&self.usd_names, &mut self.usd);
            }
            RiskControl::ResetBreakers => {
                let before = self.breakers.open_flags();
                self.breakers.reset_all();
                // The accepted loss changed even when nothing was open.
                self.breakers_dirty = true;
                self.sync_breakers(before);
            }
        }
    }

    fn on_update(&mut self, u: RiskUpdate) {
        self.stats.updates.inc();
        let now = now_ns(&self.clock);
        let before = self.breakers.open_flags();
        match u {
            RiskUpdate::OperationDone { op, success, .. } => {
                self.release(op);
                self.breakers.on_outcome(success, now);
            }
            RiskUpdate::Position { inst, qty, exposure, quote_exposure } => {
                let Some(&(_, old, old_quote)) = self.position.get(inst.index()) else { return };
                self.position[inst.index()] = (qty, exposure, quote_exposure);
                let i = self.instruments.get(inst);
                let (base, quote) = (i.base.index(), i.quote.index());
                self.move_net(base, exposure.saturating_sub(old));
                self.move_net(quote, quote_exposure.saturating_sub(old_quote));
                self.stats.exposure.set(self.exposure_total);
            }
            RiskUpdate::Balance { venue, asset, available } => {
                if let Some(i) = self.balance_index(venue, asset) {
                    self.balance[i] = available;
                }
            }
            RiskUpdate::FuturesMargin { venue, available } => {
                self.balance[Self::futures_index(venue)] = available;
                self.margin_unreported[venue.index()] = Amount::ZERO;
            }
            RiskUpdate::BasisExit { legs, slot } => self.on_exit(legs, slot, now),
            RiskUpdate::Flatten { leg } => self.on_flatten(leg, now),
            RiskUpdate::DailyPnl { realized } => {
                self.stats.daily_pnl.set(realized);
                self.breakers.on_daily_pnl(realized, self.max_daily_loss, now);
            }
            RiskUpdate::Halt => self.set_halted(true),
            RiskUpdate::InstrumentHalt { inst, halted } => {
                if let Some(h) = self.inst_halted.get_mut(inst.index()) {
                    *h = halted;
                }
            }
            RiskUpdate::OrderLatency { venue, ns } => {
                self.breakers.on_latency(venue, ns, now);
                let ewma = self.breakers.latency_ewma_ns(venue);
                self.stats.order_latency_ns[venue.index()].set(ewma.min(i64::MAX as u64) as i64);
            }
            RiskUpdate::Reconciling { pending } => {
                self.reconciling = pending;
                self.stats.reconciling.set(i64::from(pending));
            }
        }
        self.sync_breakers(before);
    }

    /// Moves one asset's net USD exposure by `delta`, keeping the total of the absolute
    /// nets in step.
    fn move_net(&mut self, asset: usize, delta: Amount) {
        if let Some(net) = self.asset_net.get_mut(asset) {
            let old_abs = net.abs();
            *net = net.saturating_add(delta);
            self.exposure_total = self.exposure_total.saturating_sub(old_abs).saturating_add(net.abs());
        }
    }

    fn release(&mut self, op: u64) {
        let Some(k) = self.reservations.iter().position(|r| r.used && r.op == op) else {
            return;
        };
        let r = self.reservations[k];
        for &(i, amount) in &r.items[..r.n_items as usize] {
            let slot = &mut self.reserved[i as usize];
            *slot = slot.saturating_sub(amount).max(Amount::ZERO);
            if let Some(held) = self.margin_unreported.get_mut(i as usize) {
                *held = held.saturating_add(amount);
            }
        }
        for id in &r.insts[..r.n_insts as usize] {
            let b = &mut self.inst_busy[id.index()];
            *b = b.saturating_sub(1);
        }
        self.in_flight_notional = self.in_flight_notional.saturating_sub(r.notional).max(Amount::ZERO);
        self.reservations[k].used = false;
        self.stats.in_flight.set(self.reservations.iter().filter(|r| r.used).count() as i64);
    }

    /// The USD value of a leg: its notional when quoted in a USD asset, else the
    /// operation's USD notional.
    fn leg_usd(
        &self,
        inst: &crate::types::Instrument,
        price: crate::types::Price,
        qty: Qty,
        opp: &Opportunity,
    ) -> Option<Amount> {
        if self.usd.get(inst.quote.index()).copied().unwrap_or(false) {
            inst.notional(price, qty, Rounding::Ceil)
        } else {
            Some(opp.notional)
        }
    }

    /// The decision about one opportunity: `Ok` with the balance needs, or the reason.
    fn check(&mut self, o: &Opportunity, now: u64) -> Result<[(u32, Amount); MAX_LEGS], Veto> {
        let n = o.n_legs as usize;
        if n == 0 || n > MAX_LEGS {
            return Err(Veto::Invalid);
        }
        for leg in o.legs() {
            if self.instruments.try_get(leg.inst).is_none()
                || !leg.price.is_positive()
                || !leg.qty.is_positive()
            {
                return Err(Veto::Invalid);
            }
        }
        if self.runtime.is_halted() && !self.halted {
            self.set_halted(true);
        }
        if self.halted {
            return Err(Veto::KillSwitch);
        }
        if self.reconciling > 0 {
            return Err(Veto::Reconciling);
        }
        // A breaker stops new positions; an order that only reduces one still goes.
        if let Some(b) = self.breakers.first_open().filter(|_| !self.exiting) {
            return Err(Veto::breaker(b));
        }
        if now.saturating_sub(o.oldest_ns) > self.max_age_ns {
            let before = self.breakers.open_flags();
            self.breakers.on_stale(now);
            self.sync_breakers(before);
            return Err(Veto::StaleData);
        }
        self.breakers.on_fresh();
        if !self.exiting && (o.edge < self.min_margin || o.expected_profit.0 <= 0) {
            return Err(Veto::MinProfitMargin);
        }
        if o.slippage > self.max_slippage {
            return Err(Veto::Slippage);
        }
        for leg in o.legs() {
            if self.inst_halted[leg.inst.index()] {
                return Err(Veto::InstrumentHalted);
            }
        }
        for leg in o.legs() {
            if self.inst_busy[leg.inst.index()] > 0 {
                return Err(Veto::InstrumentBusy);
            }
        }
        if !self.reservations.iter().any(|r| !r.used) {
            return Err(Veto::TooManyInFlight);
        }
        // Position after the trade, per instrument.
        for leg in o.legs() {
            let inst = self.instruments.get(leg.inst);
            let value = self.leg_usd(inst, leg.price, leg.qty, o).ok_or(Veto::Invalid)?;
            let signed = if leg.side == Side::Buy { value } else { -value };
            let after = self.position[leg.inst.index()].1.saturating_add(signed);
            if !self.exiting && after.abs() > self.max_position {
                return Err(Veto::PositionLimit);
            }
        }
        let exposure = self.exposure_total.saturating_add(self.in_flight_notional).saturating_add(o.notional);
        if !self.exiting && exposure > self.max_exposure {
            return Err(Veto::ExposureLimit);
        }
        // Balances needed per (venue, asset), summed over legs.
        let mut need = [(u32::MAX, Amount::ZERO); MAX_LEGS];
        let mut k = 0;
        for leg in o.legs() {
            let inst = self.instruments.get(leg.inst);
            let notional = inst.notional(leg.price, leg.qty, Rounding::Ceil).ok_or(Veto::Invalid)?;
            let fee = notional.mul_rate(inst.taker_fee, Rounding::Ceil).ok_or(Veto::Invalid)?;
            let (idx, amount) = match (inst.market, leg.side) {
                (Market::Spot, Side::Buy) => {
                    (self.balance_index(inst.venue, inst.quote), notional.saturating_add(fee))
                }
                (Market::Spot, Side::Sell) => (
                    self.balance_index(inst.venue, inst.base),
                    inst.base_amount(leg.qty).ok_or(Veto::Invalid)?,
                ),
                // Closing a position frees margin at the venue: a reducing order needs
                // only its fee.
                (Market::Futures, _) if self.exiting => (Some(Self::futures_index(inst.venue)), fee),
                (Market::Futures, _) => (
                    Some(Self::futures_index(inst.venue)),
                    notional
                        .mul_rate(self.futures_margin, Rounding::Ceil)
                        .ok_or(Veto::Invalid)?
                        .saturating_add(fee),
                ),
            };
            let idx = idx.ok_or(Veto::Invalid)? as u32;
            if let Some(e) = need[..k].iter_mut().find(|(i, _)| *i == idx) {
                e.1 = e.1.saturating_add(amount);
            } else {
                need[k] = (idx, amount);
                k += 1;
            }
        }
        for &(idx, amount) in &need[..k] {
            let i = idx as usize;
            let held = self.margin_unreported.get(i).copied().unwrap_or(Amount::ZERO);
            let free = self.balance[i].saturating_sub(self.reserved[i]).saturating_sub(held);
            if free < amount {
                return Err(if i < Venue::COUNT {
                    Veto::InsufficientMargin
                } else {
                    Veto::InsufficientBalance
                });
            }
        }
        let mut insts = [InstrumentId::default(); MAX_LEGS];
        for (slot, leg) in insts.iter_mut().zip(o.legs()) {
            *slot = leg.inst;
        }
        if !self.limiter.try_take(&insts[..n], now) {
            return Err(Veto::RateLimited);
        }
        Ok(need)
    }

    /// A basis position's exit from the state stage: checked like an entry except for
    /// the profit margin and the position and exposure limits (it reduces the position
    /// it closes), then executed as an operation of its own.
    fn on_exit(&mut self, legs: [crate::msg::Leg; 2], slot: u16, now: u64) {
        let o =
            self.reducing(crate::state::EXIT_ID + u64::from(slot), crate::msg::OppKind::Basis, &legs, now);
        self.approve_reducing(&o);
    }

    fn on_flatten(&mut self, leg: crate::msg::Leg, now: u64) {
        let id = crate::state::FLATTEN_ID + u64::from(leg.inst.0);
        let o = self.reducing(id, crate::msg::OppKind::Flatten, &[leg], now);
        self.approve_reducing(&o);
    }

    /// An operation the state stage asks for to reduce what is held: its notional is its
    /// largest leg's.
    fn reducing(
        &self,
        id: u64,
        kind: crate::msg::OppKind,
        legs: &[crate::msg::Leg],
        now: u64,
    ) -> Opportunity {
        let mut all = [crate::msg::Leg::default(); MAX_LEGS];
        all[..legs.len()].copy_from_slice(legs);
        let mut o = Opportunity {
            id,
            kind,
            n_legs: legs.len() as u8,
            legs: all,
            expected_profit: Amount::ZERO,
            edge: crate::types::Rate::ZERO,
            notional: Amount::ZERO,
            slippage: crate::types::Rate::ZERO,
            trigger_ns: now,
            oldest_ns: now,
            detected_ns: now,
        };
        for leg in legs {
            if let Some(i) = self.instruments.try_get(leg.inst) {
                let v = self.leg_usd(i, leg.price, leg.qty, &o).unwrap_or(Amount::ZERO);
                o.notional = o.notional.max(v);
            }
        }
        o
    }

    /// Checks a reducing operation like an entry except the profit margin, the position
    /// and exposure limits and the circuit breakers (which stop new positions, not the
    /// closing of one), and sends it on when it passes.
    fn approve_reducing(&mut self, o: &Opportunity) {
        self.exiting = true;
        let e = self.decide(o);
        self.exiting = false;
        if let Some(e) = e {
            self.held.push(&mut self.rings.executions, e);
        }
    }

    fn decide(&mut self, o: &Opportunity) -> Option<Execution> {
        let now = now_ns(&self.clock);
        let need = match self.check(o, now) {
            Ok(need) => need,
            Err(r) => {
                self.stats.rejected[r as usize].inc();
                return None;
            }
        };
        let op = self.next_op;
        self.next_op += 1;
        let k = self.reservations.iter().position(|r| !r.used)?;
        let mut r = Reservation { op, used: true, notional: o.notional, ..Reservation::default() };
        for &(idx, amount) in need.iter().filter(|(i, _)| *i != u32::MAX) {
            self.reserved[idx as usize] = self.reserved[idx as usize].saturating_add(amount);
            r.items[r.n_items as usize] = (idx, amount);
            r.n_items += 1;
        }
        for leg in o.legs() {
            self.inst_busy[leg.inst.index()] += 1;
            r.insts[r.n_insts as usize] = leg.inst;
            r.n_insts += 1;
        }
        self.reservations[k] = r;
        self.in_flight_notional = self.in_flight_notional.saturating_add(o.notional);
        self.stats.in_flight.set(self.reservations.iter().filter(|r| r.used).count() as i64);
        self.stats.approved[o.kind.index()].inc();
        self.stats.last_op_id.set(op as i64);
        Some(Execution::new(op, *o, now, now.saturating_add(self.exec_time_ns)))
    }
}

impl RiskGate {
    /// Sends the breakers to be journaled; a full ring leaves them for the next poll.
    #[cold]
    fn log_breakers(&mut self) {
        let Some(tx) = self.breaker_log.as_mut() else {
            self.breakers_dirty = false;
            return;
        };
        let rec = self.breakers.record(now_ns(&self.clock), crate::clock::unix_ns() / 1_000_000);
        if tx.push(rec).is_ok() {
            self.breakers_dirty = false;
        }
    }
}

impl Stage for RiskGate {
    fn poll(&mut self) -> usize {
        let mut work = 0;
        while let Some(c) = self.rings.control.pop() {
            self.on_control(c);
            work += 1;
        }
        while work < BATCH {
            let Some(u) = self.rings.updates.pop() else { break };
            self.on_update(u);
            work += 1;
        }
        let before = self.breakers.open_flags();
        self.breakers.tick(now_ns(&self.clock));
        self.sync_breakers(before);
        if self.breakers_dirty {
            self.log_breakers();
        }
        if !self.held.is_empty() {
            if self.held.flush(&mut self.rings.executions) == 0 {
                return work;
            }
            work += 1;
        }
        for _ in 0..BATCH {
            let Some(o) = self.rings.opportunities.pop() else { break };
            work += 1;
            if let Some(e) = self.decide(&o) {
                // One held at most: no opportunity is read while it waits.
                self.held.push(&mut self.rings.executions, e);
                if !self.held.is_empty() {
                    break;
                }
            }
        }
        work
    }
}
