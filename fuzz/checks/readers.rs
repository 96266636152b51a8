//! Readers of whole documents: venue metadata, HTTP/1.1 responses, journal files,
//! captures, protobuf messages.

use std::path::Path;

use adapters::capture;
use adapters::net::http;
use adapters::proto::{Reader, Wire};
use adapters::venues::VenueMarket;
use pipeline::journal::codec::{FRAME_HEADER, JournalKind, RECORD_VERSION, encode_frame, file_header};
use pipeline::journal::{Finding, Tail, reader};
use pipeline::types::Instruments;

/// A metadata response of the venue market the first byte picks, into instrument specs,
/// then into an instrument table (what `arb` does at start and with a metadata cache).
pub fn venue_meta(data: &[u8]) -> String {
    let [pick, body @ ..] = data else { return "refused: empty".into() };
    let vm = VenueMarket::ALL[usize::from(*pick) % VenueMarket::COUNT];
    let Ok(body) = std::str::from_utf8(body) else { return "refused: not UTF-8".into() };
    let specs = match vm.parse_metadata(body) {
        Ok(s) => s,
        Err(e) => return format!("refused: {e}"),
    };
    match Instruments::from_specs(&specs) {
        Ok(t) => {
            for i in t.iter() {
                assert!(i.tick.0 > 0 && i.lot.0 > 0 && i.contract_size.0 > 0, "{i:?}");
            }
            format!("accepted: {} instruments", t.len())
        }
        Err(e) => format!("refused: {e}"),
    }
}

/// A response (the first byte: how the bytes arrive, and whether it answers a HEAD),
/// parsed the way a connection reads it; whole and in pieces it must read the same,
/// and a complete response never exceeds the size limit.
pub fn http_response(data: &[u8]) -> String {
    const LIMIT: usize = 4096;
    let [how, wire @ ..] = data else { return "refused: empty".into() };
    let head = how & 0x80 != 0;
    let step = usize::from(how & 0x7f).max(1);
    let whole = http::parse_response(wire, wire.len().max(1), LIMIT, head);
    let pieces = http::parse_response(wire, step, LIMIT, head);
    for r in [&whole, &pieces] {
        if let Ok(Some(r)) = r {
            assert!(r.body.len() <= LIMIT, "a body of {} bytes passed the limit", r.body.len());
        }
    }
    if let (Ok(Some(a)), Ok(Some(b))) = (&whole, &pieces) {
        assert_eq!((a.status, &a.body, a.keep_alive), (b.status, &b.body, b.keep_alive), "step {step}");
    }
    match pieces {
        Ok(Some(r)) => format!("accepted: {} with {} body bytes", r.status, r.body.len()),
        Ok(None) => "refused: incomplete".into(),
        Err(e) => format!("refused: {e}"),
    }
}

/// Arbitrary bytes as a journal file, as they are and behind a valid file header: the
/// stopping reader and the full verification must agree, and every record read must
/// encode and decode back to itself.
pub fn journal(data: &[u8]) -> String {
    let path = Path::new("fuzz.journal");
    let headed = [&file_header(JournalKind::State)[..], data].concat();
    let mut verdict = Vec::new();
    for bytes in [data, &headed[..]] {
        let parsed = reader::parse(path, bytes);
        let verified = reader::verify(bytes);
        let file = match (parsed, verified) {
            (Ok(f), Ok(found)) => {
                let corrupt = found.iter().any(Finding::is_corrupt);
                let torn = found.iter().filter(|f| matches!(f, Finding::Torn { .. })).count();
                match f.tail {
                    Tail::Clean => assert!(found.is_empty(), "clean, but verify found {found:?}"),
                    Tail::Torn { .. } => assert!(!corrupt && torn == 1, "torn, but verify found {found:?}"),
                    Tail::Corrupt { .. } => assert!(corrupt, "corrupt, but verify found {found:?}"),
                }
                f
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                verdict.push(format!("refused: {a}"));
                continue;
            }
            (a, b) => panic!("parse and verify disagree: {a:?} / {b:?}"),
        };
        assert!(file.valid_len <= file.len);
        let mut buf = [0u8; FRAME_HEADER + 1024];
        for e in &file.entries {
            let n = encode_frame(e.seq, &e.record, &mut buf).expect("a record read encodes");
            let back = pipeline::journal::Record::decode(buf[16], RECORD_VERSION, &buf[FRAME_HEADER..n]);
            assert_eq!(back, Some(e.record), "record {} does not survive a round trip", e.seq);
        }
        verdict.push(format!("accepted: {} records, {}", file.entries.len(), file.tail));
    }
    format!("as is {}; behind a header {}", verdict[0], verdict[1])
}

/// Arbitrary bytes as a capture file (gzip-compressed when the first byte is odd): every
/// record read writes back to a line that reads as the same record.
pub fn capture(data: &[u8]) -> String {
    let [how, bytes @ ..] = data else { return "refused: empty".into() };
    match capture::read_from(bytes, how % 2 == 1, Path::new("fuzz.jsonl")) {
        Ok(records) => {
            for r in &records {
                let line = serde_json::to_string(&r.to_line()).expect("a line serializes");
                let again: capture::Line = serde_json::from_str(&line).expect("a written line reads");
                assert_eq!(&capture::Record::try_from(again).expect("a written line is valid"), r);
            }
            format!("accepted: {} records", records.len())
        }
        Err(e) => format!("refused: {e}"),
    }
}

/// Walks a protobuf message, reading every length-delimited field as a nested message
/// too (MEXC's frames nest two deep), to a bounded depth.
pub fn proto(data: &[u8]) -> String {
    fn walk(buf: &[u8], depth: u32, fields: &mut usize) -> Result<(), adapters::proto::ProtoError> {
        let mut r = Reader::new(buf);
        while let Some((_, wire)) = r.field()? {
            *fields += 1;
            match wire {
                Wire::Len => {
                    let inner = r.bytes()?;
                    assert!(inner.len() <= buf.len());
                    if depth < 4 {
                        let _ = walk(inner, depth + 1, fields);
                    }
                }
                Wire::Varint => {
                    r.varint()?;
                }
                other => r.skip(other)?,
            }
        }
        Ok(())
    }
    let mut fields = 0;
    match walk(data, 0, &mut fields) {
        Ok(()) => format!("accepted: {fields} fields"),
        Err(e) => format!("refused: {e:?} after {fields} fields"),
    }
}

/// Bytes a TLS server sends after the handshake, read by the in-place record layer
/// (`adapters::net::records`) through a socket that returns `step` bytes at a time.
/// The first byte: bit 0 TLS 1.2 (else 1.3), bit 1 ChaCha20-Poly1305 (else AES-256-GCM),
/// bit 2 the rest is messages `[content type][_][length][plaintext]` sealed by the
/// server's end (else raw bytes on the wire), bits 3 to 7 the step. The plaintext read
/// can never be longer than the wire.
pub fn tls_records(data: &[u8]) -> String {
    use adapters::net::records::Records;
    use std::io::Read;

    let [how, rest @ ..] = data else { return "refused: empty".into() };
    let (tls13, chacha, sealed) = (how & 1 == 0, how & 2 != 0, how & 4 != 0);
    let step = usize::from(how >> 3).max(1);
    let (mut client, mut server) = Records::fuzzing_pair(tls13, chacha);
    let wire = if sealed {
        for (content, _, plaintext) in super::messages(rest) {
            if server.fuzzing_seal(content, plaintext).is_err() {
                return "refused: the server's end would not seal".into();
            }
        }
        let mut wire = Vec::new();
        server.flush(&mut wire, &mut 0).expect("a Vec takes everything");
        wire
    } else {
        rest.to_vec()
    };
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut sock = Trickle(&wire, step);
    let mut buf = [0u8; 700];
    let mut read = 0;
    let verdict = loop {
        match client.read_plain(&mut buf) {
            Ok(Some(0)) => break format!("accepted: {read} bytes, closed"),
            Ok(Some(n)) => read += n,
            Ok(None) => {
                if client.fill(&mut sock).is_err() {
                    break format!("accepted: {read} bytes");
                }
            }
            Err(e) => break format!("refused: {e}"),
        }
    };
    assert!(read <= wire.len(), "{read} bytes of plaintext from {} on the wire", wire.len());
    verdict
}
