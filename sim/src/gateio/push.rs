//! What a Gate.io WebSocket session pushes for each engine event it subscribed to:
//! book updates (`order_book_update` with Gate's `U`/`u` ids, and `obu` after its full
//! first book), best bid and ask, public trades, and the account's orders, fills,
//! balances and positions. The gap fault drops book updates here, per connection.

use serde_json::json;

use super::json::{futures_levels, futures_order_json, spot_order_push};
use super::ws::GateSession;
use crate::engine::{
    Event, Exchange, FillView, LevelView, Order, OrderEvent, SimInstrument, USER, initial_margin, now_ms,
};
use crate::server::Outbox;
use crate::venue::{amt, num, text_levels};

impl GateSession {
    fn is_futures(&self) -> bool {
        self.market == pipeline::types::Market::Futures
    }

    /// Pushes the full `obu` book of `levels` levels; returns the update id it reflects.
    pub(super) fn push_obu_snapshot(
        &self,
        x: &Exchange,
        inst: usize,
        levels: usize,
        out: &mut Outbox,
    ) -> u64 {
        let snap = x.snapshot(inst, levels);
        let si = &x.instruments[inst];
        let now = now_ms();
        self.push(
            out,
            "obu",
            json!({"t": now, "full": true, "s": format!("ob.{}.{levels}", si.listing.symbol),
                   "u": snap.seq, "b": text_levels(si, &snap.bids), "a": text_levels(si, &snap.asks)}),
        );
        snap.seq
    }

    pub(super) fn push_event(&mut self, ev: &Event, out: &mut Outbox) {
        let futures = self.is_futures();
        match ev {
            Event::Depth { .. } => self.push_depth(ev, out),
            Event::BookTicker { .. } => self.push_book_ticker(ev, out),
            Event::Trade { .. } => self.push_trade(ev, out),
            Event::OrderUpdate { account, event, order } if *account == USER => {
                self.push_order(order, *event, out)
            }
            Event::UserTrade { account, fill } if *account == USER => self.push_user_trade(fill, out),
            Event::Balance { account, .. } if *account == USER && !futures => self.push_balance(ev, out),
            Event::FuturesBalance { account, .. } if *account == USER && futures => {
                self.push_futures_balance(ev, out)
            }
            Event::Position { account, .. } if *account == USER && futures => self.push_position(ev, out),
            _ => {}
        }
    }

    fn push_depth(&mut self, ev: &Event, out: &mut Outbox) {
        let Event::Depth { inst, first, last, bids, asks, time_ms, .. } = ev else { return };
        let futures = self.is_futures();
        let has_obu = self.obu.contains_key(inst);
        let has_obuu = self.subs.contains(&("order_book_update", *inst));
        if !has_obu && !has_obuu {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        if has_obuu && !self.ctx.gap() {
            let (b, a) = if futures {
                (futures_levels(&si, bids), futures_levels(&si, asks))
            } else {
                (text_levels(&si, bids), text_levels(&si, asks))
            };
            let mut r = json!({"t": time_ms, "s": si.listing.symbol, "U": first, "u": last, "b": b, "a": a});
            if let Some(m) = r.as_object_mut() {
                if futures {
                    m.insert("l".into(), json!("100"));
                } else {
                    m.insert("e".into(), json!("depthUpdate"));
                    m.insert("E".into(), json!(time_ms / 1000));
                }
            }
            self.push(out, "order_book_update", r);
        }
        let Some(&(levels, last_u)) = self.obu.get(inst) else { return };
        if *last <= last_u {
            return;
        }
        self.obu.insert(*inst, (levels, *last));
        if self.ctx.gap() {
            return;
        }
        let r = json!({"t": time_ms, "s": format!("ob.{}.{levels}", si.listing.symbol), "U": first, "u": last,
                       "b": text_levels(&si, bids), "a": text_levels(&si, asks)});
        self.push(out, "obu", r);
    }

    fn push_book_ticker(&self, ev: &Event, out: &mut Outbox) {
        let Event::BookTicker { inst, seq, bid, ask, time_ms } = ev else { return };
        if !self.subs.contains(&("book_ticker", *inst)) {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        let p = |l: &Option<LevelView>| l.map(|l| si.price_text(l.price)).unwrap_or_default();
        let r = if self.is_futures() {
            let q = |l: &Option<LevelView>| l.map(|l| si.contracts(l.qty)).unwrap_or(0);
            json!({"t": time_ms, "u": seq, "s": si.listing.symbol, "b": p(bid), "B": q(bid), "a": p(ask), "A": q(ask)})
        } else {
            let q = |l: &Option<LevelView>| l.map(|l| si.qty_text(l.qty)).unwrap_or_default();
            json!({"t": time_ms, "u": seq, "s": si.listing.symbol, "b": p(bid), "B": q(bid), "a": p(ask), "A": q(ask)})
        };
        self.push(out, "book_ticker", r);
    }

    fn push_trade(&self, ev: &Event, out: &mut Outbox) {
        let Event::Trade { inst, id, price, qty, taker_side, time_ms } = ev else { return };
        if !self.subs.contains(&("trades", *inst)) {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        let r = if self.is_futures() {
            json!([{"size": si.contracts(*qty) * taker_side.sign(), "id": id, "create_time": time_ms / 1000,
                    "create_time_ms": time_ms, "price": si.price_text(*price), "contract": si.listing.symbol}])
        } else {
            json!({"id": id, "create_time": time_ms / 1000, "create_time_ms": format!("{time_ms}.000"),
                   "side": taker_side.name(), "currency_pair": si.listing.symbol,
                   "amount": si.qty_text(*qty), "price": si.price_text(*price),
                   "range": format!("{id}-{id}")})
        };
        self.push(out, "trades", r);
    }

    /// The instrument of an account event on `channel`, when this connection subscribed
    /// it and the instrument is of this connection's market.
    fn private_instrument(&self, channel: &str, inst: usize) -> Option<SimInstrument> {
        if !self.wants(channel, Some(inst)) {
            return None;
        }
        let si = self.ctx.lock().instruments[inst].clone();
        (si.is_futures() == self.is_futures()).then_some(si)
    }

    fn push_order(&self, order: &Order, event: OrderEvent, out: &mut Outbox) {
        let Some(si) = self.private_instrument("orders", order.inst) else { return };
        let v = if self.is_futures() {
            futures_order_json(&si, order, self.ctx.uid, true)
        } else {
            spot_order_push(&si, order, self.ctx.uid, event)
        };
        self.push(out, "orders", json!([v]));
    }

    fn push_user_trade(&self, fill: &FillView, out: &mut Outbox) {
        let Some(si) = self.private_instrument("usertrades", fill.inst) else { return };
        let role = if fill.maker { "maker" } else { "taker" };
        let v = if self.is_futures() {
            json!({"id": fill.trade_id.to_string(), "create_time": fill.time_ms / 1000,
                   "create_time_ms": fill.time_ms, "contract": si.listing.symbol,
                   "order_id": fill.order_id.to_string(), "size": si.contracts(fill.qty) * fill.side.sign(),
                   "price": si.price_text(fill.price), "role": role, "text": fill.text,
                   "fee": num(&amt(fill.fee)), "point_fee": 0})
        } else {
            json!({"id": fill.trade_id, "user_id": self.ctx.uid, "order_id": fill.order_id.to_string(),
                   "currency_pair": si.listing.symbol, "create_time": fill.time_ms / 1000,
                   "create_time_ms": format!("{}.000", fill.time_ms), "side": fill.side.name(),
                   "amount": si.qty_text(fill.qty), "role": role, "price": si.price_text(fill.price),
                   "fee": amt(fill.fee), "fee_currency": fill.fee_asset, "point_fee": "0", "gt_fee": "0",
                   "text": fill.text, "amend_text": "-", "biz_info": "-"})
        };
        self.push(out, "usertrades", json!([v]));
    }

    fn push_balance(&self, ev: &Event, out: &mut Outbox) {
        let Event::Balance { asset, available, locked, change, time_ms, .. } = ev else { return };
        if !self.wants("balances", None) {
            return;
        }
        let v = json!([{"timestamp": (time_ms / 1000).to_string(), "timestamp_ms": time_ms.to_string(),
                        "user": self.ctx.uid.to_string(), "currency": asset, "change": amt(*change),
                        "total": amt(*available + *locked), "available": amt(*available),
                        "freeze": amt(*locked), "freeze_change": "0", "change_type": "order-match"}]);
        self.push(out, "balances", v);
    }

    fn push_futures_balance(&self, ev: &Event, out: &mut Outbox) {
        let Event::FuturesBalance { balance, change, kind, text, time_ms, .. } = ev else { return };
        if !self.wants("balances", None) {
            return;
        }
        let v = json!([{"balance": num(&amt(*balance)), "change": num(&amt(*change)), "currency": "usdt",
                        "text": text, "time": time_ms / 1000, "time_ms": time_ms, "type": kind,
                        "user": self.ctx.uid.to_string()}]);
        self.push(out, "balances", v);
    }

    fn push_position(&self, ev: &Event, out: &mut Outbox) {
        let Event::Position { inst, size, cost, realised, time_ms, .. } = ev else { return };
        if !self.wants("positions", Some(*inst)) {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        let entry = si.entry_price(*size, *cost);
        let v = json!([{"contract": si.listing.symbol, "cross_leverage_limit": 0, "entry_price": num(&amt(entry)),
                        "history_pnl": num(&amt(*realised)), "history_point": 0, "last_close_pnl": 0,
                        "leverage": 10, "leverage_max": 100, "liq_price": 0, "maintenance_rate": 0.005,
                        "margin": num(&amt(initial_margin(*cost))), "mode": "single",
                        "realised_pnl": num(&amt(*realised)), "realised_point": 0, "risk_limit": 1000000,
                        "size": si.contracts(*size), "time": time_ms / 1000, "time_ms": time_ms,
                        "user": self.ctx.uid.to_string(), "update_id": 1}]);
        self.push(out, "positions", v);
    }
}
