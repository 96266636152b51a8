//! The arbitrage engine's pipeline: six stages as pure logic, and the runtime that runs them.
//!
//! The runtime ([`runtime`]) joins stages with single-producer single-consumer rings and
//! runs them on pinned threads in a layout read from configuration. Every ring hop and
//! every stage records its latency ([`metrics`]) into histograms owned by the recording
//! thread; the histograms reach a cold thread without the hot path taking a lock.
//!
//! Nothing in this crate opens a socket: the stages that talk to venues are generic over
//! small traits that the `adapters` crate implements, so the whole chain also runs on
//! recorded frames and in tests.

pub mod bench;
pub mod book;
pub mod cells;
pub mod clock;
pub mod detect;
pub mod dispatch;
pub mod journal;
pub mod log;
pub mod md;
pub mod metrics;
pub mod msg;
pub mod risk;
pub mod runtime;
pub mod state;
pub mod stats;
pub mod synthetic;
pub mod testkit;
pub mod types;
pub mod units;

/// The engine's six stages, in pipeline order. Layouts place these names on threads.
pub const STAGES: [&str; 6] = ["md", "book", "detect", "risk", "dispatch", "state"];
