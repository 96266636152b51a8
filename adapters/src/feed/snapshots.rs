//! When REST order-book snapshots go out: within each REST endpoint's rate limit,
//! first come first served, one at a time per instrument.
//!
//! At start every snapshot-synced book asks for a snapshot at once (hundreds of them
//! with a large universe), and a resync storm after a reconnect does the same. Sent as
//! asked, they would break the venue's REST limit and get the IP banned; so each REST
//! endpoint (a venue market) has a rate limit (requests per second with a burst, a
//! GCRA token bucket in integer nanoseconds) and a queue, and requests leave the queue
//! as the bucket allows. An instrument is queued or in flight at most once: asking
//! again while it waits changes nothing.
//!
//! Cold path: runs on the md thread between polls, allocation-free once the queues
//! have grown to the number of instruments.

use std::collections::VecDeque;

use pipeline::types::InstrumentId;

/// A rate limit as a generic cell rate algorithm: one request per `interval_ns`, up to
/// `burst` at once after a quiet spell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    interval_ns: u64,
    burst: u64,
    /// The theoretical arrival time of the next request.
    tat_ns: u64,
}

impl RateLimit {
    /// `per_s` requests per second (at least one), bursts of `burst` (at least one).
    pub fn new(per_s: u32, burst: u32) -> Self {
        Self {
            interval_ns: 1_000_000_000 / u64::from(per_s.max(1)),
            burst: u64::from(burst.max(1)),
            tat_ns: 0,
        }
    }

    /// Takes a request's worth of the limit at `now_ns` if there is one.
    pub fn try_take(&mut self, now_ns: u64) -> bool {
        let tat = self.tat_ns.max(now_ns);
        if tat - now_ns > (self.burst - 1) * self.interval_ns {
            return false;
        }
        self.tat_ns = tat + self.interval_ns;
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    No,
    Queued,
    InFlight,
}

/// The snapshot queues of every REST endpoint.
#[derive(Debug)]
pub struct SnapshotQueue {
    /// Resyncs asked for before their instrument's interval had passed (snapshots, and
    /// resubscriptions of markets synced that way), held by the live feed until due.
    pub held: Vec<InstrumentId>,
    limits: Vec<RateLimit>,
    queues: Vec<VecDeque<InstrumentId>>,
    state: Vec<Waiting>,
}

impl SnapshotQueue {
    /// Queues for endpoints with these limits, over instruments `0..instruments`.
    pub fn new(limits: Vec<RateLimit>, instruments: usize) -> Self {
        Self {
            held: Vec::with_capacity(instruments),
            queues: limits.iter().map(|_| VecDeque::with_capacity(instruments)).collect(),
            limits,
            state: vec![Waiting::No; instruments],
        }
    }

    /// Adds an endpoint with its rate limit (a market whose first instrument was added
    /// while running); returns its index.
    pub fn add_endpoint(&mut self, limit: RateLimit) -> usize {
        self.limits.push(limit);
        self.queues.push(VecDeque::with_capacity(self.state.len()));
        self.limits.len() - 1
    }

    /// Asks for a snapshot of `inst` from endpoint `endpoint`; false when one is already
    /// queued or in flight (or the instrument or endpoint is unknown).
    pub fn ask(&mut self, endpoint: usize, inst: InstrumentId) -> bool {
        let (Some(s), Some(q)) = (self.state.get_mut(inst.index()), self.queues.get_mut(endpoint)) else {
            return false;
        };
        if *s != Waiting::No {
            return false;
        }
        *s = Waiting::Queued;
        q.push_back(inst);
        true
    }

    /// The next instrument endpoint `endpoint` may fetch now, within its limit; marked in
    /// flight until [`SnapshotQueue::done`].
    pub fn next(&mut self, endpoint: usize, now_ns: u64) -> Option<InstrumentId> {
        let q = self.queues.get_mut(endpoint)?;
        if q.is_empty() || !self.limits[endpoint].try_take(now_ns) {
            return None;
        }
        let inst = q.pop_front()?;
        self.state[inst.index()] = Waiting::InFlight;
        Some(inst)
    }

    /// The snapshot of `inst` came back (or failed): it may be asked for again.
    pub fn done(&mut self, inst: InstrumentId) {
        if let Some(s) = self.state.get_mut(inst.index()) {
            *s = Waiting::No;
        }
    }

    /// Requests waiting in every queue.
    pub fn waiting(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_limit_allows_its_burst_then_its_rate() {
        let mut l = RateLimit::new(10, 3);
        let t0 = 5 * S;
        assert!((0..3).all(|_| l.try_take(t0)), "a burst of three");
        assert!(!l.try_take(t0));
        assert!(!l.try_take(t0 + S / 10 - 1));
        assert!(l.try_take(t0 + S / 10), "one more per 100 ms");
        assert!(!l.try_take(t0 + S / 10));
        // Over ten seconds at most the burst plus the rate: 3 + 100.
        let mut l = RateLimit::new(10, 3);
        let taken = (0..10_000).filter(|k| l.try_take(t0 + k * S / 1000)).count();
        assert!((100..=103).contains(&taken), "{taken}");
    }

    #[test]
    fn each_instrument_waits_once_and_endpoints_pace_on_their_own() {
        let mut q = SnapshotQueue::new(vec![RateLimit::new(2, 1), RateLimit::new(1000, 10)], 8);
        let t0 = S;
        for i in 0..4 {
            assert!(q.ask(0, InstrumentId(i)));
        }
        assert!(!q.ask(0, InstrumentId(1)), "already queued");
        assert!(q.ask(1, InstrumentId(5)));
        assert_eq!(q.waiting(), 5);
        assert_eq!(q.next(0, t0), Some(InstrumentId(0)));
        assert_eq!(q.next(0, t0), None, "the slow endpoint waits");
        assert_eq!(q.next(1, t0), Some(InstrumentId(5)), "the other does not");
        assert!(!q.ask(0, InstrumentId(0)), "in flight");
        q.done(InstrumentId(0));
        assert!(q.ask(0, InstrumentId(0)), "asked again once done");
        assert_eq!(q.next(0, t0 + S / 2), Some(InstrumentId(1)));
        assert_eq!(q.next(0, t0 + S), Some(InstrumentId(2)));
        assert_eq!(q.next(0, t0 + 3 * S / 2), Some(InstrumentId(3)));
        assert_eq!(q.next(0, t0 + 2 * S), Some(InstrumentId(0)), "first come, first served");
        assert_eq!(q.waiting(), 0);
        assert!(!q.ask(0, InstrumentId(9)) && !q.ask(7, InstrumentId(1)), "unknown ids are refused");
    }
}
