//! `arb doctor`: checks the host for low latency and says what to change (see
//! [`crate::doctor`] and `perf/TUNING.md`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::doctor::{self, Host, Status};

/// `arb doctor [--config FILE] [--json]`
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Check the host against this configuration's [layout] (its pinned cores); without
    /// it the isolated cores are checked.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of one line per check.
    #[arg(long)]
    pub json: bool,
    /// Read /sys and /proc under this directory instead of / (a copy of another host's).
    #[arg(long, hide = true, default_value = "/")]
    pub root: PathBuf,
}

/// Prints the findings; fails (after printing) when any check fails.
pub fn run(args: DoctorArgs) -> Result<()> {
    let layout = args.config.as_deref().map(doctor::layout_of).transpose()?;
    let report = doctor::inspect(&Host::at(&args.root), layout.as_ref());
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    let failed = report.count(Status::Fail);
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(())
}
