//! A connected byte stream, plain TCP or TLS over TCP, that never blocks: every method
//! returns `WouldBlock` instead of waiting, so tungstenite and the HTTP client can sit on
//! top of it in a readiness loop.
//!
//! TLS is driven by hand (`read_tls` / `process_new_packets` / `write_tls`) rather than
//! through `rustls::StreamOwned`, so that a blocked write never hides a readable record
//! and a rejected certificate surfaces as a [`TlsFailure`] naming the host. The stream also
//! counts wire bytes and stamps the raw clock of the last socket read that returned data:
//! the local receive time of whatever message that read completed.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::Registry;
use mio::net::TcpStream;
use quanta::Clock;
use rustls::{ClientConfig, ClientConnection};

use super::tls::{TlsFailure, server_name};

#[derive(Debug)]
pub(crate) struct Transport {
    sock: TcpStream,
    tls: Option<Box<ClientConnection>>,
    host: String,
    clock: Clock,
    /// Raw clock at the last socket read that returned bytes.
    pub(crate) last_read_raw: u64,
    /// Bytes read from / written to the socket (TLS records included).
    pub(crate) wire_in: u64,
    pub(crate) wire_out: u64,
}

impl Transport {
    pub(crate) fn plain(sock: TcpStream, host: &str, clock: Clock) -> Transport {
        Transport { sock, tls: None, host: host.to_owned(), clock, last_read_raw: 0, wire_in: 0, wire_out: 0 }
    }

    pub(crate) fn tls(
        sock: TcpStream,
        host: &str,
        config: Arc<ClientConfig>,
        clock: Clock,
    ) -> Result<Transport, TlsFailure> {
        let name = server_name(host)
            .map_err(|reason| TlsFailure { host: host.to_owned(), source: rustls::Error::General(reason) })?;
        let conn = ClientConnection::new(config, name)
            .map_err(|source| TlsFailure { host: host.to_owned(), source })?;
        let mut t = Transport::plain(sock, host, clock);
        t.tls = Some(Box::new(conn));
        Ok(t)
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.sock);
    }

    /// True while TLS bytes are waiting for the socket to accept them.
    pub(crate) fn has_pending_output(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// Advances a TLS handshake as far as the socket allows; true once it is complete
    /// (always true for plain TCP). Application data waits until then, so a request
    /// never starts on a connection whose certificate may still be rejected.
    pub(crate) fn drive_handshake(&mut self) -> io::Result<bool> {
        loop {
            let Some(tls) = &mut self.tls else { return Ok(true) };
            if !tls.is_handshaking() {
                return Ok(true);
            }
            match self.write_tls() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                r => r?,
            }
            let Some(tls) = &mut self.tls else { return Ok(true) };
            if !tls.is_handshaking() {
                return Ok(true);
            }
            let n = match tls.read_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during TLS handshake"));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            self.last_read_raw = self.clock.raw();
            self.wire_in += n as u64;
            let state = tls.process_new_packets();
            if let Err(e) = state {
                let _ = self.write_tls();
                return Err(self.tls_failure(e));
            }
        }
    }

    /// Best-effort TLS close_notify; the socket is about to be dropped.
    pub(crate) fn close(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
        }
        let _ = self.flush();
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }

    fn tls_failure(&self, source: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, TlsFailure { host: self.host.clone(), source })
    }

    /// Writes queued TLS records until none are left or the socket would block.
    fn write_tls(&mut self) -> io::Result<()> {
        let Some(tls) = &mut self.tls else { return Ok(()) };
        while tls.wants_write() {
            match tls.write_tls(&mut self.sock)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.wire_out += n as u64,
            }
        }
        Ok(())
    }

    fn read_sock(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        if n > 0 {
            self.last_read_raw = self.clock.raw();
            self.wire_in += n as u64;
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
        if self.tls.is_none() {
            return self.read_sock(buf);
        }
        loop {
            let Some(tls) = &mut self.tls else { return Ok(0) };
            match tls.reader().read(buf) {
                // Ok(0) here is a clean close_notify; UnexpectedEof an unclean EOF.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext buffered: pull TLS records from the socket.
            let n = tls.read_tls(&mut self.sock)?;
            if n > 0 {
                self.last_read_raw = self.clock.raw();
                self.wire_in += n as u64;
            }
            let state = tls.process_new_packets();
            // Handshake messages and alerts (including the one telling the server why
            // its certificate was rejected) go out even when processing failed.
            match self.write_tls() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if state.is_ok() => return Err(e),
                Err(_) => {}
            }
            if let Err(e) = state {
                return Err(self.tls_failure(e));
            }
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            let n = self.sock.write(buf)?;
            self.wire_out += n as u64;
            return Ok(n);
        };
        // rustls buffers plaintext (also before the handshake is done) up to its buffer
        // limit, then accepts nothing until records drain to the socket.
        let mut n = tls.writer().write(buf)?;
        let mut blocked = false;
        match self.write_tls() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => blocked = true,
            Err(e) => return Err(e),
        }
        if n == 0 && !buf.is_empty() && !blocked {
            // The buffer was full and the socket took all of it: no writable event will
            // come for this, so the plaintext goes in now.
            if let Some(tls) = &mut self.tls {
                n = tls.writer().write(buf)?;
            }
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

    fn flush(&mut self) -> io::Result<()> {
        self.write_tls()
    }
}
