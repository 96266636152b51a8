//! The `arb` subcommands.

pub mod bench;
