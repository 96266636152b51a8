//! Where one venue is reached for public data and metadata (`[[venues]]` in a config):
//! its REST origins and its spot and futures WebSocket URLs. Each venue's room has its
//! real defaults (`venues::<venue>::endpoints()`).

use pipeline::types::{Market, Venue};
use serde::{Deserialize, Serialize};

/// The public endpoints of one venue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    pub venue: Venue,
    /// REST origin (`https://api.gateio.ws`, `https://api.mexc.com`).
    pub rest: String,
    /// REST origin of the futures API when it differs (MEXC: `https://contract.mexc.com`).
    #[serde(default)]
    pub rest_futures: Option<String>,
    pub ws_spot: String,
    pub ws_futures: String,
}

impl Endpoints {
    /// The REST origin that serves `market`.
    pub fn rest_origin(&self, market: Market) -> &str {
        match (market, &self.rest_futures) {
            (Market::Futures, Some(f)) => f,
            _ => &self.rest,
        }
    }

    /// Checks of one `[[venues]]` entry: REST origins are http(s), WebSocket URLs ws(s).
    pub fn validate(&self, c: &mut pipeline::validate::Checks) {
        c.url("rest", &self.rest, &["http", "https"]);
        if let Some(f) = &self.rest_futures {
            c.url("rest_futures", f, &["http", "https"]);
        }
        c.url("ws_spot", &self.ws_spot, &["ws", "wss"]);
        c.url("ws_futures", &self.ws_futures, &["ws", "wss"]);
    }

    /// Whether any of these endpoints needs TLS (`https://`, `wss://`).
    pub fn needs_tls(&self) -> bool {
        [Some(&self.rest), self.rest_futures.as_ref(), Some(&self.ws_spot), Some(&self.ws_futures)]
            .into_iter()
            .flatten()
            .any(|u| {
                let u = u.to_ascii_lowercase();
                u.starts_with("https://") || u.starts_with("wss://")
            })
    }

    /// The public WebSocket URL of `market`.
    pub fn ws_url(&self, market: Market) -> &str {
        match market {
            Market::Spot => &self.ws_spot,
            Market::Futures => &self.ws_futures,
        }
    }
}
