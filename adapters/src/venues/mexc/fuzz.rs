//! For fuzzing and tests (feature `fuzzing`): MEXC's readers of private pushes (spot
//! protobuf and JSON frames, futures JSON) and REST answers (spot JSON, futures
//! envelopes), driven by arbitrary messages without a socket the way the two order
//! entries drive them, into one order tracker on a mock clock. The fuzz target
//! `mexc_private` (`fuzz/checks/private.rs`) and its kept crash inputs
//! (`tests/fuzz_regressions.rs`) use it.

use std::sync::Arc;

use pipeline::msg::StateInput;
use pipeline::types::{Instruments, Venue};

use super::orders::{futures, spot};
use super::private;
use crate::net::http::Outcome;
use crate::orders::core::{Core, fuzz_core};
use crate::orders::pending::Pending;

/// Every REST request of the spot order entry, as [`Reports::feed`] numbers them from 3.
const SPOT_KINDS: [spot::Kind; 10] = [
    spot::Kind::Warm,
    spot::Kind::ListenKey,
    spot::Kind::KeepKey,
    spot::Kind::Create,
    spot::Kind::Cancel,
    spot::Kind::Query { external: false },
    spot::Kind::Query { external: true },
    spot::Kind::CancelAll,
    spot::Kind::Account,
    spot::Kind::CloseKey,
];

/// Every REST request of the futures order entry, numbered on from the spot ones.
const FUTURES_KINDS: [futures::Kind; 8] = [
    futures::Kind::Warm,
    futures::Kind::Create,
    futures::Kind::Cancel,
    futures::Kind::Query { external: false },
    futures::Kind::Query { external: true },
    futures::Kind::CancelAll,
    futures::Kind::Assets,
    futures::Kind::Positions,
];

/// The order tracker and account view that MEXC's readers write into.
#[derive(Debug)]
pub struct Reports {
    core: Core,
    mock: Arc<quanta::Mock>,
    slots: Vec<usize>,
    topics: [bool; 3],
    futures_up: bool,
    warm: usize,
}

impl Reports {
    /// Three orders of this process are open at start (client ids `1-0-0` spot buy,
    /// `2-0-0` futures sell, `3-0-0` spot fill-or-kill buy, on the first instruments).
    pub fn new(instruments: Arc<Instruments>) -> Self {
        let (core, mock, slots) = fuzz_core(instruments, Venue::Mexc);
        Reports { core, mock, slots, topics: [false; 3], futures_up: false, warm: 0 }
    }

    /// Hands one message to a reader. `kind` 0 is a spot protobuf push, 1 a spot text
    /// frame, 2 a futures push; from 3 on, the answer to a REST request (the spot kinds,
    /// then the futures kinds, cyclically). `arg`: bit 0 the private stream is up (spot);
    /// bits 2-3 the order the request was about (one of those open at start; 3: none);
    /// bits 4-7 how it ended (`Outcome::for_fuzzing`).
    pub fn feed(&mut self, kind: u8, arg: u8, payload: &[u8]) {
        let up = arg & 1 != 0;
        let core = &mut self.core;
        match kind {
            0 => {
                let _ = private::spot::on_binary(core, payload, up);
            }
            1 => private::spot::on_text(core, payload, &mut self.topics),
            2 => {
                let _ = private::futures::on_push(core, payload, &mut self.futures_up);
            }
            _ => {
                let mut meta = Pending::none();
                if let Some(&slot) = self.slots.get(usize::from(arg >> 2 & 3)) {
                    meta.slot = slot as u32;
                }
                let outcome = Outcome::for_fuzzing(arg >> 4, payload);
                let i = usize::from(kind - 3) % (SPOT_KINDS.len() + FUTURES_KINDS.len());
                match SPOT_KINDS.get(i) {
                    Some(&k) => {
                        let _ = spot::on_completion(core, k, meta, &outcome, up, &mut self.warm);
                    }
                    None => {
                        let k = FUTURES_KINDS[i - SPOT_KINDS.len()];
                        futures::on_completion(core, k, meta, &outcome, up, &mut self.warm);
                    }
                }
            }
        }
    }

    /// Moves the clock on by `ms` and releases the estimates held back that are due (all
    /// of them with `force`).
    pub fn advance(&mut self, ms: u64, force: bool) {
        self.core.fuzz_advance(&self.mock, ms, force);
    }

    /// Moves what the readers reported for the state stage into `out`.
    pub fn drain(&mut self, out: &mut Vec<StateInput>) {
        self.core.fuzz_drain(out);
    }
}
