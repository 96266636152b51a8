//! MEXC order entry configuration (`[orders.mexc]`): endpoints, key variables, the
//! signed-request window and the futures margin settings.

use pipeline::validate::Checks;
use serde::{Deserialize, Serialize};

fn d_mexc_key() -> String {
    "MEXC_API_KEY".into()
}
fn d_mexc_secret() -> String {
    "MEXC_API_SECRET".into()
}
fn d_recv_window() -> u64 {
    5_000
}
fn d_leverage() -> u32 {
    10
}

/// MEXC endpoints (`[orders.mexc]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MexcEntryConfig {
    /// Spot REST origin (`https://api.mexc.com`).
    pub rest_url: String,
    /// Futures REST origin (`https://contract.mexc.com`); the spot origin when absent.
    #[serde(default)]
    pub futures_rest_url: Option<String>,
    /// Spot WebSocket (`wss://wbs-api.mexc.com/ws`); the listen key is appended.
    pub ws_spot_url: String,
    /// Futures WebSocket (`wss://contract.mexc.com/edge`).
    pub ws_futures_url: String,
    #[serde(default = "d_mexc_key")]
    pub api_key_env: String,
    #[serde(default = "d_mexc_secret")]
    pub api_secret_env: String,
    /// `recvWindow` of signed spot requests and `Recv-Window` of futures requests.
    #[serde(default = "d_recv_window")]
    pub recv_window_ms: u64,
    /// Leverage sent with futures orders.
    #[serde(default = "d_leverage")]
    pub futures_leverage: u32,
    /// Futures margin mode: `cross` or `isolated`.
    #[serde(default)]
    pub futures_open_type: MexcOpenType,
}

impl Default for MexcEntryConfig {
    fn default() -> Self {
        MexcEntryConfig {
            rest_url: "https://api.mexc.com".into(),
            futures_rest_url: Some("https://contract.mexc.com".into()),
            ws_spot_url: "wss://wbs-api.mexc.com/ws".into(),
            ws_futures_url: "wss://contract.mexc.com/edge".into(),
            api_key_env: d_mexc_key(),
            api_secret_env: d_mexc_secret(),
            recv_window_ms: d_recv_window(),
            futures_leverage: d_leverage(),
            futures_open_type: MexcOpenType::Cross,
        }
    }
}

impl MexcEntryConfig {
    /// Checks of `[orders.mexc]`: URL schemes, key variable names, the request window
    /// MEXC accepts (at most 60 s) and the leverage.
    pub fn validate(&self, c: &mut Checks) {
        c.url("rest_url", &self.rest_url, &["http", "https"]);
        if let Some(u) = &self.futures_rest_url {
            c.url("futures_rest_url", u, &["http", "https"]);
        }
        c.url("ws_spot_url", &self.ws_spot_url, &["ws", "wss"]);
        c.url("ws_futures_url", &self.ws_futures_url, &["ws", "wss"]);
        c.env_name("api_key_env", &self.api_key_env);
        c.env_name("api_secret_env", &self.api_secret_env);
        c.between("recv_window_ms", self.recv_window_ms, 1, 60_000);
        c.between("futures_leverage", u64::from(self.futures_leverage), 1, 200);
    }
}

/// Futures margin mode (`openType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MexcOpenType {
    Isolated,
    #[default]
    Cross,
}
