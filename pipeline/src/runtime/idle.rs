//! Idle policies: what a stage thread does after a pass over its stages found no work.
//!
//! Production threads busy-spin on isolated cores: the lowest latency, one core burnt.
//! On a shared machine (a laptop, CI, the demo on 2 cores) a spinning thread starves
//! everything else, so threads spin briefly and then yield or park.

use std::time::Duration;

/// What a thread does when a pass over its stages did no work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Spin with a CPU hint forever. For isolated cores only.
    BusySpin,
    /// Spin `spins` idle passes, then yield the CPU on every further idle pass.
    SpinThenYield { spins: u32 },
    /// Spin `spins` idle passes, then park for at most `max_sleep` on every further one.
    Park { spins: u32, max_sleep: Duration },
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
        Self { policy, idle_passes: 0 }
    }

    /// Called after a pass that did work.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_passes = 0;
    }

    /// Called after a pass that did no work.
    #[inline]
    pub fn idle(&mut self) {
        self.idle_passes = self.idle_passes.saturating_add(1);
        match self.policy {
            IdlePolicy::BusySpin => std::hint::spin_loop(),
            IdlePolicy::SpinThenYield { spins } => {
                if self.idle_passes <= spins {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            IdlePolicy::Park { spins, max_sleep } => {
                if self.idle_passes <= spins {
                    std::hint::spin_loop();
                } else {
                    std::thread::park_timeout(max_sleep);
                }
            }
        }
    }
}
