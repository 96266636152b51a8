//! The venues' application-level pings and pongs, and [`StaticHooks`] for feeds whose
//! subscriptions never change between sessions.
//!
//! WebSocket protocol pings are answered by the client itself; these are the JSON pings
//! each venue also expects, without which it closes an idle-looking connection.

use std::fmt::Write as _;

use super::{Payload, WsHooks};

/// An application ping format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenuePing {
    /// `{"time":<s>,"channel":"spot.ping"}` → `…"channel":"spot.pong"…`
    GateSpot,
    /// `{"time":<s>,"channel":"futures.ping"}` → `…"channel":"futures.pong"…`
    GateFutures,
    /// `{"method":"PING"}` → `{"id":0,"code":0,"msg":"PONG"}`
    MexcSpot,
    /// `{"method":"ping"}` → `{"channel":"pong","data":<ms>}`
    MexcFutures,
}

/// Pongs are short; longer messages are never inspected.
const MAX_PONG_LEN: usize = 160;

impl VenuePing {
    pub fn message(self, now_unix_ms: u64) -> String {
        match self {
            VenuePing::GateSpot | VenuePing::GateFutures => {
                let channel = if self == VenuePing::GateSpot { "spot.ping" } else { "futures.ping" };
                let mut s = String::with_capacity(48);
                let _ = write!(s, r#"{{"time":{},"channel":"{channel}"}}"#, now_unix_ms / 1000);
                s
            }
            VenuePing::MexcSpot => r#"{"method":"PING"}"#.to_owned(),
            VenuePing::MexcFutures => r#"{"method":"ping"}"#.to_owned(),
        }
    }

    /// True if `payload` is this venue's answer to the ping.
    pub fn is_pong(self, payload: &Payload<'_>) -> bool {
        let Payload::Text(text) = *payload else { return false };
        if text.len() > MAX_PONG_LEN {
            return false;
        }
        match self {
            VenuePing::GateSpot => text.contains(r#""channel":"spot.pong""#),
            VenuePing::GateFutures => text.contains(r#""channel":"futures.pong""#),
            VenuePing::MexcSpot => text.contains(r#""msg":"PONG""#),
            VenuePing::MexcFutures => text.contains(r#""channel":"pong""#),
        }
    }
}

/// Hooks that send the same subscription messages on every session and an optional
/// venue ping. Feeds whose requests carry a time or a signature implement [`WsHooks`]
/// themselves.
#[derive(Clone, Debug, Default)]
pub struct StaticHooks {
    pub subscriptions: Vec<String>,
    pub ping: Option<VenuePing>,
}

impl WsHooks for StaticHooks {
    fn on_open(&mut self, _now_unix_ms: u64, out: &mut Vec<String>) {
        out.extend(self.subscriptions.iter().cloned());
    }

    fn keepalive(&mut self, now_unix_ms: u64) -> Option<String> {
        self.ping.map(|p| p.message(now_unix_ms))
    }

    fn is_heartbeat(&self, frame: &Payload<'_>) -> bool {
        self.ping.is_some_and(|p| p.is_pong(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_messages() {
        assert_eq!(
            VenuePing::GateSpot.message(1_545_404_023_123),
            r#"{"time":1545404023,"channel":"spot.ping"}"#
        );
        assert_eq!(
            VenuePing::GateFutures.message(123_456_000),
            r#"{"time":123456,"channel":"futures.ping"}"#
        );
        assert_eq!(VenuePing::MexcSpot.message(0), r#"{"method":"PING"}"#);
        assert_eq!(VenuePing::MexcFutures.message(0), r#"{"method":"ping"}"#);
    }

    #[test]
    fn pongs_from_the_venue_docs() {
        let t = Payload::Text;
        assert!(VenuePing::GateSpot.is_pong(&t(
            r#"{"time":1545404023,"channel":"spot.pong","event":"","error":null,"result":null}"#
        )));
        assert!(VenuePing::GateFutures.is_pong(&t(
            r#"{"time":1545404023,"time_ms":1545404023123,"channel":"futures.pong","event":"","result":null}"#
        )));
        assert!(VenuePing::MexcSpot.is_pong(&t(r#"{"id":0,"code":0,"msg":"PONG"}"#)));
        assert!(VenuePing::MexcFutures.is_pong(&t(r#"{"channel":"pong","data":1587453241453}"#)));
        assert!(!VenuePing::GateSpot.is_pong(&t(r#"{"channel":"spot.book_ticker","result":{}}"#)));
        assert!(!VenuePing::MexcSpot.is_pong(&Payload::Binary(b"PONG")));
    }
}
