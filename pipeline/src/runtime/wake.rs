//! Waking a parked consumer thread when a producer pushes to one of its links.
//!
//! A thread whose idle policy parks ([`super::IdlePolicy::Park`]) would otherwise sleep
//! out its bounded park before seeing an event pushed meanwhile: the hop's latency
//! became the park's length (90 to 157 us p50 in `arb bench e2e`). Each runner thread
//! owns a [`ThreadWaker`]; a link's consumer end binds its link to the waker of the
//! thread it is first polled on, and the producer end checks the waker's `parked` flag
//! after every push.
//!
//! The protocol is a Dekker pair, with no lock and no lost wake-up:
//! - the consumer raises `parked` (then a SeqCst fence) *before* its last pass over its
//!   stages; if that pass finds work it lowers the flag, else it parks;
//! - the producer publishes the event (the ring's release store), fences (SeqCst) and
//!   reads `parked`.
//!
//! Either the consumer's last pass sees the event, or the producer sees the flag and
//! unparks the thread (an unpark before the park makes the park return at once). A push
//! to a running consumer costs a fence and a load on a line only the consumer writes
//! when it parks; the `futex` wake system call happens only when the consumer really
//! parked, and each unpark a producer issues is counted ([`ThreadWaker::wakes`]).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::thread::Thread;

use crossbeam_utils::CachePadded;

/// The waker of one runner thread.
#[derive(Debug)]
pub struct ThreadWaker {
    parked: CachePadded<AtomicBool>,
    wakes: CachePadded<AtomicU64>,
    thread: Thread,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<ThreadWaker>>> = const { RefCell::new(None) };
}

impl ThreadWaker {
    /// A waker for the calling thread, installed as its current one: links first
    /// polled on this thread bind to it.
    pub fn install() -> Arc<ThreadWaker> {
        let w = Arc::new(ThreadWaker {
            parked: CachePadded::new(AtomicBool::new(false)),
            wakes: CachePadded::new(AtomicU64::new(0)),
            thread: std::thread::current(),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(w.clone()));
        w
    }

    /// The calling thread's waker, if a runner installed one.
    pub fn current() -> Option<Arc<ThreadWaker>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Consumer: about to make its last pass before parking.
    #[inline]
    pub fn prepare_park(&self) {
        self.parked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Consumer: awake (the last pass found work, or the park returned).
    #[inline]
    pub fn awake(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Producer: call after publishing an event to a link this thread consumes.
    #[inline]
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    #[cold]
    fn wake(&self) {
        // Only the first producer to see the flag wakes the thread.
        if self.parked.swap(false, Ordering::Relaxed) {
            self.wakes.fetch_add(1, Ordering::Relaxed);
            self.thread.unpark();
        }
    }

    /// Unparks the producers issued (each one at most a `futex` wake system call).
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_notify_wakes_a_parked_thread_long_before_its_park_ends_and_is_counted() {
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let h = std::thread::spawn(move || {
            let w = ThreadWaker::install();
            tx.send(w.clone()).unwrap();
            w.prepare_park();
            let t = Instant::now();
            while !f.load(Ordering::Acquire) {
                std::thread::park_timeout(Duration::from_secs(20));
            }
            w.awake();
            t.elapsed()
        });
        let w = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        w.notify();
        let waited = h.join().unwrap();
        assert!(waited < Duration::from_secs(10), "woken by the notify, not the 20 s park: {waited:?}");
        assert_eq!(w.wakes(), 1);
        // A running consumer costs no wake.
        w.notify();
        assert_eq!(w.wakes(), 1);
    }
}
