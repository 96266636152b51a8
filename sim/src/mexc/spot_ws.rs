//! MEXC's spot WebSocket (`/ws`): protobuf pushes (`PushDataV3ApiWrapper` binary
//! frames) on the public aggregated depth, book ticker and deals topics and the limit
//! depth topic, and, on a connection opened with a valid `listenKey`, the private
//! orders, deals and account topics; JSON text acks for subscriptions and pings.

use std::collections::BTreeMap;
use std::sync::Arc;

use pipeline::types::{Amount, Market, Qty, Rounding, Side};
use prost::Message as _;
use serde_json::{Value, json};
use tungstenite::Message;

use super::json::{order_id, order_type_code, spot_status};
use crate::engine::{Event, Exchange, FillView, LevelView, Order, SimInstrument, USER, now_ms};
use crate::proto::{self, Body, PushDataV3ApiWrapper};
use crate::server::{Outbox, Session, Stream, Upgrade, accept_ws, parse_pairs, run_ws};
use crate::venue::{VenueCtx, amt};

/// Serves one MEXC spot WebSocket connection; a `listenKey` query makes it private.
pub fn serve_spot_ws(ctx: Arc<VenueCtx>, stream: Stream) {
    let check = |u: &Upgrade| {
        let key = parse_pairs(&u.query).into_iter().find(|(k, _)| k == "listenKey").map(|(_, v)| v);
        match key {
            None => Ok(()),
            Some(k) => {
                let keys = ctx.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
                if keys.get(&k).is_some_and(|&exp| exp > now_ms()) {
                    Ok(())
                } else {
                    Err((401, "listenKey not exist".into()))
                }
            }
        }
    };
    let Some((ws, up)) = accept_ws(stream, &check) else { return };
    let private = parse_pairs(&up.query).iter().any(|(k, _)| k == "listenKey");
    let feed = ctx.feed();
    let cfg = ctx.ws_loop();
    let mut s = SpotSession { ctx, private, subs: BTreeMap::new() };
    run_ws(ws, feed, &mut s, &cfg);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SpotTopic {
    Depth,
    BookTicker,
    Deals,
    LimitDepth(usize),
    Orders,
    PrivateDeals,
    Account,
}

/// One MEXC spot WebSocket connection: topic -> (kind, instrument).
#[derive(Debug)]
struct SpotSession {
    ctx: Arc<VenueCtx>,
    private: bool,
    subs: BTreeMap<String, (SpotTopic, Option<usize>)>,
}

impl SpotSession {
    fn parse_topic(&self, x: &Exchange, topic: &str) -> Option<(SpotTopic, Option<usize>)> {
        let parts: Vec<&str> = topic.split('@').collect();
        let inst = |s: &str| x.find(Market::Spot, s);
        match parts.as_slice() {
            ["spot", "public.aggre.depth.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::Depth, Some(inst(sym)?)))
            }
            ["spot", "public.aggre.bookTicker.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::BookTicker, Some(inst(sym)?)))
            }
            ["spot", "public.aggre.deals.v3.api.pb", "100ms" | "10ms", sym] => {
                Some((SpotTopic::Deals, Some(inst(sym)?)))
            }
            ["spot", "public.limit.depth.v3.api.pb", sym, n @ ("5" | "10" | "20")] => {
                Some((SpotTopic::LimitDepth(n.parse().ok()?), Some(inst(sym)?)))
            }
            ["spot", "private.orders.v3.api.pb"] if self.private => Some((SpotTopic::Orders, None)),
            ["spot", "private.deals.v3.api.pb"] if self.private => Some((SpotTopic::PrivateDeals, None)),
            ["spot", "private.account.v3.api.pb"] if self.private => Some((SpotTopic::Account, None)),
            _ => None,
        }
    }

    fn send(&self, out: &mut Outbox, topic: &str, symbol: Option<&str>, body: Body) {
        let w = PushDataV3ApiWrapper {
            channel: topic.to_owned(),
            body: Some(body),
            symbol: symbol.map(str::to_owned),
            symbol_id: None,
            create_time: None,
            send_time: Some(now_ms() as i64),
        };
        out.send(Message::binary(w.encode_to_vec()));
    }

    fn topics(&self, kind: impl Fn(&SpotTopic) -> bool, inst: Option<usize>) -> Vec<(String, SpotTopic)> {
        self.subs
            .iter()
            .filter(|(_, (k, i))| kind(k) && (i.is_none() || *i == inst))
            .map(|(t, (k, _))| (t.clone(), *k))
            .collect()
    }
}

fn items(si: &SimInstrument, levels: &[LevelView]) -> Vec<proto::PublicAggreDepthV3ApiItem> {
    levels
        .iter()
        .map(|l| proto::PublicAggreDepthV3ApiItem {
            price: si.price_text(l.price),
            quantity: si.qty_text(l.qty),
        })
        .collect()
}

fn spot_order_proto(si: &SimInstrument, o: &Order, last: Option<Qty>) -> proto::PrivateOrdersV3Api {
    let status = match spot_status(o) {
        "NEW" => 1,
        "FILLED" => 2,
        "PARTIALLY_FILLED" => 3,
        "CANCELED" => 4,
        _ => 5,
    };
    let amount = si.inst.notional(o.price, o.qty, Rounding::Floor).unwrap_or(Amount::ZERO);
    proto::PrivateOrdersV3Api {
        id: order_id(o.id),
        client_id: o.text.clone(),
        price: si.price_text(o.price),
        quantity: si.qty_text(o.qty),
        amount: amt(o.quote_qty.unwrap_or(amount)),
        avg_price: amt(o.avg_price(&si.inst)),
        order_type: order_type_code(o) as i32,
        trade_type: if o.side == Side::Buy { 1 } else { 2 },
        is_maker: o.last_role_maker,
        remain_amount: amt(o
            .quote_qty
            .map(|q| q - o.filled_quote)
            .unwrap_or(amount - o.filled_quote)
            .max(Amount::ZERO)),
        remain_quantity: si.qty_text(if o.quote_qty.is_some() { Qty::ZERO } else { o.left }),
        last_deal_quantity: last.map(|q| si.qty_text(q)),
        cumulative_quantity: si.qty_text(o.filled_qty),
        cumulative_amount: amt(o.filled_quote),
        status,
        create_time: o.create_ms as i64,
    }
}

fn spot_ack(out: &mut Outbox, id: &Value, msg: &str) {
    out.text(json!({"id": id, "code": 0, "msg": msg}).to_string());
}

impl Session for SpotSession {
    fn on_message(&mut self, msg: Message, out: &mut Outbox) {
        let Message::Text(t) = msg else { return };
        let Ok(req) = serde_json::from_str::<Value>(t.as_str()) else {
            return out.text(json!({"id": 0, "code": 0, "msg": "Wrong request format"}).to_string());
        };
        let id = req.get("id").cloned().unwrap_or(json!(0));
        // Method names are matched without regard to case (clients send `ping` as well as `PING`).
        let method = req.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
        let params: Vec<String> = req
            .get("params")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        match method.as_str() {
            "PING" => spot_ack(out, &id, "PONG"),
            "SUBSCRIPTION" => {
                let x = self.ctx.lock();
                let mut okd = Vec::new();
                for topic in &params {
                    match self.parse_topic(&x, topic) {
                        Some(k) if self.subs.len() < 30 => {
                            self.subs.insert(topic.clone(), k);
                            okd.push(topic.clone());
                        }
                        _ => {
                            let msg = format!("Not Subscribed successfully! [{topic}].  Reason： Blocked! ");
                            spot_ack(out, &id, &msg);
                        }
                    }
                }
                drop(x);
                if !okd.is_empty() {
                    spot_ack(out, &id, &okd.join(","));
                }
            }
            "UNSUBSCRIPTION" => {
                for topic in &params {
                    self.subs.remove(topic);
                }
                spot_ack(out, &id, &params.join(","));
            }
            _ => spot_ack(out, &id, "Wrong request format"),
        }
    }

    fn on_event(&mut self, ev: &Event, out: &mut Outbox) {
        if self.subs.is_empty() {
            return;
        }
        match ev {
            Event::Depth { .. } => self.push_depth(ev, out),
            Event::BookTicker { .. } => self.push_book_ticker(ev, out),
            Event::Trade { .. } => self.push_deals(ev, out),
            Event::OrderUpdate { account, order, .. } if *account == USER => self.push_order(order, out),
            Event::UserTrade { account, fill } if *account == USER => self.push_user_deal(fill, out),
            Event::Balance { account, .. } if *account == USER => self.push_account(ev, out),
            _ => {}
        }
    }
}

/// The event type a public topic names: the topic without its symbol.
fn event_type(topic: &str) -> String {
    topic.rsplit_once('@').map(|(a, _)| a.to_owned()).unwrap_or_default()
}

impl SpotSession {
    /// Aggregated depth deltas, and the limit-depth topics' fresh snapshots.
    fn push_depth(&self, ev: &Event, out: &mut Outbox) {
        let Event::Depth { inst, first, last, bids, asks, .. } = ev else { return };
        let depth = self.topics(|k| *k == SpotTopic::Depth, Some(*inst));
        let limit = self.topics(|k| matches!(k, SpotTopic::LimitDepth(_)), Some(*inst));
        if depth.is_empty() && limit.is_empty() {
            return;
        }
        let x = self.ctx.lock();
        let si = x.instruments[*inst].clone();
        let snaps: Vec<_> = limit
            .iter()
            .map(|(t, k)| {
                let n = if let SpotTopic::LimitDepth(n) = k { *n } else { 5 };
                (t.clone(), x.snapshot(*inst, n))
            })
            .collect();
        drop(x);
        for (topic, _) in depth {
            if self.ctx.gap() {
                continue;
            }
            let body = proto::PublicAggreDepthsV3Api {
                asks: items(&si, asks),
                bids: items(&si, bids),
                event_type: event_type(&topic),
                from_version: first.to_string(),
                to_version: last.to_string(),
                last_order_create_time: now_ms() as i64,
            };
            self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreDepths(body));
        }
        for (topic, s) in snaps {
            let body = proto::PublicLimitDepthsV3Api {
                asks: items(&si, &s.asks),
                bids: items(&si, &s.bids),
                event_type: "spot@public.limit.depth.v3.api.pb".into(),
                version: s.seq.to_string(),
                last_order_create_time: now_ms() as i64,
            };
            self.send(out, &topic, Some(si.listing.symbol), Body::PublicLimitDepths(body));
        }
    }

    fn push_book_ticker(&self, ev: &Event, out: &mut Outbox) {
        let Event::BookTicker { inst, seq, bid, ask, .. } = ev else { return };
        let topics = self.topics(|k| *k == SpotTopic::BookTicker, Some(*inst));
        if topics.is_empty() {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        let p = |l: &Option<LevelView>| l.map(|l| si.price_text(l.price)).unwrap_or_default();
        let q = |l: &Option<LevelView>| l.map(|l| si.qty_text(l.qty)).unwrap_or_default();
        for (topic, _) in topics {
            let body = proto::PublicAggreBookTickerV3Api {
                bid_price: p(bid),
                bid_quantity: q(bid),
                ask_price: p(ask),
                ask_quantity: q(ask),
                version: seq.to_string(),
                last_order_create_time: now_ms() as i64,
            };
            self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreBookTicker(body));
        }
    }

    fn push_deals(&self, ev: &Event, out: &mut Outbox) {
        let Event::Trade { inst, id, price, qty, taker_side, time_ms } = ev else { return };
        let topics = self.topics(|k| *k == SpotTopic::Deals, Some(*inst));
        if topics.is_empty() {
            return;
        }
        let si = self.ctx.lock().instruments[*inst].clone();
        for (topic, _) in topics {
            let body = proto::PublicAggreDealsV3Api {
                deals: vec![proto::PublicAggreDealsV3ApiItem {
                    price: si.price_text(*price),
                    quantity: si.qty_text(*qty),
                    trade_type: if *taker_side == Side::Buy { 1 } else { 2 },
                    time: *time_ms as i64,
                    trade_id: format!("{id}X0_{id}X0"),
                }],
                event_type: event_type(&topic),
            };
            self.send(out, &topic, Some(si.listing.symbol), Body::PublicAggreDeals(body));
        }
    }

    /// The private topics of one kind this connection subscribed, and the spot
    /// instrument an account event is about; `None` when nobody listens or it is futures.
    fn private_targets(
        &self,
        kind: SpotTopic,
        inst: usize,
    ) -> Option<(Vec<(String, SpotTopic)>, SimInstrument)> {
        let topics = self.topics(|k| *k == kind, None);
        let si = self.ctx.lock().instruments[inst].clone();
        (!topics.is_empty() && !si.is_futures()).then_some((topics, si))
    }

    fn push_order(&self, order: &Order, out: &mut Outbox) {
        let Some((topics, si)) = self.private_targets(SpotTopic::Orders, order.inst) else { return };
        for (topic, _) in topics {
            let body = spot_order_proto(&si, order, None);
            self.send(out, &topic, Some(si.listing.symbol), Body::PrivateOrders(body));
        }
    }

    fn push_user_deal(&self, fill: &FillView, out: &mut Outbox) {
        let Some((topics, si)) = self.private_targets(SpotTopic::PrivateDeals, fill.inst) else { return };
        for (topic, _) in topics {
            let body = proto::PrivateDealsV3Api {
                price: si.price_text(fill.price),
                quantity: si.qty_text(fill.qty),
                amount: amt(fill.notional),
                trade_type: if fill.side == Side::Buy { 1 } else { 2 },
                is_maker: fill.maker,
                is_self_trade: false,
                trade_id: format!("{}X1", fill.trade_id),
                client_order_id: fill.text.clone(),
                order_id: order_id(fill.order_id),
                fee_amount: amt(fill.fee),
                fee_currency: fill.fee_asset.clone(),
                time: fill.time_ms as i64,
            };
            self.send(out, &topic, Some(si.listing.symbol), Body::PrivateDeals(body));
        }
    }

    fn push_account(&self, ev: &Event, out: &mut Outbox) {
        let Event::Balance { asset, available, locked, change, time_ms, .. } = ev else { return };
        for (topic, _) in self.topics(|k| *k == SpotTopic::Account, None) {
            let body = proto::PrivateAccountV3Api {
                vcoin_name: asset.clone(),
                coin_id: format!("{:032x}", asset.bytes().fold(0u128, |a, b| a * 131 + b as u128)),
                balance_amount: amt(*available),
                balance_amount_change: amt(*change),
                frozen_amount: amt(*locked),
                frozen_amount_change: "0".into(),
                r#type: "ENTRUST".into(),
                time: *time_ms as i64,
            };
            let w = PushDataV3ApiWrapper {
                channel: topic.clone(),
                body: Some(Body::PrivateAccount(body)),
                symbol: None,
                symbol_id: None,
                create_time: Some(*time_ms as i64),
                send_time: Some(now_ms() as i64),
            };
            out.send(Message::binary(w.encode_to_vec()));
        }
    }
}
