//! The `arb` subcommands.

pub mod bench;
pub mod book;
pub mod check_config;
pub mod demo;
pub mod doctor;
pub mod journal;
pub mod keys;
pub mod live;
pub mod plot;
pub mod record;
pub mod replay;
pub mod run;
pub mod sim;
