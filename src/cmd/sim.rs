//! `arb sim`: the simulated venues alone, for other processes (the engine via
//! `arb run`, the venues' own client libraries) to connect to.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use sim::{Faults, Sim, SimConfig, endpoints_json};

/// What `arb sim` was asked.
#[derive(Clone, Debug)]
pub struct SimArgs {
    pub plain: bool,
    pub seed: u64,
    pub faults: Faults,
    pub write_config: Option<PathBuf>,
    pub duration: Option<std::time::Duration>,
    /// How often the perpetuals settle funding (0: never).
    pub funding_interval_ms: u64,
}

/// The simulated accounts' keys as shell `export` lines, under the variable names the
/// configuration written by `--write-config` reads (the `[orders]` defaults). These are
/// the secrets of a local simulator: printing them on stdout for the operator to paste is
/// the point; they go nowhere else (no log line, no file).
pub fn export_lines(sim: &Sim) -> String {
    use adapters::venues::gateio::orders::GateEntryConfig;
    use adapters::venues::mexc::orders::MexcEntryConfig;
    let (gate, mexc) = (GateEntryConfig::default(), MexcEntryConfig::default());
    let e = sim.endpoints();
    let mut out = String::new();
    for (names, v) in [
        ([&gate.api_key_env, &gate.api_secret_env], &e.gateio),
        ([&mexc.api_key_env, &mexc.api_secret_env], &e.mexc),
    ] {
        for (name, value) in names.into_iter().zip([v.api_key.as_str(), v.api_secret.expose()]) {
            out.push_str(&format!("export {name}={}\n", shell_quote(value)));
        }
    }
    out
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// An engine configuration that trades against `sim` with real orders.
pub fn engine_config_toml(sim: &Sim) -> String {
    let e = sim.endpoints();
    let mut out = String::from(
        "# Written by `arb sim --write-config`: the engine trades against the simulated venues\n\
         # with real signed orders. Keys come from the environment: GATEIO_API_KEY,\n\
         # GATEIO_API_SECRET, MEXC_API_KEY, MEXC_API_SECRET (`arb sim` prints the export\n\
         # lines).\n\n\
         dry_run = false\n\n",
    );
    for (name, v) in [("gateio", &e.gateio), ("mexc", &e.mexc)] {
        out.push_str(&format!(
            "[[venues]]\nvenue = \"{name}\"\nrest = \"{}\"\nws_spot = \"{}\"\nws_futures = \"{}\"\n\n",
            v.rest, v.ws_spot, v.ws_futures
        ));
    }
    if let Some(ca) = sim.ca_pem_path() {
        out.push_str(&format!("[tls]\nca_file = \"{}\"\n\n", ca.display()));
    }
    let default = crate::config::DEFAULT_TOML;
    let body = default.split_once("[market]").map(|(_, rest)| format!("[market]{rest}")).unwrap_or_default();
    out.push_str(&body);
    out
}

pub fn run(args: SimArgs) -> Result<()> {
    let mut sim = Sim::start(SimConfig {
        seed: args.seed,
        plain: args.plain,
        faults: args.faults,
        funding_interval_ms: args.funding_interval_ms,
        ..SimConfig::default()
    })
    .context("starting the simulated venues")?;
    println!("{}", endpoints_json(sim.endpoints()));
    print!("{}", export_lines(&sim));
    std::io::stdout().flush()?;
    if let Some(path) = &args.write_config {
        std::fs::write(path, engine_config_toml(&sim))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("sim: engine configuration written to {}", path.display());
    }
    let stop = pipeline::runtime::Control::new();
    let _ = stop.stop_on_signal();
    let deadline = args.duration.map(|d| std::time::Instant::now() + d);
    while !stop.is_stop_requested() && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    sim.stop();
    Ok(())
}
