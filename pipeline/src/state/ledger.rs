//! Positions and fills: the exact bookkeeping the state stage and replay share.
//!
//! A fill is applied once: venue order updates carry the order's cumulative filled
//! quantity, so a fill seen twice (private stream and query answer) adds nothing the
//! second time. Each applied fill adds its signed quantity to the instrument's position,
//! its signed quote value to the instrument's cost (buys add, sells subtract) and its fee
//! valued in the quote asset to the instrument's fees. A fee charged in the base asset is
//! valued at the fill price; a fee in a third asset (exchange points) is counted but not
//! valued.

use crate::journal::{FillApplied, FillValuation};
use crate::msg::{ClientOrderId, OrderUpdate};
use crate::types::{Amount, AssetId, Instrument, InstrumentId, Price, Qty, Rounding, Side, mul_div};

/// What one order has had applied so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub filled: Qty,
    pub value: Amount,
    pub fee: Amount,
    /// The fee in the asset charged.
    pub fee_native: Amount,
    /// Of that, what was charged in the instrument's base asset (base units): bought
    /// quantity the wallet does not hold.
    pub fee_base: Amount,
}

/// The new part of an order update, ready to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    pub qty: Qty,
    pub value: Amount,
    pub fee: Amount,
    /// The fee was charged in an asset that cannot be valued here.
    pub unvalued_fee: bool,
    /// The fee in the asset charged, and that asset.
    pub fee_native: Amount,
    pub fee_asset: AssetId,
}

/// The fee `fee` in `asset` of a fill at `price`, valued in the instrument's quote.
fn fee_in_quote(inst: &Instrument, price: Price, fee: Amount, asset: AssetId) -> (Amount, bool) {
    if asset == inst.quote {
        (fee, false)
    } else if asset == inst.base {
        (fee.mul(inst.price_amount(price), Rounding::Ceil).unwrap_or(Amount::ZERO), false)
    } else {
        (Amount::ZERO, !fee.is_zero())
    }
}

/// The part of `update` not yet in `applied`; `None` when nothing new filled.
pub fn delta(inst: &Instrument, applied: &Applied, update: &OrderUpdate) -> Option<Delta> {
    match *update {
        OrderUpdate::Fill { price, qty, cum_qty, fee, fee_asset, .. } => {
            if !qty.is_positive() {
                return None;
            }
            // Venues report the cumulative quantity; without one, the fill is incremental.
            let new = if cum_qty.is_positive() {
                cum_qty.0.saturating_sub(applied.filled.0).min(qty.0)
            } else {
                qty.0
            };
            if new <= 0 {
                return None;
            }
            let value = inst.notional(price, Qty(new), Rounding::Floor)?;
            let fee_native = if new == qty.0 {
                fee
            } else {
                Amount(mul_div(fee.0, i128::from(new), i128::from(qty.0)).unwrap_or(fee.0))
            };
            let (fee, unvalued_fee) = fee_in_quote(inst, price, fee_native, fee_asset);
            Some(Delta { qty: Qty(new), value, fee, unvalued_fee, fee_native, fee_asset })
        }
        OrderUpdate::Status { filled, value, fee, fee_asset, .. } => {
            let new = filled.0.saturating_sub(applied.filled.0);
            if new <= 0 {
                return None;
            }
            let value = value.saturating_sub(applied.value).max(Amount::ZERO);
            // The average price of the new part values a fee charged in the base asset.
            let avg = inst.price_from_amount(
                value
                    .div(inst.base_amount(Qty(new)).unwrap_or(Amount::ONE), Rounding::Floor)
                    .unwrap_or(Amount::ZERO),
                Rounding::Floor,
            );
            let (fee_total, unvalued_fee) = fee_in_quote(inst, avg.unwrap_or(Price::ZERO), fee, fee_asset);
            let fee_native = fee.saturating_sub(applied.fee_native).max(Amount::ZERO);
            let fee = fee_total.saturating_sub(applied.fee).max(Amount::ZERO);
            Some(Delta { qty: Qty(new), value, fee, unvalued_fee, fee_native, fee_asset })
        }
        _ => None,
    }
}

/// Positions, costs and fees per instrument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    pub qty: Vec<Qty>,
    pub cost: Vec<Amount>,
    pub fees: Vec<Amount>,
}

impl Positions {
    pub fn new(instruments: usize) -> Self {
        Self {
            qty: vec![Qty::ZERO; instruments],
            cost: vec![Amount::ZERO; instruments],
            fees: vec![Amount::ZERO; instruments],
        }
    }

    /// Applies a fill; out-of-range instruments are ignored.
    pub fn apply(&mut self, inst: InstrumentId, side: Side, qty: Qty, value: Amount, fee: Amount) {
        let i = inst.index();
        if i >= self.qty.len() {
            return;
        }
        let sign = side.sign();
        self.qty[i] = Qty(self.qty[i].0.saturating_add(sign.saturating_mul(qty.0)));
        self.cost[i] = self.cost[i].saturating_add(Amount(value.0.saturating_mul(sign as i128)));
        self.fees[i] = self.fees[i].saturating_add(fee);
    }

    /// Applies a journaled fill.
    pub fn apply_record(&mut self, f: &FillApplied) {
        self.apply(f.inst, f.side, f.qty, f.value, f.fee);
    }
}

/// The journal record of an applied delta.
pub fn record(
    client: ClientOrderId,
    inst: InstrumentId,
    side: Side,
    d: &Delta,
    valued: &super::accounting::FillInput,
    ts_ns: u64,
) -> FillApplied {
    let valuation = FillValuation {
        fee_native: valued.fee,
        fee_asset: valued.fee_asset,
        quote_usd: valued.quote_usd,
        other_fee_usd: valued.other_fee_usd,
    };
    FillApplied {
        client,
        inst,
        side,
        qty: d.qty,
        value: d.value,
        fee: d.fee,
        ts_ns,
        valuation: Some(valuation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, px, qty};

    #[test]
    fn fills_seen_twice_apply_once() {
        let u = testkit::universe();
        let g = u.instruments.get(u.gate_btc);
        let usdt = g.quote;
        let fill = |q: &str, cum: &str| OrderUpdate::Fill {
            price: px(g, "50000"),
            qty: qty(g, q),
            cum_qty: qty(g, cum),
            fee: Amount::parse("0.5").unwrap(),
            fee_asset: usdt,
            trade_id: 1,
        };
        let mut a = Applied::default();
        let d = delta(g, &a, &fill("0.01", "0.01")).unwrap();
        assert_eq!(
            d,
            Delta {
                qty: qty(g, "0.01"),
                value: Amount::from_int(500),
                fee: Amount::parse("0.5").unwrap(),
                unvalued_fee: false,
                fee_native: Amount::parse("0.5").unwrap(),
                fee_asset: usdt,
            }
        );
        a.filled = d.qty;
        a.value = d.value;
        a.fee = d.fee;
        assert_eq!(delta(g, &a, &fill("0.01", "0.01")), None, "a duplicate adds nothing");
        // A query answer covering the same fill adds nothing either.
        let status = OrderUpdate::Status {
            filled: qty(g, "0.01"),
            value: Amount::from_int(500),
            fee: Amount::parse("0.5").unwrap(),
            fee_asset: usdt,
            open: false,
        };
        assert_eq!(delta(g, &a, &status), None);
        // A status with more filled adds only the new part.
        let status = OrderUpdate::Status {
            filled: qty(g, "0.03"),
            value: Amount::from_int(1502),
            fee: Amount::parse("1.502").unwrap(),
            fee_asset: usdt,
            open: false,
        };
        let d = delta(g, &a, &status).unwrap();
        assert_eq!(
            (d.qty, d.value, d.fee),
            (qty(g, "0.02"), Amount::from_int(1002), Amount::parse("1.002").unwrap())
        );
    }

    #[test]
    fn fees_in_the_base_asset_are_valued_at_the_fill_price() {
        let u = testkit::universe();
        let g = u.instruments.get(u.gate_btc);
        let f = OrderUpdate::Fill {
            price: px(g, "50000"),
            qty: qty(g, "0.01"),
            cum_qty: Qty::ZERO,
            fee: Amount::parse("0.00001").unwrap(),
            fee_asset: g.base,
            trade_id: 1,
        };
        let d = delta(g, &Applied::default(), &f).unwrap();
        assert_eq!(d.fee, Amount::parse("0.5").unwrap());
        let f = OrderUpdate::Fill {
            price: px(g, "50000"),
            qty: qty(g, "0.01"),
            cum_qty: Qty::ZERO,
            fee: Amount::ONE,
            fee_asset: AssetId(99),
            trade_id: 1,
        };
        let d = delta(g, &Applied::default(), &f).unwrap();
        assert!(d.unvalued_fee);
        assert_eq!(d.fee, Amount::ZERO);
    }
}
