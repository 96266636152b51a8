//! `arb run`: the engine against the venues a configuration names.

use std::path::PathBuf;

use anyhow::Result;

use super::live::{self, LiveOptions};
use crate::config::Config;

/// What `arb run` was asked.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub config: PathBuf,
    pub journal: Option<PathBuf>,
    pub live: LiveOptions,
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut cfg = Config::load_with_env(Some(&args.config))?;
    if let Some(j) = args.journal {
        cfg.journal.dir = j;
    }
    if cfg.venues.is_empty() {
        anyhow::bail!(
            "{}: no [[venues]] to connect to (arb demo runs the simulated ones)",
            args.config.display()
        );
    }
    live::run(cfg, None, &args.live)
}
