//! A connected byte stream, plain TCP or TLS over TCP, that never blocks: every method
//! returns `WouldBlock` instead of waiting, so tungstenite and the HTTP client can sit on
//! top of it in a readiness loop.
//!
//! TLS: rustls does the handshake ([`super::handshake`], its unbuffered API, so that a
//! blocked write never hides a readable record and a rejected certificate surfaces as a
//! [`TlsFailure`] naming the host); then its keys go to the in-place record layer
//! ([`super::records`]) and no record allocates. What the caller writes before the
//! handshake is done waits and goes first after it.
//!
//! The stream also counts wire bytes and stamps the raw clock of the last socket read
//! that returned data: the local receive time of whatever message that read completed.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::Registry;
use mio::net::TcpStream;
use quanta::Clock;
use rustls::ClientConfig;

use super::handshake::{Handshake, HandshakeError, Progress};
use super::records::Records;
use super::tls::{TlsFailure, server_name};

#[derive(Debug)]
pub(crate) struct Transport {
    sock: TcpStream,
    tls: Tls,
    host: String,
    clock: Clock,
    /// Raw clock at the last socket read that returned bytes.
    pub(crate) last_read_raw: u64,
    /// Bytes read from / written to the socket (TLS records included).
    pub(crate) wire_in: u64,
    pub(crate) wire_out: u64,
}

#[derive(Debug)]
enum Tls {
    Plain,
    Handshake(Box<Handshake>),
    Records(Box<Records>),
    /// The handshake failed: every call fails, nothing is sent.
    Failed,
}

fn failed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TLS connection failed")
}

impl Transport {
    pub(crate) fn plain(sock: TcpStream, host: &str, clock: Clock) -> Transport {
        Transport {
            sock,
            tls: Tls::Plain,
            host: host.to_owned(),
            clock,
            last_read_raw: 0,
            wire_in: 0,
            wire_out: 0,
        }
    }

    pub(crate) fn tls(
        sock: TcpStream,
        host: &str,
        config: Arc<ClientConfig>,
        clock: Clock,
    ) -> Result<Transport, TlsFailure> {
        let name = server_name(host)
            .map_err(|reason| TlsFailure { host: host.to_owned(), source: rustls::Error::General(reason) })?;
        let hs =
            Handshake::new(config, name).map_err(|source| TlsFailure { host: host.to_owned(), source })?;
        let mut t = Transport::plain(sock, host, clock);
        t.tls = Tls::Handshake(Box::new(hs));
        Ok(t)
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.sock);
    }

    /// True while TLS bytes are waiting for the socket to accept them.
    pub(crate) fn has_pending_output(&self) -> bool {
        match &self.tls {
            Tls::Plain | Tls::Failed => false,
            Tls::Handshake(h) => h.has_pending_output(),
            Tls::Records(r) => r.has_pending_output(),
        }
    }

    /// Advances a TLS handshake as far as the socket allows; true once it is complete
    /// (always true for plain TCP). Application data waits until then, so a request
    /// never starts on a connection whose certificate may still be rejected.
    pub(crate) fn drive_handshake(&mut self) -> io::Result<bool> {
        let Tls::Handshake(hs) = &mut self.tls else {
            return if matches!(self.tls, Tls::Failed) { Err(failed()) } else { Ok(true) };
        };
        let before = self.wire_in;
        let progress = hs.advance(&mut self.sock, &mut self.wire_in, &mut self.wire_out);
        if self.wire_in > before {
            self.last_read_raw = self.clock.raw();
        }
        match progress {
            Ok(Progress::Blocked) => Ok(false),
            Ok(Progress::Done(records)) => {
                self.tls = Tls::Records(records);
                // What was written early goes now, if the socket takes it.
                match self.write_tls() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(true),
                }
            }
            Err(e) => {
                self.tls = Tls::Failed;
                Err(match e {
                    HandshakeError::Io(e) => e,
                    HandshakeError::Tls(e) => self.tls_failure(e),
                })
            }
        }
    }

    /// Best-effort TLS close_notify; the socket is about to be dropped. A handshake
    /// still going is not driven on: the socket just closes.
    pub(crate) fn close(&mut self) {
        if let Tls::Records(r) = &mut self.tls
            && r.seal_close_notify().is_ok()
        {
            let _ = r.flush(&mut self.sock, &mut self.wire_out);
        }
        if matches!(self.tls, Tls::Plain) {
            let _ = self.sock.flush();
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }

    fn tls_failure(&self, source: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, TlsFailure { host: self.host.clone(), source })
    }

    /// Writes sealed records until none are left or the socket would block.
    fn write_tls(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Tls::Plain => Ok(()),
            Tls::Failed => Err(failed()),
            Tls::Handshake(_) => self.drive_handshake().map(drop),
            Tls::Records(r) => r.flush(&mut self.sock, &mut self.wire_out),
        }
    }

    fn read_sock(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        if n > 0 {
            self.last_read_raw = self.clock.raw();
            self.wire_in += n as u64;
        }
        Ok(n)
    }

    fn read_records(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Tls::Records(r) = &mut self.tls else { return Err(failed()) };
            let opened = r.read_plain(buf);
            // A key update the server asked for is answered before the next record sealed.
            match opened {
                Ok(Some(n)) => return Ok(n),
                Ok(None) => {}
                Err(e) => return Err(self.tls_failure(e)),
            }
            let Tls::Records(r) = &mut self.tls else { return Err(failed()) };
            match r.fill(&mut self.sock)? {
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed without close_notify")),
                n => {
                    self.last_read_raw = self.clock.raw();
                    self.wire_in += n as u64;
                }
            }
        }
    }

    fn write_records(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Tls::Records(r) = &mut self.tls else { return Err(failed()) };
        let mut n = r.seal(buf).map_err(|e| self.tls_failure(e))?;
        let mut blocked = false;
        match self.write_tls() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => blocked = true,
            Err(e) => return Err(e),
        }
        if n == 0 && !buf.is_empty() && !blocked {
            // The buffer was full and the socket took all of it: no writable event will
            // come for this, so the plaintext goes in now.
            let Tls::Records(r) = &mut self.tls else { return Err(failed()) };
            n = r.seal(buf).map_err(|e| self.tls_failure(e))?;
            match self.write_tls() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

/// Pulls the error a [`Transport`] wrapped into an `io::Error` back out, if it was a TLS
/// failure.
pub(crate) fn take_tls_failure(e: io::Error) -> Result<TlsFailure, io::Error> {
    if e.get_ref().is_some_and(|inner| inner.is::<TlsFailure>()) {
        match e.into_inner().map(|inner| inner.downcast::<TlsFailure>()) {
            Some(Ok(failure)) => Ok(*failure),
            Some(Err(inner)) => Err(io::Error::new(io::ErrorKind::InvalidData, inner)),
            None => Err(io::ErrorKind::InvalidData.into()),
        }
    } else {
        Err(e)
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            Tls::Plain => self.read_sock(buf),
            Tls::Failed => Err(failed()),
            Tls::Records(_) => self.read_records(buf),
            Tls::Handshake(_) => {
                if self.drive_handshake()? {
                    self.read_records(buf)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            }
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            Tls::Plain => {
                let n = self.sock.write(buf)?;
                self.wire_out += n as u64;
                Ok(n)
            }
            Tls::Failed => Err(failed()),
            Tls::Records(_) => self.write_records(buf),
            Tls::Handshake(hs) => {
                // Kept until the handshake is done (tungstenite writes its upgrade
                // request at once); then sealed first.
                let n = hs.write_early(buf);
                match self.drive_handshake() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ if n == 0 && !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
                    _ => Ok(n),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_tls()
    }
}
