//! Funding on the perpetuals, settled the way the real venues settle it: every funding
//! interval each open position pays or receives `notional * rate`, where the notional is
//! the position's base quantity (contracts times contract size) at the mark price (the
//! mid of the contract's book) and the rate is the contract's premium over its spot pair
//! on the same venue, clamped to [`MAX_RATE`]. A positive rate means longs pay shorts.
//! The amount is rounded toward zero to [`FUNDING_PLACES`] decimals and booked into the
//! futures USDT balance with an account-book entry (Gate `type: "fund"`, MEXC's funding
//! records); the rounding residual goes to the venue's futures fee pool so that
//! [`Exchange::totals`] stays constant.

use pipeline::types::{Amount, Market, Rate, Rounding, Side};

use super::Exchange;
use super::accounts::{AccountId, USER};
use super::events::Event;

/// The largest funding rate per interval either way (0.3%).
pub const MAX_RATE: Rate = Rate(3_000_000);
/// Decimal places of a funding payment.
pub const FUNDING_PLACES: u8 = 8;

/// One funding payment of the trading account, as the venue's account book shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingEntry {
    /// Increasing id of the entry.
    pub id: u64,
    pub inst: usize,
    /// Signed contracts held when it was settled.
    pub contracts: i64,
    /// The position's notional at the mark price (positive).
    pub notional: Amount,
    pub rate: Rate,
    /// Signed: positive received, negative paid.
    pub amount: Amount,
    /// The futures balance after it.
    pub balance: Amount,
    pub time_ms: u64,
}

impl Exchange {
    /// The mid of an instrument's book as an amount of its quote, if both sides quote.
    pub fn mid_amount(&self, inst: usize) -> Option<Amount> {
        let (bid, ask) = self.best(inst);
        let i = &self.instruments.get(inst)?.inst;
        let sum = i.price_amount(bid?.price) + i.price_amount(ask?.price);
        Some(Amount(sum.0 / 2))
    }

    /// The funding rate `inst` would settle at now: the premium of its mid over the mid of
    /// the venue's spot pair of the same assets, rounded toward zero to 1e-6 and clamped
    /// to [`MAX_RATE`]; zero without both books (or for a spot instrument).
    pub fn funding_rate(&self, inst: usize) -> Rate {
        let Some(si) = self.instruments.get(inst).filter(|i| i.is_futures()) else { return Rate::ZERO };
        let spot = self.instruments.iter().position(|s| {
            s.listing.market == Market::Spot
                && s.listing.base == si.listing.base
                && s.listing.quote == si.listing.quote
        });
        let (Some(mark), Some(index)) = (self.mid_amount(inst), spot.and_then(|s| self.mid_amount(s))) else {
            return Rate::ZERO;
        };
        let premium = (mark - index).ratio(index, Rounding::Floor).unwrap_or(Rate::ZERO);
        // Toward zero, to whole millionths.
        let r = premium.0 / 1_000 * 1_000;
        Rate(r.clamp(-MAX_RATE.0, MAX_RATE.0))
    }

    /// The funding payment of a position of `size` (signed, in the order unit) at `mark`
    /// and `rate`: negative when it pays. Also returns the notional.
    fn funding_of(&self, inst: usize, size: i64, mark: Amount, rate: Rate) -> (Amount, Amount) {
        let i = &self.instruments[inst].inst;
        let base = i.base_amount(pipeline::types::Qty(size.abs())).unwrap_or(Amount::ZERO);
        let notional = base.mul(mark, Rounding::Floor).unwrap_or(Amount::ZERO);
        let unit = 10i128.pow(u32::from(Amount::SCALE - FUNDING_PLACES));
        let raw = notional.mul_rate(Rate(rate.0.abs()), Rounding::Floor).unwrap_or(Amount::ZERO);
        let abs = Amount(raw.0 / unit * unit);
        // Longs pay a positive rate, shorts receive it.
        let pays = (size > 0) == (rate.0 > 0);
        (if pays { -abs } else { abs }, notional)
    }

    /// Settles one funding round on every perpetual: every account's open position pays
    /// or receives its funding into its futures balance. Returns the trading account's
    /// entries of this round.
    pub fn settle_funding(&mut self) -> Vec<FundingEntry> {
        let now = self.now();
        let mut entries = Vec::new();
        for inst in 0..self.instruments.len() {
            if !self.instruments[inst].is_futures() {
                continue;
            }
            let rate = self.funding_rate(inst);
            let Some(mark) = self.mid_amount(inst) else { continue };
            if rate.0 == 0 {
                continue;
            }
            let mut net = Amount::ZERO;
            for account in 0..self.accounts.len() {
                let size = self.accounts[account].futures.positions.get(&inst).map_or(0, |p| p.size.0);
                if size == 0 {
                    continue;
                }
                let (amount, notional) = self.funding_of(inst, size, mark, rate);
                net += amount;
                let fa = &mut self.accounts[account].futures;
                fa.balance += amount;
                let (balance, available) = (fa.balance, fa.available());
                if account as AccountId == USER && !amount.is_zero() {
                    let contracts = self.instruments[inst].contracts(pipeline::types::Qty(size));
                    self.next_funding_id += 1;
                    let e = FundingEntry {
                        id: self.next_funding_id,
                        inst,
                        contracts,
                        notional,
                        rate,
                        amount,
                        balance,
                        time_ms: now,
                    };
                    self.funding_book.push(e.clone());
                    entries.push(e);
                    let text = format!("{}:funding", self.instruments[inst].listing.symbol);
                    self.emit(Event::FuturesBalance {
                        account: USER,
                        balance,
                        available,
                        change: amount,
                        kind: "fund",
                        text,
                        time_ms: now,
                    });
                }
            }
            // What rounding left over stays with the venue.
            *self.fee_pool.entry("USDT:futures".to_owned()).or_default() -= net;
        }
        self.flush();
        entries
    }

    /// Sets the funding interval (0: never) and schedules the first settlement one
    /// interval from now.
    pub fn set_funding_interval(&mut self, interval_ms: u64) {
        self.funding_interval_ms = interval_ms;
        self.next_funding_ms =
            if interval_ms == 0 { u64::MAX } else { self.now().saturating_add(interval_ms) };
    }

    /// The funding interval in milliseconds (0: funding is off).
    pub fn funding_interval_ms(&self) -> u64 {
        self.funding_interval_ms
    }

    /// When the next funding settles (Unix ms; `u64::MAX` when off).
    pub fn next_funding_ms(&self) -> u64 {
        self.next_funding_ms
    }

    /// Settles funding if it is due; true when a round settled.
    pub fn settle_funding_if_due(&mut self) -> bool {
        let now = self.now();
        if now < self.next_funding_ms {
            return false;
        }
        self.next_funding_ms = self.next_funding_ms.saturating_add(self.funding_interval_ms).max(now + 1);
        self.settle_funding();
        true
    }

    /// The trading account's funding payments, oldest first (the account book).
    pub fn funding_book(&self) -> &[FundingEntry] {
        &self.funding_book
    }

    /// The side that pays funding at `rate`.
    pub fn funding_payer(rate: Rate) -> Option<Side> {
        match rate.0.signum() {
            1 => Some(Side::Buy),
            -1 => Some(Side::Sell),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use pipeline::types::{Market, Venue};

    use crate::engine::testkit::{limit, px, venue};
    use crate::engine::{MAKER, NOISE, Tif, USER};

    use super::*;

    /// Quotes `inst` at `bid`/`ask` for the noise account (not the trading pair).
    fn quote(x: &mut Exchange, inst: usize, bid: &str, ask: &str) {
        let si = &x.instruments[inst];
        let q = if si.is_futures() {
            si.from_contracts(1).unwrap()
        } else {
            pipeline::types::Qty(si.inst.lot.0 * 10_000)
        };
        let (b, a) = (px(x, inst, bid), px(x, inst, ask));
        x.place(NOISE, limit(inst, Side::Buy, Tif::Gtc, b, q)).unwrap();
        x.place(NOISE, limit(inst, Side::Sell, Tif::Gtc, a, q)).unwrap();
    }

    #[test]
    fn a_short_receives_the_premium_and_totals_hold() {
        let mut x = venue(Venue::GateIo);
        let f = x.find(Market::Futures, "BTC_USDT").unwrap();
        let s = x.find(Market::Spot, "BTC_USDT").unwrap();
        let si = x.instruments[f].clone();
        // User shorts 1000 contracts (0.1 BTC) to the maker at 50000.
        x.place(MAKER, limit(f, Side::Buy, Tif::Gtc, px(&x, f, "50000"), si.from_contracts(1000).unwrap()))
            .unwrap();
        x.place(USER, limit(f, Side::Sell, Tif::Ioc, px(&x, f, "50000"), si.from_contracts(1000).unwrap()))
            .unwrap();
        // Perp mid 50100, spot mid 50000: premium 0.2%.
        quote(&mut x, f, "50090", "50110");
        quote(&mut x, s, "49990", "50010");
        assert_eq!(x.funding_rate(f), Rate::parse("0.002").unwrap());
        let before = x.totals();
        let bal = x.account(USER).unwrap().futures.balance;
        let maker_bal = x.account(MAKER).unwrap().futures.balance;
        let e = x.settle_funding();
        assert_eq!(e.len(), 1);
        // 0.1 BTC * 50100 = 5010 USDT notional, * 0.002 = 10.02 received by the short.
        assert_eq!(e[0].notional, Amount::from_int(5010));
        assert_eq!(e[0].amount, Amount::parse("10.02").unwrap());
        assert_eq!(e[0].contracts, -1000);
        assert_eq!(x.account(USER).unwrap().futures.balance, bal + Amount::parse("10.02").unwrap());
        assert_eq!(x.account(MAKER).unwrap().futures.balance, maker_bal - Amount::parse("10.02").unwrap());
        assert_eq!(x.funding_book().len(), 1);
        assert_eq!(x.funding_book()[0].balance, bal + Amount::parse("10.02").unwrap());
        assert_eq!(x.totals(), before);
    }

    #[test]
    fn a_discount_is_paid_by_shorts_and_rounds_toward_zero() {
        let mut x = venue(Venue::GateIo);
        let f = x.find(Market::Futures, "ETH_USDT").unwrap();
        let s = x.find(Market::Spot, "ETH_USDT").unwrap();
        let si = x.instruments[f].clone();
        x.place(MAKER, limit(f, Side::Buy, Tif::Gtc, px(&x, f, "3000"), si.from_contracts(7).unwrap()))
            .unwrap();
        x.place(USER, limit(f, Side::Sell, Tif::Ioc, px(&x, f, "3000"), si.from_contracts(7).unwrap()))
            .unwrap();
        // Perp mid 2999.5, spot 3001: premium -0.0499833..%, toward zero -0.000499.
        quote(&mut x, f, "2999", "3000");
        quote(&mut x, s, "3000.5", "3001.5");
        assert_eq!(x.funding_rate(f), Rate::parse("-0.000499").unwrap());
        let before = x.totals();
        let e = x.settle_funding();
        // 0.07 ETH * 2999.5 = 209.965; * 0.000499 = 0.104772535 -> 0.10477253 paid.
        assert_eq!(e[0].amount, -Amount::parse("0.10477253").unwrap());
        assert_eq!(x.totals(), before);
    }

    #[test]
    fn no_books_no_funding() {
        let mut x = venue(Venue::Mexc);
        let f = x.find(Market::Futures, "BTC_USDT").unwrap();
        assert_eq!(x.funding_rate(f), Rate::ZERO);
        assert!(x.settle_funding().is_empty());
        // Off by default; on, the first round is one interval away.
        assert!(!x.settle_funding_if_due());
        x.set_funding_interval(1);
        assert_eq!(x.next_funding_ms(), 1_700_000_000_001);
        x.set_funding_interval(0);
        assert!(!x.settle_funding_if_due());
        assert_eq!(Exchange::funding_payer(Rate(5)), Some(Side::Buy));
    }
}
