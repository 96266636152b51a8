//! MEXC spot v3 public market data: protobuf WebSocket frames, their JSON control
//! frames, and the REST `/api/v3/depth` snapshot.
//!
//! Binary frames are `PushDataV3ApiWrapper` messages (field numbers from the official
//! .proto files in test_data/mexc/proto): channel 1, symbol 3, sendTime 6, and one body:
//! `publicAggreDepths` 313 (deltas `fromVersion..toVersion`), `publicLimitDepths` 303
//! (top-N books that replace the local one), `publicAggreBookTicker` 315 (best bid and
//! offer with a `version`), `publicAggreDeals` 314 (trades). Every price and quantity is
//! decimal text. Text frames are acks (`msg` echoes the topic; a refusal also has code
//! 0, so the caller compares the topic) and `PONG`.

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{Instruments, Market, Side, Venue};

use crate::decode::{BadInput, DecodeError, Frame, MAX_LEVELS_PER_FRAME, Sym, SymbolMap, atomically};
use crate::json::{Parser, parse_u64};
use crate::proto::{ProtoError, Reader};

impl From<ProtoError> for DecodeError {
    fn from(_: ProtoError) -> Self {
        DecodeError { reason: BadInput::BadProtobuf, inst: None }
    }
}

const AGGRE_DEPTHS: u32 = 313;
const AGGRE_DEALS: u32 = 314;
const AGGRE_BOOK_TICKER: u32 = 315;
const LIMIT_DEPTHS: u32 = 303;

/// Decodes MEXC spot public frames.
#[derive(Clone, Debug)]
pub struct MexcSpotMd {
    symbols: SymbolMap,
}

impl MexcSpotMd {
    pub fn new(instruments: &Instruments) -> Self {
        Self { symbols: SymbolMap::for_market(instruments, Venue::Mexc, Market::Spot) }
    }

    pub fn symbol(&self, symbol: &[u8]) -> Option<Sym> {
        self.symbols.get(symbol)
    }

    /// Decodes one WebSocket frame, binary (protobuf) or text (JSON control).
    pub fn decode<'f>(
        &self,
        frame: &'f [u8],
        binary: bool,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        if binary { atomically(out, |out| self.binary(frame, recv_ns, out)) } else { text_frame(frame) }
    }

    fn binary<'f>(
        &self,
        frame: &'f [u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        let mut r = Reader::new(frame);
        let mut channel: &[u8] = b"";
        let mut symbol: Option<&[u8]> = None;
        let mut send_ms = 0u64;
        let mut create_ms = 0u64;
        let mut body: Option<(u32, &[u8])> = None;
        while let Some((field, wire)) = r.field()? {
            match field {
                1 => channel = r.len_field(wire)?,
                3 => symbol = Some(r.len_field(wire)?),
                5 => create_ms = r.varint_field(wire)?,
                6 => send_ms = r.varint_field(wire)?,
                301..=399 => body = Some((field, r.len_field(wire)?)),
                _ => r.skip(wire)?,
            }
        }
        let Some((kind, body)) = body else {
            return Err(BadInput::MissingField.into());
        };
        if !matches!(kind, AGGRE_DEPTHS | AGGRE_DEALS | AGGRE_BOOK_TICKER | LIMIT_DEPTHS) {
            return Ok(Frame::Ignored);
        }
        let symbol = symbol.or_else(|| channel_symbol(channel)).ok_or(BadInput::MissingField)?;
        let sym = self.symbols.resolve(symbol)?;
        let exch_ms = if send_ms != 0 { send_ms } else { create_ms };
        let ev = |body| MdEvent { inst: sym.inst, recv_ns, exch_ms, body };
        let map = |e: ProtoError| sym.err(DecodeError::from(e).reason);
        match kind {
            AGGRE_DEPTHS | LIMIT_DEPTHS => {
                // One pass: the versions follow the levels on the wire, so the header's
                // slot is reserved now and filled in at the end.
                let start = out.len();
                out.push(ev(MdBody::End));
                let (mut from, mut to, mut version) = (None, None, None);
                let mut n = 0;
                let mut b = Reader::new(body);
                while let Some((f, w)) = b.field().map_err(map)? {
                    match (kind, f) {
                        (_, 1 | 2) => {
                            n += 1;
                            if n > MAX_LEVELS_PER_FRAME {
                                return Err(sym.err(BadInput::TooManyLevels));
                            }
                            let side = if f == 1 { Side::Sell } else { Side::Buy };
                            let (price, qty) = price_qty(b.len_field(w).map_err(map)?, sym)?;
                            if let Some(level) = sym.level(side, price, qty)? {
                                out.push(ev(level));
                            }
                        }
                        (AGGRE_DEPTHS, 4) => from = Some(version_text(b.len_field(w).map_err(map)?, sym)?),
                        (AGGRE_DEPTHS, 5) => to = Some(version_text(b.len_field(w).map_err(map)?, sym)?),
                        (LIMIT_DEPTHS, 4) => version = Some(version_text(b.len_field(w).map_err(map)?, sym)?),
                        _ => b.skip(w).map_err(map)?,
                    }
                }
                out[start] = ev(if kind == AGGRE_DEPTHS {
                    let (Some(first), Some(last)) = (from, to) else {
                        return Err(sym.err(BadInput::MissingField));
                    };
                    if first > last {
                        return Err(sym.err(BadInput::BadNumber));
                    }
                    MdBody::Delta { first, last }
                } else {
                    MdBody::Snapshot { id: version.unwrap_or(0), partial: true }
                });
                out.push(ev(MdBody::End));
            }
            AGGRE_BOOK_TICKER => {
                let (mut bp, mut bq, mut ap, mut aq, mut version) = (None, None, None, None, 0u64);
                let mut b = Reader::new(body);
                while let Some((f, w)) = b.field().map_err(map)? {
                    match f {
                        1 => bp = Some(b.len_field(w).map_err(map)?),
                        2 => bq = Some(b.len_field(w).map_err(map)?),
                        3 => ap = Some(b.len_field(w).map_err(map)?),
                        4 => aq = Some(b.len_field(w).map_err(map)?),
                        5 => version = version_text(b.len_field(w).map_err(map)?, sym)?,
                        _ => b.skip(w).map_err(map)?,
                    }
                }
                let (Some(bp), Some(bq), Some(ap), Some(aq)) = (bp, bq, ap, aq) else {
                    return Err(sym.err(BadInput::MissingField));
                };
                if bp.is_empty() || ap.is_empty() {
                    return Ok(Frame::Ignored);
                }
                out.push(ev(MdBody::Bbo {
                    seq: version,
                    bid: sym.price(bp)?,
                    bid_qty: sym.qty(bq)?,
                    ask: sym.price(ap)?,
                    ask_qty: sym.qty(aq)?,
                }));
            }
            _ => {
                let mut b = Reader::new(body);
                while let Some((f, w)) = b.field().map_err(map)? {
                    if f != 1 {
                        b.skip(w).map_err(map)?;
                        continue;
                    }
                    let deal = b.len_field(w).map_err(map)?;
                    let (mut price, mut qty, mut side, mut time) = (None, None, None, 0u64);
                    let mut d = Reader::new(deal);
                    while let Some((f, w)) = d.field().map_err(map)? {
                        match f {
                            1 => price = Some(d.len_field(w).map_err(map)?),
                            2 => qty = Some(d.len_field(w).map_err(map)?),
                            3 => {
                                side = match d.varint_field(w).map_err(map)? {
                                    1 => Some(Side::Buy),
                                    2 => Some(Side::Sell),
                                    _ => return Err(sym.err(BadInput::WrongType)),
                                }
                            }
                            4 => time = d.varint_field(w).map_err(map)?,
                            _ => d.skip(w).map_err(map)?,
                        }
                    }
                    let (Some(price), Some(qty), Some(side)) = (price, qty, side) else {
                        return Err(sym.err(BadInput::MissingField));
                    };
                    let body = MdBody::Trade { side, price: sym.price(price)?, qty: sym.qty(qty)? };
                    out.push(MdEvent {
                        inst: sym.inst,
                        recv_ns,
                        exch_ms: if time != 0 { time } else { exch_ms },
                        body,
                    });
                }
            }
        }
        Ok(Frame::Data)
    }

    /// Decodes a REST `/api/v3/depth` snapshot of `sym`.
    pub fn decode_snapshot(
        &self,
        sym: Sym,
        body: &[u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        atomically(out, |out| {
            let e = |j: crate::json::JsonError| sym.err(j.into());
            let mut p = Parser::new(body);
            let mut o = p.object().map_err(e)?;
            let (mut id, mut ts, mut bids, mut asks) = (None, 0u64, None, None);
            while let Some(k) = p.key(&mut o).map_err(e)? {
                match k {
                    b"lastUpdateId" => id = Some(p.u64().map_err(e)?),
                    b"timestamp" => ts = p.u64().map_err(e)?,
                    b"bids" => bids = Some(p.skip().map_err(e)?),
                    b"asks" => asks = Some(p.skip().map_err(e)?),
                    _ => {
                        p.skip().map_err(e)?;
                    }
                }
            }
            push_snapshot(sym, id, ts, [bids, asks], recv_ns, out)
        })
    }
}

/// A full REST snapshot as events: its id, both sides' `[["price","qty"], ...]` levels
/// (bids first) and the end; a missing id or side is refused.
pub(crate) fn push_snapshot(
    sym: Sym,
    id: Option<u64>,
    ts: u64,
    [bids, asks]: [Option<&[u8]>; 2],
    recv_ns: u64,
    out: &mut Vec<MdEvent>,
) -> Result<(), DecodeError> {
    let id = id.ok_or(sym.err(BadInput::MissingField))?;
    let ev = |body| MdEvent { inst: sym.inst, recv_ns, exch_ms: ts, body };
    out.push(ev(MdBody::Snapshot { id, partial: false }));
    let mut n = 0;
    for (side, text) in [(Side::Buy, bids), (Side::Sell, asks)] {
        let text = text.ok_or(sym.err(BadInput::MissingField))?;
        json_levels(text, sym, side, &mut n, &mut |b| out.push(ev(b)))?;
    }
    out.push(ev(MdBody::End));
    Ok(())
}

/// `spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT` -> `BTCUSDT`;
/// `spot@public.limit.depth.v3.api.pb@BTCUSDT@5` -> `BTCUSDT`.
fn channel_symbol(channel: &[u8]) -> Option<&[u8]> {
    let mut parts = channel.rsplit(|&b| b == b'@');
    let last = parts.next()?;
    if last.iter().all(u8::is_ascii_digit) { parts.next() } else { Some(last) }
}

fn version_text(t: &[u8], sym: Sym) -> Result<u64, DecodeError> {
    parse_u64(t).ok_or(sym.err(BadInput::BadNumber))
}

fn price_qty(item: &[u8], sym: Sym) -> Result<(&[u8], &[u8]), DecodeError> {
    // The usual encoding: field 1 then field 2, each with a one-byte length.
    if let [0x0a, plen, rest @ ..] = item {
        let plen = usize::from(*plen);
        if plen < 0x80 {
            if let (Some(price), Some(&[0x12, qlen])) = (rest.get(..plen), rest.get(plen..plen + 2)) {
                let qlen = usize::from(qlen);
                if qlen < 0x80 && rest.len() == plen + 2 + qlen {
                    return Ok((price, &rest[plen + 2..]));
                }
            }
        }
    }
    let map = |e: ProtoError| sym.err(DecodeError::from(e).reason);
    let mut r = Reader::new(item);
    let (mut price, mut qty) = (None, None);
    while let Some((f, w)) = r.field().map_err(map)? {
        match f {
            1 => price = Some(r.len_field(w).map_err(map)?),
            2 => qty = Some(r.len_field(w).map_err(map)?),
            _ => r.skip(w).map_err(map)?,
        }
    }
    match (price, qty) {
        (Some(p), Some(q)) => Ok((p, q)),
        _ => Err(sym.err(BadInput::MissingField)),
    }
}

/// `[["price","qty"], ...]`, as MEXC's REST depth sends them.
pub(crate) fn json_levels(
    text: &[u8],
    sym: Sym,
    side: Side,
    n: &mut usize,
    push: &mut impl FnMut(MdBody),
) -> Result<(), DecodeError> {
    let e = |j: crate::json::JsonError| sym.err(j.into());
    let mut p = Parser::new(text);
    let mut a = p.array().map_err(e)?;
    while p.element(&mut a).map_err(e)? {
        *n += 1;
        if *n > MAX_LEVELS_PER_FRAME {
            return Err(sym.err(BadInput::TooManyLevels));
        }
        if let Some((price, qty)) = p.plain_pair() {
            if let Some(level) = sym.level_plain(side, price, qty)? {
                push(level);
            }
            continue;
        }
        let mut lv = p.array().map_err(e)?;
        let mut item = || -> Result<&[u8], DecodeError> {
            if !p.element(&mut lv).map_err(e)? {
                return Err(sym.err(BadInput::MissingField));
            }
            p.decimal_raw().map_err(e)
        };
        let price = item()?;
        let qty = item()?;
        while p.element(&mut lv).map_err(e)? {
            p.skip().map_err(e)?;
        }
        if let Some(level) = sym.level(side, price, qty)? {
            push(level);
        }
    }
    Ok(())
}

/// `{"id":0,"code":0,"msg":"<topic>"}`, `{"id":0,"code":0,"msg":"PONG"}`, or an error.
fn text_frame(frame: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let mut p = Parser::new(frame);
    let mut o = p.object()?;
    let (mut code, mut msg): (Option<i64>, Option<&[u8]>) = (None, None);
    while let Some(k) = p.key(&mut o)? {
        match k {
            b"code" => code = Some(p.i64()?),
            b"msg" => msg = Some(p.string_raw()?),
            _ => {
                p.skip()?;
            }
        }
    }
    let msg = msg.ok_or(BadInput::MissingField)?;
    match code {
        Some(0) if msg == b"PONG" => Ok(Frame::Pong),
        Some(0) => Ok(Frame::Subscribed { ok: true, topic: msg }),
        Some(c) => Ok(Frame::VenueError { code: c, message: msg }),
        None => Err(BadInput::MissingField.into()),
    }
}
