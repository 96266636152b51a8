//! `arb check-config FILE`: validates a configuration as `arb run` would read it and
//! prints the effective configuration (the file, the defaults and the `ARB_*`
//! overrides) in the TOML one writes, with "off" where the environment switched a check
//! off.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use pipeline::journal::FsyncPolicy;
use pipeline::runtime::available_cores;

use crate::config::{Config, apply_env};

/// Checks the file (with the `ARB_*` environment overrides) and returns a summary
/// followed by the effective configuration; every problem is an error naming the file
/// (or the variable), the key and the value.
pub fn run(path: &Path, host_cores: bool) -> Result<String> {
    check(path, host_cores, |k| std::env::var_os(k))
}

/// [`run`] with the environment read through `env`.
pub fn check(path: &Path, host_cores: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<String> {
    let mut cfg = Config::load(Some(path))?;
    let applied = apply_env(&mut cfg, env)?;
    let cores = if host_cores { available_cores() } else { (0..4096).collect() };
    cfg.layout
        .validate(&pipeline::STAGES, &cores)
        .with_context(|| format!("{}: key `layout`", path.display()))?;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", path.display());
    let _ = writeln!(out, "  mode: {}", if cfg.dry_run { "paper trading (dry_run)" } else { "live orders" });
    for w in cfg.layout.warnings() {
        let _ = writeln!(out, "  warning: {w}");
    }
    for name in &applied {
        let _ = writeln!(out, "  overridden by the environment: {name}");
    }
    for (key, var) in cfg.off.keys() {
        let _ = writeln!(out, "  off: {key} ({var}=false)");
    }
    let _ = writeln!(out, "  journal: {} ({})", cfg.journal.dir.display(), durability(cfg.journal.fsync));
    universe(&cfg, &mut out);
    let _ = writeln!(out, "\n# The effective configuration: the file, the defaults and the environment.");
    out.push_str(&effective_toml(&cfg)?);
    Ok(out)
}

/// `cfg` as TOML, keyed, ordered and spelled as in a configuration file; each key the
/// environment switched off reads `"off"`, with the variable in a comment.
pub fn effective_toml(cfg: &Config) -> Result<String> {
    let text = toml::to_string(cfg).context("configuration as TOML")?;
    let mut section = String::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('[') {
            section = h.trim_start_matches('[').trim_end_matches(']').to_owned();
        }
        let off = line.split_once(" = ").and_then(|(k, _)| {
            let full = if section.is_empty() { k.to_owned() } else { format!("{section}.{k}") };
            cfg.off.by(&full).map(|var| (k, var))
        });
        match off {
            Some((k, var)) => {
                let _ = writeln!(out, "{k} = \"off\"  # {var}=false");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The universe: the pairs named, or the rules and what they select from the venues now
/// (which needs their metadata over the network; without it the rules are shown and
/// resolved at start).
fn universe(cfg: &Config, out: &mut String) {
    let list = |l: &[String]| if l.is_empty() { "none".to_owned() } else { l.join(" ") };
    let Some(rules) = &cfg.market.rules else {
        let _ = writeln!(
            out,
            "  universe: {} spot pairs ({}), {} perpetuals ({}), on {}",
            cfg.market.pairs.len(),
            list(&cfg.market.pairs),
            cfg.market.futures.len(),
            list(&cfg.market.futures),
            cfg.market.venues.iter().map(|v| v.name()).collect::<Vec<_>>().join(" and ")
        );
        return;
    };
    let _ = writeln!(out, "  universe rules: {}", rules.summary());
    let resolved = super::live::tls_for(cfg, cfg.tls.webpki_roots)
        .and_then(|tls| crate::universe::resolve_config(cfg, tls));
    match resolved {
        Ok(Some(r)) => {
            let _ = writeln!(out, "  universe resolved now from the venues' metadata: {}", r.summary());
            let _ = writeln!(out, "    spot pairs: {}", list(&r.pairs));
            let _ = writeln!(out, "    perpetuals: {}", list(&r.futures));
        }
        Ok(None) => {}
        Err(e) => {
            let _ = writeln!(
                out,
                "  universe not resolved now ({e:#}): the rules need the venues' metadata over the \
                 network; `arb run` resolves them at start"
            );
        }
    }
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

    fn paper() -> std::path::PathBuf {
        crate::config::examples_dir().join("paper.toml")
    }

    #[test]
    fn switched_off_checks_read_off_not_a_huge_number() {
        let env = |k: &str| {
            matches!(k, "ARB_ENABLE_RISK_CHECKS" | "ARB_ENABLE_CIRCUIT_BREAKERS").then(|| "false".into())
        };
        let out = check(&paper(), false, env).unwrap();
        for line in [
            "  off: risk.max_daily_loss_usd (ARB_ENABLE_RISK_CHECKS=false)",
            "max_position_size_usd = \"off\"  # ARB_ENABLE_RISK_CHECKS=false",
            "max_total_exposure_usd = \"off\"  # ARB_ENABLE_RISK_CHECKS=false",
            "max_daily_loss_usd = \"off\"  # ARB_ENABLE_RISK_CHECKS=false",
            "min_profit_margin_bps = \"off\"  # ARB_ENABLE_RISK_CHECKS=false",
            "max_consecutive_failures = \"off\"  # ARB_ENABLE_CIRCUIT_BREAKERS=false",
            "stale_trip_count = \"off\"  # ARB_ENABLE_CIRCUIT_BREAKERS=false",
            "max_slippage_bps = 20",
            "reset_after_ms = 30000",
            "max_recovery_attempts = 3",
        ] {
            assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
        }
        assert!(!out.contains("2305843009213693951") && !out.contains("4294967295"), "{out}");
    }

    #[test]
    fn the_effective_configuration_is_toml_that_reads_back_the_same() {
        let env = |k: &str| (k == "ARB_MAX_DAILY_LOSS_USD").then(|| "123.45".into());
        let out = check(&paper(), false, env).unwrap();
        let text = &out[out.find("# The effective configuration").unwrap()..];
        assert!(text.contains("\nmax_daily_loss_usd = 123.45\n"), "{text}");
        assert!(text.contains("\n[risk]\n") && text.contains("\n[[venues]]\n"), "{text}");
        let again = Config::parse(text, "effective.toml").unwrap();
        let mut want = Config::load(Some(&paper())).unwrap();
        apply_env(&mut want, env).unwrap();
        assert_eq!(effective_toml(&again).unwrap(), effective_toml(&want).unwrap());
        assert_eq!(again.risk, want.risk);
        assert_eq!(again.market, want.market);
    }

    #[test]
    fn a_dangerous_value_fails_the_check_naming_the_variable() {
        let env = |k: &str| (k == "ARB_MIN_PROFIT_MARGIN_BPS").then(|| "-100000".into());
        let e = check(&paper(), false, env).unwrap_err().to_string();
        assert!(
            e.contains("environment variable ARB_MIN_PROFIT_MARGIN_BPS = \"-100000\" sets it: key `risk.min_profit_margin_bps` = -100000"),
            "{e}"
        );
    }

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
