//! The floors of the tick-to-trade path, each part measured alone in the same process
//! right after the engine run: the decoder on one frame per venue market, a bare rtrb
//! hop between two threads, the dispatch journal's write of one two-leg operation, one
//! order signature per venue market, one TLS record (encryption only), one loopback
//! socket write of the same size. Each is measured twice: back to back (hot), and each
//! sample after the frames' interval of idling (paced), as the engine's path runs.

use std::hint::black_box;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use adapters::auth::{Secret, hmac_sha256_hex};
use adapters::capture::Record;
use adapters::feed::Decoders;
use adapters::net::ws::Outgoing;
use adapters::venues::VenueMarket;
use adapters::venues::gateio::sign::rest_signature;
use adapters::venues::mexc::sign::futures_signature;
use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use pipeline::journal::{JournalKind, JournalWriter, Record as JRecord, TimeInForce};
use pipeline::msg::{ClientOrderId, Leg, OppKind};
use pipeline::types::{InstrumentId, Instruments, Price, Qty, Side};
use quanta::Clock;
use serde::Serialize;

use crate::engine::wire::{GATE_SECRET, Loopback, MEXC_SECRET, drain, tls_pair};

/// Percentiles of one measured part, in nanoseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stat {
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl Stat {
    pub fn of(h: &Histogram<u64>) -> Stat {
        let q = |p: f64| h.value_at_quantile(p);
        Stat { count: h.len(), p50_ns: q(0.5), p99_ns: q(0.99), p999_ns: q(0.999), max_ns: q(1.0) }
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1 << 40, 3).expect("constant bounds")
}

/// How the floors are timed: `n` samples (after `n / 10` warm-up calls), each after
/// `idle` of spinning. With no idle a part runs back to back, its caches and branch
/// predictors hot; with the frames' interval it runs at the pace the engine's path does,
/// which on a shared host finds them cold again.
struct Timer<'a> {
    clock: &'a Clock,
    n: u64,
    idle: Duration,
}

impl Timer<'_> {
    fn time(&self, mut f: impl FnMut()) -> Stat {
        for _ in 0..self.n / 10 {
            f();
        }
        let mut h = hist();
        for _ in 0..self.n {
            if !self.idle.is_zero() {
                let until = Instant::now() + self.idle;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            let t0 = self.clock.raw();
            f();
            let t1 = self.clock.raw();
            let _ = h.record(self.clock.delta_as_nanos(t0, t1).max(1));
        }
        Stat::of(&h)
    }
}

/// Every floor, by name.
#[derive(Debug, Default, Serialize)]
pub struct Floors {
    /// Decoding one crossing frame, per venue market.
    pub parse: Vec<(String, Stat)>,
    pub hop: Stat,
    pub journal: Stat,
    /// One order signature, per venue market.
    pub sign: Vec<(String, Stat)>,
    pub tls_record: Stat,
    pub socket_write: Stat,
}

fn mean_p50(v: &[(String, Stat)]) -> u64 {
    if v.is_empty() { 0 } else { v.iter().map(|(_, s)| s.p50_ns).sum::<u64>() / v.len() as u64 }
}

impl Floors {
    /// The path's floor: one frame parse (mean over venue markets), `hops` ring hops, the
    /// journal write, one signature (mean over venue markets), one TLS record and one
    /// socket write, at p50.
    pub fn path_p50(&self, hops: u64) -> u64 {
        mean_p50(&self.parse)
            + hops.max(1) * self.hop.p50_ns
            + self.journal.p50_ns
            + mean_p50(&self.sign)
            + self.tls_record.p50_ns
            + self.socket_write.p50_ns
    }
}

/// Measures every floor; `samples` holds one crossing frame per venue market.
/// `idle` before each sample (see [`Timer`]); the bare hop is measured only without.
pub fn measure(
    instruments: &Instruments,
    samples: &[Record],
    n: u64,
    idle: Duration,
    journal_dir: &std::path::Path,
    gate_ws: bool,
) -> Result<Floors> {
    let clock = Clock::new();
    let timer = Timer { clock: &clock, n, idle };
    let mut f = Floors::default();
    let decoders = Decoders::new(instruments);
    let mut out = Vec::with_capacity(256);
    for rec in samples {
        let name = VenueMarket::new(rec.venue, rec.market).to_string();
        let s = timer.time(|| {
            out.clear();
            black_box(decoders.decode(black_box(rec), 1, &mut out).is_ok());
        });
        f.parse.push((name, s));
    }
    if idle.is_zero() {
        let hop = pipeline::bench::floor_latency(n.max(10_000), (None, None));
        f.hop = Stat {
            count: hop.count,
            p50_ns: hop.p50_ns,
            p99_ns: hop.p99_ns,
            p999_ns: hop.p999_ns,
            max_ns: hop.max_ns,
        };
    }

    let (mut w, _) = JournalWriter::open(journal_dir, JournalKind::Dispatch)
        .map_err(|e| anyhow::anyhow!("journal floor: {e}"))?;
    let leg = Leg {
        inst: InstrumentId(0),
        side: Side::Buy,
        price: Price::parse("60000", 1).unwrap_or_default(),
        qty: Qty::parse("0.0333", 4).unwrap_or_default(),
    };
    let mut op = 0u64;
    f.journal = timer.time(|| {
        op += 1;
        let _ =
            w.append(&JRecord::OpIntent { op, kind: OppKind::SpotSpot, n_legs: 2, deadline_ns: 1, ts_ns: 1 });
        for l in 0..2u8 {
            let client = ClientOrderId { op, leg: l, attempt: 0 };
            let _ = w.append(&JRecord::OrderIntent { client, leg, tif: TimeInForce::Ioc, ts_ns: 1 });
        }
        let _ = w.commit();
    });

    let gate = Secret::new(GATE_SECRET);
    let mexc = Secret::new(MEXC_SECRET);
    let gate_body = br#"{"text":"t-1-0-0","currency_pair":"BTC_USDT","type":"limit","account":"spot","side":"buy","amount":"0.0333","price":"59400","time_in_force":"ioc"}"#;
    let mexc_query = "symbol=BTCUSDT&side=BUY&type=IMMEDIATE_OR_CANCEL&quantity=0.0333&price=59400&newClientOrderId=1-0-0&recvWindow=5000&timestamp=1700000000000";
    let mexc_body = r#"{"symbol":"BTC_USDT","price":60600,"vol":333,"leverage":1,"side":3,"type":3,"openType":2,"positionMode":2,"externalOid":"1-1-0"}"#;
    if gate_ws {
        // No signature: a logged-in session's order is one masked frame.
        let mut out = Outgoing::new().context("no random seed for WebSocket masking keys")?;
        let msg = format!(
            r#"{{"time":1700000000,"channel":"spot.order_place","event":"api","payload":{{"req_id":"1-0-0","req_header":{{"x-gate-exptime":"1700000005000"}},"req_param":{}}}}}"#,
            std::str::from_utf8(gate_body).unwrap_or_default()
        );
        let mut wire = Vec::with_capacity(1024);
        f.sign.push((
            "gateio (ws frame)".into(),
            timer.time(|| {
                wire.clear();
                out.encode_text(black_box(msg.as_bytes()), &mut wire);
                black_box(&wire);
            }),
        ));
    } else {
        f.sign.push((
            "gateio".into(),
            timer.time(|| {
                black_box(rest_signature(
                    &gate,
                    "POST",
                    "/api/v4/spot/orders",
                    "",
                    black_box(gate_body),
                    1_700_000_000,
                ));
            }),
        ));
    }
    f.sign.push((
        "mexc spot".into(),
        timer.time(|| {
            black_box(hmac_sha256_hex(&mexc, &[black_box(mexc_query).as_bytes()]));
        }),
    ));
    f.sign.push((
        "mexc futures".into(),
        timer.time(|| {
            black_box(futures_signature(&mexc, "mx0bench-key", 1_700_000_000_000, black_box(mexc_body)));
        }),
    ));

    // A request of the size the sink writes.
    let payload = vec![b'x'; 400];
    let (server, client) = tls_pair()?;
    let mut lb = Loopback::open(server, client, None)?;
    let mut sink = Vec::with_capacity(4096);
    f.tls_record = timer.time(|| {
        sink.clear();
        let _ = lb.tls.seal(&payload);
        let _ = lb.tls.flush(&mut sink, &mut 0);
    });
    lb.close();

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let drain = std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            let _ = s.set_nonblocking(true);
            drain(s, |_| {});
        }
    });
    let mut sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    let record = vec![b'x'; payload.len() + 22];
    f.socket_write = timer.time(|| {
        let _ = sock.write_all(&record);
    });
    drop(sock);
    let _ = drain.join();
    Ok(f)
}
