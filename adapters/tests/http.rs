//! The HTTP/1.1 client against a real loopback server (std threads, httparse, rustls on
//! the server side for `https://`).

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant as StdInstant};

use adapters::net::backoff::{Backoff, BackoffConfig, retry_delay};
use adapters::net::http::{
    BlockingHttp, Completion, HttpClient, HttpConfig, HttpError, Method, OwnedOutcome, ParseError, Request,
    RequestId,
};
use mio::{Events, Poll, Token};
use quanta::Clock;
use rustls::ServerConfig;
use support::{ServerStream, TestCa};

// ---------------------------------------------------------------------------------------
// Loopback server

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Hit {
    conn: usize,
    target: String,
    body: Vec<u8>,
    at: StdInstant,
}

struct HttpServer {
    port: u16,
    hits: Receiver<Hit>,
    connections: Arc<AtomicUsize>,
}

struct ServerOptions {
    tls: Option<Arc<ServerConfig>>,
    /// Close a keep-alive connection that stays idle this long.
    idle_close: Duration,
}

impl HttpServer {
    fn start(options: ServerOptions) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, hits) = channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for (conn, tcp) in listener.incoming().enumerate() {
                let Ok(tcp) = tcp else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let (tx, tls, idle) = (tx.clone(), options.tls.clone(), options.idle_close);
                std::thread::spawn(move || {
                    if let Ok(stream) = ServerStream::accept(tcp, tls.as_ref()) {
                        serve(stream, conn, &tx, idle);
                    }
                });
            }
        });
        HttpServer { port, hits, connections }
    }

    fn plain() -> HttpServer {
        HttpServer::start(ServerOptions { tls: None, idle_close: Duration::from_secs(10) })
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.try_iter().collect()
    }
}

fn serve(mut s: ServerStream, conn: usize, log: &Sender<Hit>, idle_close: Duration) {
    let mut buf = Vec::new();
    loop {
        let _ = s.tcp().set_read_timeout(Some(idle_close));
        let Some((target, body)) = read_request(&mut s, &mut buf) else { return };
        let _ = log.send(Hit { conn, target: target.clone(), body: body.clone(), at: StdInstant::now() });
        let path = target.split('?').next().unwrap_or_default();
        let keep_open = respond(&mut s, path, &body);
        let _ = s.flush();
        if !keep_open {
            s.drop_tcp();
            return;
        }
    }
}

fn read_request(s: &mut ServerStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = req.parse(buf) {
            let target = req.path.unwrap_or_default().to_owned();
            let len: usize = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .unwrap_or(0);
            if buf.len() >= head_len + len {
                let body = buf[head_len..head_len + len].to_vec();
                buf.drain(..head_len + len);
                return Some((target, body));
            }
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Writes the response for `path`; false closes the connection.
fn respond(s: &mut ServerStream, path: &str, body: &[u8]) -> bool {
    let mut w = |bytes: &[u8]| {
        let _ = s.write_all(bytes);
        let _ = s.flush();
    };
    match path {
        "/cl" => w(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Gate-RateLimit-Requests-Remain: 9\r\n\r\nhello"),
        "/echo" => {
            w(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
            w(body);
        }
        "/chunked" => {
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for piece in [&b"7\r\n{\"id\":1"[..], b"\r\n", b"3;x=y\r\n, \"\r\n", b"6\r\nok\":1}\r\n", b"0\r\n\r\n"] {
                // Each piece in its own TCP segment, so the client parses across reads.
                w(piece);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        "/429" => w(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 19\r\n\r\nTOO_MANY_REQUESTS!!"),
        "/503" => w(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"),
        "/500" => w(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 6\r\n\r\nunknwn"),
        "/404" => w(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        "/big" => w(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", 2 << 20).as_bytes()),
        "/big-chunked" => {
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = [b"1000\r\n".as_slice(), &[b'x'; 0x1000], b"\r\n"].concat();
            for _ in 0..64 {
                w(&chunk);
            }
            w(b"0\r\n\r\n");
        }
        "/close" => w(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"),
        "/eof-body" => {
            w(b"HTTP/1.1 200 OK\r\n\r\nuntil the end");
            return false;
        }
        "/garbage" => w(b"SPDY/9 what is this\r\n\r\n"),
        // Never answers; the client times out.
        "/slow" => std::thread::sleep(Duration::from_secs(3)),
        // Reads the request, then hangs up without a word.
        "/drop" => return false,
        _ => w(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
    }
    true
}

// ---------------------------------------------------------------------------------------
// Client helpers

fn blocking(server: &HttpServer) -> BlockingHttp {
    BlockingHttp::new(HttpConfig::new(server.url("http")), None).expect("client")
}

fn ok(outcome: OwnedOutcome) -> adapters::net::http::OwnedResponse {
    match outcome {
        OwnedOutcome::Ok(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// A non-blocking client on its own poll, like the dispatch stage drives it.
struct Driver {
    poll: Poll,
    events: Events,
    clock: Clock,
}

/// A completion with owned data.
#[derive(Debug)]
struct Done {
    id: RequestId,
    kind: &'static str,
    status: u16,
    body: Vec<u8>,
    error: String,
    reused: bool,
}

impl Done {
    fn of(c: Completion<'_>) -> Done {
        use adapters::net::http::Outcome as O;
        let (kind, error) = match &c.outcome {
            O::Ok(_) => ("ok", String::new()),
            O::RateLimited(_) => ("rate-limited", String::new()),
            O::ServerError(_) => ("server-error", String::new()),
            O::Unknown(e) => ("unknown", e.to_string()),
            O::NotSent(e) => ("not-sent", e.to_string()),
        };
        let (status, body) = c.outcome.response().map_or((0, vec![]), |r| (r.status, r.body.to_vec()));
        Done { id: c.id, kind, status, body, error, reused: c.reused_connection }
    }
}

impl Driver {
    fn new() -> Driver {
        Driver { poll: Poll::new().expect("poll"), events: Events::with_capacity(64), clock: Clock::new() }
    }

    fn client(&self, config: HttpConfig) -> HttpClient {
        HttpClient::new(config, None, self.poll.registry(), Token(10), self.clock.clone()).expect("client")
    }

    /// Polls until `n` requests completed (or panics after 5 s).
    fn run(&mut self, client: &mut HttpClient, n: usize) -> Vec<Done> {
        let deadline = StdInstant::now() + Duration::from_secs(5);
        let mut done = Vec::new();
        while done.len() < n {
            self.turn(client, &mut done);
            assert!(StdInstant::now() < deadline, "only {} of {n} completed: {done:?}", done.len());
        }
        done
    }

    fn turn(&mut self, client: &mut HttpClient, done: &mut Vec<Done>) {
        self.poll.poll(&mut self.events, Some(Duration::from_millis(2))).expect("poll");
        for ev in &self.events {
            client.on_event(ev);
        }
        client.poll(self.clock.now(), &mut |c| done.push(Done::of(c)));
    }
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn keep_alive_reuses_one_connection() {
    let server = HttpServer::plain();
    let mut http = blocking(&server);
    for _ in 0..5 {
        let r = ok(http.request(Request::get("/cl")).expect("submit"));
        assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
        assert_eq!(r.header("x-gate-ratelimit-requests-remain"), Some("9"));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(server.hits().len(), 5);
    let stats = http.client().stats();
    assert_eq!((stats.connections_opened, stats.reused, stats.responses), (1, 4, 5));
}

/// TLS 1.3 and TLS 1.2, each through the record layer after rustls' handshake.
#[test]
fn https_keep_alive_and_bodies() {
    let ca = TestCa::new("test CA");
    let cert = ca.leaf(&["127.0.0.1"]);
    for (version, tls) in [("1.3", cert.server_config()), ("1.2", cert.server_config_tls12())] {
        let server = HttpServer::start(ServerOptions { tls: Some(tls), idle_close: Duration::from_secs(10) });
        let mut http = BlockingHttp::new(HttpConfig::new(server.url("https")), Some(ca.client_config()))
            .expect("client");
        assert_eq!(ok(http.request(Request::get("/cl")).expect("submit")).body, b"hello", "TLS {version}");
        let chunked = ok(http.request(Request::get("/chunked")).expect("submit"));
        assert_eq!(chunked.body, br#"{"id":1, "ok":1}"#);
        let order = br#"{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"65000"}"#;
        let echo = ok(http.request(Request::post("/echo", order).headers(&[("KEY", "k")])).expect("submit"));
        assert_eq!(echo.body, order);
        // 256 KiB: sixteen full records and more.
        let big = ok(http.request(Request::get("/big-chunked")).expect("submit"));
        assert_eq!(big.body.len(), 64 << 12, "TLS {version}");
        assert!(big.body.iter().all(|&b| b == b'x'));
        assert_eq!(http.get("/404").err().map(|e| e.to_string()), Some("HTTP 404 from 127.0.0.1: ".into()));
        assert_eq!(server.connections.load(Ordering::SeqCst), 1, "all on one TLS {version} connection");
    }
}

#[test]
fn untrusted_https_server_is_not_sent_with_a_clear_error() {
    let ca = TestCa::new("server CA");
    let cert = ca.leaf(&["127.0.0.1"]);
    let server = HttpServer::start(ServerOptions {
        tls: Some(cert.server_config()),
        idle_close: Duration::from_secs(1),
    });
    let other = TestCa::new("other CA");
    let mut http =
        BlockingHttp::new(HttpConfig::new(server.url("https")), Some(other.client_config())).expect("client");
    match http.request(Request::post("/echo", b"order")).expect("submit") {
        OwnedOutcome::NotSent(HttpError::Tls(e)) => {
            assert!(e.is_certificate_rejected());
            let msg = e.to_string();
            assert!(msg.contains("127.0.0.1") && msg.contains("UnknownIssuer"), "{msg}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(server.hits().is_empty(), "no request may reach an unverified server");
}

#[test]
fn close_delimited_and_connection_close_responses() {
    let server = HttpServer::plain();
    let mut http = blocking(&server);
    assert_eq!(ok(http.request(Request::get("/close")).expect("submit")).body, b"bye");
    assert_eq!(ok(http.request(Request::get("/eof-body")).expect("submit")).body, b"until the end");
    assert_eq!(ok(http.request(Request::get("/cl")).expect("submit")).body, b"hello");
    assert_eq!(server.connections.load(Ordering::SeqCst), 3, "closed connections are not reused");
}

#[test]
fn rate_limits_and_server_errors_are_typed_and_backed_off() {
    let server = HttpServer::plain();
    let mut http = blocking(&server);
    match http.request(Request::get("/503")).expect("submit") {
        OwnedOutcome::ServerError(r) => {
            assert_eq!((r.status, r.retry_after), (503, Some(Duration::from_secs(2))))
        }
        other => panic!("{other:?}"),
    }
    match http.request(Request::post("/500", b"order")).expect("submit") {
        OwnedOutcome::ServerError(r) => {
            assert_eq!((r.status, r.retry_after, r.body.as_slice()), (500, None, &b"unknwn"[..]))
        }
        other => panic!("{other:?}"),
    }

    // A caller honouring 429: the retry reaches the server no sooner than Retry-After.
    let mut backoff = Backoff::with_seed(
        BackoffConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(60),
        },
        1,
    );
    let wait = match http.request(Request::get("/429")).expect("submit") {
        OwnedOutcome::RateLimited(r) => {
            assert_eq!(r.status, 429);
            retry_delay(r.retry_after, &mut backoff)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(wait, Duration::from_secs(1), "Retry-After is the floor of the wait");
    std::thread::sleep(wait);
    ok(http.request(Request::get("/cl")).expect("submit"));
    let hits = server.hits();
    let limited = hits.iter().find(|h| h.target == "/429").expect("429 hit");
    let retry = hits.iter().find(|h| h.target == "/cl").expect("retry hit");
    assert!(retry.at.duration_since(limited.at) >= Duration::from_secs(1));
    assert_eq!(http.client().stats().rate_limited, 1);
    assert_eq!(http.client().stats().server_errors, 2);
}

#[test]
fn response_size_is_bounded() {
    let server = HttpServer::plain();
    let mut config = HttpConfig::new(server.url("http"));
    config.max_response_bytes = 64 << 10;
    let mut http = BlockingHttp::new(config, None).expect("client");
    for target in ["/big", "/big-chunked"] {
        match http.request(Request::get(target)).expect("submit") {
            OwnedOutcome::Unknown(HttpError::Response { source: ParseError::TooLarge { limit }, .. }) => {
                assert_eq!(limit, 64 << 10)
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    // The oversized responses poisoned their connections; the next request gets a fresh one.
    assert_eq!(ok(http.request(Request::get("/cl")).expect("submit")).body, b"hello");
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[test]
fn malformed_response_is_unknown() {
    let server = HttpServer::plain();
    let mut http = blocking(&server);
    match http.request(Request::get("/garbage")).expect("submit") {
        OwnedOutcome::Unknown(HttpError::Response { source: ParseError::Malformed(_), .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_timeout_and_queue_timeout() {
    let server = HttpServer::plain();
    let mut d = Driver::new();
    let mut config = HttpConfig::new(server.url("http"));
    config.max_connections = 1;
    let mut client = d.client(config);
    let now = d.clock.now();
    let slow = client.submit(Request::get("/slow").timeout(Duration::from_millis(300)), now).expect("submit");
    // Only one connection, busy with /slow: this one never leaves the queue.
    let queued = client.submit(Request::get("/cl").timeout(Duration::from_millis(100)), now).expect("submit");
    let started = StdInstant::now();
    let done = d.run(&mut client, 2);
    assert_eq!((done[0].id, done[0].kind), (queued, "not-sent"), "{done:?}");
    assert!(done[0].error.contains("no response"), "{}", done[0].error);
    assert_eq!((done[1].id, done[1].kind), (slow, "unknown"), "{done:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Only the slow request ever reached the server.
    assert_eq!(server.hits().iter().map(|h| h.target.as_str()).collect::<Vec<_>>(), ["/slow"]);
}

#[test]
fn idle_connection_closed_by_the_server_is_replaced_transparently() {
    let server = HttpServer::start(ServerOptions { tls: None, idle_close: Duration::from_millis(50) });
    let mut http = blocking(&server);
    ok(http.request(Request::get("/cl")).expect("submit"));
    // The server hangs up the idle connection; nobody polls the client meanwhile.
    std::thread::sleep(Duration::from_millis(150));
    let r = ok(http.request(Request::post("/echo", b"order-2")).expect("submit"));
    assert_eq!(r.body, b"order-2");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    let stats = http.client().stats();
    assert_eq!((stats.unknown, stats.not_sent), (0, 0), "{stats:?}");
    let hits = server.hits();
    let sent: Vec<usize> = hits.iter().filter(|h| h.body == b"order-2").map(|h| h.conn).collect();
    assert_eq!(sent, [1], "sent exactly once, on the new connection");
}

#[test]
fn connection_lost_after_sending_is_unknown_and_never_resent() {
    let server = HttpServer::plain();
    let mut http = blocking(&server);
    ok(http.request(Request::get("/cl")).expect("submit"));
    match http.request(Request::post("/drop", b"order-x")).expect("submit") {
        OwnedOutcome::Unknown(HttpError::Closed { when, .. }) => assert_eq!(when, "before responding"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    // The client moves on with a fresh connection, and the order was not sent twice.
    ok(http.request(Request::get("/cl")).expect("submit"));
    assert_eq!(server.hits().iter().filter(|h| h.body == b"order-x").count(), 1);
}

#[test]
fn refused_connection_is_not_sent() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut http =
        BlockingHttp::new(HttpConfig::new(format!("http://127.0.0.1:{port}")), None).expect("client");
    match http.request(Request::new(Method::Delete, "/api/v3/order")).expect("submit") {
        OwnedOutcome::NotSent(HttpError::Connect { port: p, .. }) => assert_eq!(p, port),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_stuck_request_does_not_hold_up_the_pool() {
    let server = HttpServer::plain();
    let mut d = Driver::new();
    let mut config = HttpConfig::new(server.url("http"));
    config.max_connections = 3;
    let mut client = d.client(config);
    let now = d.clock.now();
    let slow = client.submit(Request::get("/slow").timeout(Duration::from_secs(2)), now).expect("submit");
    let mut done = Vec::new();
    // Twenty requests, at most two at a time beside the stuck one.
    let mut submitted = 0;
    let deadline = StdInstant::now() + Duration::from_secs(5);
    while done.len() < 20 {
        while submitted < 20 && client.in_flight() < 3 {
            let body = format!("n{submitted}");
            client.submit(Request::post("/echo", body.as_bytes()), d.clock.now()).expect("submit");
            submitted += 1;
        }
        d.turn(&mut client, &mut done);
        assert!(StdInstant::now() < deadline, "{} of 20 done", done.len());
    }
    assert!(done.iter().all(|c| c.kind == "ok" && c.id != slow), "{done:?}");
    let mut bodies: Vec<String> =
        done.iter().map(|c| String::from_utf8_lossy(&c.body).into_owned()).collect();
    bodies.sort_by_key(|b| b[1..].parse::<u32>().unwrap_or(0));
    assert_eq!(bodies, (0..20).map(|i| format!("n{i}")).collect::<Vec<_>>());
    assert!(done.iter().filter(|c| c.reused).count() >= 17, "keep-alive reuse within the pool");
    assert!(done.iter().all(|c| c.status == 200));
    assert!(server.connections.load(Ordering::SeqCst) <= 3);
}
