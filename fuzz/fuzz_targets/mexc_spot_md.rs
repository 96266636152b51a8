#![no_main]
use adapters::venues::mexc::md::spot::MexcSpotMd;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let t = common::table();
    let md = MexcSpotMd::new(&t);
    for binary in [true, false] {
        let mut out = Vec::new();
        let ok = md.decode(data, binary, 1, &mut out).is_ok();
        common::check(ok, &out);
    }
});
