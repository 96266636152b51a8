//! What one fill does to money: the maker's level shrinks, and each side of the trade is
//! settled into its account: spot moves the notional from buyer to seller and the base
//! the other way, each side paying its fee (rounded up) in the asset it receives; futures
//! changes the position and its cost basis, books realised P&L into the USDT balance and
//! releases order margin in proportion to the filled part. Fees go to the venue's fee
//! pool, so [`Exchange::totals`] stays constant.

use pipeline::types::{Amount, Price, Qty, Rate, Rounding, Side};

use super::accounts::{AccountId, mul_div};
use super::events::{Event, FillView};
use super::{Exchange, SimInstrument};

/// One trade between a taker and a resting maker.
#[derive(Clone, Copy, Debug)]
struct Match {
    inst: usize,
    trade_id: u64,
    price: Price,
    qty: Qty,
    /// The trade's value in the quote currency, rounded down.
    notional: Amount,
    time_ms: u64,
}

/// What settling one side of a trade charged and released.
#[derive(Debug)]
struct Settled {
    fee: Amount,
    fee_asset: String,
    /// What the order no longer holds locked.
    release: Amount,
}

impl Exchange {
    fn fee_rate(&self, inst: usize, maker: bool) -> Rate {
        let i = &self.instruments[inst].inst;
        if maker { i.maker_fee } else { i.taker_fee }
    }

    /// Settles one fill of `q` at `price` between a taker and a resting maker.
    pub(super) fn fill(&mut self, taker_id: u64, maker_id: u64, price: Price, q: Qty) {
        let now = self.now();
        let inst = self.orders[&taker_id].inst;
        let si = self.instruments[inst].clone();
        let notional = si.inst.notional(price, q, Rounding::Floor).unwrap_or(Amount::ZERO);
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let taker_side = self.orders[&taker_id].side;
        let maker_done = self.orders[&maker_id].left == q;
        self.books[inst].take(taker_side.opposite(), price, q, maker_done);
        self.dirty_insts.insert(inst);
        let m = Match { inst, trade_id, price, qty: q, notional, time_ms: now };
        for (oid, maker) in [(taker_id, false), (maker_id, true)] {
            self.settle(oid, maker, &si, &m);
        }
        self.pending.push(Event::Trade { inst, id: trade_id, price, qty: q, taker_side, time_ms: now });
    }

    /// Settles order `oid`'s side of a trade into its account and the order itself.
    fn settle(&mut self, oid: u64, maker: bool, si: &SimInstrument, m: &Match) {
        let rate = self.fee_rate(m.inst, maker);
        let (account, side, left_before, locked_before, text) = {
            let o = &self.orders[&oid];
            (o.account, o.side, o.left, o.locked, o.text.clone())
        };
        let Settled { fee, fee_asset, release } = if si.is_futures() {
            let fee = m.notional.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
            // Order margin released in proportion to the filled part.
            let release = if left_before == m.qty {
                locked_before
            } else {
                Amount(mul_div(locked_before.0, m.qty.0 as i128, left_before.0 as i128))
            };
            self.accounts[account as usize].futures.order_margin -= release;
            self.futures_fill(account, side, fee, m);
            Settled { fee, fee_asset: si.listing.quote.to_owned(), release }
        } else {
            self.spot_fill(account, side, rate, si, m)
        };
        if let Some(o) = self.orders.get_mut(&oid) {
            o.left = Qty(o.left.0 - m.qty.0);
            o.filled_qty = Qty(o.filled_qty.0 + m.qty.0);
            o.filled_quote += m.notional;
            o.fee += fee;
            o.locked -= release;
            o.update_ms = m.time_ms;
            o.update_id += 1;
            o.last_role_maker = maker;
        }
        let fill = FillView {
            trade_id: m.trade_id,
            order_id: oid,
            inst: m.inst,
            side,
            price: m.price,
            qty: m.qty,
            notional: m.notional,
            maker,
            fee,
            fee_asset,
            text,
            time_ms: m.time_ms,
        };
        self.emit(Event::UserTrade { account, fill: Box::new(fill) });
    }

    /// Applies a spot fill to an account's balances: the locked side pays, the other
    /// receives less the fee.
    fn spot_fill(
        &mut self,
        account: AccountId,
        side: Side,
        rate: Rate,
        si: &SimInstrument,
        m: &Match,
    ) -> Settled {
        let (base_asset, quote_asset) = (si.listing.base, si.listing.quote);
        let base = si.inst.base_amount(m.qty).unwrap_or(Amount::ZERO);
        let settled = match side {
            Side::Buy => {
                let fee = base.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
                self.spot_balance(account, quote_asset).locked -= m.notional;
                self.spot_balance(account, base_asset).available += base - fee;
                Settled { fee, fee_asset: base_asset.to_owned(), release: m.notional }
            }
            Side::Sell => {
                let fee = m.notional.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
                self.spot_balance(account, base_asset).locked -= base;
                self.spot_balance(account, quote_asset).available += m.notional - fee;
                Settled { fee, fee_asset: quote_asset.to_owned(), release: base }
            }
        };
        *self.fee_pool.entry(settled.fee_asset.clone()).or_default() += settled.fee;
        settled
    }

    /// Applies a futures fill to an account's position and balance.
    fn futures_fill(&mut self, account: AccountId, side: Side, fee: Amount, m: &Match) {
        let symbol = self.instruments[m.inst].listing.symbol;
        let quote = self.instruments[m.inst].listing.quote;
        *self.fee_pool.entry(format!("{quote}:futures")).or_default() += fee;
        let fa = &mut self.accounts[account as usize].futures;
        fa.balance -= fee;
        let pos = fa.positions.entry(m.inst).or_default();
        let pnl = pos.apply(m.qty.0 * side.sign(), m.qty, m.notional);
        let p = *pos;
        fa.balance += pnl;
        let (balance, available) = (fa.balance, fa.available());
        let (now, text) = (m.time_ms, format!("{symbol}:{}", m.trade_id));
        let fee_text = text.clone();
        self.emit(Event::FuturesBalance {
            account,
            balance: balance - pnl,
            available,
            change: -fee,
            kind: "fee",
            text: fee_text,
            time_ms: now,
        });
        if !pnl.is_zero() {
            self.emit(Event::FuturesBalance {
                account,
                balance,
                available,
                change: pnl,
                kind: "pnl",
                text,
                time_ms: now,
            });
        }
        let (inst, size, cost, realised) = (m.inst, p.size, p.cost, p.realised);
        self.emit(Event::Position { account, inst, size, cost, realised, time_ms: now });
    }
}

#[cfg(test)]
mod tests {
    use pipeline::types::{Market, Venue};
    use proptest::prelude::*;

    use crate::engine::testkit::{limit, px, venue};
    use crate::engine::{MAKER, Tif, USER};

    use super::*;

    #[test]
    fn futures_positions_and_pnl_are_exact() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Futures, "BTC_USDT").unwrap();
        let si = x.instruments[i].clone();
        let c = |n: i64| si.from_contracts(n).unwrap();
        let before = x.totals();
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "50000"), c(100))).unwrap();
        x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "50000"), c(100))).unwrap();
        x.place(MAKER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "51000"), c(150))).unwrap();
        x.place(USER, limit(i, Side::Sell, Tif::Ioc, px(&x, i, "51000"), c(150))).unwrap();
        let p = x.account(USER).unwrap().futures.positions[&i];
        assert_eq!(p.size, c(-50));
        // Long 100 contracts (0.01 BTC) closed 1000 higher: +10 USDT.
        assert_eq!(p.realised, Amount::from_int(10));
        assert_eq!(p.cost, -Amount::parse("255").unwrap());
        // Fees: taker 0.05% of 500 and of 765.
        let fees = Amount::parse("0.25").unwrap() + Amount::parse("0.3825").unwrap();
        assert_eq!(
            x.account(USER).unwrap().futures.balance,
            Amount::from_int(1_000_000) + Amount::from_int(10) - fees
        );
        assert_eq!(x.totals(), before);
        let m = x.account(MAKER).unwrap().futures.positions[&i];
        assert_eq!(m.size.0 + p.size.0, 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn balances_conserve_across_random_orders(
            ops in proptest::collection::vec((0u32..3, any::<bool>(), 0usize..4, 1i64..40, 1i64..30, 0u8..4), 1..60)
        ) {
            let mut x = venue(Venue::GateIo);
            let spot = x.find(Market::Spot, "ETH_USDT").unwrap();
            let fut = x.find(Market::Futures, "ETH_USDT").unwrap();
            let before = x.totals();
            for (acct, buy, which, dp, q, tif) in ops {
                let side = if buy { Side::Buy } else { Side::Sell };
                let tif = [Tif::Gtc, Tif::Ioc, Tif::Fok, Tif::PostOnly][tif as usize];
                let inst = if which % 2 == 0 { spot } else { fut };
                let price = px(&x, inst, "3000");
                let price = Price(price.0 + (dp - 20) * x.instruments[inst].inst.tick.0);
                let qty = if x.instruments[inst].is_futures() {
                    x.instruments[inst].from_contracts(q).unwrap()
                } else {
                    Qty(q * x.instruments[inst].inst.lot.0 * 100)
                };
                if let Ok(o) = x.place(acct, limit(inst, side, tif, price, qty)) {
                    // IOC and FOK never rest; FOK is all or nothing.
                    if matches!(tif, Tif::Ioc | Tif::Fok) {
                        prop_assert!(!o.is_open());
                    }
                    if tif == Tif::Fok {
                        prop_assert!(o.filled_qty.is_zero() || o.filled_qty == qty);
                    }
                    if tif == Tif::PostOnly {
                        prop_assert!(o.filled_qty.is_zero());
                    }
                    prop_assert_eq!(o.filled_qty.0 + if o.is_open() { o.left.0 } else { 0 } <= qty.0, true);
                }
                if which == 3 {
                    if let Some(o) = x.orders_of(acct, None, true).first() {
                        let id = o.id;
                        x.cancel(acct, id);
                    }
                }
                prop_assert_eq!(x.totals(), before.clone());
                // No balance ever negative; locks match open orders.
                for a in [USER, MAKER, 2] {
                    for b in x.account(a).unwrap().spot.values() {
                        prop_assert!(b.available >= Amount::ZERO && b.locked >= Amount::ZERO);
                    }
                    let locked: Amount = x.orders_of(a, Some(spot), true).iter().map(|o| o.locked).sum();
                    let acct = x.account(a).unwrap();
                    let held = acct.spot.get("USDT").map(|b| b.locked).unwrap_or_default()
                        + acct.spot.get("ETH").map(|b| b.locked).unwrap_or_default();
                    prop_assert_eq!(locked, held);
                }
                let sizes: i64 = [USER, MAKER, 2].iter()
                    .map(|&a| x.account(a).unwrap().futures.positions.get(&fut).map(|p| p.size.0).unwrap_or(0))
                    .sum();
                prop_assert_eq!(sizes, 0);
                // The book never stays crossed.
                let (b, a) = x.best(spot);
                if let (Some(b), Some(a)) = (b, a) { prop_assert!(b.price < a.price); }
            }
        }
    }
}
