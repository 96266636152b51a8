//! Reconciliation while running: every wallet's balance at its venue against the balance
//! the engine's books expect, so that money moving behind the engine's back (a transfer,
//! a fill it never saw, a fee it booked wrong) is seen while trading, not in a report.
//!
//! A *wallet* is one (venue, account, asset): a spot balance per asset, per venue the
//! futures account's cash (in the quote of its perpetuals), and per perpetual the
//! contracts held (the venue's position report against the engine's fills, valued in the
//! base asset the contracts stand for). On each balance report the
//! wallet's **drift** is taken: the venue's balance change since the start less the
//! change the engine booked (its own fills and funding, and the foreign spot fills it was
//! told of). The start is the first report less what the engine had booked by then.
//!
//! Every `reconcile_interval_ms` is a *check* of the wallets reported since the previous
//! one. A report that came while an order of the engine's on that venue was in flight
//! (a fill may be on its way) is shown but not judged. A drift worth more than
//! `reconcile_tolerance_usd` (at the executable price) is published on the
//! [`DriftBoard`] (metrics, dashboard) at once; found at two checks in a row it is a
//! mismatch: counted per venue and alerted (once per episode). One check alone is a
//! fill the engine or the report had not seen yet, which the next report clears. A drift
//! in `reconcile_halt_after_checks` checks in a row, each on a fresh report, halts new entries on the venue (its instruments, through the risk
//! gate's instrument halts; recovery still runs) until an operator acknowledges it
//! (`arb ctl ack-drift VENUE`), which takes the venue's balances as they are. The halt
//! and the acknowledgement are journaled; a restart finds the halt on.
//!
//! Not compared: a wallet whose asset has no USD price yet (waits for one), futures cash
//! and contracts after a foreign futures fill (another client's position shares the
//! venue's arithmetic, so the change it causes is not the engine's to know), and nothing
//! at all behind the paper venue, whose single wallet per venue is not the venues'
//! separate accounts.

use std::sync::Arc;

use crate::cells::{AmountCell, Counter, Gauge};
use crate::journal::Record;
use crate::msg::{AlertKind, Foreign, RiskUpdate};
use crate::types::{Amount, AssetId, Instrument, InstrumentId, Instruments, Market, Qty, Rounding, Venue};

use super::StateKeeper;

/// The account a wallet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Account {
    Spot = 0,
    /// The futures account's cash.
    Futures = 1,
    /// The contracts of one perpetual held in the futures account.
    Contracts = 2,
}

impl Account {
    /// The account as the report and the metrics name it (contracts are in the futures
    /// account).
    pub const fn name(self) -> &'static str {
        match self {
            Account::Spot => "spot",
            Account::Futures | Account::Contracts => "futures",
        }
    }
}

/// A number of contracts as an exact amount (`Qty` mantissas are at the instrument's
/// quantity scale).
fn contracts_amount(inst: &Instrument, q: Qty) -> Amount {
    Amount::from_scaled(i128::from(q.0), inst.qty_scale, Rounding::Exact).unwrap_or(Amount::ZERO)
}

/// One wallet as the cold side reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftLine {
    pub slot: usize,
    pub venue: Venue,
    pub account: Account,
    pub asset: String,
    /// The balance the engine's books expect, and the venue's.
    pub expected: Amount,
    pub actual: Amount,
    /// `actual - expected`.
    pub drift: Amount,
    /// Checks in a row that found it beyond the tolerance.
    pub streak: i64,
}

/// What reconciliation found, for the cold side: written by the state stage only.
#[derive(Debug)]
pub struct DriftBoard {
    /// The table's asset capacity: the stride of the per-(venue, asset) slots.
    assets: usize,
    /// Asset names and futures cash assets are read from the table when a line is
    /// described (an asset or perpetual added while running included).
    instruments: Arc<Instruments>,
    known: Vec<Gauge>,
    expected: Vec<AmountCell>,
    actual: Vec<AmountCell>,
    streak: Vec<Gauge>,
    /// Per venue: 1 while new entries are halted for a drift.
    pub halted: [Gauge; Venue::COUNT],
    /// Per venue: checks that found a wallet beyond the tolerance.
    pub mismatches: [Counter; Venue::COUNT],
}

impl DriftBoard {
    pub fn new(instruments: &Arc<Instruments>) -> Arc<Self> {
        let assets = instruments.asset_capacity();
        let n = Venue::COUNT * assets + Venue::COUNT + instruments.capacity();
        Arc::new(Self {
            assets,
            instruments: Arc::clone(instruments),
            known: (0..n).map(|_| Gauge::default()).collect(),
            expected: (0..n).map(|_| AmountCell::new()).collect(),
            actual: (0..n).map(|_| AmountCell::new()).collect(),
            streak: (0..n).map(|_| Gauge::default()).collect(),
            halted: Default::default(),
            mismatches: Default::default(),
        })
    }

    /// The wallet in `slot`: venue, account and what it holds.
    fn describe(&self, slot: usize) -> Option<(Venue, Account, String)> {
        let spot = Venue::COUNT * self.assets;
        let contracts = spot + Venue::COUNT;
        let name = |a: AssetId| self.instruments.asset_name(a).to_owned();
        if slot < spot {
            let v = Venue::ALL[slot / self.assets.max(1)];
            Some((v, Account::Spot, name(AssetId((slot % self.assets) as u16))))
        } else if slot < contracts {
            let v = *Venue::ALL.get(slot - spot)?;
            Some((v, Account::Futures, name(futures_assets(&self.instruments)[v.index()]?)))
        } else {
            let inst = self.instruments.try_get(InstrumentId(u16::try_from(slot - contracts).ok()?))?;
            Some((inst.venue, Account::Contracts, format!("{} contracts", inst.symbol)))
        }
    }

    /// The wallet in `slot`, once its venue reported it.
    pub fn line(&self, slot: usize) -> Option<DriftLine> {
        if self.known.get(slot)?.get() == 0 {
            return None;
        }
        let (venue, account, asset) = self.describe(slot)?;
        let (expected, actual) = (self.expected[slot].get(), self.actual[slot].get());
        Some(DriftLine {
            slot,
            venue,
            account,
            asset,
            expected,
            actual,
            drift: actual.saturating_sub(expected),
            streak: self.streak[slot].get(),
        })
    }

    /// Every wallet the venues reported.
    pub fn lines(&self) -> Vec<DriftLine> {
        (0..self.known.len()).filter_map(|k| self.line(k)).collect()
    }

    pub fn is_halted(&self, venue: Venue) -> bool {
        self.halted[venue.index()].get() != 0
    }

    pub fn mismatches(&self, venue: Venue) -> u64 {
        self.mismatches[venue.index()].get()
    }
}

/// Per venue: the asset its futures cash is in (the quote of its first perpetual).
fn futures_assets(instruments: &Instruments) -> [Option<AssetId>; Venue::COUNT] {
    let mut out = [None; Venue::COUNT];
    for v in Venue::ALL {
        out[v.index()] =
            instruments.iter().find(|i| i.venue == v && i.market == Market::Futures).map(|i| i.quote);
    }
    out
}

/// One wallet's reconciliation state.
#[derive(Clone, Copy, Debug, Default)]
struct Wallet {
    /// The venue's balance at the start, once reported.
    start: Option<Amount>,
    /// Changes the engine was told of but did not book (foreign spot fills).
    foreign: Amount,
    expected: Amount,
    actual: Amount,
    /// A report came since the last check.
    fresh: bool,
    streak: u32,
    /// Not comparable any more (futures cash after a foreign futures fill).
    opaque: bool,
}

/// The state stage's reconciliation: wallets, venue halts, the board it publishes.
#[derive(Debug)]
pub(super) struct Reconciler {
    assets: usize,
    /// Spot wallets per venue and asset, then the futures cash per venue, then the
    /// contracts per instrument.
    wallets: Vec<Wallet>,
    instruments: Arc<Instruments>,
    futures_asset: [Option<AssetId>; Venue::COUNT],
    /// Per venue: new entries halted until an operator acknowledges.
    pub(super) halted: [bool; Venue::COUNT],
    /// Whether balances are compared at all (not behind the paper venue).
    pub(super) enabled: bool,
    board: Option<Arc<DriftBoard>>,
}

impl Reconciler {
    pub(super) fn new(instruments: &Arc<Instruments>) -> Self {
        // Strided by the asset capacity: an asset added while running has its wallets.
        let assets = instruments.asset_capacity();
        Self {
            assets,
            wallets: vec![Wallet::default(); Venue::COUNT * assets + Venue::COUNT + instruments.capacity()],
            instruments: Arc::clone(instruments),
            futures_asset: futures_assets(instruments),
            halted: [false; Venue::COUNT],
            enabled: true,
            board: None,
        }
    }

    /// Takes an instrument added while running: a venue's first perpetual names the
    /// asset its futures cash is in (cold).
    pub(super) fn on_listed(&mut self, instruments: &Instruments) {
        let now = futures_assets(instruments);
        for (mine, found) in self.futures_asset.iter_mut().zip(now) {
            if mine.is_none() {
                *mine = found;
            }
        }
    }

    pub(super) fn set_board(&mut self, board: Arc<DriftBoard>) {
        for v in Venue::ALL {
            board.halted[v.index()].set(i64::from(self.halted[v.index()]));
        }
        self.board = Some(board);
    }

    fn spot_slot(&self, venue: Venue, asset: AssetId) -> Option<usize> {
        (asset.index() < self.assets).then(|| venue.index() * self.assets + asset.index())
    }

    fn futures_slot(&self, venue: Venue) -> usize {
        Venue::COUNT * self.assets + venue.index()
    }

    fn contracts_slot(&self, inst: InstrumentId) -> usize {
        Venue::COUNT * self.assets + Venue::COUNT + inst.index()
    }

    /// The perpetual whose contracts a slot holds.
    fn contracts_of(&self, slot: usize) -> Option<&Instrument> {
        let first = Venue::COUNT * self.assets + Venue::COUNT;
        let k = slot.checked_sub(first)?;
        self.instruments.try_get(InstrumentId(u16::try_from(k).ok()?))
    }

    fn venue_of(&self, slot: usize) -> Venue {
        let spot = Venue::COUNT * self.assets;
        if slot < spot {
            Venue::ALL[slot / self.assets.max(1)]
        } else if let Some(inst) = self.contracts_of(slot) {
            inst.venue
        } else {
            Venue::ALL[(slot - spot).min(Venue::COUNT - 1)]
        }
    }

    fn account_of(&self, slot: usize) -> Account {
        let spot = Venue::COUNT * self.assets;
        if slot < spot {
            Account::Spot
        } else if slot < spot + Venue::COUNT {
            Account::Futures
        } else {
            Account::Contracts
        }
    }

    /// The asset a wallet is counted in (the base asset for contracts).
    fn asset_of(&self, slot: usize) -> Option<AssetId> {
        match self.account_of(slot) {
            Account::Spot => Some(AssetId((slot % self.assets) as u16)),
            Account::Futures => self.futures_asset[slot - Venue::COUNT * self.assets],
            Account::Contracts => self.contracts_of(slot).map(|i| i.base),
        }
    }

    /// A wallet's drift in units of [`Reconciler::asset_of`].
    fn drift_units(&self, slot: usize, drift: Amount) -> Option<Amount> {
        match self.contracts_of(slot) {
            Some(inst) => {
                let q = drift.to_scaled(inst.qty_scale, Rounding::Ceil)?;
                inst.base_amount(Qty(i64::try_from(q).ok()?))
            }
            None => Some(drift),
        }
    }

    /// A report of a wallet's balance `actual`, while the engine has booked `booked`
    /// since the start; `calm` when no order of the engine's on the venue was in flight
    /// (otherwise the report is shown, not judged: a fill may be on its way).
    fn report(&mut self, slot: usize, actual: Amount, booked: Amount, calm: bool) {
        let Some(w) = self.wallets.get_mut(slot) else { return };
        let booked = booked.saturating_add(w.foreign);
        // The venue's balance at the start is only known from a calm report: one taken
        // with a fill on its way would count that fill twice.
        let Some(start) = w.start.or_else(|| calm.then(|| actual.saturating_sub(booked))) else { return };
        w.start = Some(start);
        w.expected = start.saturating_add(booked);
        w.actual = actual;
        w.fresh = calm;
        if let Some(b) = &self.board {
            b.expected[slot].set(w.expected);
            b.actual[slot].set(w.actual);
            b.known[slot].set(i64::from(!w.opaque));
        }
    }

    fn publish_streak(&self, slot: usize) {
        if let Some(b) = &self.board {
            b.streak[slot].set(i64::from(self.wallets[slot].streak));
        }
    }
}

impl StateKeeper {
    /// Publishes reconciliation on `board` (metrics, dashboard, alert details).
    pub fn with_drift_board(mut self, board: Arc<DriftBoard>) -> Self {
        self.drift.set_board(board);
        self
    }

    /// Turns the comparison of balances off (behind the paper venue, whose wallets are
    /// not the venues' separate accounts).
    pub fn without_drift_check(mut self) -> Self {
        self.drift.enabled = false;
        self
    }

    /// Whether new entries on `venue` are halted for a drift.
    pub fn is_drift_halted(&self, venue: Venue) -> bool {
        self.drift.halted[venue.index()]
    }

    /// A spot balance report (`total` = available + locked).
    pub(super) fn drift_spot_report(&mut self, venue: Venue, asset: AssetId, total: Amount) {
        if !self.drift.enabled {
            return;
        }
        if let Some(slot) = self.drift.spot_slot(venue, asset) {
            let booked = self.acct.wallet(venue, asset);
            let calm = self.is_calm(venue);
            self.drift.report(slot, total, booked, calm);
        }
    }

    /// A futures cash report.
    pub(super) fn drift_futures_report(&mut self, venue: Venue, balance: Amount) {
        // A venue's first perpetual added while running sets its asset (`on_listed`).
        if !self.drift.enabled || self.drift.futures_asset[venue.index()].is_none() {
            return;
        }
        let slot = self.drift.futures_slot(venue);
        let booked = self.acct.futures_cash(venue);
        let calm = self.is_calm(venue);
        self.drift.report(slot, balance, booked, calm);
    }

    /// A perpetual's position report (contracts, signed).
    pub(super) fn drift_contracts_report(&mut self, inst: InstrumentId, contracts: Qty) {
        if !self.drift.enabled {
            return;
        }
        let Some(i) = self.instruments.try_get(inst).filter(|i| i.market == Market::Futures) else { return };
        let (venue, actual) = (i.venue, contracts_amount(i, contracts));
        let booked = contracts_amount(i, self.acct.contracts(i));
        let slot = self.drift.contracts_slot(inst);
        let calm = self.is_calm(venue);
        self.drift.report(slot, actual, booked, calm);
    }

    /// No order of the engine's on `venue` has an outcome or a fill still to come.
    fn is_calm(&self, venue: Venue) -> bool {
        !self.ops.iter().any(|o| {
            o.is_open()
                && o.orders().iter().any(|x| !x.is_settled() && self.instruments.get(x.inst).venue == venue)
        })
    }

    /// A foreign fill moved the venue's balances without the engine booking it: a spot
    /// fill is added to what the wallets expect; a futures fill makes the venue's futures
    /// cash incomparable for the rest of the run.
    pub(super) fn drift_foreign(&mut self, f: &Foreign) {
        if !f.fill || !self.drift.enabled {
            return;
        }
        let Some(inst) = self.instruments.try_get(f.inst) else { return };
        let d = &mut self.drift;
        if inst.market == Market::Futures {
            for slot in [d.futures_slot(f.venue), d.contracts_slot(inst.id)] {
                if let Some(w) = d.wallets.get_mut(slot) {
                    w.opaque = true;
                }
                if let Some(b) = &d.board {
                    if let Some(k) = b.known.get(slot) {
                        k.set(0);
                    }
                }
            }
            return;
        }
        let base = inst.base_amount(f.qty).unwrap_or(Amount::ZERO);
        let value = inst.notional(f.price, f.qty, Rounding::Floor).unwrap_or(Amount::ZERO);
        let sign = i128::from(f.side.sign());
        let moves = [
            (inst.base, Amount(base.0.saturating_mul(sign))),
            (inst.quote, Amount(value.0.saturating_mul(-sign))),
            (f.fee_asset, Amount::ZERO.saturating_sub(f.fee)),
        ];
        for (asset, x) in moves {
            if let Some(slot) = d.spot_slot(f.venue, asset) {
                let w = &mut d.wallets[slot];
                w.foreign = w.foreign.saturating_add(x);
            }
        }
    }

    /// One check of every wallet reported since the last one; halts a venue whose drift
    /// persisted.
    pub(super) fn check_drift(&mut self) {
        if !self.drift.enabled {
            return;
        }
        let tolerance = self.cfg.reconcile_tolerance_usd.amount();
        let after = self.cfg.reconcile_halt_after_checks.max(1);
        for slot in 0..self.drift.wallets.len() {
            let w = self.drift.wallets[slot];
            if !w.fresh || w.opaque || w.start.is_none() {
                continue;
            }
            let Some(asset) = self.drift.asset_of(slot) else { continue };
            let drift = w.actual.saturating_sub(w.expected);
            // Valued at the price it would trade at: a surplus sells at the bid.
            let Some(rate) = self.val.exec_usd(asset, drift.0 > 0) else { continue };
            self.drift.wallets[slot].fresh = false;
            let units = self.drift.drift_units(slot, drift.abs()).unwrap_or(Amount(i128::MAX));
            let usd = units.mul(rate, Rounding::Ceil).unwrap_or(Amount(i128::MAX));
            let venue = self.drift.venue_of(slot);
            if usd <= tolerance {
                if w.streak != 0 {
                    self.drift.wallets[slot].streak = 0;
                    self.drift.publish_streak(slot);
                }
                continue;
            }
            let streak = w.streak.saturating_add(1);
            self.drift.wallets[slot].streak = streak;
            self.drift.publish_streak(slot);
            // One check is a fill the engine or the report had not seen yet; two in a
            // row is a mismatch (one is enough when one check halts).
            let confirm = 2.min(after);
            if streak < confirm {
                continue;
            }
            self.stats.drift_mismatches.inc();
            if let Some(b) = &self.drift.board {
                b.mismatches[venue.index()].inc();
            }
            if streak == confirm {
                self.alert(AlertKind::BalanceDrift, 0, slot as i64);
            }
            if streak >= after && !self.drift.halted[venue.index()] {
                let account = self.drift.account_of(slot);
                // For contracts, the record names the perpetual.
                let asset = match self.drift.contracts_of(slot) {
                    Some(inst) => AssetId(inst.id.0),
                    None => asset,
                };
                self.journal(Record::DriftHalt {
                    venue,
                    account: account as u8,
                    asset,
                    expected: w.expected,
                    actual: w.actual,
                    wall_ms: (self.wall_ms)(),
                });
                self.drift_halt(venue);
                self.alert(AlertKind::DriftHalted, 0, slot as i64);
            }
        }
    }

    /// Halts new entries on `venue`'s instruments (those no operation holds already).
    pub(super) fn drift_halt(&mut self, venue: Venue) {
        if self.drift.halted[venue.index()] {
            return;
        }
        self.drift.halted[venue.index()] = true;
        self.stats.drift_halted.set(self.drift.halted.iter().filter(|h| **h).count() as i64);
        if let Some(b) = &self.drift.board {
            b.halted[venue.index()].set(1);
        }
        self.tell_venue_halt(venue, true);
    }

    /// Tells the risk gate about every instrument of `venue` that no operation halts.
    pub(super) fn tell_venue_halt(&mut self, venue: Venue, halted: bool) {
        for k in 0..self.instruments.len() {
            let inst = self.instruments.get(InstrumentId(k as u16));
            if inst.venue == venue && self.halt_refs[k] == 0 {
                self.tell_risk(RiskUpdate::InstrumentHalt { inst: inst.id, halted });
            }
        }
    }

    /// An operator acknowledges `venue`'s drift (every venue's when `None`): the venue's
    /// balances are taken as they are (the drift becomes part of the start), and a drift
    /// halt is lifted and journaled.
    pub(super) fn ack_drift(&mut self, venue: Option<Venue>) {
        for v in Venue::ALL {
            if venue.is_some_and(|x| x != v) {
                continue;
            }
            for slot in 0..self.drift.wallets.len() {
                if self.drift.venue_of(slot) != v {
                    continue;
                }
                let w = &mut self.drift.wallets[slot];
                let drift = w.actual.saturating_sub(w.expected);
                if let Some(s) = w.start.as_mut() {
                    *s = s.saturating_add(drift);
                }
                w.expected = w.actual;
                w.streak = 0;
                if let Some(b) = &self.drift.board {
                    b.expected[slot].set(w.expected);
                    b.streak[slot].set(0);
                }
            }
            if self.drift.halted[v.index()] {
                self.drift.halted[v.index()] = false;
                self.stats.drift_halted.set(self.drift.halted.iter().filter(|h| **h).count() as i64);
                if let Some(b) = &self.drift.board {
                    b.halted[v.index()].set(0);
                }
                self.journal(Record::DriftAck { venue: v, wall_ms: (self.wall_ms)() });
                self.tell_venue_halt(v, false);
                self.alert(AlertKind::DriftAcknowledged, 0, v.index() as i64);
            }
        }
    }
}
