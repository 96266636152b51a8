//! Circuit breakers: conditions that stop new operations until they clear.
//!
//! | breaker               | trips when                                          | closes          |
//! |-----------------------|-----------------------------------------------------|-----------------|
//! | daily_loss            | realized P&L of the day <= -max_daily_loss_usd (below the day's P&L when an operator last reset it) | a new day's P&L above the limit, or an operator |
//! | consecutive_failures  | `max_consecutive_failures` operations failed in a row | an operator |
//! | error_rate            | failed share of the last `error_rate_window_ops` operations >= `max_error_rate_pct` | after `reset_after_ms` |
//! | latency               | a venue's smoothed order acknowledgement time > `max_order_latency_ms` | after `reset_after_ms` (measured afresh) |
//! | stale_data            | `stale_trip_count` opportunities in a row arrived stale | after `reset_after_ms` |
//!
//! The breakers that close by themselves start measuring afresh when they do: a venue
//! whose acknowledgements are still slow trips the latency breaker again on its next
//! orders. An operator who resets the daily-loss breaker accepts the day's loss so far:
//! it trips again once the day loses `max_daily_loss_usd` more (and counts from zero
//! again once the day is back in profit or a new day starts).
//!
//! Every change is journaled (the state stage writes the gate's [`BreakerRecord`]s), and
//! the gate starts from the last one: a crash or a restart finds every breaker as it
//! was, so a crash loop never gets a fresh loss budget. A breaker that closes by itself
//! keeps its time: one tripped before the restart closes `reset_after_ms` after it
//! tripped, by the wall clock. A new trading day (rolling at `risk.day_roll_utc_hour`)
//! closes the daily-loss breaker as it would while running.

use serde::{Deserialize, Serialize};

use crate::journal::{BREAKER_SLOTS, BreakerRecord};
use crate::types::{Amount, Venue};
use crate::units::ms_to_ns;

const _: () = assert!(Breaker::COUNT == BREAKER_SLOTS, "a breaker record holds every breaker");

use crate::units::trading_day;

/// The circuit breakers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Breaker {
    DailyLoss = 0,
    ConsecutiveFailures = 1,
    ErrorRate = 2,
    Latency = 3,
    StaleData = 4,
}

impl Breaker {
    pub const COUNT: usize = 5;
    pub const ALL: [Breaker; 5] = [
        Breaker::DailyLoss,
        Breaker::ConsecutiveFailures,
        Breaker::ErrorRate,
        Breaker::Latency,
        Breaker::StaleData,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Breaker::DailyLoss => "daily_loss",
            Breaker::ConsecutiveFailures => "consecutive_failures",
            Breaker::ErrorRate => "error_rate",
            Breaker::Latency => "latency",
            Breaker::StaleData => "stale_data",
        }
    }

    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Breaker thresholds (`[risk.breakers]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub max_consecutive_failures: u32,
    /// Operations the error rate looks back over (at most 64).
    pub error_rate_window_ops: u32,
    pub max_error_rate_pct: u32,
    pub max_order_latency_ms: u64,
    pub stale_trip_count: u32,
    /// How long an automatically closing breaker stays open.
    pub reset_after_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            max_consecutive_failures: 3,
            error_rate_window_ops: 20,
            max_error_rate_pct: 50,
            max_order_latency_ms: 500,
            stale_trip_count: 20,
            reset_after_ms: 30_000,
        }
    }
}

impl BreakerConfig {
    /// Range checks of `[risk.breakers]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.at_least("max_consecutive_failures", u64::from(self.max_consecutive_failures), 1);
        c.between("error_rate_window_ops", u64::from(self.error_rate_window_ops), 1, 64);
        c.between("max_error_rate_pct", u64::from(self.max_error_rate_pct), 1, 100);
        c.at_least("max_order_latency_ms", self.max_order_latency_ms, 1);
        c.at_least("stale_trip_count", u64::from(self.stale_trip_count), 1);
        c.at_least("reset_after_ms", self.reset_after_ms, 1);
    }
}

/// The breakers' state.
#[derive(Clone, Debug)]
pub(crate) struct Breakers {
    cfg: BreakerConfig,
    open: [bool; Breaker::COUNT],
    tripped_at: [u64; Breaker::COUNT],
    consecutive_failures: u32,
    /// Outcomes of the last operations, newest in bit 0 (1 = failed).
    history: u64,
    history_len: u32,
    latency_ewma_ns: [u64; Venue::COUNT],
    consecutive_stale: u32,
    /// The day's realized P&L the daily-loss limit counts from (below zero only after an
    /// operator's reset).
    daily_base: Amount,
    last_daily: Amount,
    /// The hour (UTC) the trading day rolls at (`risk.day_roll_utc_hour`).
    roll_hour: u8,
}

impl Breakers {
    pub(crate) fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            open: [false; Breaker::COUNT],
            tripped_at: [0; Breaker::COUNT],
            consecutive_failures: 0,
            history: 0,
            history_len: 0,
            latency_ewma_ns: [0; Venue::COUNT],
            consecutive_stale: 0,
            daily_base: Amount::ZERO,
            last_daily: Amount::ZERO,
            roll_hour: 0,
        }
    }

    /// Days roll at `hour` o'clock UTC.
    pub(crate) fn rolling_at(mut self, hour: u8) -> Self {
        self.roll_hour = hour.min(23);
        self
    }

    #[cfg(test)]
    pub(crate) fn is_open(&self, b: Breaker) -> bool {
        self.open[b.index()]
    }

    pub(crate) fn open_flags(&self) -> [bool; Breaker::COUNT] {
        self.open
    }

    /// The first open breaker, if any.
    pub(crate) fn first_open(&self) -> Option<Breaker> {
        Breaker::ALL.into_iter().find(|b| self.open[b.index()])
    }

    fn trip(&mut self, b: Breaker, now_ns: u64) {
        if !self.open[b.index()] {
            self.open[b.index()] = true;
            self.tripped_at[b.index()] = now_ns;
        }
    }

    pub(crate) fn on_outcome(&mut self, success: bool, now_ns: u64) {
        if success {
            self.consecutive_failures = 0;
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            if self.consecutive_failures >= self.cfg.max_consecutive_failures.max(1) {
                self.trip(Breaker::ConsecutiveFailures, now_ns);
            }
        }
        self.history = (self.history << 1) | u64::from(!success);
        let window = self.cfg.error_rate_window_ops.clamp(1, 64);
        self.history_len = (self.history_len + 1).min(window);
        if self.history_len >= window {
            let mask = if window == 64 { u64::MAX } else { (1u64 << window) - 1 };
            let failed = (self.history & mask).count_ones();
            if failed * 100 >= self.cfg.max_error_rate_pct.max(1) * window {
                self.trip(Breaker::ErrorRate, now_ns);
            }
        }
    }

    pub(crate) fn on_daily_pnl(&mut self, realized: Amount, max_loss: Amount, now_ns: u64) {
        self.last_daily = realized;
        if realized >= Amount::ZERO {
            self.daily_base = Amount::ZERO;
        }
        if realized.0.saturating_sub(self.daily_base.0) <= -max_loss.0 {
            self.trip(Breaker::DailyLoss, now_ns);
        } else {
            // A new day's P&L back above the limit closes it.
            self.open[Breaker::DailyLoss.index()] = false;
        }
    }

    pub(crate) fn on_latency(&mut self, venue: Venue, ns: u64, now_ns: u64) {
        let e = &mut self.latency_ewma_ns[venue.index()];
        // An exponential average with weight 1/8, in integers.
        *e = if *e == 0 { ns } else { e.saturating_sub(*e / 8).saturating_add(ns / 8) };
        if *e > ms_to_ns(self.cfg.max_order_latency_ms) {
            self.trip(Breaker::Latency, now_ns);
        }
    }

    pub(crate) fn latency_ewma_ns(&self, venue: Venue) -> u64 {
        self.latency_ewma_ns[venue.index()]
    }

    pub(crate) fn on_stale(&mut self, now_ns: u64) {
        self.consecutive_stale = self.consecutive_stale.saturating_add(1);
        if self.consecutive_stale >= self.cfg.stale_trip_count.max(1) {
            self.trip(Breaker::StaleData, now_ns);
        }
    }

    pub(crate) fn on_fresh(&mut self) {
        self.consecutive_stale = 0;
    }

    /// Closes the automatically closing breakers whose time has come.
    pub(crate) fn tick(&mut self, now_ns: u64) {
        let after = ms_to_ns(self.cfg.reset_after_ms);
        for b in [Breaker::ErrorRate, Breaker::Latency, Breaker::StaleData] {
            if self.open[b.index()] && now_ns.saturating_sub(self.tripped_at[b.index()]) >= after {
                self.open[b.index()] = false;
                match b {
                    Breaker::ErrorRate => {
                        self.history = 0;
                        self.history_len = 0;
                    }
                    Breaker::Latency => self.latency_ewma_ns = [0; Venue::COUNT],
                    Breaker::StaleData => self.consecutive_stale = 0,
                    _ => {}
                }
            }
        }
    }

    /// The breakers as a journal record: `now_ns` on the gate's clock is `wall_ms`.
    pub(crate) fn record(&self, now_ns: u64, wall_ms: u64) -> BreakerRecord {
        let mut tripped_ms = [0; BREAKER_SLOTS];
        for b in Breaker::ALL {
            if self.open[b.index()] {
                let ago_ms = now_ns.saturating_sub(self.tripped_at[b.index()]) / 1_000_000;
                tripped_ms[b.index()] = wall_ms.saturating_sub(ago_ms).max(1);
            }
        }
        BreakerRecord { tripped_ms, daily_base: self.daily_base, wall_ms }
    }

    /// Puts back the breakers `r` journaled: `now_ns` on the gate's clock is `wall_ms`.
    /// What the day's accepted loss and the daily-loss breaker were count only on the day
    /// they were journaled.
    pub(crate) fn restore(&mut self, r: &BreakerRecord, now_ns: u64, wall_ms: u64) {
        let same_day = trading_day(r.wall_ms, self.roll_hour) == trading_day(wall_ms, self.roll_hour);
        for b in Breaker::ALL {
            let t = r.tripped_ms[b.index()];
            if t == 0 || (b == Breaker::DailyLoss && !same_day) {
                continue;
            }
            self.open[b.index()] = true;
            let ago_ns = wall_ms.saturating_sub(t).saturating_mul(1_000_000);
            self.tripped_at[b.index()] = now_ns.saturating_sub(ago_ns);
            if b == Breaker::ConsecutiveFailures {
                self.consecutive_failures = self.cfg.max_consecutive_failures;
            }
        }
        if same_day {
            self.daily_base = r.daily_base;
            self.last_daily = r.daily_base;
        }
    }

    /// An operator closes every breaker.
    pub(crate) fn reset_all(&mut self) {
        let base = self.last_daily.min(Amount::ZERO);
        *self = Self {
            daily_base: base,
            last_daily: self.last_daily,
            roll_hour: self.roll_hour,
            ..Self::new(self.cfg)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::DAY_MS;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_journaled_record_puts_every_breaker_back_as_it_was() {
        let cfg = BreakerConfig { reset_after_ms: 30_000, ..BreakerConfig::default() };
        let mut b = Breakers::new(cfg);
        let limit = Amount::from_int(500);
        b.on_daily_pnl(Amount::from_int(-600), limit, 100 * MS);
        b.on_latency(Venue::GateIo, 900 * MS, 110 * MS);
        let day = 20_000 * DAY_MS;
        // Journaled at 120 ms on the gate's clock, 12:00 of some day by the wall clock.
        let rec = b.record(120 * MS, day + DAY_MS / 2);
        assert_eq!(rec.tripped_ms[Breaker::DailyLoss.index()], day + DAY_MS / 2 - 20);
        assert_eq!(rec.tripped_ms[Breaker::ConsecutiveFailures.index()], 0);

        // A restart 10 s later: a fresh gate whose clock reads t0.
        let t0 = 1_000_000 * MS;
        let mut back = Breakers::new(cfg);
        back.restore(&rec, t0, day + DAY_MS / 2 + 10_000);
        assert!(back.is_open(Breaker::DailyLoss), "the day's loss still stops trading");
        assert!(back.is_open(Breaker::Latency));
        assert!(!back.is_open(Breaker::ConsecutiveFailures));
        back.on_daily_pnl(Amount::from_int(-600), limit, t0 + MS);
        assert!(back.is_open(Breaker::DailyLoss), "the restored total keeps it open");
        // The latency breaker closes 30 s after it tripped, not 30 s after the restart.
        back.tick(t0 + 19_000 * MS);
        assert!(back.is_open(Breaker::Latency));
        back.tick(t0 + 20_100 * MS);
        assert!(!back.is_open(Breaker::Latency));

        // Restored on the next day, the daily-loss breaker is closed; the others stay.
        b.on_outcome(false, 130 * MS);
        b.on_outcome(false, 131 * MS);
        b.on_outcome(false, 132 * MS);
        let rec = b.record(140 * MS, day + DAY_MS / 2);
        let mut next_day = Breakers::new(cfg);
        next_day.restore(&rec, 0, day + DAY_MS + 1);
        assert!(!next_day.is_open(Breaker::DailyLoss));
        assert!(next_day.is_open(Breaker::ConsecutiveFailures), "latched until an operator resets it");
    }

    #[test]
    fn a_tripped_daily_loss_breaker_stays_open_until_the_configured_roll_hour() {
        const HOUR: u64 = 3_600_000;
        let day = 20_000 * DAY_MS;
        let mut b = Breakers::new(BreakerConfig::default()).rolling_at(8);
        b.on_daily_pnl(Amount::from_int(-600), Amount::from_int(500), MS);
        // Journaled at 01:00 UTC: still the trading day that began at 08:00 yesterday.
        let rec = b.record(MS, day + HOUR);
        let mut back = Breakers::new(BreakerConfig::default()).rolling_at(8);
        back.restore(&rec, 0, day + 7 * HOUR + 59 * 60_000);
        assert!(back.is_open(Breaker::DailyLoss), "restarted at 07:59: the same trading day");
        let mut back = Breakers::new(BreakerConfig::default()).rolling_at(8);
        back.restore(&rec, 0, day + 8 * HOUR);
        assert!(!back.is_open(Breaker::DailyLoss), "restarted at 08:00: a new day");
        // Rolling at midnight, 01:00 and 07:59 are the same day too, and 00:00 the next
        // is not.
        let mut b = Breakers::new(BreakerConfig::default());
        b.on_daily_pnl(Amount::from_int(-600), Amount::from_int(500), MS);
        let rec = b.record(MS, day + HOUR);
        let mut back = Breakers::new(BreakerConfig::default());
        back.restore(&rec, 0, day + DAY_MS);
        assert!(!back.is_open(Breaker::DailyLoss));
    }

    #[test]
    fn an_operators_reset_survives_a_restart() {
        let mut b = Breakers::new(BreakerConfig::default());
        let limit = Amount::from_int(500);
        b.on_daily_pnl(Amount::from_int(-600), limit, 0);
        b.reset_all();
        let rec = b.record(MS, 1_000);
        assert_eq!(rec.tripped_ms, [0; BREAKER_SLOTS]);
        let mut back = Breakers::new(BreakerConfig::default());
        back.restore(&rec, 0, 2_000);
        back.on_daily_pnl(Amount::from_int(-600), limit, MS);
        assert!(!back.is_open(Breaker::DailyLoss), "the operator accepted the loss so far");
        back.on_daily_pnl(Amount::from_int(-1_100), limit, 2 * MS);
        assert!(back.is_open(Breaker::DailyLoss), "and 500 more trips it again");
    }

    #[test]
    fn consecutive_failures_latch_until_an_operator_resets() {
        let mut b = Breakers::new(BreakerConfig::default());
        b.on_outcome(false, 0);
        b.on_outcome(false, 0);
        b.on_outcome(true, 0);
        b.on_outcome(false, 0);
        b.on_outcome(false, 0);
        assert!(!b.is_open(Breaker::ConsecutiveFailures));
        b.on_outcome(false, 0);
        assert!(b.is_open(Breaker::ConsecutiveFailures));
        b.tick(u64::MAX);
        assert!(b.is_open(Breaker::ConsecutiveFailures), "latched");
        b.reset_all();
        assert_eq!(b.first_open(), None);
    }

    #[test]
    fn the_error_rate_trips_over_its_window_and_closes_after_the_pause() {
        let cfg = BreakerConfig {
            error_rate_window_ops: 10,
            max_error_rate_pct: 50,
            max_consecutive_failures: 100,
            ..Default::default()
        };
        let mut b = Breakers::new(cfg);
        for _ in 0..4 {
            b.on_outcome(false, 0);
        }
        assert!(!b.is_open(Breaker::ErrorRate), "the window is not full yet");
        for _ in 0..10 {
            b.on_outcome(true, 0);
        }
        for _ in 0..4 {
            b.on_outcome(false, 0);
        }
        assert!(!b.is_open(Breaker::ErrorRate), "4 of the last 10 failed");
        b.on_outcome(false, 6 * MS);
        assert!(b.is_open(Breaker::ErrorRate), "5 of the last 10 failed");
        b.tick(6 * MS + 29_999 * MS);
        assert!(b.is_open(Breaker::ErrorRate));
        b.tick(6 * MS + 30_000 * MS);
        assert!(!b.is_open(Breaker::ErrorRate));
    }

    #[test]
    fn latency_and_stale_data_trip_and_measure_afresh_after_closing() {
        let mut b = Breakers::new(BreakerConfig::default());
        b.on_latency(Venue::Mexc, 100 * MS, 0);
        for _ in 0..20 {
            b.on_latency(Venue::Mexc, 2000 * MS, 0);
        }
        assert!(b.is_open(Breaker::Latency));
        b.tick(30_000 * MS);
        assert!(!b.is_open(Breaker::Latency));
        assert_eq!(b.latency_ewma_ns(Venue::Mexc), 0);
        for _ in 0..19 {
            b.on_stale(0);
        }
        b.on_fresh();
        b.on_stale(0);
        assert!(!b.is_open(Breaker::StaleData));
        for _ in 0..19 {
            b.on_stale(0);
        }
        assert!(b.is_open(Breaker::StaleData));
    }

    #[test]
    fn the_daily_loss_trips_at_the_limit_and_closes_on_a_new_day() {
        let mut b = Breakers::new(BreakerConfig::default());
        let limit = Amount::from_int(500);
        b.on_daily_pnl(Amount::from_int(-499), limit, 0);
        assert!(!b.is_open(Breaker::DailyLoss));
        b.on_daily_pnl(Amount::from_int(-500), limit, 0);
        assert!(b.is_open(Breaker::DailyLoss));
        b.tick(u64::MAX);
        assert!(b.is_open(Breaker::DailyLoss));
        b.on_daily_pnl(Amount::ZERO, limit, 0);
        assert!(!b.is_open(Breaker::DailyLoss));
    }

    #[test]
    fn an_operators_reset_accepts_the_loss_so_far_but_not_another_limit_of_it() {
        let mut b = Breakers::new(BreakerConfig::default());
        let limit = Amount::from_int(500);
        b.on_daily_pnl(Amount::from_int(-600), limit, 0);
        assert!(b.is_open(Breaker::DailyLoss));
        b.reset_all();
        assert!(!b.is_open(Breaker::DailyLoss));
        // The next update, still 600 down, does not trip it again.
        b.on_daily_pnl(Amount::from_int(-650), limit, 0);
        assert!(!b.is_open(Breaker::DailyLoss));
        // Another 500 lost since the reset does.
        b.on_daily_pnl(Amount::from_int(-1_100), limit, 0);
        assert!(b.is_open(Breaker::DailyLoss));
        // Back in profit (or a new day), the limit counts from zero again.
        b.reset_all();
        b.on_daily_pnl(Amount::from_int(10), limit, 0);
        b.on_daily_pnl(Amount::from_int(-500), limit, 0);
        assert!(b.is_open(Breaker::DailyLoss));
    }
}
