//! Small integer identities for venues, markets, sides, instruments and assets,
//! resolved once at start-up so that no string reaches the hot path.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A trading venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Venue {
    #[serde(rename = "gateio")]
    GateIo = 0,
    Mexc = 1,
}

impl Venue {
    pub const ALL: [Venue; 2] = [Venue::GateIo, Venue::Mexc];
    pub const COUNT: usize = 2;

    /// The name used in configuration, captures and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Venue::GateIo => "gateio",
            Venue::Mexc => "mexc",
        }
    }

    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gateio" | "gate" | "gate.io" => Ok(Venue::GateIo),
            "mexc" => Ok(Venue::Mexc),
            _ => Err(format!("unknown venue `{s}` (expected gateio or mexc)")),
        }
    }
}

/// Spot, or USDT-margined perpetual futures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Market {
    Spot = 0,
    Futures = 1,
}

impl Market {
    pub const ALL: [Market; 2] = [Market::Spot, Market::Futures];

    pub const fn name(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::Futures => "futures",
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Market {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "spot" => Ok(Market::Spot),
            "futures" | "perp" | "swap" => Ok(Market::Futures),
            _ => Err(format!("unknown market `{s}` (expected spot or futures)")),
        }
    }
}

/// Buy or sell; in a book, bids are the buy side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Side {
    #[default]
    Buy = 0,
    Sell = 1,
}

impl Side {
    #[inline]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    /// +1 for buys, -1 for sells.
    #[inline]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An instrument's index in the instrument table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(transparent)]
pub struct InstrumentId(pub u16);

impl InstrumentId {
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// An asset's index in the asset table (BTC, USDT, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(transparent)]
pub struct AssetId(pub u16);

impl AssetId {
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}
