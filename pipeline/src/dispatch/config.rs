//! Dispatch's configuration (`[dispatch]`).

use serde::{Deserialize, Serialize};

/// Dispatch configuration (`[dispatch]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// Send fill-or-kill instead of immediate-or-cancel where the venue offers it.
    pub prefer_fok: bool,
    /// Events the outbox to the state stage holds while its ring is full.
    pub outbox_events: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self { prefer_fok: false, outbox_events: 4096 }
    }
}

impl DispatchConfig {
    /// Range checks of `[dispatch]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.at_least("outbox_events", self.outbox_events as u64, 1);
    }
}
