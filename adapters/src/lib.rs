//! All I/O and venue formats: the JSON and protobuf readers the decoders use, the
//! Gate.io and MEXC wire formats, captures of raw venue messages, and the feed sources
//! the md stage polls.
#![forbid(unsafe_code)]

pub mod decode;
pub mod json;
pub mod venues;
