//! Detection's configuration (`[detect]`): thresholds, which kinds of opportunity to
//! look for, and where selling spot inventory against a perpetual is allowed.

use serde::{Deserialize, Serialize};

use crate::types::Venue;
use crate::units::{Bps, Exact, Usd};

/// Detection configuration (`[detect]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Least expected profit after taker fees, as a rate of the USD notional.
    pub min_profit_bps: Bps,
    /// Largest USD notional of one operation (the largest leg's quote value).
    pub max_notional_usd: Usd,
    /// Quotes older than this, relative to the triggering update, are never used.
    pub max_data_age_ms: u64,
    /// The same candidate is emitted at most once per this period.
    pub cooldown_ms: u64,
    /// How far beyond the worst level walked a limit price may go, at most (0: exactly
    /// there). The book an order meets is often a tick or two on from the one it was
    /// priced on (the venue re-quoted while the order travelled); an allowance lets the
    /// leg fill as planned instead of sending the operation into recovery.
    pub limit_slippage_bps: Bps,
    /// The allowance of each leg is also at most this share of the expected edge,
    /// divided over the legs: an operation whose every leg fills at its limit keeps the
    /// rest of its edge (at 100, the default, it breaks even after fees, never a loss;
    /// the recovery the allowance avoids may pay `max_slippage_bps` beyond the plan).
    pub limit_edge_share_pct: u8,
    pub spot_spot: bool,
    pub basis: bool,
    pub triangular: bool,
    /// Pair spot and perpetual across venues too, not only on the same venue.
    pub basis_cross_venue: bool,
    /// Assets worth one US dollar; every opportunity starts and ends in one of them.
    pub usd_assets: Vec<String>,
    /// Where short spot + long perpetual is allowed, and how much spot may be sold.
    pub reverse_basis: Vec<ReverseBasis>,
}

/// Permission to sell spot inventory against a long perpetual.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseBasis {
    pub venue: Venue,
    /// The base asset (`"BTC"`).
    pub asset: String,
    /// The most base units one operation may sell.
    pub max_base: Exact,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            min_profit_bps: Bps::new(5),
            max_notional_usd: Usd::new(1000),
            max_data_age_ms: 100,
            cooldown_ms: 1000,
            limit_slippage_bps: Bps::new(10),
            limit_edge_share_pct: 100,
            spot_spot: true,
            basis: true,
            triangular: true,
            basis_cross_venue: true,
            usd_assets: vec!["USDT".to_owned()],
            reverse_basis: Vec::new(),
        }
    }
}

/// A configuration detection cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetectConfigError {
    #[error("detect.reverse_basis names asset `{0}`, which no instrument trades")]
    UnknownAsset(String),
    #[error("detect.{0} must be positive")]
    NotPositive(&'static str),
    #[error("detect.limit_edge_share_pct must be at most 100")]
    EdgeShare,
}

impl DetectConfig {
    /// Range and meaning checks of `[detect]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.positive_bps("min_profit_bps", self.min_profit_bps);
        c.positive_usd("max_notional_usd", self.max_notional_usd);
        c.at_least("max_data_age_ms", self.max_data_age_ms, 1);
        c.bps_up_to("limit_slippage_bps", self.limit_slippage_bps, crate::validate::MAX_BPS);
        c.not_empty("usd_assets", &self.usd_assets, "asset");
        for (i, r) in self.reverse_basis.iter().enumerate() {
            c.item("reverse_basis", i, |c| {
                c.text("asset", &r.asset);
                if r.max_base.amount() <= crate::types::Amount::ZERO {
                    c.fail("max_base", r.max_base.amount(), "must be more than 0");
                }
            });
        }
    }
}
