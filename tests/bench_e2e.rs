//! `arb bench e2e --json`, briefly: the keys are there, orders left for both venues, every
//! byte written reached the drain thread, the first request on each connection carries a
//! valid signature under that venue's rule (checked here with `ring` directly), and the
//! figures are consistent with each other. No timing is asserted.

use std::process::Command;

use ring::{digest, hmac};
use serde_json::Value;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac_hex(alg: hmac::Algorithm, secret: &str, msg: &[u8]) -> String {
    hex(hmac::sign(&hmac::Key::new(alg, secret.as_bytes()), msg).as_ref())
}

/// The first request in `stream`: (request line, headers, body).
fn first_request(stream: &str) -> (String, Vec<(String, String)>, String) {
    let (head, rest) = stream.split_once("\r\n\r\n").expect("a complete request head");
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("header");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    (line, headers, rest[..len].to_owned())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name} header"))
}

fn check_stat(v: &Value, what: &str) {
    let p = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{what}.{k}: {v}"));
    assert!(
        p("p50_ns") <= p("p99_ns") && p("p99_ns") <= p("p999_ns") && p("p999_ns") <= p("max_ns"),
        "{what}: {v}"
    );
    assert!(p("count") > 0, "{what}: {v}");
}

#[test]
fn bench_e2e_json_reports_signed_orders_drained_and_consistent_figures() {
    let out = Command::new(env!("CARGO_BIN_EXE_arb"))
        .args([
            "bench",
            "e2e",
            "--json",
            "--crossings",
            "120",
            "--interval-us",
            "300",
            "--floor-iterations",
            "2000",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let j: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for k in [
        "t2t_p50_ns",
        "t2t_p99_ns",
        "t2t_p999_ns",
        "t2t_last_leg_p50_ns",
        "floor_path_p50_ns",
        "orders",
        "stages",
        "floors",
    ] {
        assert!(!j[k].is_null(), "key {k} missing: {j}");
    }
    let u = |k: &str| j[k].as_u64().unwrap_or_else(|| panic!("{k}: {j}"));
    assert!(u("orders") > 0, "{j}");
    assert_eq!(u("write_failures"), 0);
    assert!(u("journal_bytes") > 0, "the journal was written");

    // Tick to trade: one sample per execution for each leg series, first leg never later
    // than the last.
    assert!(u("executed") > 0);
    assert_eq!(u("t2t_count"), u("executed"), "{j}");
    assert_eq!(u("t2t_first_leg_count"), u("t2t_count"));
    assert!(u("t2t_p50_ns") <= u("t2t_p99_ns") && u("t2t_p99_ns") <= u("t2t_p999_ns"));
    assert!(u("t2t_p999_ns") <= u("t2t_max_ns"));
    assert_eq!(u("t2t_last_leg_p50_ns"), u("t2t_p50_ns"));
    for q in ["p50", "p99", "max"] {
        assert!(u(&format!("t2t_first_leg_{q}_ns")) <= u(&format!("t2t_{q}_ns")), "{q}: {j}");
    }
    // The targets' verdicts follow from this run's own figures.
    let target = |k: &str| {
        let t = &j["targets"][k];
        (t["value"].as_f64().unwrap(), t["limit"].as_f64().unwrap(), t["met"].as_bool().unwrap())
    };
    let ratio = |a: u64, b: u64| (a as f64 / b as f64 * 100.0).round() / 100.0;
    let (p50, p99) = (u("t2t_first_leg_p50_ns"), u("t2t_first_leg_p99_ns"));
    for (k, value, limit) in [
        ("first_leg_p50_ns", p50 as f64, 5_000.0),
        ("first_leg_p50_to_floor", ratio(p50, u("floor_path_p50_ns")), 1.3),
        ("first_leg_p99_ns", p99 as f64, 20_000.0),
        ("first_leg_p99_to_p50", ratio(p99, p50), 2.0),
    ] {
        assert_eq!(target(k), (value, limit, value <= limit), "{k}: {j}");
    }
    // Every operation sent at least two legs.
    assert!(u("orders") >= 2 * u("executed"), "{j}");
    // The compact layout: the whole chain on one thread, no hop on the path.
    assert_eq!(u("cross_thread_hops"), 0, "{j}");
    let threads = j["threads"].as_object().expect("per-thread counters");
    assert_eq!(threads.keys().collect::<Vec<_>>(), ["state", "trade"], "{j}");
    for t in threads.values() {
        assert!(
            t["passes"].as_u64().unwrap() > 0
                && t["wakes"].as_u64().unwrap() <= t["passes"].as_u64().unwrap()
        );
    }

    // Stages and hops of the real path, and every floor.
    for s in ["stage.md", "stage.book", "stage.detect", "stage.risk", "stage.dispatch", "stage.state"] {
        check_stat(&j["stages"][s], s);
    }
    let f = &j["floors"];
    for k in ["hop", "journal_write", "tls_record", "socket_write"] {
        check_stat(&f[k], k);
    }
    let parse = f["parse"].as_object().unwrap();
    let sign = f["sign"].as_object().unwrap();
    assert_eq!(parse.len(), 4, "a parse floor per venue market: {f}");
    assert_eq!(sign.len(), 3, "a signature floor per venue signing rule: {f}");
    let mean = |m: &serde_json::Map<String, Value>| {
        m.values().map(|v| v["p50_ns"].as_u64().unwrap()).sum::<u64>() / m.len() as u64
    };
    let p50 = |k: &str| f[k]["p50_ns"].as_u64().unwrap();
    let sum = mean(parse)
        + u("cross_thread_hops").max(1) * p50("hop")
        + p50("journal_write")
        + mean(sign)
        + p50("tls_record")
        + p50("socket_write");
    assert_eq!(u("floor_path_p50_ns"), sum, "the floor is the sum of its parts");

    // Every byte written was drained; both venues got orders.
    let markets = j["orders_by_market"].as_object().unwrap();
    assert!(markets.keys().any(|m| m.starts_with("gateio")), "{j}");
    assert!(markets.keys().any(|m| m.starts_with("mexc")), "{j}");
    let mut total = 0;
    for (m, o) in markets {
        let written = o["bytes_written"].as_u64().unwrap();
        assert!(written > 0, "{m}");
        assert_eq!(o["bytes_drained"].as_u64().unwrap(), written, "{m}: every byte reached the drain");
        total += o["orders"].as_u64().unwrap();
    }
    assert_eq!(total, u("orders"));

    // The first request on each connection, signed by that venue's rule.
    let samples = j["samples"].as_object().unwrap();
    assert_eq!(samples.len(), markets.len());
    for (m, s) in samples {
        let (line, h, body) = first_request(s.as_str().unwrap());
        if m.starts_with("gateio") {
            let path = line.split(' ').nth(1).unwrap();
            assert!(line.starts_with("POST /api/v4/") && path.ends_with("/orders"), "{line}");
            assert_eq!(header(&h, "KEY"), "bench-gate-key");
            let body_hash = hex(digest::digest(&digest::SHA512, body.as_bytes()).as_ref());
            let pre = format!("POST\n{path}\n\n{body_hash}\n{}", header(&h, "Timestamp"));
            assert_eq!(header(&h, "SIGN"), hmac_hex(hmac::HMAC_SHA512, "bench-gate-secret", pre.as_bytes()));
            let b: Value = serde_json::from_str(&body).unwrap();
            assert!(b["text"].as_str().unwrap().starts_with("t-"), "{body}");
        } else if m == "mexc spot" {
            let target = line.split(' ').nth(1).unwrap();
            let query = target.strip_prefix("/api/v3/order?").expect("a spot order");
            let (signed, sig) = query.split_once("&signature=").unwrap();
            assert_eq!(header(&h, "X-MEXC-APIKEY"), "mx0bench-key");
            assert_eq!(sig, hmac_hex(hmac::HMAC_SHA256, "bench-mexc-secret", signed.as_bytes()));
            assert!(signed.contains("symbol=BTCUSDT") && signed.contains("newClientOrderId="), "{signed}");
        } else {
            assert!(line.starts_with("POST /api/v1/private/order/submit "), "{line}");
            let pre = format!("{}{}{body}", header(&h, "ApiKey"), header(&h, "Request-Time"));
            assert_eq!(
                header(&h, "Signature"),
                hmac_hex(hmac::HMAC_SHA256, "bench-mexc-secret", pre.as_bytes())
            );
            let b: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(b["symbol"], "BTC_USDT");
        }
    }
}

#[test]
fn bench_e2e_over_several_universe_sizes_reports_each_in_scaling() {
    let out = Command::new(env!("CARGO_BIN_EXE_arb"))
        .args([
            "bench",
            "e2e",
            "--json",
            "--instruments",
            "1,3",
            "--crossings",
            "16",
            "--interval-us",
            "300",
            "--floor-iterations",
            "200",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let j: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let scaling = j["scaling"].as_array().unwrap_or_else(|| panic!("no scaling: {j}"));
    assert_eq!(scaling.len(), 2, "{j}");
    for (p, n) in scaling.iter().zip([1, 3]) {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{p}");
        for k in ["instruments", "t2t_p50_ns", "t2t_p99_ns", "book_bytes"] {
            assert!(p[k].is_u64(), "{k}: {p}");
        }
        assert_eq!(p["instruments"], n);
        assert!(p["t2t_p50_ns"].as_u64().unwrap() > 0, "operations were timed: {p}");
        assert!(p["t2t_p50_ns"].as_u64() <= p["t2t_p99_ns"].as_u64(), "{p}");
    }
    // Three pairs per venue market hold more books than one; the top level is the last run.
    let bytes = |i: usize| scaling[i]["book_bytes"].as_u64().unwrap();
    assert!(bytes(1) > bytes(0), "{j}");
    assert_eq!(j["instruments"], 3);
    assert_eq!(j["book_bytes"].as_u64(), Some(bytes(1)));
    assert!(j["books"].as_u64().unwrap() >= 12, "3 pairs on 4 venue markets: {j}");
}

#[test]
fn bench_e2e_with_gate_orders_over_the_trading_api_writes_order_place_frames() {
    let out = Command::new(env!("CARGO_BIN_EXE_arb"))
        .args([
            "bench",
            "e2e",
            "--json",
            "--gate-entry",
            "ws",
            "--crossings",
            "60",
            "--interval-us",
            "300",
            "--floor-iterations",
            "500",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let j: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(j["gate_entry"], "ws");
    assert!(j["executed"].as_u64().unwrap() > 0, "{j}");
    // Gate.io's floor is the frame, not a signature; the other venues still sign.
    let sign = j["floors"]["sign"].as_object().unwrap();
    assert!(sign.contains_key("gateio (ws frame)") && !sign.contains_key("gateio"), "{sign:?}");
    let markets = j["orders_by_market"].as_object().unwrap();
    let mut gate = 0;
    for (m, o) in markets {
        assert_eq!(o["bytes_drained"], o["bytes_written"], "{m}");
        if m.starts_with("gateio") {
            gate += o["orders"].as_u64().unwrap();
            // The first frame, unmasked: an order_place request wrapping the REST body,
            // with no signature in it.
            let text = j["samples"][m].as_str().unwrap();
            let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{m}: {e}: {text}"));
            let market = if m.contains("spot") { "spot" } else { "futures" };
            assert_eq!(v["channel"], format!("{market}.order_place"), "{text}");
            assert_eq!(v["event"], "api");
            let p = &v["payload"];
            assert!(p["req_param"]["text"].as_str().unwrap().starts_with("t-"), "{text}");
            assert_eq!(
                format!("t-{}", p["req_id"].as_str().unwrap()),
                p["req_param"]["text"].as_str().unwrap()
            );
            assert!(p["req_header"]["x-gate-exptime"].as_str().unwrap().parse::<u64>().is_ok(), "{text}");
            assert!(p.get("signature").is_none(), "{text}");
        }
    }
    assert!(gate > 0, "{j}");
}
