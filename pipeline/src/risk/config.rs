//! The risk gate's configuration (`[risk]`): the limits, the venues' rate limits and the
//! circuit breakers.

use serde::{Deserialize, Serialize};

use super::breakers::BreakerConfig;
use super::limiter::{RateLimit, published_limits};
use crate::units::{Bps, Usd};

/// Risk configuration (`[risk]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    pub max_position_size_usd: Usd,
    pub max_total_exposure_usd: Usd,
    pub max_daily_loss_usd: Usd,
    /// The hour (UTC, 0 to 23) at which the day of the daily-loss total rolls: its total
    /// starts again from zero then, and only then (a restart within the day goes on from
    /// the journaled total).
    pub day_roll_utc_hour: u8,
    pub min_profit_margin_bps: Bps,
    pub max_execution_time_ms: u64,
    pub max_slippage_bps: Bps,
    pub max_data_age_ms: u64,
    /// Operations approved and not yet reported done, at most.
    pub max_ops_in_flight: usize,
    /// Margin reserved for a futures order, as a rate of its notional (10000 = 1x).
    pub futures_margin_bps: Bps,
    /// Share of each venue rate limit new operations may use; the rest is kept for
    /// hedges, unwinds and cancels.
    pub entry_share_pct: u8,
    /// Venue order rate limits; the venues' published limits by default.
    pub rate_limits: Vec<RateLimit>,
    pub breakers: BreakerConfig,
    /// Assets worth one US dollar (for leg values and exposure).
    pub usd_assets: Vec<String>,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_position_size_usd: Usd::new(5_000),
            max_total_exposure_usd: Usd::new(20_000),
            max_daily_loss_usd: Usd::new(500),
            day_roll_utc_hour: 0,
            min_profit_margin_bps: Bps::new(5),
            max_execution_time_ms: 2_000,
            max_slippage_bps: Bps::new(20),
            max_data_age_ms: 100,
            max_ops_in_flight: 16,
            futures_margin_bps: Bps::new(10_000),
            entry_share_pct: 50,
            rate_limits: published_limits(),
            breakers: BreakerConfig::default(),
            usd_assets: vec!["USDT".to_owned()],
        }
    }
}

/// A configuration the gate cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RiskConfigError {
    #[error("risk.max_ops_in_flight must be between 1 and 4096")]
    InFlight,
    #[error("risk.entry_share_pct must be between 1 and 100")]
    Share,
}

impl RiskConfig {
    /// Range and meaning checks of `[risk]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        use crate::validate::MAX_BPS;
        c.positive_usd("max_position_size_usd", self.max_position_size_usd);
        c.positive_usd("max_total_exposure_usd", self.max_total_exposure_usd);
        c.positive_usd("max_daily_loss_usd", self.max_daily_loss_usd);
        c.between("day_roll_utc_hour", u64::from(self.day_roll_utc_hour), 0, 23);
        c.positive_bps("min_profit_margin_bps", self.min_profit_margin_bps);
        c.at_least("max_execution_time_ms", self.max_execution_time_ms, 1);
        c.bps_up_to("max_slippage_bps", self.max_slippage_bps, MAX_BPS);
        c.at_least("max_data_age_ms", self.max_data_age_ms, 1);
        c.between("max_ops_in_flight", self.max_ops_in_flight as u64, 1, 4096);
        if self.futures_margin_bps <= Bps::new(0) || self.futures_margin_bps > Bps::new(10_000) {
            c.fail(
                "futures_margin_bps",
                self.futures_margin_bps.rate().bps(),
                "must be more than 0 and at most 10000 basis points (10000 = 1x, the whole notional)",
            );
        }
        c.between("entry_share_pct", u64::from(self.entry_share_pct), 1, 100);
        for (i, l) in self.rate_limits.iter().enumerate() {
            c.item("rate_limits", i, |c| {
                c.at_least("requests", u64::from(l.requests), 1);
                c.at_least("per_ms", l.per_ms, 1);
            });
        }
        c.table("breakers", |c| self.breakers.validate(c));
        c.not_empty("usd_assets", &self.usd_assets, "asset");
    }
}
