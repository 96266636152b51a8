//! A TLS client handshake driven through rustls' unbuffered API over a non-blocking
//! socket, ending in the hand-over of its keys to the in-place record layer
//! ([`super::records`]).
//!
//! The unbuffered API leaves the buffers to the caller, so nothing rustls has read is
//! hidden from us at the hand-over: bytes after the handshake's last record stay in
//! `incoming`, application data rustls opened on the way is kept, and the kernel
//! connection it returns derives the keys of later key updates. Plaintext the caller
//! writes before the handshake is done waits here and is sealed by the record layer.
//! The handshake allocates as it likes: it is not on the hot path.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError};
use rustls::{ClientConfig, Error};

use super::records::{Leftovers, Records};

/// Plaintext kept before the handshake is done, at most.
const EARLY_LIMIT: usize = 32 << 10;

/// True when `bytes` starts with a whole TLS record.
fn holds_record(bytes: &[u8]) -> bool {
    bytes.len() >= 5 && bytes.len() >= 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]))
}

/// Where a handshake stands after [`Handshake::advance`].
#[derive(Debug)]
pub enum Progress {
    /// Waiting for the socket (to take our flight, or to bring the server's).
    Blocked,
    /// Done: the record layer has the connection.
    Done(Box<Records>),
}

/// Why a handshake ended without a connection.
#[derive(Debug)]
pub enum HandshakeError {
    /// rustls refused (a certificate, a protocol error, an alert from the server).
    Tls(Error),
    Io(io::Error),
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

impl From<Error> for HandshakeError {
    fn from(e: Error) -> Self {
        HandshakeError::Tls(e)
    }
}

/// A client handshake in progress.
pub struct Handshake {
    /// Taken at the hand-over.
    conn: Option<UnbufferedClientConnection>,
    /// Bytes read from the socket not consumed by rustls yet.
    incoming: Vec<u8>,
    /// Encoded records not written yet: `outgoing[sent..]`.
    outgoing: Vec<u8>,
    sent: usize,
    /// Application data rustls opened before the hand-over.
    opened: Vec<u8>,
    /// Plaintext written before the handshake was done.
    early: Vec<u8>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake").field("incoming", &self.incoming.len()).finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts a handshake with `name`. The record layer needs rustls to let the keys
    /// out, so a configuration that does not is copied with that one change.
    pub fn new(config: Arc<ClientConfig>, name: ServerName<'static>) -> Result<Handshake, Error> {
        let config = if config.enable_secret_extraction {
            config
        } else {
            let mut c = (*config).clone();
            c.enable_secret_extraction = true;
            Arc::new(c)
        };
        Ok(Handshake {
            conn: Some(UnbufferedClientConnection::new(config, name)?),
            incoming: Vec::with_capacity(32 << 10),
            outgoing: Vec::with_capacity(4 << 10),
            sent: 0,
            opened: Vec::new(),
            early: Vec::new(),
        })
    }

    /// Keeps plaintext written before the handshake is done (it goes first once it is),
    /// up to what the record layer's send buffer holds; the count kept.
    pub fn write_early(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(EARLY_LIMIT - self.early.len());
        self.early.extend_from_slice(&data[..n]);
        n
    }

    /// True while encoded handshake records wait for the socket.
    pub fn has_pending_output(&self) -> bool {
        self.sent < self.outgoing.len()
    }

    /// Writes what is encoded until the socket would block, counting into `wrote`.
    fn flush(&mut self, sock: &mut impl Write, wrote: &mut u64) -> io::Result<()> {
        while self.sent < self.outgoing.len() {
            match sock.write(&self.outgoing[self.sent..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => {
                    self.sent += n;
                    *wrote += n as u64;
                }
            }
        }
        self.outgoing.clear();
        self.sent = 0;
        Ok(())
    }

    /// Advances as far as the socket allows. `read` counts the bytes read from the
    /// socket, `wrote` those written.
    pub fn advance<S: Read + Write>(
        &mut self,
        sock: &mut S,
        read: &mut u64,
        wrote: &mut u64,
    ) -> Result<Progress, HandshakeError> {
        enum Next {
            Again,
            Read,
            HandOver,
        }
        loop {
            match self.flush(sock, wrote) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Blocked),
                r => r?,
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(Error::General("the handshake was handed over".into()).into());
            };
            let status = conn.process_tls_records(&mut self.incoming);
            let mut discard = status.discard;
            let next = match status.state {
                Err(e) => {
                    self.incoming.drain(..discard);
                    self.send_alert(sock, wrote);
                    return Err(e.into());
                }
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    let at = self.outgoing.len();
                    self.outgoing.resize(at + 4096, 0);
                    let n = match enc.encode(&mut self.outgoing[at..]) {
                        Ok(n) => n,
                        Err(EncodeError::InsufficientSize(s)) => {
                            self.outgoing.resize(at + s.required_size, 0);
                            enc.encode(&mut self.outgoing[at..]).map_err(|e| Error::General(e.to_string()))?
                        }
                        Err(e) => return Err(Error::General(e.to_string()).into()),
                    };
                    self.outgoing.truncate(at + n);
                    Next::Again
                }
                // The bytes are ours now; they go out at the top of the loop.
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    t.done();
                    Next::Again
                }
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record?;
                        discard += record.discard;
                        self.opened.extend_from_slice(record.payload);
                    }
                    Next::Again
                }
                Ok(ConnectionState::BlockedHandshake) => Next::Read,
                Ok(ConnectionState::WriteTraffic(_)) => Next::HandOver,
                Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                    return Err(
                        io::Error::new(io::ErrorKind::UnexpectedEof, "closed during TLS handshake").into()
                    );
                }
                Ok(_) => return Err(Error::General("unexpected TLS handshake state".into()).into()),
            };
            self.incoming.drain(..discard);
            match next {
                Next::Again => {}
                // rustls stops on the traffic state with every complete record read; one
                // still here holds part of a post-handshake message (a ticket split across
                // records) it has taken in: it finishes that first, with more bytes.
                Next::HandOver if !holds_record(&self.incoming) => {
                    return self.hand_over().map(Progress::Done);
                }
                Next::HandOver | Next::Read => {
                    let at = self.incoming.len();
                    self.incoming.resize(at + (16 << 10), 0);
                    let n = sock.read(&mut self.incoming[at..]);
                    self.incoming.truncate(at + *n.as_ref().unwrap_or(&0));
                    match n {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "closed during TLS handshake",
                            )
                            .into());
                        }
                        Ok(n) => *read += n as u64,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Blocked),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// The alert rustls queued on a failure (telling the server why its certificate was
    /// refused), written if the socket takes it.
    fn send_alert(&mut self, sock: &mut impl Write, wrote: &mut u64) {
        // The same buffer, as rustls' contract asks: it may hold part of a message.
        let Some(conn) = self.conn.as_mut() else { return };
        if let Ok(ConnectionState::EncodeTlsData(mut enc)) =
            conn.process_tls_records(&mut self.incoming).state
        {
            let mut buf = [0u8; 64];
            if let Ok(n) = enc.encode(&mut buf) {
                self.outgoing.extend_from_slice(&buf[..n]);
                let _ = self.flush(sock, wrote);
            }
        }
    }

    fn hand_over(&mut self) -> Result<Box<Records>, HandshakeError> {
        let conn = self.conn.take().ok_or_else(|| Error::General("the handshake was handed over".into()))?;
        let (secrets, kernel) = conn.dangerous_into_kernel_connection()?;
        let unsent = &self.outgoing[self.sent..];
        let left =
            Leftovers { received: &self.incoming, plaintext: std::mem::take(&mut self.opened), unsent };
        let mut records = Records::take_over(secrets, kernel, left)?;
        let early = std::mem::take(&mut self.early);
        let mut taken = 0;
        while taken < early.len() {
            match records.seal(&early[taken..])? {
                0 => return Err(Error::General("early data beyond the send buffer".into()).into()),
                n => taken += n,
            }
        }
        Ok(Box::new(records))
    }
}
