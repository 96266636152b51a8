//! A connected byte stream, plain TCP or TLS over TCP, that never blocks: every method
//! returns `WouldBlock` instead of waiting, so tungstenite and the HTTP client can sit on
//! top of it in a readiness loop.
//!
//! rustls does the TLS handshake, driven by hand (`read_tls` / `process_new_packets` /
//! `write_tls`) rather than through `rustls::StreamOwned`, so that a blocked write never
//! hides a readable record and a rejected certificate surfaces as a [`TlsFailure`] naming
//! the host. Once a TLS 1.3 handshake is done and its last flight written, the traffic
//! keys go to the in-place record layer ([`super::records`]) and rustls is dropped: from
//! then on no record allocates. During the handshake rustls is handed whole records one
//! at a time, so that the records after its last one stay here for that layer. A TLS 1.2
//! connection stays with rustls throughout.
//!
//! The stream also counts wire bytes and stamps the raw clock of the last socket read
//! that returned data: the local receive time of whatever message that read completed.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::Registry;
use mio::net::TcpStream;
use quanta::Clock;
use rustls::{ClientConfig, ClientConnection, ProtocolVersion};

use super::records::{Records, could_be_record, whole_record};
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
    /// rustls has the connection: during the handshake, and for good on TLS 1.2 or when
    /// its configuration does not allow the keys out.
    Rustls {
        conn: Box<ClientConnection>,
        /// Bytes read from the socket that rustls has not been handed yet.
        received: Vec<u8>,
        /// The configuration lets the keys out (`enable_secret_extraction`).
        extractable: bool,
    },
    /// A TLS 1.3 connection after its handshake.
    Records(Box<Records>),
    /// The keys could not move to the record layer: every call fails, nothing is sent.
    Failed,
}

impl Tls {
    fn rustls(&mut self) -> Option<&mut ClientConnection> {
        match self {
            Tls::Rustls { conn, .. } => Some(conn),
            _ => None,
        }
    }

    /// A TLS 1.3 handshake is done and its keys wait for its last flight to be written.
    fn is_moving(&self) -> bool {
        matches!(self, Tls::Rustls { conn, extractable: true, .. }
            if !conn.is_handshaking() && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3))
    }
}

fn failed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TLS connection failed")
}

/// Hands rustls the bytes read so far: whole records one at a time while it handshakes
/// (and after, on a connection whose keys will move to the record layer, none), all of
/// them on a connection that stays with rustls.
fn feed(conn: &mut ClientConnection, received: &mut Vec<u8>, extractable: bool) -> Result<(), rustls::Error> {
    let mut used = 0;
    let result = loop {
        let moving = extractable && conn.protocol_version() != Some(ProtocolVersion::TLSv1_2);
        let rest = &received[used..];
        let take = match (conn.is_handshaking(), moving) {
            // What cannot be a record's start goes to rustls at once, for it to refuse.
            (true, _) => whole_record(rest).unwrap_or(if could_be_record(rest) { 0 } else { rest.len() }),
            (false, true) => 0,
            (false, false) => rest.len(),
        };
        if take == 0 {
            break Ok(());
        }
        let mut chunk = &rest[..take];
        while !chunk.is_empty() && matches!(conn.read_tls(&mut chunk), Ok(1..)) {}
        let fed = take - chunk.len();
        used += fed;
        if let Err(e) = conn.process_new_packets() {
            break Err(e);
        }
        if fed < take {
            // rustls holds as much as it will until its plaintext is read.
            break Ok(());
        }
    };
    received.drain(..used);
    result
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
        let extractable = config.enable_secret_extraction;
        let conn = ClientConnection::new(config, name)
            .map_err(|source| TlsFailure { host: host.to_owned(), source })?;
        let mut t = Transport::plain(sock, host, clock);
        t.tls = Tls::Rustls { conn: Box::new(conn), received: Vec::with_capacity(32 << 10), extractable };
        Ok(t)
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.sock);
    }

    /// True while TLS bytes are waiting for the socket to accept them.
    pub(crate) fn has_pending_output(&self) -> bool {
        match &self.tls {
            Tls::Plain | Tls::Failed => false,
            Tls::Rustls { conn, .. } => conn.wants_write(),
            Tls::Records(r) => r.has_pending_output(),
        }
    }

    /// Advances a TLS handshake as far as the socket allows; true once it is complete
    /// (always true for plain TCP). Application data waits until then, so a request
    /// never starts on a connection whose certificate may still be rejected.
    pub(crate) fn drive_handshake(&mut self) -> io::Result<bool> {
        loop {
            let Some(conn) = self.tls.rustls() else { return Ok(true) };
            if !conn.is_handshaking() {
                match self.write_tls() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    r => r?,
                }
                return Ok(true);
            }
            match self.write_tls() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                r => r?,
            }
            if self.tls.rustls().is_none_or(|c| !c.is_handshaking()) {
                continue;
            }
            match self.pull() {
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during TLS handshake"));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Best-effort TLS close_notify; the socket is about to be dropped.
    pub(crate) fn close(&mut self) {
        match &mut self.tls {
            Tls::Plain | Tls::Failed => {}
            Tls::Rustls { conn, .. } => conn.send_close_notify(),
            Tls::Records(r) => {
                let _ = r.seal_close_notify();
            }
        }
        let _ = self.flush();
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }

    fn tls_failure(&self, source: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, TlsFailure { host: self.host.clone(), source })
    }

    /// Writes queued TLS records until none are left or the socket would block; then,
    /// on a TLS 1.3 connection whose handshake is done, moves to the record layer.
    fn write_tls(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Tls::Plain => Ok(()),
            Tls::Failed => Err(failed()),
            Tls::Records(r) => r.flush(&mut self.sock, &mut self.wire_out),
            Tls::Rustls { conn, .. } => {
                while conn.wants_write() {
                    match conn.write_tls(&mut self.sock)? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => self.wire_out += n as u64,
                    }
                }
                self.move_to_records()
            }
        }
    }

    /// Hands a TLS 1.3 connection's keys to the record layer once its handshake is done,
    /// everything rustls had to send is written and it holds no plaintext.
    fn move_to_records(&mut self) -> io::Result<()> {
        let Tls::Rustls { conn, extractable: true, .. } = &mut self.tls else { return Ok(()) };
        let ready = !conn.is_handshaking()
            && !conn.wants_write()
            && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
            && matches!(conn.process_new_packets(), Ok(io) if io.plaintext_bytes_to_read() == 0);
        if !ready {
            return Ok(());
        }
        let Tls::Rustls { conn, received, .. } = std::mem::replace(&mut self.tls, Tls::Failed) else {
            return Ok(());
        };
        match Records::take_over(*conn, &received) {
            Ok(r) => {
                self.tls = Tls::Records(Box::new(r));
                Ok(())
            }
            Err(e) => Err(self.tls_failure(e)),
        }
    }

    /// Hands rustls what [`feed`] allows of the bytes read before, or else reads the
    /// socket first; the bytes handed or read (0 at EOF).
    fn pull(&mut self) -> io::Result<usize> {
        let Tls::Rustls { conn, received, extractable } = &mut self.tls else { return Err(failed()) };
        let held = received.len();
        let mut state = if held > 0 { feed(conn, received, *extractable) } else { Ok(()) };
        let mut n = held - received.len();
        if n == 0 && state.is_ok() {
            let mut chunk = [0u8; 8 << 10];
            n = self.read_sock(&mut chunk)?;
            let Tls::Rustls { conn, received, extractable } = &mut self.tls else { return Err(failed()) };
            received.extend_from_slice(&chunk[..n]);
            state = feed(conn, received, *extractable);
        }
        // Handshake messages and alerts (including the one telling the server why its
        // certificate was rejected) go out even when processing failed.
        match self.write_tls() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if state.is_ok() => return Err(e),
            Err(_) => {}
        }
        state.map_err(|e| self.tls_failure(e))?;
        Ok(n)
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
            let Tls::Records(r) = &mut self.tls else { return Ok(0) };
            match r.read_plain(buf) {
                Ok(Some(n)) => return Ok(n),
                Ok(None) => {}
                Err(e) => return Err(self.tls_failure(e)),
            }
            let Tls::Records(r) = &mut self.tls else { return Ok(0) };
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
        let Tls::Records(r) = &mut self.tls else { return Ok(0) };
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
            let Tls::Records(r) = &mut self.tls else { return Ok(0) };
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
        loop {
            match &mut self.tls {
                Tls::Plain => return self.read_sock(buf),
                Tls::Failed => return Err(failed()),
                Tls::Records(_) => return self.read_records(buf),
                Tls::Rustls { conn, .. } => match conn.reader().read(buf) {
                    // Ok(0) here is a clean close_notify; UnexpectedEof an unclean EOF.
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                },
            }
            // No plaintext buffered: the handshake may be done, or records must be read.
            self.write_tls()
                .or_else(|e| if e.kind() == io::ErrorKind::WouldBlock { Ok(()) } else { Err(e) })?;
            if matches!(self.tls, Tls::Records(_)) {
                continue;
            }
            if self.tls.is_moving() {
                // The handshake's last flight waits for the socket; what arrives meanwhile
                // is for the record layer, read once the socket is writable again.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.pull()? == 0 {
                // rustls reports the EOF: clean after close_notify, unclean otherwise.
                if let Some(conn) = self.tls.rustls() {
                    let _ = conn.read_tls(&mut io::empty());
                    let _ = conn.process_new_packets();
                    return conn.reader().read(buf);
                }
            }
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let conn = match &mut self.tls {
            Tls::Failed => return Err(failed()),
            Tls::Plain => {
                let n = self.sock.write(buf)?;
                self.wire_out += n as u64;
                return Ok(n);
            }
            Tls::Records(_) => return self.write_records(buf),
            Tls::Rustls { conn, .. } => conn,
        };
        // rustls buffers plaintext (also before the handshake is done) up to its buffer
        // limit, then accepts nothing until records drain to the socket.
        let mut n = conn.writer().write(buf)?;
        let mut blocked = false;
        match self.write_tls() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => blocked = true,
            Err(e) => return Err(e),
        }
        if n == 0 && !buf.is_empty() && !blocked {
            // The buffer was full and the socket took all of it: no writable event will
            // come for this, so the plaintext goes in now.
            match &mut self.tls {
                Tls::Rustls { conn, .. } => n = conn.writer().write(buf)?,
                Tls::Records(_) => return self.write_records(buf),
                Tls::Plain | Tls::Failed => {}
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
