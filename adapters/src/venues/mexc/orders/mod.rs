//! MEXC order entry: spot v3 ([`spot`]) and the USDT perpetual contract API
//! ([`futures`]), two separate clients with separate signing, and their configuration
//! (`[orders.mexc]`).

pub mod config;
pub mod futures;
pub mod spot;

pub use config::{MexcEntryConfig, MexcOpenType};
