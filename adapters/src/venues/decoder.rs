//! One public-data decoder of any venue market ([`VenueMarket::decoder`]), so the feed and
//! replay hold one type and never match on (venue, market) themselves.

use pipeline::msg::MdEvent;
use pipeline::types::{Instruments, Market};

use super::gateio::md::GateMd;
use super::mexc::md::futures::MexcFuturesMd;
use super::mexc::md::spot::MexcSpotMd;
use super::venue_market::VenueMarket;
use crate::decode::{DecodeError, Frame, Sym};

/// The decoder of one venue market's public frames and REST snapshots.
#[derive(Clone, Debug)]
pub enum MdDecoder {
    Gate(GateMd),
    MexcSpot(MexcSpotMd),
    MexcFutures(MexcFuturesMd),
}

impl VenueMarket {
    /// The public-data decoder of this market for `instruments`.
    pub fn decoder(self, instruments: &Instruments) -> MdDecoder {
        match self {
            VenueMarket::GateSpot => MdDecoder::Gate(GateMd::new(instruments, Market::Spot)),
            VenueMarket::GateFutures => MdDecoder::Gate(GateMd::new(instruments, Market::Futures)),
            VenueMarket::MexcSpot => MdDecoder::MexcSpot(MexcSpotMd::new(instruments)),
            VenueMarket::MexcFutures => MdDecoder::MexcFutures(MexcFuturesMd::new(instruments)),
        }
    }
}

impl MdDecoder {
    /// Decodes one WebSocket frame (`binary` for binary frames), appending events to `out`.
    #[inline]
    pub fn decode<'f>(
        &self,
        frame: &'f [u8],
        binary: bool,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        match self {
            MdDecoder::Gate(d) => d.decode(frame, recv_ns, out),
            MdDecoder::MexcSpot(d) => d.decode(frame, binary, recv_ns, out),
            MdDecoder::MexcFutures(d) => d.decode(frame, recv_ns, out),
        }
    }

    /// The instrument a venue symbol names, if configured.
    pub fn symbol(&self, symbol: &[u8]) -> Option<Sym> {
        match self {
            MdDecoder::Gate(d) => d.symbol(symbol),
            MdDecoder::MexcSpot(d) => d.symbol(symbol),
            MdDecoder::MexcFutures(d) => d.symbol(symbol),
        }
    }

    /// Decodes a REST order-book snapshot of `sym`.
    pub fn decode_snapshot(
        &self,
        sym: Sym,
        body: &[u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        match self {
            MdDecoder::Gate(d) => d.decode_snapshot(sym, body, recv_ns, out),
            MdDecoder::MexcSpot(d) => d.decode_snapshot(sym, body, recv_ns, out),
            MdDecoder::MexcFutures(d) => d.decode_snapshot(sym, body, recv_ns, out),
        }
    }
}
