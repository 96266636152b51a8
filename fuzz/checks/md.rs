//! Exact decimals and the public market-data decoders (WebSocket frames and REST book
//! snapshots).

use adapters::decode::DecodeError;
use adapters::venues::VenueMarket;
use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{Price, Scaled};

/// A decimal at a scale from the first byte: what parses formats back to text that
/// parses to the same value.
pub fn decimal(data: &[u8]) -> String {
    let [scale, text @ ..] = data else { return "refused: empty".into() };
    let scale = scale % 19;
    match Price::parse_bytes(text, scale) {
        Ok(p) => {
            let back = Scaled::new(i128::from(p.0), scale).to_string();
            assert_eq!(Price::parse(&back, scale), Ok(p), "{back}");
            format!("accepted: {back}")
        }
        Err(e) => format!("refused: {e:?}"),
    }
}

/// Accepted output must be whole updates with sane levels; refused output must be empty.
fn check(result: Result<(), DecodeError>, out: &[MdEvent]) -> String {
    if let Err(e) = result {
        assert!(out.is_empty(), "a refused frame left {} events behind", out.len());
        return format!("refused: {:?}", e.reason);
    }
    let mut open = false;
    for e in out {
        match e.body {
            MdBody::Delta { first, last } => {
                assert!(!open && first <= last, "{:?}", e.body);
                open = true;
            }
            MdBody::Snapshot { .. } => {
                assert!(!open, "nested update");
                open = true;
            }
            MdBody::Level { price, qty, .. } => {
                assert!(open && price.0 > 0 && qty.0 >= 0, "{:?}", e.body);
            }
            MdBody::End => {
                assert!(open, "end without a header");
                open = false;
            }
            MdBody::Trade { price, qty, .. } => assert!(price.0 > 0 && qty.0 >= 0, "{:?}", e.body),
            MdBody::Bbo { .. } | MdBody::FeedLost { .. } | MdBody::Listed { .. } => {}
        }
    }
    assert!(!open, "an update never closed");
    format!("accepted: {} events", out.len())
}

/// One venue market's frame decoder and its snapshot decoder (for the first instrument
/// of that market) on the same bytes.
fn decode(vm: VenueMarket, data: &[u8], binary: bool) -> String {
    let t = super::table();
    let d = vm.decoder(&t);
    let mut out = Vec::new();
    let frame = check(d.decode(data, binary, 1, &mut out).map(|_| ()), &out);
    let inst = t.iter().find(|i| i.venue == vm.venue() && i.market == vm.market()).expect("an instrument");
    let sym = d.symbol(inst.symbol.as_bytes()).expect("the decoder knows its instruments");
    let mut out = Vec::new();
    let snapshot = check(d.decode_snapshot(sym, data, 1, &mut out), &out);
    format!("frame {frame}; snapshot {snapshot}")
}

pub fn gate_md(data: &[u8]) -> String {
    let spot = decode(VenueMarket::GateSpot, data, false);
    let futures = decode(VenueMarket::GateFutures, data, false);
    format!("spot {spot}; futures {futures}")
}

pub fn mexc_spot_md(data: &[u8]) -> String {
    let binary = decode(VenueMarket::MexcSpot, data, true);
    let text = decode(VenueMarket::MexcSpot, data, false);
    format!("binary {binary}; text {text}")
}

pub fn mexc_futures_md(data: &[u8]) -> String {
    decode(VenueMarket::MexcFutures, data, false)
}
