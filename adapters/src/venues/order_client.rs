//! One order-entry client of any venue ([`OrderClient`]), made by
//! [`VenueMarket::order_client`], so the sink holds one type and routes by
//! [`VenueMarket`] without matching on (venue, market) itself.
//!
//! Gate.io serves spot and futures from one client (one REST pool, a private stream per
//! market); MEXC has a client per market (separate APIs, signing and streams).

use std::sync::Arc;

use mio::Registry;
use mio::event::Event;
use pipeline::dispatch::{OrderRequest, SinkError};
use pipeline::msg::ClientOrderId;
use pipeline::types::{InstrumentId, Venue};
use quanta::Instant;
use rustls::ClientConfig;

use super::gateio::orders::GateEntry;
use super::mexc::orders::futures::MexcFuturesEntry;
use super::mexc::orders::spot::MexcSpotEntry;
use super::venue_market::VenueMarket;
use crate::net::http::HttpConfig;
use crate::orders::config::{OrderEntryConfig, OrderEntryCredentials};
use crate::orders::core::{Core, OrderEntryError};

/// The order entry of one venue (or one venue market).
// Built once and kept in the sink's table; boxing the larger clients would only add an
// indirection to every order.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum OrderClient {
    Gate(GateEntry),
    MexcSpot(MexcSpotEntry),
    MexcFutures(MexcFuturesEntry),
}

/// What every client is built with.
#[derive(Debug)]
pub(crate) struct ClientSetup<'a> {
    pub config: &'a OrderEntryConfig,
    pub creds: &'a OrderEntryCredentials,
    pub core: &'a Core,
    /// The HTTP settings shared by every client; each sets its own base URL.
    pub http: HttpConfig,
    pub tls: Option<Arc<ClientConfig>>,
    pub registry: &'a Registry,
    /// The first `mio` token of the client's range.
    pub first_token: usize,
    pub max_connections: usize,
    /// Per [`VenueMarket`]: whether its order entry is opened (a pair of it loaded, or
    /// named in `orders.open_markets`).
    pub wanted: [bool; VenueMarket::COUNT],
}

impl VenueMarket {
    /// The client that sends this market's orders, or `None` when its venue has no
    /// `[orders.<venue>]` section. Gate.io's one client serves both markets: build it
    /// for either and route the other to it ([`OrderClient::serves`]).
    pub(crate) fn order_client(self, s: ClientSetup<'_>) -> Result<Option<OrderClient>, OrderEntryError> {
        let missing = || OrderEntryError::MissingCredentials(self.venue());
        let http = |url: &str| HttpConfig { base_url: url.to_owned(), ..s.http.clone() };
        let (first, conns, tls) = (s.first_token, s.max_connections, s.tls.clone());
        Ok(Some(match self {
            VenueMarket::GateSpot | VenueMarket::GateFutures => {
                let Some(g) = &s.config.gateio else { return Ok(None) };
                let c = s.creds.gateio.clone().ok_or_else(missing)?;
                OrderClient::Gate(GateEntry::new(
                    g,
                    c,
                    s.core,
                    http(&g.rest_url),
                    tls,
                    s.registry,
                    first,
                    conns,
                    [s.wanted[VenueMarket::GateSpot.index()], s.wanted[VenueMarket::GateFutures.index()]],
                )?)
            }
            VenueMarket::MexcSpot => {
                let Some(m) = &s.config.mexc else { return Ok(None) };
                let c = s.creds.mexc.clone().ok_or_else(missing)?;
                let h = http(&m.rest_url);
                OrderClient::MexcSpot(MexcSpotEntry::new(m, c, s.core, h, tls, s.registry, first, conns)?)
            }
            VenueMarket::MexcFutures => {
                let Some(m) = &s.config.mexc else { return Ok(None) };
                let c = s.creds.mexc.clone().ok_or_else(missing)?;
                let h = http(m.futures_rest_url.as_deref().unwrap_or(&m.rest_url));
                OrderClient::MexcFutures(MexcFuturesEntry::new(
                    m, c, s.core, h, tls, s.registry, first, conns,
                )?)
            }
        }))
    }
}

impl OrderClient {
    /// Whether this client sends `vm`'s orders.
    pub fn serves(&self, vm: VenueMarket) -> bool {
        match self {
            OrderClient::Gate(_) => vm.venue() == Venue::GateIo,
            OrderClient::MexcSpot(_) => vm == VenueMarket::MexcSpot,
            OrderClient::MexcFutures(_) => vm == VenueMarket::MexcFutures,
        }
    }

    /// The venue this client trades on.
    pub fn venue(&self) -> Venue {
        match self {
            OrderClient::Gate(_) => Venue::GateIo,
            OrderClient::MexcSpot(_) | OrderClient::MexcFutures(_) => Venue::Mexc,
        }
    }

    /// Pools warm and private streams subscribed.
    pub fn is_ready(&self) -> bool {
        match self {
            OrderClient::Gate(c) => c.is_ready(),
            OrderClient::MexcSpot(c) => c.is_ready(),
            OrderClient::MexcFutures(c) => c.is_ready(),
        }
    }

    /// Hands a readiness event to the client's sockets; true if one of them took it.
    pub fn on_event(&mut self, ev: &Event) -> bool {
        match self {
            OrderClient::Gate(c) => c.on_event(ev),
            OrderClient::MexcSpot(c) => c.on_event(ev),
            OrderClient::MexcFutures(c) => c.on_event(ev),
        }
    }

    /// Drives the pool and the streams; reports every answer and push into `core`.
    pub(crate) fn poll(&mut self, now: Instant, core: &mut Core) {
        match self {
            OrderClient::Gate(c) => c.poll(now, core),
            OrderClient::MexcSpot(c) => c.poll(now, core),
            OrderClient::MexcFutures(c) => c.poll(now, core),
        }
    }

    #[inline]
    pub(crate) fn submit(&mut self, order: &OrderRequest, core: &mut Core) -> Result<(), SinkError> {
        match self {
            OrderClient::Gate(c) => c.submit(order, core),
            OrderClient::MexcSpot(c) => c.submit(order, core),
            OrderClient::MexcFutures(c) => c.submit(order, core),
        }
    }

    pub(crate) fn cancel(&mut self, client: ClientOrderId, inst: InstrumentId, core: &mut Core) -> bool {
        match self {
            OrderClient::Gate(c) => c.cancel(client, inst, core),
            OrderClient::MexcSpot(c) => c.cancel(client, inst, core),
            OrderClient::MexcFutures(c) => c.cancel(client, inst, core),
        }
    }

    /// Asks the venue about tracker slot `k`; `external` when the state stage asked.
    pub(crate) fn query(&mut self, k: usize, external: bool, core: &mut Core) -> bool {
        match self {
            OrderClient::Gate(c) => c.query(k, external, core),
            OrderClient::MexcSpot(c) => c.query(k, external, core),
            OrderClient::MexcFutures(c) => c.query(k, external, core),
        }
    }

    pub(crate) fn cancel_all(&mut self, core: &mut Core) -> bool {
        match self {
            OrderClient::Gate(c) => c.cancel_all(core),
            OrderClient::MexcSpot(c) => c.cancel_all(core),
            OrderClient::MexcFutures(c) => c.cancel_all(core),
        }
    }

    pub(crate) fn query_balances(&mut self, core: &mut Core) -> bool {
        match self {
            OrderClient::Gate(c) => c.query_balances(core),
            OrderClient::MexcSpot(c) => c.query_balances(core),
            OrderClient::MexcFutures(c) => c.query_balances(core),
        }
    }

    /// Lists its instruments' orders for a restart's discovery (into `core.discovery`).
    pub(crate) fn discover(&mut self, core: &mut Core) {
        match self {
            OrderClient::Gate(c) => c.discover(core),
            OrderClient::MexcSpot(c) => c.discover(core),
            OrderClient::MexcFutures(c) => c.discover(core),
        }
    }

    pub(crate) fn stop(&mut self, core: &mut Core) {
        match self {
            OrderClient::Gate(c) => c.stop(),
            OrderClient::MexcSpot(c) => c.stop(core),
            OrderClient::MexcFutures(c) => c.stop(),
        }
    }
}
