//! Simulated Gate.io over real loopback sockets: REST metadata, books, balances and the
//! order lifecycle with correct and wrong signatures; WebSocket feeds with sequence
//! continuity; private channels; the WebSocket trading API; faults.

mod client;

use std::time::{Duration, Instant};

use client::*;
use pipeline::types::{Amount, Venue};
use serde_json::{Value, json};
use sim::{Faults, Sim, SimConfig};

fn start(faults: &str) -> Sim {
    Sim::start(SimConfig {
        plain: true,
        seed: 11,
        faults: Faults::parse(faults).unwrap(),
        ..SimConfig::default()
    })
    .unwrap()
}

fn best(book: &Value, side: &str) -> f64 {
    text(&book[side][0][0]).parse().unwrap()
}

#[test]
fn rest_metadata_books_balances_and_signatures() {
    let sim = start("");
    let ep = sim.endpoints().gateio.clone();
    let (k, s) = (ep.api_key.as_str(), ep.api_secret.expose());
    let mut h = Http::new(&ep.rest, None);
    let (st, pairs) = h.get("/spot/currency_pairs");
    assert_eq!(st, 200);
    for name in ["x-in-time", "x-out-time", "x-gate-trace-id", "x-gate-ratelimit-requests-remain"] {
        assert!(h.headers.iter().any(|(k, _)| k == name), "no {name} header");
    }
    let btc = pairs.as_array().unwrap().iter().find(|p| p["id"] == "BTC_USDT").unwrap();
    assert_eq!((btc["precision"].as_i64(), btc["amount_precision"].as_i64()), (Some(1), Some(6)));
    assert_eq!(btc["min_quote_amount"], "3");
    let (st, c) = h.get("/futures/usdt/contracts/BTC_USDT");
    assert_eq!(
        (st, c["quanto_multiplier"].as_str(), c["order_size_min"].as_i64()),
        (200, Some("0.0001"), Some(1))
    );
    let (st, book) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=5&with_id=true");
    assert_eq!(st, 200);
    assert!(book["id"].as_u64().is_some());
    assert_eq!(book["asks"].as_array().unwrap().len(), 5);
    assert!(best(&book, "bids") < best(&book, "asks"));
    let (_, nobook) = h.get("/spot/order_book?currency_pair=BTC_USDT");
    assert!(nobook.get("id").is_none(), "no id without with_id");
    let (_, fbook) = h.get("/futures/usdt/order_book?contract=ETH_USDT&with_id=true");
    assert!(fbook["asks"][0]["s"].is_i64() && fbook["asks"][0]["p"].is_string() && fbook["current"].is_f64());

    let (st, acc) = h.gate(k, s, "GET", "/spot/accounts", "", "");
    assert_eq!(st, 200);
    let usdt = acc.as_array().unwrap().iter().find(|a| a["currency"] == "USDT").unwrap();
    assert_eq!(usdt["available"], "100000");
    // A wrong secret gets Gate's real error.
    let (st, e) = h.gate(k, "wrong", "GET", "/spot/accounts", "", "");
    assert_eq!(
        (st, e["label"].as_str(), e["message"].as_str()),
        (401, Some("INVALID_SIGNATURE"), Some("Signature mismatch"))
    );
    let (st, e) = h.gate("nokey", s, "GET", "/spot/accounts", "", "");
    assert_eq!((st, e["label"].as_str()), (401, Some("INVALID_KEY")));
    let (st, e) = h.call("GET", "/spot/accounts", &[], "");
    assert_eq!((st, e["label"].as_str()), (401, Some("MISSING_REQUIRED_HEADER")));
    // A stale timestamp is refused as Gate does.
    let ts = (now_ms() / 1000 - 120).to_string();
    let sig = hmac512(s, &format!("GET\n/api/v4/spot/accounts\n\n{}\n{ts}", sha512("")));
    let (st, e) =
        h.call("GET", "/spot/accounts", &[("KEY", k.to_owned()), ("Timestamp", ts), ("SIGN", sig)], "");
    assert_eq!((st, e["label"].as_str()), (401, Some("REQUEST_EXPIRED")));
}

#[test]
fn spot_and_futures_order_lifecycle() {
    let sim = start("");
    let ep = sim.endpoints().gateio.clone();
    let (k, s) = (ep.api_key.as_str(), ep.api_secret.expose());
    let mut h = Http::new(&ep.rest, None);
    let (_, book) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=1");
    let bid = best(&book, "bids");
    // A resting buy far below the market locks its quote.
    let low = format!("{:.1}", (bid * 0.9 * 10.0).floor() / 10.0);
    let body =
        json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.01", "price": low, "text": "t-rest"})
            .to_string();
    let (st, o) = h.gate(k, s, "POST", "/spot/orders", "", &body);
    assert_eq!(st, 201, "{o}");
    assert_eq!(
        (o["status"].as_str(), o["finish_as"].as_str(), o["text"].as_str()),
        (Some("open"), Some("open"), Some("t-rest"))
    );
    let id = o["id"].as_str().unwrap().to_owned();
    assert!(sim.spot_balance(Venue::GateIo, "USDT").locked > Amount::ZERO);
    let (st, q) = h.gate(k, s, "GET", &format!("/spot/orders/{id}"), "currency_pair=BTC_USDT", "");
    assert_eq!((st, q["left"].as_str()), (200, Some("0.01")));
    let (_, open) = h.gate(k, s, "GET", "/spot/orders", "currency_pair=BTC_USDT&status=open", "");
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (st, c) = h.gate(k, s, "DELETE", &format!("/spot/orders/{id}"), "currency_pair=BTC_USDT", "");
    assert_eq!(
        (st, c["status"].as_str(), c["finish_as"].as_str()),
        (200, Some("cancelled"), Some("cancelled"))
    );
    assert_eq!(sim.spot_balance(Venue::GateIo, "USDT").locked, Amount::ZERO);
    let (st, e) = h.gate(k, s, "DELETE", &format!("/spot/orders/{id}"), "currency_pair=BTC_USDT", "");
    assert_eq!((st, e["label"].as_str()), (404, Some("ORDER_NOT_FOUND")));

    // An IOC buy above the ask takes liquidity; the balances agree with the sim's account.
    let (_, book) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=1");
    let high = format!("{:.1}", best(&book, "asks") * 1.01);
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.002", "price": high, "time_in_force": "ioc"});
    let (st, o) = h.gate(k, s, "POST", "/spot/orders", "", &body.to_string());
    assert_eq!((st, o["finish_as"].as_str()), (201, Some("filled")), "{o}");
    assert_eq!(o["fee_currency"], "BTC");
    assert_eq!(Amount::parse(o["fee"].as_str().unwrap()).unwrap(), Amount::parse("0.000002").unwrap());
    let (_, acc) = h.gate(k, s, "GET", "/spot/accounts", "currency=BTC", "");
    let btc = Amount::parse(acc[0]["available"].as_str().unwrap()).unwrap();
    assert_eq!(btc, sim.spot_balance(Venue::GateIo, "BTC").available);
    assert_eq!(btc, Amount::parse("1.001998").unwrap());
    // Validation errors are Gate's.
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.0000001", "price": high});
    let (st, e) = h.gate(k, s, "POST", "/spot/orders", "", &body.to_string());
    assert_eq!((st, e["label"].as_str()), (400, Some("INVALID_PRECISION")));
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "50", "price": high});
    let (st, e) = h.gate(k, s, "POST", "/spot/orders", "", &body.to_string());
    assert_eq!((st, e["label"].as_str()), (400, Some("BALANCE_NOT_ENOUGH")));
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "10", "type": "market"});
    let (st, e) = h.gate(k, s, "POST", "/spot/orders", "", &json!({"time_in_force": "gtc"}).to_string());
    assert_eq!(st, 400, "{e}");
    let _ = body;

    // Futures: an IOC buy of 10 contracts opens a long; positions agree.
    let (_, fb) = h.get("/futures/usdt/order_book?contract=BTC_USDT&limit=1");
    let ask: f64 = fb["asks"][0]["p"].as_str().unwrap().parse().unwrap();
    let body = json!({"contract": "BTC_USDT", "size": 10, "price": format!("{:.1}", ask * 1.01), "tif": "ioc", "text": "t-f1"});
    let (st, o) = h.gate(k, s, "POST", "/futures/usdt/orders", "", &body.to_string());
    assert_eq!(
        (st, o["status"].as_str(), o["finish_as"].as_str(), o["size"].as_i64()),
        (201, Some("finished"), Some("filled"), Some(10)),
        "{o}"
    );
    assert!(o["id"].is_u64() && o["create_time"].is_f64() && o["price"].is_string());
    let (_, p) = h.gate(k, s, "GET", "/futures/usdt/positions/BTC_USDT", "", "");
    assert_eq!(p["size"].as_i64(), Some(10));
    assert_eq!(sim.futures_position(Venue::GateIo, "BTC_USDT").contracts, 10);
    // Margin is checked: 900 000 contracts (90 BTC) at 10x needs far more than 100 000 USDT.
    let body =
        json!({"contract": "BTC_USDT", "size": 900_000, "price": format!("{:.1}", ask * 0.5), "tif": "gtc"});
    let (st, e) = h.gate(k, s, "POST", "/futures/usdt/orders", "", &body.to_string());
    assert_eq!((st, e["label"].as_str()), (400, Some("INSUFFICIENT_AVAILABLE")));
    // Close it with a reduce-only market order (price 0, ioc).
    let body = json!({"contract": "BTC_USDT", "size": 0, "close": true, "price": "0", "tif": "ioc"});
    let (st, o) = h.gate(k, s, "POST", "/futures/usdt/orders", "", &body.to_string());
    assert_eq!((st, o["size"].as_i64()), (201, Some(-10)), "{o}");
    assert_eq!(sim.futures_position(Venue::GateIo, "BTC_USDT").contracts, 0);
    let (_, acc) = h.gate(k, s, "GET", "/futures/usdt/accounts", "", "");
    assert_eq!(
        Amount::parse(acc["total"].as_str().unwrap()).unwrap(),
        sim.account(Venue::GateIo).futures_balance
    );
}

#[test]
fn spot_order_book_update_ids_chain_and_sync_with_the_snapshot() {
    let sim = start("");
    let ep = sim.endpoints().gateio.clone();
    let mut ws = ws(&ep.ws_spot, None);
    let t = now_ms() / 1000;
    send(
        &mut ws,
        json!({"time": t, "id": 7, "channel": "spot.order_book_update", "event": "subscribe", "payload": ["ETH_USDT", "100ms"]}),
    );
    let ack = next_json(&mut ws, Duration::from_secs(5), |v| v["event"] == "subscribe").unwrap();
    assert_eq!((ack["result"]["status"].as_str(), ack["id"].as_i64()), (Some("success"), Some(7)));
    let mut h = Http::new(&ep.rest, None);
    let (_, snap) = h.get("/spot/order_book?currency_pair=ETH_USDT&limit=100&with_id=true");
    let base = snap["id"].as_u64().unwrap();
    let mut prev: Option<u64> = None;
    let mut synced = false;
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut n = 0;
    while Instant::now() < deadline {
        let Some(u) =
            next_json(&mut ws, Duration::from_secs(2), |v| v["channel"] == "spot.order_book_update")
        else {
            break;
        };
        let r = &u["result"];
        assert_eq!((r["s"].as_str(), r["e"].as_str()), (Some("ETH_USDT"), Some("depthUpdate")));
        let (first, last) = (r["U"].as_u64().unwrap(), r["u"].as_u64().unwrap());
        assert!(first <= last);
        if let Some(p) = prev {
            assert_eq!(first, p + 1, "sequence gap");
        }
        if first <= base + 1 && base < last {
            synced = true;
        }
        prev = Some(last);
        n += 1;
    }
    assert!(n >= 5, "only {n} updates in 1.5 s");
    assert!(synced || prev.is_some_and(|p| p <= base), "no update straddles the snapshot id {base}");
    // Ping.
    send(&mut ws, json!({"time": t, "channel": "spot.ping"}));
    assert!(next_json(&mut ws, Duration::from_secs(2), |v| v["channel"] == "spot.pong").is_some());
    // An unknown pair is refused.
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.book_ticker", "event": "subscribe", "payload": ["NOPE_USDT"]}),
    );
    let e = next_json(&mut ws, Duration::from_secs(2), |v| v["event"] == "subscribe").unwrap();
    assert_eq!((e["error"]["code"].as_i64(), e["result"]["status"].as_str()), (Some(2), Some("fail")));
}

#[test]
fn obu_starts_full_then_chains_and_futures_sizes_are_integers() {
    let sim = start("");
    let ep = sim.endpoints().gateio.clone();
    let mut ws = ws(&ep.ws_spot, None);
    let t = now_ms() / 1000;
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.obu", "event": "subscribe", "payload": ["ob.BTC_USDT.50"]}),
    );
    let full =
        next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "spot.obu" && v["event"] == "update")
            .unwrap();
    assert_eq!(full["result"]["full"], true);
    let mut prev = full["result"]["u"].as_u64().unwrap();
    for _ in 0..5 {
        let d = next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "spot.obu").unwrap();
        assert_eq!(d["result"]["U"].as_u64(), Some(prev + 1));
        prev = d["result"]["u"].as_u64().unwrap();
    }
    // A second subscription to the same stream is refused as Gate does.
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.obu", "event": "subscribe", "payload": ["ob.BTC_USDT.50"]}),
    );
    let e = next_json(&mut ws, Duration::from_secs(3), |v| v["event"] == "subscribe").unwrap();
    assert_eq!(e["error"]["message"], "Alert sub ob.BTC_USDT.50");

    let mut fws = client::ws(&ep.ws_futures, None);
    send(
        &mut fws,
        json!({"time": t, "channel": "futures.order_book_update", "event": "subscribe", "payload": ["BTC_USDT", "100ms", "100"]}),
    );
    send(
        &mut fws,
        json!({"time": t, "channel": "futures.book_ticker", "event": "subscribe", "payload": ["BTC_USDT"]}),
    );
    let u = next_json(&mut fws, Duration::from_secs(3), |v| {
        v["channel"] == "futures.order_book_update" && v["event"] == "update"
    })
    .unwrap();
    let level =
        u["result"]["b"].as_array().into_iter().chain(u["result"]["a"].as_array()).flatten().next().unwrap();
    assert!(level["s"].is_i64() && level["p"].is_string(), "{level}");
    let bt = next_json(&mut fws, Duration::from_secs(3), |v| {
        v["channel"] == "futures.book_ticker" && v["event"] == "update"
    })
    .unwrap();
    assert!(bt["result"]["B"].is_i64() && bt["result"]["b"].is_string());
    send(&mut fws, json!({"time": t, "channel": "futures.ping"}));
    assert!(next_json(&mut fws, Duration::from_secs(2), |v| v["channel"] == "futures.pong").is_some());
}

#[test]
fn private_channels_and_the_websocket_trading_api() {
    let sim = start("");
    let ep = sim.endpoints().gateio.clone();
    let (k, s) = (ep.api_key.clone(), ep.api_secret.expose().to_owned());
    let mut ws = ws(&ep.ws_spot, None);
    let t = (now_ms() / 1000) as i64;
    let auth = |ch: &str, secret: &str| json!({"method": "api_key", "KEY": k, "SIGN": hmac512(secret, &format!("channel={ch}&event=subscribe&time={t}"))});
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.orders", "event": "subscribe", "payload": ["!all"], "auth": auth("spot.orders", "bad")}),
    );
    let e = next_json(&mut ws, Duration::from_secs(3), |v| v["event"] == "subscribe").unwrap();
    assert_eq!(e["error"]["code"].as_i64(), Some(4));
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.orders", "event": "subscribe", "payload": ["!all"], "auth": auth("spot.orders", &s)}),
    );
    let a = next_json(&mut ws, Duration::from_secs(3), |v| v["event"] == "subscribe").unwrap();
    assert_eq!(a["result"]["status"], "success");
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.balances", "event": "subscribe", "auth": auth("spot.balances", &s)}),
    );
    next_json(&mut ws, Duration::from_secs(3), |v| {
        v["event"] == "subscribe" && v["channel"] == "spot.balances"
    })
    .unwrap();
    // Login: signature over "api\nspot.login\n\n<ts>".
    let ts = (now_ms() / 1000).to_string();
    let sig = hmac512(&s, &format!("api\nspot.login\n\n{ts}"));
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.login", "event": "api",
                          "payload": {"api_key": k, "signature": sig, "timestamp": ts, "req_id": "r-1"}}),
    );
    let l = next_json(&mut ws, Duration::from_secs(3), |v| v["request_id"] == "r-1").unwrap();
    assert_eq!(l["header"]["status"], "200");
    assert!(l["data"]["result"]["uid"].is_string());
    // Place: an ack, then the result.
    let (_, book) = Http::new(&ep.rest, None).get("/spot/order_book?currency_pair=ETH_USDT&limit=1");
    let price = format!("{:.2}", best(&book, "bids") * 0.95);
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.order_place", "event": "api", "payload": {"req_id": "r-2",
                          "req_param": {"text": "t-ws1", "currency_pair": "ETH_USDT", "type": "limit", "account": "spot",
                                        "side": "buy", "amount": "0.5", "price": price}}}),
    );
    let ack = next_json(&mut ws, Duration::from_secs(3), |v| v["request_id"] == "r-2").unwrap();
    assert_eq!(ack["ack"], true);
    let res = next_json(&mut ws, Duration::from_secs(3), |v| v["request_id"] == "r-2").unwrap();
    assert_eq!(res["ack"], false);
    let id = res["data"]["result"]["id"].as_str().unwrap().to_owned();
    assert_eq!(res["data"]["result"]["status"], "open");
    let push = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["channel"] == "spot.orders" && v["event"] == "update"
    })
    .unwrap();
    assert_eq!(
        (push["result"][0]["id"].as_str(), push["result"][0]["event"].as_str()),
        (Some(id.as_str()), Some("put"))
    );
    next_json(&mut ws, Duration::from_secs(3), |v| v["channel"] == "spot.balances" && v["event"] == "update")
        .unwrap();
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.order_cancel", "event": "api",
                          "payload": {"req_id": "r-3", "req_param": {"order_id": id, "currency_pair": "ETH_USDT"}}}),
    );
    let c = next_json(&mut ws, Duration::from_secs(3), |v| v["request_id"] == "r-3").unwrap();
    assert_eq!(c["data"]["result"]["finish_as"], "cancelled");
    let fin = next_json(&mut ws, Duration::from_secs(3), |v| {
        v["channel"] == "spot.orders" && v["result"][0]["event"] == "finish"
    })
    .unwrap();
    assert_eq!(fin["result"][0]["id"].as_str(), Some(id.as_str()));
    send(
        &mut ws,
        json!({"time": t, "channel": "spot.order_status", "event": "api",
                          "payload": {"req_id": "r-4", "req_param": {"order_id": id, "currency_pair": "ETH_USDT"}}}),
    );
    let st = next_json(&mut ws, Duration::from_secs(3), |v| v["request_id"] == "r-4").unwrap();
    assert_eq!(
        (st["data"]["result"]["status"].as_str(), st["data"]["result"]["left"].as_str()),
        (Some("cancelled"), Some("0.5"))
    );
    assert_eq!(sim.account(Venue::GateIo).open_orders, 0);

    // Futures private channels: [user id, contract] payload, positions after a fill.
    let mut f = client::ws(&ep.ws_futures, None);
    let fauth = |ch: &str| json!({"method": "api_key", "KEY": k, "SIGN": hmac512(&s, &format!("channel={ch}&event=subscribe&time={t}"))});
    send(
        &mut f,
        json!({"time": t, "channel": "futures.positions", "event": "subscribe", "payload": ["1", "!all"], "auth": fauth("futures.positions")}),
    );
    next_json(&mut f, Duration::from_secs(3), |v| {
        v["event"] == "subscribe" && v["result"]["status"] == "success"
    })
    .unwrap();
    let ts = (now_ms() / 1000).to_string();
    let sig = hmac512(&s, &format!("api\nfutures.login\n\n{ts}"));
    send(
        &mut f,
        json!({"time": t, "channel": "futures.login", "event": "api", "payload": {"api_key": k, "signature": sig, "timestamp": ts, "req_id": "f-1"}}),
    );
    next_json(&mut f, Duration::from_secs(3), |v| v["request_id"] == "f-1" && v["header"]["status"] == "200")
        .unwrap();
    send(
        &mut f,
        json!({"time": t, "channel": "futures.order_place", "event": "api",
                         "payload": {"req_id": "f-2", "req_param": {"contract": "ETH_USDT", "size": -3, "price": "0", "tif": "ioc"}}}),
    );
    let r =
        next_json(&mut f, Duration::from_secs(3), |v| v["request_id"] == "f-2" && v["ack"] == false).unwrap();
    assert_eq!(
        (r["data"]["result"]["size"].as_i64(), r["data"]["result"]["finish_as"].as_str()),
        (Some(-3), Some("filled"))
    );
    let p = next_json(&mut f, Duration::from_secs(3), |v| {
        v["channel"] == "futures.positions" && v["event"] == "update"
    })
    .unwrap();
    assert_eq!(p["result"][0]["size"].as_i64(), Some(-3));
    assert_eq!(sim.futures_position(Venue::GateIo, "ETH_USDT").contracts, -3);
}

#[test]
fn faults_gap_reject_and_partial() {
    let sim = start("gap=0.3,reject=1");
    let ep = sim.endpoints().gateio.clone();
    let mut ws = ws(&ep.ws_spot, None);
    send(
        &mut ws,
        json!({"time": now_ms() / 1000, "channel": "spot.order_book_update", "event": "subscribe", "payload": ["BTC_USDT", "100ms"]}),
    );
    let mut prev: Option<u64> = None;
    let mut gaps = 0;
    for _ in 0..30 {
        let u = next_json(&mut ws, Duration::from_secs(3), |v| {
            v["channel"] == "spot.order_book_update" && v["event"] == "update"
        })
        .unwrap();
        let (first, last) = (u["result"]["U"].as_u64().unwrap(), u["result"]["u"].as_u64().unwrap());
        if prev.is_some_and(|p| first != p + 1) {
            gaps += 1;
        }
        prev = Some(last);
    }
    assert!(gaps > 0, "gap=0.3 produced no gap in 30 updates");
    let mut h = Http::new(&ep.rest, None);
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "10000"});
    let (st, e) = h.gate(&ep.api_key, ep.api_secret.expose(), "POST", "/spot/orders", "", &body.to_string());
    assert_eq!((st, e["label"].as_str()), (429, Some("TOO_MANY_REQUESTS")));

    let sim = start("partial=1");
    let ep = sim.endpoints().gateio.clone();
    let mut h = Http::new(&ep.rest, None);
    let (_, fb) = h.get("/futures/usdt/order_book?contract=BTC_USDT&limit=1");
    let ask: f64 = fb["asks"][0]["p"].as_str().unwrap().parse().unwrap();
    let body =
        json!({"contract": "BTC_USDT", "size": 20, "price": format!("{:.1}", ask * 1.01), "tif": "ioc"});
    let (_, o) =
        h.gate(&ep.api_key, ep.api_secret.expose(), "POST", "/futures/usdt/orders", "", &body.to_string());
    let left = o["left"].as_i64().unwrap();
    assert!(left > 0 && left < 20 && o["finish_as"] == "ioc", "{o}");
    assert_eq!(sim.futures_position(Venue::GateIo, "BTC_USDT").contracts, 20 - left);
}
