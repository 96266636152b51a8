//! The mark an orderly stop leaves in the journal directory, so the next start knows
//! whether the last run could have had order requests in flight when it ended.
//!
//! After a crash (or a power loss) a request the dead run sent may still reach its venue
//! after the restart began; the restart's discovery of lost orders must wait until such
//! a request has been placed or has expired (`orders.restart_settle_ms`). After an
//! orderly stop with no operation open nothing is in flight and the restart need not
//! wait. The mark is written durably at the stop and removed durably at the next start,
//! before that run sends anything: a run that dies leaves no mark behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const FILE: &str = "stopped-in-order";

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Records, durably, that the run stopped in order with nothing in flight.
pub(crate) fn mark(dir: &Path) -> io::Result<()> {
    let mut f =
        OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(dir.join(FILE))?;
    f.write_all(b"the last run stopped in order with no operation open\n")?;
    f.sync_all()?;
    sync_dir(dir)
}

/// Whether the last run left the mark; removes it, durably, so that this run, should it
/// die, leaves none.
pub(crate) fn take(dir: &Path) -> io::Result<bool> {
    match std::fs::remove_file(dir.join(FILE)) {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_taken_once_and_a_run_that_dies_leaves_none() {
        let dir = std::env::temp_dir().join(format!("arb-clean-stop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!take(&dir).unwrap(), "a new journal has no mark");
        mark(&dir).unwrap();
        assert!(take(&dir).unwrap(), "an orderly stop's mark is seen");
        assert!(!take(&dir).unwrap(), "and taken: a run that dies after it leaves none");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
