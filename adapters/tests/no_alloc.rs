//! Heap allocations on the hot paths of the network edge after warm-up, counted with a
//! counting allocator that only counts on the thread driving the clients (the servers
//! run on other threads and allocate freely). Over TLS and plain TCP alike, none:
//!
//! - receiving WebSocket frames;
//! - an HTTP round trip on a keep-alive connection;
//! - sending over WebSocket (application pings, order texts).
//!
//! rustls' record layer allocates a buffer for every record it opens or seals, so a
//! connection moves to the in-place record layer once its handshake is done
//! (`net::records`); the handshake, before warm-up, allocates as it likes.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use adapters::net::http::{HttpClient, HttpConfig, Request};
use adapters::net::ws::{StaticHooks, WsClient, WsConfig, WsEvent};
use mio::{Events, Poll, Token};
use pipeline::testkit::counting::{self, CountingAlloc};
use quanta::Clock;
use rustls::ServerConfig;
use support::{ServerStream, TestCa};
use tungstenite::Message;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn count(on: bool) {
    counting::count_this_thread(on);
}

/// Polls `poll` without counting: mio's own bookkeeping is not ours.
fn wait(poll: &mut Poll, events: &mut Events) {
    let was = counting::count_this_thread(false);
    poll.poll(events, Some(Duration::from_millis(2))).expect("poll");
    count(was);
}

/// A loopback server for one connection (TLS with `tls`), run by `serve` on its own
/// thread; the port it listens on.
fn serve(tls: Option<Arc<ServerConfig>>, serve: impl FnOnce(ServerStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        serve(ServerStream::accept(tcp, tls.as_ref()).expect("accept"));
    });
    port
}

#[test]
fn hot_paths_do_not_allocate_after_warm_up() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["127.0.0.1"]);
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(64);
    let clock = Clock::new();

    // WebSocket receive over TLS.
    const FRAMES: u64 = 20_000;
    const WARM: u64 = 2_000;
    let port = serve(Some(cert.server_config()), move |stream| {
        let mut ws = tungstenite::accept(stream).expect("upgrade");
        let tick = r#"{"channel":"spot.book_ticker","result":{"u":48733182,"b":"19177.79","a":"19179.38"}}"#;
        for _ in 0..FRAMES {
            let _ = ws.write(Message::text(tick));
        }
        let _ = ws.flush();
        while ws.read().is_ok() {}
    });
    let config = WsConfig::new(format!("wss://127.0.0.1:{port}/"));
    let mut ws = WsClient::new(
        config,
        StaticHooks::default(),
        Some(ca.client_config()),
        poll.registry(),
        Token(0),
        clock.clone(),
    )
    .expect("client");
    let mut frames = 0;
    let mut counted = 0;
    while frames < FRAMES {
        wait(&mut poll, &mut events);
        for ev in &events {
            ws.on_event(ev);
        }
        count(frames >= WARM);
        ws.poll(clock.now(), &mut |ev| {
            if let WsEvent::Frame(_) = ev {
                frames += 1;
                counted += u64::from(frames > WARM);
            }
        });
        count(false);
    }
    let ws_allocs = counting::take_counted();
    println!("WebSocket receive: {ws_allocs} allocations over {counted} frames");
    assert_eq!(ws_allocs, 0, "allocations over {counted} frames");

    // HTTP round trips on a keep-alive connection, plain then TLS.
    for tls in [false, true] {
        let port = serve(tls.then(|| cert.server_config()), |mut s| {
            let mut buf = [0u8; 4096];
            // One request per read is enough for this client (one request in flight).
            while let Ok(1..) = s.read(&mut buf) {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"id\":\"12332324\"}");
                let _ = s.flush();
            }
        });
        let scheme = if tls { "https" } else { "http" };
        let config = HttpConfig::new(format!("{scheme}://127.0.0.1:{port}"));
        let tls_config = tls.then(|| ca.client_config());
        let mut http =
            HttpClient::new(config, tls_config, poll.registry(), Token(10), clock.clone()).expect("client");
        let body = br#"{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"65000"}"#;
        let headers = [("KEY", "k"), ("Timestamp", "1541993715"), ("SIGN", "0123456789abcdef")];
        let mut done = 0;
        for i in 0..1_100 {
            count(i >= 100);
            http.submit(Request::post("/api/v4/spot/orders", body).headers(&headers), clock.now())
                .expect("submit");
            while done <= i {
                wait(&mut poll, &mut events);
                for ev in &events {
                    http.on_event(ev);
                }
                http.poll(clock.now(), &mut |c| {
                    assert_eq!(c.outcome.response().map(|r| r.status), Some(200));
                    done += 1;
                });
            }
            count(false);
        }
        let allocs = counting::take_counted();
        println!("HTTP ({scheme}): {allocs} allocations over 1000 requests");
        assert_eq!(allocs, 0, "{scheme}: allocations over 1000 requests");
        assert_eq!(http.stats().connections_opened, 1);
    }

    // Application pings and the texts the client sends (orders on Gate's trading API),
    // plain then TLS: a ping every millisecond for a quarter of a second, then 500 texts.
    for tls in [false, true] {
        let port = serve(tls.then(|| cert.server_config()), |stream| {
            let mut ws = tungstenite::accept(stream).expect("upgrade");
            while ws.read().is_ok() {}
        });
        let scheme = if tls { "wss" } else { "ws" };
        let mut config = WsConfig::new(format!("{scheme}://127.0.0.1:{port}/"));
        config.keepalive_every = Duration::from_millis(1);
        config.stale_after = Duration::from_secs(60);
        let hooks =
            StaticHooks { subscriptions: Vec::new(), ping: Some(adapters::venues::gateio::feed::SPOT_PING) };
        let tls_config = tls.then(|| ca.client_config());
        let mut ws = WsClient::new(
            config,
            hooks,
            tls_config,
            poll.registry(),
            Token(20 + usize::from(tls)),
            clock.clone(),
        )
        .expect("client");
        let started = std::time::Instant::now();
        while !ws.is_open() {
            assert!(started.elapsed() < Duration::from_secs(10), "never opened");
            wait(&mut poll, &mut events);
            for ev in &events {
                ws.on_event(ev);
            }
            ws.poll(clock.now(), &mut |_| {});
        }
        let order = r#"{"time":1681986203,"channel":"spot.order_place","event":"api","payload":{"req_id":"kqzvme7-1-2","req_param":{"text":"t-kqzvme7-1-2","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0012","price":"65000.1","time_in_force":"ioc"}}}"#;
        for round in 0..2 {
            let counting = round == 1;
            let before = ws.stats().snapshot().frames_out;
            let until = std::time::Instant::now() + Duration::from_millis(250);
            while std::time::Instant::now() < until {
                wait(&mut poll, &mut events);
                for ev in &events {
                    ws.on_event(ev);
                }
                count(counting);
                ws.poll(clock.now(), &mut |_| {});
                count(false);
            }
            for _ in 0..500 {
                count(counting);
                ws.send_text(order).expect("send");
                ws.poll(clock.now(), &mut |_| {});
                count(false);
            }
            let sent = ws.stats().snapshot().frames_out - before;
            if counting {
                let allocs = counting::take_counted();
                println!(
                    "WebSocket send ({scheme}): {allocs} allocations over {sent} frames (pings and texts)"
                );
                assert!(sent > 550, "{sent} frames");
                assert_eq!(allocs, 0, "{scheme}: allocations over {sent} frames sent");
            }
        }
    }
}
