//! What a venue publishes, and when: public events (depth, best bid and ask, trades) go
//! to every connection, private ones (orders, fills, balances, positions) carry their
//! account. Every mutation of the engine ends in [`Exchange::flush`], under the same
//! lock, which turns the balances and books it touched into events and sends everything
//! pending to every subscriber, so a snapshot's update id always equals the last
//! published one. The market maker's and noise traders' private events are never
//! published.

use std::sync::Arc;

use pipeline::types::{Amount, Price, Qty, Side};

use super::Exchange;
use super::accounts::{AccountId, MAKER, NOISE};
use super::books::LevelView;
use super::orders::Order;

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

impl Exchange {
    /// Queues a private event unless it belongs to the model's accounts or to a muted
    /// order.
    pub(super) fn emit(&mut self, e: Event) {
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

    pub(super) fn emit_order(&mut self, id: u64, event: OrderEvent) {
        if let Some(o) = self.orders.get(&id) {
            let e = Event::OrderUpdate { account: o.account, event, order: Box::new(o.clone()) };
            self.emit(e);
        }
    }

    /// Publishes what changed: balances, depth and best bid/ask per touched instrument,
    /// then every pending event, to every subscriber.
    pub fn flush(&mut self) {
        for id in std::mem::take(&mut self.finished_makers) {
            self.orders.remove(&id);
        }
        let now = self.now();
        self.queue_balances(now);
        self.queue_books(now);
        if self.pending.is_empty() {
            return;
        }
        let events: Vec<Arc<Event>> = self.pending.drain(..).map(Arc::new).collect();
        self.subscribers.retain(|tx| events.iter().all(|e| tx.send(e.clone()).is_ok()));
    }

    /// A balance event per spot balance touched since the last flush, with the change
    /// since the last one published.
    fn queue_balances(&mut self, now: u64) {
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
    }

    /// A depth event per book changed since the last flush, and a best bid/ask event
    /// where the top moved.
    fn queue_books(&mut self, now: u64) {
        for inst in std::mem::take(&mut self.dirty_insts) {
            let Some(c) = self.books[inst].take_changes() else { continue };
            let (first, last, version) = (c.first, c.last, c.version);
            self.pending.push(Event::Depth {
                inst,
                first,
                last,
                version,
                bids: c.bids,
                asks: c.asks,
                time_ms: now,
            });
            if let Some((bid, ask)) = c.top {
                self.pending.push(Event::BookTicker { inst, seq: last, bid, ask, time_ms: now });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use pipeline::types::{Market, Venue};

    use super::*;
    use crate::engine::testkit::{px, qty, venue};

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
}
