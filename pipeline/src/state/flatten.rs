//! The flattener: what operations leave behind in an asset, traded back to flat.
//!
//! Every operation is sized to end flat, yet two things stay behind: fees a venue takes
//! in the base asset (MEXC charges a spot buy's fee in what was bought), and lot dust
//! (a spot leg on a finer lot than the perpetual's contract). Each is tiny; summed over
//! a day they are a position nobody chose. The state stage nets each asset over what its
//! own trading moved (every venue's spot wallet as the accounting books it, fees
//! included, and every perpetual's contracts in base units) and, once the net clears a
//! venue's minimum order and nothing else is trading
//! the asset, asks the risk gate for one order that takes it back to zero
//! ([`crate::msg::RiskUpdate::Flatten`]). The order is an operation of its own (kind
//! `flatten`), journaled, checked and recovered like any other. What stays below every
//! venue's minimum order cannot be traded: it is open exposure, and also counted apart as
//! dust ([`is_dust`], the report's `dust_usd`), so that a reader can tell it from exposure
//! left unhedged.

use crate::msg::Leg;
use crate::types::{Amount, AssetId, Instrument, Market, Price, Rate, Rounding, Side};

/// How long a flatten the risk gate did not turn into an operation blocks the next one
/// for the same asset.
pub(super) const RETRY_MS: u64 = 2_000;

/// A flatten operation's opportunity id is this plus its instrument's id (below
/// [`super::EXIT_ID`], so no basis position is looked up for it).
pub const FLATTEN_ID: u64 = 1 << 61;

/// The order that takes `net` (base units, scale 18, positive when long) of an asset
/// back to zero on one of `candidates`: spot instruments of that asset against a USD
/// asset, each with what the engine's trading moved that venue's wallet of the asset
/// by (base units) and its best bid and ask. Sells where the engine holds
/// the most, buys where it holds the least, so each venue's wallet drifts back too; the
/// limit is the touch moved by `slip`, on the tick; the quantity is rounded down to the
/// lot so the flatten never crosses zero. Only venues whose minimum quantity and
/// notional the order clears are chosen from; `None` when it clears none.
pub(super) fn order<'a>(
    net: Amount,
    candidates: impl Iterator<Item = (&'a Instrument, Amount, Option<Price>, Option<Price>)>,
    slip: Rate,
) -> Option<Leg> {
    if net.is_zero() {
        return None;
    }
    let side = if net.0 > 0 { Side::Sell } else { Side::Buy };
    candidates
        .filter(|(i, ..)| i.market == Market::Spot && i.trading_enabled)
        .filter_map(|(inst, held, bid, ask)| {
            let touch = if side == Side::Sell { bid } else { ask }?;
            let (price, qty) = sized(inst, net, touch, side, slip)?;
            // What is held there, counted the way this order reduces it.
            let held = held.0.saturating_mul(i128::from(side.opposite().sign()));
            Some((held, std::cmp::Reverse(inst.id.0), Leg { inst: inst.id, side, price, qty }))
        })
        .max_by_key(|&(held, id, _)| (held, id))
        .map(|(.., leg)| leg)
}

/// The limit and quantity of an order taking `net` back toward zero on `inst` from its
/// `touch`, if it clears the venue's lot, minimum quantity and minimum notional.
fn sized(
    inst: &Instrument,
    net: Amount,
    touch: Price,
    side: Side,
    slip: Rate,
) -> Option<(Price, crate::types::Qty)> {
    let qty = inst.round_qty(inst.qty_for_base(Amount(net.0.abs()), Rounding::Floor)?);
    let price = through(inst, touch, side, slip);
    let notional = inst.notional(price, qty, Rounding::Floor)?;
    if !qty.is_positive() || qty < inst.min_qty || notional < inst.min_notional {
        return None;
    }
    Some((price, qty))
}

/// Whether `net` is dust: not zero, quoted on at least one of `candidates` (as for
/// [`order`]), and below the minimum order of every one that quotes it, so that no
/// flatten can trade it. A net no venue quotes now is not called dust: it may clear a
/// minimum once a book is back.
pub(super) fn is_dust<'a>(
    net: Amount,
    candidates: impl Iterator<Item = (&'a Instrument, Amount, Option<Price>, Option<Price>)>,
    slip: Rate,
) -> bool {
    if net.is_zero() {
        return false;
    }
    let side = if net.0 > 0 { Side::Sell } else { Side::Buy };
    let mut quoted = false;
    for (inst, _, bid, ask) in candidates.filter(|(i, ..)| i.market == Market::Spot && i.trading_enabled) {
        let Some(touch) = (if side == Side::Sell { bid } else { ask }) else { continue };
        quoted = true;
        if sized(inst, net, touch, side, slip).is_some() {
            return false;
        }
    }
    quoted
}

/// `price` moved `slip` against us (up for a buy, down for a sell), on the tick.
pub(super) fn through(inst: &Instrument, price: Price, side: Side, slip: Rate) -> Price {
    let d = Amount(i128::from(price.0)).mul_rate(slip, Rounding::Floor).map_or(0, |a| a.0);
    let d = i64::try_from(d).unwrap_or(0);
    match side {
        Side::Sell => inst.round_price(Price(price.0.saturating_sub(d)), Rounding::Ceil),
        Side::Buy => inst.round_price(Price(price.0.saturating_add(d)), Rounding::Floor),
    }
}

/// Whether `inst` trades `asset` (as its base, or a triangle's quote).
pub(super) fn touches(inst: &Instrument, asset: AssetId) -> bool {
    inst.base == asset || inst.quote == asset
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{px, qty, universe};

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn a_long_is_sold_where_most_is_held_on_the_lot_below_the_net() {
        let u = universe();
        let (g, m) = (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc));
        let leg = order(
            amount("0.00123456789"),
            [
                (g, amount("0.001"), Some(px(g, "50000")), Some(px(g, "50010"))),
                (m, amount("0.002"), Some(px(m, "50000")), Some(px(m, "50010"))),
            ]
            .into_iter(),
            Rate::ZERO,
        )
        .expect("above the minimum");
        assert_eq!((leg.inst, leg.side), (m.id, Side::Sell), "sold on MEXC, where more is held");
        assert_eq!(leg.price, px(m, "50000"));
        assert_eq!(leg.qty, qty(m, "0.001234"), "down to MEXC's lot, never past flat");
    }

    #[test]
    fn a_venue_whose_minimum_the_order_misses_is_passed_over() {
        let u = universe();
        let (g, m) = (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc));
        // 0.00004 BTC (2 USDT): below Gate's lot and its 3 USDT minimum, above MEXC's
        // 1 USDT; Gate holds the most, MEXC takes the order.
        let leg = order(
            amount("0.00004"),
            [
                (g, amount("0.5"), Some(px(g, "50000")), Some(px(g, "50010"))),
                (m, amount("0.1"), Some(px(m, "50000")), Some(px(m, "50010"))),
            ]
            .into_iter(),
            Rate::ZERO,
        )
        .expect("MEXC clears it");
        assert_eq!((leg.inst, leg.qty), (m.id, qty(m, "0.00004")));
    }

    #[test]
    fn a_short_is_bought_at_the_ask_moved_by_the_slippage() {
        let u = universe();
        let g = u.instruments.get(u.gate_btc);
        let leg = order(
            amount("-0.01"),
            [(g, Amount::ZERO, Some(px(g, "49990")), Some(px(g, "50000")))].into_iter(),
            Rate::from_bps(10),
        )
        .unwrap();
        assert_eq!((leg.side, leg.price, leg.qty), (Side::Buy, px(g, "50050"), qty(g, "0.01")));
    }

    #[test]
    fn dust_below_the_minimum_a_missing_book_or_a_perpetual_send_nothing() {
        let u = universe();
        let (g, perp) = (u.instruments.get(u.gate_btc), u.instruments.get(u.gate_btc_perp));
        let book = |i| (i, Amount::ZERO, Some(px(i, "49990")), Some(px(i, "50000")));
        // 0.00005 BTC is below Gate's lot of 0.0001; 0.0001 BTC (5 USDT) clears its
        // minimum notional of 3 USDT.
        assert_eq!(order(amount("0.00005"), [book(g)].into_iter(), Rate::ZERO), None);
        assert!(order(amount("0.0001"), [book(g)].into_iter(), Rate::ZERO).is_some());
        assert_eq!(
            order(amount("0.01"), [(g, Amount::ZERO, None, Some(px(g, "50000")))].into_iter(), Rate::ZERO),
            None
        );
        assert_eq!(order(Amount::ZERO, [book(g)].into_iter(), Rate::ZERO), None);
        assert_eq!(order(amount("0.01"), [book(perp)].into_iter(), Rate::ZERO), None, "spot only");
    }

    #[test]
    fn dust_is_a_quoted_net_below_every_venues_minimum() {
        let u = universe();
        let (g, m) = (u.instruments.get(u.gate_btc), u.instruments.get(u.mexc_btc));
        let book = |i| (i, Amount::ZERO, Some(px(i, "49990")), Some(px(i, "50000")));
        // 0.00001 BTC (0.5 USDT): below Gate's lot and MEXC's 1 USDT minimum, either way.
        for net in ["0.00001", "-0.00001"] {
            assert!(is_dust(amount(net), [book(g), book(m)].into_iter(), Rate::ZERO), "{net}");
            assert_eq!(order(amount(net), [book(g), book(m)].into_iter(), Rate::ZERO), None);
        }
        // 0.00004 BTC clears MEXC's minimum: a flatten, not dust.
        assert!(!is_dust(amount("0.00004"), [book(g), book(m)].into_iter(), Rate::ZERO));
        // Nothing, or nothing quoted: not dust.
        assert!(!is_dust(Amount::ZERO, [book(g)].into_iter(), Rate::ZERO));
        assert!(!is_dust(amount("0.00001"), [(g, Amount::ZERO, None, None)].into_iter(), Rate::ZERO));
        assert!(!is_dust(amount("0.00001"), std::iter::empty(), Rate::ZERO));
    }
}
