//! Host checks for low latency: what `arb doctor` reports.
//!
//! The engine's latency depends as much on the host as on the code: a busy-spinning stage
//! on a core that also takes interrupts, timer ticks, RCU callbacks or another process, or
//! whose clock drops to save power, loses microseconds at random. Each check reads what
//! the kernel exposes under `/sys` and `/proc`, compares it with the cores the layout
//! pins (or, without a layout, the isolated cores) and says what to change; the fixes are
//! explained in `perf/TUNING.md` and the runtime ones applied by `scripts/tune-host.sh`.
//!
//! Everything is read through a [`Host`] rooted at a directory (`/` in production, a
//! fake tree in tests). Nothing needs root: a file that is missing or unreadable makes
//! its check `unknown`, never an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use pipeline::runtime::cores::CpuView;
use pipeline::runtime::{IdleKind, Layout};
use serde::Serialize;

/// The files of one host, under `root`.
#[derive(Clone, Debug)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The machine this process runs on.
    pub fn system() -> Self {
        Self::at("/")
    }

    /// A tree laid out like `/` (tests, or a copy of another host's `/sys` and `/proc`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    /// The directory standing for `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// The trimmed contents of `abs`, or `None` when it cannot be read.
    fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok().map(|s| s.trim().to_owned())
    }

    /// The entry names of directory `abs`, sorted.
    fn list(&self, abs: &str) -> Option<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(abs))
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        Some(names)
    }
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// The host does not expose what the check needs (a VM without cpufreq, a container
    /// without `/proc/irq`, no permission).
    Unknown,
}

impl Status {
    pub const fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// The outcome of one check: what was found and, unless it is fine, what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl Finding {
    fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Finding { check, status, detail: detail.into(), advice: None }
    }

    fn advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = Some(advice.into());
        self
    }
}

/// Every finding, in the order the checks ran.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The cores the layout pins, if a layout was given.
    pub pinned: Option<String>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    pub fn find(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    /// One line per check, then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = write!(out, "{:<7} {:<13} {}", f.status.label(), f.check, f.detail);
            if let Some(a) = &f.advice {
                let _ = write!(out, " -> {a}");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} ok, {} warn, {} fail, {} unknown{}",
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Unknown),
            if self.pinned.is_none() { " (no --config: checked against the isolated cores)" } else { "" }
        );
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A set of CPU numbers, printed in the kernel's list format (`0-3,8`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSet(pub BTreeSet<usize>);

impl CpuSet {
    /// Parses the kernel's list format (`0-3,8,10-11`; `2-15:2` strides too). Empty text
    /// and `(null)` are the empty set; anything unparsable is `None`.
    pub fn parse_list(text: &str) -> Option<Self> {
        pipeline::runtime::cores::parse_cpu_list(text).map(|cpus| CpuSet(cpus.into_iter().collect()))
    }

    /// Parses a hex mask as in `/proc/irq/default_smp_affinity` (`ff`, `00000000,0000000f`).
    pub fn parse_mask(text: &str) -> Option<Self> {
        let digits: String = text.trim().chars().filter(|&c| c != ',').collect();
        if digits.is_empty() {
            return None;
        }
        let mut set = BTreeSet::new();
        for (i, c) in digits.chars().rev().enumerate() {
            let nibble = c.to_digit(16)? as usize;
            for bit in 0..4 {
                if nibble & (1 << bit) != 0 {
                    set.insert(i * 4 + bit);
                }
            }
        }
        Some(CpuSet(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, cpu: usize) -> bool {
        self.0.contains(&cpu)
    }

    pub fn union(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.union(&other.0).copied().collect())
    }

    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.intersection(&other.0).copied().collect())
    }

    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.difference(&other.0).copied().collect())
    }

    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.0.is_subset(&other.0)
    }
}

impl FromIterator<usize> for CpuSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        CpuSet(iter.into_iter().collect())
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end = iter.next().unwrap_or(end);
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

/// One pinned thread of the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pin {
    thread: String,
    core: usize,
}

/// What the checks compare the host against.
struct Context {
    cmdline: Option<BTreeMap<String, String>>,
    online: Option<CpuSet>,
    isolated: Option<CpuSet>,
    nohz_full: Option<CpuSet>,
    pins: Vec<Pin>,
    /// The cores to keep quiet: the pinned ones, or the isolated ones when nothing is
    /// pinned.
    target: CpuSet,
}

/// Runs every check against `host`, comparing with `layout`'s pinned cores if given.
pub fn inspect(host: &Host, layout: Option<&Layout>) -> Report {
    let cmdline = host.read("/proc/cmdline").map(|c| parse_cmdline(&c));
    let online =
        host.read("/sys/devices/system/cpu/online").and_then(|t| CpuSet::parse_list(&t)).or_else(|| {
            let cpus: CpuSet = host
                .list("/sys/devices/system/cpu")?
                .iter()
                .filter_map(|n| n.strip_prefix("cpu")?.parse().ok())
                .collect();
            (!cpus.is_empty()).then_some(cpus)
        });
    let from_cmdline =
        |param: &str| cmdline.as_ref().map(|c| c.get(param).map(|v| cmdline_cpus(v)).unwrap_or_default());
    let isolated = host
        .read("/sys/devices/system/cpu/isolated")
        .and_then(|t| CpuSet::parse_list(&t))
        .or_else(|| from_cmdline("isolcpus"));
    let nohz_full = host
        .read("/sys/devices/system/cpu/nohz_full")
        .and_then(|t| CpuSet::parse_list(&t))
        .or_else(|| from_cmdline("nohz_full"));
    let pins: Vec<Pin> = layout
        .map(|l| {
            l.threads.iter().filter_map(|t| Some(Pin { thread: t.name.clone(), core: t.core? })).collect()
        })
        .unwrap_or_default();
    let target = if pins.is_empty() {
        isolated.clone().unwrap_or_default()
    } else {
        pins.iter().map(|p| p.core).collect()
    };
    let cx = Context { cmdline, online, isolated, nohz_full, pins, target };

    let mut findings = Vec::new();
    if let Some(layout) = layout {
        findings.push(check_layout(host, &cx, layout));
    }
    findings.push(check_isolcpus(&cx));
    findings.push(check_nohz_full(&cx));
    findings.push(check_rcu_nocbs(&cx));
    findings.push(check_governor(host, &cx));
    findings.push(check_thp(host));
    findings.push(check_irq_affinity(host, &cx));
    findings.push(check_irqbalance(host, &cx));
    findings.push(check_smt(host, &cx));
    findings.push(check_clocksource(host));
    findings.push(check_tsc(host));
    let pinned = layout.map(|_| cx.pins.iter().map(|p| p.core).collect::<CpuSet>().to_string());
    Report { pinned, findings }
}

/// `key=value` and bare `key` parameters of the kernel command line (the last one wins).
fn parse_cmdline(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

/// The CPUs of `isolcpus=`/`nohz_full=`/`rcu_nocbs=`, skipping `isolcpus` flags
/// (`nohz,domain,managed_irq,2-7`); `all` is every CPU.
fn cmdline_cpus(value: &str) -> CpuSet {
    let list: Vec<&str> =
        value.split(',').filter(|p| !matches!(*p, "nohz" | "domain" | "managed_irq" | "all")).collect();
    if value.split(',').any(|p| p == "all") {
        // `rcu_nocbs=all`: every CPU the kernel could have.
        return (0..4096).collect();
    }
    CpuSet::parse_list(&list.join(",")).unwrap_or_default()
}

const BOOT_ADVICE: &str = "see perf/TUNING.md, Boot parameters";

fn subject(cx: &Context) -> &'static str {
    if cx.pins.is_empty() { "isolated cores" } else { "pinned cores" }
}

fn check_layout(host: &Host, cx: &Context, layout: &Layout) -> Finding {
    const CHECK: &str = "layout";
    let mut fail = Vec::new();
    let mut warn: Vec<String> = layout.warnings();
    // What the engine validates against: the CPUs online and allowed by the cgroup's
    // cpuset, not the mask this process inherited (pipeline::runtime::cores).
    let view = CpuView::at(host.root());
    let cgroup = view.cgroup.as_ref().map(|(cpus, file)| (cpus.iter().copied().collect::<CpuSet>(), file));
    let inherited = view.inherited.as_ref().map(|c| c.iter().copied().collect::<CpuSet>());
    let mut offline = (Vec::new(), CpuSet::default());
    let mut disallowed = (Vec::new(), CpuSet::default());
    let mut outside_mask = (Vec::new(), CpuSet::default());
    for p in &cx.pins {
        if cx.online.as_ref().is_some_and(|online| !online.contains(p.core)) {
            offline.0.push(p.thread.as_str());
            offline.1.0.insert(p.core);
        } else if cgroup.as_ref().is_some_and(|(allowed, _)| !allowed.contains(p.core)) {
            disallowed.0.push(p.thread.as_str());
            disallowed.1.0.insert(p.core);
        } else if inherited.as_ref().is_some_and(|mask| !mask.contains(p.core)) {
            outside_mask.0.push(p.thread.as_str());
            outside_mask.1.0.insert(p.core);
        }
        if p.core == 0 {
            warn.push(format!(
                "thread {} is on core 0, which keeps housekeeping work even when isolated",
                p.thread
            ));
        }
    }
    if !offline.0.is_empty() {
        let online = cx.online.clone().unwrap_or_default();
        fail.push(format!("{}, not online here (online: {online})", pins_phrase(&offline.0, &offline.1)));
    }
    if let (false, Some((allowed, file))) = (disallowed.0.is_empty(), &cgroup) {
        fail.push(format!(
            "{}, outside the CPUs this process's cgroup cpuset allows ({allowed}, {})",
            pins_phrase(&disallowed.0, &disallowed.1),
            file.display()
        ));
    }
    // The isolcpus case: the mask a shell hands its children leaves out the isolated
    // cores, which is where the layout means its stages to run. Not a problem: said so.
    let note = match (&inherited, outside_mask.0.is_empty()) {
        (Some(mask), false) => {
            let hk: CpuSet = view.housekeeping(&layout.pinned_cores()).into_iter().collect();
            let allowed = match &cgroup {
                Some((c, _)) => format!("online and allowed by the cgroup ({c})"),
                None => "online".to_owned(),
            };
            format!(
                "; {} outside the affinity mask this process inherited ({mask}{}); the engine \
                 validates against the CPUs {allowed} and pins each stage thread to its core \
                 directly, so no taskset is needed; its other threads (monitor, journal sync, \
                 resolvers) run on the housekeeping cores {hk}",
                pins_phrase(&outside_mask.0, &outside_mask.1),
                if cx.isolated.as_ref().is_some_and(|i| outside_mask.1.is_subset(i)) {
                    ", which leaves out the isolated cores as isolcpus makes it"
                } else {
                    ""
                },
            )
        }
        _ => String::new(),
    };
    // Unpinned busy-spinning threads are already in `warn`, from the layout itself.
    let unpinned = layout.threads.iter().filter(|t| t.core.is_none() && t.idle != IdleKind::BusySpin).count();
    if !fail.is_empty() {
        fail.extend(warn);
        Finding::new(CHECK, Status::Fail, fail.join("; "))
            .advice("change `core` in [[layout.threads]] to cores this host has and the cgroup allows")
    } else if !warn.is_empty() {
        Finding::new(CHECK, Status::Warn, format!("{}{note}", warn.join("; ")))
            .advice("give each busy-spinning thread its own isolated core")
    } else if cx.pins.is_empty() {
        Finding::new(CHECK, Status::Warn, format!("no thread is pinned ({unpinned} unpinned)"))
            .advice("set `core` on each [[layout.threads]] for low latency (config/production.toml)")
    } else if cx.online.is_none() {
        Finding::new(
            CHECK,
            Status::Unknown,
            format!("cannot read the online CPUs to check cores {}", cx.target),
        )
    } else {
        let unpinned = if unpinned > 0 { format!(", {unpinned} unpinned") } else { String::new() };
        Finding::new(
            CHECK,
            Status::Ok,
            format!("{} threads pinned to cores {} that exist{unpinned}{note}", cx.pins.len(), cx.target),
        )
    }
}

/// "thread md pins core 9" / "threads md, book pin cores 8-9".
fn pins_phrase(threads: &[&str], cores: &CpuSet) -> String {
    if threads.len() == 1 {
        format!("thread {} pins core {cores}", threads[0])
    } else {
        format!("threads {} pin cores {cores}", threads.join(", "))
    }
}

/// The shared shape of the three boot-parameter checks.
fn check_cover(cx: &Context, check: &'static str, have: Option<&CpuSet>, param: &str) -> Finding {
    let Some(have) = have else {
        return Finding::new(check, Status::Unknown, "cannot read /sys or /proc/cmdline");
    };
    if cx.target.is_empty() {
        return if have.is_empty() {
            Finding::new(check, Status::Warn, format!("no {param} cores"))
                .advice(format!("boot with {param}=<the stage cores>; {BOOT_ADVICE}"))
        } else {
            Finding::new(
                check,
                Status::Ok,
                format!("{param}: {have} (nothing pinned or isolated to compare)"),
            )
        };
    }
    let missing = cx.target.difference(have);
    if missing.is_empty() {
        Finding::new(check, Status::Ok, format!("{} {} are {param} ({have})", subject(cx), cx.target))
    } else {
        Finding::new(check, Status::Warn, format!("{} {missing} not in {param} ({have})", subject(cx)))
            .advice(format!("boot with {param}={}; {BOOT_ADVICE}", cx.target.union(have)))
    }
}

fn check_isolcpus(cx: &Context) -> Finding {
    match &cx.isolated {
        Some(isolated) if cx.pins.is_empty() => {
            if isolated.is_empty() {
                Finding::new(
                    "isolcpus",
                    Status::Warn,
                    "no isolated cores: the scheduler runs anything anywhere",
                )
                .advice(format!("boot with isolcpus=<the stage cores>; {BOOT_ADVICE}"))
            } else {
                Finding::new("isolcpus", Status::Ok, format!("isolated cores: {isolated}"))
            }
        }
        _ => check_cover(cx, "isolcpus", cx.isolated.as_ref(), "isolcpus"),
    }
}

fn check_nohz_full(cx: &Context) -> Finding {
    check_cover(cx, "nohz_full", cx.nohz_full.as_ref(), "nohz_full")
}

fn check_rcu_nocbs(cx: &Context) -> Finding {
    // nohz_full CPUs are RCU-offloaded too (the kernel adds them to the nocb mask).
    let have = cx.cmdline.as_ref().map(|c| {
        let nocbs = c.get("rcu_nocbs").map(|v| cmdline_cpus(v)).unwrap_or_default();
        nocbs.union(&cx.nohz_full.clone().unwrap_or_default())
    });
    check_cover(cx, "rcu_nocbs", have.as_ref(), "rcu_nocbs")
}

/// The cores whose per-core settings matter: the target, or every online core.
fn per_core_set(cx: &Context) -> CpuSet {
    if cx.target.is_empty() { cx.online.clone().unwrap_or_default() } else { cx.target.clone() }
}

fn check_governor(host: &Host, cx: &Context) -> Finding {
    const CHECK: &str = "governor";
    let cores = per_core_set(cx);
    let mut by_gov: BTreeMap<String, CpuSet> = BTreeMap::new();
    for c in &cores.0 {
        if let Some(g) = host.read(&format!("/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor")) {
            by_gov.entry(g).or_default().0.insert(*c);
        }
    }
    if by_gov.is_empty() {
        return Finding::new(
            CHECK,
            Status::Unknown,
            "no cpufreq governor exposed (a VM, or firmware-controlled)",
        );
    }
    let shown = by_gov.iter().map(|(g, c)| format!("cpu {c}: {g}")).collect::<Vec<_>>().join(", ");
    let slow: CpuSet = by_gov
        .iter()
        .filter(|(g, _)| g.as_str() != "performance")
        .flat_map(|(_, c)| c.0.iter().copied())
        .collect();
    if slow.is_empty() {
        Finding::new(CHECK, Status::Ok, shown)
    } else {
        Finding::new(CHECK, Status::Warn, shown).advice(format!(
            "set performance on cpu {slow}: scripts/tune-host.sh, or cpupower -c {slow} frequency-set -g performance"
        ))
    }
}

/// The bracketed choice of a sysfs selector (`always [madvise] never`).
fn selected(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

fn check_thp(host: &Host) -> Finding {
    const CHECK: &str = "thp";
    let read = |f: &str| host.read(&format!("/sys/kernel/mm/transparent_hugepage/{f}"));
    let Some(enabled) = read("enabled") else {
        return Finding::new(CHECK, Status::Unknown, "/sys/kernel/mm/transparent_hugepage not readable");
    };
    let enabled = selected(&enabled).unwrap_or(&enabled).to_owned();
    let defrag = read("defrag").map(|d| selected(&d).unwrap_or(&d).to_owned());
    let detail = match &defrag {
        Some(d) => format!("enabled={enabled}, defrag={d}"),
        None => format!("enabled={enabled}"),
    };
    if enabled == "always" || defrag.as_deref() == Some("always") {
        Finding::new(CHECK, Status::Warn, detail).advice(
            "khugepaged and direct compaction stall page faults: echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/{enabled,defrag} (scripts/tune-host.sh)",
        )
    } else {
        Finding::new(CHECK, Status::Ok, detail)
    }
}

fn check_irq_affinity(host: &Host, cx: &Context) -> Finding {
    const CHECK: &str = "irq_affinity";
    if cx.target.is_empty() {
        return Finding::new(CHECK, Status::Unknown, "no pinned or isolated cores to keep interrupts off");
    }
    let Some(entries) = host.list("/proc/irq") else {
        return Finding::new(CHECK, Status::Unknown, "/proc/irq not readable");
    };
    let names = irq_names(host);
    let mut irqs: Vec<u32> = entries.iter().filter_map(|e| e.parse().ok()).collect();
    irqs.sort_unstable();
    let mut read_any = false;
    let mut offending = Vec::new();
    for irq in irqs {
        let affinity = host
            .read(&format!("/proc/irq/{irq}/effective_affinity_list"))
            .filter(|s| !s.is_empty())
            .or_else(|| host.read(&format!("/proc/irq/{irq}/smp_affinity_list")))
            .and_then(|t| CpuSet::parse_list(&t));
        let Some(affinity) = affinity else { continue };
        read_any = true;
        let hit = affinity.intersection(&cx.target);
        if !hit.is_empty() {
            let name = names.get(&irq).map(|n| format!(" {n}")).unwrap_or_default();
            offending.push(format!("{irq}{name} on {hit}"));
        }
    }
    let default = host.read("/proc/irq/default_smp_affinity").and_then(|m| CpuSet::parse_mask(&m));
    if !read_any && default.is_none() {
        return Finding::new(CHECK, Status::Unknown, "no IRQ affinity readable under /proc/irq");
    }
    let default_hit = default.map(|d| d.intersection(&cx.target)).filter(|d| !d.is_empty());
    if offending.is_empty() && default_hit.is_none() {
        return Finding::new(
            CHECK,
            Status::Ok,
            format!("no interrupt is routed to {} {}", subject(cx), cx.target),
        );
    }
    let mut detail = String::new();
    if !offending.is_empty() {
        let shown = offending.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
        let more = offending.len().saturating_sub(6);
        let _ = write!(detail, "{} IRQs can run on {} {}: {shown}", offending.len(), subject(cx), cx.target);
        if more > 0 {
            let _ = write!(detail, " and {more} more");
        }
    }
    if let Some(hit) = default_hit {
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        let _ = write!(detail, "new IRQs default to cores including {hit}");
    }
    let keep = per_core_keep(cx);
    Finding::new(CHECK, Status::Warn, detail).advice(format!(
        "route them to {keep}: scripts/tune-host.sh, or echo {keep} | sudo tee /proc/irq/*/smp_affinity_list (managed IRQs need isolcpus=managed_irq,...)"
    ))
}

/// The cores interrupts and housekeeping should stay on: online minus the target.
fn per_core_keep(cx: &Context) -> CpuSet {
    let online = cx.online.clone().unwrap_or_default();
    let keep = online.difference(&cx.target).difference(&cx.isolated.clone().unwrap_or_default());
    if keep.is_empty() { online.difference(&cx.target) } else { keep }
}

/// IRQ number to its action name, from `/proc/interrupts` (the last column).
fn irq_names(host: &Host) -> BTreeMap<u32, String> {
    let Some(text) = host.read("/proc/interrupts") else { return BTreeMap::new() };
    text.lines()
        .filter_map(|line| {
            let (num, rest) = line.trim_start().split_once(':')?;
            let irq = num.trim().parse().ok()?;
            Some((irq, rest.split_whitespace().last()?.to_owned()))
        })
        .collect()
}

fn check_irqbalance(host: &Host, cx: &Context) -> Finding {
    const CHECK: &str = "irqbalance";
    let Some(entries) = host.list("/proc") else {
        return Finding::new(CHECK, Status::Unknown, "/proc not readable");
    };
    let running = entries
        .iter()
        .filter(|e| e.bytes().all(|b| b.is_ascii_digit()))
        .any(|pid| host.read(&format!("/proc/{pid}/comm")).as_deref() == Some("irqbalance"));
    if !running {
        return Finding::new(CHECK, Status::Ok, "not running");
    }
    // irqbalance leaves isolcpus and nohz_full cores alone, and any it is told to ban.
    let banned = ["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"]
        .iter()
        .filter_map(|f| host.read(f))
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.trim().strip_prefix("IRQBALANCE_BANNED_CPULIST="))
                .filter_map(|v| CpuSet::parse_list(v.trim_matches('"')))
                .collect::<Vec<_>>()
        })
        .fold(CpuSet::default(), |a, b| a.union(&b));
    let spared = banned
        .union(&cx.isolated.clone().unwrap_or_default())
        .union(&cx.nohz_full.clone().unwrap_or_default());
    if cx.target.is_subset(&spared) && !cx.target.is_empty() {
        Finding::new(
            CHECK,
            Status::Ok,
            format!("running; it leaves {} alone (isolated or banned)", cx.target),
        )
    } else {
        let exposed = cx.target.difference(&spared);
        Finding::new(CHECK, Status::Warn, format!("running, and free to move interrupts onto {exposed}"))
            .advice(format!("set IRQBALANCE_BANNED_CPULIST={exposed} in /etc/default/irqbalance, or stop it"))
    }
}

fn check_smt(host: &Host, cx: &Context) -> Finding {
    const CHECK: &str = "smt";
    let control = host.read("/sys/devices/system/cpu/smt/control");
    if matches!(control.as_deref(), Some("off" | "forceoff" | "notsupported" | "notimplemented")) {
        return Finding::new(CHECK, Status::Ok, format!("SMT {}", control.unwrap_or_default()));
    }
    if cx.target.is_empty() {
        let active = host.read("/sys/devices/system/cpu/smt/active");
        let detail = if active.as_deref() == Some("1") { "SMT on" } else { "SMT state unknown" };
        return Finding::new(CHECK, Status::Ok, format!("{detail}; no pinned or isolated cores to check"));
    }
    let cores = cx.target.clone();
    let pinned: BTreeMap<usize, &str> = cx.pins.iter().map(|p| (p.core, p.thread.as_str())).collect();
    let isolated = cx.isolated.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let mut idle_siblings = CpuSet::default();
    let mut read_any = false;
    for &c in &cores.0 {
        let Some(siblings) = host
            .read(&format!("/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list"))
            .or_else(|| host.read(&format!("/sys/devices/system/cpu/cpu{c}/topology/core_cpus_list")))
            .and_then(|t| CpuSet::parse_list(&t))
        else {
            continue;
        };
        read_any = true;
        for s in siblings.0.iter().copied().filter(|&s| s != c) {
            if let Some(other) = pinned.get(&s) {
                if s > c {
                    problems.push(format!(
                        "cpus {c} ({}) and {s} ({other}) are SMT siblings: two stages share one core",
                        pinned.get(&c).copied().unwrap_or("?")
                    ));
                }
            } else if !isolated.contains(s) {
                problems.push(format!("cpu {c}'s SMT sibling {s} is not isolated: other tasks run there"));
            } else {
                idle_siblings.0.insert(s);
            }
        }
    }
    if !read_any {
        return Finding::new(CHECK, Status::Unknown, "no CPU topology exposed");
    }
    if !problems.is_empty() {
        return Finding::new(CHECK, Status::Warn, problems.join("; ")).advice(
            "leave each stage core's sibling isolated and idle (isolcpus it too, pin nothing there), or turn SMT off: echo off | sudo tee /sys/devices/system/cpu/smt/control",
        );
    }
    if idle_siblings.is_empty() {
        Finding::new(CHECK, Status::Ok, format!("no SMT siblings share {}", cores))
    } else {
        Finding::new(CHECK, Status::Ok, format!("SMT siblings {idle_siblings} are isolated and unused"))
    }
}

fn check_clocksource(host: &Host) -> Finding {
    const CHECK: &str = "clocksource";
    let dir = "/sys/devices/system/clocksource/clocksource0";
    let Some(current) = host.read(&format!("{dir}/current_clocksource")) else {
        return Finding::new(CHECK, Status::Unknown, "current_clocksource not readable");
    };
    let available = host.read(&format!("{dir}/available_clocksource")).unwrap_or_default();
    let has_tsc = available.split_whitespace().any(|c| c == "tsc");
    let switch = if has_tsc {
        format!("echo tsc | sudo tee {dir}/current_clocksource, and boot with clocksource=tsc tsc=reliable")
    } else {
        "tsc is not offered: check the BIOS/hypervisor for an invariant TSC (boot with tsc=reliable)"
            .to_owned()
    };
    match current.as_str() {
        "tsc" | "arch_sys_counter" => Finding::new(CHECK, Status::Ok, current),
        "kvm-clock" | "hyperv_clocksource_tsc_page" | "xen" => Finding::new(
            CHECK,
            Status::Warn,
            format!("{current}: read through the vDSO, but slower than tsc"),
        )
        .advice(switch),
        _ => Finding::new(
            CHECK,
            Status::Fail,
            format!("{current}: every clock read is a slow hardware access"),
        )
        .advice(switch),
    }
}

fn check_tsc(host: &Host) -> Finding {
    const CHECK: &str = "tsc";
    let Some(cpuinfo) = host.read("/proc/cpuinfo") else {
        return Finding::new(CHECK, Status::Unknown, "/proc/cpuinfo not readable");
    };
    let Some(flags) =
        cpuinfo.lines().find_map(|l| l.strip_prefix("flags").and_then(|r| r.split_once(':')).map(|(_, f)| f))
    else {
        return Finding::new(CHECK, Status::Unknown, "no x86 CPU flags (not x86?)");
    };
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let missing: Vec<&str> = ["constant_tsc", "nonstop_tsc"].into_iter().filter(|f| !has(f)).collect();
    if missing.is_empty() {
        Finding::new(CHECK, Status::Ok, "invariant TSC (constant_tsc, nonstop_tsc)")
    } else {
        Finding::new(
            CHECK,
            Status::Warn,
            format!("TSC lacks {}: timings fall back to the OS clock", missing.join(", ")),
        )
        .advice("use hardware (or a hypervisor setting) with an invariant TSC")
    }
}

/// Loads the layout of a configuration file for [`inspect`].
pub fn layout_of(config: &Path) -> anyhow::Result<Layout> {
    Ok(crate::config::Config::load(Some(config))?.layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_print() {
        let s = CpuSet::parse_list("0-3,8,10-11").unwrap();
        assert_eq!(s.0.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(s.to_string(), "0-3,8,10-11");
        assert_eq!(CpuSet::parse_list("(null)").unwrap(), CpuSet::default());
        assert_eq!(CpuSet::parse_list("").unwrap().to_string(), "none");
        assert_eq!(CpuSet::parse_list("0-7:2").unwrap().to_string(), "0,2,4,6");
        assert!(CpuSet::parse_list("3-1").is_none());
        assert!(CpuSet::parse_list("x").is_none());
    }

    #[test]
    fn masks_parse() {
        assert_eq!(CpuSet::parse_mask("ff").unwrap().to_string(), "0-7");
        assert_eq!(CpuSet::parse_mask("00000001,00000003").unwrap().to_string(), "0-1,32");
        assert_eq!(CpuSet::parse_mask("0").unwrap(), CpuSet::default());
        assert!(CpuSet::parse_mask("zz").is_none());
    }

    #[test]
    fn cmdline_lists_skip_isolcpus_flags() {
        let c = parse_cmdline("BOOT_IMAGE=/vmlinuz ro quiet isolcpus=managed_irq,domain,2-5,7 nohz_full=2-7");
        assert_eq!(cmdline_cpus(&c["isolcpus"]).to_string(), "2-5,7");
        assert_eq!(cmdline_cpus(&c["nohz_full"]).to_string(), "2-7");
        assert_eq!(c["quiet"], "");
        assert!(cmdline_cpus("all").contains(63));
    }

    #[test]
    fn sysfs_selectors() {
        assert_eq!(selected("always [madvise] never"), Some("madvise"));
        assert_eq!(selected("never"), None);
    }
}
