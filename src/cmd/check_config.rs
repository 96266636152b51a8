//! `arb check-config FILE`: validates a configuration as `arb run` would read it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use pipeline::journal::FsyncPolicy;
use pipeline::runtime::available_cores;

use crate::config::{Config, apply_env};

/// Checks the file (with the `ARB_*` environment overrides) and returns a summary; the
/// first problem is an error naming the file and the key.
pub fn run(path: &Path, host_cores: bool) -> Result<String> {
    let mut cfg = Config::load(Some(path))?;
    let applied =
        apply_env(&mut cfg, |k| std::env::var(k).ok()).with_context(|| format!("{}", path.display()))?;
    let cores = if host_cores { available_cores() } else { (0..4096).collect() };
    cfg.layout
        .validate(&pipeline::STAGES, &cores)
        .with_context(|| format!("{}: key `layout`", path.display()))?;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", path.display());
    let _ = writeln!(out, "  mode: {}", if cfg.dry_run { "paper trading (dry_run)" } else { "live orders" });
    let _ = writeln!(
        out,
        "  venues: {}",
        cfg.venues.iter().map(|v| v.venue.name()).collect::<Vec<_>>().join(", ")
    );
    let _ =
        writeln!(out, "  pairs: {}; futures: {}", cfg.market.pairs.join(", "), cfg.market.futures.join(", "));
    if !cfg.market.standby.is_empty() {
        let standby = cfg.market.standby.join(", ");
        let _ = writeln!(out, "  standby (watched, traded after `arb ctl add-symbol`): {standby}");
    }
    for t in &cfg.layout.threads {
        let core = t.core.map(|c| format!("core {c}")).unwrap_or_else(|| "unpinned".into());
        let _ = writeln!(out, "  thread {} ({core}, {:?}): {}", t.name, t.idle, t.stages.join(", "));
    }
    for w in cfg.layout.warnings() {
        let _ = writeln!(out, "  warning: {w}");
    }
    for name in applied {
        let _ = writeln!(out, "  overridden by the environment: {name}");
    }
    let _ = writeln!(
        out,
        "  limits: position {} USD, exposure {} USD, daily loss {} USD, margin {} bps",
        cfg.risk.max_position_size_usd.amount(),
        cfg.risk.max_total_exposure_usd.amount(),
        cfg.risk.max_daily_loss_usd.amount(),
        cfg.risk.min_profit_margin_bps.rate().bps()
    );
    let _ = writeln!(out, "  journal: {} ({})", cfg.journal.dir.display(), durability(cfg.journal.fsync));
    Ok(out)
}

/// Who makes the journal durable, and when.
fn durability(fsync: FsyncPolicy) -> String {
    let when = match fsync {
        FsyncPolicy::Never => {
            return "fsync never: each record is written before its order is sent and survives a killed \
                    process, not a host crash"
                .to_owned();
        }
        FsyncPolicy::EveryRecord => "as soon as records are pending".to_owned(),
        FsyncPolicy::EveryN(n) => format!("once {n} records are pending"),
        FsyncPolicy::IntervalMs(ms) => format!("every {ms} ms"),
    };
    format!(
        "group-committed {when} by the journal-sync thread on the housekeeping cores; \
         no fsync on the dispatch or state threads, which only write"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_production_config_passes_with_no_fsync_on_the_dispatch_thread() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
        let out = run(&file, false).unwrap();
        assert!(out.contains("OK"), "{out}");
        assert!(
            out.contains("group-committed as soon as records are pending by the journal-sync thread")
                && out.contains("no fsync on the dispatch or state threads"),
            "{out}"
        );
    }
}
