//! The runtime benchmark: synthetic events through a chain of trivial stages in a given
//! layout, measured against a bare rtrb floor in the same process.
//!
//! - Latency: the source sends one probe at a time and waits until the sink has it, so
//!   each hop is measured on an idle pipeline. The floor is the same ping-pong over two
//!   bare rtrb rings between two threads, stamping with the same clock and recording
//!   into the same kind of histogram, so the ratio isolates what the runtime adds.
//! - Throughput: events per second through one link between two threads, single and
//!   batched, for the runtime's link and for bare rtrb; and through the whole chain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use quanta::Clock;

use crate::metrics::{LatencyHistogram, MetricsHub, SeriesKind, Summary};
use crate::runtime::{Backpressure, Control, Layout, Runner, StartError, link};
use crate::synthetic::{Emit, Probe, Progress, Relay, Sink, Source};

/// Ring capacity used throughout the benchmark.
pub const CAPACITY: usize = 4096;
/// Batch size of the batched modes.
pub const BATCH: usize = 256;

/// Latency of one hop of the chain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hop {
    pub name: String,
    /// True when producer and consumer stages run on different threads.
    pub cross_thread: bool,
    pub summary: Summary,
}

/// Latency of the chain: every hop, cross-thread hops merged, and end to end.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChainLatency {
    pub hops: Vec<Hop>,
    /// All cross-thread hops merged (all hops when the layout has one thread).
    pub hop: Summary,
    pub end_to_end: Summary,
}

fn thread_of<'a>(layout: &'a Layout, stage: &str) -> Option<&'a str> {
    layout.threads.iter().find(|t| t.stages.iter().any(|s| s == stage)).map(|t| t.name.as_str())
}

fn new_histogram() -> LatencyHistogram {
    *crate::metrics::new_histogram()
}

/// Builds source -> relays -> sink over `stages` (at least two names) and starts it.
fn start_chain(
    layout: &Layout,
    stages: &[&str],
    emit: Emit,
    batch: usize,
    limit: u64,
    clock: &Clock,
    hub: &mut MetricsHub,
) -> Result<(crate::runtime::Running, Arc<Progress>, Vec<String>), StartError> {
    assert!(stages.len() >= 2, "a chain needs a source and a sink");
    let progress = Progress::new();
    let mut runner = Runner::new(clock.clone());
    let mut links = Vec::new();
    let mut names = Vec::new();
    for w in stages.windows(2) {
        let name = format!("{}->{}", w[0], w[1]);
        let rec = hub.recorder(name.clone(), SeriesKind::Hop);
        links.push(link::<Probe>(name.clone(), CAPACITY, Backpressure::Retry, clock.clone(), rec));
        names.push(name);
    }
    let path = hub.recorder("end-to-end", SeriesKind::Path);
    let mut links = links.into_iter();
    let (mut tx, mut rx) = links.next().expect("two stages make a link");
    let (c, p) = (clock.clone(), progress.clone());
    runner.stage(stages[0], move || Source::new(tx, c, emit, limit, p));
    for stage in &stages[1..stages.len() - 1] {
        let (next_tx, next_rx) = links.next().expect("one link per stage pair");
        tx = next_tx;
        runner.stage(*stage, move || Relay::new(rx, tx, batch));
        rx = next_rx;
    }
    let (c, p) = (clock.clone(), progress.clone());
    runner.stage(stages[stages.len() - 1], move || Sink::new(rx, c, batch, p, path));
    let running = runner.start(layout, hub, Control::new())?;
    Ok((running, progress, names))
}

fn wait_for(progress: &Progress, n: u64, hub: &mut MetricsHub) {
    while progress.received() < n {
        thread::sleep(Duration::from_millis(1));
        hub.collect();
    }
}

/// Paced latency of `events` probes through `stages` in `layout`.
pub fn chain_latency(layout: &Layout, stages: &[&str], events: u64) -> Result<ChainLatency, StartError> {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let (running, progress, names) = start_chain(layout, stages, Emit::Paced, 1, events, &clock, &mut hub)?;
    wait_for(&progress, events, &mut hub);
    // The runner only fails to join on a stage panic; trivial stages do not panic.
    let _ = running.join();
    hub.collect();
    let mut merged = new_histogram();
    let mut all = new_histogram();
    let mut hops = Vec::new();
    for (name, w) in names.iter().zip(stages.windows(2)) {
        let h = hub.total(name).expect("registered");
        let cross_thread = thread_of(layout, w[0]) != thread_of(layout, w[1]);
        if cross_thread {
            let _ = merged.add(h);
        }
        let _ = all.add(h);
        hops.push(Hop { name: name.clone(), cross_thread, summary: Summary::of(name, SeriesKind::Hop, h) });
    }
    let hop = if merged.is_empty() {
        Summary::of("hop (all)", SeriesKind::Hop, &all)
    } else {
        Summary::of("hop (cross-thread)", SeriesKind::Hop, &merged)
    };
    let e2e = hub.total("end-to-end").expect("registered");
    Ok(ChainLatency { hops, hop, end_to_end: Summary::of("end-to-end", SeriesKind::Path, e2e) })
}

/// Events per second through the whole chain, pushing as fast as the rings allow.
pub fn chain_throughput(
    layout: &Layout,
    stages: &[&str],
    events: u64,
    batch: usize,
) -> Result<f64, StartError> {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let emit = if batch > 1 { Emit::Batched(batch) } else { Emit::Single };
    let started = Instant::now();
    let (running, progress, _) = start_chain(layout, stages, emit, batch, events, &clock, &mut hub)?;
    wait_for(&progress, events, &mut hub);
    let secs = started.elapsed().as_secs_f64();
    let _ = running.join();
    Ok(events as f64 / secs)
}

fn pin(core: Option<usize>) {
    if let Some(id) = core {
        let _ = crate::runtime::cores::pin_current(id);
    }
}

/// Paced one-way latency over a bare rtrb ring between two threads on `cores`: the
/// floor. Pacing is the same as the chain's: the producer sends the next probe once the
/// consumer has counted the previous one; stamps and histogram are the same kind.
pub fn floor_latency(events: u64, cores: (Option<usize>, Option<usize>)) -> Summary {
    let clock = Clock::new();
    let (mut tx, mut rx) = rtrb::RingBuffer::<(u64, u64)>::new(CAPACITY);
    let received = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let (c, r) = (clock.clone(), received.clone());
    let consumer = thread::spawn(move || {
        pin(cores.1);
        let mut hist = new_histogram();
        let mut seen = 0;
        while seen < events {
            match rx.pop() {
                Ok((_, stamp)) => {
                    let now = c.raw();
                    hist.saturating_record(c.delta_as_nanos(stamp, now));
                    seen += 1;
                    r.store(seen, Ordering::Release);
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
        hist
    });
    let (c, r) = (clock.clone(), received);
    let producer = thread::spawn(move || {
        pin(cores.0);
        for seq in 0..events {
            while tx.push((seq, c.raw())).is_err() {
                std::hint::spin_loop();
            }
            while r.load(Ordering::Acquire) <= seq {
                std::hint::spin_loop();
            }
        }
    });
    let _ = producer.join();
    let hist = consumer.join().unwrap_or_else(|_| new_histogram());
    Summary::of("floor (bare rtrb)", SeriesKind::Hop, &hist)
}

/// Events per second over one of the runtime's links between two threads, with hop
/// latency recorded for every event. `batch` of 1 means single push and pop.
pub fn link_throughput(events: u64, batch: usize, cores: (Option<usize>, Option<usize>)) -> f64 {
    let clock = Clock::new();
    let mut hub = MetricsHub::new(clock.clone());
    let rec = hub.recorder("link", SeriesKind::Hop);
    let (mut tx, mut rx) = link::<Probe>("link", CAPACITY, Backpressure::Retry, clock, rec);
    let go = Arc::new(CachePadded::new(AtomicBool::new(false)));
    let g = go.clone();
    let consumer = thread::spawn(move || {
        pin(cores.1);
        let mut seen = 0u64;
        let mut sum = 0u64;
        while !g.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        while seen < events {
            let n = if batch > 1 {
                rx.drain(batch, |p| sum = sum.wrapping_add(p.seq))
            } else {
                match rx.pop() {
                    Some(p) => {
                        sum = sum.wrapping_add(p.seq);
                        1
                    }
                    None => 0,
                }
            };
            if n == 0 {
                std::hint::spin_loop();
            }
            seen += n as u64;
        }
        (t0.elapsed(), sum)
    });
    let g = go.clone();
    let producer = thread::spawn(move || {
        pin(cores.0);
        let mut buf = vec![Probe::default(); batch.max(1)];
        g.store(true, Ordering::Release);
        let mut next = 0u64;
        while next < events {
            if batch > 1 {
                let n = (batch as u64).min(events - next) as usize;
                for (i, p) in buf[..n].iter_mut().enumerate() {
                    p.seq = next + i as u64;
                }
                next += tx.push_batch(&buf[..n]) as u64;
            } else if tx.push(Probe { seq: next, origin: 0 }).is_ok() {
                next += 1;
            }
        }
    });
    let _ = producer.join();
    let (elapsed, sum) = consumer.join().unwrap_or((Duration::from_secs(1), 0));
    std::hint::black_box(sum);
    events as f64 / elapsed.as_secs_f64()
}

/// Events per second over bare rtrb between two threads: the throughput floor.
pub fn floor_throughput(events: u64, batch: usize, cores: (Option<usize>, Option<usize>)) -> f64 {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Probe>::new(CAPACITY);
    let go = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let g = go.clone();
    let consumer = thread::spawn(move || {
        pin(cores.1);
        let mut seen = 0u64;
        let mut sum = 0u64;
        while g.load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        while seen < events {
            if batch > 1 {
                let n = rx.slots().min(batch);
                if n == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                if let Ok(chunk) = rx.read_chunk(n) {
                    let (a, b) = chunk.as_slices();
                    for p in a.iter().chain(b) {
                        sum = sum.wrapping_add(p.seq);
                    }
                    chunk.commit_all();
                }
                seen += n as u64;
            } else {
                match rx.pop() {
                    Ok(p) => {
                        sum = sum.wrapping_add(p.seq);
                        seen += 1;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
        }
        (t0.elapsed(), sum)
    });
    let g = go.clone();
    let producer = thread::spawn(move || {
        pin(cores.0);
        g.store(1, Ordering::Release);
        let mut next = 0u64;
        while next < events {
            if batch > 1 {
                let n = tx.slots().min(batch).min((events - next) as usize);
                if n == 0 {
                    continue;
                }
                if let Ok(chunk) = tx.write_chunk_uninit(n) {
                    chunk.fill_from_iter((next..next + n as u64).map(|seq| Probe { seq, origin: 0 }));
                }
                next += n as u64;
            } else if tx.push(Probe { seq: next, origin: 0 }).is_ok() {
                next += 1;
            }
        }
    });
    let _ = producer.join();
    let (elapsed, sum) = consumer.join().unwrap_or((Duration::from_secs(1), 0));
    std::hint::black_box(sum);
    events as f64 / elapsed.as_secs_f64()
}

/// Two pinned threads bouncing one event back and forth, for criterion. Both threads
/// live as long as the value; the calling thread only hands out work and collects the
/// time, so it is never pinned itself.
pub struct PingPong {
    request: Arc<CachePadded<AtomicU64>>,
    elapsed_ns: Arc<CachePadded<AtomicU64>>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for PingPong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PingPong").finish_non_exhaustive()
    }
}

/// No request pending.
const IDLE: u64 = u64::MAX;

impl PingPong {
    /// Round trips over the runtime's links (stamped, hop latency recorded).
    pub fn runtime_link(cores: (Option<usize>, Option<usize>)) -> Self {
        let clock = Clock::new();
        let mut hub = MetricsHub::new(clock.clone());
        let (mut tx, mut rx_far) = link::<Probe>(
            "there",
            CAPACITY,
            Backpressure::Retry,
            clock.clone(),
            hub.recorder("there", SeriesKind::Hop),
        );
        let (mut tx_far, mut rx) = link::<Probe>(
            "back",
            CAPACITY,
            Backpressure::Retry,
            clock,
            hub.recorder("back", SeriesKind::Hop),
        );
        let echo = move || {
            if let Some(p) = rx_far.pop() {
                while tx_far.push(p).is_err() {
                    std::hint::spin_loop();
                }
            }
        };
        let send = move |seq: u64| {
            while tx.push(Probe { seq, origin: 0 }).is_err() {
                std::hint::spin_loop();
            }
            while rx.pop().is_none() {
                std::hint::spin_loop();
            }
        };
        Self::start(send, echo, cores)
    }

    /// Round trips over bare rtrb, stamping and recording the same way: the floor.
    pub fn bare_rtrb(cores: (Option<usize>, Option<usize>)) -> Self {
        let clock = Clock::new();
        let (mut tx, mut rx_far) = rtrb::RingBuffer::<(u64, u64)>::new(CAPACITY);
        let (mut tx_far, mut rx) = rtrb::RingBuffer::<(u64, u64)>::new(CAPACITY);
        let c = clock.clone();
        let mut far_hist = new_histogram();
        let echo = move || {
            if let Ok(p) = rx_far.pop() {
                let now = c.raw();
                far_hist.saturating_record(c.delta_as_nanos(p.1, now));
                while tx_far.push((p.0, c.raw())).is_err() {
                    std::hint::spin_loop();
                }
            }
        };
        let mut hist = new_histogram();
        let send = move |seq: u64| {
            while tx.push((seq, clock.raw())).is_err() {
                std::hint::spin_loop();
            }
            loop {
                if let Ok(p) = rx.pop() {
                    let now = clock.raw();
                    hist.saturating_record(clock.delta_as_nanos(p.1, now));
                    break;
                }
                std::hint::spin_loop();
            }
        };
        Self::start(send, echo, cores)
    }

    fn start(
        mut send: impl FnMut(u64) + Send + 'static,
        mut echo: impl FnMut() + Send + 'static,
        cores: (Option<usize>, Option<usize>),
    ) -> Self {
        let request = Arc::new(CachePadded::new(AtomicU64::new(IDLE)));
        let elapsed_ns = Arc::new(CachePadded::new(AtomicU64::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let far = thread::spawn(move || {
            pin(cores.1);
            while !s.load(Ordering::Relaxed) {
                echo();
            }
        });
        let (r, e, s) = (request.clone(), elapsed_ns.clone(), stop.clone());
        let near = thread::spawn(move || {
            pin(cores.0);
            while !s.load(Ordering::Relaxed) {
                let iters = r.load(Ordering::Acquire);
                if iters == IDLE {
                    std::hint::spin_loop();
                    continue;
                }
                let t0 = Instant::now();
                for seq in 0..iters {
                    send(seq);
                }
                e.store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                r.store(IDLE, Ordering::Release);
            }
        });
        Self { request, elapsed_ns, stop, threads: vec![far, near] }
    }

    /// Times `iters` round trips.
    pub fn round_trips(&mut self, iters: u64) -> Duration {
        self.request.store(iters.min(IDLE - 1), Ordering::Release);
        while self.request.load(Ordering::Acquire) != IDLE {
            thread::yield_now();
        }
        Duration::from_nanos(self.elapsed_ns.load(Ordering::Relaxed))
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}
