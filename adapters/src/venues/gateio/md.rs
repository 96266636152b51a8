//! Gate.io public market data: WebSocket v4 frames (spot and USDT futures) and REST
//! order-book snapshots, decoded into normalized [`MdEvent`]s.
//!
//! Channels: `*.order_book_update` (deltas `U..u`, or a full book when `full` is true),
//! `*.obu` (order book v2: a full push then deltas chained on `U`), `*.book_ticker`
//! (best bid/offer with the order-book update id `u`), `*.trades`. Spot levels are
//! `[price, amount]` string pairs; futures `order_book_update` levels are
//! `{"p": price, "s": contracts}` with integer sizes, and futures `obu` sizes are
//! strings that may have fractions. Futures quantities stay in contracts (the
//! instrument's order unit). Control frames (subscribe answers, pongs, errors) are
//! recognized and never produce data.
//!
//! Key order inside a frame is not relied on: when the symbol arrives after the levels,
//! the levels are parsed once the symbol is known.

use pipeline::msg::{MdBody, MdEvent};
use pipeline::types::{Instruments, Market, Side, Venue};

use crate::decode::{BadInput, DecodeError, Frame, MAX_LEVELS_PER_FRAME, Sym, SymbolMap, atomically};
use crate::json::{Parser, Seq, parse_u64, parse_u64_floor};

/// Decodes the public frames of one Gate.io market (spot or futures).
#[derive(Clone, Debug)]
pub struct GateMd {
    market: Market,
    symbols: SymbolMap,
}

/// The channels of one frame, by what they carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    OrderBookUpdate,
    Obu,
    BookTicker,
    Trades,
    Pong,
    Other,
}

fn channel(name: &[u8]) -> Channel {
    let (_, rest) = match name.iter().position(|&b| b == b'.') {
        Some(i) => name.split_at(i + 1),
        None => return Channel::Other,
    };
    match rest {
        b"order_book_update" => Channel::OrderBookUpdate,
        b"obu" => Channel::Obu,
        b"book_ticker" => Channel::BookTicker,
        b"trades" | b"trades_v2" => Channel::Trades,
        b"pong" => Channel::Pong,
        _ => Channel::Other,
    }
}

impl GateMd {
    pub fn new(instruments: &Instruments, market: Market) -> Self {
        Self { market, symbols: SymbolMap::for_market(instruments, Venue::GateIo, market) }
    }

    pub fn market(&self) -> Market {
        self.market
    }

    /// The instrument a venue symbol names, if configured.
    pub fn symbol(&self, symbol: &[u8]) -> Option<Sym> {
        self.symbols.get(symbol)
    }

    /// Decodes one WebSocket text frame, appending events to `out`.
    pub fn decode<'f>(
        &self,
        frame: &'f [u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        atomically(out, |out| self.decode_frame(frame, recv_ns, out))
    }

    fn decode_frame<'f>(
        &self,
        frame: &'f [u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<Frame<'f>, DecodeError> {
        let before = out.len();
        let mut p = Parser::new(frame);
        let mut o = p.object()?;
        let mut chan: Option<&[u8]> = None;
        let mut event: Option<&[u8]> = None;
        let mut result: Option<&[u8]> = None;
        let mut error: Option<&[u8]> = None;
        let mut done = false;
        while let Some(k) = p.key(&mut o)? {
            match k {
                b"channel" => chan = Some(p.string_raw()?),
                b"event" => event = Some(p.string_raw()?),
                b"result" => match (chan, event) {
                    (Some(c), Some(e)) if is_data(e) && !done => {
                        self.result(channel(c), &mut p, recv_ns, out)?;
                        done = true;
                    }
                    _ => result = Some(p.skip()?),
                },
                b"error" => {
                    if p.null()? {
                        error = None;
                    } else {
                        error = Some(p.skip()?);
                    }
                }
                _ => {
                    p.skip()?;
                }
            }
        }
        if !p.at_end() {
            return Err(BadInput::MalformedJson.into());
        }
        let c = chan.ok_or(BadInput::MissingField)?;
        let e = event.unwrap_or(b"");
        let ch = channel(c);
        if let Some(err) = error {
            let (code, message) = venue_error(err)?;
            if e == b"subscribe" || e == b"unsubscribe" {
                return Ok(Frame::Subscribed { ok: false, topic: message });
            }
            return Ok(Frame::VenueError { code, message });
        }
        match e {
            b"subscribe" | b"unsubscribe" => {
                let ok = match result {
                    Some(r) => status_is_success(r)?,
                    None => false,
                };
                Ok(Frame::Subscribed { ok, topic: c })
            }
            _ if ch == Channel::Pong => Ok(Frame::Pong),
            _ if done => Ok(if out.len() > before { Frame::Data } else { Frame::Ignored }),
            ev if is_data(ev) => match result {
                Some(r) => {
                    self.result(ch, &mut Parser::new(r), recv_ns, out)?;
                    Ok(if out.len() > before { Frame::Data } else { Frame::Ignored })
                }
                None => Err(BadInput::MissingField.into()),
            },
            _ if ch == Channel::Other => Ok(Frame::Ignored),
            _ => Err(BadInput::UnknownChannel.into()),
        }
    }

    /// Decodes the `result` of a data frame.
    fn result(
        &self,
        ch: Channel,
        p: &mut Parser<'_>,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        match ch {
            Channel::OrderBookUpdate | Channel::Obu => self.depth(ch, p, recv_ns, out),
            Channel::BookTicker => self.book_ticker(p, recv_ns, out),
            Channel::Trades => self.trades(p, recv_ns, out),
            Channel::Pong | Channel::Other => {
                p.skip()?;
                Ok(())
            }
        }
    }

    fn depth(
        &self,
        ch: Channel,
        p: &mut Parser<'_>,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        let mut o = p.object()?;
        let mut sym: Option<Sym> = None;
        let mut first: Option<u64> = None;
        let mut last: Option<u64> = None;
        let mut full = false;
        let mut t_ms = 0u64;
        let mut bids: Option<&[u8]> = None;
        let mut asks: Option<&[u8]> = None;
        // Levels are parsed where they lie once the symbol is known (the usual order);
        // before that they are set aside and parsed at the end. The header's slot is
        // reserved now and filled in when the sequence ids are known.
        let start = out.len();
        let mut n = 0;
        out.push(MdEvent { inst: Default::default(), recv_ns, exch_ms: 0, body: MdBody::End });
        while let Some(k) = p.key(&mut o)? {
            match k {
                b"s" => {
                    let s = p.string_raw()?;
                    let s =
                        if ch == Channel::Obu { obu_symbol(s).ok_or(BadInput::UnknownSymbol)? } else { s };
                    sym = Some(self.symbols.resolve(s)?);
                }
                b"U" => first = Some(p.u64()?),
                b"u" => last = Some(p.u64()?),
                b"t" => t_ms = p.u64()?,
                b"full" => full = p.bool()?,
                b"b" | b"a" => {
                    let side = if k == b"b" { Side::Buy } else { Side::Sell };
                    match sym {
                        Some(s) => levels(p, s, side, &mut n, &mut |body| {
                            out.push(MdEvent { inst: s.inst, recv_ns, exch_ms: 0, body })
                        })?,
                        None if side == Side::Buy => bids = Some(p.skip()?),
                        None => asks = Some(p.skip()?),
                    }
                }
                _ => {
                    p.skip()?;
                }
            }
        }
        let sym = sym.ok_or(BadInput::MissingField)?;
        let last = last.ok_or(sym.err(BadInput::MissingField))?;
        let body = if full {
            MdBody::Snapshot { id: last, partial: false }
        } else {
            // An order_book_update without U is malformed; so is an obu delta.
            let first = first.ok_or(sym.err(BadInput::MissingField))?;
            if first > last {
                return Err(sym.err(BadInput::BadNumber));
            }
            MdBody::Delta { first, last }
        };
        let ev = |body| MdEvent { inst: sym.inst, recv_ns, exch_ms: t_ms, body };
        if let Some(b) = bids {
            levels(&mut Parser::new(b), sym, Side::Buy, &mut n, &mut |body| out.push(ev(body)))?;
        }
        if let Some(a) = asks {
            levels(&mut Parser::new(a), sym, Side::Sell, &mut n, &mut |body| out.push(ev(body)))?;
        }
        out[start] = ev(body);
        for e in &mut out[start + 1..] {
            e.exch_ms = t_ms;
        }
        out.push(ev(MdBody::End));
        Ok(())
    }

    fn book_ticker(
        &self,
        p: &mut Parser<'_>,
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        let mut o = p.object()?;
        let mut sym: Option<Sym> = None;
        let (mut seq, mut t_ms) = (0u64, 0u64);
        let (mut b, mut bq, mut a, mut aq) = (None, None, None, None);
        while let Some(k) = p.key(&mut o)? {
            match k {
                b"s" => sym = Some(self.symbols.resolve(p.string_raw()?)?),
                b"u" => seq = p.u64()?,
                b"t" => t_ms = p.u64()?,
                b"b" => b = Some(p.decimal_raw()?),
                b"B" => bq = Some(p.decimal_raw()?),
                b"a" => a = Some(p.decimal_raw()?),
                b"A" => aq = Some(p.decimal_raw()?),
                _ => {
                    p.skip()?;
                }
            }
        }
        let sym = sym.ok_or(BadInput::MissingField)?;
        let (Some(b), Some(bq), Some(a), Some(aq)) = (b, bq, a, aq) else {
            return Err(sym.err(BadInput::MissingField));
        };
        if b.is_empty() || a.is_empty() {
            // An empty side: no best bid or offer to report.
            return Ok(());
        }
        let body = MdBody::Bbo {
            seq,
            bid: sym.price(b)?,
            bid_qty: sym.qty(bq)?,
            ask: sym.price(a)?,
            ask_qty: sym.qty(aq)?,
        };
        out.push(MdEvent { inst: sym.inst, recv_ns, exch_ms: t_ms, body });
        Ok(())
    }

    fn trades(&self, p: &mut Parser<'_>, recv_ns: u64, out: &mut Vec<MdEvent>) -> Result<(), DecodeError> {
        // Spot pushes one trade object; futures push an array of them.
        match p.peek() {
            Some(b'[') => {
                let mut a = p.array()?;
                while p.element(&mut a)? {
                    self.trade(p, recv_ns, out)?;
                }
                Ok(())
            }
            _ => self.trade(p, recv_ns, out),
        }
    }

    fn trade(&self, p: &mut Parser<'_>, recv_ns: u64, out: &mut Vec<MdEvent>) -> Result<(), DecodeError> {
        let mut o = p.object()?;
        let mut sym: Option<Sym> = None;
        let (mut price, mut amount, mut size) = (None, None, None);
        let mut side: Option<Side> = None;
        let mut t_ms = 0u64;
        while let Some(k) = p.key(&mut o)? {
            match k {
                b"currency_pair" | b"contract" => sym = Some(self.symbols.resolve(p.string_raw()?)?),
                b"price" => price = Some(p.decimal_raw()?),
                b"amount" => amount = Some(p.decimal_raw()?),
                b"size" => size = Some(p.decimal_raw()?),
                b"side" => {
                    side = Some(match p.string_raw()? {
                        b"buy" => Side::Buy,
                        b"sell" => Side::Sell,
                        _ => return Err(BadInput::WrongType.into()),
                    })
                }
                b"create_time_ms" => t_ms = parse_u64_floor(p.decimal_raw()?).ok_or(BadInput::BadNumber)?,
                _ => {
                    p.skip()?;
                }
            }
        }
        let sym = sym.ok_or(BadInput::MissingField)?;
        let price = sym.price(price.ok_or(sym.err(BadInput::MissingField))?)?;
        let (side, qty) = match (amount, size) {
            (Some(a), _) => (side.ok_or(sym.err(BadInput::MissingField))?, sym.qty(a)?),
            (None, Some(s)) => match s.split_first() {
                // Futures: the sign of the size is the taker's side.
                Some((b'-', abs)) => (Side::Sell, sym.qty(abs)?),
                _ => (Side::Buy, sym.qty(s)?),
            },
            (None, None) => return Err(sym.err(BadInput::MissingField)),
        };
        out.push(MdEvent {
            inst: sym.inst,
            recv_ns,
            exch_ms: t_ms,
            body: MdBody::Trade { side, price, qty },
        });
        Ok(())
    }

    /// Decodes a REST order-book snapshot (`with_id=true`) of `sym`.
    pub fn decode_snapshot(
        &self,
        sym: Sym,
        body: &[u8],
        recv_ns: u64,
        out: &mut Vec<MdEvent>,
    ) -> Result<(), DecodeError> {
        atomically(out, |out| {
            let mut p = Parser::new(body);
            let mut o = p.object().map_err(|e| sym.err(e.into()))?;
            let mut id: Option<u64> = None;
            let mut update_ms = 0u64;
            let (mut bids, mut asks): (Option<&[u8]>, Option<&[u8]>) = (None, None);
            while let Some(k) = p.key(&mut o).map_err(|e| sym.err(e.into()))? {
                match k {
                    b"id" => id = Some(p.u64().map_err(|e| sym.err(e.into()))?),
                    b"update" => {
                        // Spot: integer ms; futures: float seconds.
                        let t = p.decimal_raw().map_err(|e| sym.err(e.into()))?;
                        update_ms = if t.contains(&b'.') {
                            pipeline::types::decimal::parse_i64(t, 3).map_or(0, |v| v.max(0) as u64)
                        } else {
                            parse_u64(t).unwrap_or(0)
                        };
                    }
                    b"bids" => bids = Some(p.skip().map_err(|e| sym.err(e.into()))?),
                    b"asks" => asks = Some(p.skip().map_err(|e| sym.err(e.into()))?),
                    _ => {
                        p.skip().map_err(|e| sym.err(e.into()))?;
                    }
                }
            }
            let id = id.ok_or(sym.err(BadInput::MissingField))?;
            let ev = |body| MdEvent { inst: sym.inst, recv_ns, exch_ms: update_ms, body };
            out.push(ev(MdBody::Snapshot { id, partial: false }));
            let mut n = 0;
            for (side, levels_text) in [(Side::Buy, bids), (Side::Sell, asks)] {
                let t = levels_text.ok_or(sym.err(BadInput::MissingField))?;
                levels(&mut Parser::new(t), sym, side, &mut n, &mut |body| out.push(ev(body)))?;
            }
            out.push(ev(MdBody::End));
            Ok(())
        })
    }
}

fn is_data(event: &[u8]) -> bool {
    event == b"update" || event == b"all"
}

/// `ob.BTC_USDT.50` -> `BTC_USDT`.
fn obu_symbol(s: &[u8]) -> Option<&[u8]> {
    let rest = s.strip_prefix(b"ob.")?;
    let dot = rest.iter().rposition(|&b| b == b'.')?;
    Some(&rest[..dot])
}

/// Levels as `[["price","qty"], ...]` or `[{"p": "price", "s": qty}, ...]`.
fn levels(
    p: &mut Parser<'_>,
    sym: Sym,
    side: Side,
    n: &mut usize,
    push: &mut impl FnMut(MdBody),
) -> Result<(), DecodeError> {
    let e = |j: crate::json::JsonError| sym.err(j.into());
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
        let (price, qty) = match p.peek() {
            Some(b'[') => {
                let mut lv = p.array().map_err(e)?;
                let price = pair_item(p, &mut lv, sym)?;
                let qty = pair_item(p, &mut lv, sym)?;
                // Extra fields (order counts and the like) are skipped.
                while p.element(&mut lv).map_err(e)? {
                    p.skip().map_err(e)?;
                }
                (price, qty)
            }
            Some(b'{') => {
                let mut o = p.object().map_err(e)?;
                let (mut price, mut qty) = (None, None);
                while let Some(k) = p.key(&mut o).map_err(e)? {
                    match k {
                        b"p" => price = Some(p.decimal_raw().map_err(e)?),
                        b"s" => qty = Some(p.decimal_raw().map_err(e)?),
                        _ => {
                            p.skip().map_err(e)?;
                        }
                    }
                }
                match (price, qty) {
                    (Some(pr), Some(q)) => (pr, q),
                    _ => return Err(sym.err(BadInput::MissingField)),
                }
            }
            _ => return Err(sym.err(BadInput::WrongType)),
        };
        if let Some(level) = sym.level(side, price, qty)? {
            push(level);
        }
    }
    Ok(())
}

fn pair_item<'a>(p: &mut Parser<'a>, s: &mut Seq, sym: Sym) -> Result<&'a [u8], DecodeError> {
    if !p.element(s).map_err(|j| sym.err(j.into()))? {
        return Err(sym.err(BadInput::MissingField));
    }
    p.decimal_raw().map_err(|j| sym.err(j.into()))
}

fn status_is_success(result: &[u8]) -> Result<bool, DecodeError> {
    let mut p = Parser::new(result);
    if p.null()? {
        return Ok(false);
    }
    let mut o = p.object()?;
    let mut ok = false;
    while let Some(k) = p.key(&mut o)? {
        match k {
            b"status" => ok = p.string_raw()? == b"success",
            _ => {
                p.skip()?;
            }
        }
    }
    Ok(ok)
}

fn venue_error(err: &[u8]) -> Result<(i64, &[u8]), DecodeError> {
    let mut p = Parser::new(err);
    let mut o = p.object()?;
    let (mut code, mut message): (i64, &[u8]) = (0, b"");
    while let Some(k) = p.key(&mut o)? {
        match k {
            b"code" => code = p.i64()?,
            b"message" => message = p.string_raw()?,
            _ => {
                p.skip()?;
            }
        }
    }
    Ok((code, message))
}

/// The symbol a public frame is about, if any (for tools that discover instruments
/// from a capture before decoding it).
pub fn frame_symbol(frame: &[u8]) -> Option<String> {
    let mut p = Parser::new(frame);
    let mut o = p.object().ok()?;
    let mut chan = None;
    while let Some(k) = p.key(&mut o).ok()? {
        match k {
            b"channel" => chan = Some(p.string_raw().ok()?),
            b"result" => {
                let obu = chan.is_some_and(|c| channel(c) == Channel::Obu);
                let mut items = Vec::new();
                if p.peek() == Some(b'[') {
                    let mut a = p.array().ok()?;
                    while p.element(&mut a).ok()? {
                        items.push(p.skip().ok()?);
                    }
                } else {
                    items.push(p.skip().ok()?);
                }
                for item in items {
                    let mut q = Parser::new(item);
                    let Ok(mut r) = q.object() else { continue };
                    while let Some(k) = q.key(&mut r).ok()? {
                        match k {
                            b"s" | b"currency_pair" | b"contract" => {
                                let s = q.string_raw().ok()?;
                                let s = if obu { obu_symbol(s)? } else { s };
                                return std::str::from_utf8(s).ok().map(str::to_owned);
                            }
                            _ => {
                                q.skip().ok()?;
                            }
                        }
                    }
                }
                return None;
            }
            _ => {
                p.skip().ok()?;
            }
        }
    }
    None
}
