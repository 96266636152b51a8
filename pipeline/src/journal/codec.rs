//! The journal's records and their explicit little-endian encoding.
//!
//! Every record is one frame:
//!
//! ```text
//! offset  size  field
//!      0     4  len      payload bytes (u32 LE), at most MAX_PAYLOAD
//!      4     4  crc      CRC32 (IEEE, crc32fast) of bytes 8 .. 18+len
//!      8     8  seq      1, 2, 3, ... within one file (u64 LE)
//!     16     1  kind     record type (see `RecordKind`)
//!     17     1  version  layout version of that record type
//!     18   len  payload  the fields below, in order, little-endian, no padding
//! ```
//!
//! A file starts with a 16-byte header: the magic `ARBJRNL\0`, the file format version
//! (u16 LE, 1), the writer (u8: 1 dispatch, 2 state) and five zero bytes.
//!
//! Payload layouts, version 1 (types: u8/u16/u64 unsigned, i64/i128 signed, all LE;
//! `client` = op u64, leg u8, attempt u8; `leg` = inst u16, side u8, price i64, qty i64):
//!
//! ```text
//! dispatch log
//!   1 OpIntent      op u64, kind u8, n_legs u8, deadline_ns u64, ts_ns u64
//!   2 OrderIntent   client, leg, tif u8, ts_ns u64
//!   3 CancelIntent  client, inst u16, ts_ns u64
//!   4 QueryIntent   client, inst u16, ts_ns u64
//!   5 CancelAll     ts_ns u64
//!   6 BalanceQuery  venue u8, ts_ns u64
//!   7 Identity      prefix (len u8, bytes), wall_ms u64: the instance's client order id
//!                   prefix, the first record of a journal created with one
//! state log
//!  16 OpStarted     op u64, id u64, kind u8, n_legs u8, leg x3, expected_profit i128,
//!                   edge i64, notional i128, slippage i64, trigger_ns u64, oldest_ns u64,
//!                   detected_ns u64, approved_ns u64, deadline_ns u64
//!  17 OrderEvent    client, inst u16, side u8, ts_ns u64, venue_order (len u8, bytes),
//!                   update tag u8 + fields:
//!                     0 Sent | 1 Accepted | 2 Rejected reason u8
//!                     3 Fill price i64, qty i64, cum_qty i64, fee i128, fee_asset u16,
//!                            trade_id u64
//!                     4 Done filled i64 | 5 Unknown
//!                     6 Status filled i64, value i128, fee i128, fee_asset u16, open u8
//!  18 FillApplied   client, inst u16, side u8, qty i64, value i128, fee i128, ts_ns u64
//!                   version 2 adds what the accounting valued it with, so a restart
//!                   rebuilds the money figures exactly: fee_native i128 (in fee_asset),
//!                   fee_asset u16, quote_usd i128, other_fee_usd i128
//!  19 OpPhase       op u64, phase u8, ts_ns u64
//!  20 OpFinished    op u64, success u8, realized_pnl i128, wall_ms u64, ts_ns u64
//!  21 InstHalt      inst u16, halted u8, ts_ns u64
//!  22 DriftHalt    venue u8, account u8, asset u16, expected i128, actual i128,
//!                   wall_ms u64: new entries on the venue halted because a wallet's balance
//!                   drifted from what the engine booked (expected and actual balances;
//!                   account 0 spot, 1 futures cash, 2 contracts: then `asset` is the
//!                   perpetual's instrument id and the balances are contracts)
//!  23 DriftAck      venue u8, wall_ms u64: an operator acknowledged the venue's drift
//!  24 RecoveryRefused op u64, leg u8, inst u16, wanted i64, allowed i64, why u8,
//!                   ts_ns u64: a recovery order clamped to (or refused beyond) the bounds
//!                   of its operation (why: 0 its own quantities, 1 the notional limit)
//!  25 DailyTotal    total i128, wall_ms u64: the day's P&L total (realized less fees plus
//!                   funding) after a change; a restart on the same trading day goes on
//!                   from it
//!  26 Funding       venue u8, amount i128, wall_ms u64: funding a venue booked on its
//!                   futures wallet (positive received)
//!  28 Breakers      tripped_ms u64 x5, daily_base i128, wall_ms u64: the risk gate's
//!                   circuit breakers after a change (the wall-clock time each open one
//!                   tripped, 0 for closed; the day's P&L an operator's reset accepted)
//!  29 KillSwitch    on u8, operator u8, wall_ms u64: the kill switch thrown (by an
//!                   operator, or by the engine on a fault) or lifted by an operator
//!  40 InstListed    inst u16, added u8, wall_ms u64: an instrument added to the table
//!                   (or traded again) while running, or removed (`arb ctl add-symbol`,
//!                   `remove-symbol`); its specification is in `instruments.json`
//! ```
//!
//! Amounts are [`Amount`] mantissas (10^-18), prices and quantities their instrument's
//! mantissas. A new layout of a record type gets a new version number ([`Record::version`]);
//! readers keep decoding every version they ever wrote.

use crate::msg::{
    ClientOrderId, Execution, Leg, MAX_LEGS, OppKind, Opportunity, OrderEvent, OrderUpdate, RejectReason,
    VenueOrderId,
};
use crate::types::{Amount, AssetId, InstrumentId, Price, Qty, Rate, Side, Venue};

use super::identity::ClientPrefix;

/// Bytes before the payload in a frame.
pub const FRAME_HEADER: usize = 18;
/// The largest payload any record has (an `OpStarted` is about 190 bytes).
pub const MAX_PAYLOAD: usize = 512;
/// Bytes of the file header.
pub const FILE_HEADER: usize = 16;
pub const MAGIC: [u8; 8] = *b"ARBJRNL\0";
pub const FORMAT_VERSION: u16 = 1;

/// Which writer a journal file belongs to. Two writers never share a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum JournalKind {
    /// The dispatch stage's write-ahead intent log: every order before it is sent.
    Dispatch = 1,
    /// The state stage's event log: what happened to operations and orders.
    State = 2,
}

impl JournalKind {
    pub const fn file_name(self) -> &'static str {
        match self {
            JournalKind::Dispatch => "dispatch.journal",
            JournalKind::State => "state.journal",
        }
    }

    /// The kind whose file `path` names, if it names one.
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        [JournalKind::Dispatch, JournalKind::State]
            .into_iter()
            .find(|k| path.file_name().is_some_and(|n| n == k.file_name()))
    }

    pub const fn name(self) -> &'static str {
        match self {
            JournalKind::Dispatch => "dispatch",
            JournalKind::State => "state",
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(JournalKind::Dispatch),
            2 => Some(JournalKind::State),
            _ => None,
        }
    }
}

/// Time in force of an order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimeInForce {
    /// Immediate or cancel: fill what the book offers now, cancel the rest.
    #[default]
    Ioc = 0,
    /// Fill or kill: fill completely now or not at all.
    Fok = 1,
}

/// The phase of an operation that the state stage tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpPhase {
    /// Entry orders are out.
    Executing = 0,
    /// Legs are mismatched; hedge or unwind orders are out or being chosen.
    Recovering = 1,
    /// Recovery gave up; the operation's instruments are halted until an operator acts.
    AwaitingOperator = 2,
    Completed = 3,
    Failed = 4,
}

impl OpPhase {
    pub const ALL: [OpPhase; 5] = [
        OpPhase::Executing,
        OpPhase::Recovering,
        OpPhase::AwaitingOperator,
        OpPhase::Completed,
        OpPhase::Failed,
    ];

    pub const fn from_u8(v: u8) -> Option<Self> {
        if (v as usize) < Self::ALL.len() { Some(Self::ALL[v as usize]) } else { None }
    }

    pub const fn name(self) -> &'static str {
        match self {
            OpPhase::Executing => "executing",
            OpPhase::Recovering => "recovering",
            OpPhase::AwaitingOperator => "awaiting_operator",
            OpPhase::Completed => "completed",
            OpPhase::Failed => "failed",
        }
    }

    pub const fn is_final(self) -> bool {
        matches!(self, OpPhase::Completed | OpPhase::Failed)
    }
}

/// What the engine knows about one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OrderState {
    /// Journaled and handed to the venue connection; no answer yet.
    Sent = 0,
    Accepted = 1,
    PartiallyFilled = 2,
    Filled = 3,
    /// Finished with the rest cancelled (an IOC that did not fill completely).
    Cancelled = 4,
    Rejected = 5,
    /// No answer we can trust: reconcile by query, never resend.
    Unknown = 6,
}

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        OrderState::Sent,
        OrderState::Accepted,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::Cancelled,
        OrderState::Rejected,
        OrderState::Unknown,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            OrderState::Sent => "sent",
            OrderState::Accepted => "accepted",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Cancelled => "cancelled",
            OrderState::Rejected => "rejected",
            OrderState::Unknown => "unknown",
        }
    }

    /// True once the order can no longer fill.
    pub const fn is_terminal(self) -> bool {
        matches!(self, OrderState::Filled | OrderState::Cancelled | OrderState::Rejected)
    }

    /// The state after `update`, given the order's quantity and its cumulative filled
    /// quantity after the update was applied. A terminal state stays terminal.
    pub fn after(self, update: &OrderUpdate, filled: Qty, qty: Qty) -> OrderState {
        let done = |filled: Qty| if filled >= qty { OrderState::Filled } else { OrderState::Cancelled };
        if self.is_terminal() {
            // A late fill can only turn a cancelled order into a filled one.
            return if self == OrderState::Cancelled && filled >= qty { OrderState::Filled } else { self };
        }
        match *update {
            OrderUpdate::Sent => self,
            OrderUpdate::Accepted => match self {
                OrderState::Sent | OrderState::Unknown => OrderState::Accepted,
                s => s,
            },
            OrderUpdate::Rejected(_) => {
                if filled.is_positive() {
                    OrderState::Cancelled
                } else {
                    OrderState::Rejected
                }
            }
            OrderUpdate::Fill { .. } => {
                if filled >= qty {
                    OrderState::Filled
                } else {
                    OrderState::PartiallyFilled
                }
            }
            OrderUpdate::Done { .. } => done(filled),
            OrderUpdate::Unknown => OrderState::Unknown,
            OrderUpdate::Status { open, .. } => {
                if !open {
                    done(filled)
                } else if filled.is_positive() {
                    OrderState::PartiallyFilled
                } else {
                    OrderState::Accepted
                }
            }
        }
    }
}

/// Record type codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RecordKind {
    OpIntent = 1,
    OrderIntent = 2,
    CancelIntent = 3,
    QueryIntent = 4,
    CancelAll = 5,
    BalanceQuery = 6,
    OpStarted = 16,
    OrderEvent = 17,
    FillApplied = 18,
    OpPhase = 19,
    OpFinished = 20,
    InstrumentHalt = 21,
    InstrumentListed = 40,
    Identity = 7,
    DriftHalt = 22,
    DriftAck = 23,
    RecoveryRefused = 24,
    DailyTotal = 25,
    Funding = 26,
    Breakers = 28,
    KillSwitch = 29,
}

impl RecordKind {
    pub const ALL: [RecordKind; 21] = [
        RecordKind::OpIntent,
        RecordKind::OrderIntent,
        RecordKind::CancelIntent,
        RecordKind::QueryIntent,
        RecordKind::CancelAll,
        RecordKind::BalanceQuery,
        RecordKind::OpStarted,
        RecordKind::OrderEvent,
        RecordKind::FillApplied,
        RecordKind::OpPhase,
        RecordKind::OpFinished,
        RecordKind::InstrumentHalt,
        RecordKind::InstrumentListed,
        RecordKind::Identity,
        RecordKind::DriftHalt,
        RecordKind::DriftAck,
        RecordKind::RecoveryRefused,
        RecordKind::DailyTotal,
        RecordKind::Funding,
        RecordKind::Breakers,
        RecordKind::KillSwitch,
    ];

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| *k as u8 == v)
    }

    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::OpIntent => "op_intent",
            RecordKind::OrderIntent => "order_intent",
            RecordKind::CancelIntent => "cancel_intent",
            RecordKind::QueryIntent => "query_intent",
            RecordKind::CancelAll => "cancel_all",
            RecordKind::BalanceQuery => "balance_query",
            RecordKind::OpStarted => "op_started",
            RecordKind::OrderEvent => "order_event",
            RecordKind::FillApplied => "fill_applied",
            RecordKind::OpPhase => "op_phase",
            RecordKind::OpFinished => "op_finished",
            RecordKind::InstrumentHalt => "instrument_halt",
            RecordKind::InstrumentListed => "instrument_listed",
            RecordKind::Identity => "identity",
            RecordKind::DriftHalt => "drift_halt",
            RecordKind::DriftAck => "drift_ack",
            RecordKind::RecoveryRefused => "recovery_refused",
            RecordKind::DailyTotal => "daily_total",
            RecordKind::Funding => "funding",
            RecordKind::Breakers => "breakers",
            RecordKind::KillSwitch => "kill_switch",
        }
    }

    /// The writer whose file holds this record type.
    pub const fn journal(self) -> JournalKind {
        if (self as u8) < 16 { JournalKind::Dispatch } else { JournalKind::State }
    }
}

/// A fill as the state stage applied it to positions: the new quantity only (fills seen
/// twice are applied once), its quote value, and its fee valued in the instrument's quote
/// asset (zero when charged in a third asset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillApplied {
    pub client: ClientOrderId,
    pub inst: InstrumentId,
    pub side: Side,
    pub qty: Qty,
    pub value: Amount,
    pub fee: Amount,
    pub ts_ns: u64,
    /// How the accounting valued it; `None` in records written before version 2.
    pub valuation: Option<FillValuation>,
}

/// What the accounting needs of a fill beyond its quantity and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillValuation {
    /// The fee in the asset charged.
    pub fee_native: Amount,
    pub fee_asset: AssetId,
    /// USD per unit of the instrument's quote asset, and of the fee asset when it is
    /// neither base nor quote, at the time of the fill.
    pub quote_usd: Amount,
    pub other_fee_usd: Amount,
}

/// One journal record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    OpIntent {
        op: u64,
        kind: OppKind,
        n_legs: u8,
        deadline_ns: u64,
        ts_ns: u64,
    },
    OrderIntent {
        client: ClientOrderId,
        leg: Leg,
        tif: TimeInForce,
        ts_ns: u64,
    },
    CancelIntent {
        client: ClientOrderId,
        inst: InstrumentId,
        ts_ns: u64,
    },
    QueryIntent {
        client: ClientOrderId,
        inst: InstrumentId,
        ts_ns: u64,
    },
    CancelAll {
        ts_ns: u64,
    },
    BalanceQuery {
        venue: Venue,
        ts_ns: u64,
    },
    OpStarted(Execution),
    OrderEvent(OrderEvent),
    FillApplied(FillApplied),
    OpPhase {
        op: u64,
        phase: OpPhase,
        ts_ns: u64,
    },
    OpFinished {
        op: u64,
        success: bool,
        realized_pnl: Amount,
        wall_ms: u64,
        ts_ns: u64,
    },
    InstrumentHalt {
        inst: InstrumentId,
        halted: bool,
        ts_ns: u64,
    },
    /// The instance's client order id prefix, written when the journal is created.
    Identity {
        prefix: ClientPrefix,
        wall_ms: u64,
    },
    /// The risk gate's circuit breakers after a change.
    Breakers(BreakerRecord),
    /// An instrument added to the table (or traded again) while running (`added`), or
    /// removed: a restart keeps its id and knows whether to trade it.
    InstrumentListed {
        inst: InstrumentId,
        added: bool,
        wall_ms: u64,
    },
    /// The kill switch thrown (`on`) or lifted by an operator: a restart finds it as it
    /// was, and only an operator lifts it.
    KillSwitch {
        on: bool,
        /// Thrown by an operator (`arb ctl kill`) rather than by the engine on a fault.
        operator: bool,
        wall_ms: u64,
    },
    /// New entries on `venue` halted: the wallet's balance at the venue drifted from the
    /// balance the engine's books expect, beyond the tolerance, check after check.
    DriftHalt {
        venue: Venue,
        /// 0 spot, 1 futures.
        account: u8,
        asset: AssetId,
        expected: Amount,
        actual: Amount,
        wall_ms: u64,
    },
    /// An operator acknowledged `venue`'s drift: its halt is lifted.
    DriftAck {
        venue: Venue,
        wall_ms: u64,
    },
    /// A recovery order beyond its operation's bounds: clamped to `allowed` (or refused
    /// when `allowed` is zero).
    RecoveryRefused {
        op: u64,
        leg: u8,
        inst: InstrumentId,
        wanted: Qty,
        allowed: Qty,
        /// 0: more than the operation's own quantities; 1: beyond the notional limit.
        why: u8,
        ts_ns: u64,
    },
    /// The day's P&L total after a change.
    DailyTotal {
        total: Amount,
        wall_ms: u64,
    },
    /// Funding a venue booked on its futures wallet (positive received).
    Funding {
        venue: Venue,
        amount: Amount,
        wall_ms: u64,
    },
}

/// How many circuit breakers a [`Record::Breakers`] holds.
pub const BREAKER_SLOTS: usize = 5;

/// The circuit breakers as the risk gate last changed them, journaled by the state stage
/// so that a restart (a crash loop included) finds them as they were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BreakerRecord {
    /// Per breaker (`risk::Breaker` order): the wall-clock time it tripped (ms since the
    /// epoch), 0 while closed.
    pub tripped_ms: [u64; BREAKER_SLOTS],
    /// The day's realized P&L an operator's reset accepted (the daily-loss limit counts
    /// from it).
    pub daily_base: Amount,
    /// When the change happened.
    pub wall_ms: u64,
}

/// The layout version of every record type that has only ever had one.
pub const RECORD_VERSION: u8 = 1;

impl Record {
    /// The layout version this record is written with.
    pub fn version(&self) -> u8 {
        match self {
            Record::FillApplied(f) if f.valuation.is_some() => 2,
            _ => RECORD_VERSION,
        }
    }

    pub fn kind(&self) -> RecordKind {
        match self {
            Record::OpIntent { .. } => RecordKind::OpIntent,
            Record::OrderIntent { .. } => RecordKind::OrderIntent,
            Record::CancelIntent { .. } => RecordKind::CancelIntent,
            Record::QueryIntent { .. } => RecordKind::QueryIntent,
            Record::CancelAll { .. } => RecordKind::CancelAll,
            Record::BalanceQuery { .. } => RecordKind::BalanceQuery,
            Record::OpStarted(_) => RecordKind::OpStarted,
            Record::OrderEvent(_) => RecordKind::OrderEvent,
            Record::FillApplied(_) => RecordKind::FillApplied,
            Record::OpPhase { .. } => RecordKind::OpPhase,
            Record::OpFinished { .. } => RecordKind::OpFinished,
            Record::InstrumentHalt { .. } => RecordKind::InstrumentHalt,
            Record::InstrumentListed { .. } => RecordKind::InstrumentListed,
            Record::Identity { .. } => RecordKind::Identity,
            Record::Breakers(_) => RecordKind::Breakers,
            Record::KillSwitch { .. } => RecordKind::KillSwitch,
            Record::DriftHalt { .. } => RecordKind::DriftHalt,
            Record::DriftAck { .. } => RecordKind::DriftAck,
            Record::RecoveryRefused { .. } => RecordKind::RecoveryRefused,
            Record::DailyTotal { .. } => RecordKind::DailyTotal,
            Record::Funding { .. } => RecordKind::Funding,
        }
    }

    /// The highest operation id this record names, if any.
    pub fn op(&self) -> Option<u64> {
        match self {
            Record::OpIntent { op, .. }
            | Record::OpPhase { op, .. }
            | Record::OpFinished { op, .. }
            | Record::RecoveryRefused { op, .. } => Some(*op),
            Record::OrderIntent { client, .. }
            | Record::CancelIntent { client, .. }
            | Record::QueryIntent { client, .. } => Some(client.op),
            Record::OpStarted(e) => Some(e.op()),
            Record::OrderEvent(e) => Some(e.client.op),
            Record::FillApplied(f) => Some(f.client.op),
            Record::CancelAll { .. }
            | Record::BalanceQuery { .. }
            | Record::InstrumentHalt { .. }
            | Record::InstrumentListed { .. }
            | Record::Identity { .. }
            | Record::Breakers(_)
            | Record::KillSwitch { .. }
            | Record::DriftHalt { .. }
            | Record::DriftAck { .. }
            | Record::DailyTotal { .. }
            | Record::Funding { .. } => None,
        }
    }

    /// Encodes the payload into `out`, returning its length; `None` if it does not fit.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Writer { buf: out, pos: 0, ok: true };
        match *self {
            Record::OpIntent { op, kind, n_legs, deadline_ns, ts_ns } => {
                w.u64(op);
                w.u8(kind as u8);
                w.u8(n_legs);
                w.u64(deadline_ns);
                w.u64(ts_ns);
            }
            Record::OrderIntent { client, leg, tif, ts_ns } => {
                w.client(client);
                w.leg(&leg);
                w.u8(tif as u8);
                w.u64(ts_ns);
            }
            Record::CancelIntent { client, inst, ts_ns } | Record::QueryIntent { client, inst, ts_ns } => {
                w.client(client);
                w.u16(inst.0);
                w.u64(ts_ns);
            }
            Record::CancelAll { ts_ns } => w.u64(ts_ns),
            Record::BalanceQuery { venue, ts_ns } => {
                w.u8(venue as u8);
                w.u64(ts_ns);
            }
            Record::OpStarted(ref e) => {
                w.u64(e.op());
                w.u64(e.opp().id);
                w.u8(e.opp().kind as u8);
                w.u8(e.opp().n_legs);
                for leg in &e.opp().legs {
                    w.leg(leg);
                }
                w.i128(e.opp().expected_profit.0);
                w.i64(e.opp().edge.0);
                w.i128(e.opp().notional.0);
                w.i64(e.opp().slippage.0);
                w.u64(e.opp().trigger_ns);
                w.u64(e.opp().oldest_ns);
                w.u64(e.opp().detected_ns);
                w.u64(e.approved_ns());
                w.u64(e.deadline_ns());
            }
            Record::OrderEvent(ref e) => {
                w.client(e.client);
                w.u16(e.inst.0);
                w.u8(e.side as u8);
                w.u64(e.ts_ns);
                let id = e.venue_order.as_str().as_bytes();
                w.u8(id.len() as u8);
                w.bytes(id);
                match e.update {
                    OrderUpdate::Sent => w.u8(0),
                    OrderUpdate::Accepted => w.u8(1),
                    OrderUpdate::Rejected(r) => {
                        w.u8(2);
                        w.u8(r as u8);
                    }
                    OrderUpdate::Fill { price, qty, cum_qty, fee, fee_asset, trade_id } => {
                        w.u8(3);
                        w.i64(price.0);
                        w.i64(qty.0);
                        w.i64(cum_qty.0);
                        w.i128(fee.0);
                        w.u16(fee_asset.0);
                        w.u64(trade_id);
                    }
                    OrderUpdate::Done { filled } => {
                        w.u8(4);
                        w.i64(filled.0);
                    }
                    OrderUpdate::Unknown => w.u8(5),
                    OrderUpdate::Status { filled, value, fee, fee_asset, open } => {
                        w.u8(6);
                        w.i64(filled.0);
                        w.i128(value.0);
                        w.i128(fee.0);
                        w.u16(fee_asset.0);
                        w.u8(open as u8);
                    }
                }
            }
            Record::FillApplied(ref f) => {
                w.client(f.client);
                w.u16(f.inst.0);
                w.u8(f.side as u8);
                w.i64(f.qty.0);
                w.i128(f.value.0);
                w.i128(f.fee.0);
                w.u64(f.ts_ns);
                if let Some(v) = f.valuation {
                    w.i128(v.fee_native.0);
                    w.u16(v.fee_asset.0);
                    w.i128(v.quote_usd.0);
                    w.i128(v.other_fee_usd.0);
                }
            }
            Record::OpPhase { op, phase, ts_ns } => {
                w.u64(op);
                w.u8(phase as u8);
                w.u64(ts_ns);
            }
            Record::OpFinished { op, success, realized_pnl, wall_ms, ts_ns } => {
                w.u64(op);
                w.u8(success as u8);
                w.i128(realized_pnl.0);
                w.u64(wall_ms);
                w.u64(ts_ns);
            }
            Record::InstrumentHalt { inst, halted, ts_ns } => {
                w.u16(inst.0);
                w.u8(halted as u8);
                w.u64(ts_ns);
            }
            Record::Identity { prefix, wall_ms } => {
                w.u8(prefix.as_bytes().len() as u8);
                w.bytes(prefix.as_bytes());
                w.u64(wall_ms);
            }
            Record::Breakers(b) => {
                for t in b.tripped_ms {
                    w.u64(t);
                }
                w.i128(b.daily_base.0);
                w.u64(b.wall_ms);
            }
            Record::InstrumentListed { inst, added, wall_ms } => {
                w.u16(inst.0);
                w.u8(added as u8);
                w.u64(wall_ms);
            }
            Record::KillSwitch { on, operator, wall_ms } => {
                w.u8(on as u8);
                w.u8(operator as u8);
                w.u64(wall_ms);
            }
            Record::DriftHalt { venue, account, asset, expected, actual, wall_ms } => {
                w.u8(venue as u8);
                w.u8(account);
                w.u16(asset.0);
                w.i128(expected.0);
                w.i128(actual.0);
                w.u64(wall_ms);
            }
            Record::DriftAck { venue, wall_ms } => {
                w.u8(venue as u8);
                w.u64(wall_ms);
            }
            Record::RecoveryRefused { op, leg, inst, wanted, allowed, why, ts_ns } => {
                w.u64(op);
                w.u8(leg);
                w.u16(inst.0);
                w.i64(wanted.0);
                w.i64(allowed.0);
                w.u8(why);
                w.u64(ts_ns);
            }
            Record::DailyTotal { total, wall_ms } => {
                w.i128(total.0);
                w.u64(wall_ms);
            }
            Record::Funding { venue, amount, wall_ms } => {
                w.u8(venue as u8);
                w.i128(amount.0);
                w.u64(wall_ms);
            }
        }
        if w.ok { Some(w.pos) } else { None }
    }

    /// Decodes a payload of `kind` at `version`. `None` when the type or version is
    /// unknown, a field is out of range, or the payload is short or has bytes left over.
    pub fn decode(kind: u8, version: u8, payload: &[u8]) -> Option<Record> {
        let kind = RecordKind::from_u8(kind)?;
        let known = match kind {
            RecordKind::FillApplied => version == 1 || version == 2,
            _ => version == RECORD_VERSION,
        };
        if !known {
            return None;
        }
        let mut r = Reader { buf: payload, pos: 0 };
        let rec = match kind {
            RecordKind::OpIntent => Record::OpIntent {
                op: r.u64()?,
                kind: OppKind::from_u8(r.u8()?)?,
                n_legs: r.n_legs()?,
                deadline_ns: r.u64()?,
                ts_ns: r.u64()?,
            },
            RecordKind::OrderIntent => Record::OrderIntent {
                client: r.client()?,
                leg: r.leg()?,
                tif: match r.u8()? {
                    0 => TimeInForce::Ioc,
                    1 => TimeInForce::Fok,
                    _ => return None,
                },
                ts_ns: r.u64()?,
            },
            RecordKind::CancelIntent => {
                Record::CancelIntent { client: r.client()?, inst: InstrumentId(r.u16()?), ts_ns: r.u64()? }
            }
            RecordKind::QueryIntent => {
                Record::QueryIntent { client: r.client()?, inst: InstrumentId(r.u16()?), ts_ns: r.u64()? }
            }
            RecordKind::CancelAll => Record::CancelAll { ts_ns: r.u64()? },
            RecordKind::BalanceQuery => Record::BalanceQuery { venue: r.venue()?, ts_ns: r.u64()? },
            RecordKind::OpStarted => {
                let op = r.u64()?;
                let id = r.u64()?;
                let kind = OppKind::from_u8(r.u8()?)?;
                let n_legs = r.n_legs()?;
                let mut legs = [Leg::default(); MAX_LEGS];
                for leg in &mut legs {
                    *leg = r.leg()?;
                }
                let opp = Opportunity {
                    id,
                    kind,
                    n_legs,
                    legs,
                    expected_profit: Amount(r.i128()?),
                    edge: Rate(r.i64()?),
                    notional: Amount(r.i128()?),
                    slippage: Rate(r.i64()?),
                    trigger_ns: r.u64()?,
                    oldest_ns: r.u64()?,
                    detected_ns: r.u64()?,
                };
                Record::OpStarted(Execution::new(op, opp, r.u64()?, r.u64()?))
            }
            RecordKind::OrderEvent => {
                let client = r.client()?;
                let inst = InstrumentId(r.u16()?);
                let side = r.side()?;
                let ts_ns = r.u64()?;
                let n = r.u8()? as usize;
                let id = std::str::from_utf8(r.bytes(n)?).ok()?;
                let venue_order = VenueOrderId::new(id)?;
                let update = match r.u8()? {
                    0 => OrderUpdate::Sent,
                    1 => OrderUpdate::Accepted,
                    2 => OrderUpdate::Rejected(RejectReason::from_u8(r.u8()?)?),
                    3 => OrderUpdate::Fill {
                        price: Price(r.i64()?),
                        qty: Qty(r.i64()?),
                        cum_qty: Qty(r.i64()?),
                        fee: Amount(r.i128()?),
                        fee_asset: AssetId(r.u16()?),
                        trade_id: r.u64()?,
                    },
                    4 => OrderUpdate::Done { filled: Qty(r.i64()?) },
                    5 => OrderUpdate::Unknown,
                    6 => OrderUpdate::Status {
                        filled: Qty(r.i64()?),
                        value: Amount(r.i128()?),
                        fee: Amount(r.i128()?),
                        fee_asset: AssetId(r.u16()?),
                        open: r.bool()?,
                    },
                    _ => return None,
                };
                Record::OrderEvent(OrderEvent { client, inst, side, update, venue_order, ts_ns })
            }
            RecordKind::FillApplied => Record::FillApplied(FillApplied {
                client: r.client()?,
                inst: InstrumentId(r.u16()?),
                side: r.side()?,
                qty: Qty(r.i64()?),
                value: Amount(r.i128()?),
                fee: Amount(r.i128()?),
                ts_ns: r.u64()?,
                valuation: if version == 2 {
                    Some(FillValuation {
                        fee_native: Amount(r.i128()?),
                        fee_asset: AssetId(r.u16()?),
                        quote_usd: Amount(r.i128()?),
                        other_fee_usd: Amount(r.i128()?),
                    })
                } else {
                    None
                },
            }),
            RecordKind::OpPhase => {
                Record::OpPhase { op: r.u64()?, phase: OpPhase::from_u8(r.u8()?)?, ts_ns: r.u64()? }
            }
            RecordKind::OpFinished => Record::OpFinished {
                op: r.u64()?,
                success: r.bool()?,
                realized_pnl: Amount(r.i128()?),
                wall_ms: r.u64()?,
                ts_ns: r.u64()?,
            },
            RecordKind::InstrumentHalt => {
                Record::InstrumentHalt { inst: InstrumentId(r.u16()?), halted: r.bool()?, ts_ns: r.u64()? }
            }
            RecordKind::Identity => {
                let n = r.u8()? as usize;
                let prefix = ClientPrefix::new(std::str::from_utf8(r.bytes(n)?).ok()?)?;
                Record::Identity { prefix, wall_ms: r.u64()? }
            }
            RecordKind::Breakers => {
                let mut tripped_ms = [0; BREAKER_SLOTS];
                for t in &mut tripped_ms {
                    *t = r.u64()?;
                }
                Record::Breakers(BreakerRecord {
                    tripped_ms,
                    daily_base: Amount(r.i128()?),
                    wall_ms: r.u64()?,
                })
            }
            RecordKind::InstrumentListed => {
                Record::InstrumentListed { inst: InstrumentId(r.u16()?), added: r.bool()?, wall_ms: r.u64()? }
            }
            RecordKind::KillSwitch => {
                Record::KillSwitch { on: r.bool()?, operator: r.bool()?, wall_ms: r.u64()? }
            }
            RecordKind::DriftHalt => Record::DriftHalt {
                venue: r.venue()?,
                account: r.u8()?,
                asset: AssetId(r.u16()?),
                expected: Amount(r.i128()?),
                actual: Amount(r.i128()?),
                wall_ms: r.u64()?,
            },
            RecordKind::DriftAck => Record::DriftAck { venue: r.venue()?, wall_ms: r.u64()? },
            RecordKind::RecoveryRefused => Record::RecoveryRefused {
                op: r.u64()?,
                leg: r.u8()?,
                inst: InstrumentId(r.u16()?),
                wanted: Qty(r.i64()?),
                allowed: Qty(r.i64()?),
                why: r.u8()?,
                ts_ns: r.u64()?,
            },
            RecordKind::DailyTotal => Record::DailyTotal { total: Amount(r.i128()?), wall_ms: r.u64()? },
            RecordKind::Funding => {
                Record::Funding { venue: r.venue()?, amount: Amount(r.i128()?), wall_ms: r.u64()? }
            }
        };
        if r.pos != payload.len() {
            return None;
        }
        Some(rec)
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    ok: bool,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.pos += b.len();
            }
            None => self.ok = false,
        }
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i128(&mut self, v: i128) {
        self.bytes(&v.to_le_bytes());
    }
    fn client(&mut self, c: ClientOrderId) {
        self.u64(c.op);
        self.u8(c.leg);
        self.u8(c.attempt);
    }
    fn leg(&mut self, l: &Leg) {
        self.u16(l.inst.0);
        self.u8(l.side as u8);
        self.i64(l.price.0);
        self.i64(l.qty.0);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }
    fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn side(&mut self) -> Option<Side> {
        match self.u8()? {
            0 => Some(Side::Buy),
            1 => Some(Side::Sell),
            _ => None,
        }
    }
    fn venue(&mut self) -> Option<Venue> {
        Venue::ALL.get(self.u8()? as usize).copied()
    }
    fn n_legs(&mut self) -> Option<u8> {
        let n = self.u8()?;
        (n as usize <= MAX_LEGS).then_some(n)
    }
    fn client(&mut self) -> Option<ClientOrderId> {
        Some(ClientOrderId { op: self.u64()?, leg: self.u8()?, attempt: self.u8()? })
    }
    fn leg(&mut self) -> Option<Leg> {
        Some(Leg {
            inst: InstrumentId(self.u16()?),
            side: self.side()?,
            price: Price(self.i64()?),
            qty: Qty(self.i64()?),
        })
    }
}

/// Writes a whole frame (header and payload) for `rec` at sequence `seq` into `out`,
/// returning its length; `None` if `out` is too small.
pub fn encode_frame(seq: u64, rec: &Record, out: &mut [u8]) -> Option<usize> {
    if out.len() < FRAME_HEADER {
        return None;
    }
    let (head, body) = out.split_at_mut(FRAME_HEADER);
    let body_len = body.len().min(MAX_PAYLOAD);
    let len = rec.encode(&mut body[..body_len])?;
    head[8..16].copy_from_slice(&seq.to_le_bytes());
    head[16] = rec.kind() as u8;
    head[17] = rec.version();
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..FRAME_HEADER]);
    h.update(&body[..len]);
    let crc = h.finalize();
    head[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    head[4..8].copy_from_slice(&crc.to_le_bytes());
    Some(FRAME_HEADER + len)
}

/// The file header for a journal of `kind`.
pub fn file_header(kind: JournalKind) -> [u8; FILE_HEADER] {
    let mut h = [0u8; FILE_HEADER];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[10] = kind as u8;
    h
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_exec(op: u64) -> Execution {
        let leg = |i: u16, side, p, q| Leg { inst: InstrumentId(i), side, price: Price(p), qty: Qty(q) };
        Execution::new(
            op,
            Opportunity {
                id: 77,
                kind: OppKind::Triangular,
                n_legs: 3,
                legs: [
                    leg(0, Side::Buy, 5_000_000, 12),
                    leg(1, Side::Buy, -3, 7),
                    leg(2, Side::Sell, 9, i64::MAX),
                ],
                expected_profit: Amount(-1234567890123456789012345),
                edge: Rate(42),
                notional: Amount(10i128.pow(30)),
                slippage: Rate(7),
                trigger_ns: 1,
                oldest_ns: 2,
                detected_ns: 3,
            },
            4,
            u64::MAX,
        )
    }

    pub(crate) fn every_record() -> Vec<Record> {
        let client = ClientOrderId { op: 9, leg: 1, attempt: 2 };
        let ev = |update| {
            Record::OrderEvent(OrderEvent {
                client,
                inst: InstrumentId(3),
                side: Side::Sell,
                update,
                venue_order: VenueOrderId::new("C02__505912345678").unwrap(),
                ts_ns: 55,
            })
        };
        vec![
            Record::OpIntent { op: 9, kind: OppKind::Basis, n_legs: 2, deadline_ns: 10, ts_ns: 11 },
            Record::OrderIntent {
                client,
                leg: Leg { inst: InstrumentId(3), side: Side::Sell, price: Price(100), qty: Qty(5) },
                tif: TimeInForce::Fok,
                ts_ns: 12,
            },
            Record::CancelIntent { client, inst: InstrumentId(3), ts_ns: 13 },
            Record::QueryIntent { client, inst: InstrumentId(3), ts_ns: 14 },
            Record::CancelAll { ts_ns: 15 },
            Record::BalanceQuery { venue: Venue::Mexc, ts_ns: 16 },
            Record::OpStarted(sample_exec(9)),
            ev(OrderUpdate::Sent),
            ev(OrderUpdate::Accepted),
            ev(OrderUpdate::Rejected(RejectReason::Disconnected)),
            ev(OrderUpdate::Fill {
                price: Price(101),
                qty: Qty(2),
                cum_qty: Qty(4),
                fee: Amount(-5),
                fee_asset: AssetId(1),
                trade_id: 99,
            }),
            ev(OrderUpdate::Done { filled: Qty(4) }),
            ev(OrderUpdate::Unknown),
            ev(OrderUpdate::Status {
                filled: Qty(4),
                value: Amount(404),
                fee: Amount(1),
                fee_asset: AssetId(0),
                open: true,
            }),
            Record::FillApplied(FillApplied {
                client,
                inst: InstrumentId(3),
                side: Side::Buy,
                qty: Qty(2),
                value: Amount(202),
                fee: Amount(1),
                ts_ns: 17,
                valuation: Some(FillValuation {
                    fee_native: Amount(-3),
                    fee_asset: AssetId(2),
                    quote_usd: Amount(4),
                    other_fee_usd: Amount(5),
                }),
            }),
            // As written before version 2.
            Record::FillApplied(FillApplied {
                client,
                inst: InstrumentId(3),
                side: Side::Sell,
                qty: Qty(2),
                value: Amount(202),
                fee: Amount(1),
                ts_ns: 17,
                valuation: None,
            }),
            Record::OpPhase { op: 9, phase: OpPhase::AwaitingOperator, ts_ns: 18 },
            Record::OpFinished { op: 9, success: false, realized_pnl: Amount(-77), wall_ms: 19, ts_ns: 20 },
            Record::InstrumentHalt { inst: InstrumentId(3), halted: true, ts_ns: 21 },
            Record::Identity { prefix: ClientPrefix::new("kqzvme").unwrap(), wall_ms: 22 },
            Record::Breakers(BreakerRecord {
                tripped_ms: [23, 0, 0, 24, 0],
                daily_base: Amount(-25),
                wall_ms: 26,
            }),
            Record::KillSwitch { on: true, operator: false, wall_ms: 27 },
            Record::DriftHalt {
                venue: Venue::GateIo,
                account: 1,
                asset: AssetId(2),
                expected: Amount(28),
                actual: Amount(-29),
                wall_ms: 30,
            },
            Record::DriftAck { venue: Venue::Mexc, wall_ms: 31 },
            Record::RecoveryRefused {
                op: 32,
                leg: 1,
                inst: InstrumentId(3),
                wanted: Qty(33),
                allowed: Qty(0),
                why: 1,
                ts_ns: 34,
            },
            Record::DailyTotal { total: Amount(-35), wall_ms: 36 },
            Record::Funding { venue: Venue::GateIo, amount: Amount(-37), wall_ms: 38 },
            Record::InstrumentListed { inst: InstrumentId(40), added: true, wall_ms: 28 },
        ]
    }

    #[test]
    fn every_record_type_round_trips() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let all = every_record();
        let kinds: std::collections::HashSet<_> = all.iter().map(|r| r.kind()).collect();
        assert_eq!(kinds.len(), RecordKind::ALL.len(), "the sample covers every record type");
        for rec in all {
            let n = rec.encode(&mut buf).unwrap();
            let v = rec.version();
            assert_eq!(Record::decode(rec.kind() as u8, v, &buf[..n]), Some(rec), "{rec:?}");
            // Short, long and wrong-version payloads are refused, never misread.
            assert_eq!(Record::decode(rec.kind() as u8, v, &buf[..n - 1]), None);
            assert_eq!(Record::decode(rec.kind() as u8, v, &buf[..n + 1]), None);
            assert_eq!(Record::decode(rec.kind() as u8, v + 1, &buf[..n]), None);
        }
    }

    #[test]
    fn the_layout_is_little_endian_and_explicit() {
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = Record::CancelAll { ts_ns: 0x0102 }.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[2, 1, 0, 0, 0, 0, 0, 0]);
        let mut frame = [0u8; 64];
        let n = encode_frame(7, &Record::CancelAll { ts_ns: 0x0102 }, &mut frame).unwrap();
        assert_eq!(n, FRAME_HEADER + 8);
        assert_eq!(&frame[0..4], &8u32.to_le_bytes());
        assert_eq!(&frame[8..16], &7u64.to_le_bytes());
        assert_eq!(frame[16], RecordKind::CancelAll as u8);
        let crc = crc32fast::hash(&frame[8..n]);
        assert_eq!(&frame[4..8], &crc.to_le_bytes());
    }

    #[test]
    fn a_too_small_buffer_is_refused() {
        let mut buf = [0u8; 10];
        assert_eq!(Record::OpStarted(sample_exec(1)).encode(&mut buf), None);
    }
}
