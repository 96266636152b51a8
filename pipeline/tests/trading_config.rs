//! Every trading section of the configuration, with every key, as a user writes it.
//! Each section rejects unknown keys and carries units in its key names.

use pipeline::detect::DetectConfig;
use pipeline::dispatch::{DispatchConfig, PaperConfig};
use pipeline::journal::{FsyncPolicy, JournalConfig};
use pipeline::risk::{RiskConfig, published_limits};
use pipeline::state::StateConfig;
use pipeline::types::{Amount, Rate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trading {
    detect: DetectConfig,
    risk: RiskConfig,
    dispatch: DispatchConfig,
    paper: PaperConfig,
    state: StateConfig,
    journal: JournalConfig,
}

const FULL: &str = r#"
[detect]
min_profit_bps = 5
max_notional_usd = 1000
max_data_age_ms = 100
cooldown_ms = 1000
limit_slippage_bps = 10
limit_edge_share_pct = 100
spot_spot = true
basis = true
triangular = true
basis_cross_venue = true
usd_assets = ["USDT"]
[[detect.reverse_basis]]
venue = "gateio"
asset = "BTC"
max_base = "0.05"

[risk]
max_position_size_usd = 5000
max_total_exposure_usd = 20000
max_daily_loss_usd = 500
min_profit_margin_bps = 5
max_execution_time_ms = 2000
max_slippage_bps = 20
max_data_age_ms = 100
max_ops_in_flight = 16
futures_margin_bps = 10000
entry_share_pct = 50
usd_assets = ["USDT"]
[risk.breakers]
max_consecutive_failures = 3
error_rate_window_ops = 20
max_error_rate_pct = 50
max_order_latency_ms = 500
stale_trip_count = 20
reset_after_ms = 30000
[[risk.rate_limits]]
venue = "gateio"
market = "spot"
requests = 10
per_ms = 1000
per_instrument = true

[dispatch]
prefer_fok = false
outbox_events = 4096

[paper]
latency_ms = 5
futures_margin_bps = 1000
[[paper.balances]]
venue = "mexc"
asset = "USDT"
amount = "10000"

[state]
max_slippage_bps = 20
unwind_slippage_bps = 50
max_recovery_attempts = 3
ack_timeout_ms = 2000
query_interval_ms = 1000
reconcile_interval_ms = 60000
mark_interval_ms = 1000
max_data_age_ms = 1000
max_ops = 256
usd_assets = ["USDT"]

[journal]
dir = "journal"
fsync = { interval_ms = 10 }
"#;

#[test]
fn every_key_reads_and_the_defaults_match_the_documented_values() {
    let t: Trading = toml::from_str(FULL).unwrap();
    assert_eq!(t.detect.max_notional_usd.amount(), Amount::from_int(1000));
    assert_eq!(t.risk.rate_limits.len(), 1);
    assert_eq!(t.journal.fsync, FsyncPolicy::IntervalMs(10));
    assert_eq!(t.paper.balances[0].amount.amount(), Amount::from_int(10_000));

    // The values above are the defaults (except the examples in arrays).
    let d: Trading =
        toml::from_str("[detect]\n[risk]\n[dispatch]\n[paper]\n[state]\n[journal]\ndir = \"journal\"\n")
            .unwrap();
    let mut full = t;
    full.detect.reverse_basis.clear();
    full.risk.rate_limits = published_limits();
    full.paper.balances.clear();
    assert_eq!(d.detect, full.detect);
    assert_eq!(d.risk, full.risk);
    assert_eq!(d.dispatch, full.dispatch);
    assert_eq!(d.paper, full.paper);
    assert_eq!(d.state, full.state);
    assert_eq!(d.journal.fsync, FsyncPolicy::EveryRecord);
    assert_eq!(d.risk.max_slippage_bps.rate(), Rate::from_bps(20));
}

#[test]
fn unknown_keys_are_refused_in_every_section() {
    for (section, key) in [
        ("detect", "min_profit = 1"),
        ("risk", "max_position_usd = 1"),
        ("risk.breakers", "max_failures = 1"),
        ("dispatch", "fok = true"),
        ("paper", "latency = 1"),
        ("state", "max_slippage = 1"),
    ] {
        let text = format!("[{section}]\n{key}\n");
        let e = match section {
            "detect" => toml::from_str::<DetectConfig>(&text.replace("[detect]\n", "")).err(),
            "risk" => toml::from_str::<RiskConfig>(&text.replace("[risk]\n", "")).err(),
            "risk.breakers" => toml::from_str::<RiskConfig>(&text.replace("risk.", "")).err(),
            "dispatch" => toml::from_str::<DispatchConfig>(&text.replace("[dispatch]\n", "")).err(),
            "paper" => toml::from_str::<PaperConfig>(&text.replace("[paper]\n", "")).err(),
            _ => toml::from_str::<StateConfig>(&text.replace("[state]\n", "")).err(),
        };
        let e = e.unwrap_or_else(|| panic!("{section}: `{key}` was accepted"));
        assert!(e.to_string().contains("unknown field"), "{section}: {e}");
    }
}
