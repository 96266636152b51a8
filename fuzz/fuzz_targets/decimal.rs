#![no_main]
use libfuzzer_sys::fuzz_target;
use pipeline::types::{Price, Scaled};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let scale = data[0] % 19;
    if let Ok(p) = Price::parse_bytes(&data[1..], scale) {
        // Whatever parses formats back to something that parses to the same value.
        let text = Scaled::new(p.0 as i128, scale).to_string();
        assert_eq!(Price::parse(&text, scale), Ok(p));
    }
});
