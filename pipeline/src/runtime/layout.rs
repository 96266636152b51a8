//! Thread layouts: which stages run on which thread, pinned to which core, idling how.
//!
//! A layout is configuration (a `[[layout.threads]]` table per thread in TOML). The same
//! stages run in any layout; validation names the first problem precisely.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::IdlePolicy;

/// The idle policy of a thread as written in configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleKind {
    BusySpin,
    #[default]
    SpinYield,
    Park,
}

/// One thread of a layout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadSpec {
    /// Thread name, shown by the OS (`top -H`) and in reports. At most 15 bytes are kept
    /// by Linux.
    pub name: String,
    /// Core to pin to; unpinned when absent.
    #[serde(default)]
    pub core: Option<usize>,
    #[serde(default)]
    pub idle: IdleKind,
    /// Idle passes spent spinning before yielding or parking.
    #[serde(default = "default_spins")]
    pub idle_spins: u32,
    /// For `idle = "park"`: idle passes that yield after the spinning, before parking.
    #[serde(default = "default_yields")]
    pub idle_yields: u32,
    /// Longest park (a bounded sleep), in microseconds, for `idle = "park"`.
    #[serde(default = "default_park_us")]
    pub park_us: u64,
    /// Stages this thread polls, in order.
    pub stages: Vec<String>,
}

fn default_spins() -> u32 {
    1000
}
fn default_yields() -> u32 {
    100
}
fn default_park_us() -> u64 {
    200
}

impl ThreadSpec {
    /// A thread with the default idle policy, unpinned.
    pub fn new(name: impl Into<String>, stages: &[&str]) -> Self {
        Self {
            name: name.into(),
            core: None,
            idle: IdleKind::default(),
            idle_spins: default_spins(),
            idle_yields: default_yields(),
            park_us: default_park_us(),
            stages: stages.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn pinned(mut self, core: usize) -> Self {
        self.core = Some(core);
        self
    }

    pub fn idle(mut self, idle: IdleKind) -> Self {
        self.idle = idle;
        self
    }

    pub fn idle_policy(&self) -> IdlePolicy {
        match self.idle {
            IdleKind::BusySpin => IdlePolicy::BusySpin,
            IdleKind::SpinYield => IdlePolicy::SpinThenYield { spins: self.idle_spins },
            IdleKind::Park => IdlePolicy::Park {
                spins: self.idle_spins,
                yields: self.idle_yields,
                max_sleep: Duration::from_micros(self.park_us),
            },
        }
    }
}

/// A thread layout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub threads: Vec<ThreadSpec>,
}

/// A layout that cannot run, with what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("the layout has no threads")]
    NoThreads,
    #[error("thread #{index} has an empty name")]
    EmptyThreadName { index: usize },
    #[error("two threads are named `{thread}`")]
    DuplicateThread { thread: String },
    #[error("thread `{thread}` runs no stages")]
    EmptyThread { thread: String },
    #[error("thread `{thread}` names unknown stage `{stage}` (known stages: {known})")]
    UnknownStage { thread: String, stage: String, known: String },
    #[error("stage `{stage}` is placed twice: on thread `{first}` and on thread `{second}`")]
    StagePlacedTwice { stage: String, first: String, second: String },
    #[error("stage `{stage}` is not placed on any thread")]
    StageNotPlaced { stage: String },
    #[error(
        "thread `{thread}` asks for core {core}, which is not online or not allowed by this process's cgroup cpuset (usable cores: {available})"
    )]
    CoreOutOfRange { thread: String, core: usize, available: String },
}

impl Layout {
    pub fn new(threads: Vec<ThreadSpec>) -> Self {
        Self { threads }
    }

    /// The cores the layout's threads pin, sorted, each once.
    pub fn pinned_cores(&self) -> Vec<usize> {
        let mut cores: Vec<usize> = self.threads.iter().filter_map(|t| t.core).collect();
        cores.sort_unstable();
        cores.dedup();
        cores
    }

    /// One thread running every stage, in the given order.
    pub fn single_thread(stages: &[&str]) -> Self {
        Self::new(vec![ThreadSpec::new("pipeline", stages)])
    }

    /// Checks that every stage in `stages` is placed exactly once, that the layout names
    /// no other stage, and that every requested core is in `cores` (the cores this
    /// process may pin: [`available_cores`]).
    pub fn validate(&self, stages: &[&str], cores: &[usize]) -> Result<(), LayoutError> {
        if self.threads.is_empty() {
            return Err(LayoutError::NoThreads);
        }
        let known: HashSet<&str> = stages.iter().copied().collect();
        let mut names = HashSet::new();
        let mut placed: HashMap<&str, &str> = HashMap::new();
        for (index, t) in self.threads.iter().enumerate() {
            if t.name.is_empty() {
                return Err(LayoutError::EmptyThreadName { index });
            }
            if !names.insert(t.name.as_str()) {
                return Err(LayoutError::DuplicateThread { thread: t.name.clone() });
            }
            if t.stages.is_empty() {
                return Err(LayoutError::EmptyThread { thread: t.name.clone() });
            }
            for s in &t.stages {
                if !known.contains(s.as_str()) {
                    return Err(LayoutError::UnknownStage {
                        thread: t.name.clone(),
                        stage: s.clone(),
                        known: stages.join(", "),
                    });
                }
                if let Some(first) = placed.insert(s.as_str(), t.name.as_str()) {
                    return Err(LayoutError::StagePlacedTwice {
                        stage: s.clone(),
                        first: first.to_owned(),
                        second: t.name.clone(),
                    });
                }
            }
            if let Some(core) = t.core {
                if !cores.contains(&core) {
                    return Err(LayoutError::CoreOutOfRange {
                        thread: t.name.clone(),
                        core,
                        available: describe_cores(cores),
                    });
                }
            }
        }
        for s in stages {
            if !placed.contains_key(s) {
                return Err(LayoutError::StageNotPlaced { stage: (*s).to_owned() });
            }
        }
        Ok(())
    }

    /// Advice that does not stop the layout from running: busy-spinning threads that
    /// share a core, or that are not pinned at all.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut by_core: HashMap<usize, Vec<&str>> = HashMap::new();
        for t in &self.threads {
            if let Some(c) = t.core {
                by_core.entry(c).or_default().push(&t.name);
            }
            if t.idle == IdleKind::BusySpin && t.core.is_none() {
                out.push(format!(
                    "thread `{}` busy-spins without a pinned core; the scheduler will move it and it will starve other threads",
                    t.name
                ));
            }
        }
        let mut shared: Vec<_> = by_core.into_iter().filter(|(_, v)| v.len() > 1).collect();
        shared.sort();
        for (core, threads) in shared {
            let spinning = self.threads.iter().any(|t| t.core == Some(core) && t.idle == IdleKind::BusySpin);
            if spinning {
                out.push(format!(
                    "threads {} share core {core} and at least one busy-spins: they will starve each other",
                    threads.join(", ")
                ));
            }
        }
        out
    }
}

/// The cores a layout may pin: online and allowed by this process's cgroup cpuset, not
/// only those of the affinity mask it inherited (which, on a host booted with
/// `isolcpus`, leaves out exactly the isolated cores the stages are meant for).
pub fn available_cores() -> Vec<usize> {
    super::cores::CpuView::system().usable()
}

fn describe_cores(cores: &[usize]) -> String {
    if cores.is_empty() { "none reported".to_owned() } else { super::cores::format_cpu_list(cores) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGES: &[&str] = &["decode", "book", "detect"];

    fn parse(text: &str) -> Layout {
        toml::from_str(text).expect("layout parses")
    }

    #[test]
    fn a_toml_layout_parses_with_defaults() {
        let l = parse(
            r#"
            [[threads]]
            name = "md"
            core = 1
            idle = "busy-spin"
            stages = ["decode", "book"]

            [[threads]]
            name = "trade"
            stages = ["detect"]

            [[threads]]
            name = "quiet"
            idle = "park"
            idle_spins = 50
            idle_yields = 10
            park_us = 1000
            stages = ["book2"]
            "#,
        );
        assert_eq!(l.threads[0].idle_policy(), IdlePolicy::BusySpin);
        assert_eq!(l.threads[1].idle_policy(), IdlePolicy::SpinThenYield { spins: 1000 });
        assert_eq!(
            l.threads[2].idle_policy(),
            IdlePolicy::Park { spins: 50, yields: 10, max_sleep: Duration::from_millis(1) }
        );
        assert_eq!(l.validate(&["decode", "book", "detect", "book2"], &[0, 1]), Ok(()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Layout>("[[threads]]\nname='a'\nstages=[]\ncores=1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `cores`"), "{err}");
    }

    #[test]
    fn each_problem_is_named() {
        let l = Layout::new(vec![ThreadSpec::new("a", &["decode", "boook", "detect"])]);
        let e = l.validate(STAGES, &[0]).unwrap_err();
        assert!(e.to_string().contains("unknown stage `boook`"), "{e}");

        let l = Layout::new(vec![
            ThreadSpec::new("a", &["decode", "book"]),
            ThreadSpec::new("b", &["book", "detect"]),
        ]);
        assert_eq!(
            l.validate(STAGES, &[0]).unwrap_err().to_string(),
            "stage `book` is placed twice: on thread `a` and on thread `b`"
        );

        let l = Layout::new(vec![ThreadSpec::new("a", &["decode", "book"])]);
        assert_eq!(l.validate(STAGES, &[0]), Err(LayoutError::StageNotPlaced { stage: "detect".into() }));

        let l = Layout::single_thread(STAGES);
        let l = Layout::new(vec![l.threads[0].clone().pinned(7)]);
        assert_eq!(
            l.validate(STAGES, &[0, 1, 2, 3]).unwrap_err().to_string(),
            "thread `pipeline` asks for core 7, which is not online or not allowed by this process's cgroup cpuset (usable cores: 0-3)"
        );

        assert_eq!(Layout::default().validate(STAGES, &[0]), Err(LayoutError::NoThreads));
    }

    #[test]
    fn spinning_threads_on_one_core_are_warned_about() {
        let l = Layout::new(vec![
            ThreadSpec::new("a", &["decode"]).pinned(0).idle(IdleKind::BusySpin),
            ThreadSpec::new("b", &["book", "detect"]).pinned(0),
        ]);
        let w = l.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("share core 0"), "{w:?}");
    }
}
