//! MEXC (spot v3 and USDT-margined perpetual futures).

pub mod sign;
