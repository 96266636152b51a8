//! Every input the fuzzers crashed on (or that crashed earlier runs), kept under
//! `fuzz/regressions/<target>/` and run through the same function the cargo-fuzz target
//! calls (`fuzz/checks/`), on stable, in the test command. Each must give the verdict
//! documented for it below (the refusal the reader promises), without a panic; a file
//! in a folder that this table does not name fails the test, so that no kept input goes
//! unchecked.

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

/// (target, file, the verdict it must give, what it once did).
const KEPT: &[(&str, &str, &str, &str)] = &[
    (
        "decimal",
        "twenty-one-digits",
        "refused: Overflow",
        "a u64 overflow on 20+ digits: a panic in debug builds, a wrapped value in release",
    ),
    (
        "gate_md",
        "twenty-one-digits",
        "spot frame refused: NumberOutOfRange; snapshot refused: MissingField; \
         futures frame refused: NumberOutOfRange; snapshot refused: MissingField",
        "the same overflow in the level decoder's price and size",
    ),
    (
        "mexc_private",
        "fill-at-price-zero",
        "accepted: 3 messages, 2 events",
        "a spot order push whose cumulative amount did not parse (read as zero), beyond the \
         order's size, became a fill at price 0 when its grace ended",
    ),
];

#[test]
fn every_kept_crash_input_gives_its_documented_verdict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut seen = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fuzz/regressions") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let body =
            checks::target(&target).unwrap_or_else(|| panic!("fuzz/regressions/{target}: no such target"));
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(&(_, _, expected, _)) = KEPT.iter().find(|k| k.0 == target && k.1 == name) else {
                panic!("fuzz/regressions/{target}/{name} is not in KEPT: document its verdict");
            };
            let verdict = body(&std::fs::read(&file).unwrap());
            assert_eq!(verdict, expected, "fuzz/regressions/{target}/{name}");
            seen.push((target.clone(), name));
        }
    }
    for (target, file, ..) in KEPT {
        assert!(
            seen.iter().any(|(t, f)| t == target && f == file),
            "fuzz/regressions/{target}/{file} is missing"
        );
    }
}

#[test]
fn the_targets_are_the_cargo_fuzz_binaries() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"'))
        .filter(|n| *n != "arb-fuzz")
        .collect();
    let targets: Vec<&str> = checks::TARGETS.iter().map(|t| t.0).collect();
    assert_eq!(bins, targets);
}

#[test]
fn the_message_format_reads_what_it_writes() {
    let data = checks::encode_messages([(0, 1, &b"abc"[..]), (255, 7, b""), (3, 0, b"{}")]);
    let back: Vec<_> = checks::messages(&data).collect();
    assert_eq!(back, [(0, 1, &b"abc"[..]), (255, 7, &b""[..]), (3, 0, &b"{}"[..])]);
    // A short last message takes what is left.
    assert_eq!(checks::messages(&[9, 9, 200, 0, b'x']).collect::<Vec<_>>(), [(9, 9, &b"x"[..])]);
}

#[test]
fn the_kept_seeds_are_read_whole() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut n = 0;
    for dir in std::fs::read_dir(&root).expect("fuzz/seeds") {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let body = checks::target(&target).unwrap_or_else(|| panic!("fuzz/seeds/{target}: no such target"));
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let verdict = body(&std::fs::read(&file).unwrap());
            assert!(!verdict.contains("refused"), "{}: {verdict}", file.display());
            n += 1;
        }
    }
    assert!(n > 0, "no seeds under fuzz/seeds");
}
