//! What a producing stage keeps of the events a full `Retry` ring refused.
//!
//! A `Retry` link hands a refused event back ([`super::Full`]); a stage that must not lose
//! it (executions, orders and their events, state updates, resync requests) keeps it
//! here, in order, and pushes it again before anything newer. Every stage that retries
//! does it through this one type, so the policy of each edge reads the same: hold and
//! retry here, or drop and count on a `DropAndCount` link.
//!
//! The holder is sized when the stage is built and never grows, so holding allocates
//! nothing. Past its capacity an event is dropped and counted ([`Held::dropped`]): a
//! stage that may never drop keeps [`Held::room`] for the most one step of its work can
//! produce before it takes new input. Worst case: `capacity` events held; a flush costs
//! one clock read and one ring commit per contiguous run of held events (two at most).

use std::collections::VecDeque;
use std::fmt;

use super::link::Tx;

/// Events a full ring refused, in the order they were produced, waiting for room.
pub struct Held<T> {
    queue: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> fmt::Debug for Held<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("len", &self.queue.len())
            .field("capacity", &self.capacity)
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl<T: Copy> Held<T> {
    /// A holder for up to `capacity` events, reserved now.
    pub fn new(capacity: usize) -> Self {
        Self { queue: VecDeque::with_capacity(capacity), capacity, dropped: 0 }
    }

    /// Sends `event` at once when nothing is held and the ring takes it; otherwise holds it
    /// behind what is held. False when the holder was full and the event was dropped (and
    /// counted).
    #[inline]
    pub fn push(&mut self, tx: &mut Tx<T>, event: T) -> bool {
        if self.queue.is_empty() {
            match tx.push(event) {
                Ok(()) => true,
                Err(full) => self.hold(full.0),
            }
        } else {
            self.hold(event)
        }
    }

    /// Holds `event` behind what is held without trying the ring (a stage that flushes
    /// once per poll). False when the holder was full and the event was dropped (and
    /// counted).
    #[inline]
    pub fn hold(&mut self, event: T) -> bool {
        if self.queue.len() < self.capacity {
            self.queue.push_back(event);
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Pushes held events, oldest first, until the ring refuses one; returns how many
    /// went.
    pub fn flush(&mut self, tx: &mut Tx<T>) -> usize {
        if self.queue.is_empty() {
            return 0;
        }
        let (a, b) = self.queue.as_slices();
        let mut sent = tx.push_batch(a);
        if sent == a.len() && !b.is_empty() {
            sent += tx.push_batch(b);
        }
        if sent == self.queue.len() {
            // Empty again: start the next run at the front, in one contiguous slice.
            self.queue.clear();
        } else {
            self.queue.drain(..sent);
        }
        sent
    }

    /// Whether an equal event is held (to ask for something once).
    pub fn contains(&self, event: &T) -> bool
    where
        T: PartialEq,
    {
        self.queue.contains(event)
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events the holder can still take.
    #[inline]
    pub fn room(&self) -> usize {
        self.capacity - self.queue.len()
    }

    /// Events dropped because the holder was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use quanta::Clock;

    use super::*;
    use crate::metrics::{MetricsHub, SeriesKind};
    use crate::runtime::{Backpressure, Rx, link};

    fn ring(capacity: usize) -> (Tx<u32>, Rx<u32>) {
        let clock = Clock::new();
        let mut hub = MetricsHub::new(clock.clone());
        let rec = hub.recorder("held", SeriesKind::Hop);
        link("held", capacity, Backpressure::Retry, clock, rec)
    }

    fn drain(rx: &mut Rx<u32>) -> Vec<u32> {
        std::iter::from_fn(|| rx.pop()).collect()
    }

    #[test]
    fn refused_events_wait_in_order_and_go_before_newer_ones() {
        let (mut tx, mut rx) = ring(2);
        let mut held = Held::new(4);
        for v in 1..=4 {
            assert!(held.push(&mut tx, v));
        }
        assert_eq!(held.len(), 2, "the ring took two, the rest wait");
        assert_eq!(drain(&mut rx), [1, 2]);
        // Nothing newer overtakes what is held, even with room in the ring.
        assert!(held.push(&mut tx, 5));
        assert_eq!(held.len(), 3);
        assert_eq!(held.flush(&mut tx), 2);
        assert_eq!(drain(&mut rx), [3, 4]);
        assert_eq!(held.flush(&mut tx), 1);
        assert!(held.is_empty());
        assert_eq!(drain(&mut rx), [5]);
        assert_eq!(held.flush(&mut tx), 0);
        assert_eq!(held.dropped(), 0);
    }

    #[test]
    fn a_full_holder_drops_and_counts() {
        let (mut tx, mut rx) = ring(1);
        let mut held = Held::new(2);
        assert!(held.push(&mut tx, 1));
        assert!(held.push(&mut tx, 2));
        assert!(held.hold(3));
        assert_eq!(held.room(), 0);
        assert!(!held.push(&mut tx, 4));
        assert!(!held.hold(5));
        assert_eq!(held.dropped(), 2);
        assert!(held.contains(&3) && !held.contains(&4));
        assert_eq!(drain(&mut rx), [1]);
        assert_eq!(held.flush(&mut tx), 1);
        assert_eq!(drain(&mut rx), [2]);
        assert_eq!(held.flush(&mut tx), 1);
        assert_eq!(drain(&mut rx), [3]);
    }

    #[test]
    fn events_held_across_the_wrap_of_the_holder_keep_their_order() {
        let (mut tx, mut rx) = ring(3);
        let mut held = Held::new(4);
        let mut next = 0u32;
        let mut seen = Vec::new();
        // Hold some, flush, take at most two: the holder's storage wraps around.
        for round in 0..50 {
            for _ in 0..=(round % 4) {
                if held.room() > 0 {
                    assert!(held.hold(next));
                    next += 1;
                }
            }
            held.flush(&mut tx);
            seen.extend(rx.pop());
            seen.extend(rx.pop());
        }
        while !held.is_empty() || !rx.is_empty() {
            held.flush(&mut tx);
            seen.extend(drain(&mut rx));
        }
        assert_eq!(seen, (0..next).collect::<Vec<_>>());
        assert_eq!(held.dropped(), 0);
    }
}
