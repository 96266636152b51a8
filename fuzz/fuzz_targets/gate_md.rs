#![no_main]
use adapters::venues::gateio::md::GateMd;
use libfuzzer_sys::fuzz_target;
use pipeline::types::Market;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let t = common::table();
    for market in [Market::Spot, Market::Futures] {
        let mut out = Vec::new();
        let ok = GateMd::new(&t, market).decode(data, 1, &mut out).is_ok();
        common::check(ok, &out);
    }
});
