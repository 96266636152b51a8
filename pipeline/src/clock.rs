//! Local time for events: monotonic nanoseconds read from the injected quanta clock.
//!
//! Every stage stamps and compares times with the same `quanta::Clock` (cloned, or
//! `Clock::mock()` in tests), so receive times, freshness checks and latencies agree
//! across threads. The epoch is arbitrary; only differences mean anything.

use quanta::Clock;

/// Now, in nanoseconds on the clock's monotonic scale.
#[inline]
pub fn now_ns(clock: &Clock) -> u64 {
    clock.delta_as_nanos(0, clock.raw())
}

/// A raw reading converted to the same nanosecond scale as [`now_ns`].
#[inline]
pub fn raw_to_ns(clock: &Clock, raw: u64) -> u64 {
    clock.delta_as_nanos(0, raw)
}

/// Nanoseconds since the Unix epoch from the system clock, for venue-facing timestamps
/// (request signing, capture files). Not for latency.
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_time_reads_through() {
        let (clock, mock) = Clock::mock();
        mock.increment(1_500);
        assert_eq!(now_ns(&clock), 1_500);
    }

    #[test]
    fn real_time_moves_forward() {
        let clock = Clock::new();
        let a = now_ns(&clock);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now_ns(&clock);
        assert!(b - a >= 1_000_000, "{a} {b}");
    }
}
