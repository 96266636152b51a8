//! The control plane's servers (`arb ctl`'s socket, `/metrics` and `/health`) share one
//! shape: a connection sends one request and gets one answer. This serves many such
//! connections at once on one cold thread with non-blocking sockets (mio), so that a slow
//! or hostile client can never delay another client or the health answer.
//!
//! A connection's life: read until its [`Protocol`] has an answer; a request that grows
//! past [`Limits::max_request`] is answered as too large, one not complete within
//! [`Limits::deadline`] as too slow, without reading further. The answer is written
//! (within another deadline), the write side shut, and what the client still sends is
//! read and dropped for [`Limits::linger`], so that it reads the answer rather than a
//! reset; then the connection closes.
//!
//! Worst case: memory is `max_connections * max_request` plus the answers being written.
//! When every slot is taken, the connection that has waited longest without a complete
//! request (or is only lingering) makes room for the new one, so a flood of idle
//! connections cannot lock out a client that sends its request at once.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

/// What one connection may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes a request may have; a longer one is answered as too large.
    pub max_request: usize,
    /// Time from accepting a connection to its complete request, and again from the
    /// answer being ready to its last byte written.
    pub deadline: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long input is read and dropped after the answer, before closing.
    pub linger: Duration,
}

/// One request, one answer.
pub trait Protocol: Send + 'static {
    /// The answer once `received` (everything the client sent so far, never more than
    /// [`Limits::max_request`] bytes) holds a complete request; `None` while it does not.
    /// `eof` is set when the client has finished sending; `None` then closes the
    /// connection without an answer.
    fn answer(&mut self, received: &[u8], eof: bool) -> Option<Vec<u8>>;
    /// The answer to a request longer than [`Limits::max_request`].
    fn too_large(&mut self) -> Vec<u8>;
    /// The answer to a request not complete within [`Limits::deadline`].
    fn too_slow(&mut self) -> Vec<u8>;
}

/// Where connections come from.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    /// A TCP listener (made non-blocking here).
    pub fn tcp(l: std::net::TcpListener) -> io::Result<Self> {
        l.set_nonblocking(true)?;
        Ok(Listener::Tcp(TcpListener::from_std(l)))
    }

    /// A Unix socket listener (made non-blocking here).
    pub fn unix(l: std::os::unix::net::UnixListener) -> io::Result<Self> {
        l.set_nonblocking(true)?;
        Ok(Listener::Unix(UnixListener::from_std(l)))
    }

    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => registry.register(l, token, Interest::READABLE),
            Listener::Unix(l) => registry.register(l, token, Interest::READABLE),
        }
    }
}

#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self {
            Stream::Tcp(s) => registry.register(s, token, interest),
            Stream::Unix(s) => registry.register(s, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Stream::Tcp(s) => registry.deregister(s),
            Stream::Unix(s) => registry.deregister(s),
        };
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A running server; stops (closing every connection) when dropped.
#[derive(Debug)]
pub struct RequestServer {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

impl RequestServer {
    /// Serves `listener` on a thread named `name`.
    pub fn start(
        name: &str,
        mut listener: Listener,
        limits: Limits,
        protocol: impl Protocol,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        listener.register(poll.registry(), LISTENER)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            Server { poll, listener, limits, protocol, conns: HashMap::new(), next_token: 2 }.run(&s);
        })?;
        Ok(Self { stop, waker, thread: Some(thread) })
    }
}

impl Drop for RequestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the complete request.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answered; reading and dropping the rest until the client closes.
    Lingering,
}

struct Conn {
    stream: Stream,
    phase: Phase,
    received: Vec<u8>,
    answer: Vec<u8>,
    written: usize,
    /// When the current phase must end.
    deadline: Instant,
}

/// What a connection's progress came to.
#[derive(PartialEq, Eq)]
enum Next {
    Keep,
    Close,
}

struct Server<P> {
    poll: Poll,
    listener: Listener,
    limits: Limits,
    protocol: P,
    conns: HashMap<Token, Conn>,
    next_token: usize,
}

/// Pause before accepting again after an accept error (out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

impl<P: Protocol> Server<P> {
    fn run(mut self, stop: &AtomicBool) {
        let mut events = Events::with_capacity(256);
        let mut accept_retry: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            let now = Instant::now();
            let wake = self.conns.values().map(|c| c.deadline).chain(accept_retry).min();
            let timeout = wake.map(|w| w.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            let mut accept = accept_retry.is_some_and(|t| Instant::now() >= t);
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => accept = true,
                    WAKER => {}
                    t => self.progress(t),
                }
            }
            if accept {
                accept_retry = self.accept_all();
            }
            self.expire();
        }
    }

    /// Accepts until the backlog is empty; on an error, when to try again.
    fn accept_all(&mut self) -> Option<Instant> {
        loop {
            let mut stream = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Some(Instant::now() + ACCEPT_RETRY),
            };
            if self.conns.len() >= self.limits.max_connections && !self.make_room() {
                continue;
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            if stream.register(self.poll.registry(), token).is_err() {
                continue;
            }
            let conn = Conn {
                stream,
                phase: Phase::Reading,
                received: Vec::new(),
                answer: Vec::new(),
                written: 0,
                deadline: Instant::now() + self.limits.deadline,
            };
            self.conns.insert(token, conn);
            // Edge-triggered: a request already waiting raises no further event.
            self.progress(token);
        }
    }

    /// Closes the lingering connection, or else the one waiting longest for its
    /// request; false when every connection is writing an answer.
    fn make_room(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase != Phase::Writing)
            .min_by_key(|(_, c)| (c.phase == Phase::Reading, c.deadline))
            .map(|(t, _)| *t);
        match victim {
            Some(t) => {
                self.close(t);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(mut c) = self.conns.remove(&token) {
            c.stream.deregister(self.poll.registry());
        }
    }

    fn progress(&mut self, token: Token) {
        let Some(c) = self.conns.get_mut(&token) else { return };
        let next = match c.phase {
            Phase::Reading => read_request(c, &self.limits, &mut self.protocol),
            Phase::Writing => write_answer(c, &self.limits),
            Phase::Lingering => drain(c),
        };
        if next == Next::Close {
            self.close(token);
        }
    }

    /// Acts on every passed deadline: a request too slow is answered as such, an answer
    /// or a linger past its time ends the connection.
    fn expire(&mut self) {
        let now = Instant::now();
        let due: Vec<Token> = self.conns.iter().filter(|(_, c)| c.deadline <= now).map(|(t, _)| *t).collect();
        for t in due {
            let Some(c) = self.conns.get_mut(&t) else { continue };
            let next = match c.phase {
                Phase::Reading => {
                    let answer = self.protocol.too_slow();
                    start_answer(c, answer, &self.limits)
                }
                Phase::Writing | Phase::Lingering => Next::Close,
            };
            if next == Next::Close {
                self.close(t);
            }
        }
    }
}

fn read_request(c: &mut Conn, limits: &Limits, protocol: &mut impl Protocol) -> Next {
    let mut chunk = [0u8; 4096];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => {
                return match protocol.answer(&c.received, true) {
                    Some(a) => start_answer(c, a, limits),
                    None => Next::Close,
                };
            }
            Ok(n) => {
                if c.received.len() + n > limits.max_request {
                    let a = protocol.too_large();
                    return start_answer(c, a, limits);
                }
                c.received.extend_from_slice(&chunk[..n]);
                if let Some(a) = protocol.answer(&c.received, false) {
                    return start_answer(c, a, limits);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}

fn start_answer(c: &mut Conn, answer: Vec<u8>, limits: &Limits) -> Next {
    c.received = Vec::new();
    c.answer = answer;
    c.written = 0;
    c.phase = Phase::Writing;
    c.deadline = Instant::now() + limits.deadline;
    write_answer(c, limits)
}

fn write_answer(c: &mut Conn, limits: &Limits) -> Next {
    while c.written < c.answer.len() {
        match c.stream.write(&c.answer[c.written..]) {
            Ok(0) => return Next::Close,
            Ok(n) => c.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
    c.stream.shutdown_write();
    c.answer = Vec::new();
    c.phase = Phase::Lingering;
    c.deadline = Instant::now() + limits.linger;
    drain(c)
}

/// Chunks a lingering connection may read per event: a client that keeps sending gets
/// no more of the thread than that, and more events come while it sends.
const DRAIN_CHUNKS: usize = 16;

fn drain(c: &mut Conn) -> Next {
    let mut chunk = [0u8; 4096];
    for _ in 0..DRAIN_CHUNKS {
        match c.stream.read(&mut chunk) {
            Ok(0) => return Next::Close,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
    Next::Keep
}
