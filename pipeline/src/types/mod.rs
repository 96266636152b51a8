//! The values that travel on the rings: exact decimals, ids, instruments.

pub mod decimal;
mod ids;
mod instrument;
mod money;
mod wide;

pub use decimal::{DecimalError, Rounding, Scaled};
pub use ids::{AssetId, InstrumentId, Market, Side, Venue};
pub use instrument::{Instrument, InstrumentSpec, Instruments, InstrumentsError};
pub use money::{Amount, Price, Qty, Rate, div_round, rescale};
pub use wide::mul_div;
