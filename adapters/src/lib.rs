//! All I/O and venue formats: the JSON and protobuf readers the decoders use, the
//! Gate.io and MEXC wire formats, captures of raw venue messages, and the feed sources
//! the md stage polls.
#![forbid(unsafe_code)]

pub mod capture;
pub mod decode;
pub mod feed;
pub mod json;
pub mod proto;
pub mod venues;
