//! `arb journal DIR`: the operations, positions and integrity of a journal directory
//! (`--verify`), and its trade history (`--operations`, `--fills`, `--daily`).
//!
//! Exit status of `--verify`: 0 when every record verifies, and also when the only
//! problem is a torn tail (an unfinished last write, which the engine cuts off on its
//! next start: a note on stderr says so); 1 when a log is missing, a record is corrupt,
//! or the directory holds no journal. The history views print what the journal holds up
//! to any damage, then exit 1 when there is damage or a missing log (0 with a note for a
//! torn tail).
//!
//! Colour: tables are coloured only when stdout is a terminal or `CLICOLOR_FORCE` is set
//! (not `0`), and never when `NO_COLOR` is set to anything but the empty string.

mod render;
mod trades;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use pipeline::journal::{Inspection, Verdict, history, inspect};

pub use render::Paint;
pub use trades::{Format, View};

/// `arb journal` arguments.
#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    /// The journal directory (`dispatch.journal`, `state.journal`, `instruments.json`).
    pub dir: PathBuf,
    /// Check every record of both logs; name each problem with its file, byte offset and
    /// record number. Exit 0 when intact, also when the only problem is a torn tail (an
    /// unfinished last write that the next start cuts off); exit 1 when a log is missing
    /// or a record is corrupt.
    #[arg(long, conflicts_with_all = ["operations", "fills", "daily"])]
    pub verify: bool,
    /// Every operation: id, kind, opened and closed time (UTC), legs, outcome, recovery
    /// orders, realized P&L and fees; the daily summary after the table.
    #[arg(long, group = "history")]
    pub operations: bool,
    /// Every fill as the engine applied it: time, operation, leg, instrument, side,
    /// price, quantity, fee and fee asset, venue and client order ids.
    #[arg(long, group = "history")]
    pub fills: bool,
    /// Operations, outcomes, realized P&L and fees per UTC day.
    #[arg(long, group = "history")]
    pub daily: bool,
    /// Output of --operations, --fills, --daily: table (P&L rounded to cents), or csv and
    /// jsonl with exact decimal strings.
    #[arg(long, value_enum, default_value_t = Format::Table, requires = "history")]
    pub format: Format,
}

impl JournalArgs {
    fn view(&self) -> Option<View> {
        if self.operations {
            Some(View::Operations)
        } else if self.fills {
            Some(View::Fills)
        } else if self.daily {
            Some(View::Daily)
        } else {
            None
        }
    }
}

/// Whether tables are coloured: never with `NO_COLOR` set (non-empty), always with
/// `CLICOLOR_FORCE` set (not `0`), else when stdout is a terminal.
pub fn color_wanted() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    set("CLICOLOR_FORCE") || std::io::stdout().is_terminal()
}

/// Runs `arb journal` on stdout, stderr and the environment.
pub fn main(args: &JournalArgs) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    let result = run(args, color_wanted(), &mut stdout);
    stdout.flush()?;
    let out = result?;
    for note in out.notes {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// What a run printed besides stdout.
#[derive(Debug, Default)]
pub struct Printed {
    /// Lines for stderr that do not make the run fail.
    pub notes: Vec<String>,
}

/// Writes the command's output to `out`; fails (after writing what it can) when the
/// journal is damaged, as described in the module doc.
pub fn run(args: &JournalArgs, color: bool, out: &mut dyn Write) -> Result<Printed> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!("{}: no such journal directory", dir.display());
    }
    let ins = inspect(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let text = match args.view() {
        Some(view) => {
            let table = crate::journal_meta::table(dir).ok_or_else(|| {
                anyhow!(
                    "{}: no instrument table ({}) beside the journal, so its instruments cannot be named",
                    dir.display(),
                    crate::journal_meta::FILE
                )
            })?;
            let h = history(ins.dispatch.as_ref(), ins.state.as_ref(), &table);
            trades::render(&h, &table, view, args.format, color)
        }
        None => summary(&ins, color),
    };
    out.write_all(text.as_bytes())?;
    judge(&ins, args.verify || args.view().is_some())
}

/// The summary `arb journal DIR [--verify]` prints.
fn summary(ins: &Inspection, color: bool) -> String {
    let mut out = ins.to_string();
    if let Some(t) = crate::journal_meta::table(&ins.dir) {
        let _ = writeln!(out, "positions by instrument:");
        for p in ins.replay.positions.iter().filter(|p| !p.qty.is_zero()) {
            if let Some(i) = t.try_get(p.inst) {
                let _ = writeln!(
                    out,
                    "  {} {} {}: {} (cost {} {}, fees {})",
                    i.venue,
                    i.market,
                    i.symbol,
                    p.qty.display(i.qty_scale),
                    p.cost,
                    t.asset_name(i.quote),
                    p.fees
                );
            }
        }
    }
    let paint = match ins.verdict {
        Verdict::Intact | Verdict::TornTail => Paint::Good,
        Verdict::Missing | Verdict::Corrupt => Paint::Bad,
        Verdict::Empty => Paint::Dim,
    };
    let _ = writeln!(out, "verdict: {}", render::paint(&format!("{:?}", ins.verdict), paint, color));
    out
}

/// Fails when `strict` and the journal has a problem the engine does not recover from;
/// a torn tail becomes a note.
fn judge(ins: &Inspection, strict: bool) -> Result<Printed> {
    let mut printed = Printed::default();
    if !strict {
        return Ok(printed);
    }
    let dir = ins.dir.display();
    if ins.verdict == Verdict::Empty {
        bail!("journal {dir} holds no journal files (dispatch.journal and state.journal are both missing)");
    }
    let fatal: Vec<String> = ins.problems.iter().filter(|p| p.is_fatal()).map(|p| p.to_string()).collect();
    if !fatal.is_empty() {
        bail!(
            "journal {dir} failed verification ({:?}): do not resume trading on it\n  {}",
            ins.verdict,
            fatal.join("\n  ")
        );
    }
    for p in &ins.problems {
        printed.notes.push(format!("{p}; intact after recovery, so the exit status is 0"));
    }
    Ok(printed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: JournalArgs,
    }

    #[test]
    fn the_views_parse_and_exclude_each_other() {
        Cli::command().debug_assert();
        let parse = |a: &[&str]| Cli::try_parse_from(a).map(|c| c.args);
        let a = parse(&["arb", "j", "--fills", "--format", "jsonl"]).unwrap();
        assert_eq!((a.view(), a.format), (Some(View::Fills), Format::Jsonl));
        assert_eq!(parse(&["arb", "j", "--daily"]).unwrap().format, Format::Table);
        assert_eq!(parse(&["arb", "j", "--verify"]).unwrap().view(), None);
        for bad in [
            &["arb", "j", "--fills", "--daily"][..],
            &["arb", "j", "--verify", "--operations"],
            &["arb", "j", "--format", "csv"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
