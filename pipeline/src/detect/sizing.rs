//! Sizing: walk book depth to the largest common quantity that still pays, then round
//! every leg onto its instrument's grid in the safe direction.
//!
//! All arithmetic is exact: base quantities are [`Amount`]s (10^-18 base units), values
//! are [`Amount`]s of the quote asset, fees round up, proceeds round down, costs round up.
//!
//! **Common quantity.** The legs of a two-leg operation trade the same base quantity. It
//! lives on a lattice: the least common multiple of every leg's lot in base units (a
//! futures lot is `lot * contract_size`), so every leg's quantity is a whole number of
//! lots. A triangle `X/Q, Y/X, Y/Q` trades a common `Y` quantity on the two `Y` legs; the
//! `X/Q` leg trades the `X` the middle leg needs (or yields), rounded *down* to its lot,
//! and the sub-lot difference is valued at the `X/Q` book (a cost when short).
//!
//! **Largest paying size.** Walking deeper only makes prices worse, so the average edge
//! falls as the size grows; a binary search over lattice multiples finds the largest size
//! whose edge after fees is at least `min_profit_bps` and whose USD notional is within
//! `max_notional_usd`. Each step walks at most `BOOK_DEPTH` levels per leg. The first
//! check (the smallest acceptable size) rejects the common case, no opportunity, in one
//! evaluation. The search ends at the notional cap (no larger size can stay within it),
//! and tries that end first: a real dislocation pays up to the cap, and is then sized
//! in two evaluations (`cargo bench --bench detect`, `detect_crossing`).
//!
//! **Limit prices.** A buy's limit is the worst ask the walk touched, raised by the
//! leg's allowance and rounded *down* to the tick: never above what the book showed plus
//! the allowance. A sell's is the worst bid touched, lowered by the allowance and rounded
//! *up*. The allowance is the configured slippage (`limit_slippage_bps`), but at most
//! `edge_share_pct` of the expected edge divided over the legs: the book an order meets
//! is often a tick on from the one it was priced on (quotes move while the order
//! travels), and a leg at exactly the touched price then fills nothing, which turns a
//! clean operation into a recovery; with the allowance it still fills, and if every leg
//! fills at its limit the operation keeps the rest of its edge (with the whole edge
//! shared, it breaks even after fees). Paying the allowance up front costs less than the
//! recovery it avoids, whose hedge may go `max_slippage_bps` beyond the plan after a
//! naked wait. Quantities only ever round down. Every leg is checked
//! with [`Instrument::accepts`] (tick, lot, min/max quantity, min notional) before an
//! opportunity leaves detection.

use crate::msg::{BookTop, Leg, Level, MAX_LEGS};
use crate::types::{Amount, Instrument, Price, Qty, Rate, Rounding, Side, div_round};

/// One instrument's current book.
#[derive(Clone, Copy, Debug)]
pub struct Quote<'a> {
    pub inst: &'a Instrument,
    pub top: &'a BookTop,
}

impl Quote<'_> {
    /// The levels an order of `side` takes: asks for a buy, bids for a sell.
    #[inline]
    fn levels(&self, side: Side) -> &[Level] {
        match side {
            Side::Buy => self.top.asks(),
            Side::Sell => self.top.bids(),
        }
    }

    #[inline]
    fn best(&self, side: Side) -> Option<Price> {
        self.levels(side).first().map(|l| l.price).filter(|p| p.is_positive())
    }
}

/// Thresholds the sizing respects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub min_edge: Rate,
    pub max_notional: Amount,
    /// The most a limit may sit beyond the worst level walked.
    pub slippage: Rate,
    /// Each leg's allowance is at most this share (percent) of the edge over the legs.
    pub edge_share_pct: u8,
}

impl Params {
    /// The allowance of each of `n_legs` legs for an operation of expected `edge`.
    fn allowance(&self, edge: Rate, n_legs: usize) -> Rate {
        let share = i128::from(edge.0.max(0)) * i128::from(self.edge_share_pct.min(100)) / 100;
        let per_leg = share / (n_legs.max(1) as i128);
        Rate(self.slippage.0.min(per_leg as i64).max(0))
    }
}

/// A sized opportunity's legs and economics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sized {
    pub legs: [Leg; MAX_LEGS],
    pub n_legs: u8,
    pub profit: Amount,
    pub notional: Amount,
    pub edge: Rate,
    pub slippage: Rate,
}

/// Why no opportunity came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not enough edge after fees even at the smallest acceptable size.
    Unprofitable,
    /// A book side is empty or too thin for the smallest acceptable size.
    NoDepth,
    /// A leg would break its instrument's minimum quantity or notional.
    BelowMinimum,
    /// A spot sell would exceed the configured inventory.
    Inventory,
    /// The numbers do not fit (absurd input).
    Overflow,
}

struct Walk {
    value: Amount,
    worst: Price,
}

/// Takes `qty` from `levels` (best first): the quote value and the worst price touched.
/// `None` when the levels hold less than `qty`.
fn walk(inst: &Instrument, levels: &[Level], side: Side, qty: Qty) -> Option<Walk> {
    if !qty.is_positive() {
        return None;
    }
    // Costs round up, proceeds down.
    let rounding = if side == Side::Buy { Rounding::Ceil } else { Rounding::Floor };
    let mut left = qty.0;
    let mut value = Amount::ZERO;
    let mut worst = Price::ZERO;
    for l in levels {
        if !l.qty.is_positive() || !l.price.is_positive() {
            continue;
        }
        let take = left.min(l.qty.0);
        value = value.checked_add(inst.notional(l.price, Qty(take), rounding)?)?;
        let worse = match side {
            Side::Buy => l.price > worst,
            Side::Sell => worst.is_zero() || l.price < worst,
        };
        if worse {
            worst = l.price;
        }
        left -= take;
        if left == 0 {
            return Some(Walk { value, worst });
        }
    }
    None
}

/// Base units the levels hold.
fn depth_base(inst: &Instrument, levels: &[Level]) -> Option<Amount> {
    let total =
        levels.iter().filter(|l| l.qty.is_positive()).try_fold(0i64, |a, l| a.checked_add(l.qty.0))?;
    inst.base_amount(Qty(total))
}

/// The smallest base amount an order at `price` may have: min quantity, one lot, and
/// the minimum notional.
fn min_base(inst: &Instrument, price: Price) -> Option<Amount> {
    let by_qty = inst.base_amount(inst.min_qty.max(inst.lot))?;
    if inst.min_notional.is_zero() {
        return Some(by_qty);
    }
    let by_notional = inst.min_notional.div(inst.price_amount(price), Rounding::Ceil)?;
    Some(by_qty.max(by_notional))
}

/// The base amount of an instrument's maximum quantity.
fn max_base(inst: &Instrument) -> Amount {
    if inst.max_qty == Qty::MAX {
        Amount(i128::MAX)
    } else {
        inst.base_amount(inst.max_qty).unwrap_or(Amount(i128::MAX))
    }
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// The least common multiple of two positive base amounts.
pub fn lcm(a: Amount, b: Amount) -> Option<Amount> {
    if a.0 <= 0 || b.0 <= 0 {
        return None;
    }
    (a.0 / gcd(a.0, b.0)).checked_mul(b.0).map(Amount)
}

/// One lot of `inst` in base units.
pub fn lot_base(inst: &Instrument) -> Option<Amount> {
    inst.base_amount(inst.lot).filter(|a| a.0 > 0)
}

/// `price * (1 + rate)` (up) or `price * (1 - rate)` (down), rounded as asked.
fn adjust(price: Price, rate: Rate, up: bool, rounding: Rounding) -> Option<Price> {
    let unit = Rate::UNIT as i128;
    let f = if up { unit + rate.0 as i128 } else { unit - rate.0 as i128 };
    if f <= 0 {
        return None;
    }
    i64::try_from(div_round((price.0 as i128).checked_mul(f)?, unit, rounding)).ok().map(Price)
}

/// `diff / base` as a rate, rounded up; saturating.
fn rate_of(diff: i128, base: i128) -> Rate {
    if base <= 0 {
        return Rate(i64::MAX);
    }
    let r = div_round(diff.saturating_mul(Rate::UNIT as i128), base, Rounding::Ceil);
    Rate(r.clamp(0, i64::MAX as i128) as i64)
}

/// The limit price of a leg that walked to `worst`.
fn limit(inst: &Instrument, side: Side, worst: Price, slippage: Rate) -> Option<Price> {
    match side {
        Side::Buy => Some(inst.round_price(adjust(worst, slippage, true, Rounding::Floor)?, Rounding::Floor)),
        Side::Sell => Some(inst.round_price(adjust(worst, slippage, false, Rounding::Ceil)?, Rounding::Ceil)),
    }
}

/// How far a leg's limit is from the best price of its side.
fn leg_slippage(side: Side, limit: Price, best: Price) -> Rate {
    match side {
        Side::Buy => rate_of(limit.0 as i128 - best.0 as i128, best.0 as i128),
        Side::Sell => rate_of(best.0 as i128 - limit.0 as i128, best.0 as i128),
    }
}

/// The fee of a trade worth `value` at `rate`, rounded up.
#[inline]
fn fee(value: Amount, rate: Rate) -> Option<Amount> {
    value.mul_rate(rate, Rounding::Ceil)
}

/// An evaluated size: what each leg takes and what it is worth.
#[derive(Clone, Copy, Debug)]
struct Eval {
    legs: [(Side, Qty, Price); MAX_LEGS],
    profit: Amount,
    notional: Amount,
    edge: Rate,
}

impl Eval {
    fn pays(&self, p: &Params) -> bool {
        self.profit.0 > 0 && self.edge >= p.min_edge && self.notional <= p.max_notional
    }
}

/// The evaluation of the largest `n` in `lo..=hi` with `eval(n)` paying, given that
/// `at_lo`, the evaluation of `lo`, pays. `hi` is tried first: a real dislocation
/// usually pays up to the notional cap, and then two evaluations size it instead of a
/// search.
fn largest_paying(lo: i128, at_lo: Eval, hi: i128, p: &Params, eval: impl Fn(i128) -> Option<Eval>) -> Eval {
    if hi <= lo {
        return at_lo;
    }
    if let Some(e) = eval(hi).filter(|e| e.pays(p)) {
        return e;
    }
    let (mut good, mut at_good, mut bad) = (lo, at_lo, hi);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        match eval(mid).filter(|e| e.pays(p)) {
            Some(e) => (good, at_good) = (mid, e),
            None => bad = mid,
        }
    }
    at_good
}

/// The most lattice steps a leg taking from `levels` (in the order the walk takes
/// them) can trade before its value alone passes `max`; `None` when the levels never
/// pass it (the depth bounds the size) or a step is worth nothing.
///
/// The walk's value is never below this count's: whole levels are worth at least their
/// floor-rounded value, and in the level where `max` is passed each whole step taken is
/// worth at least one step's floor-rounded value at that level's price. So no size past
/// it stays within `max`, and at it the walk is worth `max` or a few units more (a buy
/// rounds each level up).
fn steps_within(inst: &Instrument, levels: &[Level], lattice: Amount, max: Amount) -> Option<i128> {
    let step_qty = inst.qty_for_base(lattice, Rounding::Floor)?;
    if !step_qty.is_positive() {
        return None;
    }
    let (mut qty_before, mut value_before) = (0i128, Amount::ZERO);
    for l in levels.iter().filter(|l| l.qty.is_positive() && l.price.is_positive()) {
        let value_after = value_before.checked_add(inst.notional(l.price, l.qty, Rounding::Floor)?)?;
        if value_after > max {
            // Steps that end before this level, then whole steps inside it.
            let step = inst.notional(l.price, step_qty, Rounding::Floor)?;
            if step.0 <= 0 {
                return None;
            }
            let entered = div_round(qty_before, i128::from(step_qty.0), Rounding::Ceil);
            return entered.checked_add((max.0 - value_before.0) / step.0);
        }
        qty_before += i128::from(l.qty.0);
        value_before = value_after;
    }
    None
}

/// Builds the legs (limit prices on the tick, checked against every instrument rule).
fn finish(
    quotes: [Option<Quote<'_>>; MAX_LEGS],
    e: &Eval,
    p: &Params,
    n_legs: usize,
) -> Result<Sized, Refusal> {
    let mut legs = [Leg::default(); MAX_LEGS];
    let mut slippage = Rate::ZERO;
    let allowance = p.allowance(e.edge, n_legs);
    for i in 0..n_legs {
        let q = quotes[i].ok_or(Refusal::Overflow)?;
        let (side, qty, worst) = e.legs[i];
        let best = q.best(side).ok_or(Refusal::NoDepth)?;
        let price = limit(q.inst, side, worst, allowance).ok_or(Refusal::Overflow)?;
        if !q.inst.accepts(price, qty) {
            return Err(Refusal::BelowMinimum);
        }
        slippage = slippage.max(leg_slippage(side, price, best));
        legs[i] = Leg { inst: q.inst.id, side, price, qty };
    }
    Ok(Sized { legs, n_legs: n_legs as u8, profit: e.profit, notional: e.notional, edge: e.edge, slippage })
}

/// Sizes a two-leg operation: buy `buy`'s instrument, sell `sell`'s, the same base
/// quantity, a multiple of `lattice` (base units). `inventory` bounds the base quantity
/// (a spot sell of inventory held).
pub fn size_pair(
    buy: Quote<'_>,
    sell: Quote<'_>,
    lattice: Amount,
    inventory: Option<Amount>,
    p: &Params,
) -> Result<Sized, Refusal> {
    if lattice.0 <= 0 {
        return Err(Refusal::Overflow);
    }
    let (Some(ask), Some(bid)) = (buy.best(Side::Buy), sell.best(Side::Sell)) else {
        return Err(Refusal::NoDepth);
    };
    let (fb, fs) = (buy.inst.taker_fee, sell.inst.taker_fee);
    let eval = |n: i128| -> Option<Eval> {
        let base = Amount(n.checked_mul(lattice.0)?);
        let qb = buy.inst.qty_for_base(base, Rounding::Floor)?;
        let qs = sell.inst.qty_for_base(base, Rounding::Floor)?;
        let b = walk(buy.inst, buy.levels(Side::Buy), Side::Buy, qb)?;
        let s = walk(sell.inst, sell.levels(Side::Sell), Side::Sell, qs)?;
        let profit =
            s.value.checked_sub(fee(s.value, fs)?)?.checked_sub(b.value)?.checked_sub(fee(b.value, fb)?)?;
        let notional = b.value.max(s.value);
        let edge = profit.ratio(notional, Rounding::Floor)?;
        Some(Eval {
            legs: [(Side::Buy, qb, b.worst), (Side::Sell, qs, s.worst), (Side::Buy, Qty::ZERO, Price::ZERO)],
            profit,
            notional,
            edge,
        })
    };
    let lo_base = min_base(buy.inst, ask)
        .ok_or(Refusal::Overflow)?
        .max(min_base(sell.inst, bid).ok_or(Refusal::Overflow)?);
    let lo = div_round(lo_base.0, lattice.0, Rounding::Ceil).max(1);
    let depth = depth_base(buy.inst, buy.levels(Side::Buy))
        .ok_or(Refusal::Overflow)?
        .min(depth_base(sell.inst, sell.levels(Side::Sell)).ok_or(Refusal::Overflow)?)
        .min(max_base(buy.inst))
        .min(max_base(sell.inst));
    let hi_depth = depth.0 / lattice.0;
    let hi = match inventory {
        Some(inv) => hi_depth.min(inv.0.max(0) / lattice.0),
        None => hi_depth,
    };
    if hi < lo {
        return Err(if inventory.is_some_and(|inv| inv.0 / lattice.0 < lo) {
            Refusal::Inventory
        } else {
            Refusal::NoDepth
        });
    }
    let at_lo = match eval(lo) {
        Some(e) if e.pays(p) => e,
        Some(_) => return Err(Refusal::Unprofitable),
        None => return Err(Refusal::NoDepth),
    };
    // No size past either leg's notional cap pays: the search stops there (never below
    // `lo`, which pays).
    let cap = [
        steps_within(buy.inst, buy.levels(Side::Buy), lattice, p.max_notional),
        steps_within(sell.inst, sell.levels(Side::Sell), lattice, p.max_notional),
    ]
    .into_iter()
    .flatten()
    .fold(hi, i128::min);
    let e = largest_paying(lo, at_lo, cap.max(lo), p, eval);
    finish([Some(buy), Some(sell), None], &e, p, 2)
}

/// Sizes a triangle inside one venue over `a = X/Q`, `b = Y/X`, `c = Y/Q` (Q a USD asset).
/// Forward: Q -> X -> Y -> Q (buy a, buy b, sell c). Reverse: Q -> Y -> X -> Q (buy c,
/// sell b, sell a). `lattice` is the common `Y` step of `b` and `c` in base units.
pub fn size_triangle(
    a: Quote<'_>,
    b: Quote<'_>,
    c: Quote<'_>,
    forward: bool,
    lattice: Amount,
    p: &Params,
) -> Result<Sized, Refusal> {
    if lattice.0 <= 0 {
        return Err(Refusal::Overflow);
    }
    let (a_side, b_side, c_side) =
        if forward { (Side::Buy, Side::Buy, Side::Sell) } else { (Side::Sell, Side::Sell, Side::Buy) };
    let (Some(pa), Some(pb), Some(pc)) = (a.best(a_side), b.best(b_side), c.best(c_side)) else {
        return Err(Refusal::NoDepth);
    };
    // The X/Q book values the sub-lot X left over (bid) or missing (ask).
    let (a_bid, a_ask) = (a.best(Side::Sell).unwrap_or(pa), a.best(Side::Buy).unwrap_or(pa));
    let (fa, fb, fc) = (a.inst.taker_fee, b.inst.taker_fee, c.inst.taker_fee);
    let eval = |n: i128| -> Option<Eval> {
        let y = Amount(n.checked_mul(lattice.0)?);
        let qb = b.inst.qty_for_base(y, Rounding::Floor)?;
        let qc = c.inst.qty_for_base(y, Rounding::Floor)?;
        let wb = walk(b.inst, b.levels(b_side), b_side, qb)?;
        let wc = walk(c.inst, c.levels(c_side), c_side, qc)?;
        let fee_b = fee(wb.value, fb)?;
        // X the middle leg needs (forward) or yields after its fee (reverse).
        let x_flow = if forward { wb.value.checked_add(fee_b)? } else { wb.value.checked_sub(fee_b)? };
        let qa = a.inst.round_qty(a.inst.qty_for_base(x_flow, Rounding::Floor)?);
        let x = a.inst.base_amount(qa)?;
        let wa = walk(a.inst, a.levels(a_side), a_side, qa)?;
        let (fee_a, fee_c) = (fee(wa.value, fa)?, fee(wc.value, fc)?);
        let (usd_in, usd_out, residual) = if forward {
            (wa.value.checked_add(fee_a)?, wc.value.checked_sub(fee_c)?, x.checked_sub(x_flow)?)
        } else {
            (wc.value.checked_add(fee_c)?, wa.value.checked_sub(fee_a)?, x_flow.checked_sub(x)?)
        };
        let mark = if residual.0 < 0 { a_ask } else { a_bid };
        let residual_usd = residual.mul(a.inst.price_amount(mark), Rounding::Floor)?;
        let profit = usd_out.checked_sub(usd_in)?.checked_add(residual_usd)?;
        let notional = wa.value.max(wc.value);
        let edge = profit.ratio(notional, Rounding::Floor)?;
        let legs = if forward {
            [(a_side, qa, wa.worst), (b_side, qb, wb.worst), (c_side, qc, wc.worst)]
        } else {
            [(c_side, qc, wc.worst), (b_side, qb, wb.worst), (a_side, qa, wa.worst)]
        };
        Some(Eval { legs, profit, notional, edge })
    };
    // Smallest Y: each Y leg's minimum, and the Y whose X covers the X/Q leg's minimum.
    let x_min = min_base(a.inst, pa).ok_or(Refusal::Overflow)?;
    let x_min_gross = x_min.mul_rate(Rate(Rate::UNIT + fb.0), Rounding::Ceil).ok_or(Refusal::Overflow)?;
    let y_for_x = x_min_gross.div(b.inst.price_amount(pb), Rounding::Ceil).ok_or(Refusal::Overflow)?;
    let lo_base = min_base(b.inst, pb)
        .ok_or(Refusal::Overflow)?
        .max(min_base(c.inst, pc).ok_or(Refusal::Overflow)?)
        .max(y_for_x);
    let lo = div_round(lo_base.0, lattice.0, Rounding::Ceil).max(1);
    let depth = depth_base(b.inst, b.levels(b_side))
        .ok_or(Refusal::Overflow)?
        .min(depth_base(c.inst, c.levels(c_side)).ok_or(Refusal::Overflow)?)
        .min(max_base(b.inst))
        .min(max_base(c.inst));
    let hi = depth.0 / lattice.0;
    if hi < lo {
        return Err(Refusal::NoDepth);
    }
    // The rounding of the X leg can leave the very smallest size just short: try the
    // next lattice step before giving up.
    let (lo, at_lo) = match (eval(lo), lo < hi) {
        (Some(e), _) if e.pays(p) => (lo, e),
        (None, true) => match eval(lo + 1).filter(|e| e.pays(p)) {
            Some(e) => (lo + 1, e),
            None => return Err(Refusal::NoDepth),
        },
        (None, _) => return Err(Refusal::NoDepth),
        _ => return Err(Refusal::Unprofitable),
    };
    // The Y/Q leg trades the common Y: no size past its notional cap pays (the search
    // stops there, never below `lo`, which pays).
    let cap = steps_within(c.inst, c.levels(c_side), lattice, p.max_notional).into_iter().fold(hi, i128::min);
    let e = largest_paying(lo, at_lo, cap.max(lo), p, eval);
    let quotes = if forward { [Some(a), Some(b), Some(c)] } else { [Some(c), Some(b), Some(a)] };
    finish(quotes, &e, p, 3)
}
