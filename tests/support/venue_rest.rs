//! The venues' accounts read the way any client reads them: signed REST requests over
//! TLS to the venues' public API (here the simulated venues'), answers parsed as exact
//! decimals. The money tests hold the engine's figures against these readings, never
//! against the simulator's memory or the engine's own parsers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use adapters::auth::{Credentials, Secret};
use adapters::net::http::{BlockingHttp, HttpConfig, Request};
use adapters::net::tls::TlsRoots;
use adapters::venues::gateio::sign::RestAuth;
use adapters::venues::mexc::sign::{FuturesAuth, SPOT_API_KEY_HEADER, spot_signed_query};
use pipeline::types::{Amount, Venue};
use rustls::ClientConfig;
use serde_json::Value;

/// A futures position as the venue reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Contracts held, negative for a short.
    pub contracts: Amount,
    /// The venue's average entry price.
    pub entry_price: Amount,
}

/// One venue's accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    /// Spot balance per asset: available plus locked.
    pub spot: BTreeMap<String, Amount>,
    /// The futures account's cash balance (without unrealized P&L, not reduced by margin).
    pub futures_cash: Amount,
    /// Open positions by the venue's contract symbol.
    pub positions: BTreeMap<String, Position>,
    /// Every funding payment in the futures account's history, summed (positive received).
    pub funding: Amount,
    /// How many funding payments that history holds.
    pub funding_payments: usize,
}

impl Accounts {
    /// A spot balance (zero when the venue lists none).
    pub fn spot(&self, asset: &str) -> Amount {
        self.spot.get(asset).copied().unwrap_or(Amount::ZERO)
    }
}

/// An exact decimal from a JSON string or number (numbers keep their text: the
/// workspace builds serde_json with `arbitrary_precision`).
fn dec(v: &Value) -> Amount {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("a decimal, not {other}"),
    };
    Amount::parse(&text).unwrap_or_else(|e| panic!("{text:?} is not an exact decimal: {e:?}"))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Signed REST access to one venue.
pub struct VenueRest {
    venue: Venue,
    http: BlockingHttp,
    creds: Credentials,
}

impl VenueRest {
    /// A client of `venue` at `rest` (its REST origin) with the account's key, trusting
    /// the CA at `ca_pem` (the simulated venues' own).
    pub fn new(venue: Venue, rest: &str, api_key: &str, api_secret: &str, ca_pem: Option<&Path>) -> Self {
        let tls: Option<Arc<ClientConfig>> = ca_pem.map(|p| {
            TlsRoots::empty().add_pem_file(p).and_then(TlsRoots::client_config).expect("the venue's CA loads")
        });
        let http = BlockingHttp::new(HttpConfig::new(rest), tls).expect("an HTTP client");
        Self { venue, http, creds: Credentials::new(api_key, Secret::new(api_secret.as_bytes().to_vec())) }
    }

    /// `GET path?query`, signed as the venue wants it, answered 2xx with JSON.
    fn get(&mut self, path: &str, query: &str) -> Value {
        let (target, headers): (String, Vec<(&'static str, String)>) = match self.venue {
            Venue::GateIo => {
                let auth = RestAuth::new(&self.creds, "GET", path, query, b"", now_ms() / 1000);
                let h = auth.headers().iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
                (join(path, query), h)
            }
            Venue::Mexc if path.starts_with("/api/v3/") => {
                let q = spot_signed_query(&self.creds.api_secret, query, Some(10_000), now_ms());
                (join(path, &q), vec![(SPOT_API_KEY_HEADER, self.creds.api_key.clone())])
            }
            Venue::Mexc => {
                let auth = FuturesAuth::new(&self.creds, now_ms(), query);
                let h = auth.headers().iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
                (join(path, query), h)
            }
        };
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let outcome = self.http.request(Request::get(&target).headers(&pairs)).expect("the request is sent");
        let r = outcome.success(&target).unwrap_or_else(|e| panic!("{} GET {target}: {e}", self.venue));
        let v: Value = serde_json::from_slice(&r.body).expect("a JSON answer");
        if self.venue == Venue::Mexc && !path.starts_with("/api/v3/") {
            assert_eq!(v["success"], Value::Bool(true), "{} GET {target}: {v}", self.venue);
            return v["data"].clone();
        }
        v
    }

    /// Every account of the venue, read now.
    pub fn accounts(&mut self) -> Accounts {
        match self.venue {
            Venue::GateIo => self.gate(),
            Venue::Mexc => self.mexc(),
        }
    }

    fn gate(&mut self) -> Accounts {
        let mut a = Accounts::default();
        for b in self.get("/api/v4/spot/accounts", "").as_array().expect("a list of balances") {
            let total = dec(&b["available"]) + dec(&b["locked"]);
            a.spot.insert(b["currency"].as_str().expect("a currency").to_owned(), total);
        }
        a.futures_cash = dec(&self.get("/api/v4/futures/usdt/accounts", "")["total"]);
        for p in self.get("/api/v4/futures/usdt/positions", "").as_array().expect("a list of positions") {
            let contracts = dec(&p["size"]);
            if !contracts.is_zero() {
                let position = Position { contracts, entry_price: dec(&p["entry_price"]) };
                a.positions.insert(p["contract"].as_str().expect("a contract").to_owned(), position);
            }
        }
        let book = self.get("/api/v4/futures/usdt/account_book", "type=fund&limit=1000");
        for e in book.as_array().expect("a list of entries") {
            a.funding += dec(&e["change"]);
            a.funding_payments += 1;
        }
        a
    }

    fn mexc(&mut self) -> Accounts {
        let mut a = Accounts::default();
        let account = self.get("/api/v3/account", "");
        for b in account["balances"].as_array().expect("a list of balances") {
            let total = dec(&b["free"]) + dec(&b["locked"]);
            a.spot.insert(b["asset"].as_str().expect("an asset").to_owned(), total);
        }
        for x in self.get("/api/v1/private/account/assets", "").as_array().expect("a list of assets") {
            if x["currency"] == "USDT" {
                a.futures_cash = dec(&x["cashBalance"]);
            }
        }
        for p in self.get("/api/v1/private/position/open_positions", "").as_array().expect("positions") {
            let vol = dec(&p["holdVol"]);
            let contracts = if p["positionType"] == 2 { -vol } else { vol };
            if !contracts.is_zero() {
                let symbol = p["symbol"].as_str().expect("a symbol").to_owned();
                a.positions.insert(symbol, Position { contracts, entry_price: dec(&p["holdAvgPrice"]) });
            }
        }
        for page in 1.. {
            let q = format!("page_num={page}&page_size=100");
            let data = self.get("/api/v1/private/position/funding_records", &q);
            let list = data["resultList"].as_array().expect("funding records");
            for r in list {
                a.funding += dec(&r["funding"]);
                a.funding_payments += 1;
            }
            if list.len() < 100 {
                break;
            }
        }
        a
    }
}

fn join(path: &str, query: &str) -> String {
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}
