//! The live dashboard on a terminal. Until the full-screen view lands, a terminal gets
//! the same periodic status lines as a pipe.

use std::time::Duration;

use anyhow::Result;

use crate::engine::Session;

/// Shows `session` until `duration` passes or a stop is requested.
pub fn run(session: &Session, duration: Option<Duration>) -> Result<()> {
    let mut last = std::time::Instant::now();
    session.run_for(duration, |s| {
        if last.elapsed() >= Duration::from_secs(1) {
            last = std::time::Instant::now();
            eprintln!("{}", crate::cmd::live::status_line(s));
        }
    });
    Ok(())
}
