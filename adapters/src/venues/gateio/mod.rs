//! Gate.io API v4: spot and USDT perpetual futures.

pub mod md;
pub mod meta;
pub mod sign;
