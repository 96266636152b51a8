//! `arb journal DIR`: the operations, positions and integrity of a journal directory.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use pipeline::journal::{Verdict, inspect};

/// Prints the journal; with `verify`, fails unless it is intact (a torn tail, which the
/// writer cuts off on the next start, passes).
pub fn run(dir: &Path, verify: bool) -> Result<String> {
    let ins = inspect(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let mut out = ins.to_string();
    if let Some(t) = crate::journal_meta::table(dir) {
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
    let _ = writeln!(out, "verdict: {:?}", ins.verdict);
    if verify && !ins.verdict.is_ok() {
        return Err(anyhow!("{out}\njournal {} failed verification: {:?}", dir.display(), ins.verdict));
    }
    if verify && ins.verdict == Verdict::Empty {
        return Err(anyhow!("journal {} holds no journal files", dir.display()));
    }
    Ok(out)
}
