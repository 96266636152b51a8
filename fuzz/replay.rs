//! Runs fuzz inputs through their target's body on stable, without libFuzzer: a crash
//! file from `scripts/fuzz.sh`, a whole corpus folder, or a kept regression input.
//!
//!     cargo run --example fuzz_replay -- TARGET FILE_OR_FOLDER...
//!
//! Prints each input's verdict (the panic, for a crash). `--list` prints the targets.

#[path = "checks/mod.rs"]
mod checks;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for (name, _) in checks::TARGETS {
            println!("{name}");
        }
        return;
    }
    let Some((target, paths)) = args.split_first() else {
        eprintln!("usage: fuzz_replay TARGET FILE_OR_FOLDER... | --list");
        std::process::exit(2);
    };
    let Some(body) = checks::target(target) else {
        eprintln!("no target `{target}` (--list names them)");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    for p in paths {
        match std::fs::read_dir(p) {
            Ok(dir) => files.extend(dir.filter_map(|e| e.ok()).map(|e| e.path())),
            Err(_) => files.push(p.into()),
        }
    }
    files.sort();
    for f in files {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        println!("{}: {}", f.display(), body(&data));
    }
}
