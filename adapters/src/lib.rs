//! All I/O and venue formats.
#![forbid(unsafe_code)]

pub mod sim;
