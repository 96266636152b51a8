//! The money model of the state stage: what the engine holds and what it earned, in the
//! venues' own terms, so that its figures can be checked against the venues' accounts.
//!
//! - **Wallets.** Every fill changes the spot wallet of its venue per asset (base, quote
//!   and fee, each in the asset actually charged: a fee in the base asset changes the
//!   position), or, for a perpetual, the contracts held and the venue's futures cash
//!   (realized P&L less fees, plus funding). Changes are kept since the journal began
//!   (a restart replays its valued fills and funding, [`Accounting::replay`]), so a
//!   wallet's end is its start plus them.
//! - **Lots.** Realized P&L comes only from closed quantity. Each non-USD asset (pooled
//!   over venues: BTC bought on one venue and sold on another is closed) and each
//!   perpetual is an average-cost lot: adding to it adds cost, reducing it releases its
//!   share of the cost and realizes the difference. A perpetual's lot follows the venue's
//!   own arithmetic (signed size in contracts, signed cost basis, the closed part's share
//!   truncated), so the futures cash equals the venue's. A spot-futures entry (long spot,
//!   short perpetual) therefore realizes nothing until it is closed.
//! - **Fees** are booked per asset in the asset charged, and in USD at the fill's own
//!   price; **funding** as the venues book it.
//! - **Unrealized** P&L marks every open lot at its executable price: the bid for a long,
//!   the ask for a short.
//!
//! Equity change = realized + unrealized - fees + funding; the same number is the sum of
//! the wallet changes valued at the executable prices.
//!
//! Everything is fixed-size after construction (vectors sized by the instrument table):
//! no allocation when a fill is applied.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cells::AmountCell;
use crate::journal::FillApplied;
use crate::types::{Amount, AssetId, Instrument, Instruments, Market, Qty, Rounding, Side, Venue};

/// The money figures as the state stage last published them, for the cold side (the
/// report, the dashboard, /metrics): every cell written by the state stage only.
#[derive(Debug)]
pub struct MoneyBoard {
    assets: usize,
    /// Per (venue, asset): the spot wallet's change since the start.
    wallet: Vec<AmountCell>,
    /// Per venue: the futures wallet's cash change.
    futures_cash: Vec<AmountCell>,
    /// Per instrument: contracts held (perpetuals), as an amount of the quantity unit.
    contracts: Vec<AmountCell>,
    /// Per asset: fees charged in it.
    fees: Vec<AmountCell>,
    /// Per (venue, asset), then per venue for the futures cash: the balance at the start
    /// as the engine first learned it (the first report, less what the engine's own fills
    /// had changed by then), and whether it is known yet.
    spot_start: Vec<(AmountCell, AtomicBool)>,
    futures_start: Vec<(AmountCell, AtomicBool)>,
    pub realized_usd: AmountCell,
    pub unrealized_usd: AmountCell,
    pub fees_usd: AmountCell,
    pub funding_usd: AmountCell,
    pub equity_change_usd: AmountCell,
}

impl MoneyBoard {
    pub fn new(instruments: &Instruments) -> Arc<Self> {
        // By the asset capacity: an asset added while running has its cells.
        let assets = instruments.asset_capacity();
        let cells = |n: usize| (0..n).map(|_| AmountCell::new()).collect::<Vec<_>>();
        Arc::new(Self {
            assets,
            wallet: cells(Venue::COUNT * assets),
            futures_cash: cells(Venue::COUNT),
            contracts: cells(instruments.capacity()),
            fees: cells(assets),
            spot_start: (0..Venue::COUNT * assets)
                .map(|_| (AmountCell::new(), AtomicBool::new(false)))
                .collect(),
            futures_start: (0..Venue::COUNT).map(|_| (AmountCell::new(), AtomicBool::new(false))).collect(),
            realized_usd: AmountCell::new(),
            unrealized_usd: AmountCell::new(),
            fees_usd: AmountCell::new(),
            funding_usd: AmountCell::new(),
            equity_change_usd: AmountCell::new(),
        })
    }

    /// The change of a spot wallet since the start.
    pub fn wallet(&self, venue: Venue, asset: AssetId) -> Amount {
        self.wallet.get(venue.index() * self.assets + asset.index()).map_or(Amount::ZERO, AmountCell::get)
    }

    /// The change of a venue's futures wallet cash since the start.
    pub fn futures_cash(&self, venue: Venue) -> Amount {
        self.futures_cash.get(venue.index()).map_or(Amount::ZERO, AmountCell::get)
    }

    /// The contracts of a perpetual held (signed, in its quantity unit's mantissa).
    pub fn contracts(&self, inst: &Instrument) -> Qty {
        Qty(self.contracts.get(inst.id.index()).map_or(0, |c| c.get().0 as i64))
    }

    /// Fees charged in `asset`.
    pub fn fees(&self, asset: AssetId) -> Amount {
        self.fees.get(asset.index()).map_or(Amount::ZERO, AmountCell::get)
    }

    /// The spot balance at the start, once a report made it known.
    pub fn spot_start(&self, venue: Venue, asset: AssetId) -> Option<Amount> {
        let (c, seen) = self.spot_start.get(venue.index() * self.assets + asset.index())?;
        seen.load(Ordering::Acquire).then(|| c.get())
    }

    /// The futures wallet's cash at the start, once a report made it known.
    pub fn futures_start(&self, venue: Venue) -> Option<Amount> {
        let (c, seen) = self.futures_start.get(venue.index())?;
        seen.load(Ordering::Acquire).then(|| c.get())
    }

    /// Takes a spot balance report (`total` = available + locked): the first one fixes
    /// the start.
    pub(super) fn report_spot(&self, acc: &Accounting, venue: Venue, asset: AssetId, total: Amount) {
        if let Some((c, seen)) = self.spot_start.get(venue.index() * self.assets + asset.index()) {
            if !seen.load(Ordering::Relaxed) {
                c.set(total.saturating_sub(acc.wallet(venue, asset)));
                seen.store(true, Ordering::Release);
            }
        }
    }

    /// Takes a futures cash report: the first one fixes the start.
    pub(super) fn report_futures(&self, acc: &Accounting, venue: Venue, balance: Amount) {
        if let Some((c, seen)) = self.futures_start.get(venue.index()) {
            if !seen.load(Ordering::Relaxed) {
                c.set(balance.saturating_sub(acc.futures_cash(venue)));
                seen.store(true, Ordering::Release);
            }
        }
    }

    /// Publishes the books of `acc` touched by a fill of `inst` (and the totals).
    pub(super) fn publish_fill(&self, acc: &Accounting, inst: &Instrument, fee_asset: AssetId) {
        for asset in [inst.base, inst.quote] {
            if let Some(c) = self.wallet.get(inst.venue.index() * self.assets + asset.index()) {
                c.set(acc.wallet(inst.venue, asset));
            }
        }
        if let Some(c) = self.wallet.get(inst.venue.index() * self.assets + fee_asset.index()) {
            c.set(acc.wallet(inst.venue, fee_asset));
        }
        if let Some(c) = self.contracts.get(inst.id.index()) {
            c.set(Amount(i128::from(acc.contracts(inst).0)));
        }
        if let Some(c) = self.fees.get(fee_asset.index()) {
            c.set(acc.fees(fee_asset));
        }
        self.publish_totals(acc, inst.venue);
    }

    /// Publishes every book of `acc` (after a restart rebuilt them from the journal).
    pub(super) fn publish_all(&self, acc: &Accounting, instruments: &Instruments) {
        for venue in Venue::ALL {
            for a in 0..self.assets {
                let asset = AssetId(a as u16);
                if let Some(c) = self.wallet.get(venue.index() * self.assets + a) {
                    c.set(acc.wallet(venue, asset));
                }
            }
            self.publish_totals(acc, venue);
        }
        for a in 0..self.assets {
            if let Some(c) = self.fees.get(a) {
                c.set(acc.fees(AssetId(a as u16)));
            }
        }
        for inst in instruments.iter().filter(|i| i.market == Market::Futures) {
            if let Some(c) = self.contracts.get(inst.id.index()) {
                c.set(Amount(i128::from(acc.contracts(inst).0)));
            }
        }
    }

    /// Publishes the totals and one venue's futures cash.
    pub(super) fn publish_totals(&self, acc: &Accounting, venue: Venue) {
        if let Some(c) = self.futures_cash.get(venue.index()) {
            c.set(acc.futures_cash(venue));
        }
        self.realized_usd.set(acc.realized_usd);
        self.fees_usd.set(acc.fees_usd);
        self.funding_usd.set(acc.funding_usd);
    }

    /// Publishes the unrealized P&L and the equity change it implies.
    pub(super) fn publish_marks(&self, acc: &Accounting, unrealized: Amount) {
        self.unrealized_usd.set(unrealized);
        self.equity_change_usd.set(acc.equity_change(unrealized));
    }
}

/// `a * b / c` truncated toward zero for `0 <= b <= c`, `c > 0` (the share `b/c` of
/// `a`), exact for any magnitudes: the product is formed in 256 bits.
fn share(a: i128, b: i128, c: i128) -> i128 {
    // b <= c: the quotient is never larger than `a`, only the product needs the width.
    crate::types::mul_div(a, b, c).unwrap_or(0)
}

/// An average-cost lot: a signed quantity (in some exact unit) and its signed cost
/// (positive for a long), in USD for spot assets, in the quote for perpetuals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lot {
    pub qty: i128,
    pub cost: Amount,
}

impl Lot {
    /// Applies a change of `d` (positive bought) worth `value` (what was paid or
    /// received, positive); returns the P&L it realized (zero when it opens or adds).
    pub fn apply(&mut self, d: i128, value: Amount) -> Amount {
        if d == 0 {
            return Amount::ZERO;
        }
        if self.qty == 0 || self.qty.signum() == d.signum() {
            self.qty = self.qty.saturating_add(d);
            self.cost = if d > 0 { self.cost.saturating_add(value) } else { self.cost.saturating_sub(value) };
            return Amount::ZERO;
        }
        let s = self.qty.signum();
        let (d_abs, held) = (d.saturating_abs(), self.qty.saturating_abs());
        let closing = d_abs.min(held);
        let close_value = Amount(share(value.0, closing, d_abs));
        let released = if closing == held { self.cost } else { Amount(share(self.cost.0, closing, held)) };
        let pnl = if s > 0 {
            close_value.saturating_sub(released)
        } else {
            Amount::ZERO.saturating_sub(close_value).saturating_sub(released)
        };
        self.cost = self.cost.saturating_sub(released);
        self.qty = self.qty.saturating_sub(closing * s);
        let opening = d_abs - closing;
        if opening > 0 {
            let open_value = value.saturating_sub(close_value);
            self.qty = opening * d.signum();
            self.cost = if d > 0 { open_value } else { Amount::ZERO.saturating_sub(open_value) };
        }
        pnl
    }
}

/// What one fill did to the money figures, in USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FillMoney {
    pub realized: Amount,
    pub fees: Amount,
}

/// A fill as the accounting needs it.
#[derive(Clone, Copy, Debug)]
pub struct FillInput {
    pub side: Side,
    pub qty: Qty,
    /// Its value in the instrument's quote (rounded down, as the venues do).
    pub value: Amount,
    /// The fee in the asset charged.
    pub fee: Amount,
    pub fee_asset: AssetId,
    /// USD per unit of the instrument's quote (1 for a USD quote).
    pub quote_usd: Amount,
    /// USD per unit of the fee asset when it is neither the base nor the quote.
    pub other_fee_usd: Amount,
}

/// The engine's books of money since it started.
#[derive(Clone, Debug)]
pub struct Accounting {
    assets: usize,
    usd: Vec<bool>,
    /// Per asset (pooled over venues): the spot lot in 1e-18 units, cost in USD.
    spot: Vec<Lot>,
    /// Per instrument (perpetuals only): contracts in the quantity unit, cost in quote.
    futures: Vec<Lot>,
    /// Per (venue, asset): the spot wallet's change.
    wallet: Vec<Amount>,
    /// Per venue: the futures wallet's cash change (realized less fees plus funding).
    futures_cash: [Amount; Venue::COUNT],
    /// Per asset: fees charged in it.
    fees: Vec<Amount>,
    /// Per instrument: fees charged in its base asset (base units), which the position
    /// in the venue's wallet lacks.
    base_fees: Vec<Amount>,
    /// Per instrument: fees charged in its quote asset (quote units).
    quote_fees: Vec<Amount>,
    pub realized_usd: Amount,
    pub fees_usd: Amount,
    pub funding_usd: Amount,
}

impl Accounting {
    pub fn new(instruments: &Instruments, usd: &[bool]) -> Self {
        // By the asset capacity: an asset added while running has its wallet and lot.
        let assets = instruments.asset_capacity();
        Self {
            assets,
            usd: (0..assets).map(|a| usd.get(a).copied().unwrap_or(false)).collect(),
            spot: vec![Lot::default(); assets],
            futures: vec![Lot::default(); instruments.capacity()],
            wallet: vec![Amount::ZERO; Venue::COUNT * assets],
            futures_cash: [Amount::ZERO; Venue::COUNT],
            fees: vec![Amount::ZERO; assets],
            base_fees: vec![Amount::ZERO; instruments.capacity()],
            quote_fees: vec![Amount::ZERO; instruments.capacity()],
            realized_usd: Amount::ZERO,
            fees_usd: Amount::ZERO,
            funding_usd: Amount::ZERO,
        }
    }

    /// Takes the USD flags again (an asset added while running; cold).
    pub fn set_usd(&mut self, usd: &[bool]) {
        for (mine, &u) in self.usd.iter_mut().zip(usd) {
            *mine = u;
        }
    }

    fn wallet_mut(&mut self, venue: Venue, asset: AssetId) -> Option<&mut Amount> {
        (asset.index() < self.assets).then(|| &mut self.wallet[venue.index() * self.assets + asset.index()])
    }

    /// A change of a spot asset worth `usd`; returns the realized part.
    fn spot_flow(&mut self, venue: Venue, asset: AssetId, d: Amount, usd: Amount) -> Amount {
        if let Some(w) = self.wallet_mut(venue, asset) {
            *w = w.saturating_add(d);
        }
        if self.usd.get(asset.index()).copied().unwrap_or(true) {
            return Amount::ZERO;
        }
        self.spot.get_mut(asset.index()).map_or(Amount::ZERO, |l| l.apply(d.0, usd))
    }

    /// Applies one fill of `inst`.
    pub fn apply(&mut self, inst: &Instrument, f: &FillInput) -> FillMoney {
        let usd = |a: Amount| a.mul(f.quote_usd, Rounding::Floor).unwrap_or(Amount::ZERO);
        let value_usd = usd(f.value);
        let sign = f.side.sign() as i128;
        let fee_usd = if f.fee_asset == inst.quote {
            usd(f.fee)
        } else if f.fee_asset == inst.base && f.qty.is_positive() {
            // At the fill's own price: value per base unit.
            let base = inst.base_amount(f.qty).unwrap_or(Amount::ONE);
            usd(f
                .fee
                .mul(f.value, Rounding::Floor)
                .and_then(|x| x.div(base, Rounding::Floor))
                .unwrap_or(Amount::ZERO))
        } else {
            f.fee.mul(f.other_fee_usd, Rounding::Floor).unwrap_or(Amount::ZERO)
        };
        if let Some(x) = self.fees.get_mut(f.fee_asset.index()) {
            *x = x.saturating_add(f.fee);
        }
        let by_inst = if f.fee_asset == inst.base {
            self.base_fees.get_mut(inst.id.index())
        } else if f.fee_asset == inst.quote {
            self.quote_fees.get_mut(inst.id.index())
        } else {
            None
        };
        if let Some(x) = by_inst {
            *x = x.saturating_add(f.fee);
        }
        let mut realized = Amount::ZERO;
        match inst.market {
            Market::Futures => {
                let d = sign * i128::from(f.qty.0);
                let pnl = self.futures.get_mut(inst.id.index()).map_or(Amount::ZERO, |l| l.apply(d, f.value));
                let cash = &mut self.futures_cash[inst.venue.index()];
                *cash = cash.saturating_add(pnl);
                realized = realized.saturating_add(usd(pnl));
                if f.fee_asset == inst.quote {
                    *cash = cash.saturating_sub(f.fee);
                } else {
                    let r =
                        self.spot_flow(inst.venue, f.fee_asset, Amount::ZERO.saturating_sub(f.fee), fee_usd);
                    realized = realized.saturating_add(r);
                }
            }
            Market::Spot => {
                let base = inst.base_amount(f.qty).unwrap_or(Amount::ZERO);
                let (b, q) = (Amount(sign.saturating_mul(base.0)), Amount((-sign).saturating_mul(f.value.0)));
                realized = realized.saturating_add(self.spot_flow(inst.venue, inst.base, b, value_usd));
                realized = realized.saturating_add(self.spot_flow(inst.venue, inst.quote, q, value_usd));
                // The fee is a disposal of what it was charged in, booked as a fee.
                let fee = Amount::ZERO.saturating_sub(f.fee);
                realized = realized.saturating_add(self.spot_flow(inst.venue, f.fee_asset, fee, fee_usd));
            }
        }
        self.realized_usd = self.realized_usd.saturating_add(realized);
        self.fees_usd = self.fees_usd.saturating_add(fee_usd);
        FillMoney { realized, fees: fee_usd }
    }

    /// Equity change since the start given the unrealized P&L: realized + unrealized
    /// - fees + funding.
    pub fn equity_change(&self, unrealized: Amount) -> Amount {
        self.realized_usd
            .saturating_add(unrealized)
            .saturating_sub(self.fees_usd)
            .saturating_add(self.funding_usd)
    }

    /// Rebuilds the books from the journal (a restart): every valued fill in journal
    /// order, through the same arithmetic as when it happened, and each venue's funding.
    /// Fills of instruments not in the table are skipped. Returns what each operation's
    /// fills realized and paid, by operation id, as the fills booked it when they came
    /// (an operation still open takes it back).
    pub fn replay(
        &mut self,
        instruments: &Instruments,
        fills: &[FillApplied],
        funding: &[Amount; Venue::COUNT],
    ) -> BTreeMap<u64, FillMoney> {
        let mut by_op: BTreeMap<u64, FillMoney> = BTreeMap::new();
        for f in fills {
            let (Some(v), Some(inst)) = (f.valuation, instruments.try_get(f.inst)) else { continue };
            let input = FillInput {
                side: f.side,
                qty: f.qty,
                value: f.value,
                fee: v.fee_native,
                fee_asset: v.fee_asset,
                quote_usd: v.quote_usd,
                other_fee_usd: v.other_fee_usd,
            };
            let m = self.apply(inst, &input);
            let op = by_op.entry(f.client.op).or_default();
            op.realized = op.realized.saturating_add(m.realized);
            op.fees = op.fees.saturating_add(m.fees);
        }
        for venue in Venue::ALL {
            if !funding[venue.index()].is_zero() {
                self.apply_funding(venue, funding[venue.index()]);
            }
        }
        by_op
    }

    /// Funding a venue booked on its futures wallet (positive received), in USD.
    pub fn apply_funding(&mut self, venue: Venue, amount: Amount) {
        let cash = &mut self.futures_cash[venue.index()];
        *cash = cash.saturating_add(amount);
        self.funding_usd = self.funding_usd.saturating_add(amount);
    }

    /// Unrealized P&L at executable prices: `price(lot, long)` gives USD per unit of a
    /// spot asset (`Ok(asset)`) or quote per base unit of a perpetual (`Err(inst)`), at
    /// the bid for a long and the ask for a short; lots without a price count nothing.
    pub fn unrealized(
        &self,
        instruments: &Instruments,
        mut spot_price: impl FnMut(AssetId, bool) -> Option<Amount>,
        mut futures_price: impl FnMut(&Instrument, bool) -> Option<Amount>,
    ) -> Amount {
        let mut u = Amount::ZERO;
        for (a, lot) in self.spot.iter().enumerate() {
            if lot.qty == 0 {
                continue;
            }
            if let Some(p) = spot_price(AssetId(a as u16), lot.qty > 0) {
                let v = Amount(lot.qty).mul(p, Rounding::Floor).unwrap_or(Amount::ZERO);
                u = u.saturating_add(v.saturating_sub(lot.cost));
            }
        }
        for inst in instruments.iter().filter(|i| i.market == Market::Futures) {
            let lot = self.futures[inst.id.index()];
            if lot.qty == 0 {
                continue;
            }
            let Some(p) = futures_price(inst, lot.qty > 0) else { continue };
            let q = i64::try_from(lot.qty.abs()).unwrap_or(i64::MAX);
            let base = inst.base_amount(Qty(q)).unwrap_or(Amount::ZERO);
            let value = base.mul(p, Rounding::Floor).unwrap_or(Amount::ZERO);
            let v = if lot.qty > 0 { value } else { Amount::ZERO.saturating_sub(value) };
            u = u.saturating_add(v.saturating_sub(lot.cost));
        }
        u
    }

    /// The change of a spot wallet since the start.
    pub fn wallet(&self, venue: Venue, asset: AssetId) -> Amount {
        if asset.index() >= self.assets {
            return Amount::ZERO;
        }
        self.wallet[venue.index() * self.assets + asset.index()]
    }

    /// The change of a venue's futures wallet cash since the start.
    pub fn futures_cash(&self, venue: Venue) -> Amount {
        self.futures_cash[venue.index()]
    }

    /// Contracts of a perpetual held (signed, in its quantity unit).
    pub fn contracts(&self, inst: &Instrument) -> Qty {
        self.futures.get(inst.id.index()).map_or(Qty::ZERO, |l| Qty(l.qty as i64))
    }

    /// Fees `inst`'s fills paid in its base asset (base units): its position less
    /// this is what the venue's wallet holds from it.
    pub fn base_fees(&self, inst: &Instrument) -> Amount {
        self.base_fees.get(inst.id.index()).copied().unwrap_or(Amount::ZERO)
    }

    /// Fees `inst`'s fills paid in its quote asset (quote units).
    pub fn quote_fees(&self, inst: &Instrument) -> Amount {
        self.quote_fees.get(inst.id.index()).copied().unwrap_or(Amount::ZERO)
    }

    /// Fees charged in `asset`.
    pub fn fees(&self, asset: AssetId) -> Amount {
        self.fees.get(asset.index()).copied().unwrap_or(Amount::ZERO)
    }

    /// The pooled spot lot of `asset`.
    pub fn spot_lot(&self, asset: AssetId) -> Lot {
        self.spot.get(asset.index()).copied().unwrap_or_default()
    }

    /// The lot of a perpetual.
    pub fn futures_lot(&self, inst: &Instrument) -> Lot {
        self.futures.get(inst.id.index()).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, px, qty};

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn usd_flags(u: &testkit::Universe) -> Vec<bool> {
        let usdt = u.instruments.find_asset("USDT").unwrap();
        (0..u.instruments.asset_count()).map(|i| i == usdt.index()).collect()
    }

    fn fill(side: Side, q: Qty, value: &str, fee: &str, fee_asset: AssetId) -> FillInput {
        FillInput {
            side,
            qty: q,
            value: a(value),
            fee: a(fee),
            fee_asset,
            quote_usd: Amount::ONE,
            other_fee_usd: Amount::ZERO,
        }
    }

    #[test]
    fn a_basis_entry_realizes_nothing_and_its_exit_realizes_the_convergence() {
        let u = testkit::universe();
        let ins = &u.instruments;
        let spot = ins.get(u.gate_btc);
        let perp = ins.get(u.gate_btc_perp);
        let mut acc = Accounting::new(ins, &usd_flags(&u));
        // Long 0.01 BTC spot at 50000 (fee 0.1% in BTC), short 0.01 BTC of perpetual at
        // 50100 (fee 0.05% in USDT).
        let m1 = acc.apply(spot, &fill(Side::Buy, qty(spot, "0.01"), "500", "0.00001", spot.base));
        let m2 = acc.apply(perp, &fill(Side::Sell, qty(perp, "100"), "501", "0.2505", perp.quote));
        assert_eq!(m1.realized, Amount::ZERO);
        assert_eq!(m2.realized, Amount::ZERO);
        assert_eq!(m1.fees, a("0.5"));
        assert_eq!(m2.fees, a("0.2505"));
        assert_eq!(acc.realized_usd, Amount::ZERO, "the entry spread is not profit");
        assert_eq!(acc.wallet(Venue::GateIo, spot.base), a("0.00999"), "the base fee is out of the position");
        assert_eq!(acc.wallet(Venue::GateIo, spot.quote), a("-500"));
        assert_eq!(acc.futures_cash(Venue::GateIo), a("-0.2505"));
        assert_eq!(acc.fees(spot.base), a("0.00001"));
        // Marked: BTC bid 49900, perpetual ask 49950.
        let un = acc.unrealized(
            ins,
            |_, _| Some(a("49900")),
            |_, long| Some(if long { a("49940") } else { a("49950") }),
        );
        // Spot: 0.00999 * 49900 - 499.5 = -0.999; perp: 501 - 499.5 = 1.5.
        assert_eq!(un, a("0.501"));
        // Exit: sell 0.00999 BTC at 50000 (fee 0.4995 USDT), buy back the perpetual at 50000.
        let e1 = acc.apply(spot, &fill(Side::Sell, qty(spot, "0.00999"), "499.5", "0.4995", spot.quote));
        let e2 = acc.apply(perp, &fill(Side::Buy, qty(perp, "100"), "500", "0.25", perp.quote));
        assert_eq!(e1.realized, Amount::ZERO, "sold at its cost");
        assert_eq!(e2.realized, a("1"), "the basis converged by 100 on 0.01 BTC");
        assert_eq!(acc.realized_usd, a("1"));
        assert_eq!(acc.fees_usd, a("1.5"));
        assert_eq!(acc.futures_cash(Venue::GateIo), a("1") - a("0.2505") - a("0.25"));
        assert_eq!(acc.unrealized(ins, |_, _| Some(a("1")), |_, _| Some(a("1"))), Amount::ZERO);
        acc.apply_funding(Venue::GateIo, a("0.1"));
        assert_eq!(acc.funding_usd, a("0.1"));
        assert_eq!(acc.futures_cash(Venue::GateIo), a("0.5995"));
    }

    #[test]
    fn spot_across_venues_closes_and_a_partial_close_realizes_its_share() {
        let u = testkit::universe();
        let ins = &u.instruments;
        let g = ins.get(u.gate_btc);
        let m = ins.get(u.mexc_btc);
        let mut acc = Accounting::new(ins, &usd_flags(&u));
        acc.apply(g, &fill(Side::Buy, qty(g, "0.03"), "1500", "0", g.base));
        let r = acc.apply(m, &fill(Side::Sell, qty(m, "0.01"), "501", "0", m.quote));
        // A third of the 1500 cost released: 1 realized.
        assert_eq!(r.realized, a("1"));
        assert_eq!(acc.spot_lot(g.base), Lot { qty: a("0.02").0, cost: a("1000") });
        assert_eq!(acc.wallet(Venue::Mexc, m.base), a("-0.01"));
        let _ = px(g, "1");
    }

    #[test]
    fn lots_flip_through_zero_exactly() {
        let mut l = Lot::default();
        assert_eq!(l.apply(3, a("30")), Amount::ZERO);
        // Sell 5 at 12 each (60): closes 3 (36, cost 30: +6), opens short 2 at 24.
        assert_eq!(l.apply(-5, a("60")), a("6"));
        assert_eq!(l, Lot { qty: -2, cost: a("-24") });
        // Buy 1 back at 10: short closed at 12, +2.
        assert_eq!(l.apply(1, a("10")), a("2"));
        assert_eq!(l, Lot { qty: -1, cost: a("-12") });
        assert_eq!(share(i128::MAX / 2, 3, 4), (i128::MAX / 2 / 4) * 3 + ((i128::MAX / 2) % 4) * 3 / 4);
    }

    /// Thousands of units (at scale 18) times a cost of thousands of USD is past `i128`
    /// before the division: a 300-pair demo once booked -1,718 USD on a profitable
    /// triangle (buy 9,518 MIB for USDT, sell them for ETH, sell the ETH) this way.
    /// Expected values from arbitrary-precision integers.
    #[test]
    fn shares_of_large_lots_are_exact() {
        let mut l = Lot::default();
        let units = |s: &str| a(s).0;
        assert_eq!(l.apply(units("9513.241"), a("1718.843489451421408667")), Amount::ZERO);
        // Sell 4,490.2 for 812.39 USD: releases 1718.84... * 4490.2 / 9513.241 of the cost.
        assert_eq!(l.apply(-units("4490.2"), a("812.39")), a("812.39") - a("811.285137876226662311"));
        assert_eq!(l, Lot { qty: units("5023.041"), cost: a("907.558351575194746356") });
        // Sell 5,100 for 928.2: closes the 5,023.041 left (914.193462 of the value) and
        // opens a short of 76.959 with the rest.
        assert_eq!(l.apply(-units("5100"), a("928.2")), a("6.635110424805253644"));
        assert_eq!(l, Lot { qty: -units("76.959"), cost: -a("14.006538") });
    }
}
