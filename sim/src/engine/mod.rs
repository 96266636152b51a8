//! One simulated venue's exchange core: an order book per instrument with price-time
//! priority, spot balances and futures positions per account, fees, and the events
//! the protocol servers turn into public and private pushes.
//!
//! Everything is exact: prices and quantities are the instrument's [`Price`]/[`Qty`]
//! mantissas, balances, notionals and fees are [`Amount`]s (1e-18), fee rates
//! [`Rate`](pipeline::types::Rate)s.
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
//!
//! The rooms: `orders` (the order vocabulary), `accounts` (balances, positions,
//! margin, locks), `books` (levels, time priority, update ids), `matching` (order
//! entry, crossing, time in force, cancels), `settlement` (a fill's effect on money),
//! `events` (what is published, and the flush).

mod accounts;
mod books;
mod events;
mod funding;
mod matching;
mod orders;
mod settlement;
#[cfg(test)]
mod testkit;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::mpsc::Sender;

use pipeline::types::{Amount, Instrument, Market, Price, Qty, Rounding, Side, Venue};
use rand_chacha::ChaCha8Rng;

pub use accounts::{
    Account, AccountId, Balance, FuturesAccount, LEVERAGE, MAKER, NOISE, Position, USER, initial_margin,
};
pub use books::{LevelView, Snapshot};
pub use events::{Event, FillView, OrderEvent};
pub use funding::{FUNDING_PLACES, FundingEntry, MAX_RATE};
pub use orders::{Finish, Order, OrderKind, OrderRequest, Reject, Scripted, Tif, take_answer_hold};

use super::catalog::Listing;
use super::faults::Faults;
use books::Book;

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

    /// The average entry price of a futures position of `size` with cost basis `cost`
    /// (zero when flat).
    pub fn entry_price(&self, size: Qty, cost: Amount) -> Amount {
        let base = self.inst.base_amount(Qty(size.0.abs())).unwrap_or(Amount::ZERO);
        cost.abs().div(base, Rounding::Floor).unwrap_or(Amount::ZERO)
    }

    /// The asset an order on `side` locks: the quote for a spot buy, the base for a spot
    /// sell, the quote (as margin) for futures.
    pub fn locked_asset(&self, side: Side) -> &'static str {
        if self.is_futures() || side == Side::Buy { self.listing.quote } else { self.listing.base }
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
    /// The trading account's funding payments (its account book's `fund` entries).
    funding_book: Vec<FundingEntry>,
    next_funding_id: u64,
    funding_interval_ms: u64,
    next_funding_ms: u64,
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
        // Book ids and versions at the venues' magnitudes (1e10..1e11), well below 2^53:
        // clients that parse JSON numbers through doubles must keep them exact.
        let salt = id_base % 1_000;
        let books = (0..instruments.len() as u64)
            .map(|i| {
                Book::starting_at(
                    30_000_000_000 + i * 7_000_000_000 + salt * 1_000_000,
                    26_000_000_000 + i * 3_000_000_000 + salt * 1_000_000,
                )
            })
            .collect();
        Exchange {
            venue,
            instruments,
            books,
            orders: HashMap::new(),
            accounts: vec![Account::default(); accounts.max(2)],
            fee_pool: BTreeMap::new(),
            funding_book: Vec::new(),
            next_funding_id: id_base,
            funding_interval_ms: 0,
            next_funding_ms: u64::MAX,
            next_order_id: id_base,
            next_trade_id: 9_000_000_000 + salt * 1_000_000,
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
}
