//! The order vocabulary of the matching engine: what a client asks for
//! ([`OrderRequest`]), what the venue keeps ([`Order`]), how an order ends ([`Finish`]),
//! why one is refused ([`Reject`]), and the outcomes a test may script in place of the
//! market's ([`Scripted`]). Shared by every other engine module, so it owns no state but
//! the per-thread answer hold of a [`Scripted::Silent`] order.

use pipeline::types::{Amount, Instrument, Price, Qty, Rounding, Side};

use super::accounts::AccountId;

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

impl OrderRequest {
    /// A limit order with this time in force, without text.
    pub fn new_limit(inst: usize, side: Side, tif: Tif, price: Price, qty: Qty) -> Self {
        let kind = OrderKind::Limit;
        OrderRequest {
            inst,
            side,
            kind,
            tif,
            price,
            qty,
            quote_qty: None,
            text: String::new(),
            reduce_only: false,
        }
    }

    /// A market order of `qty` in the order unit (immediate or cancel), without text.
    pub fn new_market(inst: usize, side: Side, qty: Qty) -> Self {
        OrderRequest {
            kind: OrderKind::Market,
            ..OrderRequest::new_limit(inst, side, Tif::Ioc, Price::ZERO, qty)
        }
    }

    /// The price a limit order may not trade through; `None` for a market order.
    pub fn limit(&self) -> Option<Price> {
        match self.kind {
            OrderKind::Limit => Some(self.price),
            OrderKind::Market => None,
        }
    }
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

/// Asks the server on this thread to hold back its answer to the order it is placing.
pub(super) fn hold_answer(ms: u64) {
    HOLD_ANSWER_MS.set(Some(ms));
}

/// How long the server on this thread must hold back its answer to the order it just
/// placed ([`Scripted::Silent`]), taken once.
pub fn take_answer_hold() -> Option<u64> {
    HOLD_ANSWER_MS.take()
}
