//! Faults injected on demand: order rejects, forced partial fills, sequence gaps in
//! depth feeds, slow acknowledgements, dropped connections and stalls.
//!
//! Spec grammar: comma-separated `key=value`, any order, each key at most once:
//! `reject=P,partial=P,gap=P,delay_ms=N,disconnect_every_s=N,stall_every_s=N` where `P`
//! is a probability in `0..=1` and `N` a whole number (`0` turns that fault off). The
//! empty string and `none` mean no faults.

use std::fmt;

/// Which faults the simulated venues inject, and how often.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that an order request is rejected (rate-limit style, a definite reject).
    pub reject: f64,
    /// Probability that a taker order is cut to a partial fill.
    pub partial: f64,
    /// Probability that a depth update is dropped on its way to one connection.
    pub gap: f64,
    /// Extra delay before an order acknowledgement, in milliseconds.
    pub delay_ms: u64,
    /// Every WebSocket connection is closed after this many seconds (0: never).
    pub disconnect_every_s: u64,
    /// Every this many seconds a WebSocket connection goes silent, half of it at most 5 s (0: never).
    pub stall_every_s: u64,
}

/// Why a fault spec is not understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultsError {
    #[error("fault spec item `{0}` is not `key=value`")]
    NotKeyValue(String),
    #[error(
        "unknown fault `{0}` (expected reject, partial, gap, delay_ms, disconnect_every_s, stall_every_s)"
    )]
    UnknownKey(String),
    #[error("fault `{0}` is given twice")]
    Duplicate(String),
    #[error("fault `{key}` = `{value}`: expected a probability between 0 and 1")]
    BadProbability { key: String, value: String },
    #[error("fault `{key}` = `{value}`: expected a whole number")]
    BadNumber { key: String, value: String },
}

impl Faults {
    /// No faults.
    pub const NONE: Faults =
        Faults { reject: 0.0, partial: 0.0, gap: 0.0, delay_ms: 0, disconnect_every_s: 0, stall_every_s: 0 };

    /// Parses a spec such as `reject=0.1,gap=0.05,delay_ms=200`.
    pub fn parse(spec: &str) -> Result<Faults, FaultsError> {
        let mut f = Faults::NONE;
        let spec = spec.trim();
        if spec.is_empty() || spec == "none" {
            return Ok(f);
        }
        let mut seen: Vec<String> = Vec::new();
        for item in spec.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (key, value) =
                item.split_once('=').ok_or_else(|| FaultsError::NotKeyValue(item.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            if seen.iter().any(|k| k == key) {
                return Err(FaultsError::Duplicate(key.to_owned()));
            }
            seen.push(key.to_owned());
            let prob = || -> Result<f64, FaultsError> {
                let bad = || FaultsError::BadProbability { key: key.to_owned(), value: value.to_owned() };
                let p: f64 = value.parse().map_err(|_| bad())?;
                if p.is_finite() && (0.0..=1.0).contains(&p) { Ok(p) } else { Err(bad()) }
            };
            let num = || -> Result<u64, FaultsError> {
                value
                    .parse()
                    .map_err(|_| FaultsError::BadNumber { key: key.to_owned(), value: value.to_owned() })
            };
            match key {
                "reject" => f.reject = prob()?,
                "partial" => f.partial = prob()?,
                "gap" => f.gap = prob()?,
                "delay_ms" => f.delay_ms = num()?,
                "disconnect_every_s" => f.disconnect_every_s = num()?,
                "stall_every_s" => f.stall_every_s = num()?,
                _ => return Err(FaultsError::UnknownKey(key.to_owned())),
            }
        }
        Ok(f)
    }

    /// True when no fault is enabled.
    pub fn is_none(&self) -> bool {
        *self == Faults::NONE
    }
}

impl std::str::FromStr for Faults {
    type Err = FaultsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Faults::parse(s)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        write!(
            f,
            "reject={},partial={},gap={},delay_ms={},disconnect_every_s={},stall_every_s={}",
            self.reject, self.partial, self.gap, self.delay_ms, self.disconnect_every_s, self.stall_every_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_spec_parses_and_round_trips() {
        let f = Faults::parse(
            "reject=0.1, partial=0.2,gap=0.05,delay_ms=250,disconnect_every_s=30,stall_every_s=20",
        )
        .unwrap();
        assert_eq!(f.reject, 0.1);
        assert_eq!(f.partial, 0.2);
        assert_eq!(f.gap, 0.05);
        assert_eq!(f.delay_ms, 250);
        assert_eq!(f.disconnect_every_s, 30);
        assert_eq!(f.stall_every_s, 20);
        assert_eq!(Faults::parse(&f.to_string()).unwrap(), f);
        assert_eq!(Faults::parse("").unwrap(), Faults::NONE);
        assert_eq!(Faults::parse("none").unwrap(), Faults::NONE);
        assert_eq!(Faults::NONE.to_string(), "none");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = |s: &str| Faults::parse(s).unwrap_err().to_string();
        assert_eq!(e("reject=1.5"), "fault `reject` = `1.5`: expected a probability between 0 and 1");
        assert_eq!(e("gap=x"), "fault `gap` = `x`: expected a probability between 0 and 1");
        assert_eq!(e("delay_ms=-1"), "fault `delay_ms` = `-1`: expected a whole number");
        assert!(e("lag=1").starts_with("unknown fault `lag`"));
        assert_eq!(e("reject"), "fault spec item `reject` is not `key=value`");
        assert_eq!(e("gap=0.1,gap=0.2"), "fault `gap` is given twice");
        assert!(Faults::parse("reject=NaN").is_err());
    }
}
