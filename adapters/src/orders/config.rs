//! Order entry configuration (`[orders]`): which venues, where (each venue's own section,
//! defined in its room), the timings every venue client shares, and the API keys read
//! from the environment.

use pipeline::validate::Checks;
use serde::{Deserialize, Serialize};

use crate::auth::{Credentials, MissingSecret, Secret};
use crate::venues::gateio::orders::GateEntryConfig;
use crate::venues::mexc::orders::MexcEntryConfig;

fn d_request_timeout() -> u64 {
    3_000
}
fn d_connect_timeout() -> u64 {
    5_000
}
fn d_connections() -> usize {
    4
}
fn d_grace() -> u64 {
    200
}
fn d_settle() -> u64 {
    1_000
}
fn d_restart_settle() -> u64 {
    6_000
}
fn d_not_found() -> u64 {
    10_000
}
fn d_keepalive() -> u64 {
    20_000
}
fn d_backoff() -> u64 {
    1_000
}
fn d_disabled() -> u64 {
    300_000
}
fn yes() -> bool {
    true
}

/// Order entry configuration (`[orders]`): which venues, where, and the timings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderEntryConfig {
    #[serde(default)]
    pub gateio: Option<GateEntryConfig>,
    #[serde(default)]
    pub mexc: Option<MexcEntryConfig>,
    /// An order request with no complete answer after this is `Unknown`.
    #[serde(default = "d_request_timeout")]
    pub request_timeout_ms: u64,
    #[serde(default = "d_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Keep-alive connections per REST origin (orders in flight at once per origin).
    #[serde(default = "d_connections")]
    pub max_connections: usize,
    /// How long an order total that is only an estimate (average price, no fee) waits
    /// for the private stream's exact trades before it is reported as it is.
    #[serde(default = "d_grace")]
    pub stream_grace_ms: u64,
    /// An accepted order not finished after this is queried by the sink itself.
    #[serde(default = "d_settle")]
    pub settle_query_ms: u64,
    /// A query answering "no such order" earlier than this after the order was sent is
    /// held back (the order may still arrive) and asked again then.
    #[serde(default = "d_not_found")]
    pub not_found_grace_ms: u64,
    /// After a run that did not stop in order, the restart lists the venues' orders (to
    /// find what the journal's lost tail sent) only this long after it started: by then
    /// every order request the stopped run had in flight has reached its venue or
    /// expired there (Gate's `X-Gate-Exptime` is `request_timeout_ms` after sending, MEXC
    /// refuses a request older than `recv_window_ms`). At least both of those.
    #[serde(default = "d_restart_settle")]
    pub restart_settle_ms: u64,
    /// Idle keep-alive connections are refreshed this often.
    #[serde(default = "d_keepalive")]
    pub rest_keepalive_ms: u64,
    /// Refuse new orders this long after a rate-limit answer without `Retry-After`.
    #[serde(default = "d_backoff")]
    pub rate_limit_backoff_ms: u64,
    /// After a venue said trading is not allowed, refuse orders there this long.
    #[serde(default = "d_disabled")]
    pub trading_disabled_retry_ms: u64,
    /// Refuse orders off the tick or lot or under the minimums before sending them.
    #[serde(default = "yes")]
    pub validate_locally: bool,
    /// Venue markets given order entry (client and private stream) at start although no
    /// pair of them is loaded then, so that one added while running can be traded.
    #[serde(default)]
    pub open_markets: Vec<OpenMarket>,
}

/// A venue market named in `orders.open_markets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpenMarket {
    pub venue: pipeline::types::Venue,
    pub market: pipeline::types::Market,
}

impl Default for OrderEntryConfig {
    fn default() -> Self {
        OrderEntryConfig {
            gateio: None,
            mexc: None,
            request_timeout_ms: d_request_timeout(),
            connect_timeout_ms: d_connect_timeout(),
            max_connections: d_connections(),
            stream_grace_ms: d_grace(),
            settle_query_ms: d_settle(),
            not_found_grace_ms: d_not_found(),
            restart_settle_ms: d_restart_settle(),
            rest_keepalive_ms: d_keepalive(),
            rate_limit_backoff_ms: d_backoff(),
            trading_disabled_retry_ms: d_disabled(),
            validate_locally: true,
            open_markets: Vec::new(),
        }
    }
}

impl OrderEntryConfig {
    /// Range checks of `[orders]` and each venue's section.
    pub fn validate(&self, c: &mut Checks) {
        if let Some(g) = &self.gateio {
            c.table("gateio", |c| g.validate(c));
        }
        if let Some(m) = &self.mexc {
            c.table("mexc", |c| m.validate(c));
        }
        c.at_least("request_timeout_ms", self.request_timeout_ms, 1);
        c.at_least("connect_timeout_ms", self.connect_timeout_ms, 1);
        c.at_least("max_connections", self.max_connections as u64, 1);
        c.at_least("settle_query_ms", self.settle_query_ms, 1);
        c.at_least("rest_keepalive_ms", self.rest_keepalive_ms, 1);
        // A restart must not list the venues' orders while a request of the stopped run
        // can still be accepted: it would miss that order and reuse its client id.
        let expiry = self.request_timeout_ms.max(self.mexc.as_ref().map_or(0, |m| m.recv_window_ms));
        if self.restart_settle_ms < expiry {
            c.fail(
                "restart_settle_ms",
                self.restart_settle_ms,
                format!("must be at least the longest order request expiry, {expiry} ms (request_timeout_ms, mexc.recv_window_ms)"),
            );
        }
        c.at_least("rate_limit_backoff_ms", self.rate_limit_backoff_ms, 1);
        c.at_least("trading_disabled_retry_ms", self.trading_disabled_retry_ms, 1);
    }
}

/// Each configured venue's API key pair (from the environment, never from files).
#[derive(Clone, Debug, Default)]
pub struct OrderEntryCredentials {
    pub gateio: Option<Credentials>,
    pub mexc: Option<Credentials>,
}

impl OrderEntryCredentials {
    /// Reads the key and secret of every configured venue from the environment
    /// variables the configuration names.
    pub fn from_env(config: &OrderEntryConfig) -> Result<Self, MissingSecret> {
        let read = |key: &str, secret: &str| -> Result<Credentials, MissingSecret> {
            let k = std::env::var(key).map_err(|_| MissingSecret(key.to_owned()))?;
            Ok(Credentials::new(k, Secret::from_env(secret)?))
        };
        Ok(OrderEntryCredentials {
            gateio: config.gateio.as_ref().map(|g| read(&g.api_key_env, &g.api_secret_env)).transpose()?,
            mexc: config.mexc.as_ref().map(|m| read(&m.api_key_env, &m.api_secret_env)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::mexc::orders::MexcOpenType;

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let c: OrderEntryConfig = toml::from_str(
            r#"
            request_timeout_ms = 1500
            [gateio]
            rest_url = "https://api.gateio.ws/api/v4"
            ws_spot_url = "wss://api.gateio.ws/ws/v4/"
            ws_futures_url = "wss://fx-ws.gateio.ws/v4/ws/usdt"
            [mexc]
            rest_url = "https://api.mexc.com"
            futures_rest_url = "https://contract.mexc.com"
            ws_spot_url = "wss://wbs-api.mexc.com/ws"
            ws_futures_url = "wss://contract.mexc.com/edge"
            futures_open_type = "isolated"
            "#,
        )
        .unwrap();
        assert_eq!(c.request_timeout_ms, 1500);
        assert_eq!(c.stream_grace_ms, 200);
        assert_eq!(c.gateio.as_ref().unwrap().api_key_env, "GATEIO_API_KEY");
        assert_eq!(c.mexc.as_ref().unwrap().futures_open_type, MexcOpenType::Isolated);
        assert!(toml::from_str::<OrderEntryConfig>("request_timeout = 1").is_err());
        assert!(
            toml::from_str::<OrderEntryConfig>(
                "[gateio]\nrest_url = \"x\"\nws_spot_url = \"x\"\nws_futures_url = \"x\"\napi_secret = \"s\""
            )
            .is_err()
        );
    }

    #[test]
    fn the_restart_settle_covers_the_longest_request_expiry() {
        let problems = |c: &OrderEntryConfig| {
            let mut checks = Checks::new();
            c.validate(&mut checks);
            checks
                .problems()
                .iter()
                .map(|p| p.key.clone())
                .filter(|k| k.contains("restart"))
                .collect::<Vec<_>>()
        };
        let mut c =
            OrderEntryConfig { mexc: Some(MexcEntryConfig::default()), ..OrderEntryConfig::default() };
        assert!(problems(&c).is_empty(), "the defaults pass: {:?}", problems(&c));
        c.restart_settle_ms = 4_000;
        assert_eq!(problems(&c), ["restart_settle_ms"], "under MEXC's 5 s recvWindow");
        c.mexc = None;
        assert!(problems(&c).is_empty(), "Gate alone: 3 s");
        c.request_timeout_ms = 4_500;
        assert_eq!(problems(&c), ["restart_settle_ms"], "under Gate's exptime");
    }
}
