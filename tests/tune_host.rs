//! `scripts/tune-host.sh` against a fake `/sys` and `/proc` (its `--sysroot`): a dry run
//! changes nothing, `--yes` applies the governor, THP and IRQ affinity for the stage
//! cores, answers other than yes skip a step, and `arb doctor` then agrees.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arb::doctor::{self, Host, Status};
use std::io::Write as _;

struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("arb-tune-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let t = Tree(root);
        t.file("sys/devices/system/cpu/online", "0-7");
        t.file("sys/devices/system/cpu/isolated", "");
        for c in 0..8 {
            t.file(&format!("sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"), "powersave");
        }
        t.file("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never");
        t.file("sys/kernel/mm/transparent_hugepage/defrag", "[always] defer madvise never");
        for irq in [0, 24, 25] {
            t.file(&format!("proc/irq/{irq}/smp_affinity_list"), "0-7");
        }
        t.file("proc/irq/default_smp_affinity", "ff");
        t.file("proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet nohz_full=2-7");
        t
    }

    fn file(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{text}\n")).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap().trim().to_owned()
    }

    fn run(&self, args: &[&str], stdin: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tune-host.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .arg("--sysroot")
            .arg(&self.0)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{text}");
        text
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn dry_run_changes_nothing() {
    let t = Tree::new("dry");
    let out = t.run(&["--cores", "2-7", "--dry-run"], "");
    assert!(out.contains("stage cores:        2-7") && out.contains("housekeeping cores: 0-1"), "{out}");
    assert!(out.contains("echo performance") && out.contains("echo madvise"), "{out}");
    assert!(out.contains("isolcpus=managed_irq,domain,2-7"), "{out}");
    assert!(!out.contains(" nohz_full=2-7 "), "already on the command line:\n{out}");
    assert_eq!(t.read("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "powersave");
    assert_eq!(t.read("proc/irq/24/smp_affinity_list"), "0-7");
}

#[test]
fn yes_applies_the_runtime_settings() {
    let t = Tree::new("yes");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
    let out = t.run(&["--config", config.to_str().unwrap(), "--yes"], "");
    assert!(out.contains("applied 3, skipped 0"), "{out}");
    for c in 2..8 {
        assert_eq!(t.read(&format!("sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor")), "performance");
    }
    assert_eq!(t.read("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"), "powersave");
    assert_eq!(t.read("sys/kernel/mm/transparent_hugepage/enabled"), "madvise");
    assert_eq!(t.read("sys/kernel/mm/transparent_hugepage/defrag"), "madvise");
    for irq in [0, 24, 25] {
        assert_eq!(t.read(&format!("proc/irq/{irq}/smp_affinity_list")), "0-1");
    }
    assert_eq!(t.read("proc/irq/default_smp_affinity"), "00000003");

    let layout = doctor::layout_of(&config).unwrap();
    let report = doctor::inspect(&Host::at(&t.0), Some(&layout));
    for check in ["governor", "thp", "irq_affinity"] {
        assert_eq!(report.find(check).unwrap().status, Status::Ok, "{}", report.to_text());
    }
}

#[test]
fn only_yes_applies_a_step() {
    let t = Tree::new("ask");
    let out = t.run(&["--cores", "4-5", "--thp", "never"], "n\nyes\n\n");
    assert!(out.contains("applied 1, skipped 2"), "{out}");
    assert_eq!(t.read("sys/devices/system/cpu/cpu4/cpufreq/scaling_governor"), "powersave");
    assert_eq!(t.read("sys/kernel/mm/transparent_hugepage/enabled"), "never");
    assert_eq!(t.read("proc/irq/24/smp_affinity_list"), "0-7");
}
