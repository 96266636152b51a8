//! The live dashboard: a full-screen view of a running engine on a terminal (ratatui),
//! refreshed four times a second from the telemetry handle. `q` or Ctrl-C stops the
//! engine, `k` throws the kill switch. Without a terminal (or with `--no-tui`, or in a
//! build without the `tui` feature) the engine prints one status line per second.

use std::time::Duration;

use anyhow::Result;

use crate::engine::Session;

mod header;
#[cfg(feature = "tui")]
mod screen;

pub use header::Header;

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
    eprintln!("universe: {}", session.universe());
    let mut last = std::time::Instant::now();
    session.run_for(duration, |s| {
        if last.elapsed() >= Duration::from_secs(1) {
            last = std::time::Instant::now();
            eprintln!("{}", status_line(s));
        }
    });
}

/// Reconciliation with the venues' balances in one line, and whether it is an alarm: the
/// venues halted for a drift (with the command that lifts it), else the wallets drifting
/// beyond the tolerance now, else the wallets that agree.
pub fn drift_text(board: &pipeline::state::DriftBoard) -> (String, bool) {
    let lines = board.lines();
    let halted: Vec<_> = pipeline::types::Venue::ALL.iter().filter(|v| board.is_halted(**v)).collect();
    let drifting: Vec<String> = lines
        .iter()
        .filter(|l| l.streak > 0)
        .map(|l| {
            format!(
                "{} {} {}: expected {}, venue {}",
                l.venue,
                l.account.name(),
                l.asset,
                l.expected,
                l.actual
            )
        })
        .collect();
    if !halted.is_empty() {
        let names: Vec<String> = halted.iter().map(|v| v.to_string()).collect();
        return (
            format!(
                "DRIFT HALT {} ({}); `arb ctl ack-drift VENUE` after checking",
                names.join(", "),
                if drifting.is_empty() { "journaled".to_owned() } else { drifting.join("; ") }
            ),
            true,
        );
    }
    if !drifting.is_empty() {
        return (format!("balance drift: {}", drifting.join("; ")), true);
    }
    (format!("balances: {} wallets agree with the venues", lines.len()), false)
}

/// One status line: the header state ([`Header`]), books, opportunities, operations, P&L, latency.
pub fn status_line(s: &Session) -> String {
    let snap = s.stats().snapshot();
    let books = s.sync_progress();
    let all_synced = books.time_to_all_synced_ms.map(|ms| format!(" all in {:.1}s", ms as f64 / 1000.0));
    let view = s.view();
    let resync = crate::engine::resync_text(&books, crate::engine::resync_summary(&view.latency));
    let all_synced = match (all_synced, resync.is_empty()) {
        (a, true) => a,
        (a, false) => Some(format!("{}, {resync}", a.unwrap_or_default())),
    };
    let t2t = view.window.iter().find(|w| w.name == "tick_to_trade").filter(|w| w.count > 0);
    let t2t = t2t
        .map(|w| format!("t2t p50 {}us p99 {}us", w.p50_ns / 1000, w.p99_ns / 1000))
        .unwrap_or_else(|| "t2t -".into());
    format!(
        "[{:>5.1}s] {} | books {}/{}{} | detected {} executed {} | completed {} failed {} missed {} recoveries {} as planned {} | P&L {} USD | exposure {} USD | {}{}",
        s.uptime().as_secs_f64(),
        Header::from(&crate::telemetry::Telemetry::of(s)).label(),
        books.books_synced,
        books.books_total,
        all_synced.unwrap_or_default(),
        snap.detect.emitted.iter().sum::<u64>(),
        snap.risk.approved.iter().sum::<u64>(),
        snap.state.ops_completed.iter().sum::<u64>(),
        snap.state.ops_failed.iter().sum::<u64>(),
        snap.state.ops_missed.iter().sum::<u64>(),
        snap.state.recoveries,
        snap.state
            .quality
            .execution_success()
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0)),
        snap.state.realized_pnl,
        snap.risk.exposure,
        t2t,
        match drift_text(s.drift()) {
            (text, true) => format!(" | {text}"),
            (_, false) => String::new(),
        },
    )
}
