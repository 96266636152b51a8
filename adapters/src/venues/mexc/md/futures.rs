//! MEXC USDT perpetual futures public market data: WebSocket JSON frames and the REST
//! depth snapshot.
//!
//! `push.depth` carries levels `[price, contracts, orderCount]` as JSON numbers and a
//! `version`; merged pushes (the default since 2025-04) carry `begin..end` with
//! `version == end`. `push.depth.full` is a top-N book replacing the local one.
//! `push.deal` is an object or an array of trades (`T` 1 buy, 2 sell; `v` contracts).
//! `push.ticker` carries `bid1`/`ask1` without sizes or sequence. The symbol sits at the
//! top level, often after `data`, so `data` is read once the symbol is known. Control:
//! `pong`, `rs.sub.*` answers (`data: "success"`), `rs.error`.

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{Instruments, Market, Qty, Side, Venue};

use crate::decode::{BadInput, DecodeError, Frame, MAX_LEVELS_PER_FRAME, Sym, SymbolMap, atomically};
use crate::json::Parser;

/// Decodes MEXC futures public frames.
#[derive(Clone, Debug)]
pub struct MexcFuturesMd {
    symbols: SymbolMap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Depth,
    DepthFull,
    Deal,
    Ticker,
    Pong,
    Sub,
    Error,
    Other,
}

fn channel(c: &[u8]) -> Channel {
    match c {
        b"push.depth" => Channel::Depth,
        b"push.depth.full" => Channel::DepthFull,
        b"push.deal" => Channel::Deal,
        b"push.ticker" => Channel::Ticker,
        b"pong" => Channel::Pong,
        b"rs.error" => Channel::Error,
        _ if c.starts_with(b"rs.sub.") || c.starts_with(b"rs.unsub.") => Channel::Sub,
        _ => Channel::Other,
    }
}

impl MexcFuturesMd {
    pub fn new(instruments: &Instruments) -> Self {
        Self { symbols: SymbolMap::for_market(instruments, Venue::Mexc, Market::Futures) }
    }

    pub fn symbol(&self, symbol: &[u8]) -> Option<Sym> {
        self.symbols.get(symbol)
    }

    /// Decodes one WebSocket text frame.
    pub fn decode<'f>(
        &self,
        frame: &'f [u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        atomically(out, |out| self.frame(frame, recv_ns, out))
    }

    fn frame<'f>(
        &self,
        frame: &'f [u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        let mut p = Parser::new(frame);
        let mut o = p.object()?;
        let (mut chan, mut symbol, mut data, mut ts) = (None, None, None, 0u64);
        while let Some(k) = p.key(&mut o)? {
            match k {
                b"channel" => chan = Some(p.string_raw()?),
                b"symbol" => symbol = Some(p.string_raw()?),
                b"data" => data = Some(p.skip()?),
                b"ts" => ts = p.u64()?,
                _ => {
                    p.skip()?;
                }
            }
        }
        if !p.at_end() {
            return Err(BadInput::MalformedJson.into());
        }
        let c = chan.ok_or(BadInput::MissingField)?;
        let ch = channel(c);
        match ch {
            Channel::Pong => return Ok(Frame::Pong),
            Channel::Sub => {
                let ok = data.is_some_and(|d| d == b"\"success\"");
                return Ok(Frame::Subscribed { ok, topic: c });
            }
            Channel::Error => {
                let msg =
                    data.map(|d| d.strip_prefix(b"\"").and_then(|d| d.strip_suffix(b"\"")).unwrap_or(d));
                return Ok(Frame::VenueError { code: 0, message: msg.unwrap_or(b"") });
            }
            Channel::Other => return Ok(Frame::Ignored),
            _ => {}
        }
        let sym = self.symbols.resolve(symbol.ok_or(BadInput::MissingField)?)?;
        let data = data.ok_or(sym.err(BadInput::MissingField))?;
        let mut d = Parser::new(data);
        match ch {
            Channel::Depth | Channel::DepthFull => self.depth(ch, &mut d, sym, recv_ns, ts, out)?,
            Channel::Deal => {
                if d.peek() == Some(b'[') {
                    let mut a = d.array().map_err(|e| sym.err(e.into()))?;
                    while d.element(&mut a).map_err(|e| sym.err(e.into()))? {
                        deal(&mut d, sym, recv_ns, out)?;
                    }
                } else {
                    deal(&mut d, sym, recv_ns, out)?;
                }
            }
            _ => ticker(&mut d, sym, recv_ns, ts, out)?,
        }
        Ok(Frame::Data)
    }

    fn depth(
        &self,
        ch: Channel,
        p: &mut Parser<'_>,
        sym: Sym,
        recv_ns: u64,
        ts: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        let e = |j: crate::json::JsonError| sym.err(j.into());
        let mut o = p.object().map_err(e)?;
        let (mut version, mut begin, mut end) = (None, None, None);
        let (mut asks, mut bids) = (None, None);
        while let Some(k) = p.key(&mut o).map_err(e)? {
            match k {
                b"version" => version = Some(p.u64().map_err(e)?),
                b"begin" => begin = Some(p.u64().map_err(e)?),
                b"end" => end = Some(p.u64().map_err(e)?),
                b"asks" => asks = Some(p.skip().map_err(e)?),
                b"bids" => bids = Some(p.skip().map_err(e)?),
                _ => {
                    p.skip().map_err(e)?;
                }
            }
        }
        let header = match (ch, begin, end, version) {
            (Channel::DepthFull, _, _, v) => MdBody::Snapshot { id: v.unwrap_or(0), partial: true },
            (_, Some(first), Some(last), _) if first <= last => MdBody::Delta { first, last },
            (_, Some(_), Some(_), _) => return Err(sym.err(BadInput::BadNumber)),
            (_, _, _, Some(v)) => MdBody::Delta { first: v, last: v },
            _ => return Err(sym.err(BadInput::MissingField)),
        };
        let ev = |body| MdEvent { inst: sym.inst, recv_ns, exch_ms: ts, body };
        out.push(ev(header));
        let mut n = 0;
        for (side, text) in [(Side::Buy, bids), (Side::Sell, asks)] {
            if let Some(t) = text {
                super::spot::json_levels(t, sym, side, &mut n, &mut |b| out.push(ev(b)))?;
            }
        }
        if n > MAX_LEVELS_PER_FRAME {
            return Err(sym.err(BadInput::TooManyLevels));
        }
        out.push(ev(MdBody::End));
        Ok(())
    }

    /// Decodes a REST `/api/v1/contract/depth/{symbol}` snapshot of `sym`.
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
            let (mut data, mut success) = (None, true);
            while let Some(k) = p.key(&mut o).map_err(e)? {
                match k {
                    b"data" => data = Some(p.skip().map_err(e)?),
                    b"success" => success = p.bool().map_err(e)?,
                    _ => {
                        p.skip().map_err(e)?;
                    }
                }
            }
            if !success {
                return Err(sym.err(BadInput::MissingField));
            }
            let mut d = Parser::new(data.ok_or(sym.err(BadInput::MissingField))?);
            let mut o = d.object().map_err(e)?;
            let (mut version, mut ts, mut asks, mut bids) = (None, 0u64, None, None);
            while let Some(k) = d.key(&mut o).map_err(e)? {
                match k {
                    b"version" => version = Some(d.u64().map_err(e)?),
                    b"timestamp" => ts = d.u64().map_err(e)?,
                    b"asks" => asks = Some(d.skip().map_err(e)?),
                    b"bids" => bids = Some(d.skip().map_err(e)?),
                    _ => {
                        d.skip().map_err(e)?;
                    }
                }
            }
            super::spot::push_snapshot(sym, version, ts, [bids, asks], recv_ns, out)
        })
    }
}

fn deal(p: &mut Parser<'_>, sym: Sym, recv_ns: u64, out: &mut Vec<MdEvent>) -> Result<(), DecodeError> {
    let e = |j: crate::json::JsonError| sym.err(j.into());
    let mut o = p.object().map_err(e)?;
    let (mut price, mut vol, mut side, mut t) = (None, None, None, 0u64);
    while let Some(k) = p.key(&mut o).map_err(e)? {
        match k {
            b"p" => price = Some(p.decimal_raw().map_err(e)?),
            b"v" => vol = Some(p.decimal_raw().map_err(e)?),
            b"T" => {
                side = match p.u64().map_err(e)? {
                    1 => Some(Side::Buy),
                    2 => Some(Side::Sell),
                    _ => return Err(sym.err(BadInput::WrongType)),
                }
            }
            b"t" => t = p.u64().map_err(e)?,
            _ => {
                p.skip().map_err(e)?;
            }
        }
    }
    let (Some(price), Some(vol), Some(side)) = (price, vol, side) else {
        return Err(sym.err(BadInput::MissingField));
    };
    let body = MdBody::Trade { side, price: sym.price(price)?, qty: sym.qty(vol)? };
    out.push(MdEvent { inst: sym.inst, recv_ns, exch_ms: t, body });
    Ok(())
}

fn ticker(
    p: &mut Parser<'_>,
    sym: Sym,
    recv_ns: u64,
    ts: u64,
    out: &mut Vec<MdEvent>,
) -> Result<(), DecodeError> {
    let e = |j: crate::json::JsonError| sym.err(j.into());
    let mut o = p.object().map_err(e)?;
    let (mut bid, mut ask) = (None, None);
    while let Some(k) = p.key(&mut o).map_err(e)? {
        match k {
            b"bid1" => bid = Some(p.decimal_raw().map_err(e)?),
            b"ask1" => ask = Some(p.decimal_raw().map_err(e)?),
            _ => {
                p.skip().map_err(e)?;
            }
        }
    }
    let (Some(bid), Some(ask)) = (bid, ask) else {
        return Err(sym.err(BadInput::MissingField));
    };
    // The ticker has no sizes or sequence: a sequence of 0 keeps it out of the book's
    // overlay; it is still decoded for monitoring.
    let body = MdBody::Bbo {
        seq: 0,
        bid: sym.price(bid)?,
        bid_qty: Qty::ZERO,
        ask: sym.price(ask)?,
        ask_qty: Qty::ZERO,
    };
    out.push(MdEvent { inst: sym.inst, recv_ns, exch_ms: ts, body });
    Ok(())
}
