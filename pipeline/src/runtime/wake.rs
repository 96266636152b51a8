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
//!
//! A producer on a runner thread does not make that system call in the middle of its
//! pass: the consumers it found parked are woken at the end of the pass
//! ([`wake_deferred`]). On the compact layout the trading thread's book stage pushes to
//! the parked state thread on every frame, and the wake (2 to 5 us on a loaded guest)
//! sat between the book and the frame's orders (the book stage's p50 fell from 2.8 to
//! 4.3 us to 1.5 to 2.2 us in `arb bench e2e` when it moved). Deferring the unpark keeps
//! the protocol whole: the flag was read after the event was published, and an unpark
//! issued later still ends the park. A thread that panics mid-pass drops its deferred
//! wakes; the halt it raises unparks every thread.

use std::cell::{Cell, RefCell};
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
    /// Whether this thread is a runner's, whose wakes wait for the end of its pass.
    static DEFERS: Cell<bool> = const { Cell::new(false) };
    /// The parked consumers this thread's pushes found since its pass began.
    static DEFERRED: RefCell<Vec<Arc<ThreadWaker>>> = const { RefCell::new(Vec::new()) };
}

/// Consumers one pass can defer waking (distinct threads); past it a wake is immediate.
const DEFERRED_CAP: usize = 64;

/// Wakes the consumers that pushes on this thread found parked since the last call,
/// and says how many it looked at. A runner calls it at the end of every pass, before
/// it idles.
pub fn wake_deferred() -> usize {
    DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        let n = d.len();
        for w in d.drain(..) {
            w.wake();
        }
        n
    })
}

impl ThreadWaker {
    /// A waker for the calling thread, installed as its current one: links first
    /// polled on this thread bind to it. From then on the thread's own pushes defer
    /// their unparks, and the thread must call [`wake_deferred`] after every pass (the
    /// runner does).
    pub fn install() -> Arc<ThreadWaker> {
        let w = Arc::new(ThreadWaker {
            parked: CachePadded::new(AtomicBool::new(false)),
            wakes: CachePadded::new(AtomicU64::new(0)),
            thread: std::thread::current(),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(w.clone()));
        DEFERS.set(true);
        DEFERRED.with(|d| d.borrow_mut().reserve(DEFERRED_CAP));
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

    /// Producer: call after publishing an event to a link this thread consumes. On a
    /// runner thread the unpark waits for [`wake_deferred`].
    #[inline]
    pub fn notify(self: &Arc<Self>) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) {
            self.wake_or_defer();
        }
    }

    #[cold]
    fn wake_or_defer(self: &Arc<Self>) {
        let deferred = DEFERS.get()
            && DEFERRED.with(|d| {
                let Ok(mut d) = d.try_borrow_mut() else { return false };
                if d.iter().any(|w| Arc::ptr_eq(w, self)) {
                    return true;
                }
                if d.len() == d.capacity() {
                    return false;
                }
                d.push(self.clone());
                true
            });
        if !deferred {
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

    #[test]
    fn a_runner_thread_wakes_the_consumers_it_found_parked_at_the_end_of_its_pass() {
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let consumer = std::thread::spawn(move || {
            let w = ThreadWaker::install();
            tx.send(w.clone()).unwrap();
            w.prepare_park();
            while !f.load(Ordering::Acquire) {
                std::thread::park_timeout(Duration::from_secs(20));
            }
            w.awake();
        });
        let w = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let producer = std::thread::spawn(move || {
            ThreadWaker::install();
            w.notify();
            w.notify();
            // Found parked, not woken yet: the unpark waits for the end of the pass. (The
            // flag is raised only now, so that a spurious return from the consumer's park
            // parks it again rather than ending it.)
            std::thread::sleep(Duration::from_millis(50));
            let before = w.wakes();
            flag.store(true, Ordering::Release);
            wake_deferred();
            (before, w)
        });
        let (before, w) = producer.join().unwrap();
        assert_eq!(before, 0, "no wake in the middle of the pass");
        let t = Instant::now();
        consumer.join().unwrap();
        assert!(t.elapsed() < Duration::from_secs(10), "woken at the end of the pass, not the 20 s park");
        assert_eq!(w.wakes(), 1, "two pushes in one pass, one wake");
    }
}
