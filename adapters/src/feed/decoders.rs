//! Every venue market's decoder behind one dispatcher, for replaying captures and for
//! tools; and what a capture holds (its instruments' metadata and symbols).

use std::collections::BTreeSet;

use pipeline::msg::MdEvent;
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

use crate::capture::{Record, Source};
use crate::decode::{BadInput, DecodeError, Frame};
use crate::venues::decoder::MdDecoder;
use crate::venues::venue_market::VenueMarket;

/// The public-data decoders of every venue and market.
#[derive(Clone, Debug)]
pub struct Decoders {
    by_market: [MdDecoder; VenueMarket::COUNT],
}

impl Decoders {
    pub fn new(instruments: &Instruments) -> Self {
        Self { by_market: VenueMarket::ALL.map(|vm| vm.decoder(instruments)) }
    }

    /// Decodes one recorded message, appending events to `out`. REST responses other
    /// than order-book snapshots are ignored.
    /// `recv_ns` is the receive time to stamp on the events (replays shift recorded
    /// times onto the engine clock).
    pub fn decode<'r>(
        &self,
        rec: &'r Record,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'r>, DecodeError> {
        match rec.source {
            Source::Ws => {
                let d = &self.by_market[VenueMarket::new(rec.venue, rec.market).index()];
                d.decode(&rec.payload, rec.binary, recv_ns, out)
            }
            Source::Rest => {
                let Some((vm, symbol)) =
                    rec.path.as_deref().and_then(|p| VenueMarket::snapshot_target(rec.venue, p))
                else {
                    return Ok(Frame::Ignored);
                };
                let d = &self.by_market[vm.index()];
                let unknown = DecodeError { reason: BadInput::UnknownSymbol, inst: None };
                let sym = d.symbol(symbol.as_bytes()).ok_or(unknown)?;
                d.decode_snapshot(sym, &rec.payload, recv_ns, out)?;
                Ok(Frame::Data)
            }
        }
    }
}

/// The market and symbol of a REST order-book snapshot request path.
pub fn rest_snapshot_target(venue: Venue, path: &str) -> Option<(Market, String)> {
    VenueMarket::snapshot_target(venue, path).map(|(vm, s)| (vm.market(), s.to_owned()))
}

/// Instrument specifications from the metadata responses a capture recorded.
pub fn metadata_specs(records: &[Record]) -> Vec<InstrumentSpec> {
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.source == Source::Rest) {
        let (Some(path), Ok(body)) = (r.path.as_deref(), std::str::from_utf8(&r.payload)) else { continue };
        let route = path.split('?').next().unwrap_or("");
        let Some(vm) =
            VenueMarket::of_venue(r.venue).into_iter().find(|vm| route.ends_with(vm.metadata_route()))
        else {
            continue;
        };
        if let Ok(specs) = vm.parse_metadata(body) {
            out.extend(specs);
        }
    }
    out
}

/// Every (venue, market, symbol) a capture's market data names.
pub fn discover_symbols(records: &[Record]) -> BTreeSet<(Venue, Market, String)> {
    let mut out = BTreeSet::new();
    for r in records {
        let symbol = match r.source {
            Source::Rest => r.path.as_deref().and_then(|p| rest_snapshot_target(r.venue, p)).map(|(_, s)| s),
            Source::Ws => VenueMarket::new(r.venue, r.market).frame_symbol(&r.payload, r.binary),
        };
        if let Some(s) = symbol {
            out.insert((r.venue, r.market, s));
        }
    }
    out
}
