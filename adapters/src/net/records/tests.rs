//! The record layer against a rustls server, in memory: the handshake done by rustls
//! ([`crate::net::handshake`]), then every record after it opened and sealed here, read
//! back in pieces of every size, in TLS 1.3 and TLS 1.2.

use std::io::{Read, Write};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, SupportedProtocolVersion};

use super::*;
use crate::net::handshake::{Handshake, Progress};
use crate::net::tls::{TlsRoots, server_name};

const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;
const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;

/// A connected pair after the handshake: the client's record layer and the server.
struct Pair {
    client: Records,
    server: ServerConnection,
}

fn configs(version: &'static SupportedProtocolVersion) -> (Arc<ServerConfig>, Arc<rustls::ClientConfig>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    server.enable_secret_extraction = true;
    let client =
        TlsRoots::empty().add_pem(ca_cert.pem().as_bytes()).expect("pem").client_config().expect("client");
    (Arc::new(server), client)
}

fn server_out(server: &mut ServerConnection) -> Vec<u8> {
    let mut wire = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut wire).expect("server write");
    }
    wire
}

/// Hands `wire` to the server; the plaintext it read.
fn server_in(server: &mut ServerConnection, mut wire: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    while !wire.is_empty() {
        server.read_tls(&mut wire).expect("server read");
        server.process_new_packets().expect("server process");
        let _ = server.reader().read_to_end(&mut plain);
    }
    plain
}

/// The client's socket to an in-memory server: what it writes the server reads at once;
/// a read returns what the server has to send, or would block.
struct ToServer<'a> {
    server: &'a mut ServerConnection,
    pending: Vec<u8>,
}

impl Read for ToServer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(&server_out(self.server));
        if self.pending.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Write for ToServer<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        server_in(self.server, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn pair() -> Pair {
    pair_in(TLS13)
}

fn pair_in(version: &'static SupportedProtocolVersion) -> Pair {
    let (server_config, client_config) = configs(version);
    let mut server = ServerConnection::new(server_config).expect("server");
    let mut hs = Handshake::new(client_config, server_name("localhost").expect("name")).expect("client");
    let mut sock = ToServer { server: &mut server, pending: Vec::new() };
    for _ in 0..20 {
        match hs.advance(&mut sock, &mut 0, &mut 0) {
            Ok(Progress::Blocked) => {}
            Ok(Progress::Done(client)) => {
                assert!(sock.pending.is_empty(), "the server sent nothing the client did not take");
                let client = *client;
                assert_eq!(client.tls13, version == TLS13);
                return Pair { client, server };
            }
            Err(e) => panic!("handshake: {e:?}"),
        }
    }
    panic!("the handshake never finished")
}

/// Both ends as record layers: the server's, to send what a rustls server would not.
fn record_pair() -> (Records, Records) {
    let Pair { mut client, mut server } = pair();
    // The server's session tickets reach the client first, as on the wire.
    let tickets = server_out(&mut server);
    assert_eq!(read_all(&mut client, &tickets, 1 << 20).expect("tickets"), (Vec::new(), false));
    let keys = server.dangerous_extract_secrets().expect("server keys");
    let server = Records::new(keys, true, u64::MAX, None, Leftovers::default()).expect("server records");
    (client, server)
}

/// Everything `from` has sealed.
fn sealed(from: &mut Records) -> Vec<u8> {
    let mut wire = Vec::new();
    from.flush(&mut wire, &mut 0).expect("flush");
    wire
}

/// A socket that returns at most `step` bytes per read and takes every write (a server
/// that answers whatever it is sent with `bytes`, then nothing).
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.bytes.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

impl Write for Trickle<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads everything `wire` holds through the record layer, `step` bytes per socket read.
fn read_all(records: &mut Records, wire: &[u8], step: usize) -> Result<(Vec<u8>, bool), Error> {
    let mut sock = Trickle { bytes: wire, step };
    let mut got = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        match records.read_plain(&mut buf)? {
            Some(0) => return Ok((got, true)),
            Some(n) => got.extend_from_slice(&buf[..n]),
            None => match records.fill(&mut sock) {
                Ok(_) => {}
                Err(_) => return Ok((got, false)),
            },
        }
    }
}

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn what_the_server_sends_after_its_handshake_reads_back_in_pieces_of_any_size() {
    for (version, step) in [TLS13, TLS12].into_iter().flat_map(|v| [1, 5, 17, 4096, 1 << 20].map(|s| (v, s)))
    {
        let mut p = pair_in(version);
        // Session tickets first in TLS 1.3 (rustls sends them after the client's
        // Finished), then data in several records, one of them larger than a record holds.
        assert_eq!(p.server.wants_write(), version == TLS13, "session tickets");
        let small = b"{\"channel\":\"spot.book_ticker\"}".to_vec();
        let large = message(40_000);
        p.server.writer().write_all(&small).expect("write");
        p.server.writer().write_all(&large).expect("write");
        p.server.send_close_notify();
        let wire = server_out(&mut p.server);
        let (got, closed) = read_all(&mut p.client, &wire, step).expect("read");
        assert!(closed, "close_notify ends the stream (step {step})");
        assert_eq!(got.len(), small.len() + large.len(), "step {step}");
        assert_eq!(&got[..small.len()], &small[..]);
        assert_eq!(&got[small.len()..], &large[..]);
    }
}

#[test]
fn what_the_client_seals_the_server_reads() {
    for version in [TLS13, TLS12] {
        what_the_client_seals_the_server_reads_in(version);
    }
}

fn what_the_client_seals_the_server_reads_in(version: &'static SupportedProtocolVersion) {
    let mut p = pair_in(version);
    let order = br#"{"currency_pair":"BTC_USDT","side":"buy","amount":"0.001","price":"65000"}"#;
    let large = message(50_000);
    assert_eq!(p.client.seal(order).expect("seal"), order.len());
    assert_eq!(p.client.seal(&large).expect("seal"), large.len());
    let mut wire = Vec::new();
    let mut wrote = 0;
    p.client.flush(&mut wire, &mut wrote).expect("flush");
    assert_eq!(wrote as usize, wire.len());
    assert!(!p.client.has_pending_output());
    let got = server_in(&mut p.server, &wire);
    assert_eq!(&got[..order.len()], &order[..]);
    assert_eq!(&got[order.len()..], &large[..]);
    // And the close is one the server understands.
    p.client.seal_close_notify().expect("close");
    let mut wire = Vec::new();
    p.client.flush(&mut wire, &mut wrote).expect("flush");
    server_in(&mut p.server, &wire);
    assert!(p.server.process_new_packets().expect("state").peer_has_closed());
}

#[test]
fn a_full_send_buffer_takes_nothing_until_it_is_written() {
    let mut p = pair();
    let chunk = message(MAX_PLAINTEXT);
    let mut taken = 0;
    while p.client.seal(&chunk).expect("seal") > 0 {
        taken += 1;
        assert!(taken < 100, "the send buffer has no bound");
    }
    assert!(taken >= 4, "the buffer holds {taken} records");
    let mut wire = Vec::new();
    p.client.flush(&mut wire, &mut 0).expect("flush");
    assert_eq!(p.client.seal(&chunk).expect("seal"), chunk.len());
}

#[test]
fn a_changed_byte_fails_the_record() {
    for version in [TLS13, TLS12] {
        let mut p = pair_in(version);
        let _ = read_all(&mut p.client, &server_out(&mut p.server), 1 << 20);
        p.server.writer().write_all(b"genuine").expect("write");
        let mut wire = server_out(&mut p.server);
        let last = wire.len() - 1;
        wire[last] ^= 1;
        assert!(matches!(read_all(&mut p.client, &wire, 1 << 20), Err(Error::DecryptError)));
    }
}

#[test]
fn a_server_key_update_is_followed_and_answered_when_asked() {
    let mut p = pair();
    p.server.writer().write_all(b"before").expect("write");
    let before = server_out(&mut p.server);
    let (got, _) = read_all(&mut p.client, &before, 1 << 20).expect("read");
    assert_eq!(got, b"before");
    // rustls asks for the client's key to move too (update_requested).
    p.server.refresh_traffic_keys().expect("key update");
    p.server.writer().write_all(b"after").expect("write");
    let wire = server_out(&mut p.server);
    let (got, _) = read_all(&mut p.client, &wire, 1 << 20).expect("read after the update");
    assert_eq!(got, b"after");
    // The answer goes out under the old key, the data after it under the new one, and
    // the server reads both.
    assert_eq!(p.client.seal(b"ours after").expect("seal"), 10);
    let got = server_in(&mut p.server, &sealed(&mut p.client));
    assert_eq!(got, b"ours after");
    let (tx, rx) = (p.client.tx.seq, p.client.rx.seq);
    assert!(tx <= 1 && rx == 1, "both keys restarted their counts: tx {tx} rx {rx}");
}

#[test]
fn many_key_update_requests_while_the_client_is_silent_get_one_answer() {
    let mut p = pair();
    let _ = read_all(&mut p.client, &server_out(&mut p.server), 1 << 20);
    // Each request alone would be answered by a 27-byte record: 10,000 of them would pass
    // the send buffer's bound, whose room the orders need.
    let mut wire = Vec::new();
    for _ in 0..10_000 {
        p.server.refresh_traffic_keys().expect("key update");
        wire.extend(server_out(&mut p.server));
    }
    p.server.writer().write_all(b"after them").expect("write");
    wire.extend(server_out(&mut p.server));
    let (got, _) = read_all(&mut p.client, &wire, 1 << 20).expect("read");
    assert_eq!(got, b"after them");
    assert!(!p.client.has_pending_output(), "nothing sealed while the client is silent");
    assert_eq!(p.client.seal(b"ours").expect("seal"), 4);
    let wire = sealed(&mut p.client);
    assert!(wire.len() <= 2 * (HEADER + 5 + 1 + TAG), "one answer and one record: {} bytes", wire.len());
    assert_eq!(server_in(&mut p.server, &wire), b"ours");
    assert_eq!(p.client.tx.seq, 1, "the new key sealed one record");
}

#[test]
fn at_the_confidentiality_limit_tls13_updates_its_key_and_tls12_reconnects() {
    let mut p = pair();
    let _ = read_all(&mut p.client, &server_out(&mut p.server), 1 << 20);
    // The limit, brought down to where the count is (the server must still agree on it).
    p.client.tx_limit = p.client.tx.seq;
    assert_eq!(p.client.seal(b"past the limit").expect("seal"), 14);
    assert_eq!(p.client.tx.seq, 1, "a new key, counting from zero");
    assert_eq!(server_in(&mut p.server, &sealed(&mut p.client)), b"past the limit");

    let mut p = pair_in(TLS12);
    p.client.tx_limit = p.client.tx.seq;
    match p.client.seal(b"x") {
        Err(Error::General(reason)) => assert!(reason.contains("record limit"), "{reason}"),
        other => panic!("sealing past the limit: {other:?}"),
    }
}

#[test]
fn a_fatal_alert_is_the_error_it_names() {
    let mut p = pair();
    // rustls sends a fatal alert when it meets a record it cannot read.
    let _ = p
        .server
        .read_tls(&mut &[23u8, 3, 3, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
    assert!(p.server.process_new_packets().is_err());
    let wire = server_out(&mut p.server);
    assert!(matches!(
        read_all(&mut p.client, &wire, 1 << 20),
        Err(Error::AlertReceived(AlertDescription::BadRecordMac))
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Hostile bytes after the handshake fail the connection or wait for more; they
    /// never panic the reader.
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
        as_record in proptest::prelude::any::<bool>(),
        step in 1usize..64,
    ) {
        let mut p = pair();
        let mut wire = Vec::new();
        if as_record {
            // A well-formed header around the junk, so that it reaches the AEAD.
            let len = junk.len().min(MAX_CIPHERTEXT);
            wire.extend_from_slice(&[APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8]);
        }
        wire.extend_from_slice(&junk);
        let _ = read_all(&mut p.client, &wire, step);
    }

    /// Whatever a server answers a ClientHello with, the handshake fails or waits; it
    /// never panics.
    #[test]
    fn arbitrary_server_replies_never_panic_the_handshake(
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        kind in 20u8..25,
        len in 0u16..700,
    ) {
        let (_, client_config) = configs(TLS13);
        let mut reply = vec![kind, 3, 3, (len >> 8) as u8, len as u8];
        reply.extend_from_slice(&junk);
        let mut hs = Handshake::new(client_config, server_name("localhost").expect("name")).expect("client");
        let _ = hs.advance(&mut Trickle { bytes: &reply, step: usize::MAX }, &mut 0, &mut 0);
    }
}

#[test]
fn a_session_ticket_split_across_records_at_any_byte_is_skipped() {
    let ticket: Vec<u8> = [NEW_SESSION_TICKET, 0, 0, 10].into_iter().chain(0..10).collect();
    for cut in [1, 2, 3, 4, 5, 13] {
        let (mut client, mut server) = record_pair();
        server.seal_record(HANDSHAKE, &ticket[..cut]).expect("seal");
        server.seal_record(HANDSHAKE, &ticket[cut..]).expect("seal");
        server.seal_record(APPLICATION_DATA, b"after the ticket").expect("seal");
        let (got, _) = read_all(&mut client, &sealed(&mut server), 1 << 20).expect("read");
        assert_eq!(got, b"after the ticket", "cut at {cut}");
    }
}

#[test]
fn data_inside_a_split_handshake_message_fails_the_connection() {
    let (mut client, mut server) = record_pair();
    server.seal_record(HANDSHAKE, &[NEW_SESSION_TICKET, 0, 0, 10, 1, 2]).expect("seal");
    server.seal_record(APPLICATION_DATA, b"too early").expect("seal");
    assert!(read_all(&mut client, &sealed(&mut server), 1 << 20).is_err());
}

#[test]
fn after_an_error_every_read_fails() {
    let (mut client, mut server) = record_pair();
    server.seal_record(APPLICATION_DATA, b"forged").expect("seal");
    let mut wire = sealed(&mut server);
    wire[7] ^= 0x40;
    server.seal_record(APPLICATION_DATA, b"genuine").expect("seal");
    wire.extend_from_slice(&sealed(&mut server));
    assert!(matches!(read_all(&mut client, &wire, 1 << 20), Err(Error::DecryptError)));
    // The genuine record after the forged one is not read as if nothing happened, and
    // nothing more is sent.
    assert!(matches!(client.read_plain(&mut [0u8; 64]), Err(Error::DecryptError)));
    assert!(matches!(client.seal(b"order"), Err(Error::DecryptError)));
    assert!(!client.has_pending_output());
}

#[test]
fn a_malformed_server_hello_fails_the_handshake_without_a_panic() {
    let (_, client_config) = configs(TLS13);
    let replies: [&'static [u8]; 4] = [
        // A ServerHello header claiming 64 KiB.
        &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x01, 0x00, 0x00],
        // Part of a handshake message, then an alert.
        &[0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x00, 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        &[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5],
    ];
    for reply in replies {
        let mut hs =
            Handshake::new(client_config.clone(), server_name("localhost").expect("name")).expect("client");
        let mut sock = Trickle { bytes: reply, step: usize::MAX };
        let outcome = hs.advance(&mut sock, &mut 0, &mut 0);
        assert!(
            matches!(outcome, Err(crate::net::handshake::HandshakeError::Tls(_))),
            "{reply:?}: {outcome:?}"
        );
    }
}

/// A socket that takes at most `step` bytes a write, and would block every other call.
struct Slow {
    got: Vec<u8>,
    step: usize,
    calls: usize,
}

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.step);
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_socket_that_takes_part_of_each_write_never_grows_the_send_buffer() {
    let (mut client, mut server) = record_pair();
    let capacity = client.outbuf.capacity();
    let mut sock = Slow { got: Vec::new(), step: 3_000, calls: 0 };
    let chunk = message(2_500);
    let mut sent = 0;
    for _ in 0..2_000 {
        sent += client.seal(&chunk).expect("seal");
        let _ = client.flush(&mut sock, &mut 0);
        assert_eq!(client.outbuf.capacity(), capacity, "the send buffer grew");
    }
    while client.has_pending_output() {
        let _ = client.flush(&mut sock, &mut 0);
    }
    let (got, _) = read_all(&mut server, &sock.got, 1 << 20).expect("read");
    assert_eq!(got.len(), sent);
    assert!(got.chunks(chunk.len()).all(|c| c == &chunk[..c.len()]));
}
