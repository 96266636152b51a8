//! A feed source that plays recorded captures through the live decoders.
//!
//! Messages are decoded in arrival order, as fast as the md stage polls (or paced to
//! their recorded times when asked). Receive times are the recorded ones shifted onto
//! the engine clock, so freshness checks see the same ages as live. REST snapshots
//! appear where they were recorded; resync requests cannot fetch new ones, so they are
//! counted and otherwise ignored.

use std::sync::Arc;

use pipeline::md::FeedSource;
use pipeline::msg::{FeedLoss, MdBody, MdEvent};
use pipeline::types::{InstrumentId, Instruments};

use super::decoders::Decoders;
use crate::capture::Record;
use crate::decode::DecodeStats;

/// Plays records through the decoders.
#[derive(Debug)]
pub struct ReplaySource {
    decoders: Decoders,
    records: Vec<Record>,
    next: usize,
    per_poll: usize,
    /// Added to recorded receive times; set on the first poll when pacing or shifting.
    offset: Option<i128>,
    paced: bool,
    /// Paced frames are stamped with the time the md stage took them, not their schedule.
    stamp_on_read: bool,
    /// Virtual time: the mock clock every stage reads, moved to each record's time.
    virtual_clock: Option<Arc<quanta::Mock>>,
    done: Arc<std::sync::atomic::AtomicBool>,
    stats: Arc<DecodeStats>,
    resyncs_requested: u64,
}

impl ReplaySource {
    pub fn new(instruments: &Instruments, records: Vec<Record>, stats: Arc<DecodeStats>) -> Self {
        Self {
            decoders: Decoders::new(instruments),
            records,
            next: 0,
            per_poll: 64,
            offset: None,
            paced: false,
            stamp_on_read: false,
            virtual_clock: None,
            done: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            stats,
            resyncs_requested: 0,
        }
    }

    /// Drives `mock` (the clock every stage of the engine reads) to each record's time
    /// before decoding it: the replay runs in the recorded time, as fast as the engine
    /// goes, and with a single-threaded layout the whole run is deterministic.
    pub fn with_virtual_time(mut self, mock: Arc<quanta::Mock>) -> Self {
        self.virtual_clock = Some(mock);
        self
    }

    /// Replays at the recorded pace instead of as fast as possible.
    pub fn paced(mut self) -> Self {
        self.paced = true;
        self
    }

    /// Paced, with each frame stamped when the md stage takes it (as the live feed stamps
    /// a frame when it reads it off its socket), at most `per_poll` frames per poll.
    pub fn paced_as_read(mut self, per_poll: usize) -> Self {
        self.paced = true;
        self.stamp_on_read = true;
        self.per_poll = per_poll.max(1);
        self
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.records.len()
    }

    /// A flag that turns true once every record has been played, for other threads.
    pub fn done_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.done.clone()
    }

    /// The decode counters this source feeds.
    pub fn stats(&self) -> Arc<DecodeStats> {
        self.stats.clone()
    }

    pub fn resyncs_requested(&self) -> u64 {
        self.resyncs_requested
    }

    pub fn remaining(&self) -> usize {
        self.records.len() - self.next
    }
}

impl FeedSource for ReplaySource {
    fn poll(&mut self, now_ns: u64, out: &mut Vec<MdEvent>) -> usize {
        if self.next >= self.records.len() {
            self.done.store(true, std::sync::atomic::Ordering::Release);
            return 0;
        }
        let mut n = 0;
        if let Some(mock) = &self.virtual_clock {
            // One record per poll, so the stages see time move as it did when recorded.
            let Some(rec) = self.records.get(self.next) else { return 0 };
            let offset = *self.offset.get_or_insert(mock.value() as i128 - rec.recv_ns as i128);
            let at = (rec.recv_ns as i128 + offset).max(0) as u64;
            let now = mock.value();
            if at > now {
                mock.increment(at - now);
            }
            self.stats.frame();
            if let Err(e) = self.decoders.decode(rec, at.max(now), out) {
                self.stats.refuse(e.reason);
                if let Some(inst) = e.inst {
                    out.push(MdEvent {
                        inst,
                        recv_ns: at,
                        exch_ms: 0,
                        body: MdBody::FeedLost { reason: FeedLoss::BadUpdate },
                    });
                }
            }
            self.next += 1;
            return 1;
        }
        while n < self.per_poll && self.next < self.records.len() {
            let rec = &self.records[self.next];
            let offset = *self.offset.get_or_insert(now_ns as i128 - rec.recv_ns as i128);
            let at = (rec.recv_ns as i128 + offset).max(0) as u64;
            if self.paced && at > now_ns {
                break;
            }
            let recv_ns = if self.paced && !self.stamp_on_read { at } else { now_ns };
            self.stats.frame();
            if let Err(e) = self.decoders.decode(rec, recv_ns, out) {
                self.stats.refuse(e.reason);
                if let Some(inst) = e.inst {
                    out.push(MdEvent {
                        inst,
                        recv_ns,
                        exch_ms: 0,
                        body: MdBody::FeedLost { reason: FeedLoss::BadUpdate },
                    });
                }
            }
            self.next += 1;
            n += 1;
        }
        n
    }

    fn resync(&mut self, _inst: InstrumentId, _now_ns: u64) {
        self.resyncs_requested += 1;
    }
}
