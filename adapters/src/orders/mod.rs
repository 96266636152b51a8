//! The real venues' order entry and private streams as one [`OrderSink`](pipeline::dispatch::OrderSink): [`VenueSink`].
//!
//! The venue clients live in their venues' rooms (`venues::gateio::orders`,
//! `venues::mexc::orders::{spot, futures}`, and the private streams beside them); this
//! folder keeps only what is venue-neutral:
//! - [`config`]: `[orders]` and the API keys from the environment;
//! - [`core`]: what every client shares (tracker, notices, refusal windows);
//! - [`pending`]: requests in flight and the request-target buffer;
//! - [`track`]: what each order has reported, and the exactly-once rule for fills;
//! - [`wire`]: client ids as venue text, exact numbers, field-by-field JSON;
//! - [`templates`]: each instrument's constant request text, prepared once;
//! - [`sink`]: routing by venue market and the poll loop;
//! - [`discover`]: our orders as the venues list them, for the restart after a host
//!   crash ([`VenueSink::discover`]).
//!
//! Everything runs on the thread that calls [`OrderSink::poll`] (the dispatch thread): the
//! sink owns a `mio::Poll` polled with a zero timeout, so `submit` writes the request to
//! a warm keep-alive connection at once and `poll` hands over whatever came back. Request
//! bodies, targets and header values are formatted into buffers the sink keeps; decimals
//! are written exactly at each instrument's scale. Nothing on the submit path allocates
//! after warm-up beyond what the net clients do (see `tests/orders_alloc.rs`).
//!
//! Outcomes (DESIGN.md, "Lessons"): an order's create request answers `Accepted` (plus
//! fills and `Done` when the answer carries them), `Rejected(reason)` for a definite
//! refusal, or `Unknown` when it may have reached the venue without an answer we can
//! trust (timeout, 5xx, connection lost after writing). Nothing is ever re-sent: an
//! unknown order is resolved by [`OrderSink::query`], whose answer is a `Status` or
//! `Rejected(NotFound)`; "not found" is only said once the order could no longer arrive
//! (`not_found_grace_ms` after it was sent). A request that never left the process is
//! `Err(NotSent(_))` from `submit`, or `Rejected(Disconnected)` when the connection
//! failed before a byte of it was written.
//!
//! Refusals the sink makes itself, before sending: `RateLimited` while a venue's
//! `Retry-After` (or `rate_limit_backoff_ms`) runs after a 429/418 or a rate-limit error;
//! `TradingDisabled` for `trading_disabled_retry_ms` after a venue said API trading is
//! not allowed (MEXC futures answers so for most accounts), then one order is let
//! through to probe again; and, with `validate_locally`, `BadPrecision` / `BelowMinimum`
//! for prices off the tick, quantities off the lot or under the instrument's minimums.
//! Each venue refusal is also kept as a [`VenueNotice`] with the venue's code and text;
//! the running engine's sink writes each to the log ring it is given
//! ([`VenueSink::set_log`]), tools read them with [`VenueSink::drain_notices`].
//!
//! Balances: spot balances become [`BalanceEvent`]s (on [`OrderSink::query_balances`] and
//! on every private balance push). Futures margin and positions have no place in the
//! pipeline's balance events (a venue's spot USDT and its futures USDT would collide);
//! the sink keeps them for a cold reader ([`VenueSink::futures_balance`],
//! [`VenueSink::futures_position`]).
//!
//! Wiring: build the credentials from the environment with
//! [`OrderEntryCredentials::from_env`], then
//! `VenueSink::new(&config, creds, instruments, tls, clock)` and, before trading,
//! [`VenueSink::wait_ready`] (pools warm, private streams subscribed).

pub mod config;
pub mod core;
pub mod discover;
pub mod pending;
pub mod sink;
pub mod templates;
pub mod track;
pub mod wire;

pub use config::{OpenMarket, OrderEntryConfig, OrderEntryCredentials};
pub use core::{OrderEntryError, VenueNotice};
pub use discover::DiscoveredOrder;
pub use sink::VenueSink;
