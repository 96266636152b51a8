//! The live dashboard: a full-screen view of a running engine on a terminal (ratatui),
//! refreshed four times a second from the telemetry handle. `q` or Ctrl-C stops the
//! engine, `k` throws the kill switch. Without a terminal (or with `--no-tui`, or in a
//! build without the `tui` feature) the engine prints one status line per second.

use std::time::Duration;

use anyhow::Result;

use crate::engine::Session;

#[cfg(feature = "tui")]
mod screen;

/// Shows `session` until `duration` passes or a stop is requested.
pub fn run(session: &Session, duration: Option<Duration>) -> Result<()> {
    #[cfg(feature = "tui")]
    {
        screen::run(session, duration)
    }
    #[cfg(not(feature = "tui"))]
    {
        status_lines(session, duration);
        Ok(())
    }
}

/// One status line per second on stderr.
pub fn status_lines(session: &Session, duration: Option<Duration>) {
    let mut last = std::time::Instant::now();
    session.run_for(duration, |s| {
        if last.elapsed() >= Duration::from_secs(1) {
            last = std::time::Instant::now();
            eprintln!("{}", crate::cmd::live::status_line(s));
        }
    });
}
