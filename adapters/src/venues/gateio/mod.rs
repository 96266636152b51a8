//! Gate.io (spot and USDT-margined perpetual futures, API v4).

pub mod sign;
