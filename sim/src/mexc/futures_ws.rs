//! MEXC's futures WebSocket (`/edge`): JSON requests (`sub.depth`, `sub.depth.full`,
//! `sub.deal`, `sub.ticker` and their `unsub.`, `login`, `personal.filter`, `ping`) and
//! JSON pushes; after a login, the account's orders, deals, positions and assets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pipeline::types::{Market, Side};
use serde_json::{Value, json};
use tungstenite::Message;

use super::json::{fut_levels, futures_order_json, ticker_json};
use crate::auth::verify_mexc_login;
use crate::engine::{Event, FillView, Order, USER, initial_margin, now_ms};
use crate::server::{Outbox, Session, Stream, accept_ws, run_ws};
use crate::venue::{VenueCtx, amt, num, text_of};

/// Serves one MEXC futures WebSocket connection.
pub fn serve_futures_ws(ctx: Arc<VenueCtx>, stream: Stream) {
    let Some((ws, _)) = accept_ws(stream, &|_| Ok(())) else { return };
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = FuturesSession {
        ctx,
        subs: BTreeSet::new(),
        full: BTreeMap::new(),
        logged_in: false,
        ticker_ms: BTreeMap::new(),
    };
    run_ws(ws, feed, &mut s, &cfg);
}

/// One MEXC futures WebSocket connection.
#[derive(Debug)]
struct FuturesSession {
    ctx: Arc<VenueCtx>,
    /// (channel, instrument, compressed) for depth, deal, ticker.
    subs: BTreeSet<(&'static str, usize, bool)>,
    /// depth.full subscriptions: instrument -> levels.
    full: BTreeMap<usize, usize>,
    logged_in: bool,
    ticker_ms: BTreeMap<usize, u64>,
}

impl FuturesSession {
    fn reply(&self, out: &mut Outbox, channel: &str, data: Value) {
        let now = now_ms();
        out.text(json!({"channel": channel, "data": data, "ts": now}).to_string());
    }

    fn push(&self, out: &mut Outbox, channel: &str, symbol: Option<&str>, data: Value) {
        let now = now_ms();
        let mut v = json!({"channel": channel, "data": data, "ts": now});
        if let (Some(s), Some(m)) = (symbol, v.as_object_mut()) {
            m.insert("symbol".into(), json!(s));
        }
        out.text(v.to_string());
    }

    fn login(&mut self, param: &Value, out: &mut Outbox) {
        let key = param.get("apiKey").and_then(Value::as_str).unwrap_or("");
        let rt = param.get("reqTime").and_then(text_of).unwrap_or_default();
        let sig = param.get("signature").and_then(Value::as_str).unwrap_or("");
        let fresh = rt.parse::<i64>().is_ok_and(|t| (t - now_ms() as i64).abs() <= 60_000);
        if fresh && verify_mexc_login(&self.ctx.creds, key, &rt, sig) {
            self.logged_in = true;
            return self.reply(out, "rs.login", json!("success"));
        }
        self.reply(out, "rs.error", json!("Signature verification failed!"))
    }

    /// `sub.<channel>` and `unsub.<channel>` for depth, depth.full, deal and ticker.
    fn subscribe(&mut self, method: &str, param: &Value, out: &mut Outbox) {
        let (unsub, name) = match method.strip_prefix("sub.") {
            Some(n) => (false, n),
            None => match method.strip_prefix("unsub.") {
                Some(n) => (true, n),
                None => return self.reply(out, "rs.error", json!(format!("Unknown method {method}"))),
            },
        };
        let chan: &'static str = match name {
            "depth" => "depth",
            "depth.full" => "depth.full",
            "deal" => "deal",
            "ticker" => "ticker",
            _ => return self.reply(out, "rs.error", json!(format!("Unknown method {method}"))),
        };
        let symbol = param.get("symbol").and_then(Value::as_str).unwrap_or("");
        let Some(inst) = self.ctx.lock().find(Market::Futures, symbol) else {
            return self.reply(out, "rs.error", json!(format!("Contract [{symbol}] not exists")));
        };
        let ack = format!("rs.{}{}", if unsub { "unsub." } else { "sub." }, name);
        self.reply(out, &ack, json!("success"));
        if unsub {
            self.subs.retain(|s| !(s.0 == chan && s.1 == inst));
            if chan == "depth.full" {
                self.full.remove(&inst);
            }
            return;
        }
        if chan == "depth.full" {
            let limit = param.get("limit").and_then(text_of).and_then(|l| l.parse().ok()).unwrap_or(20usize);
            self.full.insert(inst, limit);
        } else {
            let compress = param.get("compress").and_then(Value::as_bool).unwrap_or(true);
            self.subs.insert((chan, inst, compress));
        }
    }
}

impl Session for FuturesSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            return self.reply(out, "rs.error", json!("Request format error!"));
        };
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let param = req.get("param").cloned().unwrap_or(Value::Null);
        if method == "ping" {
            let now = now_ms();
            return out.text(json!({"channel": "pong", "data": now, "ts": now}).to_string());
        }
        if method == "login" {
            return self.login(&param, out);
        }
        if method == "personal.filter" {
            return self.reply(out, "rs.personal.filter", json!("success"));
        }
        self.subscribe(method, &param, out);
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        match ev {
            Event::Depth { .. } => self.push_depth(ev, out),
            Event::BookTicker { inst, time_ms, .. } => self.push_ticker(*inst, *time_ms, out),
            Event::Trade { .. } => self.push_deal(ev, out),
            Event::OrderUpdate { account, order, .. } if *account == USER && self.logged_in => {
                self.push_order(order, out)
            }
            Event::UserTrade { account, fill } if *account == USER && self.logged_in => {
                self.push_user_deal(fill, out)
            }
            Event::Position { account, .. } if *account == USER && self.logged_in => {
                self.push_position(ev, out)
            }
            Event::FuturesBalance { account, .. } if *account == USER && self.logged_in => {
                self.push_asset(ev, out)
            }
            _ => {}
        }
    }
}

impl FuturesSession {
    /// Depth deltas per `sub.depth` (with `begin`/`end` when compressed), and a fresh
    /// snapshot per `sub.depth.full`.
    fn push_depth(&self, ev: &Event, out: &mut Outbox) {
        let Event::Depth { inst, version, bids, asks, time_ms, .. } = ev else { return };
        let depth: Vec<bool> =
            self.subs.iter().filter(|s| s.0 == "depth" && s.1 == *inst).map(|s| s.2).collect();
        let full = self.full.get(inst).copied();
        if depth.is_empty() && full.is_none() {
            return;
        }
        let x = self.ctx.lock();
        let si = x.instruments[*inst].clone();
        let snap = full.map(|n| x.snapshot(*inst, n));
        drop(x);
        let sym = si.listing.symbol;
        for compress in depth {
            if self.ctx.gap() {
                continue;
            }
            let mut d = json!({"cts": time_ms, "asks": fut_levels(&si, asks), "bids": fut_levels(&si, bids),
                               "version": version});
            if let (true, Some(m)) = (compress, d.as_object_mut()) {
                m.insert("begin".into(), json!(version));
                m.insert("end".into(), json!(version));
            }
            self.push(out, "push.depth", Some(sym), d);
        }
        if let Some(s) = snap {
            let d = json!({"cts": time_ms, "asks": fut_levels(&si, &s.asks), "bids": fut_levels(&si, &s.bids),
                           "version": s.version});
            self.push(out, "push.depth.full", Some(sym), d);
        }
    }

    /// About once a second, as the venue does.
    fn push_ticker(&mut self, inst: usize, time_ms: u64, out: &mut Outbox) {
        if !self.subs.iter().any(|s| s.0 == "ticker" && s.1 == inst) {
            return;
        }
        if self.ticker_ms.get(&inst).is_some_and(|&t| time_ms.saturating_sub(t) < 1000) {
            return;
        }
        self.ticker_ms.insert(inst, time_ms);
        let x = self.ctx.lock();
        let t = ticker_json(&x, inst);
        let sym = x.instruments[inst].listing.symbol;
        drop(x);
        self.push(out, "push.ticker", Some(sym), t);
    }

    fn push_deal(&self, ev: &Event, out: &mut Outbox) {
        let Event::Trade { inst, price, qty, taker_side, time_ms, .. } = ev else { return };
        if !self.subs.iter().any(|s| s.0 == "deal" && s.1 == *inst) {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        let d = json!([{"p": num(&si.price_text(*price)), "v": si.contracts(*qty),
                        "T": if *taker_side == Side::Buy { 1 } else { 2 }, "O": 3, "M": 2, "t": time_ms}]);
        self.push(out, "push.deal", Some(si.listing.symbol), d);
    }

    fn push_order(&self, order: &Order, out: &mut Outbox) {
        let si = self.ctx.lock().instruments[order.inst].clone();
        if si.is_futures() {
            self.push(out, "push.personal.order", None, futures_order_json(&si, order));
        }
    }

    fn push_user_deal(&self, fill: &FillView, out: &mut Outbox) {
        let si = self.ctx.lock().instruments[fill.inst].clone();
        if !si.is_futures() {
            return;
        }
        let side = if fill.side == Side::Buy { 1 } else { 3 };
        let d = json!({"category": 1, "externalOid": fill.text, "fee": num(&amt(fill.fee)),
                       "feeCurrency": "USDT", "id": fill.trade_id.to_string(), "isSelf": false,
                       "orderId": fill.order_id.to_string(), "positionMode": 2,
                       "price": num(&si.price_text(fill.price)), "profit": 0, "side": side,
                       "symbol": si.listing.symbol, "taker": !fill.maker, "timestamp": fill.time_ms,
                       "vol": si.contracts(fill.qty)});
        self.push(out, "push.personal.order.deal", None, d);
    }

    fn push_position(&self, ev: &Event, out: &mut Outbox) {
        let Event::Position { inst, size, cost, realised, .. } = ev else { return };
        let si = self.ctx.lock().instruments[*inst].clone();
        let entry = si.entry_price(*size, *cost);
        let im = initial_margin(*cost);
        let d = json!({"autoAddIm": false, "closeAvgPrice": 0, "closeVol": 0, "frozenVol": 0,
                       "holdAvgPrice": num(&amt(entry)), "holdFee": 0, "holdVol": si.contracts(*size).abs(),
                       "im": num(&amt(im)), "leverage": 10, "liquidatePrice": 0, "oim": num(&amt(im)),
                       "openAvgPrice": num(&amt(entry)), "openType": 2, "positionId": 1_000_000 + *inst as u64,
                       "positionType": if size.0 >= 0 { 1 } else { 2 }, "realised": num(&amt(*realised)),
                       "state": if size.is_zero() { 3 } else { 1 }, "symbol": si.listing.symbol});
        self.push(out, "push.personal.position", None, d);
    }

    fn push_asset(&self, ev: &Event, out: &mut Outbox) {
        let Event::FuturesBalance { balance, available, .. } = ev else { return };
        let x = self.ctx.lock();
        let fa = x.account(USER).map(|a| a.futures.clone()).unwrap_or_default();
        drop(x);
        let d = json!({"availableBalance": num(&amt(*available)), "bonus": 0, "currency": "USDT",
                       "frozenBalance": num(&amt(fa.order_margin)), "positionMargin": num(&amt(fa.position_margin())),
                       "cashBalance": num(&amt(*balance))});
        self.push(out, "push.personal.asset", None, d);
    }
}
