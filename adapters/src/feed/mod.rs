//! Feed sources for the md stage: the decoders of every venue behind one dispatcher,
//! and sources that produce venue messages (recorded captures; live connections).

pub mod decoders;
pub mod live;
pub mod replay;

pub use decoders::{Decoders, discover_symbols, metadata_specs, rest_snapshot_target};
pub use live::{GateDepth, LiveFeed, LiveFeedConfig, VenueEndpoints};
pub use replay::ReplaySource;
