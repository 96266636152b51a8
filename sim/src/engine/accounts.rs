//! What each account of a simulated venue owns: spot balances (available and locked per
//! asset) and one futures wallet (a USDT balance, the margin open orders hold, one-way
//! positions with a signed size and cost basis). Orders lock and release through here;
//! [`Exchange::totals`] is the conservation check the tests hold the engine to.

use std::collections::BTreeMap;

use pipeline::types::{Amount, Qty, Side};

use super::Exchange;

/// An account inside one simulated venue.
pub type AccountId = u32;
/// The account the sim's API key trades.
pub const USER: AccountId = 0;
/// The market model's market maker.
pub const MAKER: AccountId = 1;
/// The market model's noise traders, who take a little liquidity now and then so the
/// trade feeds are not silent.
pub const NOISE: AccountId = 2;

/// Leverage every futures position runs at.
pub const LEVERAGE: i128 = 10;

/// The initial margin of a futures position with cost basis `cost`: its absolute value
/// over leverage.
pub fn initial_margin(cost: Amount) -> Amount {
    Amount(cost.0.abs() / LEVERAGE)
}

/// `a * b / c` truncated toward zero without the intermediate product (`0 <= b <= c`,
/// `c > 0`): the share `b/c` of `a`.
pub(super) fn mul_div(a: i128, b: i128, c: i128) -> i128 {
    (a / c) * b + (a % c) * b / c
}

/// A spot balance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub available: Amount,
    pub locked: Amount,
}

impl Balance {
    pub fn total(&self) -> Amount {
        self.available + self.locked
    }
}

/// A futures position: signed size in the order unit (contracts) and signed cost basis
/// (positive for longs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub size: Qty,
    pub cost: Amount,
    pub realised: Amount,
}

impl Position {
    /// The margin the position holds: its cost basis over leverage.
    pub fn margin(&self) -> Amount {
        initial_margin(self.cost)
    }

    /// Applies a fill of `q` (signed `d`: positive bought) worth `notional`; returns the
    /// P&L it realised (zero when it only opens or adds).
    pub(super) fn apply(&mut self, d: i64, q: Qty, notional: Amount) -> Amount {
        if self.size.0 == 0 || self.size.0.signum() == d.signum() {
            // Opening or adding.
            self.size = Qty(self.size.0 + d);
            self.cost = if d > 0 { self.cost + notional } else { self.cost - notional };
            return Amount::ZERO;
        }
        let s = self.size.0.signum();
        let closing = d.abs().min(self.size.0.abs());
        // The closed part's notional, and the cost basis it releases.
        let close_notional = Amount(mul_div(notional.0, closing as i128, q.0 as i128));
        let released = if closing == self.size.0.abs() {
            self.cost
        } else {
            Amount(mul_div(self.cost.0, closing as i128, self.size.0.abs() as i128))
        };
        let pnl = if s > 0 { close_notional - released } else { -close_notional - released };
        self.cost -= released;
        self.size = Qty(self.size.0 + closing * -s);
        let opening = d.abs() - closing;
        if opening > 0 {
            let open_notional = notional - close_notional;
            self.size = Qty(opening * d.signum());
            self.cost = if d > 0 { open_notional } else { -open_notional };
        }
        self.realised += pnl;
        pnl
    }
}

#[derive(Clone, Debug, Default)]
pub struct FuturesAccount {
    /// USDT balance: deposits plus realised P&L minus fees.
    pub balance: Amount,
    /// Margin held by open orders.
    pub order_margin: Amount,
    pub positions: BTreeMap<usize, Position>,
}

impl FuturesAccount {
    /// Margin held by positions: cost basis over leverage.
    pub fn position_margin(&self) -> Amount {
        self.positions.values().map(Position::margin).sum()
    }

    /// What new orders may use.
    pub fn available(&self) -> Amount {
        self.balance - self.position_margin() - self.order_margin
    }
}

#[derive(Clone, Debug, Default)]
pub struct Account {
    pub spot: BTreeMap<String, Balance>,
    pub futures: FuturesAccount,
}

impl Exchange {
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(id as usize)
    }

    /// Credits a spot balance (deposits at start-up).
    pub fn deposit_spot(&mut self, account: AccountId, asset: &str, amount: Amount) {
        if let Some(a) = self.accounts.get_mut(account as usize) {
            let b = a.spot.entry(asset.to_owned()).or_default();
            b.available += amount;
            self.reported.insert((account, asset.to_owned()), b.total());
        }
    }

    /// Credits (or, negative, debits) a spot balance's available part while running, as
    /// a transfer no client of the account sent would: pushed like any balance change.
    pub fn adjust_spot(&mut self, account: AccountId, asset: &str, amount: Amount) {
        if (account as usize) < self.accounts.len() {
            let b = self.spot_balance(account, asset);
            b.available += amount;
        }
    }

    /// Credits the futures USDT balance (deposits at start-up).
    pub fn deposit_futures(&mut self, account: AccountId, amount: Amount) {
        if let Some(a) = self.accounts.get_mut(account as usize) {
            a.futures.balance += amount;
        }
    }

    /// A spot balance, marked for the next balance push.
    pub(super) fn spot_balance(&mut self, account: AccountId, asset: &str) -> &mut Balance {
        self.touched_spot.insert((account, asset.to_owned()));
        self.accounts[account as usize].spot.entry(asset.to_owned()).or_default()
    }

    /// Locks `amount` for an order on `inst`: spot moves it from available to locked in
    /// the asset the order spends ([`super::SimInstrument::locked_asset`]), futures holds it as
    /// order margin.
    pub(super) fn lock(&mut self, account: AccountId, inst: usize, side: Side, amount: Amount) {
        let si = &self.instruments[inst];
        let (futures, asset) = (si.is_futures(), si.locked_asset(side));
        if futures {
            self.accounts[account as usize].futures.order_margin += amount;
        } else {
            let b = self.spot_balance(account, asset);
            b.available -= amount;
            b.locked += amount;
        }
    }

    /// Gives back what an order on `inst` still locks.
    pub(super) fn unlock(&mut self, account: AccountId, inst: usize, side: Side, amount: Amount) {
        let si = &self.instruments[inst];
        let (futures, asset) = (si.is_futures(), si.locked_asset(side));
        if futures {
            self.accounts[account as usize].futures.order_margin -= amount;
        } else {
            let b = self.spot_balance(account, asset);
            b.locked -= amount;
            b.available += amount;
        }
    }

    /// Conservation check data: per asset, the sum over accounts of spot totals plus fees
    /// (futures USDT is kept apart under `"USDT:futures"`, with cost bases subtracted).
    pub fn totals(&self) -> BTreeMap<String, Amount> {
        let mut t: BTreeMap<String, Amount> = BTreeMap::new();
        for a in &self.accounts {
            for (asset, b) in &a.spot {
                *t.entry(asset.clone()).or_default() += b.total();
            }
            let virt = a.futures.balance - a.futures.positions.values().map(|p| p.cost).sum::<Amount>();
            *t.entry("USDT:futures".to_owned()).or_default() += virt;
        }
        for (asset, f) in &self.fee_pool {
            *t.entry(asset.clone()).or_default() += *f;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact_without_overflow() {
        assert_eq!(mul_div(10, 3, 4), 7);
        assert_eq!(mul_div(-10, 3, 4), -7);
        let big = i128::MAX / 3;
        assert_eq!(mul_div(big, 5_000_000_000, 10_000_000_000), big / 2);
    }
}
