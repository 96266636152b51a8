//! Order rate limits as token buckets, sized from the venues' published limits.
//!
//! Published order-placement limits (per API key):
//!
//! | venue | market  | limit                | scope                  |
//! |-------|---------|----------------------|------------------------|
//! | Gate  | spot    | 10 requests / 1 s    | per currency pair      |
//! | Gate  | futures | 100 requests / 1 s   | all contracts          |
//! | MEXC  | spot    | 500 requests / 10 s  | per endpoint (orders)  |
//! | MEXC  | futures | 20 requests / 2 s    | all contracts (orders) |
//!
//! Rate limits are risk limits: an engine that spends its whole budget on entries has
//! none left to hedge or unwind. The risk gate admits new operations against only
//! `entry_share_pct` of each limit; the rest stays free for the recovery orders and
//! cancels that the state stage sends through dispatch without passing the gate.
//!
//! A bucket holds `capacity` tokens and refills continuously at `capacity / period`.
//! Arithmetic is exact in integers: the level is kept in token-nanoseconds, one token
//! being `period_ns` units, so refill is `elapsed_ns * capacity`.

use serde::{Deserialize, Serialize};

use crate::types::{Instruments, Market, Venue};

/// One venue limit as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub venue: Venue,
    pub market: Market,
    /// Requests allowed per `per_ms`.
    pub requests: u32,
    pub per_ms: u64,
    /// One bucket per instrument (Gate spot: per currency pair) rather than one for the
    /// whole venue market.
    #[serde(default)]
    pub per_instrument: bool,
}

/// The venues' published order-placement limits.
pub fn published_limits() -> Vec<RateLimit> {
    vec![
        RateLimit {
            venue: Venue::GateIo,
            market: Market::Spot,
            requests: 10,
            per_ms: 1_000,
            per_instrument: true,
        },
        RateLimit {
            venue: Venue::GateIo,
            market: Market::Futures,
            requests: 100,
            per_ms: 1_000,
            per_instrument: false,
        },
        RateLimit {
            venue: Venue::Mexc,
            market: Market::Spot,
            requests: 500,
            per_ms: 10_000,
            per_instrument: false,
        },
        RateLimit {
            venue: Venue::Mexc,
            market: Market::Futures,
            requests: 20,
            per_ms: 2_000,
            per_instrument: false,
        },
    ]
}

/// A token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    capacity: u64,
    period_ns: u64,
    /// Tokens times `period_ns`.
    level: u64,
    last_ns: u64,
}

impl Bucket {
    /// A full bucket of `capacity` tokens refilled over `period_ns`.
    pub fn new(capacity: u64, period_ns: u64, now_ns: u64) -> Self {
        let capacity = capacity.max(1);
        let period_ns = period_ns.max(1);
        Self { capacity, period_ns, level: capacity.saturating_mul(period_ns), last_ns: now_ns }
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns).min(self.period_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let full = self.capacity.saturating_mul(self.period_ns);
        self.level = self.level.saturating_add(elapsed.saturating_mul(self.capacity)).min(full);
    }

    /// Whole tokens available at `now_ns`.
    pub fn available(&mut self, now_ns: u64) -> u64 {
        self.refill(now_ns);
        self.level / self.period_ns
    }

    /// Takes `n` tokens if all are there.
    pub fn try_take(&mut self, n: u64, now_ns: u64) -> bool {
        if self.available(now_ns) < n {
            return false;
        }
        self.level -= n * self.period_ns;
        true
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}

/// Every bucket, and which bucket each instrument's orders draw from.
#[derive(Clone, Debug)]
pub struct Limiter {
    buckets: Vec<Bucket>,
    /// Bucket index per instrument id; `u32::MAX` when no limit applies.
    of_inst: Vec<u32>,
    /// The limits, each with its shared bucket once one exists, for instruments added
    /// while running.
    limits: Vec<(RateLimit, Option<usize>)>,
    share_pct: u8,
}

impl Limiter {
    /// Buckets for `limits`, each holding `share_pct` percent of its limit (at least one
    /// request).
    pub fn new(instruments: &Instruments, limits: &[RateLimit], share_pct: u8, now_ns: u64) -> Self {
        let mut l = Self {
            buckets: Vec::new(),
            of_inst: vec![u32::MAX; instruments.capacity()],
            limits: limits.iter().map(|&l| (l, None)).collect(),
            share_pct,
        };
        for i in instruments.iter() {
            l.add(i, now_ns);
        }
        l
    }

    /// Gives instrument `i` its bucket (one of its own, or its market's shared one).
    /// Cold: an instrument added while running may allocate a bucket.
    pub fn add(&mut self, i: &crate::types::Instrument, now_ns: u64) {
        let Some(slot) = self.of_inst.get(i.id.index()).copied() else { return };
        if slot != u32::MAX {
            return;
        }
        for (l, shared) in &mut self.limits {
            if l.venue != i.venue || l.market != i.market {
                continue;
            }
            let capacity = (u64::from(l.requests) * u64::from(self.share_pct.min(100)) / 100).max(1);
            let period = l.per_ms.saturating_mul(1_000_000);
            let b = if l.per_instrument {
                self.buckets.push(Bucket::new(capacity, period, now_ns));
                self.buckets.len() - 1
            } else {
                *shared.get_or_insert_with(|| {
                    self.buckets.push(Bucket::new(capacity, period, now_ns));
                    self.buckets.len() - 1
                })
            };
            self.of_inst[i.id.index()] = b as u32;
        }
    }

    /// Takes one token per instrument in `insts` (an instrument listed twice takes two),
    /// all or nothing.
    pub fn try_take(&mut self, insts: &[crate::types::InstrumentId], now_ns: u64) -> bool {
        let mut need = [(u32::MAX, 0u64); crate::msg::MAX_LEGS];
        let mut n = 0;
        for id in insts {
            let b = self.of_inst.get(id.index()).copied().unwrap_or(u32::MAX);
            if b == u32::MAX {
                continue;
            }
            if let Some(e) = need[..n].iter_mut().find(|(k, _)| *k == b) {
                e.1 += 1;
            } else if n < need.len() {
                need[n] = (b, 1);
                n += 1;
            } else {
                return false;
            }
        }
        for &(b, k) in &need[..n] {
            if self.buckets[b as usize].available(now_ns) < k {
                return false;
            }
        }
        for &(b, k) in &need[..n] {
            self.buckets[b as usize].try_take(k, now_ns);
        }
        true
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_bucket_refills_continuously_and_caps() {
        let mut b = Bucket::new(10, S, 0);
        for _ in 0..10 {
            assert!(b.try_take(1, 0));
        }
        assert!(!b.try_take(1, 0));
        // 1 token every 100 ms.
        assert!(!b.try_take(1, 99_999_999));
        assert!(b.try_take(1, 100_000_000));
        assert_eq!(b.available(100 * S), 10, "never more than the capacity");
        assert!(!b.try_take(11, 100 * S));
        // A clock going backwards refills nothing and does not panic.
        assert_eq!(b.available(5), 10);
    }

    #[test]
    fn published_limits_map_to_buckets_with_headroom() {
        let u = testkit::universe();
        let mut l = Limiter::new(&u.instruments, &published_limits(), 50, 0);
        // Gate spot: one bucket per pair (BTC, ETH, ETH/BTC); the others one each.
        assert_eq!(l.bucket_count(), 3 + 1 + 1 + 1);
        // Gate spot BTC_USDT: 10/s at 50% = 5 per second for entries.
        for _ in 0..5 {
            assert!(l.try_take(&[u.gate_btc], 0));
        }
        assert!(!l.try_take(&[u.gate_btc], 0));
        // Another Gate pair has its own budget.
        assert!(l.try_take(&[u.gate_eth], 0));
        // MEXC futures: 20 per 2 s at 50% = 10.
        for _ in 0..10 {
            assert!(l.try_take(&[u.mexc_btc_perp], 0));
        }
        assert!(!l.try_take(&[u.mexc_btc_perp], 0));
        // All or nothing: the MEXC spot token is not spent when the futures one is missing.
        assert!(!l.try_take(&[u.mexc_btc, u.mexc_btc_perp], 0));
        let mut fresh = Limiter::new(&u.instruments, &published_limits(), 50, 0);
        for _ in 0..250 {
            assert!(fresh.try_take(&[u.mexc_btc], 0));
        }
        assert!(!fresh.try_take(&[u.mexc_btc], 0));
        assert!(l.try_take(&[u.mexc_btc], 0), "the failed attempt above took nothing");
    }

    #[test]
    fn a_triangle_takes_three_tokens_from_one_bucket() {
        let u = testkit::universe();
        let limits = [RateLimit {
            venue: Venue::Mexc,
            market: Market::Spot,
            requests: 4,
            per_ms: 1000,
            per_instrument: false,
        }];
        let mut l = Limiter::new(&u.instruments, &limits, 100, 0);
        assert!(l.try_take(&[u.mexc_btc, u.mexc_eth, u.mexc_btc], 0));
        assert!(!l.try_take(&[u.mexc_btc, u.mexc_eth], 0));
        assert!(l.try_take(&[u.mexc_eth], 0));
    }
}
