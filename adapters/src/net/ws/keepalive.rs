//! Application-level pings and pongs ([`AppPing`]), and [`StaticHooks`] for feeds whose
//! subscriptions never change between sessions.
//!
//! WebSocket protocol pings are answered by the client itself; these are the JSON pings
//! each venue also expects, without which it closes an idle-looking connection.

use super::{Payload, WsHooks};

/// A venue's application ping: how to build it and a marker its pong contains. Each
/// venue's room defines its own (`venues::<venue>::feed`); this client knows none.
#[derive(Clone, Copy, Debug)]
pub struct AppPing {
    /// Writes the ping for the wall-clock time in milliseconds into a cleared buffer.
    pub message: fn(u64, &mut String),
    /// Text every pong contains (pongs are short; longer frames are never inspected).
    pub pong_marker: &'static str,
}

/// Pongs are short; longer messages are never inspected.
const MAX_PONG_LEN: usize = 160;

impl AppPing {
    /// Writes the ping into `out` (cleared first).
    pub fn write_into(&self, now_unix_ms: u64, out: &mut String) {
        out.clear();
        (self.message)(now_unix_ms, out);
    }

    /// The ping as a new string (cold use: tests, logs).
    pub fn message(&self, now_unix_ms: u64) -> String {
        let mut out = String::new();
        self.write_into(now_unix_ms, &mut out);
        out
    }

    /// True if `payload` is the venue's answer to the ping.
    pub fn is_pong(&self, payload: &Payload<'_>) -> bool {
        let Payload::Text(text) = *payload else { return false };
        text.len() <= MAX_PONG_LEN && text.contains(self.pong_marker)
    }
}

/// Hooks that send the same subscription messages on every session and an optional
/// venue ping. Feeds whose requests carry a time or a signature implement [`WsHooks`]
/// themselves.
#[derive(Clone, Debug, Default)]
pub struct StaticHooks {
    pub subscriptions: Vec<String>,
    pub ping: Option<AppPing>,
}

impl WsHooks for StaticHooks {
    fn on_open(&mut self, _now_unix_ms: u64, out: &mut Vec<String>) {
        out.extend(self.subscriptions.iter().cloned());
    }

    fn keepalive(&mut self, now_unix_ms: u64, out: &mut String) -> bool {
        self.ping.inspect(|p| p.write_into(now_unix_ms, out)).is_some()
    }

    fn is_heartbeat(&self, frame: &Payload<'_>) -> bool {
        self.ping.is_some_and(|p| p.is_pong(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pongs_are_short_text_frames_with_the_marker() {
        let ping = AppPing {
            message: |ms, out| {
                let _ = std::fmt::Write::write_fmt(out, format_args!("{{\"ping\":{ms}}}"));
            },
            pong_marker: r#""pong""#,
        };
        assert_eq!(ping.message(7), r#"{"ping":7}"#);
        assert!(ping.is_pong(&Payload::Text(r#"{"pong":7}"#)));
        assert!(!ping.is_pong(&Payload::Binary(br#"{"pong":7}"#)));
        let long = format!(r#"{{"pong":7,"pad":"{}"}}"#, "x".repeat(MAX_PONG_LEN));
        assert!(!ping.is_pong(&Payload::Text(&long)));
        assert!(!ping.is_pong(&Payload::Text(r#"{"data":1}"#)));
    }
}
