//! Order entry and matching: an order is validated, checked against faults and scripts,
//! locks what it may spend, crosses the book at price-time priority up to what its time
//! in force and any forced partial fill allow, then rests (GTC) or ends (IOC, FOK,
//! market). Cancels and the market maker's requotes end orders the same way. Every
//! public entry point ends with [`Exchange::flush`].

use pipeline::types::{Amount, Price, Qty, Rounding, Side};
use rand::Rng;

use super::Exchange;
use super::accounts::{AccountId, LEVERAGE, MAKER, NOISE, USER};
use super::events::OrderEvent;
use super::orders::{Finish, Order, OrderKind, OrderRequest, Reject, Scripted, Tif, hold_answer};

impl Exchange {
    /// Places an order for `account`.
    pub fn place(&mut self, account: AccountId, req: OrderRequest) -> Result<Order, Reject> {
        let r = self.place_inner(account, req);
        self.flush();
        r
    }

    /// Scripts the outcome of the trading account's next order on instrument `inst`
    /// (outcomes for one instrument apply in the order they were scripted).
    pub fn script(&mut self, inst: usize, outcome: Scripted) {
        self.scripted.push((inst, outcome));
    }

    fn take_script(&mut self, account: AccountId, inst: usize) -> Option<Scripted> {
        if account != USER {
            return None;
        }
        let i = self.scripted.iter().position(|&(at, _)| at == inst)?;
        Some(self.scripted.remove(i).1)
    }

    fn validate(&self, req: &OrderRequest) -> Result<(), Reject> {
        let i = &self.instruments[req.inst].inst;
        if req.kind == OrderKind::Limit && !(req.price.is_positive() && req.price.is_multiple_of(i.tick)) {
            return Err(Reject::PriceTick);
        }
        if req.kind == OrderKind::Market && req.quote_qty.is_some() && req.side == Side::Buy {
            let q = req.quote_qty.unwrap_or(Amount::ZERO);
            if q <= Amount::ZERO {
                return Err(Reject::NotionalTooSmall);
            }
            if q < i.min_notional {
                return Err(Reject::NotionalTooSmall);
            }
            return Ok(());
        }
        if !(req.qty.is_positive() && req.qty.is_multiple_of(i.lot)) {
            return Err(Reject::QtyLot);
        }
        if req.qty < i.min_qty {
            return Err(Reject::QtyTooSmall);
        }
        if req.qty > i.max_qty {
            return Err(Reject::QtyTooLarge);
        }
        if req.kind == OrderKind::Limit
            && i.notional(req.price, req.qty, Rounding::Floor).is_none_or(|n| n < i.min_notional)
        {
            return Err(Reject::NotionalTooSmall);
        }
        Ok(())
    }

    fn place_inner(&mut self, account: AccountId, req: OrderRequest) -> Result<Order, Reject> {
        self.validate(&req)?;
        let script = self.take_script(account, req.inst);
        if script == Some(Scripted::Reject) {
            return Err(Reject::Balance);
        }
        if account != MAKER && self.faults.reject > 0.0 && self.rng.r#gen::<f64>() < self.faults.reject {
            return Err(Reject::Fault);
        }
        let inst = req.inst;
        if req.tif == Tif::PostOnly && self.crosses(inst, req.side, req.price) {
            return Err(Reject::PostOnly);
        }
        if req.kind == OrderKind::Market && self.liquidity(inst, req.side, None).is_zero() {
            return Err(Reject::NoLiquidity);
        }
        let lock = self.order_lock(account, &req)?;
        // FOK: all or nothing, decided before anything moves.
        let fok_fails = req.tif == Tif::Fok && self.liquidity(inst, req.side, req.limit()) < req.qty;
        let id = self.open_order(account, &req);
        if let Some(Scripted::Silent { answer_after_ms }) = script {
            self.muted.insert(id);
            hold_answer(answer_after_ms);
        }
        if fok_fails {
            self.finish(id, Finish::Fok);
            return Ok(self.orders[&id].clone());
        }
        self.lock(account, inst, req.side, lock);
        if let Some(o) = self.orders.get_mut(&id) {
            o.locked = lock;
        }
        self.emit_order(id, OrderEvent::Put);
        let cap = self.fill_cap(account, &req, script);
        self.match_order(id, req.limit(), cap);
        self.conclude(id, &req, cap);
        Ok(self.orders[&id].clone())
    }

    /// What the order must lock (quote or base for spot, margin for futures), refused
    /// when the account has not got it.
    fn order_lock(&mut self, account: AccountId, req: &OrderRequest) -> Result<Amount, Reject> {
        let si = &self.instruments[req.inst];
        if si.is_futures() {
            return self.futures_margin(account, req);
        }
        let asset = si.locked_asset(req.side);
        let lock = self.spot_lock(req)?;
        if self.spot_balance(account, asset).available < lock {
            return Err(Reject::Balance);
        }
        Ok(lock)
    }

    /// The quote a spot buy may spend at most, or the base a spot sell sells.
    fn spot_lock(&self, req: &OrderRequest) -> Result<Amount, Reject> {
        let i = &self.instruments[req.inst].inst;
        match (req.side, req.kind) {
            (Side::Buy, OrderKind::Limit) => {
                i.notional(req.price, req.qty, Rounding::Ceil).ok_or(Reject::Balance)
            }
            (Side::Buy, OrderKind::Market) => match req.quote_qty {
                Some(q) => Ok(q),
                None => self.market_buy_cost(req.inst, req.qty).ok_or(Reject::NoLiquidity),
            },
            (Side::Sell, _) => i.base_amount(req.qty).ok_or(Reject::Balance),
        }
    }

    /// The initial margin of the part of a futures order that opens or adds to the
    /// position, refused when the account cannot also pay the taker fee on all of it.
    fn futures_margin(&self, account: AccountId, req: &OrderRequest) -> Result<Amount, Reject> {
        let i = &self.instruments[req.inst].inst;
        let wallet = &self.accounts[account as usize].futures;
        let pos = wallet.positions.get(&req.inst).copied().unwrap_or_default();
        let signed = req.qty.0 * req.side.sign();
        let closing =
            if pos.size.0.signum() == -signed.signum() { pos.size.0.abs().min(req.qty.0) } else { 0 };
        let opening = Qty(req.qty.0 - closing);
        if req.reduce_only && opening.is_positive() {
            return Err(Reject::ReduceOnly);
        }
        let px = match req.kind {
            OrderKind::Limit => req.price,
            OrderKind::Market => {
                let best =
                    self.books[req.inst].best(req.side.opposite()).map(|l| l.price).unwrap_or(Price::ZERO);
                // A market order is margined at the best price plus 5%.
                Price(best.0 + best.0 / 20)
            }
        };
        let margin = Amount(i.notional(px, opening, Rounding::Ceil).ok_or(Reject::Margin)?.0 / LEVERAGE);
        let fee = i
            .notional(px, req.qty, Rounding::Ceil)
            .ok_or(Reject::Margin)?
            .mul_rate(i.taker_fee, Rounding::Ceil);
        let need = margin + fee.unwrap_or(Amount::ZERO);
        if wallet.available() < need {
            return Err(Reject::Margin);
        }
        Ok(margin)
    }

    /// Records a new open order for `req` (nothing locked yet) and returns its id.
    fn open_order(&mut self, account: AccountId, req: &OrderRequest) -> u64 {
        let si = &self.instruments[req.inst];
        let fee_asset =
            if si.is_futures() || req.side == Side::Sell { si.listing.quote } else { si.listing.base };
        let now = self.now();
        let id = self.next_order_id;
        self.next_order_id += 1;
        let order = Order {
            id,
            account,
            inst: req.inst,
            side: req.side,
            kind: req.kind,
            tif: req.tif,
            price: if req.kind == OrderKind::Limit { req.price } else { Price::ZERO },
            qty: req.qty,
            quote_qty: req.quote_qty,
            left: if req.quote_qty.is_some() { Qty(i64::MAX / 4) } else { req.qty },
            filled_qty: Qty::ZERO,
            filled_quote: Amount::ZERO,
            fee: Amount::ZERO,
            fee_asset: fee_asset.to_owned(),
            locked: Amount::ZERO,
            finish: Finish::Open,
            text: req.text.clone(),
            reduce_only: req.reduce_only,
            create_ms: now,
            update_ms: now,
            update_id: 1,
            last_role_maker: false,
        };
        self.orders.insert(id, order);
        id
    }

    /// The most a taker may fill: all of it, unless a script or the fault dice force a
    /// partial fill.
    fn fill_cap(&mut self, account: AccountId, req: &OrderRequest, script: Option<Scripted>) -> Qty {
        let lot = self.instruments[req.inst].inst.lot;
        let mut cap = if req.quote_qty.is_some() { Qty(i64::MAX / 4) } else { req.qty };
        if let Some(Scripted::Partial { lots }) = script {
            cap = Qty(cap.0.min(lots.max(0).saturating_mul(lot.0)));
        }
        if account != MAKER
            && req.tif != Tif::Fok
            && self.faults.partial > 0.0
            && self.rng.r#gen::<f64>() < self.faults.partial
        {
            let lots = req.qty.0 / lot.0;
            if lots >= 2 {
                let keep = self.rng.gen_range(1..lots);
                cap = Qty(keep * lot.0);
            }
        }
        cap
    }

    /// After matching: a quote-sized market buy or a filled order ends, an IOC, FOK,
    /// market or capped order ends with its remainder cancelled, a GTC order rests.
    fn conclude(&mut self, id: u64, req: &OrderRequest, cap: Qty) {
        let (left, filled, quote_sized) = {
            let o = &self.orders[&id];
            (o.left, o.filled_qty, o.quote_qty.is_some())
        };
        if quote_sized {
            let how = if filled.is_positive() { Finish::Filled } else { Finish::Ioc };
            if let Some(o) = self.orders.get_mut(&id) {
                o.left = Qty::ZERO;
            }
            self.finish(id, how);
        } else if left.is_zero() {
            self.finish(id, Finish::Filled);
        } else if req.kind == OrderKind::Market || req.tif == Tif::Ioc || req.tif == Tif::Fok || cap < req.qty
        {
            // A capped (forced partial) GTC order does not rest either: the fault models
            // a venue that cut the order.
            self.finish(id, Finish::Ioc);
        } else {
            self.rest(id);
        }
    }

    fn rest(&mut self, id: u64) {
        let o = &self.orders[&id];
        let (inst, side, price, left, account) = (o.inst, o.side, o.price, o.left, o.account);
        self.books[inst].add(side, price, left, id, account == MAKER);
        self.dirty_insts.insert(inst);
    }

    /// Matches order `id` against the book up to `cap` filled quantity.
    fn match_order(&mut self, id: u64, limit: Option<Price>, cap: Qty) {
        let (inst, side) = {
            let o = &self.orders[&id];
            (o.inst, o.side)
        };
        let mut filled = Qty::ZERO;
        loop {
            let o = &self.orders[&id];
            let want = o.left.min(Qty(cap.0 - filled.0));
            if !want.is_positive() {
                break;
            }
            let Some(best) = self.books[inst].best(side.opposite()) else { break };
            let crosses = match (side, limit) {
                (_, None) => true,
                (Side::Buy, Some(l)) => best.price <= l,
                (Side::Sell, Some(l)) => best.price >= l,
            };
            if !crosses {
                break;
            }
            let Some(maker_id) = self.books[inst].first_order(side.opposite(), best.price) else { break };
            let maker_left = self.orders[&maker_id].left;
            let mut q = want.min(maker_left);
            // A market buy sized by quote stops when the budget is spent.
            if let (Side::Buy, Some(_)) = (side, o.quote_qty) {
                let i = &self.instruments[inst].inst;
                let budget = o.locked;
                let base = budget.div(i.price_amount(best.price), Rounding::Floor).unwrap_or(Amount::ZERO);
                let afford = i.round_qty(i.qty_for_base(base, Rounding::Floor).unwrap_or(Qty::ZERO));
                q = q.min(afford);
                if !q.is_positive() {
                    break;
                }
            }
            self.fill(id, maker_id, best.price, q);
            if self.orders[&maker_id].left.is_zero() {
                self.finish(maker_id, Finish::Filled);
            } else {
                self.emit_order(maker_id, OrderEvent::Update);
            }
            filled = Qty(filled.0 + q.0);
        }
    }

    /// Ends an order: releases what it still locks and removes it from the book.
    fn finish(&mut self, id: u64, how: Finish) {
        let Some(o) = self.orders.get(&id) else { return };
        if !o.is_open() {
            return;
        }
        let (inst, side, price, left, account, locked) =
            (o.inst, o.side, o.price, o.left, o.account, o.locked);
        if self.books[inst].remove(side, price, id, left) {
            self.dirty_insts.insert(inst);
        }
        if !locked.is_zero() {
            self.unlock(account, inst, side, locked);
        }
        let now = self.now();
        if let Some(o) = self.orders.get_mut(&id) {
            o.locked = Amount::ZERO;
            o.finish = how;
            o.update_ms = now;
            o.update_id += 1;
        }
        self.emit_order(id, OrderEvent::Finish);
        if account == MAKER || account == NOISE {
            // Finished maker and noise-trader orders are forgotten at the next flush: no
            // client ever asks about them, and a long run would otherwise keep every one
            // (the noise traders alone send one a second per instrument).
            self.finished_makers.push(id);
        }
    }

    /// Cancels an open order of `account`; `None` when there is no such open order.
    pub fn cancel(&mut self, account: AccountId, id: u64) -> Option<Order> {
        let ok = self.orders.get(&id).is_some_and(|o| o.account == account && o.is_open());
        if !ok {
            return None;
        }
        self.finish(id, Finish::Cancelled);
        let o = self.orders.get(&id).cloned();
        self.flush();
        o
    }

    /// Cancels every open order of `account` on `inst` (all instruments when `None`).
    pub fn cancel_all(&mut self, account: AccountId, inst: Option<usize>) -> Vec<Order> {
        let ids: Vec<u64> = self.orders_of(account, inst, true).iter().map(|o| o.id).collect();
        for &id in &ids {
            self.finish(id, Finish::Cancelled);
        }
        let out = ids.iter().filter_map(|id| self.orders.get(id).cloned()).collect();
        self.flush();
        out
    }

    /// Replaces the market maker's quotes on `inst`: cancels all, then rests the new
    /// ones (which may trade against resting user orders).
    pub fn requote(&mut self, inst: usize, quotes: &[(Side, Price, Qty)]) {
        for id in self.books[inst].take_maker_orders() {
            self.finish(id, Finish::Cancelled);
        }
        for &(side, price, qty) in quotes {
            let _ = self.place_inner(MAKER, OrderRequest::new_limit(inst, side, Tif::Gtc, price, qty));
        }
        let orders = &self.orders;
        self.books[inst].retain_maker_orders(|id| orders.get(&id).is_some_and(Order::is_open));
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use pipeline::types::{Market, Venue};

    use super::*;
    use crate::engine::Event;
    use crate::engine::testkit::{bal, limit, px, qty, venue};

    #[test]
    fn finished_noise_orders_are_forgotten_the_traders_are_kept() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Spot, "BTC_USDT").unwrap();
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "50000"), qty(&x, i, "10"))).unwrap();
        for _ in 0..100 {
            let o = x
                .place(crate::engine::NOISE, OrderRequest::new_market(i, Side::Buy, qty(&x, i, "0.01")))
                .unwrap();
            assert_eq!(o.finish, Finish::Filled);
        }
        let u = x.place(USER, OrderRequest::new_market(i, Side::Buy, qty(&x, i, "0.01"))).unwrap();
        x.flush();
        assert!(x.orders_of(crate::engine::NOISE, None, false).is_empty(), "a long run keeps none of them");
        assert_eq!(x.orders_of(USER, None, false).len(), 1, "the trading account's history stays");
        assert_eq!(x.orders_of(USER, None, false)[0].id, u.id);
    }

    #[test]
    fn price_time_priority_and_exact_fees() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Spot, "BTC_USDT").unwrap();
        let p = px(&x, i, "50000");
        // Two asks at the same price: MAKER first, then account 2.
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, p, qty(&x, i, "0.1"))).unwrap();
        x.place(2, limit(i, Side::Sell, Tif::Gtc, p, qty(&x, i, "0.1"))).unwrap();
        let before = x.totals();
        let (tx, rx) = std::sync::mpsc::channel();
        x.subscribe(tx);
        let o = x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "50001"), qty(&x, i, "0.15"))).unwrap();
        // The balance push carries the change since the last one.
        let btc_change = rx.try_iter().find_map(|e| match &*e {
            Event::Balance { account: USER, asset, change, .. } if asset == "BTC" => Some(*change),
            _ => None,
        });
        assert_eq!(btc_change, Some(Amount::parse("0.14985").unwrap()));
        assert_eq!(o.finish, Finish::Filled);
        assert_eq!(o.filled_quote, Amount::from_int(7500));
        // Taker fee 0.1% of 0.15 BTC, paid in BTC.
        assert_eq!(o.fee, Amount::parse("0.00015").unwrap());
        assert_eq!(
            bal(&x, USER, "BTC").available,
            Amount::from_int(1_000_000) + Amount::parse("0.14985").unwrap()
        );
        assert_eq!(bal(&x, USER, "USDT").total(), Amount::from_int(1_000_000 - 7500));
        // The earlier maker was filled first and entirely.
        assert_eq!(x.orders_of(2, Some(i), true)[0].left, qty(&x, i, "0.05"));
        // Account 2 received 2500 USDT less its 0.1% maker fee.
        assert_eq!(
            bal(&x, 2, "USDT").available,
            Amount::from_int(1_000_000) + Amount::parse("2497.5").unwrap()
        );
        assert_eq!(x.totals(), before);
    }

    #[test]
    fn ioc_never_rests_and_fok_is_all_or_nothing() {
        let mut x = venue(Venue::Mexc);
        let i = x.find(Market::Spot, "ETHUSDT").unwrap();
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "3000"), qty(&x, i, "1"))).unwrap();
        let o = x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "3000"), qty(&x, i, "2"))).unwrap();
        assert_eq!((o.finish, o.filled_qty), (Finish::Ioc, qty(&x, i, "1")));
        assert!(x.orders_of(USER, None, true).is_empty());
        assert_eq!(bal(&x, USER, "USDT").locked, Amount::ZERO);
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "3001"), qty(&x, i, "1"))).unwrap();
        let o = x.place(USER, limit(i, Side::Buy, Tif::Fok, px(&x, i, "3001"), qty(&x, i, "1.5"))).unwrap();
        assert_eq!((o.finish, o.filled_qty), (Finish::Fok, Qty::ZERO));
        let o = x.place(USER, limit(i, Side::Buy, Tif::Fok, px(&x, i, "3001"), qty(&x, i, "1"))).unwrap();
        assert_eq!(o.finish, Finish::Filled);
        // MEXC spot: maker 0, taker 0.05% of the base received.
        assert_eq!(o.fee, Amount::parse("0.0005").unwrap());
    }

    #[test]
    fn validation_and_balance_rejects() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Spot, "BTC_USDT").unwrap();
        let q = qty(&x, i, "0.001");
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000.05"), q)).unwrap_err(),
            Reject::PriceTick
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000"), qty(&x, i, "0.0000015")))
                .unwrap_err(),
            Reject::QtyLot
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "1000"), qty(&x, i, "0.001"))).unwrap_err(),
            Reject::NotionalTooSmall
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000"), qty(&x, i, "30"))).unwrap_err(),
            Reject::Balance
        );
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "50000"), q)).unwrap();
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::PostOnly, px(&x, i, "50000"), q)).unwrap_err(),
            Reject::PostOnly
        );
    }
}
