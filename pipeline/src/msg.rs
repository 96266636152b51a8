//! The fixed-size `Copy` events that travel on the rings between stages.
//!
//! ```text
//! md --MdEvent--> book --BookTop--> detect --Opportunity--> risk --Execution--> dispatch
//! book --Resync--> md          dispatch --StateInput--> state --Command--> dispatch
//!                                            state --RiskUpdate--> risk
//! ```
//!
//! Every event carries our local receive time (`recv_ns`, quanta nanoseconds) of the
//! venue data it derives from, so any stage can measure tick-to-X latency and refuse
//! stale data. Sizes are asserted next to each type.

use crate::types::{Amount, InstrumentId, Price, Qty, Rate, Side, Venue};

/// Levels per side that the book stage publishes to detection.
pub const BOOK_DEPTH: usize = 5;

/// Market data, decoded and normalized, from the md stage to the book stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MdEvent {
    pub inst: InstrumentId,
    /// Local receive time of the frame this came from (quanta ns).
    pub recv_ns: u64,
    /// The venue's own timestamp of the data, in ms since the Unix epoch (0 if none).
    pub exch_ms: u64,
    pub body: MdBody,
}

/// What a market-data event says. Book updates arrive as a header (`Delta` or
/// `Snapshot`), its levels, then `End`; the book applies the whole update at `End`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdBody {
    /// An incremental update covering venue sequence ids `first..=last` (Gate `U..u`,
    /// MEXC `fromVersion..toVersion`, MEXC futures `begin..end` or one `version`).
    Delta { first: u64, last: u64 },
    /// A full book replacing the local one, as of sequence id `id`. `partial` books
    /// (MEXC `limit.depth`) carry only the top levels and no continuity.
    Snapshot { id: u64, partial: bool },
    /// One level of the update in progress; quantity zero deletes the level.
    Level { side: Side, price: Price, qty: Qty },
    /// End of the update in progress.
    End,
    /// Best bid and offer as of sequence id `seq` (0 when the venue gives none).
    Bbo { seq: u64, bid: Price, bid_qty: Qty, ask: Price, ask_qty: Qty },
    /// A public trade; `side` is the taker's.
    Trade { side: Side, price: Price, qty: Qty },
    /// The feed for this instrument cannot be trusted any more (disconnect, failed
    /// subscription, an undecodable level inside an update): the book must resync.
    FeedLost { reason: FeedLoss },
}

/// Why a feed stopped being trustworthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FeedLoss {
    Disconnected,
    SubscriptionFailed,
    BadUpdate,
    Overflow,
}

const _: () = assert!(std::mem::size_of::<MdEvent>() <= 72);

/// A request from the book stage to the md stage to make a book whole again: a REST
/// snapshot or a resubscription, whichever the instrument's feed uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resync {
    pub inst: InstrumentId,
}

/// One price level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub price: Price,
    pub qty: Qty,
}

/// The top of one book, from the book stage to detection, published once per applied
/// update. An unsynced book is published once with `synced == false` and no levels, and
/// detection must not use it until a synced one follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookTop {
    pub inst: InstrumentId,
    pub synced: bool,
    pub n_bids: u8,
    pub n_asks: u8,
    /// Receive time of the newest data in this book.
    pub recv_ns: u64,
    pub exch_ms: u64,
    /// The venue sequence id the book is at.
    pub seq: u64,
    /// Best first.
    pub bids: [Level; BOOK_DEPTH],
    /// Best first.
    pub asks: [Level; BOOK_DEPTH],
}

impl BookTop {
    pub fn unsynced(inst: InstrumentId, recv_ns: u64) -> Self {
        Self {
            inst,
            synced: false,
            n_bids: 0,
            n_asks: 0,
            recv_ns,
            exch_ms: 0,
            seq: 0,
            bids: [Level::default(); BOOK_DEPTH],
            asks: [Level::default(); BOOK_DEPTH],
        }
    }

    #[inline]
    pub fn bids(&self) -> &[Level] {
        &self.bids[..self.n_bids as usize]
    }

    #[inline]
    pub fn asks(&self) -> &[Level] {
        &self.asks[..self.n_asks as usize]
    }

    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids().first().copied()
    }

    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks().first().copied()
    }
}

const _: () = assert!(std::mem::size_of::<BookTop>() <= 4 * 64);

/// The kinds of opportunity detection finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OppKind {
    /// Buy spot on one venue, sell spot on another.
    SpotSpot,
    /// Long spot and short perpetual (or the reverse) on the same asset.
    Basis,
    /// A cycle of three spot pairs inside one venue.
    Triangular,
}

impl OppKind {
    pub const ALL: [OppKind; 3] = [OppKind::SpotSpot, OppKind::Basis, OppKind::Triangular];

    pub const fn name(self) -> &'static str {
        match self {
            OppKind::SpotSpot => "spot_spot",
            OppKind::Basis => "basis",
            OppKind::Triangular => "triangular",
        }
    }
}

/// Most legs an operation has (a triangle).
pub const MAX_LEGS: usize = 3;

/// One order of an operation: limit price on the tick, quantity on the lot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leg {
    pub inst: InstrumentId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
}

/// A priced, sized opportunity from detection to the risk gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opportunity {
    /// Detection's own sequence number.
    pub id: u64,
    pub kind: OppKind,
    pub n_legs: u8,
    pub legs: [Leg; MAX_LEGS],
    /// Expected profit after taker fees, in the quote asset of the first leg.
    pub expected_profit: Amount,
    /// Expected profit as a rate of the notional traded.
    pub edge: Rate,
    /// Quote notional of the first leg.
    pub notional: Amount,
    /// Receive time of the market data that triggered detection (tick-to-trade start).
    pub trigger_ns: u64,
    /// Receive time of the oldest book used.
    pub oldest_ns: u64,
    pub detected_ns: u64,
}

impl Opportunity {
    #[inline]
    pub fn legs(&self) -> &[Leg] {
        &self.legs[..self.n_legs as usize]
    }
}

/// An opportunity the risk gate approved, with the operation id that names every order
/// and journal record of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    pub op: u64,
    pub opp: Opportunity,
    pub approved_ns: u64,
}

const _: () = assert!(std::mem::size_of::<Execution>() <= 4 * 64);

/// A client order id: the operation, the leg and the attempt, so every order says which
/// operation it belongs to and a retry never reuses an id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId {
    pub op: u64,
    pub leg: u8,
    pub attempt: u8,
}

impl ClientOrderId {
    /// A compact numeric form: op * 256 + leg * 16 + attempt (leg, attempt < 16).
    pub fn to_u64(self) -> u64 {
        self.op.wrapping_mul(256) | (u64::from(self.leg & 0xf) << 4) | u64::from(self.attempt & 0xf)
    }

    pub fn from_u64(v: u64) -> Self {
        Self { op: v >> 8, leg: ((v >> 4) & 0xf) as u8, attempt: (v & 0xf) as u8 }
    }
}

/// A venue's order id, kept inline (MEXC ids are strings like `C02__5059...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VenueOrderId {
    len: u8,
    bytes: [u8; 47],
}

impl Default for VenueOrderId {
    fn default() -> Self {
        Self { len: 0, bytes: [0; 47] }
    }
}

impl VenueOrderId {
    /// The id, or `None` when it is longer than 47 bytes.
    pub fn new(id: &str) -> Option<Self> {
        let b = id.as_bytes();
        if b.len() > 47 {
            return None;
        }
        let mut bytes = [0u8; 47];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self { len: b.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for VenueOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VenueOrderId({:?})", self.as_str())
    }
}

/// Why the venue or the engine refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    InsufficientBalance,
    BelowMinimum,
    BadPrecision,
    RateLimited,
    Auth,
    UnknownInstrument,
    TradingDisabled,
    WouldNotFill,
    Other,
}

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderUpdate {
    /// Written to the journal and handed to the venue connection.
    Sent,
    /// The venue accepted it.
    Accepted,
    /// The venue refused it; nothing filled.
    Rejected(RejectReason),
    /// A fill of `qty` at `price`, with the fee charged in `fee_asset`.
    Fill { price: Price, qty: Qty, fee: Amount, fee_asset: crate::types::AssetId, trade_id: u64 },
    /// The order is finished (filled, or the rest cancelled); `filled` in total.
    Done { filled: Qty },
    /// The outcome is unknown (timeout, 5xx): reconcile by query, never resend blindly.
    Unknown,
}

/// An order's update, from dispatch (acks, venue responses, private streams) to state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    pub update: OrderUpdate,
    pub venue_order: VenueOrderId,
    pub ts_ns: u64,
}

/// A balance as a venue reports it, from dispatch (private streams, REST) to state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceEvent {
    pub venue: Venue,
    pub asset: crate::types::AssetId,
    pub available: Amount,
    pub locked: Amount,
    pub ts_ns: u64,
}

/// Everything the state stage hears from dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateInput {
    /// A new operation's orders are about to be sent.
    Executing(Execution),
    Order(OrderEvent),
    Balance(BalanceEvent),
}

const _: () = assert!(std::mem::size_of::<StateInput>() <= 5 * 64);

/// Instructions from the state stage (recovery, kill switch) to dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send one recovery order (complete a hedge or unwind a filled leg).
    Send { client: ClientOrderId, leg: Leg },
    /// Cancel one order.
    Cancel { client: ClientOrderId, inst: InstrumentId },
    /// Query an order whose outcome is unknown.
    Query { client: ClientOrderId, inst: InstrumentId },
    /// Cancel every open order on every venue (kill switch).
    CancelAll,
}

/// What the risk gate needs from the state stage to keep its limits true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskUpdate {
    /// An operation finished; its reservations can be released.
    OperationDone { op: u64, success: bool, realized_pnl: Amount },
    /// The signed position of an instrument, in its quantity unit, and its quote value.
    Position { inst: InstrumentId, qty: Qty, exposure: Amount },
    /// A venue balance of an asset, as the venue reports it.
    Balance { venue: Venue, asset: crate::types::AssetId, available: Amount },
    /// Realized P&L of the day so far, in USD.
    DailyPnl { realized: Amount },
    /// Trading must stop (kill switch, an operation that could not be recovered).
    Halt,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_within_their_cache_line_budgets() {
        assert_eq!(std::mem::size_of::<MdEvent>(), 72);
        assert!(std::mem::size_of::<BookTop>() <= 192, "{}", std::mem::size_of::<BookTop>());
        assert!(std::mem::size_of::<Execution>() <= 192, "{}", std::mem::size_of::<Execution>());
    }

    #[test]
    fn client_order_ids_round_trip_through_their_numeric_form() {
        let c = ClientOrderId { op: 123_456_789, leg: 2, attempt: 3 };
        assert_eq!(ClientOrderId::from_u64(c.to_u64()), c);
    }
}
