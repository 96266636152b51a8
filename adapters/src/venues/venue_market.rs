//! [`VenueMarket`]: one of the four markets, and the one place that picks a venue's room
//! for it. Its methods answer what every caller needs (symbol spelling, metadata route,
//! subscriptions, snapshot paths, ping, sync rule); the decoder and the order client are
//! made in [`super::decoder`] and [`super::order_client`].

use std::time::Duration;

use pipeline::types::{InstrumentId, InstrumentSpec, Market, Venue};

use super::gateio::feed::GateDepth;
use super::meta_json::{MetaError, Volume24h};
use super::{gateio, mexc};
use crate::feed::topic::Subscription;
use crate::net::ws::AppPing;

/// How the public feeds subscribe, where a venue gives a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedOptions {
    pub gate_depth: GateDepth,
    /// MEXC spot push interval: `10ms` or `100ms`.
    pub mexc_interval: &'static str,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { gate_depth: GateDepth::Obu, mexc_interval: "10ms" }
    }
}

/// One venue's spot or futures market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VenueMarket {
    GateSpot,
    GateFutures,
    MexcSpot,
    MexcFutures,
}

impl VenueMarket {
    pub const COUNT: usize = 4;
    pub const ALL: [VenueMarket; 4] =
        [VenueMarket::GateSpot, VenueMarket::GateFutures, VenueMarket::MexcSpot, VenueMarket::MexcFutures];

    pub const fn new(venue: Venue, market: Market) -> Self {
        match (venue, market) {
            (Venue::GateIo, Market::Spot) => VenueMarket::GateSpot,
            (Venue::GateIo, Market::Futures) => VenueMarket::GateFutures,
            (Venue::Mexc, Market::Spot) => VenueMarket::MexcSpot,
            (Venue::Mexc, Market::Futures) => VenueMarket::MexcFutures,
        }
    }

    /// The markets of one venue.
    pub fn of_venue(venue: Venue) -> [VenueMarket; 2] {
        Market::ALL.map(|m| VenueMarket::new(venue, m))
    }

    pub const fn venue(self) -> Venue {
        match self {
            VenueMarket::GateSpot | VenueMarket::GateFutures => Venue::GateIo,
            VenueMarket::MexcSpot | VenueMarket::MexcFutures => Venue::Mexc,
        }
    }

    pub const fn market(self) -> Market {
        match self {
            VenueMarket::GateSpot | VenueMarket::MexcSpot => Market::Spot,
            VenueMarket::GateFutures | VenueMarket::MexcFutures => Market::Futures,
        }
    }

    /// A dense index (`0..COUNT`) for tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The venue's symbol for `base`/`quote`.
    pub fn symbol(self, base: &str, quote: &str) -> String {
        match self.venue() {
            Venue::GateIo => gateio::symbols::symbol(self.market(), base, quote),
            Venue::Mexc => mexc::symbols::symbol(self.market(), base, quote),
        }
    }

    /// The metadata request path, after [`Endpoints::rest_origin`].
    pub fn metadata_route(self) -> &'static str {
        match self.venue() {
            Venue::GateIo => gateio::meta::route(self.market()),
            Venue::Mexc => mexc::meta::route(self.market()),
        }
    }

    /// Every instrument of a metadata response.
    pub fn parse_metadata(self, body: &str) -> Result<Vec<InstrumentSpec>, MetaError> {
        match self.venue() {
            Venue::GateIo => gateio::meta::instruments(self.market(), body),
            Venue::Mexc => mexc::meta::instruments(self.market(), body),
        }
    }

    /// The 24 h ticker list's request path, after [`Endpoints::rest_origin`].
    pub fn ticker_route(self) -> &'static str {
        match self.venue() {
            Venue::GateIo => gateio::meta::ticker_route(self.market()),
            Venue::Mexc => mexc::meta::ticker_route(self.market()),
        }
    }

    /// Every market's 24 h quote volume in a ticker list response.
    pub fn parse_volumes(self, body: &str) -> Result<Vec<Volume24h>, MetaError> {
        match self.venue() {
            Venue::GateIo => gateio::meta::ticker_volumes(self.market(), body),
            Venue::Mexc => mexc::meta::ticker_volumes(self.market(), body),
        }
    }

    /// The subscriptions of one instrument.
    pub fn subscriptions(self, symbol: &str, inst: InstrumentId, opts: &FeedOptions) -> Vec<Subscription> {
        match self.venue() {
            Venue::GateIo => gateio::feed::subscriptions(self.market(), symbol, inst, opts.gate_depth),
            Venue::Mexc => mexc::feed::subscriptions(self.market(), symbol, inst, opts.mexc_interval),
        }
    }

    /// The message that ends `sub` (an instrument removed while running).
    pub fn unsubscribe(self, sub: &Subscription) -> String {
        match self.venue() {
            Venue::GateIo => gateio::feed::unsubscribe(&sub.message),
            Venue::Mexc => mexc::feed::unsubscribe(self.market(), &sub.message),
        }
    }

    /// Instruments one public connection may carry (the venue's topic limit).
    pub fn instruments_per_connection(self) -> usize {
        match self {
            VenueMarket::MexcSpot => mexc::feed::TOPICS_PER_CONNECTION / 2,
            _ => usize::MAX,
        }
    }

    /// How long to wait between opening two public connections of this market, so that
    /// their subscription messages stay within the venue's message rate.
    pub fn connection_stagger(self) -> Duration {
        match self {
            VenueMarket::MexcSpot => Duration::from_millis(
                1000 * mexc::feed::TOPICS_PER_CONNECTION as u64 / u64::from(mexc::feed::SPOT_MESSAGES_PER_S),
            ),
            _ => Duration::ZERO,
        }
    }

    /// The REST snapshot rate this market allows: (requests per second, burst).
    pub fn snapshot_rate(self) -> (u32, u32) {
        match self.venue() {
            Venue::GateIo => gateio::feed::snapshot_rate(self.market()),
            Venue::Mexc => mexc::feed::snapshot_rate(self.market()),
        }
    }

    /// Sessions are renewed after this long, where the venue cuts them.
    pub fn max_session(self) -> Option<Duration> {
        (self.venue() == Venue::Mexc).then_some(mexc::feed::MAX_SESSION)
    }

    /// Whether a subscription acknowledgement must echo the topic to be a success.
    pub fn ack_echoes_topic(self) -> bool {
        self.venue() == Venue::Mexc && mexc::feed::ack_echoes_topic(self.market())
    }

    /// The application ping of this market's WebSocket connections.
    pub fn ping(self) -> AppPing {
        match self.venue() {
            Venue::GateIo => gateio::feed::ping(self.market()),
            Venue::Mexc => mexc::feed::ping(self.market()),
        }
    }

    /// Whether books are synced by REST snapshots; otherwise by resubscribing
    /// ([`resubscribe`](Self::resubscribe)).
    pub fn is_snapshot_synced(self, opts: &FeedOptions) -> bool {
        self.venue() != Venue::GateIo || opts.gate_depth.is_snapshot_synced()
    }

    /// The messages that make the venue send a fresh full book, for markets that are not
    /// snapshot-synced.
    pub fn resubscribe(self, symbol: &str, now_s: u64) -> Option<[String; 2]> {
        match self.venue() {
            Venue::GateIo => Some(gateio::feed::resubscribe(self.market(), symbol, now_s)),
            Venue::Mexc => None,
        }
    }

    /// The REST order-book snapshot path of a symbol, after [`Endpoints::rest_origin`].
    pub fn snapshot_path(self, symbol: &str, limit: u32) -> String {
        match self.venue() {
            Venue::GateIo => gateio::feed::snapshot_path(self.market(), symbol, limit),
            Venue::Mexc => mexc::feed::snapshot_path(self.market(), symbol, limit),
        }
    }

    /// The market and symbol of a venue's REST order-book snapshot path, if it is one.
    pub fn snapshot_target(venue: Venue, path: &str) -> Option<(VenueMarket, &str)> {
        let (market, symbol) = match venue {
            Venue::GateIo => gateio::feed::snapshot_target(path)?,
            Venue::Mexc => mexc::feed::snapshot_target(path)?,
        };
        Some((VenueMarket::new(venue, market), symbol))
    }

    /// The symbol a public frame is about, if any (tools that discover instruments from
    /// a capture before decoding it).
    pub fn frame_symbol(self, frame: &[u8], binary: bool) -> Option<String> {
        match self.venue() {
            Venue::GateIo => gateio::md::frame_symbol(frame),
            Venue::Mexc => mexc::md::frame_symbol(self.market(), frame, binary),
        }
    }
}

impl std::fmt::Display for VenueMarket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.venue(), self.market())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_market_round_trips_and_indexes_densely() {
        for (i, vm) in VenueMarket::ALL.into_iter().enumerate() {
            assert_eq!(VenueMarket::new(vm.venue(), vm.market()), vm);
            assert_eq!(vm.index(), i);
        }
        assert_eq!(VenueMarket::of_venue(Venue::Mexc), [VenueMarket::MexcSpot, VenueMarket::MexcFutures]);
        assert_eq!(VenueMarket::MexcSpot.to_string(), "mexc spot");
    }

    #[test]
    fn each_market_spells_and_routes_as_its_venue_does() {
        assert_eq!(VenueMarket::MexcSpot.symbol("ETH", "BTC"), "ETHBTC");
        assert_eq!(VenueMarket::MexcFutures.symbol("BTC", "USDT"), "BTC_USDT");
        assert_eq!(VenueMarket::GateSpot.symbol("BTC", "USDT"), "BTC_USDT");
        assert_eq!(VenueMarket::GateFutures.metadata_route(), "/api/v4/futures/usdt/contracts");
        assert_eq!(VenueMarket::MexcSpot.metadata_route(), "/api/v3/exchangeInfo");
        for vm in VenueMarket::ALL {
            let path = vm.snapshot_path(&vm.symbol("BTC", "USDT"), 50);
            let expected = vm.symbol("BTC", "USDT");
            assert_eq!(VenueMarket::snapshot_target(vm.venue(), &path), Some((vm, expected.as_str())));
        }
    }

    #[test]
    fn sync_rules_follow_the_options() {
        let obu = FeedOptions::default();
        let rest = FeedOptions { gate_depth: GateDepth::OrderBookUpdate, ..obu };
        assert!(!VenueMarket::GateSpot.is_snapshot_synced(&obu));
        assert!(VenueMarket::GateSpot.is_snapshot_synced(&rest));
        assert!(VenueMarket::MexcFutures.is_snapshot_synced(&obu));
        assert!(VenueMarket::GateFutures.resubscribe("BTC_USDT", 1).is_some());
        assert!(VenueMarket::MexcSpot.resubscribe("BTCUSDT", 1).is_none());
        assert_eq!(VenueMarket::MexcSpot.instruments_per_connection(), 15);
        assert_eq!(VenueMarket::MexcSpot.connection_stagger(), Duration::from_millis(300));
        assert_eq!(VenueMarket::GateSpot.connection_stagger(), Duration::ZERO);
        for vm in VenueMarket::ALL {
            let (per_s, burst) = vm.snapshot_rate();
            assert!(per_s > 0 && burst > 0 && burst <= per_s, "{vm}");
        }
        assert!(VenueMarket::MexcSpot.ack_echoes_topic() && !VenueMarket::MexcFutures.ack_echoes_topic());
    }
}
