//! Each venue's formats in one place: market data, metadata, signing, orders. When a
//! venue changes its API, the change and the recorded-frame tests that show it live in
//! that venue's folder.

pub mod gateio;
pub mod meta;
pub mod mexc;
