//! The state stage's configuration (`[state]`): recovery bounds, timeouts and intervals.

use serde::{Deserialize, Serialize};

use crate::units::{Bps, Usd};

/// State stage configuration (`[state]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// A hedge completes at most this far beyond the leg's planned price.
    pub max_slippage_bps: Bps,
    /// An unwind's limit is the current best price moved this far (to get done).
    pub unwind_slippage_bps: Bps,
    /// Futile recovery rounds (nothing filled, not refused in passing) before an
    /// operation waits for an operator (0: none, a naked leg waits for an operator at
    /// once). A round that filled part of the gap does not count.
    pub max_recovery_attempts: u8,
    /// After a round in which an order was refused before reaching the venue (rate
    /// limited, order connection down), the next round waits this long, doubled for each
    /// such round in a row (up to 32 times). A round refused entirely that way does not
    /// count toward `max_recovery_attempts`.
    pub recovery_backoff_ms: u64,
    /// An order with no answer this long after it was sent has an unknown outcome.
    pub ack_timeout_ms: u64,
    /// How often an order with an unknown outcome is queried again.
    pub query_interval_ms: u64,
    /// How often balances are queried from every venue, and how often each wallet's
    /// change at the venue is compared with the change the engine booked (a *check*).
    pub reconcile_interval_ms: u64,
    /// A wallet's drift (the venue's balance change since the start less the change the
    /// engine booked) worth more than this, valued at the executable price, is a
    /// mismatch: counted, alerted and shown. Below it is rounding dust.
    pub reconcile_tolerance_usd: Usd,
    /// A drift beyond the tolerance at this many checks in a row (each on a fresh balance
    /// report) halts new entries on the wallet's venue until an operator acknowledges it
    /// (`arb ctl ack-drift VENUE`): fills in flight cause drift that the next report
    /// clears, only a persistent drift halts.
    pub reconcile_halt_after_checks: u32,
    /// How often positions are marked to the books (exposure, unrealized P&L).
    pub mark_interval_ms: u64,
    /// Books older than this are not used to price recovery.
    pub max_data_age_ms: u64,
    /// Past its deadline, an operation whose unwind cannot be priced because a leg's
    /// book is not fresh (its feed reconnecting or stalled) waits this long after the
    /// deadline, or after its unwind was last priced if that is later, for one before it
    /// waits for an operator.
    pub max_unpriced_wait_ms: u64,
    /// Operation slots (open operations plus recently closed ones kept to recognize late
    /// or repeated events).
    pub max_ops: usize,
    /// Assets worth one US dollar.
    pub usd_assets: Vec<String>,
    /// When spot-futures basis positions are closed (`[state.basis]`).
    pub basis: super::basis::BasisExitConfig,
    /// Trade what fees in the base asset and lot dust leave in an asset back to flat,
    /// once it clears a venue's minimum order (`state::flatten`).
    pub flatten: bool,
    /// How long an orderly stop waits for open operations to finish (recovery
    /// included) and leftovers to be flattened before it stops anyway.
    pub drain_timeout_ms: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            max_slippage_bps: Bps::new(20),
            unwind_slippage_bps: Bps::new(50),
            max_recovery_attempts: 3,
            recovery_backoff_ms: 250,
            ack_timeout_ms: 2_000,
            query_interval_ms: 1_000,
            reconcile_interval_ms: 60_000,
            reconcile_tolerance_usd: Usd::new(1),
            reconcile_halt_after_checks: 3,
            mark_interval_ms: 1_000,
            max_data_age_ms: 1_000,
            max_unpriced_wait_ms: 30_000,
            max_ops: 256,
            usd_assets: vec!["USDT".to_owned()],
            basis: super::basis::BasisExitConfig::default(),
            flatten: true,
            drain_timeout_ms: 30_000,
        }
    }
}

/// A configuration the state stage cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateConfigError {
    #[error("state.max_ops must be between 1 and 65536")]
    Ops,
    #[error("state.max_recovery_attempts must be at most 7")]
    Attempts,
}

impl StateConfig {
    /// Range checks of `[state]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        use crate::validate::MAX_BPS;
        c.bps_up_to("max_slippage_bps", self.max_slippage_bps, MAX_BPS);
        c.bps_up_to("unwind_slippage_bps", self.unwind_slippage_bps, MAX_BPS);
        c.between("max_recovery_attempts", u64::from(self.max_recovery_attempts), 0, 7);
        c.at_least("recovery_backoff_ms", self.recovery_backoff_ms, 1);
        c.at_least("ack_timeout_ms", self.ack_timeout_ms, 1);
        c.at_least("query_interval_ms", self.query_interval_ms, 1);
        c.at_least("reconcile_interval_ms", self.reconcile_interval_ms, 1);
        c.positive_usd("reconcile_tolerance_usd", self.reconcile_tolerance_usd);
        c.at_least("reconcile_halt_after_checks", u64::from(self.reconcile_halt_after_checks), 1);
        c.at_least("mark_interval_ms", self.mark_interval_ms, 1);
        c.at_least("drain_timeout_ms", self.drain_timeout_ms, 1);
        c.at_least("max_data_age_ms", self.max_data_age_ms, 1);
        c.between("max_ops", self.max_ops as u64, 1, 65_536);
        c.not_empty("usd_assets", &self.usd_assets, "asset");
        self.basis.validate(c);
    }
}
