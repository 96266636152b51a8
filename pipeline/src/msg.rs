//! The fixed-size `Copy` events that travel on the rings between stages.
//!
//! ```text
//! md --MdEvent--> book --BookTop--> detect --Opportunity--> risk --Execution--> dispatch
//! book --Resync--> md          dispatch --StateInput--> state --Command--> dispatch
//!                                            state --RiskUpdate--> risk
//! cold --DetectControl--> detect   cold --RiskControl--> risk   cold --StateControl--> state
//! cold --MdControl--> md
//! risk, state --Alert--> cold
//! ```
//!
//! Every event carries our local receive time (`recv_ns`, quanta nanoseconds) of the
//! venue data it derives from, so any stage can measure tick-to-X latency and refuse
//! stale data. Sizes are asserted next to each type.

use crate::types::{Amount, AssetId, InstrumentId, Price, Qty, Rate, Side, Venue};

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
    /// The instrument was added while running (`true`: the book stage allocates its
    /// book) or removed (`false`: it frees it). Sent by the md stage only, before the
    /// first update of a new subscription and after the last of an ended one.
    Listed { added: bool },
}

/// Cold side to the md stage: an instrument added or removed while running (the
/// instrument is in the shared table before `Add` is sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdControl {
    /// Subscribe (and fetch a snapshot where the market syncs by REST).
    Add(InstrumentId),
    /// Unsubscribe; the book stage frees the book.
    Remove(InstrumentId),
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

// ---------------------------------------------------------------------------------------
// Trading side: detection, risk, dispatch, state. Every type below is `Copy` and of fixed
// size; the sizes are asserted next to the types and in the tests at the bottom.
// ---------------------------------------------------------------------------------------

/// The kinds of opportunity detection finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OppKind {
    /// Buy spot on one venue, sell spot on another.
    SpotSpot = 0,
    /// Long spot and short perpetual (or the reverse) on the same asset.
    Basis = 1,
    /// A cycle of three spot pairs inside one venue.
    Triangular = 2,
    /// One order from the state stage that takes what fees and lot dust left in an
    /// asset back to flat (never detected, never a profit: see `state::flatten`).
    Flatten = 3,
}

impl OppKind {
    pub const ALL: [OppKind; 4] = [OppKind::SpotSpot, OppKind::Basis, OppKind::Triangular, OppKind::Flatten];
    pub const COUNT: usize = 4;

    pub const fn name(self) -> &'static str {
        match self {
            OppKind::SpotSpot => "spot_spot",
            OppKind::Basis => "basis",
            OppKind::Triangular => "triangular",
            OppKind::Flatten => "flatten",
        }
    }

    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(OppKind::SpotSpot),
            1 => Some(OppKind::Basis),
            2 => Some(OppKind::Triangular),
            3 => Some(OppKind::Flatten),
            _ => None,
        }
    }
}

/// Most legs an operation has (a triangle).
pub const MAX_LEGS: usize = 3;

/// One order of an operation: limit price on the tick, quantity on the lot, both in the
/// instrument's own scales (futures quantities in contracts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leg {
    pub inst: InstrumentId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
}

const _: () = assert!(std::mem::size_of::<Leg>() == 24);

/// A priced, sized opportunity from detection to the risk gate.
///
/// Money is in USD: every opportunity starts and ends in an asset configured as a USD
/// asset (USDT), and amounts in other assets (the BTC of an ETH/BTC leg) are valued at
/// the opportunity's own prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opportunity {
    /// Detection's own sequence number.
    pub id: u64,
    pub kind: OppKind,
    pub n_legs: u8,
    pub legs: [Leg; MAX_LEGS],
    /// Expected profit after taker fees at the book levels walked, in USD.
    pub expected_profit: Amount,
    /// Expected profit as a rate of `notional`.
    pub edge: Rate,
    /// The largest quote value of any leg, in USD: what position and exposure limits see.
    pub notional: Amount,
    /// The largest distance of any leg's limit price from that leg's best price, as a rate
    /// of the best price (how deep the sizing walked, plus any slippage allowance).
    pub slippage: Rate,
    /// Receive time of the market data that triggered detection (tick-to-trade start).
    pub trigger_ns: u64,
    /// Receive time of the oldest book used.
    pub oldest_ns: u64,
    pub detected_ns: u64,
}

impl Opportunity {
    #[inline]
    pub fn legs(&self) -> &[Leg] {
        &self.legs[..(self.n_legs as usize).min(MAX_LEGS)]
    }
}

/// An opportunity the risk gate approved, with the operation id that names every order
/// and journal record of it.
///
/// Only this crate makes one: the risk gate when it approves, and the journal and the
/// state stage when they rebuild one it approved before a restart. Everyone else reads
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    op: u64,
    opp: Opportunity,
    approved_ns: u64,
    deadline_ns: u64,
}

impl Execution {
    /// An approved execution (the risk gate), or one rebuilt from the journal.
    pub(crate) const fn new(op: u64, opp: Opportunity, approved_ns: u64, deadline_ns: u64) -> Self {
        Self { op, opp, approved_ns, deadline_ns }
    }

    /// The operation id: it names every order and journal record of the operation.
    #[inline]
    pub const fn op(&self) -> u64 {
        self.op
    }

    /// The opportunity as approved.
    #[inline]
    pub const fn opp(&self) -> &Opportunity {
        &self.opp
    }

    #[inline]
    pub fn legs(&self) -> &[Leg] {
        self.opp.legs()
    }

    #[inline]
    pub const fn approved_ns(&self) -> u64 {
        self.approved_ns
    }

    /// After this time (`approved_ns + max_execution_time_ms`) a leg left naked is
    /// unwound by the state stage.
    #[inline]
    pub const fn deadline_ns(&self) -> u64 {
        self.deadline_ns
    }
}

const _: () = assert!(std::mem::size_of::<Opportunity>() <= 3 * 64);
const _: () = assert!(std::mem::size_of::<Execution>() <= 3 * 64);

/// A client order id: the operation, the leg and the attempt, so every order says which
/// operation it belongs to and a retry never reuses an id. Attempt 0 is the entry order;
/// recovery orders (hedges and unwinds) count up from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId {
    pub op: u64,
    pub leg: u8,
    pub attempt: u8,
}

impl ClientOrderId {
    /// The largest attempt number: two decimal digits keep the longest client id text
    /// within what Gate.io allows (see `journal::identity`), and under heavy rejects and
    /// partial fills a recovery may need dozens of orders on one leg.
    pub const MAX_ATTEMPT: u8 = 63;
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
        std::str::from_utf8(&self.bytes[..(self.len as usize).min(47)]).unwrap_or("")
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
    InsufficientBalance = 0,
    BelowMinimum = 1,
    BadPrecision = 2,
    RateLimited = 3,
    Auth = 4,
    UnknownInstrument = 5,
    TradingDisabled = 6,
    /// A fill-or-kill order that could not fill completely.
    WouldNotFill = 7,
    Other = 8,
    /// A query found no such order at the venue: it never arrived there.
    NotFound = 9,
    /// Not sent: writing the intent to the journal failed (trading halts).
    Journal = 10,
    /// Not sent: the order connection is down.
    Disconnected = 11,
}

impl RejectReason {
    pub const COUNT: usize = 12;
    pub const ALL: [RejectReason; 12] = [
        RejectReason::InsufficientBalance,
        RejectReason::BelowMinimum,
        RejectReason::BadPrecision,
        RejectReason::RateLimited,
        RejectReason::Auth,
        RejectReason::UnknownInstrument,
        RejectReason::TradingDisabled,
        RejectReason::WouldNotFill,
        RejectReason::Other,
        RejectReason::NotFound,
        RejectReason::Journal,
        RejectReason::Disconnected,
    ];

    pub const fn from_u8(v: u8) -> Option<Self> {
        if (v as usize) < Self::COUNT { Some(Self::ALL[v as usize]) } else { None }
    }

    pub const fn name(self) -> &'static str {
        match self {
            RejectReason::InsufficientBalance => "insufficient_balance",
            RejectReason::BelowMinimum => "below_minimum",
            RejectReason::BadPrecision => "bad_precision",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::Auth => "auth",
            RejectReason::UnknownInstrument => "unknown_instrument",
            RejectReason::TradingDisabled => "trading_disabled",
            RejectReason::WouldNotFill => "would_not_fill",
            RejectReason::Other => "other",
            RejectReason::NotFound => "not_found",
            RejectReason::Journal => "journal",
            RejectReason::Disconnected => "disconnected",
        }
    }
}

/// What happened to an order.
///
/// Fills carry the order's cumulative filled quantity as the venue reports it, and a
/// [`OrderUpdate::Status`] (the answer to a query) is cumulative too, so the state stage
/// applies only what is new: a fill seen twice (stream and query) is never counted twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderUpdate {
    /// Written to the journal and handed to the venue connection.
    Sent,
    /// The venue accepted it.
    Accepted,
    /// The venue refused it; nothing filled.
    Rejected(RejectReason),
    /// A fill of `qty` at `price`; `cum_qty` is the order's total filled so far, and the
    /// fee of this fill was charged in `fee_asset`.
    Fill { price: Price, qty: Qty, cum_qty: Qty, fee: Amount, fee_asset: AssetId, trade_id: u64 },
    /// The order is finished (filled, or the rest cancelled); `filled` in total.
    Done { filled: Qty },
    /// The outcome is unknown (timeout, 5xx): reconcile by query, never resend blindly.
    Unknown,
    /// A query's answer: cumulative filled quantity, its quote value, the cumulative fee
    /// (in `fee_asset`), and whether the order can still fill.
    Status { filled: Qty, value: Amount, fee: Amount, fee_asset: AssetId, open: bool },
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
    pub asset: AssetId,
    pub available: Amount,
    pub locked: Amount,
    pub ts_ns: u64,
}

/// A venue's futures wallet: its cash balance (without unrealized P&L, not reduced by
/// margin in use), and the funding the venue booked on it with this report (positive
/// received; zero when the report is not a funding entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuturesWalletEvent {
    pub venue: Venue,
    /// The cash balance, when the report carries one (a funding record may not).
    pub balance: Option<Amount>,
    /// What new orders may use as margin, when this report carries it (never a value
    /// remembered from an earlier report).
    pub available: Option<Amount>,
    pub funding: Amount,
    pub ts_ns: u64,
}

/// A perpetual's position at its venue: contracts held (signed, negative short, in the
/// instrument's quantity unit), from a position query or push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuturesPositionEvent {
    pub inst: InstrumentId,
    pub contracts: Qty,
    pub ts_ns: u64,
}

/// An order or a fill on the account that this engine instance did not send (its client
/// order id does not carry the instance's prefix: another engine, another client of the
/// account, a person). Never adopted: the state stage counts and reports it, and takes
/// a fill into account when it compares its books with the venue's balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Foreign {
    pub venue: Venue,
    pub inst: InstrumentId,
    pub side: Side,
    /// One execution of a foreign order, or (false) a report of a foreign order.
    pub fill: bool,
    /// The execution's price (fills) or the order's limit (0 when the report has none).
    pub price: Price,
    /// The execution's quantity, or the order's, in the instrument's unit.
    pub qty: Qty,
    /// The fill's fee, in `fee_asset`.
    pub fee: Amount,
    pub fee_asset: AssetId,
    /// The order's client id text as the venue shows it (kept inline, cut at 47 bytes).
    pub client_text: VenueOrderId,
    pub venue_order: VenueOrderId,
    pub ts_ns: u64,
}

/// Everything the state stage hears from dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateInput {
    /// A new operation's orders are about to be sent (pushed before any of its orders'
    /// events).
    Executing(Execution),
    Order(OrderEvent),
    Balance(BalanceEvent),
    /// Activity on the account this instance did not create.
    Foreign(Foreign),
    /// The futures wallet's cash balance, and funding as the venue booked it.
    FuturesWallet(FuturesWalletEvent),
    /// A perpetual's position as the venue reports it.
    FuturesPosition(FuturesPositionEvent),
}

const _: () = assert!(std::mem::size_of::<StateInput>() <= 4 * 64);

/// Instructions from the state stage (recovery, kill switch, reconciliation) to dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send one recovery order (complete a hedge or unwind a filled leg), immediate or
    /// cancel.
    Send { client: ClientOrderId, leg: Leg },
    /// Cancel one order.
    Cancel { client: ClientOrderId, inst: InstrumentId },
    /// Query an order whose outcome is unknown.
    Query { client: ClientOrderId, inst: InstrumentId },
    /// Cancel every open order on every venue (kill switch).
    CancelAll,
    /// Ask a venue for every balance (periodic reconciliation).
    QueryBalances { venue: Venue },
}

const _: () = assert!(std::mem::size_of::<Command>() <= 64);

/// What the risk gate needs from the state stage to keep its limits true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskUpdate {
    /// An operation finished; its reservations can be released.
    OperationDone { op: u64, success: bool, realized_pnl: Amount },
    /// The signed position of an instrument, in its quantity unit, and its signed USD
    /// value at the current mark.
    ///
    /// `quote_exposure` is the USD value of what the position moved of its quote asset
    /// when that asset is not a USD asset (ETH/BTC bought pays BTC): without it a
    /// triangle would look like an open BTC position.
    Position { inst: InstrumentId, qty: Qty, exposure: Amount, quote_exposure: Amount },
    /// A venue's spot balance of an asset, as the venue reports it.
    Balance { venue: Venue, asset: AssetId, available: Amount },
    /// A venue's futures account: the margin new orders may use, as the venue reports it
    /// (the futures wallet is separate from the spot wallet on both venues).
    FuturesMargin { venue: Venue, available: Amount },
    /// Realized P&L of the day so far, in USD.
    DailyPnl { realized: Amount },
    /// Close a basis position: both exit legs (spot first), to pass the same checks as
    /// an entry except the profit margin (an exit reduces the position it closes);
    /// `slot` names the position ([`crate::state::EXIT_ID`] + slot becomes the
    /// opportunity id).
    BasisExit { legs: [Leg; 2], slot: u16 },
    /// Take an asset's leftover (base-asset fees, lot dust) back to flat with one order,
    /// checked like an exit (no profit margin, no position or exposure limit: it only
    /// reduces what is held).
    Flatten { leg: Leg },
    /// Trading must stop (kill switch, an operation that could not be recovered).
    Halt,
    /// An instrument stops (or resumes) trading: recovery gave up on an operation on it
    /// and an operator must decide.
    InstrumentHalt { inst: InstrumentId, halted: bool },
    /// How long a venue took to acknowledge an order (sent to accepted or rejected).
    OrderLatency { venue: Venue, ns: u64 },
    /// Orders whose outcome is not known yet (after a restart, or unknown responses):
    /// no new operation is approved while this is above zero.
    Reconciling { pending: u32 },
}

const _: () = assert!(std::mem::size_of::<RiskUpdate>() <= 64);

/// Cold side to detection: start or stop watching an instrument of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectControl {
    Enable(InstrumentId),
    Disable(InstrumentId),
    /// An opportunity priced by a caller (the library's `execute_opportunity`): passed to
    /// the risk gate as it is, which applies every limit to it as to any other.
    Inject(Opportunity),
    /// Instruments were appended to the shared table while running: index every one not
    /// taken yet (its spot-spot, basis and triangle candidates) and trade it.
    Added,
    /// An instrument was removed while running: never traded again in this run (its
    /// candidates stay in the index, never evaluated).
    Removed(InstrumentId),
}

/// Cold side to the risk gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskControl {
    /// Refuse everything from now on (the kill switch from the cold side).
    Halt,
    /// Lift a halt raised by [`RiskControl::Halt`] or [`RiskUpdate::Halt`]. A halt of the
    /// runtime's `Control` cannot be lifted.
    Resume,
    /// Close every circuit breaker (an operator's decision after a trip).
    ResetBreakers,
    /// Instruments were appended to the shared table while running: give each its
    /// order-rate bucket.
    Added,
}

/// Cold side (an operator, the listing, an orderly stop) to the state stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateControl {
    /// Lift the halt of the operation's instruments (closing the operation as failed if
    /// it is still open, leaving any residual position booked).
    Approve { op: u64 },
    /// Try recovery again with a fresh attempt budget.
    Retry { op: u64 },
    /// Stop recovering: close the operation as failed with its residual position booked;
    /// its instruments stay halted until approved.
    Abandon { op: u64 },
    /// Cancel every open order and refuse to recover further (kill switch).
    KillSwitch,
    /// An operator lifts the kill switch (journaled; it survives restarts until then).
    Resume,
    /// An operator acknowledges the balance drift on `venue` (every venue when `None`):
    /// the venue's balances are taken as they are, and its drift halt is lifted
    /// (journaled).
    AckDrift { venue: Option<Venue> },
    /// An instrument was added to the shared table (`true`) or removed (`false`) while
    /// running: journaled, so that a restart knows it.
    Listed { inst: InstrumentId, added: bool },
    /// An orderly stop has begun: open no basis exit (a hedged position is held over the
    /// stop and the next start restores it with its exit rule; an exit opened now could
    /// be cut off half done). Open operations still recover, and leftovers are still
    /// flattened.
    Drain,
}

/// How an operation ended, from the state stage to the cold side (reports, the
/// dashboard, callers waiting on a manual operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpOutcome {
    pub op: u64,
    /// The opportunity's id as detection (or the caller injecting it) numbered it.
    pub opp_id: u64,
    pub kind: OppKind,
    /// Every leg filled and the operation closed hedged without unwinding.
    pub completed: bool,
    /// Completed, or nothing filled at all (a missed IOC, which is not a failure).
    pub success: bool,
    pub realized_pnl: Amount,
    /// Receive time of the market data that triggered it.
    pub trigger_ns: u64,
    pub approved_ns: u64,
    pub finished_ns: u64,
}

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AlertKind {
    /// A circuit breaker opened; `value` is the breaker's index in `risk::Breaker::ALL`.
    BreakerTripped,
    /// A circuit breaker closed again.
    BreakerReset,
    /// The kill switch is on. `value`: 0 thrown in this run; [`HALT_RESTORED_OPERATOR`]
    /// or [`HALT_RESTORED_FAULT`] when a restart found it journaled on.
    Halted,
    /// The kill switch was lifted.
    Resumed,
    /// Recovery gave up on an operation; an operator must approve, retry or abandon.
    RecoveryExhausted,
    /// An operation's deadline passed with a leg naked.
    DeadlineMissed,
    /// An order's outcome is unknown and is being reconciled by query.
    UnknownOrder,
    /// A journal write failed; trading halts.
    JournalFailed,
    /// An instrument was halted (`value` is its id).
    InstrumentHalted,
    /// A wallet's balance at its venue drifted from what the engine booked, beyond the
    /// tolerance (`value`: the wallet's slot on [`crate::state::DriftBoard`], which holds
    /// the venue, account, asset, expected and actual balances).
    BalanceDrift,
    /// New entries on a venue halted after a drift persisted (`value`: the wallet's slot,
    /// or `-1 - venue index` when a restart found the halt journaled).
    DriftHalted,
    /// An operator acknowledged a venue's drift (`value`: the venue's index).
    DriftAcknowledged,
    /// A recovery order of operation `op` was clamped to the operation's own quantities,
    /// or refused beyond the notional limit (`value`: the leg; journaled as
    /// `RecoveryRefused`).
    RecoveryBounded,
}

/// [`AlertKind::Halted`]'s value: an operator's kill switch, journaled before a restart.
pub const HALT_RESTORED_OPERATOR: i64 = 1;
/// [`AlertKind::Halted`]'s value: the engine's own kill switch (a fault), journaled before
/// a restart.
pub const HALT_RESTORED_FAULT: i64 = 2;

/// A small alert for a cold thread (log, page, dashboard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    /// The operation concerned, or 0.
    pub op: u64,
    /// A kind-specific detail (breaker index, instrument id, a count).
    pub value: i64,
    pub ts_ns: u64,
}

const _: () = assert!(std::mem::size_of::<Alert>() <= 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_within_their_cache_line_budgets() {
        assert_eq!(std::mem::size_of::<MdEvent>(), 72);
        assert!(std::mem::size_of::<BookTop>() <= 192, "{}", std::mem::size_of::<BookTop>());
        assert!(std::mem::size_of::<Execution>() <= 192, "{}", std::mem::size_of::<Execution>());
        assert!(std::mem::size_of::<StateInput>() <= 256, "{}", std::mem::size_of::<StateInput>());
        assert!(std::mem::size_of::<Command>() <= 64, "{}", std::mem::size_of::<Command>());
        assert!(std::mem::size_of::<RiskUpdate>() <= 64, "{}", std::mem::size_of::<RiskUpdate>());
    }

    #[test]
    fn enums_round_trip_through_their_codes() {
        for k in OppKind::ALL {
            assert_eq!(OppKind::from_u8(k as u8), Some(k));
        }
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_u8(r as u8), Some(r));
        }
        assert_eq!(OppKind::from_u8(9), None);
        assert_eq!(RejectReason::from_u8(200), None);
    }
}
