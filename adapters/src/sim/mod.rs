//! Simulated venues.
pub mod auth;
pub mod catalog;
pub mod engine;
pub mod faults;
pub mod model;
pub mod server;
