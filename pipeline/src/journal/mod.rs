//! The journal: an append-only, checksummed record of every order the engine sends and
//! everything that happened to it, so that a restart rebuilds the engine's state and
//! knows which orders to reconcile with the venues before trading resumes.
//!
//! Two writers, two files per journal directory, never shared:
//! - `dispatch.journal`, the dispatch stage's **write-ahead intent log**: the intent of
//!   every order (and cancel, query) is appended and committed *before* it is sent;
//! - `state.journal`, the state stage's **event log**: operation starts, order events,
//!   fills as applied to positions (after duplicate removal), phase changes, operation
//!   results with realized P&L, instrument halts.
//!
//! Every record is a frame with a length, a CRC32 and a sequence number, and an explicit
//! little-endian, versioned payload ([`codec`]). The reader ([`reader`]) verifies every
//! frame, stops cleanly at a torn tail (an unfinished last write) and reports corruption
//! anywhere else, the last complete record included; [`replay`] rebuilds operations,
//! orders, positions and realized P&L, lists the orders whose outcome is unknown and the
//! highest op id seen; [`inspect`] prints a summary, every problem (a missing log, a torn
//! tail, each damaged stretch) and a verdict; [`history`] lists the operations and fills
//! with times, P&L and fees, and sums them per UTC day.
//!
//! Writing costs one `write` per commit on the writing stage's thread; encoding is
//! allocation-free into a buffer reserved at open. Durability is the sync thread's
//! ([`JournalSync`]): it group-commits with `fdatasync` as the [`FsyncPolicy`] says, on a
//! housekeeping core, and records each file's durable length in `journal.synced`.

pub mod codec;
mod error;
pub mod history;
mod identity;
mod inspect;
pub mod reader;
pub mod replay;
mod sync;
mod writer;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use codec::{
    BREAKER_SLOTS, BreakerRecord, FillApplied, FillValuation, JournalKind, OpPhase, OrderState, Record,
    RecordKind, TimeInForce,
};
pub use error::JournalError;
pub use history::{Day, FillSource, History, HistoryFill, HistoryOp, Outcome, daily, history};
pub use identity::{ClientPrefix, PREFIX_LEN};
pub use inspect::{FileSummary, Inspection, Issue, Problem, Verdict, inspect};
pub use reader::{Damage, Entry, Finding, JournalFile, Tail, read_file, verify};
pub use replay::{KillSwitch, Replay, ReplayOp, ReplayOrder, ReplayPosition, replay};
pub use sync::FsyncPolicy;
pub use sync::{JournalSync, SYNCED_FILE, SyncHandle, SyncStats, read_synced};
pub use writer::{JournalWriter, Opened};

/// Journal configuration (`[journal]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The directory holding `dispatch.journal` and `state.journal`.
    pub dir: PathBuf,
    /// When the sync thread fsyncs: `"never"` (no sync thread), `"every_record"` (as soon
    /// as anything is pending), `{ every_n = 16 }` or `{ interval_ms = 10 }`. Never on
    /// the dispatch or state thread.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

impl JournalConfig {
    /// Checks of `[journal]`: a directory, and fsync counts and intervals of at least 1.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.text("dir", &self.dir.to_string_lossy());
        match self.fsync {
            FsyncPolicy::EveryN(n) => c.at_least("fsync.every_n", u64::from(n), 1),
            FsyncPolicy::IntervalMs(ms) => c.at_least("fsync.interval_ms", ms, 1),
            FsyncPolicy::Never | FsyncPolicy::EveryRecord => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
