//! For fuzzing and tests (feature `fuzzing`): Gate's readers of private pushes and REST
//! answers, driven by arbitrary messages without a socket the way the order entry drives
//! them, into one order tracker on a mock clock. The fuzz target `gate_private`
//! (`fuzz/checks/private.rs`) and its kept crash inputs (`tests/fuzz_regressions.rs`)
//! use it.

use std::sync::Arc;

use pipeline::msg::StateInput;
use pipeline::types::{Instruments, Market, Venue};

use super::orders::{Kind, LIST_PAGES, on_completion};
use super::private::on_push;
use super::ws_api::WsApi;
use crate::net::http::Outcome;
use crate::orders::core::{Core, fuzz_core};
use crate::orders::pending::Pending;

/// Every REST request the order entry makes, as [`Reports::feed`] numbers them from 2.
const KINDS: [Kind; 17] = [
    Kind::Warm,
    Kind::Uid,
    Kind::Create,
    Kind::Cancel,
    Kind::Query { external: false, by_text: false },
    Kind::Query { external: false, by_text: true },
    Kind::Query { external: true, by_text: false },
    Kind::Query { external: true, by_text: true },
    Kind::List { external: false, open: false, page: 1 },
    Kind::List { external: false, open: true, page: 1 },
    Kind::List { external: true, open: false, page: LIST_PAGES },
    Kind::List { external: true, open: true, page: 1 },
    Kind::CancelAll,
    Kind::SpotAccounts,
    Kind::FuturesAccount,
    Kind::Positions,
    Kind::Funding,
];

/// The order tracker and account view that Gate's readers write into.
#[derive(Debug)]
pub struct Reports {
    core: Core,
    mock: Arc<quanta::Mock>,
    slots: Vec<usize>,
    acked: usize,
    warm: usize,
    uid: Option<u64>,
    /// A trading API session with the open orders sent on it, so that answers reach them.
    api: WsApi,
}

impl Reports {
    /// Three orders of this process are open at start (client ids `1-0-0` spot buy,
    /// `2-0-0` futures sell, `3-0-0` spot fill-or-kill buy, on the first instruments).
    pub fn new(instruments: Arc<Instruments>) -> Self {
        let (core, mock, slots) = fuzz_core(instruments, Venue::GateIo);
        let mut api = WsApi::new(true);
        for &k in &slots {
            api.sent(core.tracker.view(k).client);
        }
        Reports { core, mock, slots, acked: 0, warm: 0, uid: None, api }
    }

    /// Hands one message to a reader. `kind` 0 is a spot private push, 1 a futures one;
    /// from 2 on, the answer to a REST request ([`KINDS`], cyclically). `arg`: bit 0 the
    /// private stream is up; bit 1 the request was about futures; bits 2-3 the order it
    /// was about (one of those open at start; 3: none); bits 4-7 how it ended
    /// (`Outcome::for_fuzzing`).
    pub fn feed(&mut self, kind: u8, arg: u8, payload: &[u8]) {
        let up = arg & 1 != 0;
        if kind < 2 {
            let market = if kind == 0 { Market::Spot } else { Market::Futures };
            on_push(&mut self.core, market, payload, &mut self.acked, up, &mut self.api);
            return;
        }
        let request = KINDS[usize::from(kind - 2) % KINDS.len()];
        let mut meta = Pending::none();
        meta.market = if arg & 2 != 0 { Market::Futures } else { Market::Spot };
        if let Some(&slot) = self.slots.get(usize::from(arg >> 2 & 3)) {
            meta.slot = slot as u32;
        }
        let outcome = Outcome::for_fuzzing(arg >> 4, payload);
        let _ = on_completion(&mut self.core, request, meta, &outcome, up, &mut self.warm, &mut self.uid);
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
