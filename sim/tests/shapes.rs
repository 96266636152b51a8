//! The simulated venues' messages look like the recorded real ones
//! (`adapters/test_data/{gateio,mexc}`): every key of a recorded message is present in the
//! simulated one with the same JSON type (string, number, bool, null, array, object),
//! recursively. Keys the sim leaves out on purpose are listed per comparison.

mod client;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use client::*;
use serde_json::{Value, json};
use sim::{Sim, SimConfig};

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between a recorded message and ours, as `path: problem` lines.
fn diff(rec: &Value, ours: &Value, path: &str, skip: &[&str], out: &mut Vec<String>) {
    if kind(rec) != kind(ours) {
        // A recorded null says nothing about the type.
        if !rec.is_null() {
            out.push(format!("{path}: recorded {} but sim sends {} ({ours})", kind(rec), kind(ours)));
        }
        return;
    }
    match (rec, ours) {
        (Value::Object(r), Value::Object(o)) => {
            for (k, rv) in r {
                let p = format!("{path}.{k}");
                if skip.contains(&k.as_str()) || skip.contains(&p.as_str()) {
                    continue;
                }
                match o.get(k) {
                    // An old capture's `"error": null` says nothing either.
                    None if rv.is_null() => {}
                    None => out.push(format!("{p}: missing")),
                    Some(ov) => diff(rv, ov, &p, skip, out),
                }
            }
        }
        (Value::Array(r), Value::Array(o)) => {
            if let (Some(rv), Some(ov)) = (r.first(), o.first()) {
                diff(rv, ov, &format!("{path}[0]"), skip, out);
            }
        }
        _ => {}
    }
}

fn recorded(file: &str, line: usize) -> Value {
    let path = format!("{}/../adapters/test_data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(text.lines().nth(line).unwrap()).unwrap()
}

struct Report(Vec<String>);

impl Report {
    fn cmp(&mut self, name: &str, rec: Value, ours: &Value, skip: &[&str]) {
        let mut d = Vec::new();
        diff(&rec, ours, name, skip, &mut d);
        self.0.extend(d);
    }
}

/// First message per key (`channel` or `channel/event`) seen within `window`.
fn collect(ws: &mut Ws, window: Duration, key: impl Fn(&Value) -> Option<String>) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    let end = Instant::now() + window;
    while Instant::now() < end {
        let Some(tungstenite::Message::Text(t)) = next(ws, end - Instant::now()) else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if let Some(k) = key(&v) {
            m.entry(k).or_insert(v);
        }
    }
    m
}

#[test]
fn gate_messages_match_the_recorded_shapes() {
    let sim = Sim::start(SimConfig { plain: true, seed: 21, ..SimConfig::default() }).unwrap();
    let ep = sim.endpoints().gateio.clone();
    let (k, s) = (ep.api_key.clone(), ep.api_secret.expose().to_owned());
    let mut h = Http::new(&ep.rest, None);
    let mut r = Report(Vec::new());

    let (_, pair) = h.get("/spot/currency_pairs/BTC_USDT");
    r.cmp("spot_rest_currency_pair", recorded("gateio/spot_rest_currency_pair.jsonl", 0), &pair, &[]);
    let (_, c) = h.get("/futures/usdt/contracts/BTC_USDT");
    r.cmp("futures_rest_contracts_item", recorded("gateio/futures_rest_contracts_item.jsonl", 0), &c, &[]);
    let (_, b) = h.get("/futures/usdt/order_book?contract=BTC_USDT&limit=10&with_id=true");
    r.cmp("futures_rest_order_book", recorded("gateio/futures_rest_order_book.jsonl", 1), &b, &[]);
    let (_, b) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=10&with_id=true");
    r.cmp("spot_rest_order_book", recorded("gateio/spot_rest_order_book.docs.jsonl", 0), &b, &[]);
    let (_, a) = h.gate(&k, &s, "GET", "/spot/accounts", "", "");
    r.cmp("spot_rest_accounts", recorded("gateio/spot_rest_accounts.docs.jsonl", 0), &a, &[]);
    let (_, a) = h.gate(&k, &s, "GET", "/futures/usdt/accounts", "", "");
    r.cmp("futures_rest_accounts", recorded("gateio/futures_rest_accounts.jsonl", 0), &a, &[]);

    // Private streams first, then trades that produce their pushes.
    let t = (now_ms() / 1000) as i64;
    let auth = |ch: &str| json!({"method": "api_key", "KEY": k, "SIGN": hmac512(&s, &format!("channel={ch}&event=subscribe&time={t}"))});
    let mut sws = ws(&ep.ws_spot, None);
    for (ch, payload) in [
        ("spot.order_book_update", json!(["BTC_USDT", "100ms"])),
        ("spot.book_ticker", json!(["BTC_USDT"])),
        ("spot.trades", json!(["BTC_USDT"])),
        ("spot.obu", json!(["ob.BTC_USDT.50"])),
    ] {
        send(&mut sws, json!({"time": t, "channel": ch, "event": "subscribe", "payload": payload}));
    }
    for ch in ["spot.orders", "spot.usertrades", "spot.balances"] {
        send(
            &mut sws,
            json!({"time": t, "channel": ch, "event": "subscribe", "payload": ["BTC_USDT"], "auth": auth(ch)}),
        );
    }
    send(&mut sws, json!({"time": t, "channel": "spot.ping"}));
    let mut fws = ws(&ep.ws_futures, None);
    for (ch, payload) in [
        ("futures.order_book_update", json!(["BTC_USDT", "100ms", "100"])),
        ("futures.book_ticker", json!(["BTC_USDT"])),
        ("futures.trades", json!(["BTC_USDT"])),
        ("futures.obu", json!(["ob.BTC_USDT.50"])),
    ] {
        send(&mut fws, json!({"time": t, "channel": ch, "event": "subscribe", "payload": payload}));
    }
    for ch in ["futures.orders", "futures.usertrades", "futures.positions", "futures.balances"] {
        send(
            &mut fws,
            json!({"time": t, "channel": ch, "event": "subscribe", "payload": ["1", "BTC_USDT"], "auth": auth(ch)}),
        );
    }
    send(&mut fws, json!({"time": t, "channel": "futures.ping"}));
    let ts = (now_ms() / 1000).to_string();
    send(
        &mut fws,
        json!({"time": t, "channel": "futures.login", "event": "api",
                          "payload": {"api_key": k, "signature": hmac512(&s, &format!("api\nfutures.login\n\n{ts}")), "timestamp": ts, "req_id": "x"}}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_, ob) = h.get("/spot/order_book?currency_pair=BTC_USDT&limit=1");
    let ask: f64 = text(&ob["asks"][0][0]).parse().unwrap();
    let body = json!({"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": format!("{:.1}", ask * 1.01), "time_in_force": "ioc"});
    let (_, o) = h.gate(&k, &s, "POST", "/spot/orders", "", &body.to_string());
    r.cmp("spot_rest_orders_create(FULL)", recorded("gateio/spot_rest_orders_create.docs.jsonl", 2), &o, &[]);
    let (_, fob) = h.get("/futures/usdt/order_book?contract=BTC_USDT&limit=1");
    let fask: f64 = fob["asks"][0]["p"].as_str().unwrap().parse().unwrap();
    let body = json!({"contract": "BTC_USDT", "size": 1, "price": format!("{:.1}", fask * 1.01), "tif": "ioc", "text": "api"});
    let (_, fo) = h.gate(&k, &s, "POST", "/futures/usdt/orders", "", &body.to_string());
    r.cmp(
        "futures_rest_orders_create",
        recorded("gateio/futures_rest_orders_create.jsonl", 0),
        &fo,
        &["finish_time"],
    );
    let (_, p) = h.gate(&k, &s, "GET", "/futures/usdt/positions", "", "");
    r.cmp(
        "futures_rest_positions",
        recorded("gateio/futures_rest_positions.docs.jsonl", 0),
        &p,
        &["close_order", "risk_limit_table", "average_maintenance_rate"],
    );

    let key = |v: &Value| {
        let ch = v["channel"].as_str()?;
        Some(format!(
            "{ch}/{}",
            v["event"].as_str().unwrap_or(if v.get("request_id").is_some() { "api" } else { "" })
        ))
    };
    let spot = collect(&mut sws, Duration::from_millis(2500), key);
    let fut = collect(&mut fws, Duration::from_millis(1500), |v| {
        if v.get("request_id").is_some() {
            return Some("api/login".into());
        }
        key(v)
    });
    let get = |m: &BTreeMap<String, Value>, k: &str| {
        m.get(k).cloned().unwrap_or_else(|| json!({"missing message": k}))
    };
    r.cmp(
        "spot_ws_order_book_update",
        recorded("gateio/spot_ws_order_book_update.jsonl", 0),
        &get(&spot, "spot.order_book_update/update"),
        &[],
    );
    r.cmp(
        "spot_ws_book_ticker",
        recorded("gateio/spot_ws_book_ticker.jsonl", 0),
        &get(&spot, "spot.book_ticker/update"),
        &[],
    );
    r.cmp(
        "spot_ws_trades",
        recorded("gateio/spot_ws_trades.jsonl", 0),
        &get(&spot, "spot.trades/update"),
        &[],
    );
    r.cmp(
        "spot_ws_orders",
        recorded("gateio/spot_ws_orders.jsonl", 0),
        &get(&spot, "spot.orders/update"),
        &[],
    );
    r.cmp(
        "spot_ws_usertrades",
        recorded("gateio/spot_ws_usertrades.jsonl", 0),
        &get(&spot, "spot.usertrades/update"),
        &[],
    );
    r.cmp(
        "spot_ws_balances",
        recorded("gateio/spot_ws_balances_result_only.jsonl", 0),
        &get(&spot, "spot.balances/update")["result"],
        &[],
    );
    r.cmp(
        "spot_ws_control",
        recorded("gateio/spot_ws_control.jsonl", 0),
        &get(&spot, "spot.orders/subscribe"),
        &["requestId"],
    );
    r.cmp(
        "spot_ws_pong",
        recorded("gateio/spot_ws_gate_us_2026.jsonl", 4),
        &get(&spot, "spot.pong/"),
        &["requestId"],
    );
    let obu = spot.get("spot.obu/update").cloned().unwrap_or(Value::Null);
    r.cmp("spot_ws_obu(full)", recorded("gateio/spot_ws_obu_result_only.jsonl", 0), &obu["result"], &[]);
    r.cmp(
        "futures_ws_order_book_update",
        recorded("gateio/futures_ws_order_book_update.jsonl", 0),
        &get(&fut, "futures.order_book_update/update"),
        &[],
    );
    r.cmp(
        "futures_ws_book_ticker",
        recorded("gateio/futures_ws_book_ticker.jsonl", 0),
        &get(&fut, "futures.book_ticker/update"),
        &[],
    );
    r.cmp(
        "futures_ws_trades",
        recorded("gateio/futures_ws_trades.jsonl", 0),
        &get(&fut, "futures.trades/update"),
        &[],
    );
    r.cmp(
        "futures_ws_orders",
        recorded("gateio/futures_ws_orders.jsonl", 0),
        &get(&fut, "futures.orders/update"),
        &["biz_info"],
    );
    r.cmp(
        "futures_ws_usertrades",
        recorded("gateio/futures_ws_usertrades.jsonl", 0),
        &get(&fut, "futures.usertrades/update"),
        &[],
    );
    r.cmp(
        "futures_ws_positions",
        recorded("gateio/futures_ws_positions.jsonl", 0),
        &get(&fut, "futures.positions/update"),
        &[],
    );
    r.cmp(
        "futures_ws_balances",
        recorded("gateio/futures_ws_balances_result_only.jsonl", 0),
        &get(&fut, "futures.balances/update")["result"],
        &[],
    );
    r.cmp(
        "futures_ws_obu(full)",
        recorded("gateio/futures_ws_obu.jsonl", 0),
        &get(&fut, "futures.obu/update"),
        &[],
    );
    r.cmp(
        "futures_ws_control(ack)",
        recorded("gateio/futures_ws_control.jsonl", 0),
        &get(&fut, "futures.obu/subscribe"),
        &[],
    );
    r.cmp(
        "futures_ws_control(pong)",
        recorded("gateio/futures_ws_control.jsonl", 1),
        &get(&fut, "futures.pong/"),
        &[],
    );
    r.cmp("futures_ws_api(login)", recorded("gateio/futures_ws_api.jsonl", 0), &get(&fut, "api/login"), &[]);
    assert!(r.0.is_empty(), "shape differences:\n{}", r.0.join("\n"));
}

#[test]
fn mexc_messages_match_the_recorded_shapes() {
    let sim = Sim::start(SimConfig { plain: true, seed: 22, ..SimConfig::default() }).unwrap();
    let ep = sim.endpoints().mexc.clone();
    let (k, s) = (ep.api_key.clone(), ep.api_secret.expose().to_owned());
    let mut h = Http::new(&ep.rest, None);
    let mut r = Report(Vec::new());
    let (_, info) = h.get("/api/v3/exchangeInfo?symbol=BTCUSDT");
    r.cmp(
        "spot_rest_exchange_info",
        recorded("mexc/spot_rest_exchange_info.jsonl", 0),
        &info,
        &["conceptPlateIds"],
    );
    let (_, d) = h.get("/api/v3/depth?symbol=BTCUSDT&limit=5");
    r.cmp("spot_rest_depth", recorded("mexc/spot_rest_depth.jsonl", 0), &d, &[]);
    let (_, acc) = h.mexc(&k, &s, "GET", "/api/v3/account", "");
    r.cmp("spot_rest_account(doc)", recorded("mexc/spot_rest.docs.jsonl", 4), &acc, &[]);
    let (_, lk) = h.mexc(&k, &s, "POST", "/api/v3/userDataStream", "");
    r.cmp("spot_rest_listen_key(doc)", recorded("mexc/spot_rest.docs.jsonl", 5), &lk, &[]);
    let (_, o) = h.mexc(
        &k,
        &s,
        "POST",
        "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=1000&newClientOrderId=11",
    );
    r.cmp("spot_rest_order_new", recorded("mexc/spot_rest_order_new.jsonl", 0), &o, &[]);
    let id = o["orderId"].as_str().unwrap_or_default().to_owned();
    let (_, q) = h.mexc(&k, &s, "GET", "/api/v3/order", &format!("symbol=BTCUSDT&orderId={id}"));
    r.cmp("spot_rest_order_query", recorded("mexc/spot_rest_order_query.jsonl", 0), &q, &[]);
    let (_, c) = h.mexc(&k, &s, "DELETE", "/api/v3/openOrders", "symbol=BTCUSDT");
    r.cmp("spot_rest_open_orders_cancel", recorded("mexc/spot_rest_open_orders_cancel.jsonl", 0), &c, &[]);
    let (_, cd) = h.get("/api/v1/contract/detail?symbol=BTC_USDT");
    let skip = [
        "appraisal",
        "automaticDelivery",
        "baseCoinIconUrl",
        "baseCoinId",
        "conceptPlate",
        "conceptPlateId",
        "countryConfigContractMaxLeverage",
        "createTime",
        "feeRateMode",
        "id",
        "indexOrigin",
        "isMaxLeverage",
        "isZeroFeeRate",
        "isZeroFeeSymbol",
        "leverageFeeRates",
        "liquidationFeeRate",
        "marketOrderMaxLevel",
        "marketOrderPriceLimitRate1",
        "marketOrderPriceLimitRate2",
        "maxNumOrders",
        "openingCountdownOption",
        "openingTime",
        "preMarket",
        "priceCoefficientVariation",
        "riskBaseVol",
        "riskIncrImr",
        "riskIncrMmr",
        "riskIncrVol",
        "riskLevelLimit",
        "riskLimitCustom",
        "riskLimitMode",
        "riskLongShortSwitch",
        "showAppraisalCountdown",
        "showBeforeOpen",
        "stopOnlyFair",
        "threshold",
        "tieredFeeRates",
        "vid",
    ];
    r.cmp("futures_rest_contract_detail", recorded("mexc/futures_rest_contract_detail.jsonl", 0), &cd, &skip);
    let (_, fd) = h.get("/api/v1/contract/depth/BTC_USDT");
    r.cmp("futures_rest_depth", recorded("mexc/futures_rest_depth.jsonl", 0), &fd, &[]);
    let (_, fe) = h.get("/api/v1/contract/depth/NOPE_USDT");
    r.cmp("futures_rest_depth(error)", recorded("mexc/futures_rest_depth.jsonl", 1), &fe, &[]);

    let mut sws = ws(&ep.ws_spot, None);
    send(
        &mut sws,
        json!({"method": "SUBSCRIPTION", "params": ["spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"]}),
    );
    let ack = next_json(&mut sws, Duration::from_secs(3), |_| true).unwrap();
    r.cmp("spot_ws_control(ack)", recorded("mexc/spot_ws_control.jsonl", 0), &ack, &[]);
    send(&mut sws, json!({"method": "PING"}));
    let pong = next_json(&mut sws, Duration::from_secs(3), |v| v["msg"] == "PONG").unwrap();
    r.cmp("spot_ws_control(pong)", recorded("mexc/spot_ws_control.jsonl", 2), &pong, &[]);

    let mut fws = ws(&ep.ws_futures, None);
    let rt = now_ms().to_string();
    send(
        &mut fws,
        json!({"method": "login", "param": {"apiKey": k, "reqTime": rt, "signature": hmac256(&s, &format!("{k}{rt}"))}}),
    );
    send(&mut fws, json!({"method": "sub.depth", "param": {"symbol": "BTC_USDT"}}));
    send(&mut fws, json!({"method": "sub.depth.full", "param": {"symbol": "BTC_USDT", "limit": 5}}));
    send(&mut fws, json!({"method": "sub.deal", "param": {"symbol": "BTC_USDT"}}));
    send(&mut fws, json!({"method": "sub.ticker", "param": {"symbol": "BTC_USDT"}}));
    send(&mut fws, json!({"method": "sub.depth", "param": {"symbol": "NOPE_USDT"}}));
    send(&mut fws, json!({"method": "ping"}));
    std::thread::sleep(Duration::from_millis(200));
    let (_, fb) = h.get("/api/v1/contract/depth/BTC_USDT");
    let ask = text(&fb["data"]["asks"][0][0]).parse::<f64>().unwrap();
    let body = json!({"symbol": "BTC_USDT", "price": format!("{:.1}", ask * 1.01), "vol": 2, "side": 1, "type": 3, "openType": 2}).to_string();
    let (_, fo) = h.mexc_fut(&k, &s, "POST", "/api/v1/private/order/create", "", &body);
    r.cmp("futures_rest_order_create", recorded("mexc/futures_rest_order_create.jsonl", 0), &fo, &[]);
    let m = collect(&mut fws, Duration::from_millis(2500), |v| v["channel"].as_str().map(str::to_owned));
    let get = |k: &str| m.get(k).cloned().unwrap_or_else(|| json!({"missing message": k}));
    r.cmp(
        "futures_ws_push_depth(merged)",
        recorded("mexc/futures_ws_push_depth.jsonl", 1),
        &get("push.depth"),
        &[],
    );
    r.cmp(
        "futures_ws_push_depth_full",
        recorded("mexc/futures_ws_push_depth_full.jsonl", 1),
        &get("push.depth.full"),
        &[],
    );
    r.cmp("futures_ws_push_deal", recorded("mexc/futures_ws_push_deal.jsonl", 1), &get("push.deal"), &[]);
    r.cmp(
        "futures_ws_push_ticker",
        recorded("mexc/futures_ws_push_ticker.jsonl", 0),
        &get("push.ticker"),
        &["zone", "riseFallRates", "riseFallRatesOfTimezone"],
    );
    r.cmp("futures_ws_control(sub)", recorded("mexc/futures_ws_control.jsonl", 2), &get("rs.sub.depth"), &[]);
    r.cmp("futures_ws_control(pong)", recorded("mexc/futures_ws_control.jsonl", 1), &get("pong"), &[]);
    r.cmp("futures_ws_control(error)", recorded("mexc/futures_ws_control.jsonl", 3), &get("rs.error"), &[]);
    r.cmp(
        "futures_ws(personal.order doc)",
        recorded("mexc/futures_ws.docs.jsonl", 3),
        &get("push.personal.order"),
        &[],
    );
    r.cmp(
        "futures_ws(personal.asset doc)",
        recorded("mexc/futures_ws.docs.jsonl", 4),
        &get("push.personal.asset"),
        &[],
    );
    r.cmp(
        "futures_ws(personal.position doc)",
        recorded("mexc/futures_ws.docs.jsonl", 5),
        &get("push.personal.position"),
        &[],
    );
    assert!(r.0.is_empty(), "shape differences:\n{}", r.0.join("\n"));
}
