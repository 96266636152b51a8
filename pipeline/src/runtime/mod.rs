//! The pipeline runtime: typed ring links, the [`Stage`] trait, idle policies, thread
//! layouts, the CPUs they may pin ([`cores`]) and the runner that starts pinned stage
//! threads and stops them.
//!
//! The vocabulary is small and symmetric: a producer `push`es, a consumer `pop`s or
//! `drain`s, a stage `poll`s. Backpressure is chosen per link ([`Backpressure`]); a stage
//! keeps what a full `Retry` link refused in a [`Held`] and pushes it again first.

pub mod cores;
mod held;
mod idle;
mod layout;
mod link;
mod runner;
mod stage;
mod wake;

pub use held::Held;
pub use idle::{IO_EVERY_SPINS, IdlePolicy, Idler, io_due};
pub use layout::{IdleKind, Layout, LayoutError, ThreadSpec, available_cores};
pub use link::{Backpressure, Full, LinkStats, Rx, Stamped, Tx, link};
pub use runner::{
    Control, RunError, RunReport, Runner, Running, StageFactory, StagePanic, StartError, ThreadReport,
};
pub use stage::Stage;
pub use wake::{ThreadWaker, wake_deferred};
