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
//! drain_past_cap = false  # past the cap: drain (deliveries, losses) or cut
//!
//! [model.clock]      # only with timing = "timed"; each key optional
//! delta = 1          # Δ: ticks a message may spend in flight
//! drift = 0.05       # ε: clock rates within [1 − ε, 1 + ε]
//! reply = 3          # timeouts, in ticks
//! heartbeat = 4
//! election = [8, 10]
//!
//! [check]            # optional
//! strategy = "dfs"
//! symmetry = true
//! slow = true        # left out of `cargo test`
//!
//! [expect]           # properties not listed are expected to hold
//! "election safety" = "holds"
//! recoverability = "holds"
//! ```

use super::verdict::{CheckOptions, Expect, Strategy};
use crate::model::{ConfigError, ModelConfig};
use crate::protocols::ProtocolKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scenario file that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file or directory cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{} line {line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the problem.
        line: usize,
        /// The problem.
        message: String,
    },
    /// The model it describes cannot be checked.
    #[error("{}: {source}", path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ConfigError,
    },
}

/// A scenario's optional `[check]` table: how to search.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Search strategy (default: the protocol's, see
    /// [`CheckOptions::defaults_for`]).
    pub strategy: Option<Strategy>,
    /// Symmetry reduction (default: with depth-first search).
    pub symmetry: Option<bool>,
    /// Longest path explored.
    pub depth: Option<usize>,
    /// Checker threads (default: one per core). A depth-bounded
    /// depth-first search needs 1 to be reproducible: which states lie
    /// within the depth depends on the order they are first reached in.
    pub threads: Option<usize>,
    /// Stop after this long.
    pub timeout_secs: Option<u64>,
    /// Defaults to true: every property of a scenario gets a verdict.
    pub keep_going: Option<bool>,
    /// Most states the liveness check may hold in memory.
    pub max_states: Option<usize>,
    /// Too slow for `cargo test` (which checks every other scenario);
    /// `elect verify` checks it.
    #[serde(default)]
    pub slow: bool,
    /// Decide the liveness claims on the complete graph (default: yes).
    pub liveness: Option<bool>,
}

/// One checked configuration and what is expected of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file name without `.toml`; set when loading.
    #[serde(skip)]
    pub name: String,
    /// The file it came from; set when loading.
    #[serde(skip)]
    pub path: PathBuf,
    /// The protocol checked.
    pub protocol: ProtocolKind,
    /// What the scenario shows, in a sentence.
    #[serde(default)]
    pub description: String,
    /// The model: cluster, faults, timing, bounds.
    pub model: ModelConfig,
    /// How to search.
    #[serde(default)]
    pub check: CheckSettings,
    /// What each property is expected to turn out to be.
    #[serde(default)]
    pub expect: BTreeMap<String, Expect>,
}

impl Scenario {
    /// Reads and validates one scenario file; the error names the file, the
    /// line and the problem.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Syntax {
            path: path.to_path_buf(),
            line: e
                .span()
                .map_or(0, |span| text[..span.start].matches('\n').count() + 1),
            message: e.message().trim().to_string(),
        })?;
        scenario.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        scenario.path = path.to_path_buf();
        scenario
            .model
            .validate_for(scenario.protocol)
            .map_err(|source| ScenarioError::Model {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(scenario)
    }

    /// Every `*.toml` in `dir`, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
        let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
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

    /// The protocol's default options with the `[check]` table's settings.
    /// Unlike `elect check`, a scenario keeps going by default after the
    /// first counterexample, so that every property gets a verdict.
    pub fn options(&self) -> CheckOptions {
        let mut options = CheckOptions::defaults_for(self.protocol)
            .with_search(self.check.strategy, self.check.symmetry);
        options.depth = self.check.depth;
        if let Some(threads) = self.check.threads {
            options.threads = threads;
        }
        options.timeout = self.check.timeout_secs.map(Duration::from_secs);
        options.keep_going = self.check.keep_going.unwrap_or(true);
        options
    }
}
