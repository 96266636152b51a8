//! Range and meaning checks of configuration values.
//!
//! Serde reads a value's type; whether the value makes sense (a limit above zero, a
//! margin that is not a loss, a URL of the right scheme) is each section's own knowledge,
//! kept beside its type in a `validate(&self, &mut Checks)` method. [`Checks`] collects
//! every problem with the key's full path (`risk.breakers.reset_after_ms`,
//! `venues[1].rest`), the value as one writes it in TOML and the rule it breaks, so the
//! loader can report them all at once with the file (or the environment variable) they
//! came from.

use std::fmt;

use crate::units::{Bps, Usd};

/// One value that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The full key path, as written in TOML (`risk.min_profit_margin_bps`).
    pub key: String,
    /// The value, spelled as in TOML (`-500`, `"ftp://x"`).
    pub value: String,
    /// What the value must be.
    pub rule: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}` = {}: {}", self.key, self.value, self.rule)
    }
}

/// Collects the problems of one configuration, keyed by where they are.
#[derive(Debug, Default)]
pub struct Checks {
    prefix: String,
    found: Vec<Invalid>,
}

/// The largest margin or slippage a configuration may name: 10%. Anything above is
/// almost surely a unit slip (a percentage written as basis points).
pub const MAX_BPS: i64 = 1_000;

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}.{key}", self.prefix) }
    }

    /// Runs `f` on the table `name`: its keys are reported as `name.key`.
    pub fn table(&mut self, name: &str, f: impl FnOnce(&mut Checks)) {
        let outer = std::mem::take(&mut self.prefix);
        self.prefix = if outer.is_empty() { name.to_owned() } else { format!("{outer}.{name}") };
        f(self);
        self.prefix = outer;
    }

    /// Runs `f` on element `index` of the array of tables `name` (`name[index].key`).
    pub fn item(&mut self, name: &str, index: usize, f: impl FnOnce(&mut Checks)) {
        self.table(&format!("{name}[{index}]"), f);
    }

    /// Records that `key` = `value` breaks `rule`; `value` is spelled as in TOML.
    pub fn fail(&mut self, key: &str, value: impl fmt::Display, rule: impl Into<String>) {
        self.found.push(Invalid { key: self.path(key), value: value.to_string(), rule: rule.into() });
    }

    /// An environment variable name: letters, digits and `_`, not starting with a digit.
    pub fn env_name(&mut self, key: &str, name: &str) {
        let ok = name.chars().next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !ok {
            self.fail(key, toml_string(name), "must be an environment variable name (letters, digits, _)");
        }
    }

    /// An integer at least `min` (a count or a duration where less means nothing).
    pub fn at_least(&mut self, key: &str, value: u64, min: u64) {
        if value < min {
            self.fail(key, value, format!("must be at least {min}"));
        }
    }

    /// An integer in `min..=max`.
    pub fn between(&mut self, key: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.fail(key, value, format!("must be between {min} and {max}"));
        }
    }

    /// A dollar amount above zero (a limit, a size).
    pub fn positive_usd(&mut self, key: &str, value: Usd) {
        if value.amount() <= crate::types::Amount::ZERO {
            self.fail(key, value.amount(), "must be more than 0 USD");
        }
    }

    /// A rate above zero and at most [`MAX_BPS`] (a profit threshold: at or below zero it
    /// trades at a loss).
    pub fn positive_bps(&mut self, key: &str, value: Bps) {
        if value <= Bps::new(0) || value > Bps::new(MAX_BPS) {
            self.fail(
                key,
                value.rate().bps(),
                format!("must be more than 0 and at most {MAX_BPS} basis points"),
            );
        }
    }

    /// A rate from 0 to [`MAX_BPS`] (a slippage allowance).
    pub fn bps_up_to(&mut self, key: &str, value: Bps, max: i64) {
        if value < Bps::new(0) || value > Bps::new(max) {
            self.fail(key, value.rate().bps(), format!("must be between 0 and {max} basis points"));
        }
    }

    /// A URL whose scheme is one of `schemes` (`["http", "https"]`) and that names a host.
    pub fn url(&mut self, key: &str, value: &str, schemes: &[&str]) {
        let ok = value.split_once("://").is_some_and(|(scheme, rest)| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            schemes.iter().any(|s| scheme.eq_ignore_ascii_case(s))
                && !host.is_empty()
                && !host.starts_with(':')
                && !host.contains(char::is_whitespace)
        });
        if !ok {
            let want: Vec<String> = schemes.iter().map(|s| format!("{s}://HOST")).collect();
            self.fail(key, toml_string(value), format!("must be a URL {}", want.join(" or ")));
        }
    }

    /// A list that must name at least one thing.
    pub fn not_empty<T>(&mut self, key: &str, list: &[T], what: &str) {
        if list.is_empty() {
            self.fail(key, "[]", format!("must name at least one {what}"));
        }
    }

    /// A string that must not be empty.
    pub fn text(&mut self, key: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(key, toml_string(value), "must not be empty");
        }
    }

    /// The problems found, in the order they were checked.
    pub fn problems(&self) -> &[Invalid] {
        &self.found
    }

    pub fn into_problems(self) -> Vec<Invalid> {
        self.found
    }
}

/// `value` as a TOML basic string.
pub fn toml_string(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_the_full_path_and_the_value_as_written() {
        let mut c = Checks::new();
        c.table("risk", |c| {
            c.positive_bps("min_profit_margin_bps", Bps::new(-500));
            c.table("breakers", |c| c.at_least("reset_after_ms", 0, 1));
            c.item("rate_limits", 2, |c| c.at_least("per_ms", 0, 1));
        });
        c.item("venues", 1, |c| c.url("rest", "ftp://example.com", &["http", "https"]));
        c.url("ws", "not a url", &["ws", "wss"]);
        let shown: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "key `risk.min_profit_margin_bps` = -500: must be more than 0 and at most 1000 basis points",
                "key `risk.breakers.reset_after_ms` = 0: must be at least 1",
                "key `risk.rate_limits[2].per_ms` = 0: must be at least 1",
                "key `venues[1].rest` = \"ftp://example.com\": must be a URL http://HOST or https://HOST",
                "key `ws` = \"not a url\": must be a URL ws://HOST or wss://HOST",
            ]
        );
    }

    #[test]
    fn good_values_pass() {
        let mut c = Checks::new();
        c.positive_bps("a_bps", Bps::new(5));
        c.positive_bps("b_bps", Bps::new(MAX_BPS));
        c.bps_up_to("c_bps", Bps::new(0), MAX_BPS);
        c.positive_usd("d_usd", Usd::new(1));
        c.between("e", 100, 1, 100);
        for url in ["https://api.gateio.ws", "http://127.0.0.1:8080/api/v4", "HTTPS://x"] {
            c.url("f", url, &["http", "https"]);
        }
        c.url("g", "wss://fx-ws.gateio.ws/v4/ws/usdt", &["ws", "wss"]);
        assert!(c.problems().is_empty(), "{:?}", c.problems());
    }

    #[test]
    fn urls_without_a_host_or_with_the_wrong_scheme_are_refused() {
        for bad in ["", "ftp://", "https://", "https:///path", "wss://x", "http:// spaced", "https://:443"] {
            let mut c = Checks::new();
            c.url("rest", bad, &["http", "https"]);
            assert_eq!(c.problems().len(), 1, "{bad:?} passed");
        }
    }

    #[test]
    fn rates_outside_their_bounds_are_refused() {
        let mut c = Checks::new();
        c.positive_bps("zero", Bps::new(0));
        c.positive_bps("huge", Bps::new(MAX_BPS + 1));
        c.bps_up_to("negative", Bps::new(-1), MAX_BPS);
        c.positive_usd("usd", Usd::new(0));
        c.between("pct", 101, 1, 100);
        let keys: Vec<&str> = c.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["zero", "huge", "negative", "usd", "pct"]);
    }
}
