//! Engine configuration: TOML files that reject unknown keys, with the demo default
//! compiled in.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pipeline::runtime::Layout;
use serde::Deserialize;

/// The demo configuration shipped in `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The engine configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which stages run on which thread.
    pub layout: Layout,
}

impl Config {
    /// Parses configuration text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))
    }

    /// Reads a configuration file, or the compiled-in demo default when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            None => Self::parse(DEFAULT_TOML, "config/default.toml (built in)"),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }
}

/// Where the shipped example configurations live in a checkout.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_parses_and_its_layout_places_every_stage() {
        for entry in std::fs::read_dir(examples_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let c = Config::load(Some(&path)).unwrap();
                let all: Vec<usize> = (0..1024).collect();
                c.layout
                    .validate(&pipeline::STAGES, &all)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }

    #[test]
    fn the_built_in_default_is_the_shipped_file() {
        let shipped = std::fs::read_to_string(examples_dir().join("default.toml")).unwrap();
        assert_eq!(shipped, DEFAULT_TOML);
    }
}
