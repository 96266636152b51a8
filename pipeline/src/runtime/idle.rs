//! Idle policies: what a stage thread does after a pass over its stages found no work,
//! and when a stage that owns sockets should ask the kernel for readiness.
//!
//! Production threads busy-spin on isolated cores: the lowest latency, one core burnt.
//! On a shared machine (a laptop, CI, the demo on 2 cores) a spinning thread starves
//! everything else, so threads spin briefly, then yield, then park with a bounded sleep
//! ([`IdlePolicy::Park`]): an idle thread costs a wake-up per sleep, not a core.
//!
//! Socket stages (md's feed, dispatch's order sink) poll their `mio::Poll` with a zero
//! timeout, one `epoll_wait` system call. [`io_due`] tells them whether this pass should:
//! always under busy-spin and on the pass after one that did work; after each yield or
//! park (the thread gave the CPU away, so time has passed); and while spinning only every
//! [`IO_EVERY_SPINS`]-th idle pass, so an idle spin phase does not make a system call per
//! pass. Threads the runner does not run (set-up, tests) always poll.

use std::cell::Cell;
use std::time::Duration;

/// While a non-busy-spin thread spins idle, socket stages poll every this many passes.
pub const IO_EVERY_SPINS: u32 = 32;

thread_local! {
    static IO_DUE: Cell<bool> = const { Cell::new(true) };
}

/// Whether a stage on this thread should poll its sockets (`epoll_wait`) on this pass.
#[inline]
pub fn io_due() -> bool {
    IO_DUE.with(Cell::get)
}

/// What a thread does when a pass over its stages did no work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Spin with a CPU hint forever. For isolated cores only.
    BusySpin,
    /// Spin `spins` idle passes, then yield the CPU on every further idle pass.
    SpinThenYield { spins: u32 },
    /// Spin `spins` idle passes, yield the CPU on the next `yields`, then sleep at most
    /// `max_sleep` on every further one.
    Park { spins: u32, yields: u32, max_sleep: Duration },
}

impl Default for IdlePolicy {
    fn default() -> Self {
        IdlePolicy::SpinThenYield { spins: 1000 }
    }
}

/// Applies an [`IdlePolicy`], counting consecutive idle passes.
#[derive(Debug)]
pub struct Idler {
    policy: IdlePolicy,
    idle_passes: u32,
}

impl Idler {
    pub fn new(policy: IdlePolicy) -> Self {
        IO_DUE.with(|c| c.set(true));
        Self { policy, idle_passes: 0 }
    }

    /// Called after a pass that did work.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_passes = 0;
        IO_DUE.with(|c| c.set(true));
    }

    /// Whether the next idle pass parks (the spinning and yielding are over).
    #[inline]
    pub fn parks_next(&self) -> bool {
        match self.policy {
            IdlePolicy::Park { spins, yields, .. } => {
                u64::from(self.idle_passes) + 1 > u64::from(spins) + u64::from(yields)
            }
            _ => false,
        }
    }

    /// Consecutive idle passes so far.
    pub fn idle_passes(&self) -> u32 {
        self.idle_passes
    }

    /// Called after a pass that did no work.
    #[inline]
    pub fn idle(&mut self) {
        self.idle_passes = self.idle_passes.saturating_add(1);
        let n = self.idle_passes;
        let spin_io = n % IO_EVERY_SPINS == 0;
        let io = match self.policy {
            IdlePolicy::BusySpin => {
                std::hint::spin_loop();
                true
            }
            IdlePolicy::SpinThenYield { spins } => {
                if n <= spins {
                    std::hint::spin_loop();
                    spin_io
                } else {
                    std::thread::yield_now();
                    true
                }
            }
            IdlePolicy::Park { spins, yields, max_sleep } => {
                if n <= spins {
                    std::hint::spin_loop();
                    spin_io
                } else if n - spins <= yields {
                    std::thread::yield_now();
                    true
                } else {
                    // A park, not a sleep: a stop unparks the thread.
                    std::thread::park_timeout(max_sleep);
                    true
                }
            }
        };
        IO_DUE.with(|c| c.set(io));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn park_spins_then_yields_then_sleeps_and_io_is_polled_only_when_due() {
        let mut idler =
            Idler::new(IdlePolicy::Park { spins: 64, yields: 4, max_sleep: Duration::from_millis(2) });
        assert!(io_due(), "a fresh thread polls its sockets");
        let mut polled = 0;
        let started = Instant::now();
        for _ in 0..64 {
            idler.idle();
            polled += usize::from(io_due());
        }
        assert_eq!(polled, 2, "spinning polls every {IO_EVERY_SPINS}th pass");
        assert!(started.elapsed() < Duration::from_millis(2), "spinning does not sleep");
        for _ in 0..4 {
            idler.idle();
            assert!(io_due(), "after a yield");
        }
        let parked = Instant::now();
        for _ in 0..5 {
            idler.idle();
            assert!(io_due(), "after a sleep");
        }
        let slept = parked.elapsed();
        assert!(slept >= Duration::from_millis(10), "five bounded sleeps of 2 ms: {slept:?}");
        idler.reset();
        assert!(io_due(), "after work");
        assert_eq!(idler.idle_passes(), 0);
        idler.idle();
        assert!(!io_due(), "back in the spin phase");
    }

    #[test]
    fn busy_spin_polls_sockets_on_every_pass() {
        let mut idler = Idler::new(IdlePolicy::BusySpin);
        for _ in 0..100 {
            idler.idle();
            assert!(io_due());
        }
    }
}
