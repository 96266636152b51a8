//! Simulated MEXC over real loopback sockets: spot REST v3 and futures REST with correct
//! and wrong signatures, the spot protobuf WebSocket (decoded with prost), listen keys and
//! private protobuf channels, the futures JSON WebSocket with login.

mod client;

use std::time::Duration;

use client::*;
use pipeline::types::{Amount, Venue};
use prost::Message as _;
use serde_json::json;
use sim::proto::{Body, PushDataV3ApiWrapper};
use sim::{Faults, Sim, SimConfig};
use tungstenite::Message;

fn start(faults: &str) -> Sim {
    Sim::start(SimConfig {
        plain: true,
        seed: 5,
        faults: Faults::parse(faults).unwrap(),
        ..SimConfig::default()
    })
    .unwrap()
}

fn next_pb(ws: &mut Ws, pred: impl Fn(&PushDataV3ApiWrapper) -> bool) -> PushDataV3ApiWrapper {
    for _ in 0..500 {
        if let Some(Message::Binary(b)) = next(ws, Duration::from_secs(3)) {
            let w = PushDataV3ApiWrapper::decode(b.as_ref()).unwrap();
            if pred(&w) {
                return w;
            }
        }
    }
    panic!("no matching protobuf frame");
}

#[test]
fn spot_rest_metadata_depth_account_and_orders() {
    let sim = start("");
    let ep = sim.endpoints().mexc.clone();
    let (k, s) = (ep.api_key.as_str(), ep.api_secret.expose());
    let mut h = Http::new(&ep.rest, None);
    assert_eq!(h.get("/api/v3/ping"), (200, json!({})));
    let (_, t) = h.get("/api/v3/time");
    assert!(t["serverTime"].as_u64().unwrap() > 1_700_000_000_000);
    let (_, info) = h.get("/api/v3/exchangeInfo?symbol=ETHBTC");
    let sym = &info["symbols"][0];
    assert_eq!(
        (sym["symbol"].as_str(), sym["quoteAsset"].as_str(), sym["quoteAssetPrecision"].as_i64()),
        (Some("ETHBTC"), Some("BTC"), Some(6))
    );
    let (_, d) = h.get("/api/v3/depth?symbol=BTCUSDT&limit=5");
    assert!(d["lastUpdateId"].as_u64().is_some() && d["asks"].as_array().unwrap().len() == 5);
    let (st, acc) = h.mexc(k, s, "GET", "/api/v3/account", "");
    assert_eq!(st, 200);
    let usdt = acc["balances"].as_array().unwrap().iter().find(|b| b["asset"] == "USDT").unwrap();
    assert_eq!(usdt["free"], "100000");
    // Wrong signature: MEXC's real error.
    let (st, e) = h.mexc(k, "bad", "GET", "/api/v3/account", "");
    assert_eq!(
        (st, e["code"].as_i64(), e["msg"].as_str()),
        (400, Some(700002), Some("Signature for this request is not valid."))
    );
    // A timestamp outside recvWindow.
    let q = format!("timestamp={}", now_ms() - 10_000);
    let sig = hmac256(s, &q);
    let (_, e) = h.call(
        "GET",
        &format!("/api/v3/account?{q}&signature={sig}"),
        &[("X-MEXC-APIKEY", k.to_owned())],
        "",
    );
    assert_eq!(e["code"].as_i64(), Some(700003));

    // Resting order, query, open orders, cancel.
    let bid: f64 = text(&d["bids"][0][0]).parse().unwrap();
    let low = format!("{:.2}", bid * 0.9);
    let (st, o) = h.mexc(
        k,
        s,
        "POST",
        "/api/v3/order",
        &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price={low}&newClientOrderId=c1"),
    );
    assert_eq!(st, 200, "{o}");
    let id = o["orderId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("C02__"));
    let (_, q) = h.mexc(k, s, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}"));
    assert_eq!((q["status"].as_str(), q["clientOrderId"].as_str()), (Some("NEW"), Some("c1")));
    let (_, open) = h.mexc(k, s, "GET", "/api/v3/openOrders", "symbol=BTCUSDT");
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (_, c) = h.mexc(k, s, "DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=c1");
    assert_eq!(c["status"], "CANCELED");
    let (_, e) = h.mexc(k, s, "DELETE", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}"));
    assert_eq!(e["code"].as_i64(), Some(-2011));
    // A market buy sized in quote takes the book; the fee (0.05%) is paid in BTC.
    let (st, o) =
        h.mexc(k, s, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=500");
    assert_eq!(st, 200, "{o}");
    let (_, q) = h.mexc(
        k,
        s,
        "GET",
        "/api/v3/order",
        &format!("symbol=BTCUSDT&orderId={}", o["orderId"].as_str().unwrap()),
    );
    assert_eq!(q["status"], "FILLED");
    let spent = Amount::parse(q["cummulativeQuoteQty"].as_str().unwrap()).unwrap();
    assert!(spent <= Amount::from_int(500) && spent > Amount::from_int(499));
    let got = Amount::parse(q["executedQty"].as_str().unwrap()).unwrap();
    let fee = got
        .mul_rate(pipeline::types::Rate::parse("0.0005").unwrap(), pipeline::types::Rounding::Ceil)
        .unwrap();
    assert_eq!(sim.spot_balance(Venue::Mexc, "BTC").available, Amount::from_int(1) + got - fee);
    assert_eq!(sim.spot_balance(Venue::Mexc, "USDT").total(), Amount::from_int(100_000) - spent);
    let (_, e) =
        h.mexc(k, s, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=100&price=90000");
    assert_eq!(e["code"].as_i64(), Some(10101));
    let (_, e) =
        h.mexc(k, s, "POST", "/api/v3/order", "symbol=NOPEUSDT&side=BUY&type=LIMIT&quantity=1&price=1");
    assert_eq!(e["code"].as_i64(), Some(10007));
}

#[test]
fn spot_protobuf_feeds_chain_versions_and_blocked_topics_are_refused() {
    let sim = start("");
    let ep = sim.endpoints().mexc.clone();
    let mut ws = ws(&ep.ws_spot, None);
    let topic = "spot@public.aggre.depth.v3.api.pb@100ms@ETHUSDT";
    send(
        &mut ws,
        json!({"method": "SUBSCRIPTION", "params": [topic, "spot@public.aggre.bookTicker.v3.api.pb@100ms@ETHUSDT"]}),
    );
    let ack = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["msg"].as_str().is_some_and(|m| m.contains("depth"))
    })
    .unwrap();
    assert_eq!((ack["code"].as_i64(), ack["id"].as_i64()), (Some(0), Some(0)));
    let mut prev: Option<u64> = None;
    for _ in 0..8 {
        let w = next_pb(&mut ws, |w| w.channel == topic);
        assert_eq!(w.symbol.as_deref(), Some("ETHUSDT"));
        assert!(w.send_time.is_some());
        let Some(Body::PublicAggreDepths(d)) = w.body else { panic!("wrong body") };
        assert_eq!(d.event_type, "spot@public.aggre.depth.v3.api.pb@100ms");
        let (from, to): (u64, u64) = (d.from_version.parse().unwrap(), d.to_version.parse().unwrap());
        if let Some(p) = prev {
            assert_eq!(from, p + 1, "fromVersion must be the previous toVersion + 1");
        }
        prev = Some(to);
    }
    let bt = next_pb(&mut ws, |w| matches!(w.body, Some(Body::PublicAggreBookTicker(_))));
    let Some(Body::PublicAggreBookTicker(t)) = bt.body else { unreachable!() };
    assert!(t.bid_price.parse::<f64>().unwrap() < t.ask_price.parse::<f64>().unwrap());
    // The REST snapshot's lastUpdateId lives on the same counter.
    let (_, d) = Http::new(&ep.rest, None).get("/api/v3/depth?symbol=ETHUSDT");
    assert!(d["lastUpdateId"].as_u64().unwrap() >= prev.unwrap());
    // Legacy JSON topics: accepted with code 0 but "Blocked!".
    let legacy = "spot@public.bookTicker.v3.api@BTCUSDT";
    send(&mut ws, json!({"method": "SUBSCRIPTION", "params": [legacy]}));
    let b = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["msg"].as_str().is_some_and(|m| m.contains("Blocked"))
    })
    .unwrap();
    assert_eq!(b["msg"], format!("Not Subscribed successfully! [{legacy}].  Reason： Blocked! "));
    assert_eq!(b["code"].as_i64(), Some(0));
    send(&mut ws, json!({"method": "PING"}));
    assert!(next_json(&mut ws, Duration::from_secs(3), |v| v["msg"] == "PONG").is_some());
    // Partial-depth snapshots and trades (the model's noise traders trade about once a second).
    let (ld, deals) =
        ("spot@public.limit.depth.v3.api.pb@BTCUSDT@5", "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT");
    send(&mut ws, json!({"method": "SUBSCRIPTION", "params": [ld, deals], "id": 3}));
    let w = next_pb(&mut ws, |w| w.channel == ld);
    let Some(Body::PublicLimitDepths(d)) = w.body else { panic!("wrong body") };
    assert_eq!((d.asks.len(), d.bids.len()), (5, 5));
    let w = next_pb(&mut ws, |w| w.channel == deals);
    let Some(Body::PublicAggreDeals(d)) = w.body else { panic!("wrong body") };
    assert!(matches!(d.deals[0].trade_type, 1 | 2) && d.deals[0].trade_id.contains("X0_"));
}

#[test]
fn listen_key_private_protobuf_channels() {
    let sim = start("");
    let ep = sim.endpoints().mexc.clone();
    let (k, s) = (ep.api_key.as_str(), ep.api_secret.expose());
    let mut h = Http::new(&ep.rest, None);
    let (_, lk) = h.mexc(k, s, "POST", "/api/v3/userDataStream", "");
    let key = lk["listenKey"].as_str().unwrap().to_owned();
    let (st, _) = h.mexc(k, s, "PUT", "/api/v3/userDataStream", &format!("listenKey={key}"));
    assert_eq!(st, 200);
    let mut ws = ws(&format!("{}?listenKey={key}", ep.ws_spot), None);
    send(
        &mut ws,
        json!({"method": "SUBSCRIPTION", "params": ["spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb", "spot@private.account.v3.api.pb"]}),
    );
    next_json(&mut ws, Duration::from_secs(3), |v| {
        v["msg"].as_str().is_some_and(|m| m.contains("private.orders"))
    })
    .unwrap();
    let (st, o) = h.mexc(k, s, "POST", "/api/v3/order", "symbol=SOLUSDT&side=SELL&type=MARKET&quantity=2");
    assert_eq!(st, 200, "{o}");
    let id = o["orderId"].as_str().unwrap().to_owned();
    let w = next_pb(&mut ws, |w| matches!(&w.body, Some(Body::PrivateDeals(d)) if d.order_id == id));
    let Some(Body::PrivateDeals(d)) = w.body else { unreachable!() };
    assert_eq!((d.trade_type, d.is_maker, d.fee_currency.as_str()), (2, false, "USDT"));
    let w =
        next_pb(&mut ws, |w| matches!(&w.body, Some(Body::PrivateOrders(o)) if o.id == id && o.status == 2));
    assert_eq!(w.channel, "spot@private.orders.v3.api.pb");
    next_pb(&mut ws, |w| matches!(&w.body, Some(Body::PrivateAccount(a)) if a.vcoin_name == "SOL"));
    // An unknown listen key is refused at the handshake.
    let bad = std::panic::catch_unwind(|| client::ws(&format!("{}?listenKey=nope", ep.ws_spot), None));
    assert!(bad.is_err());
    let (st, _) = h.mexc(k, s, "DELETE", "/api/v3/userDataStream", &format!("listenKey={key}"));
    assert_eq!(st, 200);
}

#[test]
fn futures_rest_and_websocket() {
    let sim = start("");
    let ep = sim.endpoints().mexc.clone();
    let (k, s) = (ep.api_key.clone(), ep.api_secret.expose().to_owned());
    let mut h = Http::new(&ep.rest, None);
    let (_, d) = h.get("/api/v1/contract/detail?symbol=BTC_USDT");
    assert_eq!(
        (d["success"].as_bool(), d["data"]["contractSize"].to_string().as_str()),
        (Some(true), "0.0001")
    );
    let (_, book) = h.get("/api/v1/contract/depth/BTC_USDT");
    let lvl = &book["data"]["asks"][0];
    assert!(lvl[0].is_f64() && lvl[1].is_i64() && lvl[2].is_i64(), "{lvl}");
    let (_, e) = h.get("/api/v1/contract/depth/NOPE_USDT");
    assert_eq!((e["code"].as_i64(), e["message"].as_str()), (Some(1001), Some("Contract does not exist")));
    let (_, e) = h.mexc_fut(&k, "bad", "GET", "/api/v1/private/account/assets", "", "");
    assert_eq!((e["success"].as_bool(), e["code"].as_i64()), (Some(false), Some(602)));
    let (_, a) = h.mexc_fut(&k, &s, "GET", "/api/v1/private/account/assets", "", "");
    assert_eq!(a["data"][0]["availableBalance"].to_string(), "100000");

    let mut ws = ws(&ep.ws_futures, None);
    send(&mut ws, json!({"method": "sub.depth", "param": {"symbol": "BTC_USDT"}}));
    assert!(
        next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "rs.sub.depth"
            && v["data"] == "success")
        .is_some()
    );
    let mut prev: Option<u64> = None;
    for _ in 0..5 {
        let p = next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "push.depth").unwrap();
        let (b, e, v) = (
            p["data"]["begin"].as_u64().unwrap(),
            p["data"]["end"].as_u64().unwrap(),
            p["data"]["version"].as_u64().unwrap(),
        );
        assert_eq!(e, v);
        if let Some(pr) = prev {
            assert_eq!(b, pr + 1);
        }
        prev = Some(e);
    }
    send(&mut ws, json!({"method": "sub.depth", "param": {"symbol": "NOPE_USDT"}}));
    let e = next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "rs.error").unwrap();
    assert_eq!(e["data"], "Contract [NOPE_USDT] not exists");
    send(&mut ws, json!({"method": "ping"}));
    assert!(next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "pong").is_some());
    let rt = now_ms().to_string();
    send(
        &mut ws,
        json!({"method": "login", "param": {"apiKey": k, "reqTime": rt, "signature": hmac256(&s, &format!("{k}{rt}"))}}),
    );
    assert!(
        next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "rs.login" && v["data"] == "success")
            .is_some()
    );

    // Open a short with an IOC order below the bid; the private pushes follow.
    let bid: f64 = text(&book["data"]["bids"][0][0]).parse().unwrap();
    let body = json!({"symbol": "BTC_USDT", "price": format!("{:.1}", bid * 0.99), "vol": 7, "side": 3, "type": 3, "openType": 2, "leverage": 10}).to_string();
    let (_, r) = h.mexc_fut(&k, &s, "POST", "/api/v1/private/order/submit", "", &body);
    assert_eq!(r["success"], true, "{r}");
    let id = r["data"].as_u64().unwrap();
    let p = next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "push.personal.position").unwrap();
    assert_eq!((p["data"]["holdVol"].as_i64(), p["data"]["positionType"].as_i64()), (Some(7), Some(2)));
    let o = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["channel"] == "push.personal.order" && v["data"]["state"] == 3
    })
    .unwrap();
    assert_eq!(
        (o["data"]["orderId"].as_str(), o["data"]["dealVol"].as_i64()),
        (Some(id.to_string().as_str()), Some(7))
    );
    let (_, g) = h.mexc_fut(&k, &s, "GET", &format!("/api/v1/private/order/get/{id}"), "", "");
    assert_eq!(g["data"]["state"].as_i64(), Some(3));
    let (_, pos) =
        h.mexc_fut(&k, &s, "GET", "/api/v1/private/position/open_positions", "symbol=BTC_USDT", "");
    assert_eq!(pos["data"][0]["holdVol"].as_i64(), Some(7));
    assert_eq!(sim.futures_position(Venue::Mexc, "BTC_USDT").contracts, -7);
    // Resting order cancelled through order/cancel.
    let body = json!({"symbol": "BTC_USDT", "price": format!("{:.1}", bid * 0.9), "vol": 1, "side": 1, "type": 1, "openType": 2}).to_string();
    let (_, r) = h.mexc_fut(&k, &s, "POST", "/api/v1/private/order/create", "", &body);
    let oid = r["data"]["orderId"].as_str().unwrap().to_owned();
    let (_, open) = h.mexc_fut(&k, &s, "GET", "/api/v1/private/order/list/open_orders/BTC_USDT", "", "");
    assert_eq!(open["data"].as_array().unwrap().len(), 1);
    let (_, c) = h.mexc_fut(&k, &s, "POST", "/api/v1/private/order/cancel", "", &format!("[{oid}]"));
    assert_eq!(c["data"][0]["errorCode"].as_i64(), Some(0));
    assert_eq!(sim.account(Venue::Mexc).open_orders, 0);
}
