//! The runner: starts one named thread per [`ThreadSpec`], pins it, builds its stages on
//! it, and polls them round-robin until asked to stop.
//!
//! A thread's loop reads the clock once per stage poll and records the poll's service
//! time, in nanoseconds, when it did work. After a pass with no work the thread's [`Idler`] decides
//! whether to spin, yield or park. Before it parks, the thread raises its
//! [`ThreadWaker`]'s flag and makes one more pass: a push to any of its links after that
//! unparks it, so an event never waits out a park (see [`super::wake`]). The unparks a
//! thread's own pushes call for are issued at the end of its pass, after its work.
//!
//! A panic in any stage halts trading: the thread catches it, records which stage
//! panicked and why in the shared [`Control`], raises the halt flag and asks every
//! thread to stop. Nothing dies silently: [`Running::join`] returns the panic as an
//! error.

use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use quanta::Clock;

use super::cores::{CpuView, format_cpu_list, pin_current, set_housekeeping};
use super::{Idler, Layout, LayoutError, Stage, ThreadSpec, ThreadWaker, wake_deferred};
use crate::metrics::{MetricsHub, Recorder, SeriesKind};

/// Builds a stage on the thread that will run it, so its memory is first touched there.
pub type StageFactory = Box<dyn FnOnce() -> Box<dyn Stage> + Send>;

/// Shared run state: the stop request, the trading halt and what caused it.
///
/// Hot loops read `stop` with a relaxed load once per pass; it sits on its own cache line.
#[derive(Default)]
pub struct Control {
    stop: CachePadded<AtomicBool>,
    halted: CachePadded<AtomicBool>,
    reasons: Mutex<Vec<String>>,
    threads: Mutex<Vec<thread::Thread>>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("stop", &self.is_stop_requested())
            .field("halted", &self.is_halted())
            .finish_non_exhaustive()
    }
}

impl Control {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Asks every thread to stop after its current pass, and wakes parked threads.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Ok(threads) = self.threads.lock() {
            for t in threads.iter() {
                t.unpark();
            }
        }
    }

    #[inline]
    pub fn is_stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Halts trading with a reason; stages that send orders check [`Control::is_halted`].
    pub fn halt(&self, reason: impl Into<String>) {
        if let Ok(mut r) = self.reasons.lock() {
            r.push(reason.into());
        }
        self.halted.store(true, Ordering::Release);
    }

    /// Lifts the halts whose reason `liftable` accepts (an operator's kill switch, which
    /// an operator may lift); the halt stays while any other reason (a panic, a journal
    /// failure) remains. Returns whether trading is still halted.
    pub fn lift(&self, liftable: impl Fn(&str) -> bool) -> bool {
        if let Ok(mut r) = self.reasons.lock() {
            r.retain(|reason| !liftable(reason));
            self.halted.store(!r.is_empty(), Ordering::Release);
        }
        self.is_halted()
    }

    #[inline]
    pub fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// Why trading was halted, oldest first.
    pub fn halt_reasons(&self) -> Vec<String> {
        self.reasons.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Makes Ctrl-C (and SIGTERM) request a stop. A process can install this once.
    pub fn stop_on_signal(self: &Arc<Self>) -> Result<(), ctrlc::Error> {
        let me = Arc::clone(self);
        ctrlc::set_handler(move || me.request_stop())
    }

    fn register_thread(&self) {
        if let Ok(mut t) = self.threads.lock() {
            t.push(thread::current());
        }
    }
}

/// What one stage thread did.
#[derive(Clone, Debug)]
pub struct ThreadReport {
    pub name: String,
    pub stages: Vec<String>,
    pub core: Option<usize>,
    pub pinned: bool,
    /// Passes over the thread's stages.
    pub passes: u64,
    /// Passes in which some stage did work.
    pub busy_passes: u64,
    /// Times a producer unparked this thread (each a `futex` wake system call at most).
    pub wakes: u64,
    /// Times this thread parked.
    pub parks: u64,
    pub panic: Option<StagePanic>,
}

/// A stage that panicked, with the panic message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagePanic {
    pub thread: String,
    pub stage: String,
    pub message: String,
}

/// The end of a run.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RunError {
    #[error("stage `{stage}` on thread `{thread}` panicked: {message}; trading was halted")]
    StagePanicked { thread: String, stage: String, message: String },
}

/// Why a layout could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("could not start thread `{thread}`: {message}")]
    Spawn { thread: String, message: String },
}

/// Every thread's report after a clean stop.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub threads: Vec<ThreadReport>,
}

/// Collects stage factories by name, then starts them in a layout.
pub struct Runner {
    clock: Clock,
    stages: Vec<(String, StageFactory)>,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("stages", &self.stages.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl Runner {
    pub fn new(clock: Clock) -> Self {
        Self { clock, stages: Vec::new() }
    }

    /// Registers a stage under `name`; `build` runs on the stage's own thread.
    pub fn stage<S, F>(&mut self, name: impl Into<String>, build: F) -> &mut Self
    where
        S: Stage + 'static,
        F: FnOnce() -> S + Send + 'static,
    {
        self.stages.push((name.into(), Box::new(move || Box::new(build()) as Box<dyn Stage>)));
        self
    }

    /// The registered stage names, in registration order.
    pub fn stage_names(&self) -> Vec<&str> {
        self.stages.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Validates `layout` against the registered stages and the cores this process may
    /// pin (online and allowed by its cgroup, whatever mask it inherited), moves the
    /// calling thread to the housekeeping cores (the inherited ones the layout does not
    /// pin) so that every thread it starts afterwards runs there, then starts one thread
    /// per layout thread. Each stage's service time is recorded in a series named
    /// `stage.<name>` in `hub`.
    pub fn start(
        self,
        layout: &Layout,
        hub: &mut MetricsHub,
        control: Arc<Control>,
    ) -> Result<Running, StartError> {
        let view = CpuView::system();
        let names = self.stage_names();
        layout.validate(&names, &view.usable())?;
        for w in layout.warnings() {
            eprintln!("warning: layout: {w}");
        }
        let pinned = layout.pinned_cores();
        if !pinned.is_empty() {
            let housekeeping = view.housekeeping(&pinned);
            if let Err(e) = set_housekeeping(&housekeeping) {
                eprintln!(
                    "warning: layout: cannot move cold threads to the housekeeping cores {}: {e}",
                    format_cpu_list(&housekeeping)
                );
            }
        }
        let mut factories: HashMap<String, StageFactory> = self.stages.into_iter().collect();
        let mut threads = Vec::new();
        for spec in &layout.threads {
            let stages: Vec<(String, StageFactory, Recorder)> = spec
                .stages
                .iter()
                .map(|name| {
                    // Validation guarantees every placed stage exists exactly once.
                    let factory = factories.remove(name).expect("validated layout");
                    let rec = hub.recorder(format!("stage.{name}"), SeriesKind::Stage);
                    (name.clone(), factory, rec)
                })
                .collect();
            let thread_name = spec.name.clone();
            let spec = spec.clone();
            let clock = self.clock.clone();
            let ctl = Arc::clone(&control);
            let handle = thread::Builder::new()
                .name(spec.name.clone())
                .spawn(move || run_thread(spec, stages, clock, ctl));
            match handle {
                Ok(h) => threads.push(h),
                Err(e) => {
                    control.request_stop();
                    drop(Running { control, threads, started: Instant::now() });
                    return Err(StartError::Spawn { thread: thread_name, message: e.to_string() });
                }
            }
        }
        Ok(Running { control, threads, started: Instant::now() })
    }
}

struct Slot {
    name: String,
    stage: Box<dyn Stage>,
    service: Recorder,
}

/// Pins the calling thread to its core, which need not be in the mask the process
/// inherited. The core was checked against the usable cores when the layout was
/// validated; a refusal now (a cgroup change, an offline core) is a warning.
fn pin(spec: &ThreadSpec) -> bool {
    let Some(core) = spec.core else {
        return false;
    };
    match pin_current(core) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "warning: thread `{}` could not be pinned to core {core} ({e}); it runs unpinned",
                spec.name
            );
            false
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn run_thread(
    spec: ThreadSpec,
    factories: Vec<(String, StageFactory, Recorder)>,
    clock: Clock,
    control: Arc<Control>,
) -> ThreadReport {
    control.register_thread();
    let pinned = pin(&spec);
    let mut report = ThreadReport {
        name: spec.name.clone(),
        stages: spec.stages.clone(),
        core: spec.core,
        pinned,
        passes: 0,
        busy_passes: 0,
        wakes: 0,
        parks: 0,
        panic: None,
    };
    // Installed before the stages are built and polled: their links bind to it.
    let waker = ThreadWaker::install();
    let mut current = String::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(factories.len());
    let built = panic::catch_unwind(AssertUnwindSafe(|| {
        for (name, factory, service) in factories {
            current.clone_from(&name);
            slots.push(Slot { name, stage: factory(), service });
        }
    }));
    if let Err(payload) = built {
        return fail(&control, report, &current, &*payload);
    }

    let mut idler = Idler::new(spec.idle_policy());
    let mut at = 0usize;
    let mut passes = 0u64;
    let mut busy = 0u64;
    let mut parks = 0u64;
    let ran = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut t = clock.raw();
        // The waker's flag is up: this pass is the last before a park.
        let mut armed = false;
        while !control.is_stop_requested() {
            let mut work = 0usize;
            for (i, slot) in slots.iter_mut().enumerate() {
                at = i;
                let w = slot.stage.poll();
                let t2 = clock.raw();
                if w > 0 {
                    slot.service.record_at(clock.delta_as_nanos(t, t2), t2);
                    work += w;
                }
                t = t2;
            }
            if wake_deferred() > 0 {
                // The next stage's service time starts after the wakes.
                t = clock.raw();
            }
            passes += 1;
            if work > 0 {
                busy += 1;
                if armed {
                    waker.awake();
                    armed = false;
                }
                idler.reset();
            } else if !armed && idler.parks_next() {
                // One more pass with the flag up, so no push can slip between this
                // thread's last look at its links and its park.
                waker.prepare_park();
                armed = true;
            } else {
                parks += u64::from(armed);
                idler.idle();
                if armed {
                    waker.awake();
                    armed = false;
                }
                t = clock.raw();
            }
        }
        for (i, slot) in slots.iter_mut().enumerate() {
            at = i;
            slot.stage.stop();
        }
        wake_deferred();
    }));
    report.passes = passes;
    report.busy_passes = busy;
    report.parks = parks;
    report.wakes = waker.wakes();
    if let Err(payload) = ran {
        let stage = slots.get(at).map(|s| s.name.clone()).unwrap_or_default();
        return fail(&control, report, &stage, &*payload);
    }
    report
}

fn fail(
    control: &Control,
    mut report: ThreadReport,
    stage: &str,
    payload: &(dyn std::any::Any + Send),
) -> ThreadReport {
    let p =
        StagePanic { thread: report.name.clone(), stage: stage.to_owned(), message: panic_message(payload) };
    control.halt(format!("stage `{}` on thread `{}` panicked: {}", p.stage, p.thread, p.message));
    control.request_stop();
    report.panic = Some(p);
    report
}

/// Running stage threads. Dropping it stops and joins them.
pub struct Running {
    control: Arc<Control>,
    threads: Vec<JoinHandle<ThreadReport>>,
    started: Instant,
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("threads", &self.threads.len())
            .field("control", &self.control)
            .finish()
    }
}

impl Running {
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Asks every thread to stop.
    pub fn stop(&self) {
        self.control.request_stop();
    }

    /// True once every thread has returned.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Waits until a stop is requested (by [`Running::stop`], a signal or a panic) or
    /// `timeout` passes, polling `every`. Returns true if a stop was requested.
    pub fn wait_for_stop(&self, timeout: Duration, every: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.control.is_stop_requested() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(every.min(deadline.saturating_duration_since(Instant::now())));
        }
        true
    }

    /// How long the threads have run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops (if not yet asked) and joins every thread. A stage panic is an error.
    pub fn join(mut self) -> Result<RunReport, RunError> {
        self.control.request_stop();
        let mut reports = Vec::new();
        let mut first_panic = None;
        for h in self.threads.drain(..) {
            let name = h.thread().name().unwrap_or("?").to_owned();
            match h.join() {
                Ok(r) => {
                    if let (None, Some(p)) = (&first_panic, &r.panic) {
                        first_panic = Some(p.clone());
                    }
                    reports.push(r);
                }
                Err(payload) => {
                    // run_thread catches stage panics; this is a panic in the runner itself.
                    first_panic.get_or_insert(StagePanic {
                        thread: name,
                        stage: "<runner>".into(),
                        message: panic_message(&*payload),
                    });
                }
            }
        }
        match first_panic {
            Some(p) => Err(RunError::StagePanicked { thread: p.thread, stage: p.stage, message: p.message }),
            None => Ok(RunReport { threads: reports }),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.control.request_stop();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}
