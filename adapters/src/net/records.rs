//! TLS record protection after rustls' handshake, in buffers the connection keeps, so
//! that no record allocates.
//!
//! rustls does the handshake, verifies the certificate and derives the traffic keys;
//! its record layer then allocates a buffer for every record it decrypts or encrypts.
//! This is what kernel TLS would take over, done in the process: once the handshake is
//! complete, the connection hands its traffic keys over (rustls' kernel connection API,
//! made for kTLS: [`super::handshake`]) and every later record is opened and sealed
//! here, in place, with ring's AEADs:
//! - TLS 1.3 (RFC 8446 §5.2 to §5.5): nonce = IV xor sequence number, the record header as
//!   additional data, the content type at the end of the plaintext, padding stripped;
//! - TLS 1.2 (RFC 5246 §6.2.3.3, RFC 5288, RFC 7905): additional data = sequence number,
//!   type, version and plaintext length; AES-GCM with the 8-byte explicit nonce carried in
//!   the record, ChaCha20-Poly1305 with IV xor sequence number.
//!
//! After the handshake a server may send:
//! - application data: returned to the reader;
//! - TLS 1.3 `new_session_ticket`: skipped (tickets that came before the hand-over are
//!   rustls' and may resume a later connection; later ones are not kept);
//! - TLS 1.3 `key_update`: the receiving key moves to the next secret (rustls derives it),
//!   and when the server asks, ours does too, after telling it, before the next record we
//!   seal (one answer however many requests came meanwhile);
//! - TLS 1.2 `hello_request`: ignored (no renegotiation);
//! - alerts: `close_notify` ends the stream cleanly, `user_canceled` is ignored, any other
//!   is the error it names.
//!
//! Before the records we seal reach the cipher suite's confidentiality limit, a TLS 1.3
//! connection updates its sending key; a TLS 1.2 one, which cannot, fails and reconnects.

use std::fmt;
use std::io::{self, Read, Write};

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use rustls::client::ClientConnectionData;
use rustls::kernel::KernelConnection;
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, Error, ExtractedSecrets, ProtocolVersion,
    SupportedCipherSuite,
};

/// Largest plaintext in one record (RFC 8446 §5.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
const HEADER: usize = 5;
const TAG: usize = 16;
/// Largest ciphertext a peer may send in one record (RFC 8446 §5.2; TLS 1.2 allows
/// 2048 bytes of expansion, RFC 5246 §6.2.3).
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// TLS 1.2 AES-GCM's explicit nonce, at the start of each record's body.
const EXPLICIT_NONCE: usize = 8;
const APPLICATION_DATA: u8 = 23;
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const HELLO_REQUEST: u8 = 0;
const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;
/// TLS records waiting for the socket are bounded like rustls' own buffer.
const SEND_LIMIT: usize = 64 << 10;
/// The send buffer: the limit, one record past it, and a close_notify.
const SEND_CAPACITY: usize = SEND_LIMIT + 2 * (HEADER + EXPLICIT_NONCE + MAX_PLAINTEXT + 1 + TAG);

/// One direction's key, IV and next sequence number.
struct Direction {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    /// AES-GCM (TLS 1.2 carries its explicit nonce in the record).
    gcm: bool,
}

impl Direction {
    fn new(seq: u64, secrets: &ConnectionTrafficSecrets) -> Result<Direction, Error> {
        let (alg, key, iv, gcm) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv, true),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv, true),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key, iv, false),
            _ => return Err(Error::General("cipher suite without an in-place record layer".into())),
        };
        let key = UnboundKey::new(alg, key.as_ref()).map_err(|_| Error::General("bad traffic key".into()))?;
        let iv: [u8; 12] = iv.as_ref().try_into().map_err(|_| Error::General("bad traffic IV".into()))?;
        Ok(Direction { key: LessSafeKey::new(key), iv, seq, gcm })
    }

    /// The next record's nonce (IV xor sequence number); advances the sequence number.
    fn next_nonce(&mut self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        nonce
    }

    /// TLS 1.2's additional data: sequence number, type, version, plaintext length.
    fn aad12(&self, content: u8, len: usize) -> [u8; 13] {
        let s = self.seq.to_be_bytes();
        [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], content, 3, 3, (len >> 8) as u8, len as u8]
    }
}

/// A TLS connection's record layer after its handshake.
pub struct Records {
    tx: Direction,
    rx: Direction,
    tls13: bool,
    /// rustls' side of the connection after the hand-over: derives the next secrets
    /// (none in the tests' server-side layers).
    kernel: Option<KernelConnection<ClientConnectionData>>,
    /// Records sealed under one key before it is updated (TLS 1.3) or the connection
    /// fails (TLS 1.2): short of the suite's confidentiality limit.
    tx_limit: u64,
    /// Bytes read from the socket: `inbuf[start..end]`, records not opened yet.
    inbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Opened application data not read yet: `inbuf[plain.0..plain.1]`.
    plain: (usize, usize),
    /// Application data rustls opened during the handshake, read first.
    early: Vec<u8>,
    early_read: usize,
    /// A post-handshake message split across records: its header bytes gathered so
    /// far, and the bytes of its body still to be skipped.
    hs_header: [u8; 4],
    hs_header_len: usize,
    skip_handshake: usize,
    /// Sealed records not written yet: `outbuf[sent..]`.
    outbuf: Vec<u8>,
    sent: usize,
    closed: bool,
    /// The server asked for our key to move (TLS 1.3 `update_requested`): done, and told,
    /// before the next record we seal. However many requests come while we are silent,
    /// they get one answer (RFC 8446 §4.6.3), so a server cannot grow the send buffer.
    owe_key_update: bool,
    /// The first error; every later read fails with it, as in rustls.
    failed: Option<Error>,
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("tls13", &self.tls13)
            .field("tx_seq", &self.tx.seq)
            .field("rx_seq", &self.rx.seq)
            .field("pending_out", &(self.outbuf.len() - self.sent))
            .finish_non_exhaustive()
    }
}

/// Records sealed under one key stop this far short of the suite's limit.
const LIMIT_MARGIN: u64 = 1024;

fn confidentiality_limit(suite: SupportedCipherSuite) -> u64 {
    match suite {
        SupportedCipherSuite::Tls13(s) => s.common.confidentiality_limit,
        SupportedCipherSuite::Tls12(s) => s.common.confidentiality_limit,
    }
}

/// What a finished handshake hands over besides the keys.
#[derive(Debug, Default)]
pub struct Leftovers<'a> {
    /// Bytes read from the socket after the handshake's last record.
    pub received: &'a [u8],
    /// Application data rustls already opened.
    pub plaintext: Vec<u8>,
    /// Handshake bytes encoded but not written yet.
    pub unsent: &'a [u8],
}

impl Records {
    /// Takes over from rustls: the keys and rustls' kernel connection of a finished
    /// handshake, and what it left over.
    pub fn take_over(
        secrets: ExtractedSecrets,
        kernel: KernelConnection<ClientConnectionData>,
        left: Leftovers<'_>,
    ) -> Result<Records, Error> {
        let tls13 = match kernel.protocol_version() {
            ProtocolVersion::TLSv1_3 => true,
            ProtocolVersion::TLSv1_2 => false,
            other => return Err(Error::General(format!("no record layer for {other:?}"))),
        };
        let limit = confidentiality_limit(kernel.negotiated_cipher_suite());
        Records::new(secrets, tls13, limit, Some(kernel), left)
    }

    fn new(
        secrets: ExtractedSecrets,
        tls13: bool,
        limit: u64,
        kernel: Option<KernelConnection<ClientConnectionData>>,
        left: Leftovers<'_>,
    ) -> Result<Records, Error> {
        let size = (2 * (HEADER + MAX_CIPHERTEXT)).max(left.received.len() + HEADER + MAX_CIPHERTEXT);
        let mut inbuf = vec![0u8; size].into_boxed_slice();
        inbuf[..left.received.len()].copy_from_slice(left.received);
        let mut outbuf = Vec::with_capacity(SEND_CAPACITY.max(left.unsent.len() + SEND_CAPACITY));
        outbuf.extend_from_slice(left.unsent);
        Ok(Records {
            tx: Direction::new(secrets.tx.0, &secrets.tx.1)?,
            rx: Direction::new(secrets.rx.0, &secrets.rx.1)?,
            tls13,
            kernel,
            tx_limit: limit.saturating_sub(LIMIT_MARGIN),
            inbuf,
            start: 0,
            end: left.received.len(),
            plain: (0, 0),
            early: left.plaintext,
            early_read: 0,
            hs_header: [0; 4],
            hs_header_len: 0,
            skip_handshake: 0,
            outbuf,
            sent: 0,
            closed: false,
            owe_key_update: false,
            failed: None,
        })
    }

    /// Copies opened application data into `buf`, opening buffered records as needed.
    /// `Ok(Some(0))` once the peer closed the stream; `Ok(None)` when a record is
    /// incomplete and more must be read from the socket ([`Records::fill`]).
    pub fn read_plain(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        if self.early_read < self.early.len() {
            let n = buf.len().min(self.early.len() - self.early_read);
            buf[..n].copy_from_slice(&self.early[self.early_read..self.early_read + n]);
            self.early_read += n;
            return Ok(Some(n));
        }
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
        let overhead = if self.tls13 {
            TAG + 1
        } else if self.rx.gcm {
            EXPLICIT_NONCE + TAG
        } else {
            TAG
        };
        let known = if self.tls13 {
            header[0] == APPLICATION_DATA
        } else {
            (ALERT..=APPLICATION_DATA).contains(&header[0])
        };
        let most = if self.tls13 { MAX_PLAINTEXT + 256 } else { MAX_CIPHERTEXT };
        if !known || header[1] != 3 || !(overhead..=most).contains(&len) {
            return Err(Error::General(format!("unexpected TLS record: type {} length {len}", header[0])));
        }
        if avail.len() < HEADER + len {
            return Ok(false);
        }
        let body = self.start + HEADER;
        self.start = body + len;
        let (content, at, plain_len) =
            if self.tls13 { self.open13(header, body, len)? } else { self.open12(header, body, len)? };
        if plain_len > MAX_PLAINTEXT {
            return Err(Error::PeerSentOversizedRecord);
        }
        if content != HANDSHAKE && (self.skip_handshake > 0 || self.hs_header_len > 0) {
            return Err(Error::General("a record inside a split post-handshake message".into()));
        }
        match content {
            APPLICATION_DATA => self.plain = (at, at + plain_len),
            HANDSHAKE if plain_len == 0 => return Err(Error::General("empty post-handshake record".into())),
            HANDSHAKE => self.handshake(at, at + plain_len)?,
            ALERT => self.alert(at, plain_len)?,
            other => return Err(Error::General(format!("unexpected TLS content type {other}"))),
        }
        Ok(true)
    }

    /// A TLS 1.3 record: (content type, plaintext start, plaintext length).
    fn open13(&mut self, header: [u8; HEADER], body: usize, len: usize) -> Result<(u8, usize, usize), Error> {
        let nonce = Nonce::assume_unique_for_key(self.rx.next_nonce());
        let opened = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut self.inbuf[body..body + len])
            .map_err(|_| Error::DecryptError)?;
        // The content type is the last byte that is not padding.
        let Some(last) = opened.iter().rposition(|&b| b != 0) else {
            return Err(Error::General("TLS record of padding alone".into()));
        };
        Ok((opened[last], body, last))
    }

    /// A TLS 1.2 record: (content type, plaintext start, plaintext length).
    fn open12(&mut self, header: [u8; HEADER], body: usize, len: usize) -> Result<(u8, usize, usize), Error> {
        let at = if self.rx.gcm { body + EXPLICIT_NONCE } else { body };
        let plain_len = body + len - at - TAG;
        let aad = self.rx.aad12(header[0], plain_len);
        // IV xor sequence number; AES-GCM's last eight bytes come with the record.
        let mut nonce = self.rx.next_nonce();
        if self.rx.gcm {
            nonce[4..].copy_from_slice(&self.inbuf[body..at]);
        }
        self.rx
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut self.inbuf[at..body + len],
            )
            .map_err(|_| Error::DecryptError)?;
        Ok((header[0], at, plain_len))
    }

    fn compact_if_empty(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Post-handshake messages, which may be split across records at any byte: session
    /// tickets and hello requests are skipped, a key update is followed, anything else
    /// fails.
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
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            match kind {
                NEW_SESSION_TICKET if self.tls13 => self.skip_handshake = len,
                HELLO_REQUEST if !self.tls13 && len == 0 => {}
                // A key change ends its record (RFC 8446 §5.1): its one byte is the last.
                KEY_UPDATE if self.tls13 && len == 1 && at + 1 == end => {
                    self.key_update(self.inbuf[at])?;
                    at += 1;
                }
                other => {
                    return Err(Error::General(format!(
                        "unexpected post-handshake message {other} ({len} bytes)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The server's `key_update`: its next records come under the next receiving key;
    /// when it asks (`update_requested`), ours moves too before our next record.
    fn key_update(&mut self, request: u8) -> Result<(), Error> {
        let kernel = self.kernel.as_mut().ok_or(Error::General("no key schedule".into()))?;
        let (seq, secrets) = kernel.update_rx_secret()?;
        self.rx = Direction::new(seq, &secrets)?;
        match request {
            0 => Ok(()),
            1 => {
                self.owe_key_update = true;
                Ok(())
            }
            _ => Err(Error::General("malformed TLS key update".into())),
        }
    }

    /// Sends `key_update(update_not_requested)` under the current key, then moves to the
    /// next one.
    fn update_tx_key(&mut self) -> Result<(), Error> {
        let kernel = self.kernel.as_mut().ok_or(Error::General("no key schedule".into()))?;
        let (seq, secrets) = kernel.update_tx_secret()?;
        let next = Direction::new(seq, &secrets)?;
        let told = self.seal_now(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0]);
        self.tx = next;
        told
    }

    fn alert(&mut self, body: usize, len: usize) -> Result<(), Error> {
        if len != 2 {
            return Err(Error::General("malformed TLS alert".into()));
        }
        let (level, desc) = (self.inbuf[body], self.inbuf[body + 1]);
        match AlertDescription::from(desc) {
            AlertDescription::CloseNotify => self.closed = true,
            AlertDescription::UserCanceled if self.tls13 || level == 1 => {}
            // TLS 1.2 warnings other than close_notify carry on.
            _ if !self.tls13 && level == 1 => {}
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
        // A connection that failed sends nothing more.
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.owe_key_update {
            self.owe_key_update = false;
            self.update_tx_key()?;
        }
        if self.tx.seq >= self.tx_limit {
            if !self.tls13 {
                return Err(Error::General(
                    "TLS record limit of the cipher suite reached; reconnecting".into(),
                ));
            }
            self.update_tx_key()?;
        }
        self.seal_now(content, data)
    }

    /// Seals one record under the current key, with no limit checked.
    fn seal_now(&mut self, content: u8, data: &[u8]) -> Result<(), Error> {
        let explicit = if !self.tls13 && self.tx.gcm { EXPLICIT_NONCE } else { 0 };
        let len = if self.tls13 { data.len() + 1 + TAG } else { explicit + data.len() + TAG };
        if self.sent == self.outbuf.len() {
            self.outbuf.clear();
            self.sent = 0;
        } else if self.sent > 0 && self.outbuf.len() + HEADER + len > self.outbuf.capacity() {
            // Make room at the front: what was written is gone.
            self.outbuf.copy_within(self.sent.., 0);
            self.outbuf.truncate(self.outbuf.len() - self.sent);
            self.sent = 0;
        }
        let kind = if self.tls13 { APPLICATION_DATA } else { content };
        let header = [kind, 3, 3, (len >> 8) as u8, len as u8];
        let aad12 = self.tx.aad12(content, data.len());
        let aad: &[u8] = if self.tls13 { &header } else { &aad12 };
        let at = self.outbuf.len();
        self.outbuf.extend_from_slice(&header);
        let nonce = self.tx.next_nonce();
        if explicit > 0 {
            self.outbuf.extend_from_slice(&nonce[4..]);
        }
        self.outbuf.extend_from_slice(data);
        if self.tls13 {
            self.outbuf.push(content);
        }
        let n = Nonce::assume_unique_for_key(nonce);
        match self.tx.key.seal_in_place_separate_tag(
            n,
            Aad::from(aad),
            &mut self.outbuf[at + HEADER + explicit..],
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

/// Both ends of a connection on fixed keys, for the fuzz target (`fuzz/checks`): the
/// server's seals records of any content type for the client to open.
#[cfg(feature = "fuzzing")]
impl Records {
    /// (client, server) of TLS 1.3 or 1.2, AES-256-GCM or ChaCha20-Poly1305.
    pub fn fuzzing_pair(tls13: bool, chacha: bool) -> (Records, Records) {
        let secrets = |fill: u8| {
            let (key, iv) = (
                rustls::crypto::cipher::AeadKey::from([fill; 32]),
                rustls::crypto::cipher::Iv::new([fill; 12]),
            );
            if chacha {
                ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
            } else {
                ConnectionTrafficSecrets::Aes256Gcm { key, iv }
            }
        };
        let end = |tx: u8, rx: u8| {
            let keys = ExtractedSecrets { tx: (1, secrets(tx)), rx: (1, secrets(rx)) };
            Records::new(keys, tls13, u64::MAX, None, Leftovers::default()).expect("fixed keys")
        };
        (end(1, 2), end(2, 1))
    }

    /// Seals `data` as one record of `content`.
    pub fn fuzzing_seal(&mut self, content: u8, data: &[u8]) -> Result<(), Error> {
        self.seal_record(content, &data[..data.len().min(MAX_PLAINTEXT)])
    }
}

#[cfg(test)]
mod tests;
