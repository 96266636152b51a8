//! The arbitrage engine's pipeline: six stages as pure logic, and the runtime that runs them.
//!
//! The stages, in pipeline order, each a room of its own named as layouts name it
//! ([`STAGES`]): [`md`] (market-data decode), [`book`] (order books), [`detect`]
//! (detection), [`risk`] (the risk gate), [`dispatch`] (order dispatch) and [`state`]
//! (operations, positions, P&L, recovery). Each room holds the stage, its configuration
//! and statistics where it has them (`config.rs`, `stats.rs`), and its tests.
//!
//! The runtime ([`runtime`]) joins stages with single-producer single-consumer rings and
//! runs them on pinned threads in a layout read from configuration. Every ring hop and
//! every stage records its latency ([`metrics`]) into histograms owned by the recording
//! thread; the histograms reach a cold thread without the hot path taking a lock.
//!
//! Nothing in this crate opens a socket: the stages that talk to venues are generic over
//! small traits that the `adapters` crate implements, so the whole chain also runs on
//! recorded frames and in tests.
//!
//! No `unsafe` anywhere: the crate forbids it in every build without the `testkit`
//! feature. With it (tests), the one exception is the counting allocator the allocation
//! tests install (`testkit::counting`; a `GlobalAlloc` is an unsafe trait), allowed in
//! that module alone under a crate-wide `deny`.
//!
//! Features: `bench` compiles the runtime benchmark (`bench`, run by `arb bench
//! pipeline`) and the synthetic stages it drives (`synthetic`); `testkit` compiles the
//! fixtures that other crates' tests share (`testkit`). Neither is part of the
//! engine's wiring.

#![cfg_attr(not(any(test, feature = "testkit")), forbid(unsafe_code))]
#![cfg_attr(any(test, feature = "testkit"), deny(unsafe_code))]

#[cfg(feature = "bench")]
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
#[cfg(feature = "bench")]
pub mod synthetic;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod types;
pub mod units;
pub mod validate;

/// The engine's six stages, in pipeline order. Layouts place these names on threads.
pub const STAGES: [&str; 6] = ["md", "book", "detect", "risk", "dispatch", "state"];
