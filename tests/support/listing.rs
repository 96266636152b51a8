//! What the tests of instruments added and removed while running share: the table as
//! (venue, market, symbol) rows, a start on a configuration file, the control socket's
//! answers, and waiting for books to sync.

use std::path::Path;
use std::time::{Duration, Instant};

use arb::config::Config;
use pipeline::types::{InstrumentId, Market, Venue};

/// (venue, market, symbol) of each instrument, in id order.
pub type Table = Vec<(Venue, Market, String)>;

pub fn table(s: &arb::engine::Session) -> Table {
    s.instruments().iter().map(|i| (i.venue, i.market, i.symbol.clone())).collect()
}

/// Polls `done` until it holds; generous limits: the machine may be loaded.
pub fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the engine on `config` with its journal in `journal`.
pub fn start(config: &Path, journal: &Path) -> arb::engine::Session {
    let mut cfg = Config::load(Some(config)).unwrap();
    cfg.journal.dir = journal.to_owned();
    arb::cmd::live::start(cfg, None).unwrap()
}

/// The result of a control-socket request that must succeed.
pub fn ctl(server: &arb::ctl::CtlServer, line: &str) -> serde_json::Value {
    let answer = arb::ctl::request(server.path(), line).expect("the engine answers");
    assert_eq!(answer["ok"], true, "{line}: {answer}");
    answer["result"].clone()
}

/// The instrument ids an `add-symbol` or `remove-symbol` answer lists under `key`.
#[allow(dead_code)]
pub fn ids(answer: &serde_json::Value, key: &str) -> Vec<InstrumentId> {
    answer[key].as_array().unwrap().iter().map(|a| InstrumentId(a["id"].as_u64().unwrap() as u16)).collect()
}
