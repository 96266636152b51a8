//! `arb`: the arbitrage engine's command line.
#![forbid(unsafe_code)]

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
    /// The embedded demo: simulated Gate.io and MEXC venues on loopback and the engine
    /// trading them, over real sockets and the real protocols. No account needed.
    ///
    /// Shows the live dashboard (or a status line per second with --no-tui or when stdout
    /// is not a terminal) and ends with a report.
    ///
    /// Examples:
    ///   arb demo
    ///   arb demo --duration 60 --report json --no-tui
    ///   arb demo --faults reject=0.05,partial=0.2,disconnect_every_s=20
    ///   arb demo --pairs 300 --duration 60 --report json --no-tui
    #[command(verbatim_doc_comment)]
    Demo {
        /// Engine configuration (default: the built-in demo config).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seconds to run (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Seeds the simulated market.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Faults the simulated venues inject: a comma list of reject=P, partial=P,
        /// gap=P, delay_ms=N, disconnect_every_s=N, stall_every_s=N.
        #[arg(long, default_value = "")]
        faults: sim::Faults,
        /// Plain ws:// and http:// instead of TLS.
        #[arg(long)]
        plain: bool,
        /// Keep the journal in this directory (default: a temporary one, removed).
        #[arg(long)]
        journal: Option<PathBuf>,
        /// Fill orders on paper against the live books instead of sending real signed
        /// orders to the simulated venues.
        #[arg(long)]
        paper: bool,
        /// USDT pairs on each simulated venue (3 to 2000; BTC, ETH and SOL, then generated
        /// assets with perpetuals and crosses of their own), all traded: the engine's
        /// [market] lists become every pair, perpetual and cross the venues list.
        /// Default: the configuration's lists on the three-pair venues.
        #[arg(long, value_parser = clap::value_parser!(u16).range(3..=2000))]
        pairs: Option<u16>,
        #[command(flatten)]
        out: OutputArgs,
    },

    /// Runs the engine against the venues a configuration names (real or simulated).
    ///
    /// dry_run = true (the default) trades on live data with fills simulated against the
    /// live books. The journal directory is resumed automatically.
    ///
    /// Examples:
    ///   arb run --config config/paper.toml
    ///   arb run --config sim.toml --duration 60 --report json --no-tui
    #[command(verbatim_doc_comment)]
    Run {
        /// Engine configuration (TOML; config/paper.toml, config/production.toml, or one
        /// written by `arb sim --write-config`).
        #[arg(long)]
        config: PathBuf,
        /// Journal directory (default: [journal] dir of the configuration).
        #[arg(long)]
        journal: Option<PathBuf>,
        /// Seconds to run (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        #[command(flatten)]
        out: OutputArgs,
    },

    /// Captures raw venue messages of the configured instruments to a file, for replay
    /// and for `arb book`; the instrument metadata goes beside it
    /// (<FILE>.instruments.json).
    ///
    /// Examples:
    ///   arb record --config config/paper.toml --out capture.jsonl.gz --duration 600
    ///   arb record --config sim.toml --out sim.jsonl
    #[command(verbatim_doc_comment)]
    Record {
        /// Engine configuration naming the venues and instruments to capture.
        #[arg(long)]
        config: PathBuf,
        /// The capture file (JSON Lines; gzip when the name ends in .gz).
        #[arg(long)]
        out: PathBuf,
        /// Seconds to record (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
    },

    /// Replays captures through the same decoders and stages as live trading, with fills
    /// simulated against the replayed books, in recorded time, and prints the report.
    ///
    /// Deterministic: every stage reads a virtual clock moved to each message's recorded
    /// time, and the stages run on one thread in pipeline order.
    ///
    /// Examples:
    ///   arb replay capture.jsonl.gz
    ///   arb replay gate.jsonl mexc.jsonl --config config/paper.toml --report json
    #[command(verbatim_doc_comment)]
    Replay {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Configuration for the trading stages (default: the built-in demo config); its
        /// layout is replaced by one thread.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A JSON list of instrument specifications (default: <FILE>.instruments.json,
        /// then metadata recorded in the captures, then inferred).
        #[arg(long)]
        instruments: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        report: cmd::live::ReportFormat,
        /// At the end, write the latency histograms (.hgrm) and percentile plots
        /// (latency-*.svg) into this directory.
        #[arg(long)]
        hgrm_dir: Option<PathBuf>,
    },

    /// Talks to a running engine over its control socket (<journal dir>/arb.sock).
    ///
    /// Requests: status; pause INSTRUMENT; resume INSTRUMENT;
    /// add-symbol BASE/QUOTE [--venue V] [--market spot|futures] (start trading a pair: one
    /// on standby, paused or removed, or one not loaded, whose metadata is fetched and whose
    /// book is subscribed and synced while the engine runs);
    /// remove-symbol BASE/QUOTE [--venue V] [--market spot|futures] (no new operations on
    /// it; unsubscribed, its book freed, once open ones finish; its id stays);
    /// kill (the kill switch: cancel all, halt);
    /// resume-trading; reset-breakers; recoveries (operations awaiting an operator);
    /// approve OP; retry OP; abandon OP; ack-drift [VENUE] (take the venue's balances as
    /// they are and lift its drift halt); stop (orderly: open operations finish, then
    /// the engine reports and exits). INSTRUMENT is venue:market:SYMBOL or BASE/QUOTE.
    ///
    /// Examples:
    ///   arb ctl status
    ///   arb ctl stop
    ///   arb ctl --socket /var/lib/arb/journal/arb.sock pause BTC/USDT
    ///   arb ctl kill
    ///   arb ctl approve 42
    ///   arb ctl add-symbol ETH/BTC --venue gateio
    ///   arb ctl remove-symbol ETH/BTC
    #[command(verbatim_doc_comment)]
    Ctl {
        /// The engine's control socket.
        #[arg(long, default_value = "journal/arb.sock")]
        socket: PathBuf,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        request: Vec<String>,
    },

    /// Validates a configuration file as `arb run` reads it, environment overrides
    /// included, and prints the effective configuration as TOML ("off" where an ARB_ENABLE_*
    /// variable switched a check off); exits non-zero naming the file (or variable), the
    /// key and the value of every problem. docs/CONFIG.md has every key's default and range.
    ///
    /// The ARB_* variables that override keys: ARB_MAX_POSITION_SIZE_USD,
    /// ARB_MAX_TOTAL_EXPOSURE_USD, ARB_MIN_PROFIT_MARGIN_BPS, ARB_MAX_DAILY_LOSS_USD,
    /// ARB_TARGET_EXECUTION_TIME_MS, ARB_OPPORTUNITY_SCAN_INTERVAL_MS,
    /// ARB_BALANCE_REFRESH_INTERVAL_MS, ARB_ENABLE_CIRCUIT_BREAKERS,
    /// ARB_ENABLE_RISK_CHECKS, ARB_ENABLE_RECOVERY_MODE.
    ///
    /// Examples:
    ///   arb check-config config/paper.toml
    ///   ARB_MAX_DAILY_LOSS_USD=100 arb check-config config/production.toml --host-cores
    #[command(verbatim_doc_comment)]
    CheckConfig {
        file: PathBuf,
        /// Also check that the layout's cores exist on this host.
        #[arg(long)]
        host_cores: bool,
    },

    /// Prints the operations, positions and integrity of a journal directory, or its
    /// trade history.
    ///
    /// Examples:
    ///   arb journal journal/
    ///   arb journal /var/lib/arb/journal --verify
    ///   arb journal journal/ --operations
    ///   arb journal journal/ --fills --format csv > fills.csv
    ///   arb journal journal/ --daily --format jsonl
    #[command(verbatim_doc_comment)]
    Journal(cmd::journal::JournalArgs),

    /// Runs the simulated venues alone; prints their endpoints and account keys as one
    /// JSON line first, then the shell `export` lines of the keys under the variable names
    /// the written configuration reads.
    ///
    /// Examples:
    ///   arb sim
    ///   arb sim --plain --seed 7 --write-config sim.toml
    ///   arb sim --write-config sim.toml > sim.out &
    ///   eval "$(grep '^export ' sim.out)"; arb run --config sim.toml
    #[command(verbatim_doc_comment)]
    Sim {
        /// Plain TCP and WebSocket instead of TLS with a certificate generated at start.
        #[arg(long)]
        plain: bool,
        /// Seed of the market model (the same seed gives the same prices).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Faults to inject: a comma list of reject=P, partial=P, gap=P, delay_ms=N,
        /// disconnect_every_s=N, stall_every_s=N (P a probability).
        #[arg(long, default_value = "")]
        faults: sim::Faults,
        /// Also write an engine configuration pointing at the simulated venues.
        #[arg(long)]
        write_config: Option<PathBuf>,
        /// Seconds to run (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// How often the perpetuals settle funding, in milliseconds (default: 8 hours, as
        /// the real venues; 0 turns funding off).
        #[arg(long, default_value_t = sim::FUNDING_INTERVAL_MS)]
        funding_interval_ms: u64,
    },
    /// Plots a CSV of numbers over time (first column) as an SVG, one panel per column
    /// (scripts/soak.sh draws its samples with it).
    ///
    /// Examples:
    ///   arb plot soak.csv --out soak.svg
    ///   arb plot soak.csv --out rss.svg --columns rss_kb --title "resident memory"
    #[command(verbatim_doc_comment)]
    Plot(cmd::plot::PlotArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// API keys: make the Fernet key and tokens, check what the environment holds.
    Keys(cmd::keys::KeysArgs),
    /// Checks this host for low latency against a layout and says what to change.
    Doctor(cmd::doctor::DoctorArgs),

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
    /// Venue frames in, signed order bytes out: recorded and generated frames of both
    /// venues and both markets through the real md, book, detect, risk, dispatch and
    /// state stages in the configured layout, the journal on, each order built, signed
    /// and written through TLS to a loopback socket that a drain thread reads.
    ///
    /// Prints tick-to-trade (frame taken by md to the first and to the last leg's order
    /// bytes written), every stage and hop, and the floors of each part of the path
    /// measured in the same run (frame parse per venue market, bare rtrb hop, journal
    /// write, signature per venue, TLS record, loopback socket write) with their sum.
    ///
    /// Examples:
    ///   arb bench e2e
    ///   arb bench e2e --layout config/default.toml --crossings 5000 --json
    ///   arb bench e2e --instruments 10,100,1000 --json
    #[command(verbatim_doc_comment)]
    E2e {
        /// A configuration file whose [layout] to use (default: two threads, the chain
        /// md+book+detect+risk+dispatch on one and state on the other, parking when idle).
        #[arg(long)]
        layout: Option<PathBuf>,
        /// A capture (as `arb record` writes) to play after the recorded frames.
        #[arg(long)]
        frames: Option<PathBuf>,
        /// Generated frames that cross a book (each one an operation).
        #[arg(long, default_value_t = 2_000)]
        crossings: usize,
        /// Microseconds between two timed frames.
        #[arg(long, default_value_t = 200)]
        interval_us: u64,
        /// Iterations of each floor measurement.
        #[arg(long, default_value_t = 20_000)]
        floor_iterations: u64,
        /// Pairs per venue market, one run each in this order (e.g. 10,100,1000): BTC/USDT,
        /// whose books cross, and the rest moving without crossing. With it, --json adds
        /// `scaling` (each run's instruments, t2t p50/p99 and book bytes) to the last run's
        /// result.
        #[arg(long, value_delimiter = ',')]
        instruments: Vec<usize>,
        /// How Gate.io orders are written: "rest" (signed requests) or "ws" (trading API
        /// frames on a logged-in session, `[orders.gateio] order_entry = "ws"`).
        #[arg(long, default_value = "rest", value_parser = ["rest", "ws"])]
        gate_entry: String,
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

/// Output options of the commands that run the engine.
#[derive(clap::Args, Debug)]
struct OutputArgs {
    /// Final report format; with json the last line of stdout is one JSON object.
    #[arg(long, value_enum, default_value = "text")]
    report: cmd::live::ReportFormat,
    /// Periodic status lines instead of the full-screen dashboard.
    #[arg(long)]
    no_tui: bool,
    /// At the end, write every latency histogram (.hgrm, HdrHistogram's percentile
    /// format) and percentile plots of them (latency-*.svg) into this directory.
    #[arg(long)]
    hgrm_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on /metrics and health on /health at PORT (bound to
    /// 127.0.0.1) or HOST:PORT. Off unless given here or as [metrics] addr.
    #[arg(long)]
    metrics: Option<String>,
}

impl OutputArgs {
    fn live(self, duration: Option<u64>) -> cmd::live::LiveOptions {
        cmd::live::LiveOptions {
            duration: duration.map(std::time::Duration::from_secs),
            report: self.report,
            no_tui: self.no_tui,
            hgrm_dir: self.hgrm_dir,
            metrics: self.metrics,
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { config, duration, seed, faults, plain, journal, paper, pairs, out } => {
            cmd::demo::run(cmd::demo::DemoArgs {
                config,
                seed,
                faults,
                plain,
                journal,
                paper,
                pairs: pairs.map(usize::from),
                live: out.live(duration),
            })
        }
        Command::Run { config, journal, duration, out } => {
            cmd::run::run(cmd::run::RunArgs { config, journal, live: out.live(duration) })
        }
        Command::Record { config, out, duration } => cmd::record::run(cmd::record::RecordArgs {
            config,
            out,
            duration: duration.map(std::time::Duration::from_secs),
        }),
        Command::Replay { files, config, instruments, report, hgrm_dir } => {
            cmd::replay::run(cmd::replay::ReplayArgs { files, config, instruments, report, hgrm_dir })
        }
        Command::Ctl { socket, request } => {
            let answer = arb::ctl::request(&socket, &request.join(" "))?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            if answer["ok"] != true {
                anyhow::bail!("the engine refused the request");
            }
            Ok(())
        }
        Command::CheckConfig { file, host_cores } => {
            print!("{}", cmd::check_config::run(&file, host_cores)?);
            Ok(())
        }
        Command::Journal(args) => cmd::journal::main(&args),
        Command::Sim { plain, seed, faults, write_config, duration, funding_interval_ms } => {
            cmd::sim::run(cmd::sim::SimArgs {
                plain,
                seed,
                faults,
                write_config,
                duration: duration.map(std::time::Duration::from_secs),
                funding_interval_ms,
            })
        }
        Command::Book { files, depth, json, instruments } => {
            print!("{}", cmd::book::run(cmd::book::BookArgs { files, depth, json, instruments })?);
            Ok(())
        }
        Command::Keys(args) => cmd::keys::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Plot(args) => cmd::plot::run(&args),
        Command::Bench(BenchCommand::E2e {
            layout,
            frames,
            crossings,
            interval_us,
            floor_iterations,
            instruments,
            gate_entry,
            json,
        }) => {
            let args = arb::bench_e2e::E2eArgs {
                layout,
                frames,
                crossings,
                interval: std::time::Duration::from_micros(interval_us),
                floor_iterations,
                instruments: 1,
                gate_ws: gate_entry == "ws",
            };
            if instruments.is_empty() {
                let result = arb::bench_e2e::run(&args)?;
                if json {
                    println!("{}", result.to_json());
                } else {
                    print!("{}", result.to_text());
                }
                return Ok(());
            }
            let (last, points) = arb::bench_e2e::run_scaling(&args, &instruments)?;
            if json {
                let mut j = last.to_json();
                j["scaling"] = points.iter().map(|p| p.to_json()).collect();
                println!("{j}");
            } else {
                print!("{}", last.to_text());
                print!("{}", arb::bench_e2e::scaling_text(&points));
            }
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
