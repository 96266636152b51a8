//! The book stage's configuration (`[book]`).

/// Book stage settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookConfig {
    /// Market-data events buffered per book while waiting for a snapshot.
    pub buffer_events: usize,
    /// A synced book with no update for this long is stale and resyncs (0: never).
    pub stale_ms: u64,
    /// How long to wait for a requested resync before asking again.
    pub resync_retry_ms: u64,
    /// Levels per side reserved up front outside the ladders' windows (levels off the
    /// tick grid or far from the best, and the re-centring buffers), and levels staged
    /// per update. Each grows past it when a book needs more (a deep snapshot, the first
    /// re-centre of a deep side), so this only moves allocations out of warm-up.
    pub initial_levels: usize,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self { buffer_events: 65_536, stale_ms: 30_000, resync_retry_ms: 3_000, initial_levels: 64 }
    }
}

impl BookConfig {
    /// Range checks of `[book]`.
    pub fn validate(&self, c: &mut crate::validate::Checks) {
        c.at_least("buffer_events", self.buffer_events as u64, 1);
        c.at_least("resync_retry_ms", self.resync_retry_ms, 1);
        c.at_least("initial_levels", self.initial_levels as u64, 1);
    }
}
