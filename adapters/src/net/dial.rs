//! Opening a TCP connection without blocking the polling thread.
//!
//! Name resolution (`getaddrinfo`) blocks, for seconds when DNS is slow, so a host name is
//! resolved on a short-lived helper thread and the result polled; an IP literal skips it.
//! The helper is spawned by a stage thread pinned to its core and would inherit that
//! core: it moves to the housekeeping cores first.
//! The connect itself is mio's non-blocking connect, tried address by address; the
//! stream is registered for read and write readiness under the caller's token and stays
//! registered once connected.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// A connection being opened.
#[derive(Debug)]
pub(crate) struct Dial {
    host: String,
    step: Step,
    last_error: Option<io::Error>,
}

#[derive(Debug)]
enum Step {
    Resolving(Receiver<io::Result<Vec<SocketAddr>>>),
    Connecting {
        stream: TcpStream,
        rest: Vec<SocketAddr>,
    },
    /// Between addresses (or before the first one).
    Next(Vec<SocketAddr>),
}

/// Why a dial failed.
#[derive(Debug)]
pub(crate) enum DialError {
    Resolve(io::Error),
    Connect(io::Error),
}

impl Dial {
    pub(crate) fn start(host: &str, port: u16) -> Result<Dial, DialError> {
        let step = match host.parse::<IpAddr>() {
            Ok(ip) => Step::Next(vec![SocketAddr::new(ip, port)]),
            Err(_) => {
                let (tx, rx) = mpsc::channel();
                let name = host.to_owned();
                std::thread::Builder::new()
                    .name("resolve".into())
                    .spawn(move || {
                        // Best effort: a resolver left on the stage's core still resolves.
                        let _ = pipeline::runtime::cores::enter_housekeeping();
                        let result = (name.as_str(), port).to_socket_addrs().map(|a| a.collect());
                        let _ = tx.send(result);
                    })
                    .map_err(DialError::Resolve)?;
                Step::Resolving(rx)
            }
        };
        Ok(Dial { host: host.to_owned(), step, last_error: None })
    }

    /// Advances the dial; `Ok(Some(stream))` once connected. Cheap to call when nothing
    /// happened: a pending resolve is a channel poll, a pending connect two getsockopt
    /// calls, done only when `ready` says the socket reported an event.
    pub(crate) fn poll(
        &mut self,
        registry: &Registry,
        token: Token,
        ready: bool,
    ) -> Result<Option<TcpStream>, DialError> {
        loop {
            match &mut self.step {
                Step::Resolving(rx) => match rx.try_recv() {
                    Ok(Ok(addrs)) if addrs.is_empty() => {
                        let msg = format!("{} has no addresses", self.host);
                        return Err(DialError::Resolve(io::Error::new(io::ErrorKind::NotFound, msg)));
                    }
                    Ok(Ok(mut addrs)) => {
                        addrs.reverse();
                        self.step = Step::Next(addrs);
                    }
                    Ok(Err(e)) => return Err(DialError::Resolve(e)),
                    Err(TryRecvError::Empty) => return Ok(None),
                    Err(TryRecvError::Disconnected) => {
                        let e = io::Error::other("resolver thread died");
                        return Err(DialError::Resolve(e));
                    }
                },
                Step::Next(addrs) => {
                    let Some(addr) = addrs.pop() else {
                        let e = self.last_error.take().unwrap_or_else(|| {
                            io::Error::new(
                                io::ErrorKind::NotConnected,
                                format!("no address of {}", self.host),
                            )
                        });
                        return Err(DialError::Connect(e));
                    };
                    let rest = std::mem::take(addrs);
                    match TcpStream::connect(addr) {
                        Ok(mut stream) => {
                            registry
                                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                                .map_err(DialError::Connect)?;
                            self.step = Step::Connecting { stream, rest };
                            // The outcome arrives as a readiness event.
                            return Ok(None);
                        }
                        Err(e) => {
                            self.last_error = Some(e);
                            self.step = Step::Next(rest);
                        }
                    }
                }
                Step::Connecting { .. } => {
                    if !ready {
                        return Ok(None);
                    }
                    let Step::Connecting { mut stream, rest } =
                        std::mem::replace(&mut self.step, Step::Next(Vec::new()))
                    else {
                        continue;
                    };
                    let failed = match stream.take_error() {
                        Ok(Some(e)) | Err(e) => e,
                        Ok(None) => match stream.peer_addr() {
                            Ok(_) => {
                                stream.set_nodelay(true).map_err(DialError::Connect)?;
                                return Ok(Some(stream));
                            }
                            // Spurious wake-up: still connecting.
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                                self.step = Step::Connecting { stream, rest };
                                return Ok(None);
                            }
                            Err(e) => e,
                        },
                    };
                    let _ = registry.deregister(&mut stream);
                    self.last_error = Some(failed);
                    self.step = Step::Next(rest);
                }
            }
        }
    }

    /// Deregisters a socket still being connected (on timeout or drop of the owner).
    pub(crate) fn abort(&mut self, registry: &Registry) {
        if let Step::Connecting { stream, .. } = &mut self.step {
            let _ = registry.deregister(stream);
        }
        self.step = Step::Next(Vec::new());
    }
}
