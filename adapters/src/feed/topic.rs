//! One market-data subscription as a venue room writes it: the instrument, the topic as
//! the venue names or echoes it, and the message that subscribes. The live feed sends the
//! messages on every session and matches acknowledgements against the topics.

use pipeline::types::InstrumentId;

/// One subscription message of one instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub inst: InstrumentId,
    /// The topic as the venue echoes it (MEXC spot) or names it.
    pub topic: String,
    /// The message; `{time}` stands for the request time in seconds (Gate.io).
    pub message: String,
}
