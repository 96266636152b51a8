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
    /// Keys of the funding entries booked lately (a ring, every venue), for a venue that
    /// reports one entry both as a push and in its history: booked once.
    funding_keys: [u64; FUNDING_KEYS],
    funding_keys_next: usize,
    positions: Vec<Option<Qty>>,
    /// This instance's client id prefix (empty until the engine sets it).
    pub prefix: ClientPrefix,
    /// Keys of the foreign orders and trades reported lately (a ring), so that each is
    /// reported once.
    foreign_seen: [u64; FOREIGN_SEEN],
    foreign_next: usize,
    /// Per venue and market: orders placed over a WebSocket trading API (the rest went
    /// over REST).
    pub sent_over_ws: [[u64; 2]; Venue::COUNT],
}

/// Foreign orders and trades remembered for deduplication.
const FOREIGN_SEEN: usize = 256;

/// Funding entries remembered for deduplication: far more than settle between two reads
/// of a venue's funding history (a few per contract and interval).
const FUNDING_KEYS: usize = 64;

/// One funding entry of a venue's account book as both its push and its history show it:
/// when it settled, the amount, and the balance after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FundingEntry {
    /// When it settled (Unix ms; the deduplication compares whole seconds, the precision
    /// every report of it has).
    pub time_ms: u64,
    pub change: Amount,
    pub balance: Amount,
}

impl FundingEntry {
    /// Reads `time` (Unix seconds, whole or with a fraction: milliseconds are kept),
    /// `change` and `balance` as the venue wrote them; `None` when one is missing or
    /// malformed.
    pub fn parse(time: &[u8], change: &[u8], balance: &[u8]) -> Option<Self> {
        let mut parts = time.splitn(2, |&b| b == b'.');
        let digits = |b: &[u8]| -> Option<u64> {
            if b.is_empty() || b.len() > 12 || !b.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(b).ok()?.parse().ok()
        };
        let secs = digits(parts.next()?)?;
        let ms = match parts.next() {
            Some(f) if !f.is_empty() => {
                let f = &f[..f.len().min(3)];
                digits(f)? * 10u64.pow(3 - f.len() as u32)
            }
            _ => 0,
        };
        Some(FundingEntry {
            time_ms: secs * 1000 + ms,
            change: wire::parse_amount(change)?,
            balance: wire::parse_amount(balance)?,
        })
    }

    fn key(&self, venue: Venue) -> u64 {
        key_of(&[
            &[venue as u8],
            &(self.time_ms / 1000).to_le_bytes(),
            &self.change.0.to_le_bytes(),
            &self.balance.0.to_le_bytes(),
        ])
    }
}

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
        let mut tracker = Tracker::new(instruments.clone());
        // Not faster than a request may take to be answered.
        tracker.requery_own_every(timing.settle_ns.max(timing.request_timeout_ms.saturating_mul(1_000_000)));
        Core {
            tracker,
            timing,
            discovery: Discovery::default(),
            notices: VecDeque::with_capacity(NOTICES),
            blocked_until: [[0; 2]; Venue::COUNT],
            disabled_until: [[0; 2]; Venue::COUNT],
            futures_balances: [None; Venue::COUNT],
            funding_seen: [0; Venue::COUNT],
            started_unix_ms: crate::orders::wire::wall_ms(),
            funding_keys: [0; FUNDING_KEYS],
            funding_keys_next: 0,
            positions: vec![None; instruments.capacity()],
            prefix: ClientPrefix::LEGACY,
            foreign_seen: [0; FOREIGN_SEEN],
            foreign_next: 0,
            sent_over_ws: [[0; 2]; Venue::COUNT],
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

    /// The futures account's available margin alone, from a report whose balance is not
    /// to be compared with the books (see MEXC's balance push).
    pub fn futures_margin(&mut self, venue: Venue, available: Option<Amount>) {
        if let Some(a) = available {
            if let Some(b) = self.futures_balances[venue.index()].as_mut() {
                b.1 = Some(a);
            }
            self.futures_wallet(venue, None, Some(a), Amount::ZERO);
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
    /// and only if it settled after this engine started. `seen_before` is
    /// [`Core::funding_seen`] read before the answer, the same for each of its records.
    pub fn funding_record(
        &mut self,
        venue: Venue,
        seen_before: u64,
        id: u64,
        settled_ms: u64,
        change: Option<Amount>,
    ) {
        if self.funding_record_is_new(venue, seen_before, id, settled_ms) {
            self.funding(venue, change, None);
        }
    }

    /// Notes history record `id`; true when it is newer than `seen_before` and settled
    /// after this engine started.
    fn funding_record_is_new(&mut self, venue: Venue, seen_before: u64, id: u64, settled_ms: u64) -> bool {
        let seen = &mut self.funding_seen[venue.index()];
        *seen = (*seen).max(id);
        id > seen_before && settled_ms >= self.started_unix_ms
    }

    /// Remembers a funding entry; false when it was booked already.
    fn funding_first_seen(&mut self, venue: Venue, e: &FundingEntry) -> bool {
        let key = e.key(venue);
        if self.funding_keys.contains(&key) {
            return false;
        }
        self.funding_keys[self.funding_keys_next] = key;
        self.funding_keys_next = (self.funding_keys_next + 1) % FUNDING_KEYS;
        true
    }

    /// A funding entry pushed on a private stream (with the balance after it): booked
    /// unless the venue's funding history already brought it, in which case only the
    /// balance is reported.
    pub fn funding_push(&mut self, venue: Venue, e: FundingEntry) {
        if self.funding_first_seen(venue, &e) {
            self.funding(venue, Some(e.change), Some(e.balance));
        } else {
            self.futures_balance(venue, Some(e.balance), None);
        }
    }

    /// An entry of a venue's funding history that a push may also have brought: booked
    /// once, and only if it settled after this engine started ([`Core::funding_record`]).
    /// Its balance is history, not the wallet's balance now, so none is reported.
    pub fn funding_history(&mut self, venue: Venue, seen_before: u64, id: u64, e: FundingEntry) {
        if self.funding_record_is_new(venue, seen_before, id, e.time_ms) && self.funding_first_seen(venue, &e)
        {
            self.funding(venue, Some(e.change), None);
        }
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
        self.tracker.tick(now, force, &mut |_, _| true);
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

    fn wallets(core: &mut Core) -> Vec<(Option<Amount>, Amount)> {
        core.tracker
            .out
            .drain(..)
            .filter_map(|e| match e {
                StateInput::FuturesWallet(w) => Some((w.balance, w.funding)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn funding_entries_parse_seconds_with_or_without_a_fraction() {
        let e = FundingEntry::parse(b"1765036800.25", b"-0.5", b"1000.5").unwrap();
        assert_eq!(e.time_ms, 1_765_036_800_250);
        assert_eq!(e.change, Amount::parse("-0.5").unwrap());
        assert_eq!(e.balance, Amount::parse("1000.5").unwrap());
        assert_eq!(FundingEntry::parse(b"1765036800", b"1", b"2").unwrap().time_ms, 1_765_036_800_000);
        assert_eq!(FundingEntry::parse(b"1765036800.1239", b"1", b"2").unwrap().time_ms, 1_765_036_800_123);
        for bad in [&b""[..], b"-1", b"1e9", b"12.x", b"99999999999999999999"] {
            assert!(FundingEntry::parse(bad, b"1", b"2").is_none(), "{bad:?}");
        }
        assert!(FundingEntry::parse(b"1", b"", b"2").is_none());
        assert!(FundingEntry::parse(b"1", b"1", b"").is_none());
    }

    #[test]
    fn a_funding_entry_pushed_and_read_from_the_history_is_booked_once() {
        let u = pipeline::testkit::universe();
        let mut core = test_core(u.instruments.clone());
        core.started_unix_ms = 1_000_000;
        let amt = |t: &str| Amount::parse(t).unwrap();
        let entry = |secs: u64, change: &str, balance: &str| FundingEntry {
            time_ms: secs * 1000,
            change: amt(change),
            balance: amt(balance),
        };
        let v = Venue::GateIo;

        // Pushed first (the push's milliseconds), then listed: one booking.
        let mut pushed = entry(2_000, "1.5", "101.5");
        pushed.time_ms += 437;
        core.funding_push(v, pushed);
        assert_eq!(wallets(&mut core), [(Some(amt("101.5")), amt("1.5"))]);
        let seen = core.funding_seen(v);
        core.funding_history(v, seen, 7, entry(2_000, "1.5", "101.5"));
        assert_eq!(wallets(&mut core), []);
        assert_eq!(core.funding_seen(v), 7);

        // Listed first (the push was late), then pushed: booked once, the push's balance
        // still reported.
        core.funding_history(v, 7, 8, entry(2_010, "-0.25", "101.25"));
        assert_eq!(wallets(&mut core), [(None, amt("-0.25"))]);
        core.funding_push(v, entry(2_010, "-0.25", "101.25"));
        assert_eq!(wallets(&mut core), [(Some(amt("101.25")), Amount::ZERO)]);

        // Listed only (pushed to nobody): booked; a second answer listing it again is not.
        core.funding_history(v, 8, 9, entry(2_020, "0.75", "102"));
        core.funding_history(v, 9, 9, entry(2_020, "0.75", "102"));
        assert_eq!(wallets(&mut core), [(None, amt("0.75"))]);

        // Settled before this engine started: already in the balance it read.
        core.funding_history(v, 9, 10, entry(999, "5", "50"));
        assert_eq!(wallets(&mut core), []);
        assert_eq!(core.funding_seen(v), 10);

        // The same amount and balance at another second is another entry.
        core.funding_push(v, entry(2_030, "0.75", "102"));
        assert_eq!(wallets(&mut core), [(Some(amt("102")), amt("0.75"))]);
        // ... and another venue's entry with the same figures too.
        core.funding_push(Venue::Mexc, entry(2_030, "0.75", "102"));
        assert_eq!(wallets(&mut core), [(Some(amt("102")), amt("0.75"))]);
    }
}
