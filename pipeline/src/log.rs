//! Structured logging without formatting on the hot path.
//!
//! A hot stage hands a compact, fixed-size [`LogRecord`] (what happened, two numbers,
//! and up to 128 bytes of raw context such as the start of a refused frame) to a cold
//! thread through a dropping ring, and goes on. The cold side formats each record as
//! one JSON line. A full ring drops the record and counts it, so logging can never
//! slow trading down.

use std::fmt::Write as _;

use crate::runtime::Tx;

/// Bytes of raw context a record carries.
pub const CONTEXT: usize = 128;

/// How much a record matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub const fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One log record, `Copy` and fixed-size.
#[derive(Clone, Copy)]
pub struct LogRecord {
    pub ts_ns: u64,
    pub level: Level,
    /// A static name of the event (`"bad_input"`, `"order_rejected"`).
    pub event: &'static str,
    /// A static name of the detail (a reason, a venue).
    pub detail: &'static str,
    pub a: u64,
    pub b: u64,
    len: u8,
    context: [u8; CONTEXT],
}

const _: () = assert!(std::mem::size_of::<LogRecord>() <= 3 * 64);

impl std::fmt::Debug for LogRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRecord")
            .field("event", &self.event)
            .field("detail", &self.detail)
            .field("a", &self.a)
            .field("b", &self.b)
            .finish_non_exhaustive()
    }
}

impl LogRecord {
    /// A record with `context` truncated to [`CONTEXT`] bytes.
    #[inline]
    pub fn new(
        ts_ns: u64,
        level: Level,
        event: &'static str,
        detail: &'static str,
        a: u64,
        b: u64,
        context: &[u8],
    ) -> Self {
        let n = context.len().min(CONTEXT);
        let mut c = [0u8; CONTEXT];
        c[..n].copy_from_slice(&context[..n]);
        Self { ts_ns, level, event, detail, a, b, len: n as u8, context: c }
    }

    /// A record whose context is `args` formatted in place (no heap buffer of ours),
    /// truncated to [`CONTEXT`] bytes: for rare events whose cause is text, such as a
    /// lost connection.
    pub fn formatted(
        ts_ns: u64,
        level: Level,
        event: &'static str,
        detail: &'static str,
        a: u64,
        b: u64,
        args: std::fmt::Arguments<'_>,
    ) -> Self {
        struct Fill<'a> {
            buf: &'a mut [u8; CONTEXT],
            len: usize,
        }
        impl std::fmt::Write for Fill<'_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let n = s.len().min(CONTEXT - self.len);
                self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
                self.len += n;
                Ok(())
            }
        }
        let mut context = [0u8; CONTEXT];
        let mut fill = Fill { buf: &mut context, len: 0 };
        let _ = fill.write_fmt(args);
        let len = fill.len as u8;
        Self { ts_ns, level, event, detail, a, b, len, context }
    }

    pub fn context(&self) -> &[u8] {
        &self.context[..self.len as usize]
    }

    /// The record as one JSON line (without the newline); `wall_ns` is the wall-clock
    /// time of `ts_ns`.
    pub fn to_json(&self, wall_ns: u64, source: &str) -> String {
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            r#"{{"ts_ns":{wall_ns},"level":"{}","source":"{}","event":"{}","detail":"{}","a":{},"b":{}"#,
            self.level.name(),
            source,
            self.event,
            self.detail,
            self.a,
            self.b
        );
        if self.len > 0 {
            s.push_str(r#","context":""#);
            for &byte in self.context() {
                match byte {
                    b'"' => s.push_str("\\\""),
                    b'\\' => s.push_str("\\\\"),
                    0x20..=0x7e => s.push(byte as char),
                    _ => {
                        let _ = write!(s, "\\u{byte:04x}");
                    }
                }
            }
            s.push('"');
        }
        s.push('}');
        s
    }
}

/// The hot end of a log ring.
#[derive(Debug)]
pub struct LogTx(Tx<LogRecord>);

impl LogTx {
    pub fn new(tx: Tx<LogRecord>) -> Self {
        Self(tx)
    }

    /// Hands a record over; a full ring drops it (and the link counts it).
    #[inline]
    pub fn log(&mut self, r: LogRecord) {
        let _ = self.0.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_context_is_written_in_place_and_truncated() {
        let r = LogRecord::formatted(
            1,
            Level::Warn,
            "ws_connect_failed",
            "gateio",
            0,
            0,
            format_args!("spot: {}", 42),
        );
        assert_eq!(r.context(), b"spot: 42");
        let long = "x".repeat(CONTEXT + 10);
        let r = LogRecord::formatted(1, Level::Warn, "e", "d", 0, 0, format_args!("{long}"));
        assert_eq!(r.context().len(), CONTEXT);
    }

    #[test]
    fn records_print_as_escaped_json() {
        let r = LogRecord::new(5, Level::Warn, "bad_input", "malformed_json", 1, 2, b"{\"a\":\x01}");
        let line = r.to_json(1_000, "md");
        let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(v["event"], "bad_input");
        assert_eq!(v["context"], "{\"a\":\u{1}}");
        let long = LogRecord::new(0, Level::Info, "x", "y", 0, 0, &[b'z'; 500]);
        assert_eq!(long.context().len(), CONTEXT);
    }
}
