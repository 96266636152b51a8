//! Simulated venues.
pub mod catalog;
pub mod engine;
pub mod faults;
