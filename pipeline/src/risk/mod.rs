//! The risk gate: every opportunity passes every limit here before an order exists.
//!
//! - **Input rings:** `Rx<Opportunity>` from detection; `Rx<RiskUpdate>` from the state
//!   stage (positions, balances, realized P&L, finished operations, halts, order
//!   latency, reconciliation); `Rx<RiskControl>` from the cold side (halt, resume,
//!   reset breakers). The runtime's `Control` halt flag is read on every decision.
//! - **Output rings:** `Tx<Execution>` to dispatch (a `Retry` link: an approved execution
//!   waits in the gate until dispatch takes it, and no new opportunity is read
//!   meanwhile); `Tx<Alert>` to a cold thread (dropped and counted when full).
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
//! Balance reservation: a spot buy reserves its quote notional at the limit price plus
//! the taker fee, a spot sell its base quantity, a futures order its notional times
//! `futures_margin_bps` plus the fee, all in the venue's balance of that asset. Every
//! leg of an operation goes out at once, so a triangle needs inventory of all three
//! assets on its venue.

mod breakers;
mod limiter;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use quanta::Clock;
use serde::Deserialize;

pub use breakers::{Breaker, BreakerConfig};
pub use limiter::{Bucket, Limiter, RateLimit, published_limits};

use breakers::Breakers;

use crate::cells::{AmountCell, Counter, Gauge};
use crate::msg::{Alert, AlertKind, Execution, MAX_LEGS, OppKind, Opportunity, RiskControl, RiskUpdate};
use crate::runtime::{Control, Held, Rx, Stage, Tx};
use crate::types::{Amount, AssetId, InstrumentId, Instruments, Market, Qty, Rate, Rounding, Side, Venue};
use crate::units::{Bps, Usd, ms_to_ns, now_ns};

/// Risk configuration (`[risk]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    #[serde(default = "d_position")]
    pub max_position_size_usd: Usd,
    #[serde(default = "d_exposure")]
    pub max_total_exposure_usd: Usd,
    #[serde(default = "d_daily_loss")]
    pub max_daily_loss_usd: Usd,
    #[serde(default = "d_margin")]
    pub min_profit_margin_bps: Bps,
    #[serde(default = "d_exec_time")]
    pub max_execution_time_ms: u64,
    #[serde(default = "d_slippage")]
    pub max_slippage_bps: Bps,
    #[serde(default = "d_age")]
    pub max_data_age_ms: u64,
    /// Operations approved and not yet reported done, at most.
    #[serde(default = "d_in_flight")]
    pub max_ops_in_flight: usize,
    /// Margin reserved for a futures order, as a rate of its notional (10000 = 1x).
    #[serde(default = "d_futures_margin")]
    pub futures_margin_bps: Bps,
    /// Share of each venue rate limit new operations may use; the rest is kept for
    /// hedges, unwinds and cancels.
    #[serde(default = "d_share")]
    pub entry_share_pct: u8,
    /// Venue order rate limits; the venues' published limits by default.
    #[serde(default = "published_limits")]
    pub rate_limits: Vec<RateLimit>,
    #[serde(default)]
    pub breakers: BreakerConfig,
    /// Assets worth one US dollar (for leg values and exposure).
    #[serde(default = "d_usd")]
    pub usd_assets: Vec<String>,
}

fn d_position() -> Usd {
    Usd::new(5_000)
}
fn d_exposure() -> Usd {
    Usd::new(20_000)
}
fn d_daily_loss() -> Usd {
    Usd::new(500)
}
fn d_margin() -> Bps {
    Bps::new(5)
}
fn d_exec_time() -> u64 {
    2_000
}
fn d_slippage() -> Bps {
    Bps::new(20)
}
fn d_age() -> u64 {
    100
}
fn d_in_flight() -> usize {
    16
}
fn d_futures_margin() -> Bps {
    Bps::new(10_000)
}
fn d_share() -> u8 {
    50
}
fn d_usd() -> Vec<String> {
    vec!["USDT".to_owned()]
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_position_size_usd: d_position(),
            max_total_exposure_usd: d_exposure(),
            max_daily_loss_usd: d_daily_loss(),
            min_profit_margin_bps: d_margin(),
            max_execution_time_ms: d_exec_time(),
            max_slippage_bps: d_slippage(),
            max_data_age_ms: d_age(),
            max_ops_in_flight: d_in_flight(),
            futures_margin_bps: d_futures_margin(),
            entry_share_pct: d_share(),
            rate_limits: published_limits(),
            breakers: BreakerConfig::default(),
            usd_assets: d_usd(),
        }
    }
}

/// Why the gate refused an opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    /// No legs, too many, an unknown instrument, a non-positive price or quantity.
    Invalid = 0,
    KillSwitch = 1,
    /// Orders with unknown outcomes are being reconciled.
    Reconciling = 2,
    BreakerDailyLoss = 3,
    BreakerConsecutiveFailures = 4,
    BreakerErrorRate = 5,
    BreakerLatency = 6,
    BreakerStaleData = 7,
    /// The oldest book used is older than `max_data_age_ms`.
    StaleData = 8,
    MinProfitMargin = 9,
    Slippage = 10,
    /// An instrument is halted after a failed recovery.
    InstrumentHalted = 11,
    /// An instrument already has an operation in flight.
    InstrumentBusy = 12,
    TooManyInFlight = 13,
    PositionLimit = 14,
    ExposureLimit = 15,
    RateLimited = 16,
    InsufficientBalance = 17,
}

impl RejectReason {
    pub const COUNT: usize = 18;
    pub const ALL: [RejectReason; 18] = [
        RejectReason::Invalid,
        RejectReason::KillSwitch,
        RejectReason::Reconciling,
        RejectReason::BreakerDailyLoss,
        RejectReason::BreakerConsecutiveFailures,
        RejectReason::BreakerErrorRate,
        RejectReason::BreakerLatency,
        RejectReason::BreakerStaleData,
        RejectReason::StaleData,
        RejectReason::MinProfitMargin,
        RejectReason::Slippage,
        RejectReason::InstrumentHalted,
        RejectReason::InstrumentBusy,
        RejectReason::TooManyInFlight,
        RejectReason::PositionLimit,
        RejectReason::ExposureLimit,
        RejectReason::RateLimited,
        RejectReason::InsufficientBalance,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            RejectReason::Invalid => "invalid",
            RejectReason::KillSwitch => "kill_switch",
            RejectReason::Reconciling => "reconciling",
            RejectReason::BreakerDailyLoss => "breaker_daily_loss",
            RejectReason::BreakerConsecutiveFailures => "breaker_consecutive_failures",
            RejectReason::BreakerErrorRate => "breaker_error_rate",
            RejectReason::BreakerLatency => "breaker_latency",
            RejectReason::BreakerStaleData => "breaker_stale_data",
            RejectReason::StaleData => "stale_data",
            RejectReason::MinProfitMargin => "min_profit_margin",
            RejectReason::Slippage => "max_slippage",
            RejectReason::InstrumentHalted => "instrument_halted",
            RejectReason::InstrumentBusy => "instrument_busy",
            RejectReason::TooManyInFlight => "too_many_in_flight",
            RejectReason::PositionLimit => "max_position_size",
            RejectReason::ExposureLimit => "max_total_exposure",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::InsufficientBalance => "insufficient_balance",
        }
    }

    fn breaker(b: Breaker) -> Self {
        match b {
            Breaker::DailyLoss => RejectReason::BreakerDailyLoss,
            Breaker::ConsecutiveFailures => RejectReason::BreakerConsecutiveFailures,
            Breaker::ErrorRate => RejectReason::BreakerErrorRate,
            Breaker::Latency => RejectReason::BreakerLatency,
            Breaker::StaleData => RejectReason::BreakerStaleData,
        }
    }
}

/// The risk gate's counters and visible state, readable from the cold side.
#[derive(Debug, Default)]
pub struct RiskStats {
    pub approved: [Counter; OppKind::COUNT],
    pub rejected: [Counter; RejectReason::COUNT],
    /// 1 while the breaker is open.
    pub breaker_open: [Gauge; Breaker::COUNT],
    pub breaker_trips: [Counter; Breaker::COUNT],
    /// 1 while the kill switch is on.
    pub halted: Gauge,
    pub in_flight: Gauge,
    pub reconciling: Gauge,
    pub last_op_id: Gauge,
    pub daily_pnl: AmountCell,
    /// Net USD exposure summed over assets (without operations in flight).
    pub exposure: AmountCell,
    pub alerts_dropped: Counter,
    pub updates: Counter,
    /// Smoothed order acknowledgement time per venue, in nanoseconds.
    pub order_latency_ns: [Gauge; Venue::COUNT],
}

impl RiskStats {
    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot {
            approved: std::array::from_fn(|i| self.approved[i].get()),
            rejected: std::array::from_fn(|i| self.rejected[i].get()),
            breaker_open: std::array::from_fn(|i| self.breaker_open[i].get() != 0),
            breaker_trips: std::array::from_fn(|i| self.breaker_trips[i].get()),
            halted: self.halted.get() != 0,
            in_flight: self.in_flight.get(),
            reconciling: self.reconciling.get(),
            last_op_id: self.last_op_id.get() as u64,
            daily_pnl: self.daily_pnl.get(),
            exposure: self.exposure.get(),
            alerts_dropped: self.alerts_dropped.get(),
        }
    }
}

/// A copy of [`RiskStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RiskSnapshot {
    pub approved: [u64; OppKind::COUNT],
    pub rejected: [u64; RejectReason::COUNT],
    pub breaker_open: [bool; Breaker::COUNT],
    pub breaker_trips: [u64; Breaker::COUNT],
    pub halted: bool,
    pub in_flight: i64,
    pub reconciling: i64,
    pub last_op_id: u64,
    pub daily_pnl: Amount,
    pub exposure: Amount,
    pub alerts_dropped: u64,
}

impl RiskSnapshot {
    /// Refusals by reason, as (name, count), every reason listed.
    pub fn rejected_by_reason(&self) -> Vec<(&'static str, u64)> {
        RejectReason::ALL.iter().map(|r| (r.name(), self.rejected[*r as usize])).collect()
    }

    pub fn rejected(&self, r: RejectReason) -> u64 {
        self.rejected[r as usize]
    }
}

impl fmt::Display for RiskSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let approved: u64 = self.approved.iter().sum();
        let rejected: u64 = self.rejected.iter().sum();
        writeln!(
            f,
            "risk: {approved} approved ({} spot_spot, {} basis, {} triangular), {rejected} rejected; kill switch {}; in flight {}; daily P&L {} USD; exposure {} USD",
            self.approved[0],
            self.approved[1],
            self.approved[2],
            if self.halted { "ON" } else { "off" },
            self.in_flight,
            self.daily_pnl,
            self.exposure
        )?;
        for (name, n) in self.rejected_by_reason().into_iter().filter(|(_, n)| *n > 0) {
            writeln!(f, "  rejected {name:<30} {n}")?;
        }
        for b in Breaker::ALL {
            writeln!(
                f,
                "  breaker {:<22} {} (tripped {} times)",
                b.name(),
                if self.breaker_open[b.index()] { "OPEN" } else { "closed" },
                self.breaker_trips[b.index()]
            )?;
        }
        Ok(())
    }
}

/// A configuration the gate cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RiskConfigError {
    #[error("risk.max_ops_in_flight must be between 1 and 4096")]
    InFlight,
    #[error("risk.entry_share_pct must be between 1 and 100")]
    Share,
}

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
    /// (balance index, amount)
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
    balance: Vec<Amount>,
    reserved: Vec<Amount>,
    reservations: Vec<Reservation>,
    limiter: Limiter,
    breakers: Breakers,
    /// The approved execution dispatch's ring refused: sent before anything new is read.
    held: Held<Execution>,
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
        let n = instruments.len();
        let assets = instruments.asset_count();
        let mut usd = vec![false; assets];
        for a in config.usd_assets.iter().filter_map(|a| instruments.find_asset(a)) {
            usd[a.index()] = true;
        }
        let now = now_ns(&clock);
        stats.last_op_id.set(last_op_id as i64);
        Ok(Self {
            limiter: Limiter::new(&instruments, &config.rate_limits, config.entry_share_pct, now),
            breakers: Breakers::new(config.breakers),
            max_position: config.max_position_size_usd.amount(),
            max_exposure: config.max_total_exposure_usd.amount(),
            max_daily_loss: config.max_daily_loss_usd.amount(),
            min_margin: config.min_profit_margin_bps.rate(),
            max_slippage: config.max_slippage_bps.rate(),
            max_age_ns: ms_to_ns(config.max_data_age_ms),
            exec_time_ns: ms_to_ns(config.max_execution_time_ms),
            futures_margin: config.futures_margin_bps.rate(),
            usd,
            next_op: last_op_id.saturating_add(1),
            halted: false,
            reconciling: 0,
            inst_halted: vec![false; n],
            inst_busy: vec![0; n],
            position: vec![(Qty::ZERO, Amount::ZERO, Amount::ZERO); n],
            asset_net: vec![Amount::ZERO; assets],
            exposure_total: Amount::ZERO,
            in_flight_notional: Amount::ZERO,
            balance: vec![Amount::ZERO; Venue::COUNT * assets],
            reserved: vec![Amount::ZERO; Venue::COUNT * assets],
            reservations: vec![Reservation::default(); config.max_ops_in_flight],
            held: Held::new(1),
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

    /// The op id the next approved operation gets.
    pub fn next_op_id(&self) -> u64 {
        self.next_op
    }

    /// The amount of `asset` on `venue` reserved by operations in flight.
    pub fn reserved(&self, venue: Venue, asset: AssetId) -> Amount {
        self.balance_index(venue, asset).map_or(Amount::ZERO, |i| self.reserved[i])
    }

    fn balance_index(&self, venue: Venue, asset: AssetId) -> Option<usize> {
        let assets = self.instruments.asset_count();
        (asset.index() < assets).then(|| venue.index() * assets + asset.index())
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
            RiskControl::ResetBreakers => {
                let before = self.breakers.open_flags();
                self.breakers.reset_all();
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
    fn check(&mut self, o: &Opportunity, now: u64) -> Result<[(u32, Amount); MAX_LEGS], RejectReason> {
        let n = o.n_legs as usize;
        if n == 0 || n > MAX_LEGS {
            return Err(RejectReason::Invalid);
        }
        for leg in o.legs() {
            if self.instruments.try_get(leg.inst).is_none()
                || !leg.price.is_positive()
                || !leg.qty.is_positive()
            {
                return Err(RejectReason::Invalid);
            }
        }
        if self.runtime.is_halted() && !self.halted {
            self.set_halted(true);
        }
        if self.halted {
            return Err(RejectReason::KillSwitch);
        }
        if self.reconciling > 0 {
            return Err(RejectReason::Reconciling);
        }
        if let Some(b) = self.breakers.first_open() {
            return Err(RejectReason::breaker(b));
        }
        if now.saturating_sub(o.oldest_ns) > self.max_age_ns {
            let before = self.breakers.open_flags();
            self.breakers.on_stale(now);
            self.sync_breakers(before);
            return Err(RejectReason::StaleData);
        }
        self.breakers.on_fresh();
        if o.edge < self.min_margin || o.expected_profit.0 <= 0 {
            return Err(RejectReason::MinProfitMargin);
        }
        if o.slippage > self.max_slippage {
            return Err(RejectReason::Slippage);
        }
        for leg in o.legs() {
            if self.inst_halted[leg.inst.index()] {
                return Err(RejectReason::InstrumentHalted);
            }
        }
        for leg in o.legs() {
            if self.inst_busy[leg.inst.index()] > 0 {
                return Err(RejectReason::InstrumentBusy);
            }
        }
        if !self.reservations.iter().any(|r| !r.used) {
            return Err(RejectReason::TooManyInFlight);
        }
        // Position after the trade, per instrument.
        for leg in o.legs() {
            let inst = self.instruments.get(leg.inst);
            let value = self.leg_usd(inst, leg.price, leg.qty, o).ok_or(RejectReason::Invalid)?;
            let signed = if leg.side == Side::Buy { value } else { -value };
            let after = self.position[leg.inst.index()].1.saturating_add(signed);
            if after.abs() > self.max_position {
                return Err(RejectReason::PositionLimit);
            }
        }
        let exposure = self.exposure_total.saturating_add(self.in_flight_notional).saturating_add(o.notional);
        if exposure > self.max_exposure {
            return Err(RejectReason::ExposureLimit);
        }
        // Balances needed per (venue, asset), summed over legs.
        let mut need = [(u32::MAX, Amount::ZERO); MAX_LEGS];
        let mut k = 0;
        for leg in o.legs() {
            let inst = self.instruments.get(leg.inst);
            let notional = inst.notional(leg.price, leg.qty, Rounding::Ceil).ok_or(RejectReason::Invalid)?;
            let fee = notional.mul_rate(inst.taker_fee, Rounding::Ceil).ok_or(RejectReason::Invalid)?;
            let (asset, amount) = match (inst.market, leg.side) {
                (Market::Spot, Side::Buy) => (inst.quote, notional.saturating_add(fee)),
                (Market::Spot, Side::Sell) => {
                    (inst.base, inst.base_amount(leg.qty).ok_or(RejectReason::Invalid)?)
                }
                (Market::Futures, _) => (
                    inst.quote,
                    notional
                        .mul_rate(self.futures_margin, Rounding::Ceil)
                        .ok_or(RejectReason::Invalid)?
                        .saturating_add(fee),
                ),
            };
            let idx = self.balance_index(inst.venue, asset).ok_or(RejectReason::Invalid)? as u32;
            if let Some(e) = need[..k].iter_mut().find(|(i, _)| *i == idx) {
                e.1 = e.1.saturating_add(amount);
            } else {
                need[k] = (idx, amount);
                k += 1;
            }
        }
        for &(idx, amount) in &need[..k] {
            let free = self.balance[idx as usize].saturating_sub(self.reserved[idx as usize]);
            if free < amount {
                return Err(RejectReason::InsufficientBalance);
            }
        }
        let mut insts = [InstrumentId::default(); MAX_LEGS];
        for (slot, leg) in insts.iter_mut().zip(o.legs()) {
            *slot = leg.inst;
        }
        if !self.limiter.try_take(&insts[..n], now) {
            return Err(RejectReason::RateLimited);
        }
        Ok(need)
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
        Some(Execution { op, opp: *o, approved_ns: now, deadline_ns: now.saturating_add(self.exec_time_ns) })
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
