//! The `arb` binary's library: configuration, wiring of the engine's stages, and the
//! subcommands.
#![forbid(unsafe_code)]
// The report is one `json!` object of many keys (the macro recurses once per token).
#![recursion_limit = "256"]

pub mod bench_e2e;
pub mod cmd;
pub mod config;
pub mod ctl;
pub mod dashboard;
pub mod doctor;
pub mod engine;
pub mod instruments;
pub mod journal_meta;
pub mod metrics_server;
pub mod plot;
mod request_server;
pub mod secrets;
pub mod signals;
pub mod telemetry;
pub mod universe;
