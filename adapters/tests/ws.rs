//! The WebSocket client against real loopback servers (std threads + tungstenite server,
//! rustls on the server side for `wss://`), driven by one `mio::Poll` like the md stage.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::net::backoff::BackoffConfig;
use adapters::net::ws::{
    LinkState, Payload, SendError, StaticHooks, WsClient, WsConfig, WsError, WsErrorKind, WsEvent, WsHooks,
};
use mio::{Events, Poll, Token};
use quanta::Clock;
use rustls::{ClientConfig, ServerConfig};
use support::{ServerStream, TestCa};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame as WireFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::{Message, WebSocket};

// ---------------------------------------------------------------------------------------
// Loopback server

/// What a test server saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connected { conn: usize, path: String },
    Text { conn: usize, text: String },
    Pong { conn: usize, data: Vec<u8> },
    AcceptFailed { conn: usize, error: String },
}

struct Session {
    conn: usize,
    ws: WebSocket<ServerStream>,
    seen: Sender<Seen>,
}

impl Session {
    /// The next text message from the client (pongs are reported, pings answered).
    fn expect_text(&mut self) -> Option<String> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let text = t.as_str().to_owned();
                    let _ = self.seen.send(Seen::Text { conn: self.conn, text: text.clone() });
                    return Some(text);
                }
                Ok(Message::Pong(data)) => {
                    let _ = self.seen.send(Seen::Pong { conn: self.conn, data: data.to_vec() });
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads and reports everything until the client goes away.
    fn drain(&mut self) {
        while self.expect_text().is_some() {}
    }

    fn send(&mut self, msg: Message) {
        let _ = self.ws.send(msg);
    }

    fn send_text(&mut self, text: &str) {
        self.send(Message::text(text));
    }

    /// Writes bytes straight to the stream, below the WebSocket framing.
    fn raw(&mut self, bytes: &[u8]) {
        let stream = self.ws.get_mut();
        let _ = stream.write_all(bytes);
        let _ = stream.flush();
    }
}

struct WsServer {
    addr: SocketAddr,
    seen: Receiver<Seen>,
}

impl WsServer {
    /// Serves every connection on its own thread with `script(session)`.
    fn start(tls: Option<Arc<ServerConfig>>, script: impl Fn(Session) + Send + Sync + 'static) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, seen) = channel();
        let script = Arc::new(script);
        std::thread::spawn(move || {
            for (conn, tcp) in listener.incoming().enumerate() {
                let Ok(tcp) = tcp else { return };
                let (tx, tls, script) = (tx.clone(), tls.clone(), script.clone());
                std::thread::spawn(move || {
                    let Ok(stream) = ServerStream::accept(tcp, tls.as_ref()) else { return };
                    let path = Arc::new(Mutex::new(String::new()));
                    let path_cb = path.clone();
                    // tungstenite's callback signature, not ours.
                    #[allow(clippy::result_large_err)]
                    let callback = move |req: &tungstenite::handshake::server::Request, resp| {
                        *path_cb.lock().unwrap() = req.uri().to_string();
                        Ok(resp)
                    };
                    match tungstenite::accept_hdr(stream, callback) {
                        Ok(ws) => {
                            let path = path.lock().unwrap().clone();
                            let _ = tx.send(Seen::Connected { conn, path });
                            script(Session { conn, ws, seen: tx });
                        }
                        Err(e) => {
                            let _ = tx.send(Seen::AcceptFailed { conn, error: e.to_string() });
                        }
                    }
                });
            }
        });
        WsServer { addr, seen }
    }

    fn url(&self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}:{}/ws", self.addr.port())
    }

    /// Waits for the server to see `want`; returns everything seen up to it.
    fn wait_for(&self, want: &Seen) -> Vec<Seen> {
        let mut all = Vec::new();
        loop {
            match self.seen.recv_timeout(Duration::from_secs(5)) {
                Ok(s) => {
                    let done = &s == want;
                    all.push(s);
                    if done {
                        return all;
                    }
                }
                Err(_) => panic!("server never saw {want:?}; saw {all:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client side

#[derive(Debug, Clone, PartialEq)]
enum Got {
    Opened,
    Text(String),
    Binary(Vec<u8>),
    Lost(WsErrorKind, String),
}

impl Got {
    fn of(ev: WsEvent<'_>) -> Got {
        match ev {
            WsEvent::Opened => Got::Opened,
            WsEvent::Frame(f) => {
                assert_ne!(f.recv_raw, 0, "frames carry a receive stamp");
                match f.payload {
                    Payload::Text(t) => Got::Text(t.to_owned()),
                    Payload::Binary(b) => Got::Binary(b.to_vec()),
                }
            }
            WsEvent::Lost(e) => Got::Lost(e.kind(), e.to_string()),
        }
    }

    fn is_lost(&self, kind: WsErrorKind) -> bool {
        matches!(self, Got::Lost(k, _) if *k == kind)
    }
}

struct Harness {
    poll: Poll,
    events: Events,
    clock: Clock,
}

impl Harness {
    fn new() -> Harness {
        Harness { poll: Poll::new().expect("poll"), events: Events::with_capacity(64), clock: Clock::new() }
    }

    fn client<H: WsHooks>(&self, config: WsConfig, hooks: H, tls: Option<Arc<ClientConfig>>) -> WsClient<H> {
        WsClient::new(config, hooks, tls, self.poll.registry(), Token(0), self.clock.clone())
            .expect("client")
            .with_backoff_seed(42)
    }

    /// One turn of the I/O loop: wait up to 2 ms for readiness, then poll the clients.
    fn turn<H: WsHooks>(&mut self, clients: &mut [&mut WsClient<H>], got: &mut Vec<(usize, Got)>) {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(2))).expect("poll");
        for ev in &self.events {
            for c in clients.iter_mut() {
                c.on_event(ev);
            }
        }
        let now = self.clock.now();
        for (i, c) in clients.iter_mut().enumerate() {
            c.poll(now, &mut |ev| got.push((i, Got::of(ev))));
        }
    }

    /// Drives one client until `done` accepts an event; returns all events so far.
    fn until<H: WsHooks>(
        &mut self,
        client: &mut WsClient<H>,
        timeout: Duration,
        mut done: impl FnMut(&Got) -> bool,
    ) -> Vec<Got> {
        let deadline = std::time::Instant::now() + timeout;
        let mut all = Vec::new();
        loop {
            let mut got = Vec::new();
            self.turn(&mut [&mut *client], &mut got);
            for (_, g) in got {
                let stop = done(&g);
                all.push(g);
                if stop {
                    return all;
                }
            }
            assert!(std::time::Instant::now() < deadline, "timed out; got {all:?}");
        }
    }
}

fn quick(url: String) -> WsConfig {
    let mut config = WsConfig::new(url);
    config.connect_timeout = Duration::from_secs(5);
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(60),
    };
    config
}

fn subscribe(msgs: &[&str]) -> StaticHooks {
    StaticHooks { subscriptions: msgs.iter().map(|s| s.to_string()).collect(), ping: None }
}

// ---------------------------------------------------------------------------------------
// Handshakes and verification

#[test]
fn tls_handshake_subscribes_and_receives() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["localhost", "127.0.0.1"]);
    let server = WsServer::start(Some(cert.server_config()), |mut s| {
        let sub = s.expect_text().unwrap_or_default();
        s.send_text(&format!("ack {sub}"));
        s.send(Message::binary(vec![1u8, 2, 3]));
        s.drain();
    });
    let mut h = Harness::new();
    // A host name, so resolution goes through the helper thread.
    let mut client =
        h.client(quick(server.url("wss", "localhost")), subscribe(&["sub-1"]), Some(ca.client_config()));
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Binary(_)));
    assert_eq!(got, [Got::Opened, Got::Text("ack sub-1".into()), Got::Binary(vec![1, 2, 3])]);
    server.wait_for(&Seen::Text { conn: 0, text: "sub-1".into() });

    let stats = client.stats().snapshot();
    assert_eq!((stats.opens, stats.reconnects(), stats.frames_in, stats.frames_out), (1, 0, 2, 1));
    assert!(stats.bytes_in > 0 && stats.bytes_out > 0, "{stats:?}");
    assert_eq!(stats.state, LinkState::Open);
    assert!(stats.last_data_age(&h.clock).is_some_and(|age| age < Duration::from_secs(5)));
    assert_eq!(stats.errors, [0; WsErrorKind::COUNT]);
}

#[test]
fn plain_handshake_and_ping_is_answered() {
    let server = WsServer::start(None, |mut s| {
        s.send(Message::Ping(b"hb-1".to_vec().into()));
        s.send_text("after ping");
        s.drain();
    });
    let mut h = Harness::new();
    let mut client = h.client(quick(server.url("ws", "127.0.0.1")), subscribe(&[]), None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    assert_eq!(got, [Got::Opened, Got::Text("after ping".into())]);
    // The pong is read by the server only after the client flushed it.
    let seen = server.wait_for(&Seen::Pong { conn: 0, data: b"hb-1".to_vec() });
    assert!(matches!(seen[0], Seen::Connected { conn: 0, ref path } if path == "/ws"));
}

#[test]
fn untrusted_certificate_fails_closed() {
    let server_ca = TestCa::new("server CA");
    let other_ca = TestCa::new("some other CA");
    let cert = server_ca.leaf(&["127.0.0.1"]);
    let server = WsServer::start(Some(cert.server_config()), |mut s| s.drain());
    let mut h = Harness::new();
    let mut client = h.client(
        quick(server.url("wss", "127.0.0.1")),
        subscribe(&["secret-sub"]),
        Some(other_ca.client_config()),
    );
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Lost(..)));
    let Some(Got::Lost(kind, msg)) = got.last() else { unreachable!() };
    assert_eq!(*kind, WsErrorKind::Tls);
    assert!(msg.contains("127.0.0.1") && msg.contains("UnknownIssuer"), "{msg}");
    assert!(matches!(client.last_error(), Some(WsError::Tls(f)) if f.is_certificate_rejected()));
    assert!(!got.contains(&Got::Opened));
    // The server saw no WebSocket session, only a refused handshake.
    match server.seen.recv_timeout(Duration::from_secs(5)) {
        Ok(Seen::AcceptFailed { error, .. }) => assert!(error.to_lowercase().contains("alert"), "{error}"),
        other => panic!("server should see a refused handshake, saw {other:?}"),
    }
    assert_eq!(client.stats().snapshot().errors_of(WsErrorKind::Tls), 1);
}

#[test]
fn wrong_host_name_fails_closed() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["venue.invalid"]);
    let server = WsServer::start(Some(cert.server_config()), |mut s| s.drain());
    let mut h = Harness::new();
    let mut client =
        h.client(quick(server.url("wss", "127.0.0.1")), subscribe(&[]), Some(ca.client_config()));
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Lost(..)));
    let Some(Got::Lost(kind, msg)) = got.last() else { unreachable!() };
    assert_eq!(*kind, WsErrorKind::Tls);
    assert!(msg.contains("127.0.0.1") && msg.contains("not valid for name"), "{msg}");
}

#[test]
fn refused_upgrade_is_a_handshake_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Ok((mut tcp, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut tcp, &mut buf);
            let _ = tcp.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let mut h = Harness::new();
    let mut client = h.client(quick(format!("ws://127.0.0.1:{port}/ws")), subscribe(&[]), None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Lost(..)));
    assert!(got.last().is_some_and(|g| g.is_lost(WsErrorKind::Handshake)), "{got:?}");
}

// ---------------------------------------------------------------------------------------
// Framing

#[test]
fn fragmented_messages_are_reassembled() {
    let server = WsServer::start(None, |mut s| {
        let text = OpCode::Data(Data::Text);
        let bin = OpCode::Data(Data::Binary);
        let cont = OpCode::Data(Data::Continue);
        s.send(Message::Frame(WireFrame::message(&b"hel"[..], text, false)));
        s.send(Message::Frame(WireFrame::message(&b"lo "[..], cont, false)));
        // A control frame may sit between fragments.
        s.send(Message::Ping(b"mid".to_vec().into()));
        s.send(Message::Frame(WireFrame::message(&b"world"[..], cont, true)));
        s.send(Message::Frame(WireFrame::message(vec![1u8, 2], bin, false)));
        s.send(Message::Frame(WireFrame::message(vec![3u8], cont, true)));
        s.drain();
    });
    let mut h = Harness::new();
    let mut client = h.client(quick(server.url("ws", "127.0.0.1")), subscribe(&[]), None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Binary(_)));
    assert_eq!(got, [Got::Opened, Got::Text("hello world".into()), Got::Binary(vec![1, 2, 3])]);
    server.wait_for(&Seen::Pong { conn: 0, data: b"mid".to_vec() });
}

#[test]
fn server_closing_mid_frame_reconnects_and_resubscribes() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["127.0.0.1"]);
    let server = WsServer::start(Some(cert.server_config()), |mut s| {
        s.expect_text();
        if s.conn == 0 {
            // A text frame header announcing 100 bytes, 10 of them, then the TCP goes away.
            s.raw(&[0x81, 100]);
            s.raw(b"0123456789");
            s.ws.get_ref().drop_tcp();
        } else {
            s.send_text("back");
            s.drain();
        }
    });
    let mut h = Harness::new();
    let mut client =
        h.client(quick(server.url("wss", "127.0.0.1")), subscribe(&["sub"]), Some(ca.client_config()));
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    assert_eq!(got[0], Got::Opened);
    assert!(got[1].is_lost(WsErrorKind::Closed), "{got:?}");
    assert_eq!(got[2..], [Got::Opened, Got::Text("back".into())]);
    server.wait_for(&Seen::Text { conn: 1, text: "sub".into() });
    assert_eq!(client.stats().snapshot().reconnects(), 1);
}

#[test]
fn oversized_messages_are_rejected() {
    let server = WsServer::start(None, |mut s| match s.conn {
        // One frame over the limit: refused from its header.
        0 => s.send(Message::binary(vec![7u8; 100 << 10])),
        // Small frames whose message is over the limit.
        1 => {
            let bin = OpCode::Data(Data::Binary);
            let cont = OpCode::Data(Data::Continue);
            s.send(Message::Frame(WireFrame::message(vec![1u8; 30 << 10], bin, false)));
            s.send(Message::Frame(WireFrame::message(vec![2u8; 30 << 10], cont, false)));
            s.send(Message::Frame(WireFrame::message(vec![3u8; 30 << 10], cont, true)));
            s.drain();
        }
        _ => {
            s.send_text("ok");
            s.drain();
        }
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.max_message_bytes = 64 << 10;
    let mut client = h.client(config, subscribe(&[]), None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    let lost: Vec<_> = got.iter().filter(|g| matches!(g, Got::Lost(..))).collect();
    assert_eq!(lost.len(), 2, "{got:?}");
    assert!(lost.iter().all(|g| g.is_lost(WsErrorKind::Oversize)), "{got:?}");
    assert!(!got.iter().any(|g| matches!(g, Got::Binary(_))));
    assert_eq!(client.stats().snapshot().errors_of(WsErrorKind::Oversize), 2);
}

#[test]
fn garbage_from_the_server_is_a_protocol_error() {
    let server = WsServer::start(None, |mut s| {
        if s.conn == 0 {
            s.raw(&[0xff; 64]);
            s.drain();
        } else {
            s.send_text("ok");
            s.drain();
        }
    });
    let mut h = Harness::new();
    let mut client = h.client(quick(server.url("ws", "127.0.0.1")), subscribe(&[]), None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    assert!(got[1].is_lost(WsErrorKind::Protocol), "{got:?}");
    assert_eq!(got.last(), Some(&Got::Text("ok".into())));
}

// ---------------------------------------------------------------------------------------
// Liveness, reconnects and keepalive

#[test]
fn silent_connection_is_detected_by_data_age() {
    let server = WsServer::start(None, |mut s| {
        if s.conn > 0 {
            s.send_text("fresh");
        }
        s.drain();
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.stale_after = Duration::from_millis(300);
    let mut client = h.client(config, subscribe(&["sub"]), None);
    let started = std::time::Instant::now();
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(got[0], Got::Opened);
    assert!(got[1].is_lost(WsErrorKind::Stale), "{got:?}");
    assert_eq!(got[2..], [Got::Opened, Got::Text("fresh".into())]);
    server.wait_for(&Seen::Text { conn: 1, text: "sub".into() });
}

/// Hooks whose messages change on every session, like Gate's timed, signed requests and
/// MEXC's listen-key URL.
struct Rotating {
    base: String,
    urls: usize,
    opens: usize,
}

impl WsHooks for Rotating {
    fn url(&mut self) -> Option<String> {
        self.urls += 1;
        Some(format!("{}?listenKey=k{}", self.base, self.urls))
    }
    fn on_open(&mut self, _now_unix_ms: u64, out: &mut Vec<String>) {
        self.opens += 1;
        out.push(format!("sub#{}", self.opens));
        out.push(format!("auth#{}", self.opens));
    }
    fn keepalive(&mut self, _now_unix_ms: u64, _out: &mut String) -> bool {
        false
    }
}

#[test]
fn every_session_gets_fresh_url_and_subscriptions() {
    let server = WsServer::start(None, |mut s| {
        s.expect_text();
        s.expect_text();
        if s.conn == 0 {
            let close = CloseFrame { code: CloseCode::Away, reason: "maintenance".into() };
            let _ = s.ws.close(Some(close));
            s.drain();
        } else {
            s.send_text("welcome back");
            s.drain();
        }
    });
    let mut h = Harness::new();
    let hooks = Rotating { base: server.url("ws", "127.0.0.1"), urls: 0, opens: 0 };
    let mut client = h.client(quick(server.url("ws", "127.0.0.1")), hooks, None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Text(_)));
    let Got::Lost(WsErrorKind::Closed, msg) = &got[1] else { panic!("{got:?}") };
    assert!(msg.contains("1001") && msg.contains("maintenance"), "{msg}");
    let seen = server.wait_for(&Seen::Text { conn: 1, text: "auth#2".into() });
    let expected = [
        Seen::Connected { conn: 0, path: "/ws?listenKey=k1".into() },
        Seen::Text { conn: 0, text: "sub#1".into() },
        Seen::Text { conn: 0, text: "auth#1".into() },
        Seen::Connected { conn: 1, path: "/ws?listenKey=k2".into() },
        Seen::Text { conn: 1, text: "sub#2".into() },
        Seen::Text { conn: 1, text: "auth#2".into() },
    ];
    assert_eq!(seen, expected);
}

#[test]
fn reconnect_backoff_grows_within_jitter_bounds() {
    // A port nobody listens on: every attempt is refused at once.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut h = Harness::new();
    let mut config = quick(format!("ws://127.0.0.1:{port}/ws"));
    config.backoff.initial = Duration::from_millis(10);
    config.backoff.max = Duration::from_millis(80);
    let mut client = h.client(config, subscribe(&[]), None);
    let mut delays = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while delays.len() < 6 {
        h.poll.poll(&mut h.events, Some(Duration::from_millis(2))).expect("poll");
        for ev in &h.events {
            client.on_event(ev);
        }
        let now = h.clock.now();
        let mut lost = false;
        client
            .poll(now, &mut |ev| lost |= matches!(ev, WsEvent::Lost(e) if e.kind() == WsErrorKind::Connect));
        if lost {
            delays.push(client.next_timeout(now).expect("scheduled"));
        }
        assert!(std::time::Instant::now() < deadline, "delays so far {delays:?}");
    }
    for (i, d) in delays.iter().enumerate() {
        let ceiling = Duration::from_millis(10 << i.min(3));
        assert!(
            *d >= ceiling / 2 && *d <= ceiling,
            "attempt {i}: {d:?} not in [{:?}, {ceiling:?}]",
            ceiling / 2
        );
    }
    assert_eq!(client.state(), LinkState::Backoff);
    // Every refused attempt is counted: as a connect failure, and each after the first
    // as a reconnect, although no session ever opened.
    let snap = client.stats().snapshot();
    assert_eq!((snap.opens, snap.attempts, snap.errors_of(WsErrorKind::Connect)), (0, 6, 6));
    assert_eq!((snap.reconnects(), snap.connect_failures()), (5, 6));
}

/// The reconnect delay scheduled after each of the first `n` losses.
fn reconnect_delays(h: &mut Harness, config: WsConfig, n: usize) -> Vec<Duration> {
    let mut client = h.client(config, subscribe(&[]), None);
    let mut delays = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while delays.len() < n {
        h.poll.poll(&mut h.events, Some(Duration::from_millis(2))).expect("poll");
        for ev in &h.events {
            client.on_event(ev);
        }
        let now = h.clock.now();
        let mut lost = false;
        client.poll(now, &mut |ev| lost |= matches!(ev, WsEvent::Lost(_)));
        if lost {
            delays.push(client.next_timeout(now).expect("scheduled"));
        }
        assert!(std::time::Instant::now() < deadline, "delays so far {delays:?}");
    }
    delays
}

#[test]
fn backoff_resets_after_a_healthy_session() {
    let server = WsServer::start(None, |mut s| {
        if s.conn == 3 {
            // The one healthy session: data flows for longer than reset_after.
            for _ in 0..15 {
                s.send_text("tick");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        s.ws.get_ref().drop_tcp();
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_secs(1),
        reset_after: Duration::from_millis(200),
    };
    let delays = reconnect_delays(&mut h, config, 4);
    // Three quick losses grow the delay; the loss after the healthy session starts over.
    assert!(delays[2] >= Duration::from_millis(20), "{delays:?}");
    assert!(delays[3] <= Duration::from_millis(10), "{delays:?}");
}

#[test]
fn a_silent_session_does_not_reset_the_backoff() {
    let server = WsServer::start(None, |s| {
        if s.conn == 3 {
            // Open past reset_after, but nothing served: the venue is not healthy yet.
            std::thread::sleep(Duration::from_millis(300));
        }
        s.ws.get_ref().drop_tcp();
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_secs(1),
        reset_after: Duration::from_millis(200),
    };
    let delays = reconnect_delays(&mut h, config, 4);
    // The fourth delay keeps growing: ceiling 80 ms, so at least 40 ms.
    assert!(delays[3] >= Duration::from_millis(40), "{delays:?}");
}

#[test]
fn keepalive_pings_flow_but_pongs_do_not_count_as_data() {
    let server = WsServer::start(None, |mut s| {
        while let Some(text) = s.expect_text() {
            if text.contains("spot.ping") {
                s.send_text(
                    r#"{"time":1545404023,"channel":"spot.pong","event":"","error":null,"result":null}"#,
                );
            }
        }
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.keepalive_every = Duration::from_millis(40);
    config.stale_after = Duration::from_millis(400);
    let hooks = StaticHooks { subscriptions: vec![], ping: Some(adapters::venues::gateio::feed::SPOT_PING) };
    let mut client = h.client(config, hooks, None);
    let got = h.until(&mut client, Duration::from_secs(5), |g| matches!(g, Got::Lost(..)));
    let pongs = got.iter().filter(|g| matches!(g, Got::Text(t) if t.contains("spot.pong"))).count();
    assert!(pongs >= 3, "{got:?}");
    assert!(got.last().is_some_and(|g| g.is_lost(WsErrorKind::Stale)), "{got:?}");
    let pings =
        server.seen.try_iter().filter(|s| matches!(s, Seen::Text { text, .. } if text.contains("spot.ping")));
    assert!(pings.count() >= 3);
}

#[test]
fn closed_client_stays_closed() {
    let server = WsServer::start(None, |mut s| s.drain());
    let mut h = Harness::new();
    let mut client = h.client(quick(server.url("ws", "127.0.0.1")), subscribe(&[]), None);
    h.until(&mut client, Duration::from_secs(5), |g| *g == Got::Opened);
    client.close();
    assert_eq!(client.state(), LinkState::Closed);
    assert_eq!(client.send_text("x"), Err(SendError::NotOpen));
    let mut got = Vec::new();
    for _ in 0..20 {
        h.turn(&mut [&mut client], &mut got);
    }
    assert!(got.is_empty(), "{got:?}");
}

// ---------------------------------------------------------------------------------------
// Sending

#[test]
fn sends_queue_under_would_block_and_arrive_in_order() {
    let go = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));
    let (go_s, received_s) = (go.clone(), received.clone());
    let server = WsServer::start(None, move |mut s| {
        while !go_s.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut next = 0usize;
        while let Ok(msg) = s.ws.read() {
            if let Message::Text(t) = msg {
                let expected = format!("{next:06}");
                assert!(t.as_str().starts_with(&expected) && t.len() == 64 << 10, "message {next} corrupt");
                next += 1;
                received_s.store(next, Ordering::Release);
            }
        }
    });
    let mut h = Harness::new();
    let mut config = quick(server.url("ws", "127.0.0.1"));
    config.max_send_buffer_bytes = 1 << 20;
    config.stale_after = Duration::from_secs(30);
    let mut client = h.client(config, subscribe(&[]), None);
    h.until(&mut client, Duration::from_secs(5), |g| *g == Got::Opened);

    // The server is not reading: fill the socket buffers, then tungstenite's queue.
    let body = "x".repeat((64 << 10) - 6);
    let mut sent = 0;
    let full = loop {
        match client.send_text(&format!("{sent:06}{body}")) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 4000, "the send buffer never filled");
    };
    assert_eq!(full, SendError::BufferFull);
    assert!(sent > 16, "only {sent} messages before the buffer filled");

    go.store(true, Ordering::Release);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::Acquire) < sent {
        let mut got = Vec::new();
        h.turn(&mut [&mut client], &mut got);
        assert!(got.iter().all(|(_, g)| !matches!(g, Got::Lost(..))), "{got:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {sent} arrived",
            received.load(Ordering::Acquire)
        );
    }
    assert_eq!(client.send_text(&format!("{sent:06}{body}")), Ok(()));
    assert_eq!(client.stats().snapshot().frames_out, sent as u64 + 1);
}

// ---------------------------------------------------------------------------------------
// One thread, many connections

#[test]
fn one_thread_keeps_serving_while_one_connection_misbehaves() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["127.0.0.1"]);
    // A firehose: sends as fast as the client reads.
    let flood = WsServer::start(Some(cert.server_config()), |mut s| {
        let blob = vec![0xabu8; 16 << 10];
        while s.ws.send(Message::binary(blob.clone())).is_ok() {}
    });
    // A steady feed of numbered messages.
    let steady = WsServer::start(None, |mut s| {
        for i in 0..100 {
            s.send_text(&format!("g{i}"));
            std::thread::sleep(Duration::from_millis(2));
        }
        s.drain();
    });
    // A black hole: accepts TCP, never answers the TLS hello.
    let hole = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole_port = hole.local_addr().expect("addr").port();

    let mut h = Harness::new();
    let tls = Some(ca.client_config());
    let mk = |url: String, token: usize, per_poll: usize, connect_ms: u64| {
        let mut config = quick(url);
        config.max_frames_per_poll = per_poll;
        config.connect_timeout = Duration::from_millis(connect_ms);
        WsClient::new(config, subscribe(&[]), tls.clone(), h.poll.registry(), Token(token), h.clock.clone())
            .expect("client")
    };
    let mut firehose = mk(flood.url("wss", "127.0.0.1"), 0, 8, 5000);
    let mut feed = mk(steady.url("ws", "127.0.0.1"), 1, 8, 5000);
    let mut stuck = mk(format!("wss://127.0.0.1:{hole_port}/ws"), 2, 8, 150);

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut steady_got = Vec::new();
    let mut flood_frames = 0usize;
    let mut max_flood_per_poll = 0usize;
    let mut stuck_losses = 0usize;
    while steady_got.len() < 100 {
        let mut got = Vec::new();
        h.turn(&mut [&mut firehose, &mut feed, &mut stuck], &mut got);
        let mut flood_this_poll = 0;
        for (i, g) in got {
            match (i, g) {
                (0, Got::Binary(_)) => flood_this_poll += 1,
                (1, Got::Text(t)) => steady_got.push(t),
                (2, g) if g.is_lost(WsErrorKind::ConnectTimeout) => stuck_losses += 1,
                (_, Got::Lost(k, msg)) => panic!("unexpected loss {k:?}: {msg}"),
                _ => {}
            }
        }
        flood_frames += flood_this_poll;
        max_flood_per_poll = max_flood_per_poll.max(flood_this_poll);
        assert!(std::time::Instant::now() < deadline, "steady feed got {} of 100", steady_got.len());
    }
    let expected: Vec<String> = (0..100).map(|i| format!("g{i}")).collect();
    assert_eq!(steady_got, expected);
    assert!(flood_frames > 100, "the firehose delivered only {flood_frames}");
    assert!(max_flood_per_poll <= 8, "budget exceeded: {max_flood_per_poll}");
    assert!(stuck_losses >= 1, "the stuck handshake never timed out");
    drop(hole);
}
