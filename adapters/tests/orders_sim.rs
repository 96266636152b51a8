//! The real-venue order sink against the simulated venues over loopback: real sockets,
//! real signatures, the venues' own answers and private pushes. Every test checks the
//! venue's account against what the sink's events said, exactly.

mod orders_support;
// The sim crate's raw-socket test client (independent of both the sim and adapters).
#[path = "../../sim/tests/client/mod.rs"]
mod sim_client;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use adapters::net::tls::TlsRoots;
use adapters::venues::VenueMarket;
use adapters::venues::gateio::ws_api::OrderEntry;
use orders_support::{Harness, Outcome, quiet};
use pipeline::dispatch::{OrderSink, SinkError};
use pipeline::journal::TimeInForce;
use pipeline::msg::{OrderUpdate, RejectReason};
use pipeline::types::{Amount, Instrument, Market, Qty, Rounding, Side, Venue};

const MARKETS: [(Venue, Market, &str); 4] = [
    (Venue::GateIo, Market::Spot, "BTC_USDT"),
    (Venue::GateIo, Market::Futures, "BTC_USDT"),
    (Venue::Mexc, Market::Spot, "BTCUSDT"),
    (Venue::Mexc, Market::Futures, "BTC_USDT"),
];

fn qty(inst: &Instrument, text: &str) -> Qty {
    Qty::parse(text, inst.qty_scale).unwrap()
}

/// A small order: 0.002 BTC spot, 20 contracts (0.002 BTC) futures.
fn small(inst: &Instrument) -> Qty {
    qty(inst, if inst.market == Market::Spot { "0.002" } else { "20" })
}

/// Checks the venue account moved exactly as the buy and the sell said.
fn check_account(h: &Harness, inst: &Instrument, before: &sim::AccountSnapshot, b: &Outcome, s: &Outcome) {
    let after = h.sim.account(inst.venue);
    match inst.market {
        Market::Spot => {
            let name = |a| h.instruments.asset_name(a).to_owned();
            let total = |acct: &sim::AccountSnapshot, a| {
                acct.spot.get(&name(a)).map(|x| x.total()).unwrap_or(Amount::ZERO)
            };
            let base = |q: Qty| inst.base_amount(q).unwrap();
            let base_delta = base(b.filled) - b.fee(inst.base) - base(s.filled) - s.fee(inst.base);
            let quote_delta = s.value - s.fee(inst.quote) - b.value - b.fee(inst.quote);
            assert_eq!(
                total(&after, inst.base) - total(before, inst.base),
                base_delta,
                "{} base",
                inst.symbol
            );
            assert_eq!(
                total(&after, inst.quote) - total(before, inst.quote),
                quote_delta,
                "{} quote",
                inst.symbol
            );
        }
        Market::Futures => {
            let pos = |a: &sim::AccountSnapshot| a.positions.get(&inst.symbol).map_or(Qty::ZERO, |p| p.qty);
            assert_eq!(pos(&after).0 - pos(before).0, b.filled.0 - s.filled.0, "{} position", inst.symbol);
            // Flat again: the balance moved by the realised P&L and the fees.
            let delta = s.value - b.value - b.fee(inst.quote) - s.fee(inst.quote);
            assert_eq!(after.futures_balance - before.futures_balance, delta, "{} balance", inst.symbol);
        }
    }
}

#[test]
fn ioc_round_trips_on_every_market_match_the_venue_accounts() {
    let mut h = Harness::start(quiet(""), |_| {});
    let mut latencies = Vec::new();
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let before = h.sim.account(venue);
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
        let b = h.run(req);
        assert_eq!(b.done, Some(small(&inst)), "{venue} {market}: {:?}", b.updates);
        assert_eq!(b.filled, small(&inst));
        assert_eq!(b.updates[0], OrderUpdate::Accepted, "{venue} {market}: {:?}", b.updates);
        latencies.push((venue, market, b.accepted_in.unwrap()));
        if market == Market::Futures {
            let mid = h.sim.futures_position(venue, sym);
            assert_eq!(mid.qty, b.filled);
        }
        let price = h.through(&inst, Side::Sell, 20);
        let req = h.request(&inst, Side::Sell, price, b.filled, TimeInForce::Ioc);
        let s = h.run(req);
        assert_eq!(s.done, Some(b.filled), "{venue} {market}: {:?}", s.updates);
        check_account(&h, &inst, &before, &b, &s);
    }
    for (v, m, d) in &latencies {
        eprintln!("submit to first ack, {v} {m}: {d:?}");
    }

    // Balances: a query answers every spot asset as the venue holds it; the futures
    // account and positions are kept for a cold reader.
    h.balances.clear();
    h.sink.query_balances(Venue::GateIo).unwrap();
    h.sink.query_balances(Venue::Mexc).unwrap();
    let assets = ["USDT", "BTC", "ETH", "SOL"].map(|a| h.instruments.find_asset(a).unwrap());
    // MEXC's account is read after its funding history: it comes a round trip later.
    h.pump_until(Duration::from_secs(3), |h| {
        Venue::ALL.iter().all(|&v| {
            assets.iter().all(|&a| h.last_balance(v, a).is_some())
                && h.sink.futures_balance(v).map(|b| b.0) == Some(h.sim.account(v).futures_balance)
        })
    });
    for venue in Venue::ALL {
        let acct = h.sim.account(venue);
        for a in assets {
            let b = h.last_balance(venue, a).unwrap_or_else(|| panic!("no balance for {venue} {a:?}"));
            let s = acct.spot[h.instruments.asset_name(a)];
            assert_eq!(
                (b.available, b.locked),
                (s.available, s.locked),
                "{venue} {}",
                h.instruments.asset_name(a)
            );
        }
        assert_eq!(h.sink.futures_balance(venue).map(|b| b.0), Some(acct.futures_balance), "{venue} futures");
        let perp = h.inst(venue, Market::Futures, "BTC_USDT").id;
        assert_eq!(h.sink.futures_position(perp), Some(Qty::ZERO));
    }
}

#[test]
fn without_a_private_stream_the_sink_settles_orders_by_query() {
    // MEXC spot's private stream cannot connect: the create answer only acknowledges, so
    // the fills and the end come from the sink's own query.
    let mut h = Harness::start_unready(quiet(""), |c| {
        if let Some(m) = &mut c.mexc {
            m.ws_spot_url = "ws://127.0.0.1:1/ws".into();
        }
        c.settle_query_ms = 200;
    });
    h.pump_until(Duration::from_secs(5), |h| h.sink.readiness(VenueMarket::MexcFutures) == Some(true));
    assert_eq!(h.sink.readiness(VenueMarket::MexcSpot), Some(false));
    let inst = h.inst(Venue::Mexc, Market::Spot, "BTCUSDT").clone();
    let before = h.sim.account(Venue::Mexc);
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    let b = h.run(req);
    assert_eq!(b.done, Some(small(&inst)), "{:?}", b.updates);
    let price = h.through(&inst, Side::Sell, 20);
    let req = h.request(&inst, Side::Sell, price, b.filled, TimeInForce::Ioc);
    let s = h.run(req);
    assert_eq!(s.done, Some(b.filled), "{:?}", s.updates);
    // One price level each: the fee estimate (taker rate on the received asset) is the
    // venue's fee, so the account still agrees exactly.
    check_account(&h, &inst, &before, &b, &s);
}

#[test]
fn fok_is_all_or_nothing() {
    let mut h = Harness::start(quiet(""), |_| {});
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let before = h.sim.account(venue);
        // More than the best level can ever hold (0.6 BTC), limited to that level.
        let (_, ask) = h.best(&inst);
        let big = qty(&inst, if market == Market::Spot { "0.7" } else { "7000" });
        let req = h.request(&inst, Side::Buy, ask, big, TimeInForce::Fok);
        let o = h.run(req);
        assert_eq!(o.rejected, Some(RejectReason::WouldNotFill), "{venue} {market}: {:?}", o.updates);
        assert!(o.filled.is_zero());
        let after = h.sim.account(venue);
        assert_eq!((after.spot, after.positions), (before.spot, before.positions), "{venue} {market} moved");
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Fok);
        let o = h.run(req);
        assert_eq!(o.done, Some(small(&inst)), "{venue} {market}: {:?}", o.updates);
    }
    assert!(h.sink.supports_fok(h.inst(Venue::Mexc, Market::Futures, "BTC_USDT").id));
}

#[test]
fn venue_refusals_map_to_reasons_and_local_checks_refuse_before_sending() {
    let mut h = Harness::start(quiet(""), |c| c.validate_locally = false);
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let spot = market == Market::Spot;
        let price = h.through(&inst, Side::Buy, 20);
        // Far beyond the account (1.5 BTC of USDT; 30 BTC of contracts on 10x margin).
        let too_much = qty(&inst, if spot { "1.5" } else { "300000" });
        let req = h.request(&inst, Side::Buy, price, too_much, TimeInForce::Ioc);
        let o = h.run(req);
        assert_eq!(o.rejected, Some(RejectReason::InsufficientBalance), "{venue} {market}: {:?}", o.updates);
        // Half a tick off the grid.
        let off = pipeline::types::Price(price.0 + inst.tick.0 / 2);
        let req = h.request(&inst, Side::Buy, off, small(&inst), TimeInForce::Ioc);
        let o = h.run(req);
        assert_eq!(o.rejected, Some(RejectReason::BadPrecision), "{venue} {market}: {:?}", o.updates);
        if spot {
            // 0.00001 BTC is under both venues' minimum order value.
            let req = h.request(&inst, Side::Buy, price, qty(&inst, "0.00001"), TimeInForce::Ioc);
            let o = h.run(req);
            assert_eq!(o.rejected, Some(RejectReason::BelowMinimum), "{venue} {market}: {:?}", o.updates);
        }
    }
    let mut notices = Vec::new();
    h.sink.drain_notices(|n| notices.push(format!("{n:?}")));
    assert!(notices.iter().any(|n| n.contains("BALANCE_NOT_ENOUGH")), "{notices:?}");
    assert!(notices.iter().any(|n| n.contains("Balance insufficient")), "{notices:?}");

    // With local checks on, the same orders never leave.
    let mut h = Harness::start(quiet(""), |_| {});
    let inst = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let off = pipeline::types::Price(price.0 + inst.tick.0 / 2);
    let req = h.request(&inst, Side::Buy, off, small(&inst), TimeInForce::Ioc);
    assert_eq!(h.sink.submit(&req), Err(SinkError::NotSent(RejectReason::BadPrecision)));
    let req = h.request(&inst, Side::Buy, price, qty(&inst, "0.00001"), TimeInForce::Ioc);
    assert_eq!(h.sink.submit(&req), Err(SinkError::NotSent(RejectReason::BelowMinimum)));
}

#[test]
fn rate_limits_refuse_new_orders_until_they_pass() {
    let mut h = Harness::start(quiet("reject=1"), |c| c.rate_limit_backoff_ms = 400);
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
        let o = h.run(req);
        assert_eq!(o.rejected, Some(RejectReason::RateLimited), "{venue} {market}: {:?}", o.updates);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
        assert_eq!(
            h.sink.submit(&req),
            Err(SinkError::NotSent(RejectReason::RateLimited)),
            "{venue} {market}"
        );
    }
    std::thread::sleep(Duration::from_millis(450));
    let inst = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    assert!(h.submit(req).is_ok(), "the window has passed");
}

#[test]
fn partial_fills_are_reported_exactly_once_with_their_cumulative_quantity() {
    let mut h = Harness::start(quiet("partial=1"), |_| {});
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let before = h.sim.account(venue);
        let want = qty(&inst, if market == Market::Spot { "0.01" } else { "100" });
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, want, TimeInForce::Ioc);
        let b = h.run(req);
        let filled = b.done.unwrap_or_else(|| panic!("{venue} {market}: {:?}", b.updates));
        assert!(filled.is_positive() && filled < want, "{venue} {market}: {filled:?}");
        assert_eq!(b.filled, filled);
        // The sell is cut too; what is left stays in the account and is accounted for.
        let price = h.through(&inst, Side::Sell, 20);
        let req = h.request(&inst, Side::Sell, price, filled, TimeInForce::Ioc);
        let s = h.run(req);
        assert!(s.done.is_some(), "{venue} {market}: {:?}", s.updates);
        match market {
            Market::Spot => check_account(&h, &inst, &before, &b, &s),
            Market::Futures => {
                let pos = h.sim.futures_position(venue, sym).qty;
                assert_eq!(pos.0, b.filled.0 - s.filled.0, "{venue} position");
            }
        }
    }
}

#[test]
fn an_unknown_outcome_is_resolved_by_query_never_by_resending() {
    // Acks take 700 ms; the sink gives up on an answer after 300 ms.
    let mut h = Harness::start(quiet("delay_ms=700"), |c| {
        c.request_timeout_ms = 300;
        c.not_found_grace_ms = 1_200;
    });
    for (venue, market, sym) in [MARKETS[0], MARKETS[2], MARKETS[3]] {
        let inst = h.inst(venue, market, sym).clone();
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
        let client = req.client;
        h.submit(req).unwrap();
        assert!(h.pump_until(Duration::from_secs(3), |h| h.outcome(client).unknown), "{venue} {market}");
        // Once the venue has had the order, the query answers with its final state.
        std::thread::sleep(Duration::from_millis(600));
        h.sink.query(client, inst.id).unwrap();
        let status = |o: &Outcome| {
            o.updates.iter().rev().find_map(|u| match u {
                OrderUpdate::Status { filled, open, .. } => Some((*filled, *open)),
                _ => None,
            })
        };
        assert!(
            h.pump_until(Duration::from_secs(3), |h| status(&h.outcome(client)).is_some()),
            "{venue} {market}"
        );
        let o = h.outcome(client);
        assert_eq!(status(&o), Some((small(&inst), false)), "{venue} {market}: {:?}", o.updates);
        assert_eq!(o.filled, small(&inst), "{venue} {market}: fills counted once: {:?}", o.updates);
        let sent = o.updates.iter().filter(|u| matches!(u, OrderUpdate::Done { .. })).count();
        assert!(sent <= 1);
    }
    // The venue holds each order exactly once: nothing was sent twice.
    assert_eq!(h.sim.spot_balance(Venue::GateIo, "BTC").total(), {
        let inst = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT");
        Amount::from_int(1) + inst.base_amount(small(inst)).unwrap()
            - inst.base_amount(small(inst)).unwrap().mul_rate(inst.taker_fee, Rounding::Ceil).unwrap()
    });

    // A query about an order the venue never saw: "not found" on every venue market (each
    // venue has its own words for it), once it could no longer arrive.
    let mut ghosts = Vec::new();
    for (venue, market, sym) in MARKETS {
        let inst = h.inst(venue, market, sym).clone();
        let ghost = h.client();
        h.track(ghost, inst.id);
        h.sink.query(ghost, inst.id).unwrap();
        ghosts.push((venue, market, ghost));
    }
    h.pump_until(Duration::from_millis(600), |_| false);
    for &(venue, market, ghost) in &ghosts {
        assert!(h.outcome(ghost).rejected.is_none(), "{venue} {market}: too early to say");
    }
    let all = |h: &Harness| ghosts.iter().all(|g| h.outcome(g.2).rejected.is_some());
    h.pump_until(Duration::from_secs(4), all);
    for &(venue, market, ghost) in &ghosts {
        let o = h.outcome(ghost);
        assert_eq!(o.rejected, Some(RejectReason::NotFound), "{venue} {market}: {:?}", o.updates);
    }
}

#[test]
fn cancel_all_cancels_every_open_order_and_reports_each_once() {
    let mut h = Harness::start(quiet(""), |_| {});
    let gs = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT").clone();
    let gf = h.inst(Venue::GateIo, Market::Futures, "BTC_USDT").clone();
    let ms = h.inst(Venue::Mexc, Market::Spot, "BTCUSDT").clone();
    let mf = h.inst(Venue::Mexc, Market::Futures, "BTC_USDT").clone();
    // Resting orders far below the market, placed by another client of the account with
    // ids in our format (as after a restart).
    let low = |h: &mut Harness, i: &Instrument| {
        let (bid, _) = h.best(i);
        pipeline::types::Price(bid.0 * 9 / 10)
            .round_to(i.tick, Rounding::Floor)
            .display(i.price_scale)
            .to_string()
    };
    let p = low(&mut h, &gs);
    let (st, _) = h.gate_raw("POST", "/spot/orders", "", &format!(
        r#"{{"text":"t-9001-0-0","currency_pair":"BTC_USDT","type":"limit","side":"buy","amount":"0.001","price":"{p}","time_in_force":"gtc"}}"#
    ));
    assert_eq!(st, 201);
    let p = low(&mut h, &gf);
    let (st, _) = h.gate_raw(
        "POST",
        "/futures/usdt/orders",
        "",
        &format!(r#"{{"contract":"BTC_USDT","size":2,"price":"{p}","tif":"gtc","text":"t-9002-0-0"}}"#),
    );
    assert_eq!(st, 201);
    let p = low(&mut h, &ms);
    let (st, _) = h.mexc_raw(
        "POST",
        "/api/v3/order",
        &format!("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price={p}&newClientOrderId=9003-0-0"),
    );
    assert_eq!(st, 200);
    let p = low(&mut h, &mf);
    let (st, v) = h.mexc_fut_raw("POST", "/api/v1/private/order/submit", &format!(
        r#"{{"symbol":"BTC_USDT","price":{p},"vol":2,"side":1,"type":1,"openType":2,"externalOid":"9004-0-0"}}"#
    ));
    assert!(st == 200 && v["success"] == true, "{v}");
    let open = |h: &Harness| Venue::ALL.iter().map(|&v| h.sim.account(v).open_orders).sum::<usize>();
    assert_eq!(open(&h), 4);
    let ids: Vec<_> =
        (9001..=9004).map(|op| pipeline::msg::ClientOrderId { op, leg: 0, attempt: 0 }).collect();
    // Queried by client id alone (Gate's `t-` text, MEXC's origClientOrderId and
    // externalOid), each is open with nothing filled.
    for (&c, i) in ids.iter().zip([&gs, &gf, &ms, &mf]) {
        h.track(c, i.id);
        h.sink.query(c, i.id).unwrap();
    }
    let open_status =
        |o: &Outcome| o.updates.iter().any(|u| matches!(u, OrderUpdate::Status { open: true, .. }));
    assert!(
        h.pump_until(Duration::from_secs(3), |h| ids.iter().all(|&c| open_status(&h.outcome(c)))),
        "{:?}",
        ids.iter().map(|&c| h.outcome(c).updates).collect::<Vec<_>>()
    );
    for &c in &ids {
        let o = h.outcome(c);
        assert!(o.filled.is_zero() && o.done.is_none(), "{c:?}: {:?}", o.updates);
    }
    h.sink.cancel_all().unwrap();
    let done = h.pump_until(Duration::from_secs(3), |h| {
        open(h) == 0 && ids.iter().all(|&c| h.outcome(c).done.is_some())
    });
    assert!(done, "open {}: {:?}", open(&h), ids.iter().map(|&c| h.outcome(c).updates).collect::<Vec<_>>());
    for c in ids {
        assert_eq!(h.outcome(c).done, Some(Qty::ZERO), "{c:?}");
    }
}

#[test]
fn tls_order_entry() {
    let sim = sim::Sim::start(sim::SimConfig { plain: false, ..quiet("") }).unwrap();
    let tls = TlsRoots::empty().add_pem_file(sim.ca_pem_path().unwrap()).unwrap().client_config().unwrap();
    let instruments =
        std::sync::Arc::new(pipeline::types::Instruments::from_specs(&sim.instrument_specs()).unwrap());
    let cfg = orders_support::config_for(&sim);
    let mut sink = adapters::orders::VenueSink::new(
        &cfg,
        orders_support::creds_for(&sim),
        instruments.clone(),
        Some(tls),
        quanta::Clock::new(),
    )
    .unwrap();
    sink.wait_ready(Duration::from_secs(10)).unwrap();
    // Sell 0.002 BTC far through the bid (at 10 000) on each spot venue.
    for (venue, sym) in [(Venue::GateIo, "BTC_USDT"), (Venue::Mexc, "BTCUSDT")] {
        let inst = instruments.get(instruments.find(venue, Market::Spot, sym).unwrap());
        let req = pipeline::dispatch::OrderRequest {
            client: pipeline::msg::ClientOrderId { op: 77, leg: venue as u8, attempt: 0 },
            inst: inst.id,
            venue,
            market: Market::Spot,
            side: Side::Sell,
            price: pipeline::types::Price::parse("10000", inst.price_scale).unwrap(),
            qty: small(inst),
            tif: TimeInForce::Ioc,
            ts_ns: 0,
        };
        sink.submit(&req).unwrap();
        let mut done = None;
        let start = std::time::Instant::now();
        while done.is_none() && start.elapsed() < Duration::from_secs(5) {
            sink.poll(64, &mut |e| {
                if let pipeline::msg::StateInput::Order(o) = e {
                    if let OrderUpdate::Done { filled } = o.update {
                        done = Some(filled);
                    }
                }
            });
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(done, Some(small(inst)), "{venue}");
    }
    sink.stop();
}

/// A futures REST endpoint that answers every order as MEXC does for accounts without
/// futures API trading.
fn mexc_futures_under_maintenance() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            buf.drain(..end + 4 + len);
                            let body = if head.contains("/order/submit") {
                                r#"{"success":false,"code":1002,"message":"Contract not allow place order!"}"#
                            } else {
                                r#"{"success":true,"code":0,"data":1}"#
                            };
                            let r = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if s.write_all(r.as_bytes()).is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn mexc_futures_trading_disabled_is_reported_and_then_refused_locally() {
    let fake = mexc_futures_under_maintenance();
    let mut h = Harness::start(quiet(""), |c| {
        if let Some(m) = &mut c.mexc {
            m.futures_rest_url = Some(fake.clone());
        }
    });
    let inst = h.inst(Venue::Mexc, Market::Futures, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    let o = h.run(req);
    assert_eq!(o.rejected, Some(RejectReason::TradingDisabled), "{:?}", o.updates);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    assert_eq!(h.sink.submit(&req), Err(SinkError::NotSent(RejectReason::TradingDisabled)));
    let mut notices = Vec::new();
    h.sink.drain_notices(|n| notices.push(format!("{n:?}")));
    assert!(
        notices.iter().any(|n| n == "mexc futures trading_disabled (1002): Contract not allow place order!"),
        "{notices:?}"
    );
    // Spot on the same venue still trades.
    let spot = h.inst(Venue::Mexc, Market::Spot, "BTCUSDT").clone();
    let price = h.through(&spot, Side::Buy, 20);
    let req = h.request(&spot, Side::Buy, price, small(&spot), TimeInForce::Ioc);
    assert_eq!(h.run(req).done, Some(small(&spot)));
}

/// The power-loss restart's defect: a restarted instance listed the venues' orders while
/// a request of the dead one was still in flight, missed that order and used its client
/// id again. Discovery now lists only from `not_before`, when every such request has
/// reached the venue or expired there.
#[test]
fn a_restart_lists_the_venues_orders_only_once_the_requests_in_flight_have_landed() {
    // Acks take 2 s: a request is in flight that long after it left.
    let settle = |c: &mut adapters::orders::OrderEntryConfig| {
        c.request_timeout_ms = 300;
        c.restart_settle_ms = 2_500;
    };
    let mut h = Harness::start(quiet("delay_ms=2000"), settle);
    let inst = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    let client = req.client;
    let sent = std::time::Instant::now();
    h.submit(req).unwrap();
    h.pump_until(Duration::from_millis(50), |_| false);

    // The sender dies here; another instance connects while its request is in flight.
    let mut cfg = orders_support::config_for(&h.sim);
    settle(&mut cfg);
    let mut restarted = adapters::orders::VenueSink::new(
        &cfg,
        orders_support::creds_for(&h.sim),
        h.instruments.clone(),
        None,
        h.clock.clone(),
    )
    .unwrap();
    restarted.wait_ready(Duration::from_secs(10)).unwrap();
    let ours = |found: &[adapters::orders::DiscoveredOrder]| found.iter().any(|o| o.client == client);
    if sent.elapsed() < Duration::from_millis(1_500) {
        let early = restarted.discover(Duration::from_secs(10), std::time::Instant::now()).unwrap();
        assert!(!ours(&early), "listed at once, the order in flight is not there yet: {early:?}");
    }
    let found = restarted
        .discover(Duration::from_secs(10), sent + Duration::from_millis(cfg.restart_settle_ms))
        .unwrap();
    assert!(ours(&found), "listed after the settle, the order that was in flight is found: {found:?}");
    let o = found.iter().find(|o| o.client == client).unwrap();
    assert_eq!((o.inst, o.side, o.qty, o.open), (inst.id, Side::Buy, small(&inst), false));
}

/// Gate.io funding reaches the books once each, whether the `futures.balances` push
/// brought it, the account book read over REST brought it (the push went to nobody: the
/// stream was down), or both did.
#[test]
fn gate_funding_settled_while_the_stream_is_down_is_booked_once_from_the_account_book() {
    let mut h = Harness::start(quiet(""), |_| {});
    let inst = h.inst(Venue::GateIo, Market::Futures, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    assert_eq!(h.run(req).filled, small(&inst));

    // A restart: the new sink's futures stream is not subscribed yet when funding
    // settles, so no push carries it.
    h.restart_sink();
    let settle = |h: &Harness| -> Amount {
        let e = h.sim.settle_funding(Venue::GateIo);
        assert!(!e.is_empty(), "the quiet market has a basis, so funding is paid");
        e.iter().map(|e| e.amount).sum()
    };
    let missed = settle(&h);
    assert!(!missed.is_zero());
    h.pump_until(Duration::from_secs(8), |h| h.funding_booked(Venue::GateIo) == missed);
    assert_eq!(h.funding_booked(Venue::GateIo), missed, "the account book brings what no push did");
    assert!(h.sink.wait_ready(Duration::from_secs(5)).is_ok());

    // With the stream up, the push and the account book both carry the next one.
    let pushed = settle(&h);
    // Two reads of the account book (every 5 s) after it.
    h.pump_until(Duration::from_secs(11), |_| false);
    assert_eq!(h.funding_booked(Venue::GateIo), missed + pushed, "each entry booked once");
    // Whichever came first booked it; the push's balance after it is reported either way.
    let venue_balance = h.sim.account(Venue::GateIo).futures_balance;
    assert!(h.wallets.iter().any(|w| w.balance == Some(venue_balance)), "{:?}", h.wallets);
    let venue_total = h.sim.account(Venue::GateIo).funding;
    assert_eq!(venue_total, missed + pushed);
}

/// MEXC pushes the futures balance the moment funding settles but no funding entry: the
/// engine books funding from the history it reads. A balance reported ahead of that read
/// leads the books by the settlement, and with a funding interval dividing the reconcile
/// interval every check finds it again (a 30-minute soak halted MEXC for it). The push
/// now brings a read of the history and then of the balance, so no balance the engine
/// is told of is ahead of the funding it booked.
#[test]
fn mexc_balances_never_lead_the_funding_booked() {
    let mut h = Harness::start(quiet(""), |_| {});
    let inst = h.inst(Venue::Mexc, Market::Futures, "BTC_USDT").clone();
    let price = h.through(&inst, Side::Buy, 20);
    let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
    assert_eq!(h.run(req).filled, small(&inst));
    // The fill's own balance push and the reads it brings settle first.
    h.pump_until(Duration::from_secs(3), |_| false);
    let before = h.sim.account(Venue::Mexc).futures_balance;
    let from = h.wallets.len();
    let booked_before = h.funding_booked(Venue::Mexc);

    let settled: Amount = h.sim.settle_funding(Venue::Mexc).iter().map(|e| e.amount).sum();
    assert!(!settled.is_zero(), "the quiet market has a basis, so funding is paid");
    let after = h.sim.account(Venue::Mexc).futures_balance;
    assert_eq!(after, before + settled);
    // No balance query from the state stage: the push alone brings the reads.
    let reported =
        |h: &Harness| h.wallets[from..].iter().any(|w| w.venue == Venue::Mexc && w.balance == Some(after));
    assert!(h.pump_until(Duration::from_secs(4), reported), "{:?}", &h.wallets[from..]);
    assert_eq!(h.funding_booked(Venue::Mexc) - booked_before, settled);
    let mut booked = Amount::ZERO;
    for w in h.wallets[from..].iter().filter(|w| w.venue == Venue::Mexc) {
        booked += w.funding;
        if let Some(b) = w.balance {
            assert_eq!(
                b,
                before + booked,
                "a balance reported ahead of the funding booked: {:?}",
                &h.wallets[from..]
            );
        }
    }
}

/// Gate.io with `order_entry = "ws"`: orders go over the WebSocket trading API of the
/// private streams (login once, then `*.order_place`), fill and settle against the
/// venue's account exactly as over REST, and are refused with the same reasons; orders
/// beyond what one session may have unanswered go over REST.
#[test]
fn gate_orders_go_over_the_websocket_trading_api_with_rest_as_the_fallback() {
    let ws = |c: &mut adapters::orders::OrderEntryConfig| {
        c.validate_locally = false;
        if let Some(g) = c.gateio.as_mut() {
            g.order_entry = OrderEntry::Ws;
        }
    };
    // Answers held 300 ms, so that a burst finds every session slot taken.
    let mut h = Harness::start(quiet("delay_ms=300"), ws);
    // The login is answered shortly after the subscriptions the sink waited for.
    h.pump_until(Duration::from_millis(500), |_| false);
    for market in [Market::Spot, Market::Futures] {
        let inst = h.inst(Venue::GateIo, market, "BTC_USDT").clone();
        let sent = h.sink.orders_over_ws(Venue::GateIo, market);
        let before = h.sim.account(Venue::GateIo);
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, small(&inst), TimeInForce::Ioc);
        let b = h.run(req);
        assert_eq!(b.filled, small(&inst), "{market}: {:?}", b.updates);
        assert_eq!(b.updates[0], OrderUpdate::Accepted, "{market}: {:?}", b.updates);
        let price = h.through(&inst, Side::Sell, 20);
        let req = h.request(&inst, Side::Sell, price, b.filled, TimeInForce::Ioc);
        let s = h.run(req);
        assert_eq!(s.done, Some(b.filled), "{market}: {:?}", s.updates);
        check_account(&h, &inst, &before, &b, &s);
        assert_eq!(
            h.sink.orders_over_ws(Venue::GateIo, market),
            sent + 2,
            "{market}: both over the trading API"
        );
        // Refused over the trading API with the reason REST gives.
        let too_much = qty(&inst, if market == Market::Spot { "1.5" } else { "300000" });
        let price = h.through(&inst, Side::Buy, 20);
        let req = h.request(&inst, Side::Buy, price, too_much, TimeInForce::Ioc);
        let o = h.run(req);
        assert_eq!(o.rejected, Some(RejectReason::InsufficientBalance), "{market}: {:?}", o.updates);
        assert_eq!(h.sink.orders_over_ws(Venue::GateIo, market), sent + 3, "{market}");
    }
    let mut notices = Vec::new();
    h.sink.drain_notices(|n| notices.push(format!("{n:?}")));
    assert!(notices.iter().any(|n| n.contains("BALANCE_NOT_ENOUGH")), "{notices:?}");

    // A burst of 70 orders while answers take 300 ms: 64 go over the session, the rest
    // over REST, and every one fills once.
    let inst = h.inst(Venue::GateIo, Market::Spot, "BTC_USDT").clone();
    let sent = h.sink.orders_over_ws(Venue::GateIo, Market::Spot);
    let base = |h: &Harness| h.sim.spot_balance(Venue::GateIo, "BTC").total();
    let held = base(&h);
    let price = h.through(&inst, Side::Buy, 20);
    let one = qty(&inst, "0.0005");
    let clients: Vec<_> = (0..70)
        .map(|_| {
            let req = h.request(&inst, Side::Buy, price, one, TimeInForce::Ioc);
            let c = req.client;
            h.submit(req).unwrap();
            c
        })
        .collect();
    assert_eq!(h.sink.orders_over_ws(Venue::GateIo, Market::Spot), sent + 64);
    assert!(h.pump_until(Duration::from_secs(10), |h| clients.iter().all(|&c| h.outcome(c).is_final())));
    h.pump_until(Duration::from_millis(300), |_| false);
    let mut bought = Amount::ZERO;
    for &c in &clients {
        let o = h.outcome(c);
        assert_eq!(o.filled, one, "{c:?}: {:?}", o.updates);
        bought += inst.base_amount(o.filled).unwrap() - o.fee(inst.base);
    }
    assert_eq!(base(&h) - held, bought, "the account holds what the 70 fills said, once each");
}
