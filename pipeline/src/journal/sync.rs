//! The journal's sync thread: durability off the tick-to-trade path.
//!
//! The dispatch and state stages write their records (one `write` per commit, page
//! cache) and never wait for the disk. This cold thread, on a housekeeping core, makes
//! what they wrote durable: it watches how far each journal file is written, and as the
//! [`FsyncPolicy`] says (as soon as anything is pending, every `n` records, every so many
//! milliseconds) it `fdatasync`s each file with pending bytes: one sync covers every
//! record written while the previous one ran (group commit). A process crash loses
//! nothing either way; a host crash loses at most what was written since the last sync,
//! and restart reconciles those orders with the venues by client order id.
//!
//! After each sync it rewrites the sidecar `journal.synced` in the journal directory
//! with the byte length of each file known to be durable (plain write, no fsync of its
//! own: it states what this process knows, for `arb journal` and for tests that simulate
//! a power loss by cutting each file back to that length).
//!
//! A failed `fdatasync` is recorded as the writer's failure cause and breaks the writer:
//! its next commit fails, no order goes out unjournaled, and the state stage halts
//! trading as for a failed write (after a failed sync the kernel may have dropped the
//! dirty pages: nothing written since can be trusted to be on disk).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use serde::{Deserialize, Serialize};

use super::codec::JournalKind;

/// When the journal's sync thread makes what was written durable. No policy fsyncs on
/// the thread that writes: a record is written (page cache) before its order is sent,
/// and the window between that write and the next sync is covered on restart by
/// reconciling with the venues by client order id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FsyncPolicy {
    /// No sync thread: writes survive a process crash, not a host crash (the demo).
    Never,
    /// Sync once `n` records are pending (and at stop).
    EveryN(u32),
    /// Sync as soon as anything is pending: group commit, one `fdatasync` per file for
    /// whatever was written while the last one ran.
    #[default]
    EveryRecord,
    /// Sync what is pending every this many milliseconds.
    IntervalMs(u64),
}

/// The sidecar holding each journal file's durable length.
pub const SYNCED_FILE: &str = "journal.synced";

/// How often the sync thread looks for pending records when the policy syncs as soon as
/// there are any (`every_record`, `every_n`).
const POLL: Duration = Duration::from_micros(100);

/// How far one journal file is written and synced: written by its writer (bytes,
/// records), by the sync thread (synced), each on its own cache line.
#[derive(Debug)]
pub(crate) struct Written {
    /// Bytes and records in the file after the writer's last write.
    written: CachePadded<(AtomicU64, AtomicU64)>,
    /// Bytes known durable, and the records they hold.
    synced: CachePadded<(AtomicU64, AtomicU64)>,
    /// A write or a sync failed: the writer accepts nothing more.
    broken: CachePadded<AtomicBool>,
}

impl Written {
    /// A file of `bytes` bytes and `records` records, all durable.
    pub(crate) fn new(bytes: u64, records: u64) -> Self {
        Self {
            written: CachePadded::new((AtomicU64::new(bytes), AtomicU64::new(records))),
            synced: CachePadded::new((AtomicU64::new(bytes), AtomicU64::new(records))),
            broken: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// The writer: the file now holds `bytes` bytes and `records` records.
    #[inline]
    pub(crate) fn publish(&self, bytes: u64, records: u64) {
        self.written.1.store(records, Ordering::Relaxed);
        self.written.0.store(bytes, Ordering::Release);
    }

    pub(crate) fn synced(&self) -> u64 {
        self.synced.0.load(Ordering::Acquire)
    }

    pub(crate) fn mark_synced(&self, bytes: u64) {
        let records = self.written.1.load(Ordering::Relaxed);
        self.synced.1.store(records, Ordering::Relaxed);
        self.synced.0.fetch_max(bytes, Ordering::Release);
    }

    #[inline]
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    pub(crate) fn break_it(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// (bytes written, records written, bytes synced, records synced).
    fn read(&self) -> (u64, u64, u64, u64) {
        let bytes = self.written.0.load(Ordering::Acquire);
        let records = self.written.1.load(Ordering::Relaxed);
        (bytes, records, self.synced.0.load(Ordering::Relaxed), self.synced.1.load(Ordering::Relaxed))
    }
}

/// What the sync thread needs of one journal file ([`super::JournalWriter::sync_handle`]).
#[derive(Debug)]
pub struct SyncHandle {
    kind: JournalKind,
    file: File,
    written: Arc<Written>,
    cause: Arc<OnceLock<io::Error>>,
}

impl SyncHandle {
    pub(crate) fn new(
        kind: JournalKind,
        file: File,
        written: Arc<Written>,
        cause: Arc<OnceLock<io::Error>>,
    ) -> Self {
        Self { kind, file, written, cause }
    }

    /// Bytes of the file known durable.
    pub fn synced_len(&self) -> u64 {
        self.written.synced()
    }

    /// Syncs what is pending if `due` says so for (pending bytes, pending records).
    /// Returns whether a sync ran.
    fn sync_if(&self, due: impl Fn(u64, u64) -> bool) -> bool {
        let (bytes, records, synced, synced_records) = self.written.read();
        if bytes <= synced || self.written.is_broken() || !due(bytes - synced, records - synced_records) {
            return false;
        }
        match self.file.sync_data() {
            Ok(()) => self.written.mark_synced(bytes),
            Err(e) => {
                let _ = self.cause.set(e);
                self.written.break_it();
            }
        }
        true
    }
}

/// Counters of a sync thread, readable from any thread.
#[derive(Debug, Default)]
pub struct SyncStats {
    /// `fdatasync` calls made.
    pub syncs: AtomicU64,
    /// The longest one, in nanoseconds.
    pub max_sync_ns: AtomicU64,
}

/// The running sync thread. [`JournalSync::stop`] (or dropping it) syncs what is
/// pending one last time and joins it.
#[derive(Debug)]
pub struct JournalSync {
    stop: Arc<AtomicBool>,
    stats: Arc<SyncStats>,
    thread: Option<JoinHandle<()>>,
}

impl JournalSync {
    /// Starts the sync thread of the journal files in `dir` under `policy`; `None` for
    /// [`FsyncPolicy::Never`]. The thread moves to the housekeeping cores before it
    /// does anything.
    pub fn start(policy: FsyncPolicy, dir: &Path, files: Vec<SyncHandle>) -> io::Result<Option<Self>> {
        if policy == FsyncPolicy::Never {
            return Ok(None);
        }
        let sidecar = dir.join(SYNCED_FILE);
        write_sidecar(&sidecar, &files)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(SyncStats::default());
        let (s, st) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || run(policy, &files, &sidecar, &s, &st))?;
        Ok(Some(Self { stop, stats, thread: Some(thread) }))
    }

    pub fn stats(&self) -> &Arc<SyncStats> {
        &self.stats
    }

    /// Syncs what is pending and joins the thread.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // It may be waiting out a long `interval_ms`.
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for JournalSync {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(policy: FsyncPolicy, files: &[SyncHandle], sidecar: &Path, stop: &AtomicBool, stats: &SyncStats) {
    // Best effort: on the process's own cores, the thread still syncs.
    let _ = crate::runtime::cores::enter_housekeeping();
    let (pause, due): (Duration, Box<dyn Fn(u64, u64) -> bool>) = match policy {
        FsyncPolicy::EveryN(n) => (POLL, Box::new(move |_, records| records >= u64::from(n.max(1)))),
        FsyncPolicy::IntervalMs(ms) => (Duration::from_millis(ms).max(POLL), Box::new(|_, _| true)),
        FsyncPolicy::EveryRecord | FsyncPolicy::Never => (POLL, Box::new(|_, _| true)),
    };
    if matches!(policy, FsyncPolicy::IntervalMs(_)) {
        // Open synced what it found: the first sync is an interval after it, however
        // much the stages (started first) have written by the time this thread runs.
        std::thread::park_timeout(pause);
    }
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let mut synced = false;
        for f in files {
            let started = Instant::now();
            // At stop, everything pending goes, whatever the policy.
            if f.sync_if(|bytes, records| stopping || due(bytes, records)) {
                synced = true;
                stats.syncs.fetch_add(1, Ordering::Relaxed);
                stats.max_sync_ns.fetch_max(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        }
        if synced {
            // What it states is diagnostic; a failure to say it is not worth a halt.
            let _ = write_sidecar(sidecar, files);
        }
        if stopping {
            return;
        }
        // A park, not a sleep: the stop unparks it.
        std::thread::park_timeout(pause);
    }
}

/// One line per file, `<file name> <durable bytes>`, numbers padded so that every
/// rewrite has the same length and never leaves a longer old tail behind.
fn write_sidecar(path: &Path, files: &[SyncHandle]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut text = String::new();
    for f in files {
        text.push_str(&format!("{} {:020}\n", f.kind.file_name(), f.synced_len()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all_at(text.as_bytes(), 0)
}

/// The durable length of each journal file as the last sync thread to run in `dir`
/// recorded it (`journal.synced`).
pub fn read_synced(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let text = std::fs::read_to_string(dir.join(SYNCED_FILE))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, len)) = line.split_once(' ') else { continue };
        let len =
            len.trim().parse().map_err(|_| io::Error::other(format!("{SYNCED_FILE}: bad line {line:?}")))?;
        out.push((dir.join(name), len));
    }
    Ok(out)
}
