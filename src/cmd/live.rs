//! What `arb demo` and `arb run` share: starting an engine on live sockets, showing it
//! while it runs (periodic status lines; the dashboard when on a terminal), and printing
//! the final report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use quanta::Clock;

use crate::config::Config;
use crate::engine::{self, EngineSpec, FeedSpec, Session, Stopped};

/// How the end-of-run report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Options `demo` and `run` share.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub duration: Option<Duration>,
    pub report: ReportFormat,
    pub no_tui: bool,
    /// Where the latency histograms (.hgrm) go at the end, if anywhere.
    pub hgrm_dir: Option<PathBuf>,
    /// Serve /metrics and /health here (`PORT` binds 127.0.0.1).
    pub metrics: Option<String>,
}

/// The TLS client configuration `cfg`'s endpoints need, trusting the public roots when
/// `webpki_roots` and `[tls] ca_file` when given; none when every endpoint is plain
/// `http://` and `ws://` (nothing to trust, so no trust anchors are required).
pub fn tls_for(cfg: &Config, webpki_roots: bool) -> Result<Option<Arc<rustls::ClientConfig>>> {
    if !cfg.needs_tls() {
        return Ok(None);
    }
    let settings = adapters::net::tls::TlsSettings { webpki_roots, ca_file: cfg.tls.ca_file.clone() };
    Ok(Some(settings.client_config().context("TLS configuration")?))
}

/// The sink that sends real orders with `creds` (live trading, or the simulated venues).
pub fn venue_sink(
    cfg: &Config,
    creds: adapters::orders::OrderEntryCredentials,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Box<dyn FnOnce(engine::SinkContext) -> Result<engine::EngineSink> + Send> {
    let oe = cfg.order_entry();
    Box::new(move |ctx: engine::SinkContext| {
        let mut sink = adapters::orders::VenueSink::new(&oe, creds, ctx.instruments, tls, ctx.clock)?;
        sink.set_client_prefix(ctx.client_prefix);
        sink.wait_ready(Duration::from_secs(15))?;
        Ok(engine::EngineSink::Venue(Box::new(sink)))
    })
}

/// The traded venues' API keys from the variables `[orders]` names, each given plain or
/// Fernet-encrypted as `<NAME>_ENCRYPTED` (see `arb keys`).
pub fn credentials_from_env(cfg: &Config) -> Result<adapters::orders::OrderEntryCredentials> {
    let read = |k: &str, s: &str| crate::secrets::require_from_env(k, s);
    let o = cfg.order_entry();
    Ok(adapters::orders::OrderEntryCredentials {
        gateio: o.gateio.as_ref().map(|g| read(&g.api_key_env, &g.api_secret_env)).transpose()?,
        mexc: o.mexc.as_ref().map(|m| read(&m.api_key_env, &m.api_secret_env)).transpose()?,
    })
}

/// What builds the order sink of an engine, once its instruments are known.
pub type SinkBuilder = Box<dyn FnOnce(engine::SinkContext) -> Result<engine::EngineSink> + Send>;

/// Loads instruments and starts the engine on the venues `cfg` names. Without a `sink`,
/// a live configuration (dry_run = false) sends real orders with the keys in the
/// environment; a dry run fills on paper. Waits for venues whose metadata cannot be
/// fetched (see [`crate::instruments::load_waiting`]) until Ctrl-C, which is an error
/// here; [`run`] treats it as the operator's stop.
pub fn start(cfg: Config, sink: Option<SinkBuilder>) -> Result<Session> {
    let signals = crate::signals::signals();
    let status = crate::instruments::MetadataStatus::default();
    start_waiting(cfg, sink, &status, &|| signals.received() > 0)?
        .context("stopped before the engine started (instrument metadata not loaded)")
}

/// [`start`], reporting the metadata wait in `status` and giving up (`None`) once `stop`
/// turns true.
pub fn start_waiting(
    cfg: Config,
    sink: Option<SinkBuilder>,
    status: &crate::instruments::MetadataStatus,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Session>> {
    let mut cfg = cfg;
    let tls = tls_for(&cfg, cfg.tls.webpki_roots)?;
    let journal_pairs = crate::journal_meta::pairs(&cfg.journal.dir);
    if !crate::universe::apply_waiting(&mut cfg, tls.clone(), &journal_pairs, stop)? {
        return Ok(None);
    }
    let Some(specs) = crate::instruments::load_waiting(&cfg, tls.clone(), status, stop)? else {
        return Ok(None);
    };
    // The journal's instruments keep their ids when the universe grew, and those added
    // while running are loaded again.
    let specs = crate::journal_meta::with_listed(&cfg.journal.dir, specs);
    let specs = crate::journal_meta::in_journal_order(&cfg.journal.dir, specs);
    let sink = match sink {
        Some(s) => Some(s),
        None if !cfg.dry_run => {
            let creds = credentials_from_env(&cfg).context("dry_run = false needs API keys")?;
            Some(venue_sink(&cfg, creds, tls.clone()))
        }
        None => None,
    };
    engine::start(EngineSpec {
        config: cfg,
        specs,
        feed: FeedSpec::Live { tls },
        sink,
        clock: Clock::new(),
        metrics_clock: None,
    })
    .map(Some)
}

/// Starts the engine and supervises it (what `arb run` and `arb demo` do): the metrics
/// endpoint answers from the start (`/health` says what the start is waiting for), the
/// metadata of unreachable venues is retried until it comes or Ctrl-C stops the start
/// (an operator's stop: `Ok`), then the engine runs as [`supervise`] says.
pub fn run(cfg: Config, sink: Option<SinkBuilder>, opts: &LiveOptions) -> Result<()> {
    let signals = crate::signals::signals();
    let status = Arc::new(crate::instruments::MetadataStatus::default());
    let metrics = match opts.metrics.as_ref().or(cfg.metrics.addr.as_ref()) {
        Some(addr) => {
            let server = crate::metrics_server::MetricsServer::start_waiting(addr, status.clone())?;
            eprintln!("metrics: http://{}/metrics and /health", server.addr());
            Some(server)
        }
        None => None,
    };
    let Some(session) = start_waiting(cfg, sink, &status, &|| signals.received() > 0)? else {
        eprintln!("stopped before the engine started: instrument metadata was not loaded yet");
        return Ok(());
    };
    if let Some(m) = &metrics {
        m.serve(crate::telemetry::Telemetry::of(&session));
    }
    supervise_with(session, opts, metrics).map(|_| ())
}

/// Runs `session` for the duration (or until Ctrl-C), showing it, then stops it and
/// prints the report. Returns the stopped engine, or an error naming the cause when
/// trading was halted by anything but an operator (a journal write failure, the
/// engine's own kill switch), so that the process exits non-zero.
pub fn supervise(session: Session, opts: &LiveOptions) -> Result<Stopped> {
    let metrics = match &opts.metrics {
        Some(addr) => {
            let server =
                crate::metrics_server::MetricsServer::start(addr, crate::telemetry::Telemetry::of(&session))?;
            eprintln!("metrics: http://{}/metrics and /health", server.addr());
            Some(server)
        }
        None => None,
    };
    supervise_with(session, opts, metrics)
}

/// [`supervise`] with the metrics endpoint already serving (or none).
fn supervise_with(
    session: Session,
    opts: &LiveOptions,
    _metrics: Option<crate::metrics_server::MetricsServer>,
) -> Result<Stopped> {
    session.stop_on_signal();
    let socket = session.journal_dir().join("arb.sock");
    let _ctl = match crate::ctl::CtlServer::start(
        &socket,
        session.controls(),
        crate::telemetry::Telemetry::of(&session),
    ) {
        Ok(c) => {
            eprintln!("control: arb ctl --socket {} status", socket.display());
            Some(c)
        }
        Err(e) => {
            eprintln!("warning: no control socket: {e:#}");
            None
        }
    };
    let tui = !opts.no_tui && std::io::stdout().is_terminal();
    if tui {
        crate::dashboard::run(&session, opts.duration)?;
    } else {
        crate::dashboard::status_lines(&session, opts.duration);
    }
    let stopped = session.stop()?;
    if let (Some(dir), Some(hub)) = (&opts.hgrm_dir, &stopped.hub) {
        let files = engine::write_histograms(hub, dir)?;
        eprintln!("latency histograms: {} files in {}", files.len(), dir.display());
    }
    match opts.report {
        ReportFormat::Text => println!("{}", stopped.report.to_text()),
        ReportFormat::Json => println!("{}", stopped.report.to_json()),
    }
    if !stopped.faults.is_empty() {
        anyhow::bail!("trading was halted: {}", stopped.faults.join("; "));
    }
    Ok(stopped)
}
