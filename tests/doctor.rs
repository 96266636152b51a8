//! `arb doctor` against fake `/sys` and `/proc` trees: a tuned host passes, an untuned
//! one gets the advice it needs, and a bare tree is `unknown`, never an error.

use std::path::{Path, PathBuf};

use arb::doctor::{self, Finding, Host, Report, Status};
use pipeline::runtime::{IdleKind, Layout, ThreadSpec};

/// A temporary root directory, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("arb-doctor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Tree(root)
    }

    fn file(&self, path: &str, contents: &str) -> &Self {
        let p = self.0.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{contents}\n")).unwrap();
        self
    }

    fn host(&self) -> Host {
        Host::at(&self.0)
    }

    /// `n` CPUs where cpu `c` and `c + n/2` are SMT siblings, each with a governor.
    fn cpus(&self, n: usize, governor: impl Fn(usize) -> &'static str) -> &Self {
        self.file("/sys/devices/system/cpu/online", &format!("0-{}", n - 1));
        for c in 0..n {
            let base = c % (n / 2);
            let dir = format!("/sys/devices/system/cpu/cpu{c}");
            self.file(&format!("{dir}/cpufreq/scaling_governor"), governor(c));
            self.file(&format!("{dir}/topology/thread_siblings_list"), &format!("{base},{}", base + n / 2));
        }
        self.file("/proc/self/status", &format!("Name:\tarb\nCpus_allowed_list:\t0-{}\n", n - 1));
        self
    }

    fn irq(&self, irq: u32, affinity: &str) -> &Self {
        self.file(&format!("/proc/irq/{irq}/smp_affinity_list"), affinity)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pinned(cores: &[(&str, usize)]) -> Layout {
    Layout::new(
        cores
            .iter()
            .map(|(name, c)| ThreadSpec::new(*name, &[name]).pinned(*c).idle(IdleKind::BusySpin))
            .collect(),
    )
}

fn production() -> Layout {
    doctor::layout_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml")).unwrap()
}

fn get<'a>(report: &'a Report, check: &str) -> &'a Finding {
    report.find(check).unwrap_or_else(|| panic!("no {check} in\n{}", report.to_text()))
}

fn assert_status(report: &Report, check: &str, status: Status) {
    let f = get(report, check);
    assert_eq!(f.status, status, "{check}: {f:?}\n{}", report.to_text());
}

#[test]
fn a_tuned_host_passes_every_check() {
    let t = Tree::new("tuned");
    t.cpus(16, |c| if (2..8).contains(&c) { "performance" } else { "powersave" })
        .file("/sys/devices/system/cpu/isolated", "2-7,10-15")
        .file("/sys/devices/system/cpu/nohz_full", "2-7,10-15")
        .file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,2-7,10-15 nohz_full=2-7,10-15 rcu_nocbs=2-7,10-15")
        .file("/sys/devices/system/cpu/smt/control", "on")
        .file("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]")
        .file("/sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never")
        .irq(0, "0-1")
        .irq(24, "0-15")
        .file("/proc/irq/24/effective_affinity_list", "1")
        .file("/proc/irq/default_smp_affinity", "0003")
        .file("/proc/1/comm", "systemd")
        .file("/sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc")
        .file("/sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet acpi_pm")
        .file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc rdtscp");
    let report = doctor::inspect(&t.host(), Some(&production()));
    for f in &report.findings {
        assert_eq!(f.status, Status::Ok, "{f:?}\n{}", report.to_text());
    }
    assert_eq!(report.pinned.as_deref(), Some("2-7"));
    assert!(get(&report, "smt").detail.contains("10-15"), "{}", report.to_text());
    // The text has one line per check and a summary.
    assert_eq!(report.to_text().lines().count(), report.findings.len() + 1);
}

#[test]
fn an_untuned_host_gets_advice() {
    let t = Tree::new("untuned");
    t.cpus(8, |_| "powersave")
        .file("/sys/devices/system/cpu/isolated", "")
        .file("/sys/devices/system/cpu/nohz_full", "(null)")
        .file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet")
        .file("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never")
        .file("/sys/kernel/mm/transparent_hugepage/defrag", "[always] defer madvise never")
        .irq(0, "0")
        .irq(24, "0-7")
        .irq(25, "2")
        .file("/proc/interrupts", "           CPU0       CPU1\n  0:         35          0   IO-APIC   2-edge      timer\n 24:     12   9   PCI-MSI 524288-edge      eth0-TxRx-0\n")
        .file("/proc/irq/default_smp_affinity", "ff")
        .file("/proc/812/comm", "irqbalance")
        .file("/sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet")
        .file("/sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet")
        .file("/proc/cpuinfo", "flags\t\t: fpu tsc");
    // Pins 2 and 6 are SMT siblings here; core 9 does not exist.
    let layout = pinned(&[("md", 2), ("book", 6), ("detect", 9), ("risk", 0)]);
    let r = doctor::inspect(&t.host(), Some(&layout));

    assert_status(&r, "layout", Status::Fail);
    let layout = get(&r, "layout");
    assert!(layout.detail.contains("detect") && layout.detail.contains("not online"), "{layout:?}");
    assert!(layout.detail.contains("core 0"), "{layout:?}");
    assert_status(&r, "isolcpus", Status::Warn);
    assert!(get(&r, "isolcpus").advice.as_deref().unwrap().contains("isolcpus=0,2,6,9"), "{}", r.to_text());
    assert_status(&r, "nohz_full", Status::Warn);
    assert_status(&r, "rcu_nocbs", Status::Warn);
    assert_status(&r, "governor", Status::Warn);
    assert!(get(&r, "governor").advice.as_deref().unwrap().contains("cpu 0,2,6"), "{}", r.to_text());
    assert_status(&r, "thp", Status::Warn);
    assert_status(&r, "irq_affinity", Status::Warn);
    let irq = &get(&r, "irq_affinity").detail;
    assert!(
        irq.contains("24 eth0-TxRx-0 on 0,2,6") && irq.contains("25 on 2") && irq.contains("default"),
        "{irq}"
    );
    assert!(
        get(&r, "irq_affinity").advice.as_deref().unwrap().contains("route them to 1,3-5,7"),
        "{}",
        r.to_text()
    );
    assert_status(&r, "irqbalance", Status::Warn);
    assert_status(&r, "smt", Status::Warn);
    assert!(get(&r, "smt").detail.contains("two stages share one core"), "{}", r.to_text());
    assert_status(&r, "clocksource", Status::Fail);
    assert!(get(&r, "clocksource").advice.as_deref().unwrap().contains("echo tsc"));
    assert_status(&r, "tsc", Status::Warn);

    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let checks = json["findings"].as_array().unwrap();
    assert_eq!(checks.len(), r.findings.len());
    assert!(checks.iter().any(|c| c["check"] == "clocksource" && c["status"] == "fail"));
}

#[test]
fn boot_parameters_fall_back_to_the_command_line() {
    let t = Tree::new("cmdline");
    t.cpus(8, |_| "performance").file("/proc/cmdline", "ro isolcpus=domain,2-3 nohz_full=2-3 rcu_nocbs=2");
    let r = doctor::inspect(&t.host(), Some(&pinned(&[("md", 2), ("book", 3)])));
    assert_status(&r, "isolcpus", Status::Ok);
    assert_status(&r, "nohz_full", Status::Ok);
    // rcu_nocbs lists only 2, but nohz_full offloads 3 as well.
    assert_status(&r, "rcu_nocbs", Status::Ok);
    assert_status(&r, "governor", Status::Ok);
}

#[test]
fn without_a_layout_the_isolated_cores_are_checked() {
    let t = Tree::new("nolayout");
    t.cpus(4, |c| if c == 3 { "schedutil" } else { "performance" })
        .file("/sys/devices/system/cpu/isolated", "2-3")
        .file("/sys/devices/system/cpu/nohz_full", "2")
        .irq(30, "3");
    let r = doctor::inspect(&t.host(), None);
    assert!(r.find("layout").is_none());
    assert_eq!(r.pinned, None);
    assert_status(&r, "isolcpus", Status::Ok);
    assert_status(&r, "nohz_full", Status::Warn);
    assert_status(&r, "governor", Status::Warn);
    assert!(get(&r, "governor").detail.contains("cpu 3: schedutil"));
    assert_status(&r, "irq_affinity", Status::Warn);
    // cpu 2's sibling is 0 and 3's is 1, neither isolated.
    assert_status(&r, "smt", Status::Warn);
}

#[test]
fn a_bare_tree_is_unknown_not_an_error() {
    let t = Tree::new("bare");
    let r = doctor::inspect(&t.host(), Some(&production()));
    for f in &r.findings {
        assert!(matches!(f.status, Status::Unknown | Status::Ok | Status::Warn), "{f:?}");
        assert_ne!(f.status, Status::Fail, "{f:?}");
    }
    for check in ["layout", "isolcpus", "governor", "thp", "irq_affinity", "clocksource", "tsc"] {
        assert_status(&r, check, Status::Unknown);
    }
    // A non-existent root reads the same way.
    let r = doctor::inspect(&Host::at("/nonexistent/arb-doctor"), None);
    assert_eq!(r.count(Status::Fail), 0);
}

#[test]
fn a_cpuset_outside_the_pinned_cores_fails() {
    let t = Tree::new("cpuset");
    t.cpus(8, |_| "performance")
        .file("/proc/self/status", "Name:\tarb\nCpus_allowed_list:\t0-3\n")
        .file("/proc/self/cgroup", "0::/kubepods/pod1")
        .file("/sys/fs/cgroup/kubepods/pod1/cpuset.cpus.effective", "0-3");
    let r = doctor::inspect(&t.host(), Some(&production()));
    assert_status(&r, "layout", Status::Fail);
    let detail = &get(&r, "layout").detail;
    assert!(detail.contains("cgroup cpuset allows (0-3"), "{}", r.to_text());
    assert!(detail.contains("/sys/fs/cgroup/kubepods/pod1/cpuset.cpus.effective"), "{}", r.to_text());
}

#[test]
fn isolated_cores_outside_the_inherited_mask_are_explained_not_refused() {
    // isolcpus=2-7: a shell's children inherit the mask 0-1; the cgroup allows 0-7.
    let t = Tree::new("isolcpus-mask");
    t.cpus(8, |_| "performance")
        .file("/proc/cmdline", "ro isolcpus=domain,managed_irq,2-7 nohz_full=2-7 rcu_nocbs=2-7")
        .file("/sys/devices/system/cpu/isolated", "2-7")
        .file("/proc/self/status", "Name:\tarb\nCpus_allowed_list:\t0-1\n")
        .file("/proc/self/cgroup", "0::/system.slice/arb.service")
        .file("/sys/fs/cgroup/cpuset.cpus.effective", "0-7");
    let r = doctor::inspect(&t.host(), Some(&production()));
    assert_status(&r, "layout", Status::Ok);
    let detail = &get(&r, "layout").detail;
    for want in [
        "outside the affinity mask this process inherited (0-1, which leaves out the isolated cores",
        "allowed by the cgroup (0-7)",
        "no taskset is needed",
        "housekeeping cores 0-1",
    ] {
        assert!(detail.contains(want), "{want:?} not in {detail}");
    }
}
