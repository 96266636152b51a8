#![no_main]
use adapters::venues::mexc::md::futures::MexcFuturesMd;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let t = common::table();
    let mut out = Vec::new();
    let ok = MexcFuturesMd::new(&t).decode(data, 1, &mut out).is_ok();
    common::check(ok, &out);
});
