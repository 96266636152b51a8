//! Gate.io's WebSocket server, spot (`/ws/v4/`) and USDT futures (`/v4/ws/usdt`) alike:
//! one session per connection with its public subscriptions (`order_book_update`, `obu`,
//! `book_ticker`, `trades`), its private ones (signed on every subscribe) and its login
//! to the trading API ([`super::api`]). Events become pushes in [`super::push`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pipeline::types::Market;
use serde_json::{Value, json};
use tungstenite::Message;

use crate::auth::verify_gate_channel;
use crate::engine::{Event, Exchange, now_ms};
use crate::server::{Outbox, Session, Stream, accept_ws, run_ws};
use crate::venue::{VenueCtx, text_of};

/// Serves one Gate WebSocket connection (spot or futures).
pub fn serve_ws(ctx: Arc<VenueCtx>, market: Market, stream: Stream) {
    let Some((ws, _)) = accept_ws(stream, &|_| Ok(())) else { return };
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = GateSession::new(ctx, market, cfg.conn_no);
    run_ws(ws, feed, &mut s, &cfg);
}

/// One Gate WebSocket connection's subscriptions.
#[derive(Debug)]
pub(super) struct GateSession {
    pub ctx: Arc<VenueCtx>,
    pub market: Market,
    pub prefix: &'static str,
    pub conn_id: String,
    /// Public subscriptions: (channel suffix, instrument).
    pub subs: BTreeSet<(&'static str, usize)>,
    /// obu subscriptions: instrument -> (levels, last update id sent).
    pub obu: BTreeMap<usize, (usize, u64)>,
    /// Private subscriptions: channel suffix -> instruments (None = all).
    pub private: BTreeMap<&'static str, Option<BTreeSet<usize>>>,
    pub logged_in: bool,
}

const PUBLIC: [&str; 4] = ["order_book_update", "obu", "book_ticker", "trades"];
const PRIVATE_SPOT: [&str; 3] = ["orders", "usertrades", "balances"];
const PRIVATE_FUT: [&str; 4] = ["orders", "usertrades", "positions", "balances"];

/// A refusal of a subscribe request: Gate's error code and message.
type SubErr = (i64, String);

impl GateSession {
    fn new(ctx: Arc<VenueCtx>, market: Market, conn_no: u64) -> Self {
        let conn_id =
            format!("{:016x}", 0x5e74_253e_9c79_3974u64 ^ (conn_no.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        GateSession {
            ctx,
            market,
            prefix: if market == Market::Spot { "spot" } else { "futures" },
            conn_id,
            subs: BTreeSet::new(),
            obu: BTreeMap::new(),
            private: BTreeMap::new(),
            logged_in: false,
        }
    }

    pub(super) fn push(&self, out: &mut Outbox, channel: &str, result: Value) {
        let now = now_ms();
        let v = json!({"time": now / 1000, "time_ms": now, "channel": format!("{}.{channel}", self.prefix),
                       "event": "update", "result": result});
        out.text(v.to_string());
    }

    fn ack(&self, out: &mut Outbox, req: &Value, error: Option<SubErr>) {
        let now = now_ms();
        let mut v = json!({
            "time": now / 1000,
            "time_ms": now,
            "conn_id": self.conn_id,
            "trace_id": format!("{:032x}", now as u128 * 0x1000_0001),
            "channel": req.get("channel").cloned().unwrap_or(Value::Null),
            "event": req.get("event").cloned().unwrap_or(Value::Null),
            "payload": req.get("payload").cloned().unwrap_or(json!([])),
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(id) = req.get("id") {
                m.insert("id".into(), id.clone());
            }
            match error {
                None => {
                    m.insert("result".into(), json!({"status": "success"}));
                }
                Some((code, message)) => {
                    m.insert("error".into(), json!({"code": code, "message": message}));
                    m.insert("result".into(), json!({"status": "fail"}));
                }
            }
        }
        out.text(v.to_string());
    }

    fn find(&self, x: &Exchange, sym: &str) -> Option<usize> {
        x.find(self.market, sym)
    }

    fn subscribe(&mut self, req: &Value, out: &mut Outbox) {
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("");
        let Some(name) = channel.strip_prefix(self.prefix).and_then(|c| c.strip_prefix('.')) else {
            return self.ack(out, req, Some((2, format!("Unknown channel {channel}"))));
        };
        let payload: Vec<String> = req
            .get("payload")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(text_of).collect())
            .unwrap_or_default();
        if let Some(&public) = PUBLIC.iter().find(|&&c| c == name) {
            return self.subscribe_public(public, req, &payload, out);
        }
        let private: &[&'static str] = if self.market == Market::Spot { &PRIVATE_SPOT } else { &PRIVATE_FUT };
        match private.iter().find(|&&c| c == name) {
            Some(&name) => self.subscribe_private(name, req, &payload, out),
            None => self.ack(out, req, Some((2, format!("Unknown channel {channel}")))),
        }
    }

    /// The instruments (and `obu` depths) a public subscription's payload names.
    fn public_targets(
        &self,
        x: &Exchange,
        name: &str,
        syms: &[String],
    ) -> Result<Vec<(usize, usize)>, SubErr> {
        let mut insts = Vec::new();
        for s in syms {
            let (sym, levels) = if name == "obu" {
                let mut it = s.split('.');
                match (it.next(), it.next(), it.next()) {
                    (Some("ob"), Some(sym), Some(l)) => (sym.to_owned(), l.parse::<usize>().unwrap_or(50)),
                    _ => return Err((2, format!("invalid payload {s}"))),
                }
            } else {
                (s.clone(), 0)
            };
            match self.find(x, &sym) {
                Some(i) => insts.push((i, levels)),
                // Gate futures.obu answers success for an unknown contract and stays silent.
                None if self.market == Market::Futures && name == "obu" => {}
                None => {
                    let what = if self.market == Market::Spot { "currency pair" } else { "contract" };
                    return Err((2, format!("unknown {what}: {sym}")));
                }
            }
        }
        Ok(insts)
    }

    fn subscribe_public(&mut self, name: &'static str, req: &Value, payload: &[String], out: &mut Outbox) {
        let unsub = req.get("event").and_then(Value::as_str) == Some("unsubscribe");
        let x = self.ctx.lock();
        let syms: Vec<String> = match name {
            "order_book_update" => payload.first().cloned().into_iter().collect(),
            _ => payload.to_vec(),
        };
        let insts = match self.public_targets(&x, name, &syms) {
            Ok(insts) => insts,
            Err(e) => return self.ack(out, req, Some(e)),
        };
        if syms.is_empty() {
            return self.ack(out, req, Some((2, "invalid argument: payload".into())));
        }
        if name == "obu" && !unsub && insts.iter().any(|(i, _)| self.obu.contains_key(i)) {
            let s = syms.first().cloned().unwrap_or_default();
            return self.ack(out, req, Some((2, format!("Alert sub {s}"))));
        }
        self.ack(out, req, None);
        for (i, levels) in insts {
            if unsub {
                self.subs.remove(&(name, i));
                self.obu.remove(&i);
            } else if name == "obu" {
                // The first push is the full book; deltas continue from its id.
                let seq = self.push_obu_snapshot(&x, i, levels, out);
                self.obu.insert(i, (levels, seq));
            } else {
                self.subs.insert((name, i));
            }
        }
    }

    /// Private channels need `auth` on every subscribe.
    fn subscribe_private(&mut self, name: &'static str, req: &Value, payload: &[String], out: &mut Outbox) {
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("");
        let event = req.get("event").and_then(Value::as_str).unwrap_or("");
        let auth = req.get("auth");
        let key = auth.and_then(|a| a.get("KEY")).and_then(Value::as_str).unwrap_or("");
        let sign = auth.and_then(|a| a.get("SIGN")).and_then(Value::as_str).unwrap_or("");
        let time = req.get("time").and_then(Value::as_i64).unwrap_or(0);
        if !verify_gate_channel(&self.ctx.creds, channel, event, time, key, sign) {
            return self.ack(out, req, Some((4, "signature not valid".into())));
        }
        if (time - (now_ms() / 1000) as i64).abs() > 60 {
            return self.ack(out, req, Some((4, "request time expired".into())));
        }
        let filter = match self.private_filter(name, payload) {
            Ok(f) => f,
            Err(e) => return self.ack(out, req, Some(e)),
        };
        self.ack(out, req, None);
        if event == "unsubscribe" {
            self.private.remove(name);
        } else {
            self.private.insert(name, filter);
        }
    }

    /// The instruments a private subscription is for (None: all). Spot names pairs or
    /// `!all`; futures names the user id, then a contract or `!all`; balances none.
    fn private_filter(&self, name: &str, payload: &[String]) -> Result<Option<BTreeSet<usize>>, SubErr> {
        let syms: Vec<&String> = if self.market == Market::Futures {
            payload.iter().skip(1).collect()
        } else {
            payload.iter().collect()
        };
        if name == "balances" || syms.is_empty() || syms.iter().any(|s| s.as_str() == "!all") {
            return Ok(None);
        }
        let x = self.ctx.lock();
        let mut set = BTreeSet::new();
        for s in syms {
            match self.find(&x, s) {
                Some(i) => set.insert(i),
                None => return Err((2, format!("unknown currency pair: {s}"))),
            };
        }
        Ok(Some(set))
    }

    pub(super) fn wants(&self, channel: &str, inst: Option<usize>) -> bool {
        match self.private.get(channel) {
            None => false,
            Some(None) => true,
            Some(Some(set)) => inst.is_some_and(|i| set.contains(&i)),
        }
    }
}

impl Session for GateSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            let now = now_ms();
            let v = json!({"time": now / 1000, "time_ms": now, "channel": "", "event": "",
                           "error": {"code": 1, "message": "invalid request body"}, "result": null});
            return out.text(v.to_string());
        };
        let channel = req.get("channel").and_then(Value::as_str).unwrap_or("");
        if channel == format!("{}.ping", self.prefix) {
            let now = now_ms();
            let v = json!({"time": now / 1000, "time_ms": now, "conn_id": self.conn_id,
                           "channel": format!("{}.pong", self.prefix), "event": "", "result": null});
            return out.text(v.to_string());
        }
        match req.get("event").and_then(Value::as_str) {
            Some("subscribe" | "unsubscribe") => self.subscribe(&req, out),
            Some("api") => self.api(&req, out),
            _ => self.ack(out, &req, Some((1, "invalid request body".into()))),
        }
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        self.push_event(ev, out);
    }
}
