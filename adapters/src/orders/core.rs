//! What every venue's order entry shares: the instruments, the clock, the order
//! tracker, the notices kept for a cold thread, the refusal windows (rate limits, trading
//! disabled), the futures account view, and this instance's client id prefix with the
//! foreign activity it separates out (orders and fills on the account that this
//! instance did not send, reported once each, never adopted). Venue rooms write into
//! it; the sink reads it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use pipeline::journal::ClientPrefix;
use pipeline::msg::{BalanceEvent, Foreign, RejectReason, StateInput, VenueOrderId};
use pipeline::types::{Amount, AssetId, InstrumentId, Instruments, Market, Price, Qty, Side, Venue};
use quanta::Clock;

use super::discover::Discovery;
use super::track::Tracker;
use super::wire;
use crate::net::http::HttpSetupError;
use crate::net::ws::WsError;

/// Why the sink could not be built or made ready.
#[derive(Debug, thiserror::Error)]
pub enum OrderEntryError {
    #[error("order entry: {0}")]
    Config(String),
    #[error("order entry: no credentials for {0}")]
    MissingCredentials(Venue),
    #[error("order entry: {0}")]
    Http(#[from] HttpSetupError),
    #[error("order entry: {0}")]
    Ws(#[from] WsError),
    #[error("order entry: {0}")]
    Io(#[from] std::io::Error),
    #[error("order entry not ready after {after:?}: {what}")]
    NotReady { after: Duration, what: String },
    #[error("cannot list our orders on the venues (within {after:?}): {what}")]
    Discovery { after: Duration, what: String },
}
/// A venue's refusal or a private stream's trouble, kept for a cold thread to log.
#[derive(Clone, Copy)]
pub struct VenueNotice {
    pub venue: Venue,
    pub market: Market,
    pub reason: RejectReason,
    /// The venue's numeric code or HTTP status (0 when none).
    pub code: i64,
    text: [u8; 120],
    len: u8,
}

impl VenueNotice {
    /// The venue's label and message (cut at 120 bytes).
    pub fn text(&self) -> &str {
        let b = &self.text[..usize::from(self.len)];
        match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl std::fmt::Debug for VenueNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ({}): {}", self.venue, self.market, self.reason.name(), self.code, self.text())
    }
}

const NOTICES: usize = 64;

/// Timings in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub request_timeout_ms: u64,
    pub grace_ns: u64,
    pub settle_ns: u64,
    pub not_found_grace_ns: u64,
    pub keepalive_ns: u64,
    pub backoff_ns: u64,
    pub disabled_ns: u64,
}

/// What every venue module shares: instruments, clock, order tracker, notices, the
/// refusal windows and the futures account view.
#[derive(Debug)]
pub(crate) struct Core {
    pub instruments: Arc<Instruments>,
    pub clock: Clock,
    pub tracker: Tracker,
    pub timing: Timing,
    /// Our orders as the venues list them (a restart's discovery; empty otherwise).
    pub discovery: Discovery,
    notices: VecDeque<VenueNotice>,
    /// Per venue and market: refuse orders until (ns).
    blocked_until: [[u64; 2]; Venue::COUNT],
    disabled_until: [[u64; 2]; Venue::COUNT],
    futures_balances: [Option<(Amount, Option<Amount>)>; Venue::COUNT],
    /// Per venue: the newest funding record id already reported, and when this engine
    /// started (Unix ms): records settled before it are not this run's.
    funding_seen: [u64; Venue::COUNT],
    pub started_unix_ms: u64,
    positions: Vec<Option<Qty>>,
    /// This instance's client id prefix (empty until the engine sets it).
    pub prefix: ClientPrefix,
    /// Keys of the foreign orders and trades reported lately (a ring), so that each is
    /// reported once.
    foreign_seen: [u64; FOREIGN_SEEN],
    foreign_next: usize,
}

/// Foreign orders and trades remembered for deduplication.
const FOREIGN_SEEN: usize = 256;

/// A foreign order or fill as a venue room reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForeignReport<'a> {
    pub venue: Venue,
    pub market: Market,
    pub symbol: &'a str,
    pub side: Side,
    /// A fill (one trade), or an order report.
    pub fill: bool,
    pub price: Price,
    pub qty: Qty,
    pub fee: Amount,
    pub fee_asset: AssetId,
    /// The client id text as the venue shows it.
    pub client: &'a [u8],
    pub order_id: &'a [u8],
    /// The trade's id (fills), 0 when none.
    pub trade_id: u64,
}

fn key_of(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|p| p.iter().chain(std::iter::once(&0xffu8)))
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The asset id of fees in an asset no instrument trades (exchange points).
pub(crate) const OTHER_ASSET: AssetId = AssetId(u16::MAX);

impl Core {
    pub fn new(instruments: Arc<Instruments>, clock: Clock, timing: Timing) -> Self {
        Core {
            tracker: Tracker::new(instruments.clone()),
            timing,
            discovery: Discovery::default(),
            notices: VecDeque::with_capacity(NOTICES),
            blocked_until: [[0; 2]; Venue::COUNT],
            disabled_until: [[0; 2]; Venue::COUNT],
            futures_balances: [None; Venue::COUNT],
            funding_seen: [0; Venue::COUNT],
            started_unix_ms: crate::orders::wire::wall_ms(),
            positions: vec![None; instruments.capacity()],
            prefix: ClientPrefix::LEGACY,
            foreign_seen: [0; FOREIGN_SEEN],
            foreign_next: 0,
            instruments,
            clock,
        }
    }

    /// Reports an order or fill on the account that this instance did not send, once:
    /// a fill by its trade id (or order id and quantity), an order by its venue id. It
    /// goes to the state stage as [`StateInput::Foreign`], never to the order tracker.
    pub fn foreign(&mut self, r: &ForeignReport<'_>) {
        let Some(inst) = self.instruments.find(r.venue, r.market, r.symbol) else { return };
        let kind: &[u8] = if r.fill { b"fill" } else { b"order" };
        let venue = [r.venue as u8, r.market as u8];
        let key = if r.fill && r.trade_id != 0 {
            key_of(&[&venue, kind, &r.trade_id.to_le_bytes()])
        } else if r.fill {
            key_of(&[&venue, kind, r.order_id, &r.qty.0.to_le_bytes(), &r.price.0.to_le_bytes()])
        } else {
            key_of(&[&venue, kind, r.order_id])
        };
        if self.foreign_seen.contains(&key) {
            return;
        }
        self.foreign_seen[self.foreign_next] = key;
        self.foreign_next = (self.foreign_next + 1) % FOREIGN_SEEN;
        let text = |b: &[u8]| {
            let b = &b[..b.len().min(47)];
            std::str::from_utf8(b).ok().and_then(VenueOrderId::new).unwrap_or_default()
        };
        self.tracker.out.push_back(StateInput::Foreign(Foreign {
            venue: r.venue,
            inst,
            side: r.side,
            fill: r.fill,
            price: r.price,
            qty: r.qty,
            fee: r.fee,
            fee_asset: r.fee_asset,
            client_text: text(r.client),
            venue_order: text(r.order_id),
            ts_ns: self.now_ns(),
        }));
    }

    pub fn now_ns(&self) -> u64 {
        pipeline::clock::now_ns(&self.clock)
    }

    /// The asset called `name` (any case), without allocating (`Instruments::find_asset`
    /// upper-cases into a new string).
    pub fn asset(&self, name: &[u8]) -> AssetId {
        (0..self.instruments.asset_count())
            .map(|i| AssetId(i as u16))
            .find(|&a| self.instruments.asset_name(a).as_bytes().eq_ignore_ascii_case(name))
            .unwrap_or(OTHER_ASSET)
    }

    /// A spot balance report; assets no instrument trades are left out.
    pub fn balance(&mut self, venue: Venue, asset: &[u8], available: &[u8], locked: &[u8], ts: u64) {
        let a = self.asset(asset);
        if a == OTHER_ASSET {
            return;
        }
        let (Some(available), locked) = (wire::parse_amount(available), wire::parse_amount(locked)) else {
            return;
        };
        self.tracker.out.push_back(StateInput::Balance(BalanceEvent {
            venue,
            asset: a,
            available,
            locked: locked.unwrap_or(Amount::ZERO),
            ts_ns: ts,
        }));
    }

    pub fn futures_balance(&mut self, venue: Venue, total: Option<Amount>, available: Option<Amount>) {
        if let Some(t) = total {
            let prev = self.futures_balances[venue.index()].and_then(|b| b.1);
            self.futures_balances[venue.index()] = Some((t, available.or(prev)));
            self.futures_wallet(venue, Some(t), available, Amount::ZERO);
        }
    }

    /// A funding payment the venue booked on the futures wallet (positive received),
    /// with the balance after it.
    pub fn funding(&mut self, venue: Venue, change: Option<Amount>, balance: Option<Amount>) {
        let Some(change) = change else { return };
        if let Some(b) = balance {
            let prev = self.futures_balances[venue.index()].and_then(|b| b.1);
            self.futures_balances[venue.index()] = Some((b, prev));
        }
        self.futures_wallet(venue, balance, None, change);
    }

    /// A funding record from a venue's funding history (`id` increasing): reported once,
    /// and only if it settled after this engine started. Returns the newest id seen
    /// before this answer, for the caller to pass to every record of one answer.
    pub fn funding_record(
        &mut self,
        venue: Venue,
        seen_before: u64,
        id: u64,
        settled_ms: u64,
        change: Option<Amount>,
    ) {
        if id <= seen_before || settled_ms < self.started_unix_ms {
            self.funding_seen[venue.index()] = self.funding_seen[venue.index()].max(id);
            return;
        }
        self.funding_seen[venue.index()] = self.funding_seen[venue.index()].max(id);
        self.funding(venue, change, None);
    }

    /// The newest funding record id reported on `venue`.
    pub fn funding_seen(&self, venue: Venue) -> u64 {
        self.funding_seen[venue.index()]
    }

    fn futures_wallet(
        &mut self,
        venue: Venue,
        balance: Option<Amount>,
        available: Option<Amount>,
        funding: Amount,
    ) {
        let ts_ns = self.now_ns();
        self.tracker.out.push_back(StateInput::FuturesWallet(pipeline::msg::FuturesWalletEvent {
            venue,
            balance,
            available,
            funding,
            ts_ns,
        }));
    }

    /// A perpetual's position as the venue reported it (contracts, signed): kept, and
    /// passed on for reconciliation.
    pub fn futures_position(&mut self, inst: InstrumentId, qty: Qty) {
        if let Some(p) = self.positions.get_mut(inst.index()) {
            *p = Some(qty);
            let ts_ns = self.now_ns();
            self.tracker.out.push_back(StateInput::FuturesPosition(pipeline::msg::FuturesPositionEvent {
                inst,
                contracts: qty,
                ts_ns,
            }));
        }
    }

    /// Refuses new orders on `venue`/`market` for `retry_after` (or the default backoff).
    pub fn block(&mut self, venue: Venue, market: Market, retry_after: Option<Duration>) {
        let d = retry_after.map_or(self.timing.backoff_ns, |d| d.as_nanos() as u64);
        let until = self.now_ns().saturating_add(d);
        let b = &mut self.blocked_until[venue.index()][market as usize];
        *b = (*b).max(until);
    }

    pub fn disable(&mut self, venue: Venue, market: Market) {
        self.disabled_until[venue.index()][market as usize] =
            self.now_ns().saturating_add(self.timing.disabled_ns);
    }

    /// Keeps a notice; the oldest goes when the ring is full.
    pub fn notice_parts(
        &mut self,
        venue: Venue,
        market: Market,
        reason: RejectReason,
        code: i64,
        label: &[u8],
        message: &[u8],
    ) {
        let mut n = VenueNotice { venue, market, reason, code, text: [0; 120], len: 0 };
        let mut at = 0;
        for part in [label, if label.is_empty() || message.is_empty() { b"" } else { b": " }, message] {
            let take = part.len().min(n.text.len() - at);
            n.text[at..at + take].copy_from_slice(&part[..take]);
            at += take;
        }
        n.len = at as u8;
        if self.notices.len() == NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(n);
    }

    pub fn notice_text(&mut self, venue: Venue, market: Market, reason: RejectReason, code: i64, text: &str) {
        self.notice_parts(venue, market, reason, code, b"", text.as_bytes());
    }

    /// Why an order to `venue`/`market` must not be sent now, if it must not. The end of
    /// a trading-disabled window lets one order through to probe whether trading is back.
    pub fn refusal(&mut self, venue: Venue, market: Market) -> Option<RejectReason> {
        let now = self.now_ns();
        if now < self.blocked_until[venue.index()][market as usize] {
            return Some(RejectReason::RateLimited);
        }
        let disabled = &mut self.disabled_until[venue.index()][market as usize];
        if now < *disabled {
            return Some(RejectReason::TradingDisabled);
        }
        *disabled = 0;
        None
    }

    /// The oldest kept notice.
    pub fn pop_notice(&mut self) -> Option<VenueNotice> {
        self.notices.pop_front()
    }

    pub fn notices(&self) -> impl Iterator<Item = &VenueNotice> {
        self.notices.iter()
    }

    /// The futures account's balance on `venue` (total, and available when the venue
    /// said), as last reported.
    pub fn futures_balance_of(&self, venue: Venue) -> Option<(Amount, Option<Amount>)> {
        self.futures_balances[venue.index()]
    }

    /// The futures position of `inst` in contracts (signed), as last reported.
    pub fn futures_position_of(&self, inst: InstrumentId) -> Option<Qty> {
        self.positions.get(inst.index()).copied().flatten()
    }
}

/// For fuzzing and tests (feature `fuzzing`): a core on a mock clock with a stream grace,
/// settle and not-found windows of a few milliseconds, and one order of this process open
/// on each of `venue`'s first spot and futures instruments (client ids `1-0-0`, `2-0-0`,
/// ...), as if it had sent them. Returns the tracker slots of those orders.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_core(
    instruments: Arc<Instruments>,
    venue: Venue,
) -> (Core, Arc<quanta::Mock>, Vec<usize>) {
    use pipeline::dispatch::OrderRequest;
    use pipeline::journal::TimeInForce;
    use pipeline::msg::ClientOrderId;
    use pipeline::types::{Price, Side};

    let ms = 1_000_000;
    let timing = Timing {
        request_timeout_ms: 1_000,
        grace_ns: 20 * ms,
        settle_ns: 50 * ms,
        not_found_grace_ns: 30 * ms,
        keepalive_ns: 1_000 * ms,
        backoff_ns: 100 * ms,
        disabled_ns: 1_000 * ms,
    };
    let (clock, mock) = Clock::mock();
    let mut core = Core::new(instruments.clone(), clock, timing);
    let mut slots = Vec::new();
    for (n, market) in [Market::Spot, Market::Futures, Market::Spot].into_iter().enumerate() {
        let Some(inst) = instruments.iter().find(|i| i.venue == venue && i.market == market) else {
            continue;
        };
        let req = OrderRequest {
            client: ClientOrderId { op: n as u64 + 1, leg: 0, attempt: 0 },
            inst: inst.id,
            venue,
            market,
            side: if n == 1 { Side::Sell } else { Side::Buy },
            price: Price(inst.tick.0.saturating_mul(100_000)),
            qty: Qty(inst.lot.0.saturating_mul(10)),
            tif: if n == 2 { TimeInForce::Fok } else { TimeInForce::Ioc },
            ts_ns: 0,
        };
        slots.push(core.tracker.open(&req, 0));
    }
    (core, mock, slots)
}

#[cfg(feature = "fuzzing")]
impl Core {
    /// Moves the mock clock on by `ms` and releases the estimates held back that are due
    /// (all of them with `force`); the queries due are dropped.
    pub(crate) fn fuzz_advance(&mut self, mock: &quanta::Mock, ms: u64, force: bool) {
        mock.increment(ms.saturating_mul(1_000_000));
        let now = self.now_ns();
        self.tracker.tick(now, force, &mut |_, _| {});
    }

    /// Moves what the tracker emitted into `out`; the notices are dropped.
    pub(crate) fn fuzz_drain(&mut self, out: &mut Vec<StateInput>) {
        out.extend(self.tracker.out.drain(..));
        while self.pop_notice().is_some() {}
    }
}

/// A core for the venue modules' unit tests (no grace, no windows).
#[cfg(test)]
pub(crate) fn test_core(instruments: Arc<Instruments>) -> Core {
    let zero = Timing {
        request_timeout_ms: 1,
        grace_ns: 0,
        settle_ns: 0,
        not_found_grace_ns: 0,
        keepalive_ns: 0,
        backoff_ns: 0,
        disabled_ns: 0,
    };
    Core::new(instruments, Clock::new(), zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_keep_label_and_message() {
        let u = pipeline::testkit::universe();
        let mut core = test_core(u.instruments.clone());
        core.notice_parts(
            Venue::Mexc,
            Market::Futures,
            RejectReason::TradingDisabled,
            1002,
            b"",
            b"Contract not allow place order!",
        );
        core.notice_parts(
            Venue::GateIo,
            Market::Spot,
            RejectReason::Auth,
            401,
            b"INVALID_KEY",
            b"Invalid key provided",
        );
        let n: Vec<String> = core.notices.iter().map(|n| format!("{n:?}")).collect();
        assert_eq!(n[0], "mexc futures trading_disabled (1002): Contract not allow place order!");
        assert_eq!(n[1], "gateio spot auth (401): INVALID_KEY: Invalid key provided");
    }
}
