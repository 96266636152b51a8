//! The `arb` subcommands.

pub mod bench;
pub mod book;
