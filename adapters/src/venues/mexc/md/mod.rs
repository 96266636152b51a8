//! MEXC public market data: spot v3 protobuf pushes and REST snapshots ([`spot`]),
//! futures JSON pushes and REST snapshots ([`futures`]).

pub mod futures;
pub mod spot;

use pipeline::types::Market;

use crate::json::Parser;
use crate::proto::Reader;

/// The symbol a public frame is about, if any (for tools that discover instruments
/// from a capture before decoding it).
pub fn frame_symbol(market: Market, frame: &[u8], binary: bool) -> Option<String> {
    let raw: &[u8] = if market == Market::Spot && binary {
        let mut r = Reader::new(frame);
        let mut found = None;
        while let Ok(Some((f, w))) = r.field() {
            if f == 3 {
                found = r.len_field(w).ok();
                break;
            }
            r.skip(w).ok()?;
        }
        found?
    } else {
        let mut p = Parser::new(frame);
        let mut o = p.object().ok()?;
        let mut found = None;
        while let Some(k) = p.key(&mut o).ok()? {
            if k == b"symbol" {
                found = p.string_raw().ok();
                break;
            }
            p.skip().ok()?;
        }
        found?
    };
    std::str::from_utf8(raw).ok().map(str::to_owned)
}
