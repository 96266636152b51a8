//! The [`Stage`] trait: a unit of pipeline work that a runner thread polls.

/// A pipeline stage: a plain struct that owns its state and its ring ends.
///
/// `poll` does a bounded amount of work (a batch from its input rings, a read from its
/// sockets) and returns how much it did; zero tells the runner the stage is idle. A stage
/// never blocks: a full output ring is handled by the stage keeping the event and trying
/// again on its next poll.
pub trait Stage: Send {
    /// Does at most a bounded amount of work and returns how much (0 = nothing to do).
    fn poll(&mut self) -> usize;

    /// Called once on the stage's own thread when the runner stops, before the stage is
    /// dropped: flush journals, close sockets, hand over histograms.
    fn stop(&mut self) {}
}

impl<S: Stage + ?Sized> Stage for Box<S> {
    fn poll(&mut self) -> usize {
        (**self).poll()
    }
    fn stop(&mut self) {
        (**self).stop()
    }
}
