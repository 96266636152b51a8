//! `journal::inspect`: a printable summary of a journal directory and an integrity
//! verdict, for `arb journal DIR [--verify]`.
//!
//! Both logs are opened when the engine starts, so a directory that holds one of them
//! but not the other has lost a file: that is named, never taken as a fresh start. Each
//! file is verified to its end ([`verify`]): every damaged stretch is named with its
//! byte offset and record number, and a torn tail (an unfinished last write, which the
//! next start cuts off) is told apart from corruption.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::codec::{JournalKind, RecordKind};
use super::error::JournalError;
use super::reader::{Finding, JournalFile, Tail, parse, verify};
use super::replay::{Replay, rebuild};

/// The integrity of a journal directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every byte verified.
    Intact,
    /// A torn tail (an interrupted write) that the writer will cut off: safe to resume.
    TornTail,
    /// One of the two logs is missing: do not trade on this history.
    Missing,
    /// Damage that is not a torn tail: do not trade on this history.
    Corrupt,
    /// No journal files in the directory.
    Empty,
}

impl Verdict {
    /// True when trading may resume on this history.
    pub fn is_ok(self) -> bool {
        matches!(self, Verdict::Intact | Verdict::TornTail | Verdict::Empty)
    }
}

/// What is wrong with one journal file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issue {
    /// The file is not there.
    Missing,
    /// A torn tail or damage inside the file.
    Found(Finding),
}

/// One problem and the file it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub kind: JournalKind,
    pub issue: Issue,
}

impl Problem {
    /// True for a problem the engine does not recover from by itself.
    pub fn is_fatal(&self) -> bool {
        match self.issue {
            Issue::Missing => true,
            Issue::Found(f) => f.is_corrupt(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match self.issue {
            Issue::Missing => write!(f, "MISSING (the {} log)", self.kind.name()),
            Issue::Found(found) => found.fmt(f),
        }
    }
}

/// One file's summary.
#[derive(Clone, Debug)]
pub struct FileSummary {
    pub path: PathBuf,
    pub kind: JournalKind,
    pub bytes: u64,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub by_kind: BTreeMap<RecordKind, u64>,
    pub tail: Tail,
}

/// What `inspect` found.
#[derive(Clone, Debug)]
pub struct Inspection {
    pub dir: PathBuf,
    pub files: Vec<FileSummary>,
    /// Every problem, file by file, in file order.
    pub problems: Vec<Problem>,
    /// The replayed state (of the verified prefix when a file is corrupt).
    pub replay: Replay,
    pub verdict: Verdict,
    /// The logs as read (up to the first problem in each), when present.
    pub dispatch: Option<JournalFile>,
    pub state: Option<JournalFile>,
}

/// Reads and verifies every journal in `dir`, and replays them.
pub fn inspect(dir: &Path) -> Result<Inspection, JournalError> {
    let mut problems = Vec::new();
    let mut read = |kind: JournalKind| -> Result<Option<JournalFile>, JournalError> {
        let path = dir.join(kind.file_name());
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(Problem { path, kind, issue: Issue::Missing });
                return Ok(None);
            }
            Err(e) => return Err(JournalError::Io(e.kind())),
        };
        let j = parse(&path, &bytes)?;
        if j.kind != kind {
            return Err(JournalError::WrongFile);
        }
        for found in verify(&bytes)? {
            problems.push(Problem { path: path.clone(), kind, issue: Issue::Found(found) });
        }
        Ok(Some(j))
    };
    let (dispatch, state) = (read(JournalKind::Dispatch)?, read(JournalKind::State)?);
    let files: Vec<FileSummary> = [&dispatch, &state].into_iter().flatten().map(summarize).collect();
    let any = |p: fn(&Problem) -> bool| problems.iter().any(p);
    let verdict = if files.is_empty() {
        Verdict::Empty
    } else if any(|p| matches!(p.issue, Issue::Found(f) if f.is_corrupt())) {
        Verdict::Corrupt
    } else if any(|p| p.issue == Issue::Missing) {
        Verdict::Missing
    } else if any(|p| matches!(p.issue, Issue::Found(Finding::Torn { .. }))) {
        Verdict::TornTail
    } else {
        Verdict::Intact
    };
    let replay = rebuild(dispatch.as_ref(), state.as_ref());
    Ok(Inspection { dir: dir.to_path_buf(), files, problems, replay, verdict, dispatch, state })
}

fn summarize(j: &JournalFile) -> FileSummary {
    let mut by_kind = BTreeMap::new();
    for r in j.records() {
        *by_kind.entry(r.kind()).or_insert(0u64) += 1;
    }
    FileSummary {
        path: j.path.clone(),
        kind: j.kind,
        bytes: j.len,
        records: j.entries.len() as u64,
        first_seq: j.entries.first().map_or(0, |e| e.seq),
        last_seq: j.last_seq(),
        by_kind,
        tail: j.tail,
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "journal {}", self.dir.display())?;
        for s in &self.files {
            writeln!(
                f,
                "  {} log {}: {} records (seq {}..={}), {} bytes, {}",
                s.kind.name(),
                s.path.display(),
                s.records,
                s.first_seq,
                s.last_seq,
                s.bytes,
                s.tail
            )?;
            for (k, n) in &s.by_kind {
                writeln!(f, "    {:<16} {n}", k.name())?;
            }
        }
        let r = &self.replay;
        let open = r.open_ops().count();
        let done = r.ops.iter().filter(|o| o.finished && o.success).count();
        let failed = r.ops.iter().filter(|o| o.finished && !o.success).count();
        writeln!(
            f,
            "  operations: {} ({} completed, {} failed, {} open); last op id {}",
            r.ops.len(),
            done,
            failed,
            open,
            r.last_op_id
        )?;
        // Each operation journals what it realized on closed quantity less its fees: the
        // report's realized P&L minus its fees, not its realized P&L.
        writeln!(f, "  realized P&L less fees: {} USD", r.realized_pnl)?;
        for p in r.positions.iter().filter(|p| !p.qty.is_zero()) {
            writeln!(
                f,
                "  position inst {}: qty mantissa {}, cost {}, fees {}",
                p.inst.0, p.qty.0, p.cost, p.fees
            )?;
        }
        let unresolved: Vec<_> = r.unresolved().collect();
        writeln!(
            f,
            "  orders: {}; unresolved (reconcile before trading): {}",
            r.orders.len(),
            unresolved.len()
        )?;
        for o in unresolved {
            writeln!(
                f,
                "    op {} leg {} attempt {}: inst {} {} qty mantissa {} ({})",
                o.client.op,
                o.client.leg,
                o.client.attempt,
                o.inst.0,
                o.side,
                o.qty.0,
                o.state.name()
            )?;
        }
        if !r.halted.is_empty() {
            let ids: Vec<String> = r.halted.iter().map(|i| i.0.to_string()).collect();
            writeln!(f, "  halted instruments (operator decision pending): {}", ids.join(", "))?;
        }
        if !self.problems.is_empty() {
            writeln!(f, "  problems:")?;
            for p in &self.problems {
                writeln!(f, "    {p}")?;
            }
        }
        let verdict = match self.verdict {
            Verdict::Intact => "INTACT",
            Verdict::TornTail => {
                "INTACT after recovery (a torn tail from an interrupted write; the next start cuts it off)"
            }
            Verdict::Missing => {
                "MISSING FILE: do not resume trading on this history (a start would begin the lost log afresh)"
            }
            Verdict::Corrupt => "CORRUPT: do not resume trading on this history",
            Verdict::Empty => "EMPTY (no journal files)",
        };
        writeln!(f, "  verdict: {verdict}")
    }
}
