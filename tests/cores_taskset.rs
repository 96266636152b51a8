//! A layout naming a core outside the affinity mask the engine inherited starts and pins
//! there: `arb demo` runs under `taskset -c 0` (as a process on an `isolcpus` host
//! inherits a mask without the isolated cores) with a layout that pins its `trade`
//! thread to core 1. The stage thread runs on core 1 only; the cold threads (the
//! monitor) stay on the housekeeping core 0 and never on the stage's core.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `(thread name, Cpus_allowed_list, the CPU it last ran on)` of every thread of `pid`.
fn threads(pid: u32) -> Vec<(String, String, Option<usize>)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut out = Vec::new();
    for task in dir.flatten() {
        let p = task.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default().trim().to_owned();
        let allowed = std::fs::read_to_string(p.join("status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_owned()))
            .unwrap_or_default();
        // Field 39 of stat, counted after the parenthesised name: the CPU it last ran on.
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        let last_cpu =
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(36)?.parse().ok());
        out.push((comm, allowed, last_cpu));
    }
    out
}

#[test]
fn a_stage_pinned_outside_the_inherited_mask_runs_on_its_core() {
    let cpus = pipeline::runtime::cores::CpuView::system().usable();
    if !(cpus.contains(&0) && cpus.contains(&1) && Path::new("/usr/bin/taskset").exists()) {
        eprintln!("skipped: needs cores 0 and 1 and /usr/bin/taskset (usable: {cpus:?})");
        return;
    }
    let dir = std::env::temp_dir().join(format!("arb-taskset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = arb::config::DEFAULT_TOML.to_owned();
    let trade = "[[layout.threads]]\nname = \"trade\"\n";
    assert!(config.contains(trade), "the demo layout has a trade thread");
    config = config.replace(trade, "[[layout.threads]]\nname = \"trade\"\ncore = 1\n");
    let file = dir.join("pinned.toml");
    std::fs::write(&file, config).unwrap();

    let mut child = Command::new("/usr/bin/taskset")
        .args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_arb"))
        .args(["demo", "--no-tui", "--report", "json", "--duration", "6", "--config"])
        .arg(&file)
        .arg("--journal")
        .arg(dir.join("journal"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("taskset starts arb");
    let pid = child.id();

    // Once the trade thread has run a while, look at every thread.
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let t = threads(pid);
        let trade = t.iter().find(|(n, _, _)| n == "trade").cloned();
        if let Some((_, _, Some(_))) = &trade {
            if t.iter().any(|(n, _, _)| n == "monitor") {
                std::thread::sleep(Duration::from_millis(500));
                break threads(pid);
            }
        }
        assert!(Instant::now() < deadline, "no trade thread within 30 s: {t:?}");
        assert!(child.try_wait().unwrap().is_none(), "arb exited early");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "arb demo under taskset: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);

    let trade = seen.iter().find(|(n, _, _)| n == "trade").unwrap();
    assert_eq!(trade.1, "1", "the trade thread is pinned to core 1: {seen:?}");
    assert_eq!(trade.2, Some(1), "and runs there: {seen:?}");
    let monitor = seen.iter().find(|(n, _, _)| n == "monitor").unwrap();
    assert_eq!(monitor.1, "0", "the monitor stays on the housekeeping core: {seen:?}");
    for (name, allowed, _) in seen.iter().filter(|(n, _, _)| n != "trade") {
        let cpus = pipeline::runtime::cores::parse_cpu_list(allowed).unwrap_or_default();
        assert!(!cpus.contains(&1), "thread {name} may run on the stage's core 1 ({allowed})");
    }
    assert!(!stderr.contains("could not be pinned"), "{stderr}");
}
