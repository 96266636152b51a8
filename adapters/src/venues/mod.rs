//! Venue wire formats, one folder per venue: signing now; decoders and order formats join
//! them, so that each venue's formats live in one place.

pub mod gateio;
pub mod mexc;
