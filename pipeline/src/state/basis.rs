//! Basis positions and their exit rule. A spot-futures basis entry leaves both legs
//! open: it is a position, not a profit. The state stage keeps each completed entry here
//! (the spot and perpetual quantities it holds) and closes both legs, as an operation of
//! its own that passes the risk gate like any entry, when one of three triggers fires:
//! - **converged:** the basis the exit would trade at (what buying back costs over what
//!   selling gets, at the fresh best prices) is below `exit_basis_bps`;
//! - **adverse funding:** funding on the perpetual's venue has been against the position
//!   (the last payment booked was paid, not received) for longer than
//!   `max_adverse_funding_ms`;
//! - **max hold:** the position is older than `max_hold_ms`.
//!
//! The table is fixed-size ([`MAX_BASIS`] positions); an exit operation carries
//! [`EXIT_ID`] plus its slot as its opportunity id, so its close finds its position.
//! A restart rebuilds the table from the journal by closing the same operations in the
//! same order ([`on_close`]), so every position and slot comes back as it was.

use serde::{Deserialize, Serialize};

use crate::msg::{Execution, Leg, OppKind};
use crate::types::{Amount, InstrumentId, Instruments, Market, Qty, Rounding, Side};
use crate::units::{Bps, ms_to_ns};

/// Basis positions held at once.
pub const MAX_BASIS: usize = 64;
/// Opportunity ids at and above this are exits of basis positions (slot added).
pub const EXIT_ID: u64 = 1 << 62;

/// The exit rule (`[state.basis]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasisExitConfig {
    /// Close when the exit basis is below this (bps of the selling leg's price).
    pub exit_basis_bps: Bps,
    /// Close when funding has been against the position this long.
    pub max_adverse_funding_ms: u64,
    /// Close a position this old whatever the basis.
    pub max_hold_ms: u64,
}

impl Default for BasisExitConfig {
    fn default() -> Self {
        Self {
            exit_basis_bps: Bps::new(5),
            max_adverse_funding_ms: 8 * 3_600_000,
            max_hold_ms: 24 * 3_600_000,
        }
    }
}

impl BasisExitConfig {
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.bps_up_to("basis.exit_basis_bps", self.exit_basis_bps, crate::validate::MAX_BPS);
        c.at_least("basis.max_adverse_funding_ms", self.max_adverse_funding_ms, 1);
        c.at_least("basis.max_hold_ms", self.max_hold_ms, 1);
    }
}

/// Why a basis position is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitTrigger {
    Converged,
    AdverseFunding,
    MaxHold,
}

/// One open basis position: the quantities its entry left open on each leg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BasisPosition {
    pub used: bool,
    pub spot: InstrumentId,
    pub perp: InstrumentId,
    /// Signed quantities held (positive long), in each instrument's unit.
    pub spot_qty: Qty,
    pub perp_qty: Qty,
    pub opened_ns: u64,
    /// An exit operation is out for it.
    pub exiting: bool,
}

impl BasisPosition {
    /// The side of the exit order on a leg holding `q`.
    pub fn exit_side(q: Qty) -> Side {
        if q.0 > 0 { Side::Sell } else { Side::Buy }
    }
}

/// The basis an exit trades at, in bps: what the buying leg pays over what the selling
/// leg gets, relative to the selling price (`None` without prices).
pub fn exit_basis_bps(buy: Amount, sell: Amount) -> Option<i64> {
    if sell.0 <= 0 || buy.0 <= 0 {
        return None;
    }
    let r = buy.saturating_sub(sell).ratio(sell, crate::types::Rounding::Floor)?;
    Some(r.0.saturating_mul(10_000) / crate::types::Rate::UNIT)
}

/// Whether `p` is to be closed now: `basis_bps` is the exit basis at fresh prices (if
/// priced), `adverse_since_ns` when funding on its venue turned against it (0: it is not).
pub fn exit_due(
    cfg: &BasisExitConfig,
    p: &BasisPosition,
    basis_bps: Option<i64>,
    adverse_since_ns: u64,
    now: u64,
) -> Option<ExitTrigger> {
    if !p.used || p.exiting {
        return None;
    }
    let threshold = cfg.exit_basis_bps.rate().0.saturating_mul(10_000) / crate::types::Rate::UNIT;
    if basis_bps.is_some_and(|b| b < threshold) {
        return Some(ExitTrigger::Converged);
    }
    if adverse_since_ns > 0 && now.saturating_sub(adverse_since_ns) > ms_to_ns(cfg.max_adverse_funding_ms) {
        return Some(ExitTrigger::AdverseFunding);
    }
    if now.saturating_sub(p.opened_ns) > ms_to_ns(cfg.max_hold_ms) {
        return Some(ExitTrigger::MaxHold);
    }
    None
}

/// What an order of a closing operation filled: its instrument, side, applied
/// quantity, and the part of its fee charged in the instrument's base asset.
#[derive(Clone, Copy, Debug)]
pub(super) struct Filled {
    pub inst: InstrumentId,
    pub side: Side,
    pub qty: Qty,
    pub fee_base: Amount,
}

/// What closing `exec` (`completed`: hedged, its last phase COMPLETED) does to the
/// table: a completed basis entry keeps the position it left open in the first free
/// slot, opened at `now`; its exit releases the slot, or lets it be exited again if it
/// did not complete. Returns whether an exit released a position.
pub(super) fn on_close(
    table: &mut [BasisPosition],
    instruments: &Instruments,
    exec: &Execution,
    completed: bool,
    orders: impl Iterator<Item = Filled>,
    now: u64,
) -> bool {
    let id = exec.opp().id;
    if id >= EXIT_ID {
        // Its slot, unless that holds another pair's position (a table rebuilt by an
        // older version, which began each run empty): then the position its legs trade.
        let legs = exec.opp().legs();
        let trades = |p: &BasisPosition| {
            p.used && legs.iter().any(|l| l.inst == p.spot) && legs.iter().any(|l| l.inst == p.perp)
        };
        let k = (id - EXIT_ID) as usize;
        let slot = if table.get(k).is_some_and(trades) { Some(k) } else { table.iter().position(trades) };
        let Some(p) = slot.and_then(|k| table.get_mut(k)) else { return false };
        if completed {
            *p = BasisPosition::default();
        } else {
            p.exiting = false;
        }
        return completed;
    }
    if !completed || exec.opp().kind != OppKind::Basis {
        return false;
    }
    let market = |l: &&Leg| instruments.try_get(l.inst).map(|i| i.market);
    let legs = exec.opp().legs();
    let (Some(spot), Some(perp)) = (
        legs.iter().find(|l| market(l) == Some(Market::Spot)),
        legs.iter().find(|l| market(l) == Some(Market::Futures)),
    ) else {
        return false;
    };
    let si = instruments.get(spot.inst);
    let (mut sq, mut pq, mut fees) = (0i64, 0i64, 0i64);
    for o in orders {
        let q = o.side.sign().saturating_mul(o.qty.0);
        if o.inst == spot.inst {
            sq = sq.saturating_add(q);
            // A fee in the base asset is not there to sell (one charged in the quote, or
            // in a venue's own token, is).
            if o.side == Side::Buy {
                fees = fees.saturating_add(si.qty_for_base(o.fee_base, Rounding::Ceil).map_or(0, |q| q.0));
            }
        } else if o.inst == perp.inst {
            pq = pq.saturating_add(q);
        }
    }
    let spot_qty = si.round_qty(Qty(sq.saturating_sub(fees.min(sq.abs()) * sq.signum()).abs()));
    let spot_qty = Qty(spot_qty.0 * sq.signum());
    if spot_qty.is_zero() || pq == 0 {
        return false;
    }
    if let Some(slot) = table.iter_mut().find(|p| !p.used) {
        *slot = BasisPosition {
            used: true,
            spot: spot.inst,
            perp: perp.inst,
            spot_qty,
            perp_qty: Qty(pq),
            opened_ns: now,
            exiting: false,
        };
    }
    false
}

/// The two exit legs of `p` (spot first) at limit prices already on the tick.
pub fn exit_legs(
    p: &BasisPosition,
    spot_price: crate::types::Price,
    perp_price: crate::types::Price,
) -> [Leg; 2] {
    [
        Leg {
            inst: p.spot,
            side: BasisPosition::exit_side(p.spot_qty),
            price: spot_price,
            qty: Qty(p.spot_qty.0.abs()),
        },
        Leg {
            inst: p.perp,
            side: BasisPosition::exit_side(p.perp_qty),
            price: perp_price,
            qty: Qty(p.perp_qty.0.abs()),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn an_exit_releases_the_position_its_legs_trade_when_its_slot_holds_another() {
        let other = BasisPosition { spot: InstrumentId(2), perp: InstrumentId(3), ..pos() };
        let mut table = [other, pos(), BasisPosition::default()];
        // The exit of pos() (instruments 0 and 1) numbered for slot 0, which a table an
        // older version rebuilt gave to another pair.
        let mut opp = super::super::operations::NO_OPPORTUNITY;
        opp.id = EXIT_ID;
        opp.kind = OppKind::Basis;
        opp.n_legs = 2;
        opp.legs[..2].copy_from_slice(&exit_legs(&pos(), crate::types::Price(1), crate::types::Price(1)));
        let exec = Execution::new(9, opp, 0, 0);
        let released = on_close(&mut table, &Instruments::new(), &exec, true, std::iter::empty(), 0);
        assert!(released);
        assert_eq!(table, [other, BasisPosition::default(), BasisPosition::default()]);
        // Its own slot when that slot holds its pair.
        let mut table = [pos(), other];
        assert!(on_close(&mut table, &Instruments::new(), &exec, true, std::iter::empty(), 0));
        assert_eq!(table, [BasisPosition::default(), other]);
    }

    fn pos() -> BasisPosition {
        BasisPosition {
            used: true,
            spot: InstrumentId(0),
            perp: InstrumentId(1),
            spot_qty: Qty(100),
            perp_qty: Qty(-100),
            opened_ns: 1_000 * MS,
            exiting: false,
        }
    }

    fn cfg() -> BasisExitConfig {
        BasisExitConfig { exit_basis_bps: Bps::new(5), max_adverse_funding_ms: 2_000, max_hold_ms: 10_000 }
    }

    #[test]
    fn converged_basis_closes() {
        // Buy the perpetual back at 50020, sell spot at 50000: 4 bps < 5.
        let b = exit_basis_bps(Amount::from_int(50_020), Amount::from_int(50_000));
        assert_eq!(b, Some(4));
        assert_eq!(exit_due(&cfg(), &pos(), b, 0, 2_000 * MS), Some(ExitTrigger::Converged));
        // 6 bps: not yet.
        let b = exit_basis_bps(Amount::from_int(50_030), Amount::from_int(50_000));
        assert_eq!(exit_due(&cfg(), &pos(), b, 0, 2_000 * MS), None);
        // Unpriced: not on the basis.
        assert_eq!(exit_due(&cfg(), &pos(), None, 0, 2_000 * MS), None);
    }

    #[test]
    fn funding_against_for_too_long_closes() {
        let b = Some(50);
        assert_eq!(exit_due(&cfg(), &pos(), b, 1_500 * MS, 3_000 * MS), None, "1.5 s against");
        assert_eq!(exit_due(&cfg(), &pos(), b, 1_500 * MS, 3_600 * MS), Some(ExitTrigger::AdverseFunding));
    }

    #[test]
    fn an_old_position_closes_and_an_exiting_one_is_left_alone() {
        assert_eq!(exit_due(&cfg(), &pos(), Some(50), 0, 11_000 * MS), None, "exactly 10 s");
        assert_eq!(exit_due(&cfg(), &pos(), Some(50), 0, 11_001 * MS), Some(ExitTrigger::MaxHold));
        let mut p = pos();
        p.exiting = true;
        assert_eq!(exit_due(&cfg(), &p, Some(0), 0, 99_000 * MS), None);
        let legs = exit_legs(&pos(), crate::types::Price(10), crate::types::Price(11));
        assert_eq!(
            (legs[0].side, legs[0].qty, legs[1].side, legs[1].qty),
            (Side::Sell, Qty(100), Side::Buy, Qty(100))
        );
    }
}
