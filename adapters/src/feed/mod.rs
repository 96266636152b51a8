//! Feed sources for the md stage, venue-neutral: the live feed (every venue market's
//! connections on one poll, through [`VenueMarket`](crate::venues::VenueMarket), with
//! its REST snapshots paced by [`snapshots`]), replayed captures, and the decoders of
//! every market behind one dispatcher. What each
//! venue subscribes to and decodes lives in its room (`venues::<venue>::{feed, md}`).

pub mod decoders;
pub mod live;
pub mod replay;
pub mod snapshots;
pub mod topic;

pub use decoders::{Decoders, discover_symbols, metadata_specs, rest_snapshot_target};
pub use live::{LiveFeed, LiveFeedConfig};
pub use replay::ReplaySource;
