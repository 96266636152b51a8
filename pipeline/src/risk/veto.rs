//! Every reason the risk gate refuses an opportunity, with the names reports and metrics
//! print.

use super::breakers::Breaker;

/// Why the gate refused an opportunity (not why a venue refused an order: that is
/// [`crate::msg::RejectReason`]). Each has its own counter and metric label ([`Veto::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Veto {
    /// No legs, too many, an unknown instrument, a non-positive price or quantity.
    Invalid = 0,
    KillSwitch = 1,
    /// Orders with unknown outcomes are being reconciled.
    Reconciling = 2,
    BreakerDailyLoss = 3,
    BreakerConsecutiveFailures = 4,
    BreakerErrorRate = 5,
    BreakerLatency = 6,
    BreakerStaleData = 7,
    /// The oldest book used is older than `max_data_age_ms`.
    StaleData = 8,
    MinProfitMargin = 9,
    Slippage = 10,
    /// An instrument is halted after a failed recovery.
    InstrumentHalted = 11,
    /// An instrument already has an operation in flight.
    InstrumentBusy = 12,
    TooManyInFlight = 13,
    PositionLimit = 14,
    ExposureLimit = 15,
    RateLimited = 16,
    /// A spot balance cannot carry a leg.
    InsufficientBalance = 17,
    /// A futures account's available margin cannot carry a leg.
    InsufficientMargin = 18,
}

impl Veto {
    pub const COUNT: usize = 19;
    pub const ALL: [Veto; 19] = [
        Veto::Invalid,
        Veto::KillSwitch,
        Veto::Reconciling,
        Veto::BreakerDailyLoss,
        Veto::BreakerConsecutiveFailures,
        Veto::BreakerErrorRate,
        Veto::BreakerLatency,
        Veto::BreakerStaleData,
        Veto::StaleData,
        Veto::MinProfitMargin,
        Veto::Slippage,
        Veto::InstrumentHalted,
        Veto::InstrumentBusy,
        Veto::TooManyInFlight,
        Veto::PositionLimit,
        Veto::ExposureLimit,
        Veto::RateLimited,
        Veto::InsufficientBalance,
        Veto::InsufficientMargin,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Veto::Invalid => "invalid",
            Veto::KillSwitch => "kill_switch",
            Veto::Reconciling => "reconciling",
            Veto::BreakerDailyLoss => "breaker_daily_loss",
            Veto::BreakerConsecutiveFailures => "breaker_consecutive_failures",
            Veto::BreakerErrorRate => "breaker_error_rate",
            Veto::BreakerLatency => "breaker_latency",
            Veto::BreakerStaleData => "breaker_stale_data",
            Veto::StaleData => "stale_data",
            Veto::MinProfitMargin => "min_profit_margin",
            Veto::Slippage => "max_slippage",
            Veto::InstrumentHalted => "instrument_halted",
            Veto::InstrumentBusy => "instrument_busy",
            Veto::TooManyInFlight => "too_many_in_flight",
            Veto::PositionLimit => "max_position_size",
            Veto::ExposureLimit => "max_total_exposure",
            Veto::RateLimited => "rate_limited",
            Veto::InsufficientBalance => "insufficient_balance",
            Veto::InsufficientMargin => "insufficient_margin",
        }
    }

    pub(super) fn breaker(b: Breaker) -> Self {
        match b {
            Breaker::DailyLoss => Veto::BreakerDailyLoss,
            Breaker::ConsecutiveFailures => Veto::BreakerConsecutiveFailures,
            Breaker::ErrorRate => Veto::BreakerErrorRate,
            Breaker::Latency => Veto::BreakerLatency,
            Breaker::StaleData => Veto::BreakerStaleData,
        }
    }
}
