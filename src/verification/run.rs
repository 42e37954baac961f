//! Running the model checker on one configuration and saying precisely what
//! it established.

use super::scenario::{Scenario, RECOVERABILITY};
use super::trace::Trace;
use crate::model::{Action, ElectionModel, ModelConfig, System};
use crate::protocols::{Protocol, ProtocolKind};
use serde::{Deserialize, Serialize};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, Property};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// How the state space is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Breadth first: shortest counterexamples; keeps the frontier in memory.
    Bfs,
    /// Depth first: little memory; enables symmetry reduction.
    Dfs,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckOptions {
    pub strategy: Strategy,
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
    /// Check the protocol with this seeded bug (needs the `mutants` feature).
    pub mutation: Option<&'static str>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            strategy: Strategy::Bfs,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            depth: None,
            symmetry: false,
            timeout: None,
            keep_going: false,
            mutation: None,
        }
    }
}

/// A snapshot of a running check.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
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
    /// Sound liveness: from every reachable state a single leader known to
    /// all can still be reached (see `verification::liveness`).
    Recoverability,
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
    NotDecided { reason: String },
}

impl Outcome {
    fn is_refutation(&self) -> bool {
        matches!(self, Outcome::Violated | Outcome::NoExample)
    }

    /// Whether this outcome is consistent with `expect`. Undecided outcomes
    /// refute nothing, so they are consistent with either expectation only
    /// for liveness, whose check is known to be incomplete.
    pub fn meets(&self, kind: Kind, expect: Expect) -> bool {
        let undecided = matches!(self, Outcome::Incomplete | Outcome::NotDecided { .. });
        match (self, expect) {
            (_, Expect::Undecided) => undecided,
            (Outcome::Incomplete, _) | (Outcome::NotDecided { .. }, _)
                if kind == Kind::Eventually =>
            {
                true
            }
            (Outcome::NotDecided { .. }, _) => false,
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

#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    pub name: String,
    pub kind: Kind,
    pub expect: Expect,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub meets_expectation: bool,
    /// The counterexample or example, when there is one.
    pub trace: Option<Trace>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The scenario's name, or the protocol's for an ad-hoc check.
    pub name: String,
    pub description: String,
    pub protocol: ProtocolKind,
    pub config: ModelConfig,
    pub options: CheckOptions,
    pub symmetry_used: bool,
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    /// The search ran until no unexplored state remained (rather than
    /// stopping because every property was decided, or at the timeout).
    pub exhaustive: bool,
    /// Some successor was cut off by the term or in-flight bound.
    pub bound_hit: bool,
    pub properties: Vec<PropertyResult>,
    /// Statistics of the recoverability check, when it ran.
    pub liveness: Option<super::liveness::LivenessResult>,
}

impl CheckResult {
    pub fn all_met(&self) -> bool {
        self.properties.iter().all(|p| p.meets_expectation)
    }
}

/// Checks `config` for the protocol named by `kind`.
pub fn check(
    kind: ProtocolKind,
    config: &ModelConfig,
    options: &CheckOptions,
    expectations: &dyn Fn(&str) -> Option<Expect>,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckResult, String> {
    crate::with_protocol!(kind, P => check_protocol::<P>(config, options, expectations, progress))
}

/// Refuses a configuration that cannot be checked, before any work starts.
pub fn preflight(kind: ProtocolKind, config: &ModelConfig) -> Result<(), String> {
    config.validate()?;
    crate::with_protocol!(kind, P => ElectionModel::<P>::new(config.clone()).check_initial_state_within_bounds())
}

/// One check to run: a configuration and what we expect of it.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub description: String,
    pub protocol: ProtocolKind,
    pub config: ModelConfig,
    pub options: CheckOptions,
    /// Expected outcome per property; unlisted properties are expected to hold.
    pub expect: BTreeMap<String, Expect>,
    /// Also run the sound recoverability check.
    pub recoverability: bool,
    /// Most states the recoverability check may hold.
    pub max_states: usize,
}

impl Job {
    pub fn from_scenario(scenario: &Scenario) -> Job {
        Job {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            protocol: scenario.protocol,
            config: scenario.model.clone(),
            options: scenario.options(),
            expect: scenario.expect.clone(),
            recoverability: scenario.wants_recoverability(),
            max_states: scenario.check.max_states.unwrap_or(DEFAULT_MAX_STATES),
        }
    }

    /// Refuses a job that cannot run: a bad configuration, or an expectation
    /// for a property the model does not have.
    pub fn validate(&self) -> Result<(), String> {
        preflight(self.protocol, &self.config)?;
        let known: Vec<&'static str> = crate::with_protocol!(self.protocol, P => {
            ElectionModel::<P>::new(self.config.clone()).properties().iter().map(|p| p.name).collect()
        });
        match self
            .expect
            .keys()
            .find(|k| k.as_str() != RECOVERABILITY && !known.contains(&k.as_str()))
        {
            Some(unknown) => Err(format!(
                "{}: no property \"{unknown}\" (properties: {}, {RECOVERABILITY})",
                self.name,
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    fn expectation(&self, property: &str) -> Expect {
        self.expect.get(property).copied().unwrap_or(Expect::Holds)
    }
}

/// Default cap on the recoverability graph (about 2 GB of edges and index).
pub const DEFAULT_MAX_STATES: usize = 20_000_000;

/// Runs a job: the Stateright check, then recoverability if asked for.
pub fn run_job(job: &Job, progress: &mut dyn FnMut(Progress)) -> Result<CheckResult, String> {
    job.validate()?;
    let expectations = |name: &str| Some(job.expectation(name));
    let mut result = check(
        job.protocol,
        &job.config,
        &job.options,
        &expectations,
        progress,
    )?;
    result.name = job.name.clone();
    result.description = job.description.clone();
    if job.recoverability {
        let use_symmetry = job.options.symmetry;
        let liveness = crate::with_protocol!(job.protocol, P => {
            super::liveness::recoverability::<P>(&job.config, job.options.mutation, use_symmetry, job.max_states)
        });
        let kind = Kind::Recoverability;
        let expect = job.expectation(RECOVERABILITY);
        result.properties.push(PropertyResult {
            name: RECOVERABILITY.to_string(),
            kind,
            expect,
            meets_expectation: liveness.outcome.meets(kind, expect),
            outcome: liveness.outcome.clone(),
            trace: liveness.trace.clone(),
        });
        result.liveness = Some(liveness);
    }
    Ok(result)
}

/// The expectation used when none is given: every property holds.
pub fn default_expectation(_: &str) -> Option<Expect> {
    Some(Expect::Holds)
}

pub fn check_protocol<P: Protocol>(
    config: &ModelConfig,
    options: &CheckOptions,
    expectations: &dyn Fn(&str) -> Option<Expect>,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckResult, String> {
    let model = ElectionModel::<P>::with_mutation(config.clone(), options.mutation);
    model.check_initial_state_within_bounds()?;
    // Stop at the first counterexample to a safety property we expect to
    // hold (unless asked to keep going): its verdict is final.
    let stop_on: std::collections::BTreeSet<&'static str> = model
        .properties()
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
        .filter(|p| expectations(p.name).unwrap_or(Expect::Holds) == Expect::Holds)
        .map(|p| p.name)
        .collect();
    let mut builder = model.checker().threads(options.threads.max(1));
    if let Some(depth) = options.depth {
        builder = builder.target_max_depth(depth);
    }
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if !options.keep_going {
        builder = builder.finish_when(HasDiscoveries::AnyOf(stop_on));
    }
    let symmetry = match (options.symmetry, options.strategy, P::symmetry()) {
        (true, Strategy::Dfs, Some(representative)) => Some(representative),
        _ => None,
    };
    if let Some(representative) = symmetry {
        builder = builder.symmetry_fn(representative);
    }
    let started = Instant::now();
    Ok(match options.strategy {
        Strategy::Bfs => finish(
            builder.spawn_bfs(),
            config,
            options,
            symmetry.is_some(),
            started,
            expectations,
            progress,
        ),
        Strategy::Dfs => finish(
            builder.spawn_dfs(),
            config,
            options,
            symmetry.is_some(),
            started,
            expectations,
            progress,
        ),
    })
}

fn finish<P: Protocol, C: Checker<ElectionModel<P>>>(
    checker: C,
    config: &ModelConfig,
    options: &CheckOptions,
    symmetry_used: bool,
    started: Instant,
    expectations: &dyn Fn(&str) -> Option<Expect>,
    progress: &mut dyn FnMut(Progress),
) -> CheckResult {
    let snapshot = |c: &C| Progress {
        states: c.state_count(),
        unique_states: c.unique_state_count(),
        max_depth: c.max_depth(),
        elapsed: started.elapsed(),
    };
    let poll = Duration::from_millis(100);
    let mut last_report = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(poll);
        if last_report.elapsed() >= Duration::from_secs(2) {
            progress(snapshot(&checker));
            last_report = Instant::now();
        }
    }
    let checker = checker.join();
    let seconds = started.elapsed().as_secs_f64();
    let model = checker.model();
    let discoveries = checker.discoveries();
    let properties = model.properties();
    let all_discovered = properties.iter().all(|p| discoveries.contains_key(p.name));
    let safety_refuted = properties.iter().any(|p| {
        p.expectation == Expectation::Always
            && expectations(p.name).unwrap_or(Expect::Holds) == Expect::Holds
            && discoveries.contains_key(p.name)
    });
    let timed_out = options.timeout.is_some_and(|t| started.elapsed() >= t);
    let stopped_early = all_discovered || (safety_refuted && !options.keep_going);
    let exhaustive = !stopped_early && !timed_out;
    let depth_cut = options.depth.is_some_and(|d| checker.max_depth() >= d);
    let bound_hit = model.bound_was_hit() || depth_cut;

    let results = properties
        .iter()
        .map(|property| {
            let kind = Kind::from(&property.expectation);
            let expect = expectations(property.name).unwrap_or(Expect::Holds);
            let found = discoveries
                .get(property.name)
                .cloned()
                .map(|path| shortest_prefix(model, property, path));
            let outcome = classify(
                model,
                &property.expectation,
                found.as_ref(),
                exhaustive,
                bound_hit,
                timed_out,
            );
            let trace = found.map(Trace::from_steps);
            PropertyResult {
                name: property.name.to_string(),
                kind,
                expect,
                meets_expectation: outcome.meets(kind, expect),
                outcome,
                trace,
            }
        })
        .collect();
    CheckResult {
        name: P::KIND.name().to_string(),
        description: String::new(),
        protocol: P::KIND,
        config: config.clone(),
        options: options.clone(),
        symmetry_used,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        seconds,
        exhaustive,
        bound_hit,
        properties: results,
        liveness: None,
    }
}

/// Cuts a safety counterexample or sanity example at the first state that
/// decides the property. Stateright keeps the last discovery it made, not the
/// first, so without this a trace can run on past the interesting step.
fn shortest_prefix<P: Protocol>(
    model: &ElectionModel<P>,
    property: &Property<ElectionModel<P>>,
    path: Path<System<P>, Action<P>>,
) -> Steps<P> {
    let decides = |state: &System<P>| match property.expectation {
        Expectation::Always => !(property.condition)(model, state),
        Expectation::Sometimes => (property.condition)(model, state),
        Expectation::Eventually => false,
    };
    let steps = path.into_vec();
    let mut steps = steps;
    if let Some(cut) = steps.iter().position(|(state, _)| decides(state)) {
        steps.truncate(cut + 1);
        if let Some(last) = steps.last_mut() {
            last.1 = None;
        }
    }
    steps
}

/// A path as (state, action taken from it) pairs; the last has no action.
pub type Steps<P> = Vec<(System<P>, Option<Action<P>>)>;

fn classify<P: Protocol>(
    model: &ElectionModel<P>,
    expectation: &Expectation,
    found: Option<&Steps<P>>,
    exhaustive: bool,
    bound_hit: bool,
    timed_out: bool,
) -> Outcome {
    let stopped = || Outcome::NotDecided {
        reason: if timed_out {
            "timeout reached".into()
        } else {
            "stopped at the first counterexample; --keep-going decides it".into()
        },
    };
    match (expectation, found) {
        (Expectation::Always, Some(_)) => Outcome::Violated,
        (Expectation::Always, None) if !exhaustive => stopped(),
        (Expectation::Always, None) if bound_hit => Outcome::HoldsWithinBound,
        (Expectation::Always, None) => Outcome::Holds,
        (Expectation::Sometimes, Some(_)) => Outcome::ExampleFound,
        (Expectation::Sometimes, None) if !exhaustive => stopped(),
        (Expectation::Sometimes, None) => Outcome::NoExample,
        (Expectation::Eventually, Some(path)) => {
            // Stateright reports a path that ends in a state without
            // successors. If the state has successors beyond a bound, the
            // bound ended the path, not the protocol.
            let Some((last, _)) = path.last() else {
                return Outcome::Violated;
            };
            let mut actions = Vec::new();
            model.actions(last, &mut actions);
            let has_successor = actions
                .into_iter()
                .any(|a| model.next_state(last, a).is_some());
            if has_successor {
                Outcome::NotDecided {
                    reason: "every leaderless path found ends at the bound".into(),
                }
            } else {
                Outcome::Violated
            }
        }
        (Expectation::Eventually, None) if !exhaustive => stopped(),
        (Expectation::Eventually, None) => Outcome::Incomplete,
    }
}
