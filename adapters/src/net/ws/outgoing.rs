//! Text frames the client encodes itself, so that sending one allocates nothing.
//!
//! tungstenite takes every outgoing message as an owned `Bytes`, one allocation per
//! message; on an order-entry stream that is one allocation per order. A session
//! instead masks and frames its texts into one reused buffer ([`Outgoing`]) and writes
//! them to the transport itself. The two writers must never interleave on the wire: the
//! session sends through tungstenite only while this buffer is empty, and while it holds
//! bytes not yet written, nothing may let tungstenite write (a read flushes its queued
//! pongs), so the session drains this buffer first and reads only once it is empty.
//!
//! Masking keys come from a ChaCha8 stream seeded from the operating system once per
//! session (RFC 6455 5.3 asks for unpredictable keys; no system call per frame).

use std::io::{self, Write};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The encoded frames of one session not yet written.
pub struct Outgoing {
    buf: Vec<u8>,
    sent: usize,
    keys: ChaCha8Rng,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").field("queued", &self.len()).finish_non_exhaustive()
    }
}

impl Outgoing {
    /// A buffer for a new session; `None` when the system gave no random seed (the
    /// session then sends through tungstenite alone).
    pub fn new() -> Option<Self> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed).ok()?;
        Some(Outgoing { buf: Vec::with_capacity(4096), sent: 0, keys: ChaCha8Rng::from_seed(seed) })
    }

    /// Bytes encoded and not yet written.
    pub(super) fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `text` as one masked, final text frame.
    pub(super) fn push_text(&mut self, text: &[u8]) {
        if self.is_empty() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent > 0 {
            // Keep only what is left to write, so the written part does not pile up.
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
        let key = self.keys.next_u32().to_ne_bytes();
        encode_text(&mut self.buf, text, key);
    }

    /// Appends `text` to `wire` as one masked, final text frame with the next key (for a
    /// caller that writes the bytes itself, as `arb bench e2e` does).
    pub fn encode_text(&mut self, text: &[u8], wire: &mut Vec<u8>) {
        let key = self.keys.next_u32().to_ne_bytes();
        encode_text(wire, text, key);
    }

    /// Writes what it can to `w`; `Ok(true)` once everything is written, `Ok(false)` when
    /// the writer would block with bytes left.
    pub(super) fn drain(&mut self, w: &mut impl Write) -> io::Result<bool> {
        while self.sent < self.buf.len() {
            match w.write(&self.buf[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.sent = 0;
        match w.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(true),
        }
    }
}

/// A client's text frame: FIN and opcode 1, the masked length, the key, the masked text.
fn encode_text(out: &mut Vec<u8>, text: &[u8], key: [u8; 4]) {
    let n = text.len();
    out.push(0x81);
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(text);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::Role;
    use tungstenite::{Message, WebSocket};

    /// A writer that takes at most `step` bytes per call and blocks every other call.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.step);
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_written_in_pieces_read_back_as_the_texts_sent() {
        let mut o = Outgoing::new().unwrap();
        let texts = ["short".to_owned(), "x".repeat(200), "y".repeat(70_000), String::new()];
        let mut w = Trickle { out: Vec::new(), step: 7, calls: 0 };
        for t in &texts {
            o.push_text(t.as_bytes());
            // Part of it now, the rest with the next frame.
            let _ = o.drain(&mut w).unwrap();
        }
        while !o.drain(&mut w).unwrap() {}
        assert!(o.is_empty());
        // A server reads them (it requires masked frames from a client).
        let mut server = WebSocket::from_raw_socket(io::Cursor::new(w.out), Role::Server, None);
        for t in &texts {
            assert_eq!(server.read().unwrap(), Message::text(t.as_str()));
        }
    }

    #[test]
    fn masking_keys_differ_between_frames() {
        let mut o = Outgoing::new().unwrap();
        o.push_text(b"aaaa");
        o.push_text(b"aaaa");
        let b = &o.buf;
        assert_ne!(b[2..6], b[12..16], "two keys");
        assert_ne!(b[6..10], *b"aaaa", "masked");
    }
}
