//! Every venue's decoders behind one dispatcher keyed by venue, market and source, for
//! replaying captures and for tools. Also discovers which instruments a capture holds.

use std::collections::BTreeSet;

use pipeline::msg::MdEvent;
use pipeline::types::{InstrumentSpec, Instruments, Market, Venue};

use crate::capture::{Record, Source};
use crate::decode::{BadInput, DecodeError, Frame};
use crate::venues::gateio::md::{self as gate_md, GateMd};
use crate::venues::mexc::futures_md::MexcFuturesMd;
use crate::venues::mexc::spot_md::MexcSpotMd;
use crate::venues::{gateio, mexc};

/// The public-data decoders of every venue and market.
#[derive(Clone, Debug)]
pub struct Decoders {
    gate_spot: GateMd,
    gate_futures: GateMd,
    mexc_spot: MexcSpotMd,
    mexc_futures: MexcFuturesMd,
}

impl Decoders {
    pub fn new(instruments: &Instruments) -> Self {
        Self {
            gate_spot: GateMd::new(instruments, Market::Spot),
            gate_futures: GateMd::new(instruments, Market::Futures),
            mexc_spot: MexcSpotMd::new(instruments),
            mexc_futures: MexcFuturesMd::new(instruments),
        }
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
            Source::Ws => match (rec.venue, rec.market) {
                (Venue::GateIo, Market::Spot) => self.gate_spot.decode(&rec.payload, recv_ns, out),
                (Venue::GateIo, Market::Futures) => self.gate_futures.decode(&rec.payload, recv_ns, out),
                (Venue::Mexc, Market::Spot) => self.mexc_spot.decode(&rec.payload, rec.binary, recv_ns, out),
                (Venue::Mexc, Market::Futures) => self.mexc_futures.decode(&rec.payload, recv_ns, out),
            },
            Source::Rest => {
                let Some((market, symbol)) =
                    rec.path.as_deref().and_then(|p| rest_snapshot_target(rec.venue, p))
                else {
                    return Ok(Frame::Ignored);
                };
                let s = symbol.as_bytes();
                let unknown = DecodeError { reason: BadInput::UnknownSymbol, inst: None };
                match (rec.venue, market) {
                    (Venue::GateIo, Market::Spot) => {
                        let sym = self.gate_spot.symbol(s).ok_or(unknown)?;
                        self.gate_spot.decode_snapshot(sym, &rec.payload, recv_ns, out)?;
                    }
                    (Venue::GateIo, Market::Futures) => {
                        let sym = self.gate_futures.symbol(s).ok_or(unknown)?;
                        self.gate_futures.decode_snapshot(sym, &rec.payload, recv_ns, out)?;
                    }
                    (Venue::Mexc, Market::Spot) => {
                        let sym = self.mexc_spot.symbol(s).ok_or(unknown)?;
                        self.mexc_spot.decode_snapshot(sym, &rec.payload, recv_ns, out)?;
                    }
                    (Venue::Mexc, Market::Futures) => {
                        let sym = self.mexc_futures.symbol(s).ok_or(unknown)?;
                        self.mexc_futures.decode_snapshot(sym, &rec.payload, recv_ns, out)?;
                    }
                }
                Ok(Frame::Data)
            }
        }
    }
}

/// The market and symbol of a REST order-book snapshot request path.
pub fn rest_snapshot_target(venue: Venue, path: &str) -> Option<(Market, String)> {
    match venue {
        Venue::GateIo => gate_md::snapshot_target(path).map(|(m, s)| (m, s.to_owned())),
        Venue::Mexc => {
            let (route, query) = path.split_once('?').unwrap_or((path, ""));
            if route.ends_with("/api/v3/depth") {
                let s = query.split('&').find_map(|kv| kv.strip_prefix("symbol="))?;
                Some((Market::Spot, s.to_owned()))
            } else {
                let s = route.split("/api/v1/contract/depth/").nth(1)?;
                Some((Market::Futures, s.trim_end_matches('/').to_owned()))
            }
        }
    }
}

/// Instrument specifications from the metadata responses a capture recorded.
pub fn metadata_specs(records: &[Record]) -> Vec<InstrumentSpec> {
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.source == Source::Rest) {
        let (Some(path), Ok(body)) = (r.path.as_deref(), std::str::from_utf8(&r.payload)) else { continue };
        let route = path.split('?').next().unwrap_or("");
        let parsed = match r.venue {
            Venue::GateIo if route.ends_with("/spot/currency_pairs") => gateio::meta::spot_instruments(body),
            Venue::GateIo if route.ends_with("/futures/usdt/contracts") => {
                gateio::meta::futures_instruments(body)
            }
            Venue::Mexc if route.ends_with("/api/v3/exchangeInfo") => mexc::meta::spot_instruments(body),
            Venue::Mexc if route.ends_with("/api/v1/contract/detail") => {
                mexc::meta::futures_instruments(body)
            }
            _ => continue,
        };
        if let Ok(specs) = parsed {
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
            Source::Ws => match r.venue {
                Venue::GateIo => gate_md::frame_symbol(&r.payload),
                Venue::Mexc => mexc::frame_symbol(r.market, &r.payload, r.binary),
            },
        };
        if let Some(s) = symbol {
            out.insert((r.venue, r.market, s));
        }
    }
    out
}
