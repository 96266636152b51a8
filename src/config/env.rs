//! The `ARB_*` environment variables that override configuration keys, as users of the
//! original design know them. Their values are checked like a file's, and a bad one is
//! refused naming the variable, its value and the key it sets.

use anyhow::{Result, bail};

use super::{Config, report};

/// An environment variable that overrides configuration keys, as users of the original
/// design know them.
#[derive(Clone, Copy, Debug)]
pub struct EnvOverride {
    pub name: &'static str,
    /// The keys it sets.
    pub keys: &'static [&'static str],
    /// What it does, for help texts.
    pub effect: &'static str,
}

/// The environment variables that override configuration keys, in the order they apply.
pub const ENV_OVERRIDES: &[EnvOverride] = &[
    EnvOverride { name: "ARB_MAX_POSITION_SIZE_USD", keys: &["risk.max_position_size_usd"], effect: "" },
    EnvOverride { name: "ARB_MAX_TOTAL_EXPOSURE_USD", keys: &["risk.max_total_exposure_usd"], effect: "" },
    EnvOverride {
        name: "ARB_MIN_PROFIT_MARGIN_BPS",
        keys: &["risk.min_profit_margin_bps", "detect.min_profit_bps"],
        effect: "",
    },
    EnvOverride { name: "ARB_MAX_DAILY_LOSS_USD", keys: &["risk.max_daily_loss_usd"], effect: "" },
    EnvOverride { name: "ARB_TARGET_EXECUTION_TIME_MS", keys: &["risk.max_execution_time_ms"], effect: "" },
    EnvOverride {
        name: "ARB_OPPORTUNITY_SCAN_INTERVAL_MS",
        keys: &["detect.cooldown_ms"],
        effect: "detection is event-driven: this is the least time between two emissions of one opportunity",
    },
    EnvOverride {
        name: "ARB_BALANCE_REFRESH_INTERVAL_MS",
        keys: &["state.reconcile_interval_ms"],
        effect: "balances and positions reconciled with the venues",
    },
    EnvOverride {
        name: "ARB_ENABLE_CIRCUIT_BREAKERS",
        keys: &[],
        effect: "false: breakers never trip (the kill switch and limits still apply)",
    },
    EnvOverride {
        name: "ARB_ENABLE_RISK_CHECKS",
        keys: &[],
        effect: "false: position, exposure, daily-loss and margin limits are lifted (balances, rate limits and the kill switch remain)",
    },
    EnvOverride {
        name: "ARB_ENABLE_RECOVERY_MODE",
        keys: &[],
        effect: "false: a naked leg halts its instruments for an operator instead of automatic recovery",
    },
];

/// Applies the `ARB_*` overrides found by `get` (the process environment in
/// [`Config::load_with_env`]) and checks the values they set as a file's are checked;
/// returns the names applied. A bad value (unreadable, not UTF-8, or out of range) is an
/// error naming the variable, its value and the key.
pub fn apply_env(
    cfg: &mut Config,
    get: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Vec<&'static str>> {
    use pipeline::units::{Bps, Usd};
    let mut applied = Vec::new();
    let mut values: Vec<(&'static EnvOverride, String)> = Vec::new();
    let usd = |name: &str, v: &str| -> Result<Usd> {
        pipeline::types::Amount::parse(v.trim()).map(Usd).map_err(|e| {
            anyhow::anyhow!("environment variable {name} = {v:?}: {e} (expected USD, e.g. 5000)")
        })
    };
    let bps = |name: &str, v: &str| -> Result<Bps> {
        pipeline::types::Rate::parse_bps(v.trim()).map(Bps).map_err(|e| {
            anyhow::anyhow!("environment variable {name} = {v:?}: {e} (expected basis points, e.g. 5)")
        })
    };
    let ms = |name: &str, v: &str| -> Result<u64> {
        v.trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("environment variable {name} = {v:?}: expected milliseconds"))
    };
    let flag = |name: &str, v: &str| -> Result<bool> {
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => bail!("environment variable {name} = {v:?}: expected true or false"),
        }
    };
    for var in ENV_OVERRIDES {
        let name = var.name;
        let Some(raw) = get(name) else { continue };
        let v = raw.into_string().map_err(|raw| {
            anyhow::anyhow!("environment variable {name} = {:?}: not valid UTF-8 text", raw.to_string_lossy())
        })?;
        match name {
            "ARB_MAX_POSITION_SIZE_USD" => cfg.risk.max_position_size_usd = usd(name, &v)?,
            "ARB_MAX_TOTAL_EXPOSURE_USD" => cfg.risk.max_total_exposure_usd = usd(name, &v)?,
            "ARB_MIN_PROFIT_MARGIN_BPS" => {
                let b = bps(name, &v)?;
                cfg.risk.min_profit_margin_bps = b;
                cfg.detect.min_profit_bps = b;
            }
            "ARB_MAX_DAILY_LOSS_USD" => cfg.risk.max_daily_loss_usd = usd(name, &v)?,
            "ARB_TARGET_EXECUTION_TIME_MS" => cfg.risk.max_execution_time_ms = ms(name, &v)?,
            "ARB_OPPORTUNITY_SCAN_INTERVAL_MS" => cfg.detect.cooldown_ms = ms(name, &v)?,
            "ARB_BALANCE_REFRESH_INTERVAL_MS" => cfg.state.reconcile_interval_ms = ms(name, &v)?,
            "ARB_ENABLE_CIRCUIT_BREAKERS" => {
                if !flag(name, &v)? {
                    let b = &mut cfg.risk.breakers;
                    b.max_consecutive_failures = u32::MAX;
                    b.max_error_rate_pct = 100;
                    b.max_order_latency_ms = u64::MAX / 2;
                    b.stale_trip_count = u32::MAX;
                    cfg.off.circuit_breakers = true;
                }
            }
            "ARB_ENABLE_RISK_CHECKS" => {
                if !flag(name, &v)? {
                    let lifted = Usd(pipeline::types::Amount::from_int(i64::MAX / 4));
                    cfg.risk.max_position_size_usd = lifted;
                    cfg.risk.max_total_exposure_usd = lifted;
                    cfg.risk.max_daily_loss_usd = lifted;
                    cfg.risk.min_profit_margin_bps = Bps::new(0);
                    cfg.off.risk_checks = true;
                }
            }
            "ARB_ENABLE_RECOVERY_MODE" => {
                if !flag(name, &v)? {
                    cfg.state.max_recovery_attempts = 0;
                    cfg.off.recovery = true;
                }
            }
            _ => continue,
        }
        applied.push(name);
        values.push((var, v));
    }
    let problems = cfg.validate();
    if !problems.is_empty() {
        return Err(report(&problems, |p| {
            match values.iter().rev().find(|(var, _)| var.keys.contains(&p.key.as_str())) {
                Some((var, v)) => format!("environment variable {} = {v:?} sets it", var.name),
                None => "configuration".to_owned(),
            }
        }));
    }
    Ok(applied)
}
