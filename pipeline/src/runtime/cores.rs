//! CPUs: which ones a layout may pin (online and allowed by the cgroup's cpuset), and
//! which ones every other thread runs on (the housekeeping CPUs).
//!
//! A host tuned for the engine boots with `isolcpus=`: the scheduler keeps ordinary tasks
//! off the isolated CPUs, so a shell, and the engine it starts, inherits an affinity mask
//! *without* them. The isolated CPUs are exactly the ones the stage threads are meant
//! for, so a layout is validated against the CPUs that are online and allowed by the
//! cgroup (cgroup v2 `cpuset.cpus.effective`, v1 `cpuset.effective_cpus`), never against
//! the inherited mask, and each stage thread pins itself to its core directly
//! (`sched_setaffinity` may name any CPU the cpuset allows).
//!
//! Every other thread (the cold monitor, the journal's sync thread, DNS resolvers,
//! servers, unpinned stage threads) belongs on the housekeeping CPUs: the inherited
//! mask without the cores the layout pins (on an `isolcpus` host, the CPUs the kernel
//! left for ordinary work). [`set_housekeeping`] records them when a layout starts and
//! moves the calling thread there, so the threads it spawns afterwards inherit them; a
//! thread spawned from a pinned stage thread (a resolver) calls [`enter_housekeeping`]
//! first, so it never runs on, or inherits, a stage's core.
//!
//! Everything is read from files under a root (`/` in production, a fake tree in tests):
//! `/sys/devices/system/cpu/online`, `/proc/self/cgroup`, the cpuset files under
//! `/sys/fs/cgroup`, and `Cpus_allowed_list` in `/proc/self/status`.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// What the host says about its CPUs; each part is `None` when it cannot be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuView {
    /// `/sys/devices/system/cpu/online`.
    pub online: Option<Vec<usize>>,
    /// The cgroup cpuset's effective CPUs, and the file they came from.
    pub cgroup: Option<(Vec<usize>, PathBuf)>,
    /// The affinity mask this process inherited (`Cpus_allowed_list`).
    pub inherited: Option<Vec<usize>>,
}

impl CpuView {
    /// The CPUs of this machine, as this process sees them.
    pub fn system() -> Self {
        Self::at(Path::new("/"))
    }

    /// The CPUs described by the files under `root`.
    pub fn at(root: &Path) -> Self {
        let read = |abs: &str| std::fs::read_to_string(root.join(abs.trim_start_matches('/'))).ok();
        let online = read("/sys/devices/system/cpu/online").and_then(|t| parse_cpu_list(&t));
        let inherited = read("/proc/self/status").and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).and_then(parse_cpu_list)
        });
        let cgroup = read("/proc/self/cgroup").and_then(|c| cgroup_cpuset(root, &c));
        Self { online, cgroup, inherited }
    }

    /// The CPUs a layout may pin: online and allowed by the cgroup. Without either file,
    /// the one that can be read; without both, the inherited mask.
    pub fn usable(&self) -> Vec<usize> {
        let cgroup = self.cgroup.as_ref().map(|(c, _)| c);
        match (&self.online, cgroup) {
            (Some(o), Some(c)) => o.iter().filter(|x| c.contains(x)).copied().collect(),
            (Some(o), None) => o.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => self.inherited.clone().unwrap_or_default(),
        }
    }

    /// The housekeeping CPUs for a layout that pins `pinned`: the inherited mask without
    /// them (the usable CPUs without them when that leaves nothing; all usable CPUs when
    /// the layout pins every one).
    pub fn housekeeping(&self, pinned: &[usize]) -> Vec<usize> {
        let usable = self.usable();
        let without = |set: &[usize]| -> Vec<usize> {
            set.iter().filter(|c| !pinned.contains(c) && usable.contains(c)).copied().collect()
        };
        let from_inherited = self.inherited.as_deref().map(without).unwrap_or_default();
        if !from_inherited.is_empty() {
            return from_inherited;
        }
        let from_usable = without(&usable);
        if !from_usable.is_empty() { from_usable } else { usable }
    }
}

/// The cpuset of this process's cgroup, from the lines of `/proc/self/cgroup`: the
/// nearest ancestor (the cgroup itself first) whose cpuset file exists.
fn cgroup_cpuset(root: &Path, proc_cgroup: &str) -> Option<(Vec<usize>, PathBuf)> {
    let mut candidates = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if controllers.is_empty() {
            // cgroup v2: one hierarchy for every controller.
            candidates.push(("sys/fs/cgroup", path, "cpuset.cpus.effective"));
        } else if controllers.split(',').any(|c| c == "cpuset") {
            candidates.push(("sys/fs/cgroup/cpuset", path, "cpuset.effective_cpus"));
            candidates.push(("sys/fs/cgroup/cpuset", path, "cpuset.cpus"));
        }
    }
    // v1 first: on a hybrid host the v2 hierarchy may hold no cpuset controller.
    candidates.sort_by_key(|(mount, _, _)| *mount != "sys/fs/cgroup/cpuset");
    for (mount, path, file) in candidates {
        let mut dir = PathBuf::from(path.trim_start_matches('/'));
        loop {
            let f = root.join(mount).join(&dir).join(file);
            if let Some(cpus) = std::fs::read_to_string(&f).ok().and_then(|t| parse_cpu_list(&t)) {
                if !cpus.is_empty() {
                    return Some((cpus, Path::new("/").join(f.strip_prefix(root).unwrap_or(&f))));
                }
            }
            if !dir.pop() {
                break;
            }
        }
    }
    None
}

/// Parses the kernel's CPU list format (`0-3,8,10-11`; `0-15:2` strides too). Empty
/// text is the empty list; anything unparsable is `None`.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    let mut set = BTreeSet::new();
    if text.is_empty() || text == "(null)" {
        return Some(Vec::new());
    }
    for part in text.split(',') {
        let part = part.trim();
        let (range, stride) = match part.split_once(':') {
            Some((r, s)) => (r, s.split('/').next()?.parse::<usize>().ok()?.max(1)),
            None => (part, 1),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                if b < a || b - a > 65_536 {
                    return None;
                }
                set.extend((a..=b).step_by(stride));
            }
            None => {
                set.insert(range.parse().ok()?);
            }
        }
    }
    Some(set.into_iter().collect())
}

/// Prints CPUs in the kernel's list format (`0-3,8`); `none` when empty.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.is_empty() {
        return "none".to_owned();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        out.push(if sorted[i] == start { start.to_string() } else { format!("{start}-{}", sorted[i]) });
        i += 1;
    }
    out.join(",")
}

static HOUSEKEEPING: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Records `cpus` as the housekeeping CPUs and moves the calling thread there, so the
/// threads it spawns from now on inherit them.
pub fn set_housekeeping(cpus: &[usize]) -> io::Result<()> {
    if let Ok(mut hk) = HOUSEKEEPING.lock() {
        hk.clear();
        hk.extend_from_slice(cpus);
    }
    enter_housekeeping()
}

/// The housekeeping CPUs recorded by [`set_housekeeping`] (empty before a layout starts).
pub fn housekeeping() -> Vec<usize> {
    HOUSEKEEPING.lock().map(|hk| hk.clone()).unwrap_or_default()
}

/// Moves the calling thread onto the housekeeping CPUs; does nothing before a layout
/// has recorded them. For threads spawned from a pinned thread (they inherit its core).
pub fn enter_housekeeping() -> io::Result<()> {
    let cpus = housekeeping();
    if cpus.is_empty() {
        return Ok(());
    }
    set_affinity(&cpus)
}

/// Pins the calling thread to `core`.
pub fn pin_current(core: usize) -> io::Result<()> {
    set_affinity(&[core])
}

/// The CPUs the calling thread may run on.
pub fn current_affinity() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect())
}

fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(io::Error::from)?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let root = std::env::temp_dir().join(format!("arb-cores-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            Tree(root)
        }
        fn file(&self, path: &str, text: &str) -> &Self {
            let p = self.0.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, format!("{text}\n")).unwrap();
            self
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn cpu_lists_parse_and_print() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("0-6:2"), Some(vec![0, 2, 4, 6]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(format_cpu_list(&[8, 0, 1, 2, 3, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[]), "none");
    }

    #[test]
    fn an_isolcpus_host_offers_the_isolated_cores_and_keeps_the_rest_for_housekeeping() {
        // isolcpus=2-7: the shell's mask is 0-1, the cgroup (v2) allows 0-7.
        let t = Tree::new("isolcpus");
        t.file("/sys/devices/system/cpu/online", "0-7")
            .file("/proc/self/status", "Name:\tarb\nCpus_allowed_list:\t0-1")
            .file("/proc/self/cgroup", "0::/system.slice/arb.service")
            .file("/sys/fs/cgroup/cpuset.cpus.effective", "0-7");
        let v = CpuView::at(&t.0);
        assert_eq!(v.usable(), (0..8).collect::<Vec<_>>());
        let (_, from) = v.cgroup.clone().unwrap();
        assert_eq!(from, Path::new("/sys/fs/cgroup/cpuset.cpus.effective"), "the nearest ancestor's file");
        assert_eq!(v.housekeeping(&[2, 3, 4, 5, 6, 7]), vec![0, 1]);
        // A layout pinning core 1 of the mask leaves core 0.
        assert_eq!(v.housekeeping(&[1, 2]), vec![0]);
    }

    #[test]
    fn the_cgroup_cpuset_limits_what_a_layout_may_pin() {
        // cgroup v1, a container limited to 0-3 on an 8-CPU host, cpu 3 offline.
        let t = Tree::new("v1");
        t.file("/sys/devices/system/cpu/online", "0-2,4-7")
            .file("/proc/self/status", "Cpus_allowed_list:\t0-2")
            .file("/proc/self/cgroup", "4:memory:/x\n3:cpuset:/docker/abc\n0::/")
            .file("/sys/fs/cgroup/cpuset/docker/abc/cpuset.effective_cpus", "0-3");
        let v = CpuView::at(&t.0);
        assert_eq!(v.usable(), vec![0, 1, 2]);
        // Pinning every usable core leaves them all for housekeeping too.
        assert_eq!(v.housekeeping(&[0, 1, 2]), vec![0, 1, 2]);
    }

    #[test]
    fn unreadable_files_fall_back() {
        let t = Tree::new("bare");
        t.file("/proc/self/status", "Cpus_allowed_list:\t0-3");
        let v = CpuView::at(&t.0);
        assert_eq!((v.online.clone(), v.cgroup.clone()), (None, None));
        assert_eq!(v.usable(), vec![0, 1, 2, 3], "the inherited mask when nothing else can be read");
    }

    #[test]
    fn this_machine_offers_at_least_the_cpus_this_thread_may_use() {
        let v = CpuView::system();
        let usable = v.usable();
        for c in current_affinity().unwrap() {
            assert!(usable.contains(&c), "cpu {c} usable: {usable:?}");
        }
    }
}
