//! The vocabulary of verification: how a check is run ([`CheckOptions`],
//! [`Strategy`]), what kind of claim a property makes ([`Kind`]), what a
//! scenario expects of it ([`Expect`]) and what the checker established
//! ([`Outcome`]) — and the one rule that decides whether an outcome meets an
//! expectation ([`Outcome::meets`]).

use crate::model::{Action, Liveness, System};
use crate::protocols::ProtocolKind;
use serde::{Deserialize, Serialize};
use stateright::Expectation;
use std::fmt;
use std::time::Duration;

pub use crate::model::properties::RECOVERABILITY;

/// A path as (state, action taken from it) pairs; the last has no action.
pub type Steps<P> = Vec<(System<P>, Option<Action<P>>)>;

/// How the state space is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Breadth first: shortest counterexamples; keeps the frontier in memory.
    Bfs,
    /// Depth first: little memory; enables symmetry reduction.
    Dfs,
}

/// How one check is run: the search, its limits, and whether a seeded bug
/// is put into every node. [`CheckOptions::defaults_for`] is the one source
/// of defaults; `elect check` flags and a scenario's `[check]` table override
/// them field by field.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOptions {
    /// How the state space is searched.
    pub strategy: Strategy,
    /// Checker threads.
    pub threads: usize,
    /// Do not explore paths longer than this many steps.
    pub depth: Option<usize>,
    /// Use symmetry reduction where the protocol allows it (DFS only).
    pub symmetry: bool,
    /// Stop after this long and report what was established so far.
    pub timeout: Option<Duration>,
    /// Keep exploring after the first unexpected safety counterexample, to
    /// decide every property (by default the check stops there, as TLC does).
    pub keep_going: bool,
    /// Check the protocol with this seeded bug in every node (see
    /// [`crate::model::seeded`]).
    pub seeded_bug: Option<String>,
}

impl CheckOptions {
    /// The defaults for `protocol`: depth-first search with symmetry
    /// reduction when its nodes are interchangeable (Stateright reduces
    /// symmetry only in depth-first search), breadth-first otherwise (it
    /// finds the shortest counterexamples); one thread per core; stop at the
    /// first unexpected safety counterexample.
    pub fn defaults_for(protocol: ProtocolKind) -> CheckOptions {
        let symmetric = protocol.is_symmetric();
        CheckOptions {
            strategy: if symmetric {
                Strategy::Dfs
            } else {
                Strategy::Bfs
            },
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            depth: None,
            symmetry: symmetric,
            timeout: None,
            keep_going: false,
            seeded_bug: None,
        }
    }

    /// Overrides the search: a strategy given without `symmetry` turns
    /// symmetry reduction on exactly for depth-first search.
    pub fn with_search(mut self, strategy: Option<Strategy>, symmetry: Option<bool>) -> Self {
        if let Some(strategy) = strategy {
            self.strategy = strategy;
            self.symmetry = strategy == Strategy::Dfs;
        }
        if let Some(symmetry) = symmetry {
            self.symmetry = symmetry;
        }
        self
    }
}

/// A snapshot of a running check.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Which part of the check is running.
    pub phase: Phase,
    /// States generated so far (the liveness graph: its edges).
    pub states: usize,
    /// Distinct states among them.
    pub unique_states: usize,
    /// The longest path explored.
    pub max_depth: usize,
    /// Time since the check started.
    pub elapsed: Duration,
}

/// The two parts of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Stateright's search: safety and sanity.
    Search,
    /// Building the complete graph and deciding liveness on it.
    Liveness,
}

/// The kind of claim a property makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Safety: true in every reachable state.
    Always,
    /// Sanity: true in some reachable state.
    Sometimes,
    /// Liveness as Stateright checks it: eventually true on every acyclic path.
    Eventually,
    /// From every reachable state a goal can still be reached (AG EF, see
    /// `verification::liveness`).
    Recoverability,
    /// After GST every path reaches a goal and stays there (AF AG on the
    /// states after GST, see `verification::liveness`).
    Stabilisation,
}

impl From<Liveness> for Kind {
    fn from(l: Liveness) -> Kind {
        match l {
            Liveness::Recoverability => Kind::Recoverability,
            Liveness::Stabilisation => Kind::Stabilisation,
        }
    }
}

impl From<&Expectation> for Kind {
    fn from(e: &Expectation) -> Kind {
        match e {
            Expectation::Always => Kind::Always,
            Expectation::Sometimes => Kind::Sometimes,
            Expectation::Eventually => Kind::Eventually,
        }
    }
}

/// What we expect the checker to establish for a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Safety and liveness are not refuted; a sanity example is found.
    Holds,
    /// The checker finds a counterexample (a known weakness, e.g. split
    /// brain under asynchronous timing); for sanity, no example exists.
    Violated,
    /// The bounded check can neither prove nor refute it (e.g. Raft's
    /// recoverability, when a leader may need a term beyond the bound).
    Undecided,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Holds => "holds",
            Expect::Violated => "violated",
            Expect::Undecided => "undecided",
        })
    }
}

/// What the checker established for one property. Only what it could have
/// refuted is ever reported as holding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Safety: no reachable state violates it; the whole reachable graph was
    /// explored and no bound cut anything off.
    Holds,
    /// Safety: no violation among the states within the bounds.
    HoldsWithinBound,
    /// A counterexample trace.
    Violated,
    /// Sanity: an example trace.
    ExampleFound,
    /// Sanity: no reachable state within the bounds satisfies it.
    NoExample,
    /// Liveness: no counterexample on acyclic paths. Stateright's check of
    /// `eventually` cannot see cycles, so this proves nothing.
    Incomplete,
    /// The check could neither confirm nor refute it (it was stopped, or the
    /// only counterexample runs into a bound).
    NotDecided {
        /// Why not.
        reason: String,
    },
}

impl Outcome {
    /// Whether the outcome refutes the property (a counterexample, or no
    /// example of a sanity property).
    pub fn is_refutation(&self) -> bool {
        matches!(self, Outcome::Violated | Outcome::NoExample)
    }

    /// Whether this outcome is consistent with `expect`. An outcome that
    /// decides nothing (incomplete, not decided) meets only the expectation
    /// that it is undecided, whatever the kind of property: it never counts
    /// as a pass.
    pub fn meets(&self, _kind: Kind, expect: Expect) -> bool {
        let undecided = matches!(self, Outcome::Incomplete | Outcome::NotDecided { .. });
        match (self, expect) {
            (_, Expect::Undecided) => undecided,
            _ if undecided => false,
            (outcome, Expect::Holds) => !outcome.is_refutation(),
            (outcome, Expect::Violated) => outcome.is_refutation(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Holds => f.write_str("holds (complete)"),
            Outcome::HoldsWithinBound => f.write_str("holds within bound"),
            Outcome::Violated => f.write_str("VIOLATED"),
            Outcome::ExampleFound => f.write_str("example found"),
            Outcome::NoExample => f.write_str("NO EXAMPLE"),
            Outcome::Incomplete => f.write_str("no counterexample on acyclic paths — incomplete"),
            Outcome::NotDecided { reason } => write!(f, "not decided: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of kind, outcome and expectation, and whether it
    /// meets it. Undecided outcomes refute nothing and prove nothing, so they
    /// meet only an "undecided" expectation.
    #[test]
    fn which_outcomes_meet_which_expectations() {
        use Expect::*;
        let not_decided = || Outcome::NotDecided {
            reason: "timeout".into(),
        };
        let table: Vec<(Kind, Outcome, [bool; 3])> = vec![
            // kind, outcome, meets [Holds, Violated, Undecided]
            (Kind::Always, Outcome::Holds, [true, false, false]),
            (
                Kind::Always,
                Outcome::HoldsWithinBound,
                [true, false, false],
            ),
            (Kind::Always, Outcome::Violated, [false, true, false]),
            (Kind::Always, not_decided(), [false, false, true]),
            (Kind::Sometimes, Outcome::ExampleFound, [true, false, false]),
            (Kind::Sometimes, Outcome::NoExample, [false, true, false]),
            (Kind::Sometimes, not_decided(), [false, false, true]),
            (Kind::Eventually, Outcome::Incomplete, [false, false, true]),
            (Kind::Eventually, not_decided(), [false, false, true]),
            (Kind::Eventually, Outcome::Violated, [false, true, false]),
            (Kind::Recoverability, Outcome::Holds, [true, false, false]),
            (
                Kind::Recoverability,
                Outcome::HoldsWithinBound,
                [true, false, false],
            ),
            (
                Kind::Recoverability,
                Outcome::Violated,
                [false, true, false],
            ),
            (Kind::Recoverability, not_decided(), [false, false, true]),
            (Kind::Stabilisation, Outcome::Holds, [true, false, false]),
            (Kind::Stabilisation, Outcome::Violated, [false, true, false]),
            (Kind::Stabilisation, not_decided(), [false, false, true]),
        ];
        for (kind, outcome, meets) in table {
            for (expect, want) in [Holds, Violated, Undecided].into_iter().zip(meets) {
                assert_eq!(
                    outcome.meets(kind, expect),
                    want,
                    "{kind:?} {outcome} expected {expect}"
                );
            }
        }
    }

    #[test]
    fn symmetric_protocols_default_to_depth_first_with_symmetry() {
        for kind in ProtocolKind::ALL {
            let o = CheckOptions::defaults_for(kind);
            assert_eq!(o.symmetry, kind.is_symmetric(), "{kind}");
            assert_eq!(o.strategy == Strategy::Dfs, kind.is_symmetric(), "{kind}");
            assert!(!o.keep_going && o.seeded_bug.is_none());
        }
        let symmetric = ProtocolKind::ALL
            .into_iter()
            .find(|k| k.is_symmetric())
            .expect("a symmetric protocol");
        let defaults = CheckOptions::defaults_for(symmetric);
        let bfs = defaults.clone().with_search(Some(Strategy::Bfs), None);
        assert!(!bfs.symmetry);
        let dfs_plain = defaults.with_search(Some(Strategy::Dfs), Some(false));
        assert!(!dfs_plain.symmetry);
    }
}
