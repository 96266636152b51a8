//! What the protocol servers of one simulated venue share: the exchange behind a lock,
//! the account's credentials, latency, faults and the stop flag; plus small JSON helpers
//! for exact decimals.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pipeline::types::{Amount, Price, Qty, Rounding, Venue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::auth::Credentials;
use super::engine::{Event, Exchange, LevelView, SimInstrument};
use super::faults::Faults;
use super::server::WsLoop;

/// One simulated venue's shared state.
pub struct VenueCtx {
    pub venue: Venue,
    exchange: Mutex<Exchange>,
    pub creds: Credentials,
    /// The account's user id as the venue shows it.
    pub uid: u64,
    pub faults: Faults,
    pub latency_ms: u64,
    pub stop: Arc<AtomicBool>,
    /// MEXC listen keys and their expiry (ms).
    pub listen_keys: Mutex<BTreeMap<String, u64>>,
    conn_no: AtomicU64,
    /// Public market data is held back while set ([`super::Sim::pause_market_data`]).
    pub md_paused: Arc<AtomicBool>,
    rng: Mutex<ChaCha8Rng>,
}

impl std::fmt::Debug for VenueCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueCtx")
            .field("venue", &self.venue)
            .field("creds", &self.creds)
            .field("uid", &self.uid)
            .field("faults", &self.faults)
            .field("latency_ms", &self.latency_ms)
            .finish_non_exhaustive()
    }
}

impl VenueCtx {
    pub fn new(
        exchange: Exchange,
        creds: Credentials,
        uid: u64,
        faults: Faults,
        latency_ms: u64,
        stop: Arc<AtomicBool>,
        seed: u64,
    ) -> Self {
        VenueCtx {
            venue: exchange.venue,
            exchange: Mutex::new(exchange),
            creds,
            uid,
            faults,
            latency_ms,
            stop,
            listen_keys: Mutex::new(BTreeMap::new()),
            conn_no: AtomicU64::new(0),
            md_paused: Arc::new(AtomicBool::new(false)),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The exchange, locked (a poisoned lock is taken over: the state is still consistent
    /// between operations).
    pub fn lock(&self) -> MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh event feed for a new connection.
    pub fn feed(&self) -> Receiver<Arc<Event>> {
        let (tx, rx) = channel();
        self.lock().subscribe(tx);
        rx
    }

    /// True when the gap fault drops this depth message.
    pub fn gap(&self) -> bool {
        self.faults.gap > 0.0
            && self.rng.lock().unwrap_or_else(|p| p.into_inner()).r#gen::<f64>() < self.faults.gap
    }

    /// A random token (listen keys, connection ids).
    pub fn token(&self, len: usize) -> String {
        const A: &[u8] = b"0123456789abcdef";
        let mut r = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        (0..len).map(|_| A[r.gen_range(0..16)] as char).collect()
    }

    pub fn ws_loop(&self) -> WsLoop {
        WsLoop {
            stop: self.stop.clone(),
            faults: self.faults,
            latency_ms: self.latency_ms,
            conn_no: self.conn_no.fetch_add(1, Ordering::Relaxed),
            md_paused: self.md_paused.clone(),
        }
    }

    /// Waits the venue's latency (REST).
    pub fn delay(&self) {
        if self.latency_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.latency_ms));
        }
    }

    /// Waits the slow-acknowledgement fault's delay (order entry).
    pub fn ack_delay(&self) {
        if self.faults.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.faults.delay_ms));
        }
    }
}

/// Every asset the venue's instruments name (bases and quotes), sorted, once each.
pub fn asset_names(x: &Exchange) -> Vec<&'static str> {
    let mut names: Vec<&'static str> =
        x.instruments.iter().flat_map(|i| [i.listing.base, i.listing.quote]).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Book levels as `[price, quantity]` pairs of decimal strings.
pub fn text_levels(si: &SimInstrument, levels: &[LevelView]) -> Value {
    Value::Array(levels.iter().map(|l| json!([si.price_text(l.price), si.qty_text(l.qty)])).collect())
}

/// A JSON number with exactly this decimal text (serde_json's arbitrary precision).
pub fn num(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text).map(Value::Number).unwrap_or(Value::Null)
}

/// An amount as canonical decimal text.
pub fn amt(a: Amount) -> String {
    a.to_string()
}

/// An amount rounded down to `places` decimals, as text.
pub fn amt_places(a: Amount, places: u8) -> String {
    let m = a.to_scaled(places, Rounding::Floor).unwrap_or(0);
    pipeline::types::Scaled::new(m, places).to_string()
}

/// Seconds with milliseconds as a JSON number (`1733801848.473`).
pub fn secs_ms(ms: u64) -> Value {
    num(&format!("{}.{:03}", ms / 1000, ms % 1000))
}

/// Parses a price given as a JSON string or number.
pub fn json_price(v: &Value, si: &SimInstrument) -> Option<Price> {
    Price::parse(decimal_text(v)?.trim(), si.inst.price_scale).ok()
}

/// Parses a quantity given as a JSON string or number.
pub fn json_qty(v: &Value, si: &SimInstrument) -> Option<Qty> {
    Qty::parse(decimal_text(v)?.trim(), si.inst.qty_scale).ok()
}

/// The decimal text of a JSON string or number.
fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON value as text (strings unquoted).
pub fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
