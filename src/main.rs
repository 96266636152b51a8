//! `arb`: the arbitrage engine's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use arb::cmd;
use arb::config::Config;

#[derive(Parser, Debug)]
#[command(name = "arb", version, about = "Lock-free thread-per-core crypto arbitrage engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),

    /// Replays captures through the live decoders and book code and prints the final
    /// state of every book seen.
    ///
    /// Instruments come from --instruments, then from metadata responses recorded in the
    /// captures, and otherwise are inferred with scales wide enough for any venue text.
    ///
    /// Examples:
    ///   arb book capture.jsonl.gz
    ///   arb book gate.jsonl mexc.jsonl --depth 5 --json
    #[command(verbatim_doc_comment)]
    Book {
        /// Capture files (JSON Lines, optionally .gz), merged by receive time.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Levels per side to print.
        #[arg(long, default_value_t = 10)]
        depth: usize,
        /// One JSON object per book and line.
        #[arg(long)]
        json: bool,
        /// A JSON list of instrument specifications to use.
        #[arg(long)]
        instruments: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Synthetic events through six trivial stages in the configured thread layout,
    /// measured against a bare rtrb floor in the same run.
    ///
    /// Prints per-hop and end-to-end latency (p50/p99/p99.9/max), the same for a bare
    /// rtrb ping-pong between two threads, the ratio ours/floor, and throughput single
    /// and batched.
    ///
    /// Examples:
    ///   arb bench pipeline
    ///   arb bench pipeline --config config/production.toml --events 1000000 --json
    #[command(verbatim_doc_comment)]
    Pipeline {
        /// Configuration whose [layout] to use (default: the built-in demo config).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Paced events for the latency measurement.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Events for each throughput measurement.
        #[arg(long, default_value_t = 20_000_000)]
        throughput_events: u64,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Book { files, depth, json, instruments } => {
            print!("{}", cmd::book::run(cmd::book::BookArgs { files, depth, json, instruments })?);
            Ok(())
        }
        Command::Bench(BenchCommand::Pipeline { config, events, throughput_events, json }) => {
            let config = Config::load(config.as_deref())?;
            let result = cmd::bench::run(config.layout, events, throughput_events)?;
            if json {
                println!("{}", result.to_json());
            } else {
                print!("{}", result.to_text());
            }
            Ok(())
        }
    }
}
