//! One simulated venue's exchange core: an order book per instrument with price-time
//! priority, spot balances and futures positions per account, fees, and the events
//! the protocol servers turn into public and private pushes.
//!
//! Everything is exact: prices and quantities are the instrument's [`Price`]/[`Qty`]
//! mantissas, balances, notionals and fees are [`Amount`]s (1e-18), fee rates [`Rate`]s.
//!
//! Accounting rules (the invariants the tests check):
//! - Spot: a buy locks its worst-case quote cost, a sell its base quantity; a fill moves
//!   the notional from buyer to seller and the base the other way; each side pays its
//!   fee in the asset it receives (rounded up), into the venue's fee pool. The sum over
//!   accounts of `available + locked`, plus the fee pool, is constant per asset.
//! - Futures: one USDT balance per account, changed only by fees and realised P&L; a
//!   position is a signed size and a signed cost basis. Per fill the buyer's "virtual
//!   cash" (balance minus cost basis) falls by the notional and the seller's rises by it,
//!   so balances + fees - cost bases is conserved exactly, and sizes sum to zero.
//! - Book sequence: every change of a level's total increments the book's update id;
//!   every mutation is followed, under the same lock, by a flush that publishes one
//!   depth event covering `[first, last]`, so a snapshot's id always equals the last
//!   published id.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::Sender;

use pipeline::types::{Amount, Instrument, Market, Price, Qty, Rate, Rounding, Side, Venue};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::catalog::Listing;
use super::faults::Faults;

/// An account inside one simulated venue.
pub type AccountId = u32;
/// The account the sim's API key trades.
pub const USER: AccountId = 0;
/// The market model's market maker.
pub const MAKER: AccountId = 1;
/// The market model's noise traders, who take a little liquidity now and then so the
/// trade feeds are not silent.
pub const NOISE: AccountId = 2;

/// Leverage every futures position runs at.
pub const LEVERAGE: i128 = 10;

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tif {
    Gtc,
    Ioc,
    Fok,
    PostOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Limit,
    Market,
}

/// How an order ended, or `Open` while it rests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Open,
    Filled,
    Cancelled,
    /// An IOC or market order's remainder was cancelled.
    Ioc,
    /// A FOK order could not fill entirely and did nothing.
    Fok,
}

/// An order request, already parsed into the instrument's units.
#[derive(Clone, Debug)]
pub struct OrderRequest {
    /// Index into the venue's instruments.
    pub inst: usize,
    pub side: Side,
    pub kind: OrderKind,
    pub tif: Tif,
    /// Limit price (ignored for market orders).
    pub price: Price,
    /// Quantity in the order unit; zero for a market buy sized by `quote_qty`.
    pub qty: Qty,
    /// A market buy's budget in the quote currency.
    pub quote_qty: Option<Amount>,
    pub text: String,
    pub reduce_only: bool,
}

/// An order as the venue keeps it.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: u64,
    pub account: AccountId,
    pub inst: usize,
    pub side: Side,
    pub kind: OrderKind,
    pub tif: Tif,
    pub price: Price,
    pub qty: Qty,
    pub quote_qty: Option<Amount>,
    pub left: Qty,
    pub filled_qty: Qty,
    /// Sum of fill notionals in the quote currency.
    pub filled_quote: Amount,
    pub fee: Amount,
    pub fee_asset: String,
    /// What this order still holds locked: quote or base for spot, margin for futures.
    pub locked: Amount,
    pub finish: Finish,
    pub text: String,
    pub reduce_only: bool,
    pub create_ms: u64,
    pub update_ms: u64,
    /// How many times the order changed (1 on creation).
    pub update_id: u64,
    /// True when the last fill had this order as the maker.
    pub last_role_maker: bool,
}

impl Order {
    pub fn is_open(&self) -> bool {
        self.finish == Finish::Open
    }

    /// The average fill price as an amount, zero before any fill.
    pub fn avg_price(&self, inst: &Instrument) -> Amount {
        let base = inst.base_amount(self.filled_qty).unwrap_or(Amount::ZERO);
        if base.is_zero() {
            return Amount::ZERO;
        }
        self.filled_quote.div(base, Rounding::Floor).unwrap_or(Amount::ZERO)
    }
}

/// Why an order request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("price is not a positive multiple of the tick")]
    PriceTick,
    #[error("quantity is not a positive multiple of the lot")]
    QtyLot,
    #[error("quantity is below the minimum")]
    QtyTooSmall,
    #[error("quantity is above the maximum")]
    QtyTooLarge,
    #[error("order value is below the minimum notional")]
    NotionalTooSmall,
    #[error("insufficient balance")]
    Balance,
    #[error("insufficient margin")]
    Margin,
    #[error("post-only order would take liquidity")]
    PostOnly,
    #[error("reduce-only order would increase the position")]
    ReduceOnly,
    #[error("market order without liquidity")]
    NoLiquidity,
    #[error("rejected by the fault injector")]
    Fault,
}

/// An outcome scripted for the trading account's next order on one instrument, in place
/// of what the market would do: the faults tests must be sure of, where the fault dice
/// only make them likely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scripted {
    /// Refused for insufficient balance (a definite refusal, not a rate limit).
    Reject,
    /// Fills at most this many lots; the rest is cancelled.
    Partial { lots: i64 },
    /// The order executes, but the client hears nothing of it: the request's answer is
    /// held back `answer_after_ms` and the private streams never mention the order. Only
    /// a query finds out what happened.
    Silent { answer_after_ms: u64 },
}

thread_local! {
    /// Set when this thread placed a [`Scripted::Silent`] order: how long its server holds
    /// the answer back.
    static HOLD_ANSWER_MS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// How long the server on this thread must hold back its answer to the order it just
/// placed ([`Scripted::Silent`]), taken once.
pub fn take_answer_hold() -> Option<u64> {
    HOLD_ANSWER_MS.take()
}

/// One level as published: price, total quantity, number of orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    pub price: Price,
    pub qty: Qty,
    pub orders: u32,
}

/// A fill as seen by one of its two accounts.
#[derive(Clone, Debug)]
pub struct FillView {
    pub trade_id: u64,
    pub order_id: u64,
    pub inst: usize,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub notional: Amount,
    pub maker: bool,
    pub fee: Amount,
    pub fee_asset: String,
    pub text: String,
    pub time_ms: u64,
}

/// What changed in an order, for the `event` field of order pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    Put,
    Update,
    Finish,
}

/// Everything a venue publishes. Public events first fan out to every connection, which
/// filters by its subscriptions; private events carry the account they belong to.
#[derive(Clone, Debug)]
pub enum Event {
    /// Levels changed by update ids `first..=last` (absolute quantities, zero = gone);
    /// `version` counts flushes (MEXC futures' one-per-push version).
    Depth {
        inst: usize,
        first: u64,
        last: u64,
        version: u64,
        bids: Vec<LevelView>,
        asks: Vec<LevelView>,
        time_ms: u64,
    },
    /// The best bid and ask after update id `seq`.
    BookTicker {
        inst: usize,
        seq: u64,
        bid: Option<LevelView>,
        ask: Option<LevelView>,
        time_ms: u64,
    },
    /// A public trade; `taker_side` is the aggressor's.
    Trade {
        inst: usize,
        id: u64,
        price: Price,
        qty: Qty,
        taker_side: Side,
        time_ms: u64,
    },
    OrderUpdate {
        account: AccountId,
        event: OrderEvent,
        order: Box<Order>,
    },
    UserTrade {
        account: AccountId,
        fill: Box<FillView>,
    },
    /// A spot balance after a change.
    Balance {
        account: AccountId,
        asset: String,
        available: Amount,
        locked: Amount,
        change: Amount,
        time_ms: u64,
    },
    /// The futures USDT balance after a change (`kind`: "fee" or "pnl").
    FuturesBalance {
        account: AccountId,
        balance: Amount,
        available: Amount,
        change: Amount,
        kind: &'static str,
        text: String,
        time_ms: u64,
    },
    /// A futures position after a change.
    Position {
        account: AccountId,
        inst: usize,
        size: Qty,
        cost: Amount,
        realised: Amount,
        time_ms: u64,
    },
}

impl Event {
    /// The account a private event belongs to, `None` for public events.
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Event::OrderUpdate { account, .. }
            | Event::UserTrade { account, .. }
            | Event::Balance { account, .. }
            | Event::FuturesBalance { account, .. }
            | Event::Position { account, .. } => Some(*account),
            _ => None,
        }
    }
}

/// A spot balance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub available: Amount,
    pub locked: Amount,
}

impl Balance {
    pub fn total(&self) -> Amount {
        self.available + self.locked
    }
}

/// A futures position: signed size in the order unit (contracts) and signed cost basis
/// (positive for longs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub size: Qty,
    pub cost: Amount,
    pub realised: Amount,
}

#[derive(Clone, Debug, Default)]
pub struct FuturesAccount {
    /// USDT balance: deposits plus realised P&L minus fees.
    pub balance: Amount,
    /// Margin held by open orders.
    pub order_margin: Amount,
    pub positions: BTreeMap<usize, Position>,
}

impl FuturesAccount {
    /// Margin held by positions: cost basis over leverage.
    pub fn position_margin(&self) -> Amount {
        self.positions.values().map(|p| Amount(p.cost.0.abs() / LEVERAGE)).sum()
    }

    /// What new orders may use.
    pub fn available(&self) -> Amount {
        self.balance - self.position_margin() - self.order_margin
    }
}

#[derive(Clone, Debug, Default)]
pub struct Account {
    pub spot: BTreeMap<String, Balance>,
    pub futures: FuturesAccount,
}

#[derive(Debug, Default)]
struct Level {
    total: Qty,
    orders: VecDeque<u64>,
}

#[derive(Debug, Default)]
struct Book {
    bids: BTreeMap<i64, Level>,
    asks: BTreeMap<i64, Level>,
    seq: u64,
    version: u64,
    first_dirty: Option<u64>,
    dirty: BTreeSet<(u8, i64)>,
    last_top: (Option<LevelView>, Option<LevelView>),
    maker_orders: Vec<u64>,
}

impl Book {
    fn side(&self, side: Side) -> &BTreeMap<i64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn touch(&mut self, side: Side, price: i64) {
        self.seq += 1;
        if self.first_dirty.is_none() {
            self.first_dirty = Some(self.seq);
        }
        self.dirty.insert((side as u8, price));
    }

    fn best(&self, side: Side) -> Option<LevelView> {
        let level = match side {
            Side::Buy => self.bids.iter().next_back(),
            Side::Sell => self.asks.iter().next(),
        };
        level.map(|(&p, l)| LevelView { price: Price(p), qty: l.total, orders: l.orders.len() as u32 })
    }

    fn view(&self, side: Side, price: i64) -> LevelView {
        match self.side(side).get(&price) {
            Some(l) => LevelView { price: Price(price), qty: l.total, orders: l.orders.len() as u32 },
            None => LevelView { price: Price(price), qty: Qty::ZERO, orders: 0 },
        }
    }

    /// Levels best first, at most `depth` per side.
    fn levels(&self, side: Side, depth: usize) -> Vec<LevelView> {
        let map = self.side(side);
        let f = |(&p, l): (&i64, &Level)| LevelView {
            price: Price(p),
            qty: l.total,
            orders: l.orders.len() as u32,
        };
        match side {
            Side::Buy => map.iter().rev().take(depth).map(f).collect(),
            Side::Sell => map.iter().take(depth).map(f).collect(),
        }
    }
}

/// A book snapshot with the update id and version it reflects.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub seq: u64,
    pub version: u64,
    pub bids: Vec<LevelView>,
    pub asks: Vec<LevelView>,
}

/// A simulated venue's instrument: its listing plus the engine's view of it.
#[derive(Clone, Debug)]
pub struct SimInstrument {
    pub listing: Listing,
    pub inst: Instrument,
}

impl SimInstrument {
    pub fn is_futures(&self) -> bool {
        self.listing.market == Market::Futures
    }

    pub fn price_text(&self, p: Price) -> String {
        p.display(self.inst.price_scale).to_string()
    }

    pub fn qty_text(&self, q: Qty) -> String {
        q.display(self.inst.qty_scale).to_string()
    }

    /// A futures quantity as whole contracts (lots are whole contracts here).
    pub fn contracts(&self, q: Qty) -> i64 {
        q.0 / 10i64.pow(u32::from(self.inst.qty_scale))
    }

    /// Whole contracts as a quantity.
    pub fn from_contracts(&self, n: i64) -> Option<Qty> {
        n.checked_mul(10i64.pow(u32::from(self.inst.qty_scale))).map(Qty)
    }
}

/// One venue's books, orders, accounts and subscribers.
#[derive(Debug)]
pub struct Exchange {
    pub venue: Venue,
    pub instruments: Vec<SimInstrument>,
    books: Vec<Book>,
    orders: HashMap<u64, Order>,
    accounts: Vec<Account>,
    /// Fees collected, per asset.
    pub fee_pool: BTreeMap<String, Amount>,
    next_order_id: u64,
    next_trade_id: u64,
    subscribers: Vec<Sender<Arc<Event>>>,
    pending: Vec<Event>,
    touched_spot: BTreeSet<(AccountId, String)>,
    /// The last spot total published per (account, asset), for the `change` of the next.
    reported: BTreeMap<(AccountId, String), Amount>,
    dirty_insts: BTreeSet<usize>,
    finished_makers: Vec<u64>,
    pub faults: Faults,
    /// Outcomes scripted for the trading account's next orders, per instrument.
    scripted: Vec<(usize, Scripted)>,
    /// Orders the private streams keep quiet about ([`Scripted::Silent`]).
    muted: BTreeSet<u64>,
    rng: ChaCha8Rng,
    clock: fn() -> u64,
}

/// `a * b / c` truncated toward zero without the intermediate product (`0 <= b <= c`,
/// `c > 0`): the share `b/c` of `a`.
fn mul_div(a: i128, b: i128, c: i128) -> i128 {
    (a / c) * b + (a % c) * b / c
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Exchange {
    /// A venue with empty books and `accounts` empty accounts; ids start from `id_base`.
    pub fn new(
        venue: Venue,
        instruments: Vec<SimInstrument>,
        accounts: usize,
        id_base: u64,
        rng: ChaCha8Rng,
    ) -> Self {
        let books = instruments
            .iter()
            .enumerate()
            .map(|(i, _)| {
                // Book ids and versions at the venues' magnitudes (1e10..1e11), well below 2^53:
                // clients that parse JSON numbers through doubles must keep them exact.
                let salt = id_base % 1_000;
                Book {
                    seq: 30_000_000_000 + i as u64 * 7_000_000_000 + salt * 1_000_000,
                    version: 26_000_000_000 + i as u64 * 3_000_000_000 + salt * 1_000_000,
                    ..Book::default()
                }
            })
            .collect();
        Exchange {
            venue,
            instruments,
            books,
            orders: HashMap::new(),
            accounts: vec![Account::default(); accounts.max(2)],
            fee_pool: BTreeMap::new(),
            next_order_id: id_base,
            next_trade_id: 9_000_000_000 + (id_base % 1_000) * 1_000_000,
            subscribers: Vec::new(),
            pending: Vec::new(),
            touched_spot: BTreeSet::new(),
            reported: BTreeMap::new(),
            dirty_insts: BTreeSet::new(),
            finished_makers: Vec::new(),
            faults: Faults::NONE,
            scripted: Vec::new(),
            muted: BTreeSet::new(),
            rng,
            clock: now_ms,
        }
    }

    /// Uses a fixed clock (tests).
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = clock;
    }

    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The instrument index of a venue symbol in a market.
    pub fn find(&self, market: Market, symbol: &str) -> Option<usize> {
        self.instruments.iter().position(|i| i.listing.market == market && i.listing.symbol == symbol)
    }

    pub fn subscribe(&mut self, tx: Sender<Arc<Event>>) {
        self.subscribers.push(tx);
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(id as usize)
    }

    /// Credits a spot balance (deposits at start-up).
    pub fn deposit_spot(&mut self, account: AccountId, asset: &str, amount: Amount) {
        if let Some(a) = self.accounts.get_mut(account as usize) {
            let b = a.spot.entry(asset.to_owned()).or_default();
            b.available += amount;
            self.reported.insert((account, asset.to_owned()), b.total());
        }
    }

    /// Credits the futures USDT balance (deposits at start-up).
    pub fn deposit_futures(&mut self, account: AccountId, amount: Amount) {
        if let Some(a) = self.accounts.get_mut(account as usize) {
            a.futures.balance += amount;
        }
    }

    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.get(&id)
    }

    /// An account's orders on an instrument (all instruments when `None`), open ones only
    /// when `open_only`.
    pub fn orders_of(&self, account: AccountId, inst: Option<usize>, open_only: bool) -> Vec<Order> {
        let mut v: Vec<Order> = self
            .orders
            .values()
            .filter(|o| {
                o.account == account && inst.is_none_or(|i| o.inst == i) && (!open_only || o.is_open())
            })
            .cloned()
            .collect();
        v.sort_by_key(|o| o.id);
        v
    }

    /// The top `depth` levels per side with the update id they reflect.
    pub fn snapshot(&self, inst: usize, depth: usize) -> Snapshot {
        let b = &self.books[inst];
        Snapshot {
            seq: b.seq,
            version: b.version,
            bids: b.levels(Side::Buy, depth),
            asks: b.levels(Side::Sell, depth),
        }
    }

    pub fn best(&self, inst: usize) -> (Option<LevelView>, Option<LevelView>) {
        let b = &self.books[inst];
        (b.best(Side::Buy), b.best(Side::Sell))
    }

    fn fee_rate(&self, inst: usize, maker: bool) -> Rate {
        let i = &self.instruments[inst].inst;
        if maker { i.maker_fee } else { i.taker_fee }
    }

    fn spot_balance(&mut self, account: AccountId, asset: &str) -> &mut Balance {
        self.touched_spot.insert((account, asset.to_owned()));
        self.accounts[account as usize].spot.entry(asset.to_owned()).or_default()
    }

    fn emit(&mut self, e: Event) {
        if e.account().is_some_and(|a| a == MAKER || a == NOISE) {
            return;
        }
        let muted = match &e {
            Event::OrderUpdate { order, .. } => self.muted.contains(&order.id),
            Event::UserTrade { fill, .. } => self.muted.contains(&fill.order_id),
            _ => false,
        };
        if !muted {
            self.pending.push(e);
        }
    }

    /// Scripts the outcome of the trading account's next order on instrument `inst`
    /// (outcomes for one instrument apply in the order they were scripted).
    pub fn script(&mut self, inst: usize, outcome: Scripted) {
        self.scripted.push((inst, outcome));
    }

    fn take_script(&mut self, account: AccountId, inst: usize) -> Option<Scripted> {
        if account != USER {
            return None;
        }
        let i = self.scripted.iter().position(|&(at, _)| at == inst)?;
        Some(self.scripted.remove(i).1)
    }

    fn emit_order(&mut self, id: u64, event: OrderEvent) {
        if let Some(o) = self.orders.get(&id) {
            let e = Event::OrderUpdate { account: o.account, event, order: Box::new(o.clone()) };
            self.emit(e);
        }
    }

    /// Places an order for `account`.
    pub fn place(&mut self, account: AccountId, req: OrderRequest) -> Result<Order, Reject> {
        let r = self.place_inner(account, req);
        self.flush();
        r
    }

    fn validate(&self, req: &OrderRequest) -> Result<(), Reject> {
        let i = &self.instruments[req.inst].inst;
        if req.kind == OrderKind::Limit && !(req.price.is_positive() && req.price.is_multiple_of(i.tick)) {
            return Err(Reject::PriceTick);
        }
        if req.kind == OrderKind::Market && req.quote_qty.is_some() && req.side == Side::Buy {
            let q = req.quote_qty.unwrap_or(Amount::ZERO);
            if q <= Amount::ZERO {
                return Err(Reject::NotionalTooSmall);
            }
            if q < i.min_notional {
                return Err(Reject::NotionalTooSmall);
            }
            return Ok(());
        }
        if !(req.qty.is_positive() && req.qty.is_multiple_of(i.lot)) {
            return Err(Reject::QtyLot);
        }
        if req.qty < i.min_qty {
            return Err(Reject::QtyTooSmall);
        }
        if req.qty > i.max_qty {
            return Err(Reject::QtyTooLarge);
        }
        if req.kind == OrderKind::Limit
            && i.notional(req.price, req.qty, Rounding::Floor).is_none_or(|n| n < i.min_notional)
        {
            return Err(Reject::NotionalTooSmall);
        }
        Ok(())
    }

    /// True when a price crosses the opposite side's best level.
    fn crosses(&self, inst: usize, side: Side, price: Price) -> bool {
        match self.books[inst].best(side.opposite()) {
            None => false,
            Some(l) => match side {
                Side::Buy => price >= l.price,
                Side::Sell => price <= l.price,
            },
        }
    }

    /// Quantity available at or better than `limit` (`None`: any price) on the side a
    /// `side` order takes from.
    fn liquidity(&self, inst: usize, side: Side, limit: Option<Price>) -> Qty {
        let book = &self.books[inst];
        let mut sum = 0i64;
        let ok = |p: i64| match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => p <= l.0,
            (Side::Sell, Some(l)) => p >= l.0,
        };
        match side {
            Side::Buy => {
                for (&p, l) in book.asks.iter() {
                    if !ok(p) {
                        break;
                    }
                    sum = sum.saturating_add(l.total.0);
                }
            }
            Side::Sell => {
                for (&p, l) in book.bids.iter().rev() {
                    if !ok(p) {
                        break;
                    }
                    sum = sum.saturating_add(l.total.0);
                }
            }
        }
        Qty(sum)
    }

    /// The quote cost of buying `qty` from the asks at any price (None when the book is short).
    fn market_buy_cost(&self, inst: usize, qty: Qty) -> Option<Amount> {
        let i = &self.instruments[inst].inst;
        let mut left = qty.0;
        let mut cost = Amount::ZERO;
        for (&p, l) in self.books[inst].asks.iter() {
            let q = left.min(l.total.0);
            cost += i.notional(Price(p), Qty(q), Rounding::Ceil)?;
            left -= q;
            if left == 0 {
                return Some(cost);
            }
        }
        None
    }

    fn place_inner(&mut self, account: AccountId, req: OrderRequest) -> Result<Order, Reject> {
        self.validate(&req)?;
        let script = self.take_script(account, req.inst);
        if script == Some(Scripted::Reject) {
            return Err(Reject::Balance);
        }
        if account != MAKER && self.faults.reject > 0.0 && self.rng.r#gen::<f64>() < self.faults.reject {
            return Err(Reject::Fault);
        }
        let inst = req.inst;
        let si = self.instruments[inst].clone();
        let i = &si.inst;
        let futures = si.is_futures();
        if req.tif == Tif::PostOnly && self.crosses(inst, req.side, req.price) {
            return Err(Reject::PostOnly);
        }
        let limit = match req.kind {
            OrderKind::Limit => Some(req.price),
            OrderKind::Market => None,
        };
        if req.kind == OrderKind::Market && self.liquidity(inst, req.side, None).is_zero() {
            return Err(Reject::NoLiquidity);
        }
        // What the order must lock.
        let lock = if futures {
            let pos =
                self.accounts[account as usize].futures.positions.get(&inst).copied().unwrap_or_default();
            let signed = req.qty.0 * req.side.sign();
            let closing =
                if pos.size.0.signum() == -signed.signum() { pos.size.0.abs().min(req.qty.0) } else { 0 };
            let opening = Qty(req.qty.0 - closing);
            if req.reduce_only && opening.is_positive() {
                return Err(Reject::ReduceOnly);
            }
            let px = match req.kind {
                OrderKind::Limit => req.price,
                OrderKind::Market => {
                    let best =
                        self.books[inst].best(req.side.opposite()).map(|l| l.price).unwrap_or(Price::ZERO);
                    // A market order is margined at the best price plus 5%.
                    Price(best.0 + best.0 / 20)
                }
            };
            let margin = Amount(i.notional(px, opening, Rounding::Ceil).ok_or(Reject::Margin)?.0 / LEVERAGE);
            let fee = i
                .notional(px, req.qty, Rounding::Ceil)
                .ok_or(Reject::Margin)?
                .mul_rate(i.taker_fee, Rounding::Ceil);
            let need = margin + fee.unwrap_or(Amount::ZERO);
            if self.accounts[account as usize].futures.available() < need {
                return Err(Reject::Margin);
            }
            margin
        } else {
            match (req.side, req.kind) {
                (Side::Buy, OrderKind::Limit) => {
                    i.notional(req.price, req.qty, Rounding::Ceil).ok_or(Reject::Balance)?
                }
                (Side::Buy, OrderKind::Market) => match req.quote_qty {
                    Some(q) => q,
                    None => match self.market_buy_cost(inst, req.qty) {
                        Some(c) => c,
                        None => return Err(Reject::NoLiquidity),
                    },
                },
                (Side::Sell, _) => i.base_amount(req.qty).ok_or(Reject::Balance)?,
            }
        };
        let lock_asset = match (futures, req.side) {
            (true, _) => si.listing.quote.to_owned(),
            (false, Side::Buy) => si.listing.quote.to_owned(),
            (false, Side::Sell) => si.listing.base.to_owned(),
        };
        if !futures {
            let b = self.spot_balance(account, &lock_asset);
            if b.available < lock {
                return Err(Reject::Balance);
            }
        }
        // FOK: all or nothing, decided before anything moves.
        let fok_fails = req.tif == Tif::Fok && self.liquidity(inst, req.side, limit) < req.qty;
        let now = self.now();
        let id = self.next_order_id;
        self.next_order_id += 1;
        let fee_asset = match (futures, req.side) {
            (true, _) | (false, Side::Sell) => si.listing.quote.to_owned(),
            (false, Side::Buy) => si.listing.base.to_owned(),
        };
        let order = Order {
            id,
            account,
            inst,
            side: req.side,
            kind: req.kind,
            tif: req.tif,
            price: if req.kind == OrderKind::Limit { req.price } else { Price::ZERO },
            qty: req.qty,
            quote_qty: req.quote_qty,
            left: if req.quote_qty.is_some() { Qty(i64::MAX / 4) } else { req.qty },
            filled_qty: Qty::ZERO,
            filled_quote: Amount::ZERO,
            fee: Amount::ZERO,
            fee_asset,
            locked: Amount::ZERO,
            finish: Finish::Open,
            text: req.text.clone(),
            reduce_only: req.reduce_only,
            create_ms: now,
            update_ms: now,
            update_id: 1,
            last_role_maker: false,
        };
        self.orders.insert(id, order);
        if let Some(Scripted::Silent { answer_after_ms }) = script {
            self.muted.insert(id);
            HOLD_ANSWER_MS.set(Some(answer_after_ms));
        }
        if fok_fails {
            self.finish(id, Finish::Fok);
            return Ok(self.orders[&id].clone());
        }
        // Lock.
        if futures {
            self.accounts[account as usize].futures.order_margin += lock;
        } else {
            let b = self.spot_balance(account, &lock_asset);
            b.available -= lock;
            b.locked += lock;
        }
        if let Some(o) = self.orders.get_mut(&id) {
            o.locked = lock;
        }
        self.emit_order(id, OrderEvent::Put);
        // Forced partial fill: cap what a taker may take.
        let mut cap = if req.quote_qty.is_some() { Qty(i64::MAX / 4) } else { req.qty };
        if let Some(Scripted::Partial { lots }) = script {
            cap = Qty(cap.0.min(lots.max(0).saturating_mul(i.lot.0)));
        }
        if account != MAKER
            && req.tif != Tif::Fok
            && self.faults.partial > 0.0
            && self.rng.r#gen::<f64>() < self.faults.partial
        {
            let lots = req.qty.0 / i.lot.0;
            if lots >= 2 {
                let keep = self.rng.gen_range(1..lots);
                cap = Qty(keep * i.lot.0);
            }
        }
        self.match_order(id, limit, cap);
        let (left, filled, quote_sized) = {
            let o = &self.orders[&id];
            (o.left, o.filled_qty, o.quote_qty.is_some())
        };
        if quote_sized {
            let how = if filled.is_positive() { Finish::Filled } else { Finish::Ioc };
            if let Some(o) = self.orders.get_mut(&id) {
                o.left = Qty::ZERO;
            }
            self.finish(id, how);
        } else if left.is_zero() {
            self.finish(id, Finish::Filled);
        } else if req.kind == OrderKind::Market || req.tif == Tif::Ioc || req.tif == Tif::Fok || cap < req.qty
        {
            // A capped (forced partial) GTC order does not rest either: the fault models
            // a venue that cut the order.
            self.finish(id, Finish::Ioc);
        } else {
            self.rest(id);
        }
        Ok(self.orders[&id].clone())
    }

    fn rest(&mut self, id: u64) {
        let (inst, side, price, left, account) = {
            let o = &self.orders[&id];
            (o.inst, o.side, o.price, o.left, o.account)
        };
        let book = &mut self.books[inst];
        let level = book.side_mut(side).entry(price.0).or_default();
        level.total = Qty(level.total.0 + left.0);
        level.orders.push_back(id);
        book.touch(side, price.0);
        if account == MAKER {
            book.maker_orders.push(id);
        }
        self.dirty_insts.insert(inst);
    }

    /// Matches order `id` against the book up to `cap` filled quantity.
    fn match_order(&mut self, id: u64, limit: Option<Price>, cap: Qty) {
        let (inst, side) = {
            let o = &self.orders[&id];
            (o.inst, o.side)
        };
        let mut filled = Qty::ZERO;
        loop {
            let o = &self.orders[&id];
            let want = o.left.min(Qty(cap.0 - filled.0));
            if !want.is_positive() {
                break;
            }
            let Some(best) = self.books[inst].best(side.opposite()) else { break };
            let crosses = match (side, limit) {
                (_, None) => true,
                (Side::Buy, Some(l)) => best.price <= l,
                (Side::Sell, Some(l)) => best.price >= l,
            };
            if !crosses {
                break;
            }
            let maker_id = match self.books[inst]
                .side(side.opposite())
                .get(&best.price.0)
                .and_then(|l| l.orders.front())
            {
                Some(&m) => m,
                None => break,
            };
            let maker_left = self.orders[&maker_id].left;
            let mut q = want.min(maker_left);
            // A market buy sized by quote stops when the budget is spent.
            if let (Side::Buy, Some(_)) = (side, o.quote_qty) {
                let i = &self.instruments[inst].inst;
                let budget = o.locked;
                let base = budget.div(i.price_amount(best.price), Rounding::Floor).unwrap_or(Amount::ZERO);
                let afford = i.round_qty(i.qty_for_base(base, Rounding::Floor).unwrap_or(Qty::ZERO));
                q = q.min(afford);
                if !q.is_positive() {
                    break;
                }
            }
            self.fill(id, maker_id, best.price, q);
            filled = Qty(filled.0 + q.0);
        }
    }

    /// Settles one fill of `q` at `price` between a taker and a resting maker.
    fn fill(&mut self, taker_id: u64, maker_id: u64, price: Price, q: Qty) {
        let now = self.now();
        let inst = self.orders[&taker_id].inst;
        let si = self.instruments[inst].clone();
        let i = &si.inst;
        let notional = i.notional(price, q, Rounding::Floor).unwrap_or(Amount::ZERO);
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let taker_side = self.orders[&taker_id].side;
        // The maker's level shrinks.
        {
            let book = &mut self.books[inst];
            let levels = book.side_mut(taker_side.opposite());
            let mut remove = false;
            if let Some(l) = levels.get_mut(&price.0) {
                l.total = Qty(l.total.0 - q.0);
                if self.orders[&maker_id].left == q {
                    l.orders.pop_front();
                }
                remove = l.orders.is_empty();
            }
            if remove {
                levels.remove(&price.0);
            }
            book.touch(taker_side.opposite(), price.0);
        }
        self.dirty_insts.insert(inst);
        for (oid, maker) in [(taker_id, false), (maker_id, true)] {
            let rate = self.fee_rate(inst, maker);
            let (account, side, left_before, locked_before, text) = {
                let o = &self.orders[&oid];
                (o.account, o.side, o.left, o.locked, o.text.clone())
            };
            let fee;
            let fee_asset;
            let release;
            if si.is_futures() {
                fee = notional.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
                fee_asset = si.listing.quote.to_owned();
                // Order margin released in proportion to the filled part.
                release = if left_before == q {
                    locked_before
                } else {
                    Amount(mul_div(locked_before.0, q.0 as i128, left_before.0 as i128))
                };
                self.accounts[account as usize].futures.order_margin -= release;
                self.futures_fill(account, inst, side, q, notional, fee, trade_id, now);
            } else {
                let base = i.base_amount(q).unwrap_or(Amount::ZERO);
                match side {
                    Side::Buy => {
                        fee = base.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
                        fee_asset = si.listing.base.to_owned();
                        let qb = self.spot_balance(account, si.listing.quote);
                        qb.locked -= notional;
                        let bb = self.spot_balance(account, si.listing.base);
                        bb.available += base - fee;
                        release = notional;
                    }
                    Side::Sell => {
                        fee = notional.mul_rate(rate, Rounding::Ceil).unwrap_or(Amount::ZERO);
                        fee_asset = si.listing.quote.to_owned();
                        let bb = self.spot_balance(account, si.listing.base);
                        bb.locked -= base;
                        let qb = self.spot_balance(account, si.listing.quote);
                        qb.available += notional - fee;
                        release = base;
                    }
                }
                *self.fee_pool.entry(fee_asset.clone()).or_default() += fee;
            }
            if let Some(o) = self.orders.get_mut(&oid) {
                o.left = Qty(o.left.0 - q.0);
                o.filled_qty = Qty(o.filled_qty.0 + q.0);
                o.filled_quote += notional;
                o.fee += fee;
                o.locked -= release;
                o.update_ms = now;
                o.update_id += 1;
                o.last_role_maker = maker;
            }
            self.emit(Event::UserTrade {
                account,
                fill: Box::new(FillView {
                    trade_id,
                    order_id: oid,
                    inst,
                    side,
                    price,
                    qty: q,
                    notional,
                    maker,
                    fee,
                    fee_asset,
                    text,
                    time_ms: now,
                }),
            });
        }
        self.pending.push(Event::Trade { inst, id: trade_id, price, qty: q, taker_side, time_ms: now });
        if self.orders[&maker_id].left.is_zero() {
            self.finish(maker_id, Finish::Filled);
        } else {
            self.emit_order(maker_id, OrderEvent::Update);
        }
    }

    /// Applies a futures fill to an account's position and balance.
    #[allow(clippy::too_many_arguments)]
    fn futures_fill(
        &mut self,
        account: AccountId,
        inst: usize,
        side: Side,
        q: Qty,
        notional: Amount,
        fee: Amount,
        trade_id: u64,
        now: u64,
    ) {
        let symbol = self.instruments[inst].listing.symbol;
        let quote = self.instruments[inst].listing.quote;
        *self.fee_pool.entry(format!("{quote}:futures")).or_default() += fee;
        let fa = &mut self.accounts[account as usize].futures;
        fa.balance -= fee;
        let pos = fa.positions.entry(inst).or_default();
        let d = q.0 * side.sign();
        let mut pnl = Amount::ZERO;
        if pos.size.0 == 0 || pos.size.0.signum() == d.signum() {
            // Opening or adding.
            pos.size = Qty(pos.size.0 + d);
            pos.cost = if d > 0 { pos.cost + notional } else { pos.cost - notional };
        } else {
            let s = pos.size.0.signum();
            let closing = d.abs().min(pos.size.0.abs());
            // The closed part's notional, and the cost basis it releases.
            let close_notional = Amount(mul_div(notional.0, closing as i128, q.0 as i128));
            let released = if closing == pos.size.0.abs() {
                pos.cost
            } else {
                Amount(mul_div(pos.cost.0, closing as i128, pos.size.0.abs() as i128))
            };
            pnl = if s > 0 { close_notional - released } else { -close_notional - released };
            pos.cost -= released;
            pos.size = Qty(pos.size.0 + closing * -s);
            let opening = d.abs() - closing;
            if opening > 0 {
                let open_notional = notional - close_notional;
                pos.size = Qty(opening * d.signum());
                pos.cost = if d > 0 { open_notional } else { -open_notional };
            }
            pos.realised += pnl;
            fa.balance += pnl;
        }
        let p = *pos;
        let fa = &self.accounts[account as usize].futures;
        let (balance, available) = (fa.balance, fa.available());
        self.emit(Event::FuturesBalance {
            account,
            balance: balance - pnl,
            available,
            change: -fee,
            kind: "fee",
            text: format!("{symbol}:{trade_id}"),
            time_ms: now,
        });
        if !pnl.is_zero() {
            self.emit(Event::FuturesBalance {
                account,
                balance,
                available,
                change: pnl,
                kind: "pnl",
                text: format!("{symbol}:{trade_id}"),
                time_ms: now,
            });
        }
        self.emit(Event::Position {
            account,
            inst,
            size: p.size,
            cost: p.cost,
            realised: p.realised,
            time_ms: now,
        });
    }

    /// Ends an order: releases what it still locks and removes it from the book.
    fn finish(&mut self, id: u64, how: Finish) {
        let Some(o) = self.orders.get(&id) else { return };
        if !o.is_open() {
            return;
        }
        let (inst, side, price, left, account, locked) =
            (o.inst, o.side, o.price, o.left, o.account, o.locked);
        let si = self.instruments[inst].clone();
        // Off the book if it rests there.
        {
            let book = &mut self.books[inst];
            let levels = book.side_mut(side);
            let mut touched = false;
            if let Some(l) = levels.get_mut(&price.0) {
                if let Some(pos) = l.orders.iter().position(|&x| x == id) {
                    l.orders.remove(pos);
                    l.total = Qty(l.total.0 - left.0);
                    touched = true;
                }
                if l.orders.is_empty() {
                    levels.remove(&price.0);
                }
            }
            if touched {
                book.touch(side, price.0);
                self.dirty_insts.insert(inst);
            }
        }
        if !locked.is_zero() {
            if si.is_futures() {
                self.accounts[account as usize].futures.order_margin -= locked;
            } else {
                let asset = if side == Side::Buy { si.listing.quote } else { si.listing.base };
                let b = self.spot_balance(account, asset);
                b.locked -= locked;
                b.available += locked;
            }
        }
        let now = self.now();
        if let Some(o) = self.orders.get_mut(&id) {
            o.locked = Amount::ZERO;
            o.finish = how;
            o.update_ms = now;
            o.update_id += 1;
        }
        self.emit_order(id, OrderEvent::Finish);
        if account == MAKER {
            // Finished maker orders are forgotten at the next flush.
            self.finished_makers.push(id);
        }
    }

    /// Cancels an open order of `account`; `None` when there is no such open order.
    pub fn cancel(&mut self, account: AccountId, id: u64) -> Option<Order> {
        let ok = self.orders.get(&id).is_some_and(|o| o.account == account && o.is_open());
        if !ok {
            return None;
        }
        self.finish(id, Finish::Cancelled);
        let o = self.orders.get(&id).cloned();
        self.flush();
        o
    }

    /// Cancels every open order of `account` on `inst` (all instruments when `None`).
    pub fn cancel_all(&mut self, account: AccountId, inst: Option<usize>) -> Vec<Order> {
        let ids: Vec<u64> = self.orders_of(account, inst, true).iter().map(|o| o.id).collect();
        for &id in &ids {
            self.finish(id, Finish::Cancelled);
        }
        let out = ids.iter().filter_map(|id| self.orders.get(id).cloned()).collect();
        self.flush();
        out
    }

    /// Replaces the market maker's quotes on `inst`: cancels all, then rests the new
    /// ones (which may trade against resting user orders).
    pub fn requote(&mut self, inst: usize, quotes: &[(Side, Price, Qty)]) {
        let old = std::mem::take(&mut self.books[inst].maker_orders);
        for id in old {
            self.finish(id, Finish::Cancelled);
        }
        for &(side, price, qty) in quotes {
            let req = OrderRequest {
                inst,
                side,
                kind: OrderKind::Limit,
                tif: Tif::Gtc,
                price,
                qty,
                quote_qty: None,
                text: String::new(),
                reduce_only: false,
            };
            let _ = self.place_inner(MAKER, req);
        }
        let orders = &self.orders;
        self.books[inst].maker_orders.retain(|id| orders.get(id).is_some_and(Order::is_open));
        self.flush();
    }

    /// Publishes what changed: balances, depth and best bid/ask per touched instrument,
    /// then every pending event, to every subscriber.
    pub fn flush(&mut self) {
        for id in std::mem::take(&mut self.finished_makers) {
            self.orders.remove(&id);
        }
        let now = self.now();
        for (account, asset) in std::mem::take(&mut self.touched_spot) {
            if account == MAKER || account == NOISE {
                continue;
            }
            let b = self.accounts[account as usize].spot.get(&asset).copied().unwrap_or_default();
            let before = self.reported.insert((account, asset.clone()), b.total()).unwrap_or_default();
            self.pending.push(Event::Balance {
                account,
                asset,
                available: b.available,
                locked: b.locked,
                change: b.total() - before,
                time_ms: now,
            });
        }
        for inst in std::mem::take(&mut self.dirty_insts) {
            let book = &mut self.books[inst];
            let Some(first) = book.first_dirty.take() else { continue };
            book.version += 1;
            let dirty = std::mem::take(&mut book.dirty);
            let mut bids = Vec::new();
            let mut asks = Vec::new();
            for (side, p) in dirty {
                if side == Side::Buy as u8 {
                    bids.push(book.view(Side::Buy, p));
                } else {
                    asks.push(book.view(Side::Sell, p));
                }
            }
            bids.reverse();
            let (last, version) = (book.seq, book.version);
            let top = (book.best(Side::Buy), book.best(Side::Sell));
            let top_changed = top != book.last_top;
            book.last_top = top;
            self.pending.push(Event::Depth { inst, first, last, version, bids, asks, time_ms: now });
            if top_changed {
                self.pending.push(Event::BookTicker {
                    inst,
                    seq: last,
                    bid: top.0,
                    ask: top.1,
                    time_ms: now,
                });
            }
        }
        if self.pending.is_empty() {
            return;
        }
        let events: Vec<Arc<Event>> = self.pending.drain(..).map(Arc::new).collect();
        self.subscribers.retain(|tx| events.iter().all(|e| tx.send(e.clone()).is_ok()));
    }

    /// Conservation check data: per asset, the sum over accounts of spot totals plus fees
    /// (futures USDT is kept apart under `"USDT:futures"`, with cost bases subtracted).
    pub fn totals(&self) -> BTreeMap<String, Amount> {
        let mut t: BTreeMap<String, Amount> = BTreeMap::new();
        for a in &self.accounts {
            for (asset, b) in &a.spot {
                *t.entry(asset.clone()).or_default() += b.total();
            }
            let virt = a.futures.balance - a.futures.positions.values().map(|p| p.cost).sum::<Amount>();
            *t.entry("USDT:futures".to_owned()).or_default() += virt;
        }
        for (asset, f) in &self.fee_pool {
            *t.entry(asset.clone()).or_default() += *f;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::listings;
    use pipeline::types::Instruments;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn venue(venue: Venue) -> Exchange {
        let ls: Vec<_> = listings().into_iter().filter(|l| l.venue == venue).collect();
        let specs: Vec<_> = ls.iter().map(Listing::spec).collect();
        let table = Instruments::from_specs(&specs).unwrap();
        let insts = ls
            .into_iter()
            .zip(table.iter())
            .map(|(listing, i)| SimInstrument { listing, inst: i.clone() })
            .collect();
        let mut x = Exchange::new(venue, insts, 3, 1_000_000, ChaCha8Rng::seed_from_u64(7));
        x.set_clock(|| 1_700_000_000_000);
        for a in [USER, MAKER, 2] {
            for asset in ["USDT", "BTC", "ETH", "SOL"] {
                x.deposit_spot(a, asset, Amount::from_int(1_000_000));
            }
            x.deposit_futures(a, Amount::from_int(1_000_000));
        }
        x
    }

    fn px(x: &Exchange, inst: usize, s: &str) -> Price {
        Price::parse(s, x.instruments[inst].inst.price_scale).unwrap()
    }

    fn qty(x: &Exchange, inst: usize, s: &str) -> Qty {
        Qty::parse(s, x.instruments[inst].inst.qty_scale).unwrap()
    }

    fn limit(inst: usize, side: Side, tif: Tif, price: Price, qty: Qty) -> OrderRequest {
        OrderRequest {
            inst,
            side,
            kind: OrderKind::Limit,
            tif,
            price,
            qty,
            quote_qty: None,
            text: String::new(),
            reduce_only: false,
        }
    }

    fn bal(x: &Exchange, a: AccountId, asset: &str) -> Balance {
        x.account(a).unwrap().spot.get(asset).copied().unwrap_or_default()
    }

    #[test]
    fn price_time_priority_and_exact_fees() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Spot, "BTC_USDT").unwrap();
        let p = px(&x, i, "50000");
        // Two asks at the same price: MAKER first, then account 2.
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, p, qty(&x, i, "0.1"))).unwrap();
        x.place(2, limit(i, Side::Sell, Tif::Gtc, p, qty(&x, i, "0.1"))).unwrap();
        let before = x.totals();
        let (tx, rx) = std::sync::mpsc::channel();
        x.subscribe(tx);
        let o = x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "50001"), qty(&x, i, "0.15"))).unwrap();
        // The balance push carries the change since the last one.
        let btc_change = rx.try_iter().find_map(|e| match &*e {
            Event::Balance { account: USER, asset, change, .. } if asset == "BTC" => Some(*change),
            _ => None,
        });
        assert_eq!(btc_change, Some(Amount::parse("0.14985").unwrap()));
        assert_eq!(o.finish, Finish::Filled);
        assert_eq!(o.filled_quote, Amount::from_int(7500));
        // Taker fee 0.1% of 0.15 BTC, paid in BTC.
        assert_eq!(o.fee, Amount::parse("0.00015").unwrap());
        assert_eq!(
            bal(&x, USER, "BTC").available,
            Amount::from_int(1_000_000) + Amount::parse("0.14985").unwrap()
        );
        assert_eq!(bal(&x, USER, "USDT").total(), Amount::from_int(1_000_000 - 7500));
        // The earlier maker was filled first and entirely.
        assert_eq!(x.orders_of(2, Some(i), true)[0].left, qty(&x, i, "0.05"));
        // Account 2 received 2500 USDT less its 0.1% maker fee.
        assert_eq!(
            bal(&x, 2, "USDT").available,
            Amount::from_int(1_000_000) + Amount::parse("2497.5").unwrap()
        );
        assert_eq!(x.totals(), before);
    }

    #[test]
    fn ioc_never_rests_and_fok_is_all_or_nothing() {
        let mut x = venue(Venue::Mexc);
        let i = x.find(Market::Spot, "ETHUSDT").unwrap();
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "3000"), qty(&x, i, "1"))).unwrap();
        let o = x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "3000"), qty(&x, i, "2"))).unwrap();
        assert_eq!((o.finish, o.filled_qty), (Finish::Ioc, qty(&x, i, "1")));
        assert!(x.orders_of(USER, None, true).is_empty());
        assert_eq!(bal(&x, USER, "USDT").locked, Amount::ZERO);
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "3001"), qty(&x, i, "1"))).unwrap();
        let o = x.place(USER, limit(i, Side::Buy, Tif::Fok, px(&x, i, "3001"), qty(&x, i, "1.5"))).unwrap();
        assert_eq!((o.finish, o.filled_qty), (Finish::Fok, Qty::ZERO));
        let o = x.place(USER, limit(i, Side::Buy, Tif::Fok, px(&x, i, "3001"), qty(&x, i, "1"))).unwrap();
        assert_eq!(o.finish, Finish::Filled);
        // MEXC spot: maker 0, taker 0.05% of the base received.
        assert_eq!(o.fee, Amount::parse("0.0005").unwrap());
    }

    #[test]
    fn validation_and_balance_rejects() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Spot, "BTC_USDT").unwrap();
        let q = qty(&x, i, "0.001");
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000.05"), q)).unwrap_err(),
            Reject::PriceTick
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000"), qty(&x, i, "0.0000015")))
                .unwrap_err(),
            Reject::QtyLot
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "1000"), qty(&x, i, "0.001"))).unwrap_err(),
            Reject::NotionalTooSmall
        );
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "50000"), qty(&x, i, "30"))).unwrap_err(),
            Reject::Balance
        );
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "50000"), q)).unwrap();
        assert_eq!(
            x.place(USER, limit(i, Side::Buy, Tif::PostOnly, px(&x, i, "50000"), q)).unwrap_err(),
            Reject::PostOnly
        );
    }

    #[test]
    fn futures_positions_and_pnl_are_exact() {
        let mut x = venue(Venue::GateIo);
        let i = x.find(Market::Futures, "BTC_USDT").unwrap();
        let si = x.instruments[i].clone();
        let c = |n: i64| si.from_contracts(n).unwrap();
        let before = x.totals();
        x.place(MAKER, limit(i, Side::Sell, Tif::Gtc, px(&x, i, "50000"), c(100))).unwrap();
        x.place(USER, limit(i, Side::Buy, Tif::Ioc, px(&x, i, "50000"), c(100))).unwrap();
        x.place(MAKER, limit(i, Side::Buy, Tif::Gtc, px(&x, i, "51000"), c(150))).unwrap();
        x.place(USER, limit(i, Side::Sell, Tif::Ioc, px(&x, i, "51000"), c(150))).unwrap();
        let p = x.account(USER).unwrap().futures.positions[&i];
        assert_eq!(p.size, c(-50));
        // Long 100 contracts (0.01 BTC) closed 1000 higher: +10 USDT.
        assert_eq!(p.realised, Amount::from_int(10));
        assert_eq!(p.cost, -Amount::parse("255").unwrap());
        // Fees: taker 0.05% of 500 and of 765.
        let fees = Amount::parse("0.25").unwrap() + Amount::parse("0.3825").unwrap();
        assert_eq!(
            x.account(USER).unwrap().futures.balance,
            Amount::from_int(1_000_000) + Amount::from_int(10) - fees
        );
        assert_eq!(x.totals(), before);
        let m = x.account(MAKER).unwrap().futures.positions[&i];
        assert_eq!(m.size.0 + p.size.0, 0);
    }

    #[test]
    fn shares_are_exact_without_overflow() {
        assert_eq!(mul_div(10, 3, 4), 7);
        assert_eq!(mul_div(-10, 3, 4), -7);
        let big = i128::MAX / 3;
        assert_eq!(mul_div(big, 5_000_000_000, 10_000_000_000), big / 2);
    }

    #[test]
    fn depth_events_chain_their_ids() {
        let mut x = venue(Venue::GateIo);
        let (tx, rx) = std::sync::mpsc::channel();
        x.subscribe(tx);
        let i = x.find(Market::Spot, "ETH_USDT").unwrap();
        x.requote(
            i,
            &[
                (Side::Buy, px(&x, i, "2999"), qty(&x, i, "1")),
                (Side::Sell, px(&x, i, "3001"), qty(&x, i, "1")),
            ],
        );
        x.requote(
            i,
            &[
                (Side::Buy, px(&x, i, "2998"), qty(&x, i, "1")),
                (Side::Sell, px(&x, i, "3002"), qty(&x, i, "2")),
            ],
        );
        let snap = x.snapshot(i, 10);
        let mut prev: Option<u64> = None;
        for e in rx.try_iter() {
            if let Event::Depth { first, last, .. } = &*e {
                if let Some(p) = prev {
                    assert_eq!(*first, p + 1);
                }
                prev = Some(*last);
            }
        }
        assert_eq!(prev, Some(snap.seq));
        assert_eq!(snap.bids[0].price, px(&x, i, "2998"));
        assert_eq!(snap.asks[0].qty, qty(&x, i, "2"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn balances_conserve_across_random_orders(
            ops in proptest::collection::vec((0u32..3, any::<bool>(), 0usize..4, 1i64..40, 1i64..30, 0u8..4), 1..60)
        ) {
            let mut x = venue(Venue::GateIo);
            let spot = x.find(Market::Spot, "ETH_USDT").unwrap();
            let fut = x.find(Market::Futures, "ETH_USDT").unwrap();
            let before = x.totals();
            for (acct, buy, which, dp, q, tif) in ops {
                let side = if buy { Side::Buy } else { Side::Sell };
                let tif = [Tif::Gtc, Tif::Ioc, Tif::Fok, Tif::PostOnly][tif as usize];
                let inst = if which % 2 == 0 { spot } else { fut };
                let price = px(&x, inst, "3000");
                let price = Price(price.0 + (dp - 20) * x.instruments[inst].inst.tick.0);
                let qty = if x.instruments[inst].is_futures() {
                    x.instruments[inst].from_contracts(q).unwrap()
                } else {
                    Qty(q * x.instruments[inst].inst.lot.0 * 100)
                };
                if let Ok(o) = x.place(acct, limit(inst, side, tif, price, qty)) {
                    // IOC and FOK never rest; FOK is all or nothing.
                    if matches!(tif, Tif::Ioc | Tif::Fok) {
                        prop_assert!(!o.is_open());
                    }
                    if tif == Tif::Fok {
                        prop_assert!(o.filled_qty.is_zero() || o.filled_qty == qty);
                    }
                    if tif == Tif::PostOnly {
                        prop_assert!(o.filled_qty.is_zero());
                    }
                    prop_assert_eq!(o.filled_qty.0 + if o.is_open() { o.left.0 } else { 0 } <= qty.0, true);
                }
                if which == 3 {
                    if let Some(o) = x.orders_of(acct, None, true).first() {
                        let id = o.id;
                        x.cancel(acct, id);
                    }
                }
                prop_assert_eq!(x.totals(), before.clone());
                // No balance ever negative; locks match open orders.
                for a in [USER, MAKER, 2] {
                    for b in x.account(a).unwrap().spot.values() {
                        prop_assert!(b.available >= Amount::ZERO && b.locked >= Amount::ZERO);
                    }
                    let locked: Amount = x.orders_of(a, Some(spot), true).iter().map(|o| o.locked).sum();
                    let acct = x.account(a).unwrap();
                    let held = acct.spot.get("USDT").map(|b| b.locked).unwrap_or_default()
                        + acct.spot.get("ETH").map(|b| b.locked).unwrap_or_default();
                    prop_assert_eq!(locked, held);
                }
                let sizes: i64 = [USER, MAKER, 2].iter()
                    .map(|&a| x.account(a).unwrap().futures.positions.get(&fut).map(|p| p.size.0).unwrap_or(0))
                    .sum();
                prop_assert_eq!(sizes, 0);
                // The book never stays crossed.
                let (b, a) = x.best(spot);
                if let (Some(b), Some(a)) = (b, a) { prop_assert!(b.price < a.price); }
            }
        }
    }
}
