//! The journal directory as a whole: one engine at a time, and both logs or neither.
//!
//! Two engines appending to the same logs interleave their records, and each log then
//! fails its checksums: the second start is refused while the first holds the
//! directory's lock (an advisory `flock` on `arb.lock`, which the kernel releases when
//! the holder exits, however it exits). A directory holding one log without the other
//! has lost history (the state log's positions and operations, or the dispatch log's
//! orders and identity): trading on it would begin the lost log afresh, so the start is
//! refused and the operator told what is missing.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use pipeline::journal::{JournalKind, Replay};

/// The lock file in the journal directory.
pub(crate) const LOCK_FILE: &str = "arb.lock";

/// Held for the engine's life: the directory is this engine's.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: Flock<File>,
}

/// Takes the directory's lock, writing this process's id in it; refused, naming the
/// holder's, when another engine has it.
pub(crate) fn lock(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut file) => {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            Ok(DirLock { _file: file })
        }
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder.trim();
            let who = if pid.is_empty() {
                "another engine".to_owned()
            } else {
                format!("another engine (pid {pid})")
            };
            bail!(
                "journal {}: {who} is using it; two engines on one journal corrupt it. Stop that one, \
                 or give this one its own --journal directory",
                dir.display()
            )
        }
        Err((_, e)) => {
            Err(std::io::Error::from(e)).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Refuses a directory where one log holds history and the other is missing. A dispatch
/// log holding only its identity (a start that died before it made the state log) has
/// lost nothing.
pub(crate) fn check_whole(dir: &Path, replay: &Replay) -> Result<()> {
    let (dispatch, state) = (replay.dispatch_tail.is_some(), replay.state_tail.is_some());
    let lost = match (dispatch, state) {
        (true, false) if replay.dispatch_records > 1 => JournalKind::State,
        (false, true) if replay.state_records > 0 => JournalKind::Dispatch,
        _ => return Ok(()),
    };
    let held = match lost {
        JournalKind::State => "the positions, operations and P&L",
        JournalKind::Dispatch => "the orders sent and this instance's client order id prefix",
    };
    bail!(
        "journal {}: {} is missing while the other log is there; it held {held}, and trading on \
         would begin it afresh. Put the file back, or move the directory aside to start a new \
         journal (`arb journal {} --verify` shows what is left)",
        dir.display(),
        lost.file_name(),
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::journal::{JournalWriter, OpPhase, Record, replay};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("arb-journal-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = scratch("lock");
        let first = lock(&dir).unwrap();
        let e = format!("{:#}", lock(&dir).unwrap_err());
        assert!(e.contains(&format!("another engine (pid {}) is using it", std::process::id())), "{e}");
        drop(first);
        lock(&dir).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_log_with_history_and_the_other_missing_is_refused() {
        let dir = scratch("whole");
        assert!(check_whole(&dir, &replay(&dir).unwrap()).is_ok(), "a new directory");
        let (mut state, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
        state.append(&Record::OpPhase { op: 1, phase: OpPhase::Completed, ts_ns: 1 }).unwrap();
        state.commit().unwrap();
        drop(state);
        let e = check_whole(&dir, &replay(&dir).unwrap()).unwrap_err().to_string();
        assert!(e.contains("dispatch.journal is missing"), "{e}");
        JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        assert!(check_whole(&dir, &replay(&dir).unwrap()).is_ok(), "both logs");
        std::fs::remove_file(dir.join("state.journal")).unwrap();
        assert!(check_whole(&dir, &replay(&dir).unwrap()).is_ok(), "a dispatch log with nothing in it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
