//! Ctrl-C (SIGINT), SIGTERM and SIGHUP for the whole process.
//!
//! The `ctrlc` crate takes one handler per process, but a stop has to work at every point
//! of a run: while instrument metadata is still being retried (no engine exists yet) and
//! while the engine trades (the first signal drains, a second stops at once). The one
//! handler counts the signals and tells whoever listens at that moment.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

type Listener = Box<dyn Fn(u32) + Send>;

/// The process's signal count and its current listener.
pub struct Signals {
    count: AtomicU32,
    listener: Mutex<Option<Listener>>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals").field("count", &self.received()).finish_non_exhaustive()
    }
}

static SIGNALS: OnceLock<Signals> = OnceLock::new();

/// The process's signals, with the handler installed on first use. When another handler
/// was installed before (a test harness), signals are not counted but nothing fails.
pub fn signals() -> &'static Signals {
    SIGNALS.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            if let Some(s) = SIGNALS.get() {
                let n = s.count.fetch_add(1, Ordering::SeqCst) + 1;
                if let Ok(l) = s.listener.lock() {
                    if let Some(f) = l.as_ref() {
                        f(n);
                    }
                }
            }
        });
        Signals { count: AtomicU32::new(0), listener: Mutex::new(None) }
    })
}

impl Signals {
    /// Signals received since the process started.
    pub fn received(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// Calls `f` with the running count on every later signal, in place of the listener
    /// before; when signals arrived already, calls it once now with their count, so a
    /// signal that came between two listeners is not lost.
    pub fn listen(&self, f: impl Fn(u32) + Send + 'static) {
        let n = self.received();
        if n > 0 {
            f(n);
        }
        if let Ok(mut l) = self.listener.lock() {
            *l = Some(Box::new(f));
        }
    }
}
