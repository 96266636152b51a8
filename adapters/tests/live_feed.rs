//! The live feed against a scripted venue on loopback: subscriptions go out one topic per
//! message, a MEXC acknowledgement that does not echo the topic is a refused
//! subscription, data flows into events, and a dropped connection marks its books lost,
//! reconnects and subscribes again.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use adapters::decode::DecodeStats;
use adapters::feed::{LiveFeed, LiveFeedConfig};
use adapters::venues::Endpoints;
use pipeline::md::FeedSource;
use pipeline::msg::{FeedLoss, MdBody, MdEvent};
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};
use quanta::Clock;
use tungstenite::Message;

fn spec(symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Mexc,
        market: Market::Spot,
        symbol: symbol.into(),
        base: symbol.trim_end_matches("USDT").into(),
        quote: "USDT".into(),
        tick: "0.01".into(),
        lot: "0.000001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: "1".into(),
        taker_fee: None,
        maker_fee: None,
        trading_enabled: true,
    }
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, field << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A bookTicker push for `symbol`.
fn book_ticker(symbol: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (f, v) in [(1, "100.5"), (2, "1"), (3, "100.6"), (4, "2"), (5, "77")] {
        pb_bytes(&mut body, f, v.as_bytes());
    }
    let mut w = Vec::new();
    pb_bytes(&mut w, 1, format!("spot@public.aggre.bookTicker.v3.api.pb@10ms@{symbol}").as_bytes());
    pb_bytes(&mut w, 3, symbol.as_bytes());
    pb_bytes(&mut w, 315, &body);
    w
}

#[test]
fn mexc_subscriptions_acks_data_and_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (seen_tx, seen_rx) = mpsc::channel::<(usize, String)>();
    std::thread::spawn(move || {
        for (session, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let Ok(mut ws) = tungstenite::accept(stream) else { continue };
            // Four subscriptions: depth and bookTicker for two symbols.
            for _ in 0..4 {
                let Ok(Message::Text(t)) = ws.read() else { return };
                let text = t.as_str().to_owned();
                let _ = seen_tx.send((session, text.clone()));
                let topic = text.split('"').nth(7).unwrap_or("").to_owned();
                let msg = if topic.contains("aggre.depth") && topic.ends_with("ETHUSDT") {
                    format!("Not Subscribed successfully! [{topic}].  Reason： Blocked! ")
                } else {
                    topic
                };
                let _ = ws.send(Message::text(format!(r#"{{"id":0,"code":0,"msg":"{msg}"}}"#)));
            }
            let _ = ws.send(Message::binary(book_ticker("BTCUSDT")));
            let _ = ws.flush();
            if session == 0 {
                std::thread::sleep(Duration::from_millis(100));
                drop(ws); // the first session dies
            } else {
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    });

    let t = Instruments::from_specs(&[spec("BTCUSDT"), spec("ETHUSDT")]).unwrap();
    let cfg = LiveFeedConfig {
        venues: vec![Endpoints {
            venue: Venue::Mexc,
            rest: "http://127.0.0.1:9".into(),
            rest_futures: None,
            ws_spot: url,
            ws_futures: "ws://127.0.0.1:9".into(),
        }],
        ..LiveFeedConfig::default()
    };
    let clock = Clock::new();
    let stats = DecodeStats::new();
    let mut feed = LiveFeed::new(cfg, &t, None, clock.clone(), stats.clone()).unwrap();
    let mut events: Vec<MdEvent> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (btc, eth) = (
        t.find(Venue::Mexc, Market::Spot, "BTCUSDT").unwrap(),
        t.find(Venue::Mexc, Market::Spot, "ETHUSDT").unwrap(),
    );
    let count = |evs: &[MdEvent], f: &dyn Fn(&MdEvent) -> bool| evs.iter().filter(|e| f(e)).count();
    loop {
        let mut out = Vec::new();
        feed.poll(pipeline::clock::now_ns(&clock), &mut out);
        events.extend(out);
        let bbos = count(&events, &|e| e.inst == btc && matches!(e.body, MdBody::Bbo { seq: 77, .. }));
        if bbos >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no data after reconnect: {events:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    let refused = count(&events, &|e| {
        e.inst == eth && e.body == MdBody::FeedLost { reason: FeedLoss::SubscriptionFailed }
    });
    assert_eq!(refused, 2, "ETH's refused depth topic, once per session");
    assert_eq!(
        count(&events, &|e| e.inst == btc
            && e.body == MdBody::FeedLost { reason: FeedLoss::SubscriptionFailed }),
        0
    );
    let lost =
        count(&events, &|e| e.inst == btc && e.body == MdBody::FeedLost { reason: FeedLoss::Disconnected });
    assert!(lost >= 2, "lost on the drop and again on reopen: {lost}");
    let subs: Vec<(usize, String)> = seen_rx.try_iter().collect();
    assert_eq!(subs.iter().filter(|(s, _)| *s == 0).count(), 4);
    assert_eq!(subs.iter().filter(|(s, _)| *s == 1).count(), 4, "every topic subscribed again");
    assert!(
        subs.iter().all(|(_, m)| m.starts_with(r#"{"method":"SUBSCRIPTION","params":[""#)
            && m.matches("spot@").count() == 1)
    );
    feed.stop();
}
