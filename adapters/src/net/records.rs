//! TLS 1.3 record protection after rustls' handshake, in buffers the connection keeps, so
//! that no record allocates.
//!
//! rustls does the handshake, verifies the certificate and derives the traffic keys;
//! its record layer then allocates a buffer for every record it decrypts or encrypts.
//! This is what kernel TLS would take over, done in the process: once a TLS 1.3
//! handshake is complete and its last flight is on the wire, the connection hands its
//! traffic keys over (`dangerous_extract_secrets`, the documented hand-over for kTLS) and
//! every later record is opened and sealed here, in place, with ring's AEADs (RFC 8446
//! §5.2 to §5.5: nonce = IV xor sequence number, the record header as additional data,
//! the content type at the end of the plaintext, zero padding stripped).
//!
//! After the handshake a server may send:
//! - application data: returned to the reader;
//! - `new_session_ticket`: skipped (the clients never resume sessions);
//! - `key_update`: the extracted keys cannot follow it, so the connection fails with a
//!   reason and its owner reconnects (a server updates its keys near the AEAD's
//!   confidentiality limit, tens of millions of records);
//! - alerts: `close_notify` ends the stream cleanly, `user_canceled` is ignored, any other
//!   is the error it names.
//!
//! Records we send stop short of the cipher suite's confidentiality limit: the write
//! fails and the owner reconnects, instead of updating keys this layer cannot derive.

use std::fmt;
use std::io::{self, Read, Write};

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use rustls::{
    AlertDescription, ClientConnection, ConnectionTrafficSecrets, Error, ExtractedSecrets, ProtocolVersion,
    SupportedCipherSuite,
};

/// Largest plaintext in one record (RFC 8446 §5.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
const HEADER: usize = 5;
const TAG: usize = 16;
/// Largest ciphertext a peer may send in one record (RFC 8446 §5.2).
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;
const APPLICATION_DATA: u8 = 23;
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;
/// TLS records waiting for the socket are bounded like rustls' own buffer.
const SEND_LIMIT: usize = 64 << 10;
/// The send buffer: the limit, one record past it, and a close_notify.
const SEND_CAPACITY: usize = SEND_LIMIT + 2 * (HEADER + MAX_PLAINTEXT + 1 + TAG);

/// One direction's key, IV and next sequence number.
struct Direction {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Direction {
    fn new(seq: u64, secrets: &ConnectionTrafficSecrets) -> Result<Direction, Error> {
        let (alg, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key, iv),
            _ => return Err(Error::General("cipher suite without an in-place record layer".into())),
        };
        let key = UnboundKey::new(alg, key.as_ref()).map_err(|_| Error::General("bad traffic key".into()))?;
        let iv: [u8; 12] = iv.as_ref().try_into().map_err(|_| Error::General("bad traffic IV".into()))?;
        Ok(Direction { key: LessSafeKey::new(key), iv, seq })
    }

    /// The next record's nonce; advances the sequence number.
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(nonce)
    }
}

/// A TLS 1.3 connection's record layer after its handshake.
pub struct Records {
    tx: Direction,
    rx: Direction,
    /// Records sealed before this many would pass the suite's confidentiality limit.
    tx_limit: u64,
    /// Bytes read from the socket: `inbuf[start..end]`, records not opened yet.
    inbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Opened application data not read yet: `inbuf[plain.0..plain.1]`.
    plain: (usize, usize),
    /// A post-handshake message split across records: its header bytes gathered so
    /// far, and the bytes of its body still to be skipped.
    hs_header: [u8; 4],
    hs_header_len: usize,
    skip_handshake: usize,
    /// Sealed records not written yet: `outbuf[sent..]`.
    outbuf: Vec<u8>,
    sent: usize,
    closed: bool,
    /// The first error; every later read fails with it, as in rustls.
    failed: Option<Error>,
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("tx_seq", &self.tx.seq)
            .field("rx_seq", &self.rx.seq)
            .field("pending_out", &(self.outbuf.len() - self.sent))
            .finish_non_exhaustive()
    }
}

impl Records {
    /// Takes over a TLS 1.3 connection whose handshake is done and whose last flight is
    /// written (its configuration must allow it: `enable_secret_extraction`);
    /// `received` holds the bytes read from the socket after the handshake's last record.
    /// rustls must not have been handed any of them.
    pub fn take_over(conn: ClientConnection, received: &[u8]) -> Result<Records, Error> {
        if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
            return Err(Error::General("the in-place record layer is for TLS 1.3".into()));
        }
        if conn.is_handshaking() || conn.wants_write() {
            return Err(Error::HandshakeNotComplete);
        }
        let limit = match conn.negotiated_cipher_suite() {
            Some(SupportedCipherSuite::Tls13(s)) => s.common.confidentiality_limit,
            _ => 0,
        };
        Records::new(conn.dangerous_extract_secrets()?, limit, received)
    }

    /// The record layer for `secrets`, `tx_limit` the suite's confidentiality limit and
    /// `received` the bytes read after the handshake's last record.
    fn new(secrets: ExtractedSecrets, tx_limit: u64, received: &[u8]) -> Result<Records, Error> {
        let size = (2 * (HEADER + MAX_CIPHERTEXT)).max(received.len() + HEADER + MAX_CIPHERTEXT);
        let mut inbuf = vec![0u8; size].into_boxed_slice();
        inbuf[..received.len()].copy_from_slice(received);
        Ok(Records {
            tx: Direction::new(secrets.tx.0, &secrets.tx.1)?,
            rx: Direction::new(secrets.rx.0, &secrets.rx.1)?,
            tx_limit: tx_limit.saturating_sub(1024),
            inbuf,
            start: 0,
            end: received.len(),
            plain: (0, 0),
            hs_header: [0; 4],
            hs_header_len: 0,
            skip_handshake: 0,
            outbuf: Vec::with_capacity(SEND_CAPACITY),
            sent: 0,
            closed: false,
            failed: None,
        })
    }

    /// Copies opened application data into `buf`, opening buffered records as needed.
    /// `Ok(Some(0))` once the peer closed the stream; `Ok(None)` when a record is
    /// incomplete and more must be read from the socket ([`Records::fill`]).
    pub fn read_plain(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        loop {
            let (p, q) = self.plain;
            if p < q {
                let n = buf.len().min(q - p);
                buf[..n].copy_from_slice(&self.inbuf[p..p + n]);
                self.plain.0 += n;
                return Ok(Some(n));
            }
            if self.closed {
                return Ok(Some(0));
            }
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            match self.open_next() {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// Reads what the socket has into the receive buffer; the count read (0 at EOF).
    pub fn fill(&mut self, sock: &mut impl Read) -> io::Result<usize> {
        if self.start > 0 && self.inbuf.len() - self.end < HEADER + MAX_CIPHERTEXT {
            // Too little room left for a whole record: move the start of the next one to
            // the front. Opened plaintext has been read by now (this runs only when no
            // record can be opened, and one is opened only when no plaintext is left).
            self.inbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        sock.read(&mut self.inbuf[self.end..]).inspect(|n| self.end += n)
    }

    /// Opens the next complete record; false when none is complete.
    fn open_next(&mut self) -> Result<bool, Error> {
        let avail = &self.inbuf[self.start..self.end];
        if avail.len() < HEADER {
            self.compact_if_empty();
            return Ok(false);
        }
        let header: [u8; HEADER] = [avail[0], avail[1], avail[2], avail[3], avail[4]];
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if header[0] != APPLICATION_DATA || !(TAG + 1..=MAX_CIPHERTEXT).contains(&len) {
            return Err(Error::General(format!("unexpected TLS record: type {} length {len}", header[0])));
        }
        if avail.len() < HEADER + len {
            return Ok(false);
        }
        let body = self.start + HEADER;
        self.start = body + len;
        let nonce = self.rx.next_nonce();
        let opened = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut self.inbuf[body..body + len])
            .map_err(|_| Error::DecryptError)?;
        // The content type is the last byte that is not padding.
        let Some(last) = opened.iter().rposition(|&b| b != 0) else {
            return Err(Error::General("TLS record of padding alone".into()));
        };
        let content = opened[last];
        if last > MAX_PLAINTEXT {
            return Err(Error::PeerSentOversizedRecord);
        }
        if content != HANDSHAKE && (self.skip_handshake > 0 || self.hs_header_len > 0) {
            return Err(Error::General("a record inside a split post-handshake message".into()));
        }
        match content {
            APPLICATION_DATA => self.plain = (body, body + last),
            HANDSHAKE if last == 0 => return Err(Error::General("empty post-handshake record".into())),
            HANDSHAKE => self.handshake(body, body + last)?,
            ALERT => self.alert(body, last)?,
            other => return Err(Error::General(format!("unexpected TLS content type {other}"))),
        }
        Ok(true)
    }

    fn compact_if_empty(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Post-handshake messages, which may be split across records at any byte: session
    /// tickets are skipped, anything else fails.
    fn handshake(&mut self, mut at: usize, end: usize) -> Result<(), Error> {
        while at < end {
            if self.skip_handshake > 0 {
                let k = self.skip_handshake.min(end - at);
                self.skip_handshake -= k;
                at += k;
                continue;
            }
            let k = (4 - self.hs_header_len).min(end - at);
            self.hs_header[self.hs_header_len..self.hs_header_len + k]
                .copy_from_slice(&self.inbuf[at..at + k]);
            self.hs_header_len += k;
            at += k;
            if self.hs_header_len < 4 {
                break;
            }
            self.hs_header_len = 0;
            let [kind, a, b, c] = self.hs_header;
            match kind {
                NEW_SESSION_TICKET => self.skip_handshake = u32::from_be_bytes([0, a, b, c]) as usize,
                KEY_UPDATE => {
                    return Err(Error::General("the server updated its TLS keys; reconnecting".into()));
                }
                other => return Err(Error::General(format!("unexpected post-handshake message {other}"))),
            }
        }
        Ok(())
    }

    fn alert(&mut self, body: usize, len: usize) -> Result<(), Error> {
        let [_level, desc] = self.inbuf[body..body + len] else {
            return Err(Error::General("malformed TLS alert".into()));
        };
        match AlertDescription::from(desc) {
            AlertDescription::CloseNotify => self.closed = true,
            AlertDescription::UserCanceled => {}
            other => return Err(Error::AlertReceived(other)),
        }
        Ok(())
    }

    /// Seals as much of `data` as the send buffer takes, in records of at most 16 KiB;
    /// the count taken (0 when the buffer is full).
    pub fn seal(&mut self, data: &[u8]) -> Result<usize, Error> {
        let mut taken = 0;
        while taken < data.len() && self.outbuf.len() - self.sent < SEND_LIMIT {
            let n = (data.len() - taken).min(MAX_PLAINTEXT);
            self.seal_record(APPLICATION_DATA, &data[taken..taken + n])?;
            taken += n;
        }
        Ok(taken)
    }

    /// Queues a `close_notify` alert.
    pub fn seal_close_notify(&mut self) -> Result<(), Error> {
        self.seal_record(ALERT, &[1, u8::from(AlertDescription::CloseNotify)])
    }

    fn seal_record(&mut self, content: u8, data: &[u8]) -> Result<(), Error> {
        if self.tx.seq >= self.tx_limit {
            return Err(Error::General("TLS record limit of the cipher suite reached; reconnecting".into()));
        }
        let len = data.len() + 1 + TAG;
        if self.sent == self.outbuf.len() {
            self.outbuf.clear();
            self.sent = 0;
        } else if self.sent > 0 && self.outbuf.len() + HEADER + len > SEND_CAPACITY {
            // Make room at the front: what was written is gone.
            self.outbuf.copy_within(self.sent.., 0);
            self.outbuf.truncate(self.outbuf.len() - self.sent);
            self.sent = 0;
        }
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        let at = self.outbuf.len();
        self.outbuf.extend_from_slice(&header);
        self.outbuf.extend_from_slice(data);
        self.outbuf.push(content);
        let nonce = self.tx.next_nonce();
        match self.tx.key.seal_in_place_separate_tag(
            nonce,
            Aad::from(header),
            &mut self.outbuf[at + HEADER..],
        ) {
            Ok(tag) => {
                self.outbuf.extend_from_slice(tag.as_ref());
                Ok(())
            }
            Err(_) => {
                // Never leave plaintext where the socket would take it.
                self.outbuf.truncate(at);
                Err(Error::EncryptError)
            }
        }
    }

    /// True while sealed records wait for the socket.
    pub fn has_pending_output(&self) -> bool {
        self.sent < self.outbuf.len()
    }

    /// Writes sealed records until none are left or the socket would block, adding the
    /// bytes written to `wrote`.
    pub fn flush(&mut self, sock: &mut impl Write, wrote: &mut u64) -> io::Result<()> {
        while self.sent < self.outbuf.len() {
            match sock.write(&self.outbuf[self.sent..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => {
                    self.sent += n;
                    *wrote += n as u64;
                }
            }
        }
        Ok(())
    }
}

/// False when `bytes` cannot start a TLS record (as a plain HTTP answer cannot): a
/// content type TLS does not have, another major version, or a length over TLS 1.2's
/// largest ciphertext.
pub(crate) fn could_be_record(bytes: &[u8]) -> bool {
    match bytes {
        [kind, ..] if !(20..=24).contains(kind) => false,
        [_, major, ..] if *major != 3 => false,
        [_, _, _, hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])) <= MAX_PLAINTEXT + 2048,
        _ => true,
    }
}

/// Length of the complete TLS record at the start of `bytes`, if it is all there.
pub(crate) fn whole_record(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..HEADER)?;
    let len = HEADER + usize::from(u16::from_be_bytes([header[3], header[4]]));
    (bytes.len() >= len).then_some(len)
}

#[cfg(test)]
mod tests;
