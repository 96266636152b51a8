//! Jittered exponential backoff, for reconnects and for retrying rate-limited or failed
//! requests.
//!
//! The n-th delay (n from 0) is drawn uniformly from `[c/2, c]` with
//! `c = min(max, initial * 2^n)` ("equal jitter"): it keeps growing, so a venue that is
//! down is not hammered, and clients that lost the venue together do not come back in
//! lockstep. [`Backoff::reset`] starts over; connection owners call it once a connection
//! has stayed healthy for `reset_after`.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Backoff bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Ceiling of the first delay.
    pub initial: Duration,
    /// Largest ceiling.
    pub max: Duration,
    /// A connection that stays up this long and delivers data resets the backoff: the
    /// venue was reachable and serving, so its next drop is a new incident. Short, so a
    /// venue that drops sessions every few seconds is rejoined within `initial` each time
    /// instead of after a delay that grew across healthy sessions; long enough that one
    /// which accepts and drops at once still meets a growing delay.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(2),
        }
    }
}

/// The state of one backoff sequence.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A sequence with a random seed.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff::with_seed(config, RandomState::new().hash_one(0x5eed_u64))
    }

    /// A reproducible sequence.
    pub fn with_seed(config: BackoffConfig, seed: u64) -> Self {
        Backoff { config, attempt: 0, rng: seed }
    }

    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Delays handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.config.initial.saturating_mul(factor).min(self.config.max)
    }

    /// The next delay, in `[ceiling/2, ceiling]`.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let span = (ceiling - half).as_nanos() as u64;
        let jitter = if span == 0 { 0 } else { self.next_u64() % (span + 1) };
        half + Duration::from_nanos(jitter)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// splitmix64: tiny, fast, good enough to spread reconnects.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How long to wait before retrying after a rate limit or server error: the server's
/// `Retry-After` when it gave one, and never less than the next backoff delay.
pub fn retry_delay(retry_after: Option<Duration>, backoff: &mut Backoff) -> Duration {
    let delay = backoff.next_delay();
    retry_after.map_or(delay, |server| server.max(delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(3),
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_grow_within_jitter_bounds_up_to_the_cap() {
        let mut b = Backoff::with_seed(config(), 7);
        let mut ceiling = Duration::from_millis(100);
        for _ in 0..12 {
            assert_eq!(b.ceiling(), ceiling);
            let d = b.next_delay();
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} outside [{:?}, {ceiling:?}]", ceiling / 2);
            ceiling = (ceiling * 2).min(Duration::from_secs(3));
        }
        assert_eq!(b.ceiling(), Duration::from_secs(3));
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), Duration::from_secs(3), "no overflow after many attempts");
    }

    #[test]
    fn jitter_spreads_over_the_whole_window() {
        let mut lows = 0;
        let mut highs = 0;
        for seed in 0..400 {
            let mut b = Backoff::with_seed(config(), seed);
            let d = b.next_delay();
            if d < Duration::from_millis(63) {
                lows += 1;
            }
            if d > Duration::from_millis(87) {
                highs += 1;
            }
        }
        // Each quarter of [50, 100] ms holds ~100 of 400 draws.
        assert!(lows > 50 && highs > 50, "lows {lows} highs {highs}");
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::with_seed(config(), 1);
        for _ in 0..5 {
            b.next_delay();
        }
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut b = Backoff::with_seed(config(), 3);
        assert_eq!(retry_delay(Some(Duration::from_secs(2)), &mut b), Duration::from_secs(2));
        let d = retry_delay(None, &mut b);
        assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
        let d = retry_delay(Some(Duration::from_millis(1)), &mut b);
        assert!(d >= Duration::from_millis(200), "backoff still applies: {d:?}");
    }
}
