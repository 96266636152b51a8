//! `arb record`: captures the raw venue messages of the configured instruments to a
//! file (JSON Lines, gzip when the name ends in .gz) for `arb replay` and `arb book`,
//! with the instrument metadata beside it (`<file>.instruments.json`).
//!
//! The same live feed as the engine, with the book code in the loop so that snapshots
//! are requested exactly when a live engine would request them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::capture::{Record, Writer};
use adapters::decode::DecodeStats;
use adapters::feed::{LiveFeed, LiveFeedConfig};
use anyhow::{Context, Result};
use pipeline::book::{BookConfig, BookEffect, Books};
use pipeline::md::FeedSource;
use pipeline::types::Instruments;
use quanta::Clock;

use crate::config::Config;

/// What `arb record` was asked.
#[derive(Clone, Debug)]
pub struct RecordArgs {
    pub config: PathBuf,
    pub out: PathBuf,
    pub duration: Option<Duration>,
}

pub fn run(args: RecordArgs) -> Result<()> {
    let mut cfg = Config::load_with_env(Some(&args.config))?;
    let tls = super::live::tls_for(&cfg, cfg.tls.webpki_roots)?;
    let signals = crate::signals::signals();
    if !crate::universe::apply_waiting(&mut cfg, tls.clone(), &[], &|| signals.received() > 0)? {
        eprintln!("stopped before recording started: the universe rules were not resolved yet");
        return Ok(());
    }
    let status = crate::instruments::MetadataStatus::default();
    let Some(specs) =
        crate::instruments::load_waiting(&cfg, tls.clone(), &status, &|| signals.received() > 0)?
    else {
        eprintln!("stopped before recording started: instrument metadata was not loaded yet");
        return Ok(());
    };
    let sidecar = PathBuf::from(format!("{}.instruments.json", args.out.display()));
    std::fs::write(&sidecar, serde_json::to_string_pretty(&specs)?)
        .with_context(|| format!("cannot write {}", sidecar.display()))?;
    let instruments = Instruments::from_specs(&specs)?;
    let writer = Arc::new(Mutex::new(Writer::create(&args.out)?));
    let written = Arc::new(AtomicU64::new(0));
    // The first write error (a full disk): recording stops and the command fails with it.
    let failed: Arc<Mutex<Option<adapters::capture::CaptureError>>> = Arc::default();
    let (w, n, f) = (writer.clone(), written.clone(), failed.clone());
    let tap = Box::new(move |m: &adapters::feed::live::RawMessage<'_>| {
        let rec = Record {
            recv_ns: m.recv_unix_ns,
            venue: m.venue,
            market: m.market,
            source: m.source,
            path: m.path.map(str::to_owned),
            payload: m.payload.to_vec(),
            binary: m.binary,
        };
        if let Ok(mut w) = w.lock() {
            match w.write(&rec) {
                Ok(()) => {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    if let Ok(mut f) = f.lock() {
                        f.get_or_insert(e);
                    }
                }
            }
        }
    });
    let clock = Clock::new();
    let lc = LiveFeedConfig {
        venues: cfg.venues.clone(),
        options: cfg.feed.options(),
        ..LiveFeedConfig::default()
    };
    let mut feed = LiveFeed::new(lc, &instruments, tls, clock.clone(), DecodeStats::new())?.with_tap(tap);
    let mut books = Books::for_instruments(&instruments, BookConfig::default());
    let stop = pipeline::runtime::Control::new();
    let on_signal = stop.clone();
    signals.listen(move |_| on_signal.request_stop());
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut events = Vec::with_capacity(8192);
    let mut resync = Vec::new();
    eprintln!("recording {} instruments to {} (Ctrl-C to stop)", instruments.len(), args.out.display());
    while !stop.is_stop_requested() && args.duration.is_none_or(|d| started.elapsed() < d) {
        if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
            feed.stop();
            // The error's text names the file and the cause (its source repeats the cause).
            anyhow::bail!("recording stopped after {} messages: {e}", written.load(Ordering::Relaxed));
        }
        let now = pipeline::clock::now_ns(&clock);
        events.clear();
        let work = feed.poll(now, &mut events);
        for e in &events {
            books.apply(e, now, &mut |fx| {
                if let BookEffect::Resync(i) = fx {
                    resync.push(i);
                }
            });
        }
        books.maintain(now, &mut |fx| {
            if let BookEffect::Resync(i) = fx {
                resync.push(i);
            }
        });
        for i in resync.drain(..) {
            feed.resync(i, now);
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            let synced = books.iter().filter(|b| b.is_synced()).count();
            eprintln!(
                "recorded {} messages; books synced {}/{}",
                written.load(Ordering::Relaxed),
                synced,
                books.len()
            );
        }
        if work == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    feed.stop();
    drop(feed);
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        anyhow::bail!("recording stopped after {} messages: {e}", written.load(Ordering::Relaxed));
    }
    let writer = Arc::try_unwrap(writer).map_err(|_| anyhow::anyhow!("the recorder is still in use"))?;
    writer.into_inner().map_err(|_| anyhow::anyhow!("the recorder failed"))?.finish()?;
    eprintln!("recorded {} messages to {}", written.load(Ordering::Relaxed), args.out.display());
    Ok(())
}
