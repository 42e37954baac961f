//! Scenario files: one checked configuration each, with what we expect the
//! checker to establish for every property.
//!
//! ```toml
//! protocol = "raft"
//! description = "Raft with loss, reordering and a crash with recovery"
//!
//! [model]
//! nodes = 3
//! network = "unordered"
//! lossy = true
//! crashes = 1
//! recover = true
//! timing = "asynchronous"
//! max_term = 2
//! max_in_flight = 5
//!
//! [check]            # optional
//! strategy = "dfs"
//! symmetry = true
//!
//! [expect]           # properties not listed are expected to hold
//! "election safety" = "holds"
//! recoverability = "holds"
//! ```

use super::run::{CheckOptions, Expect, Strategy};
use crate::model::ModelConfig;
use crate::protocols::ProtocolKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The key of the sound liveness check in a scenario's `[expect]` table.
pub const RECOVERABILITY: &str = "recoverability";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    pub strategy: Option<Strategy>,
    pub symmetry: Option<bool>,
    pub depth: Option<usize>,
    pub timeout_secs: Option<u64>,
    /// Defaults to true: every property of a scenario gets a verdict.
    pub keep_going: Option<bool>,
    /// Most states the recoverability check may hold in memory.
    pub max_states: Option<usize>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file name without `.toml`; set when loading.
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub protocol: ProtocolKind,
    #[serde(default)]
    pub description: String,
    pub model: ModelConfig,
    #[serde(default)]
    pub check: CheckSettings,
    #[serde(default)]
    pub expect: BTreeMap<String, Expect>,
}

impl Scenario {
    /// Reads and validates one scenario file; the error names the file, the
    /// line and the problem.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map_or(0, |span| text[..span.start].matches('\n').count() + 1);
            format!("{} line {line}: {}", path.display(), e.message().trim())
        })?;
        scenario.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        scenario.path = path.to_path_buf();
        scenario
            .model
            .validate()
            .map_err(|e| format!("{}: {}", path.display(), e.replace("--", "")))?;
        Ok(scenario)
    }

    /// Every `*.toml` in `dir`, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Scenario::load(p)).collect()
    }

    /// The expectation for `property`: as listed, or "holds".
    pub fn expectation(&self, property: &str) -> Expect {
        self.expect.get(property).copied().unwrap_or(Expect::Holds)
    }

    pub fn wants_recoverability(&self) -> bool {
        self.expect.contains_key(RECOVERABILITY)
    }

    pub fn options(&self) -> CheckOptions {
        let defaults = CheckOptions::default();
        let strategy = self.check.strategy.unwrap_or(Strategy::Bfs);
        CheckOptions {
            strategy,
            threads: defaults.threads,
            depth: self.check.depth,
            symmetry: self.check.symmetry.unwrap_or(strategy == Strategy::Dfs),
            timeout: self.check.timeout_secs.map(Duration::from_secs),
            keep_going: self.check.keep_going.unwrap_or(true),
            mutation: None,
        }
    }
}
