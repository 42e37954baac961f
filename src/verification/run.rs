//! Running the model checker on one configuration and saying precisely what
//! it established.
//!
//! A [`Job`] names a protocol, a configuration, the check options and what
//! is expected of each property. [`run_job`] maps the protocol name to its
//! type once, builds the model once, runs Stateright's checker on it (safety
//! and sanity) and, when asked, the sound liveness check on the same model
//! ([`liveness`]).

use super::liveness::{self, LivenessResult};
use super::scenario::Scenario;
use super::trace::Trace;
use super::verdict::{CheckOptions, Expect, Kind, Outcome, Phase, Progress, Steps, Strategy};
use crate::model::{
    properties, Action, ConfigError, ElectionModel, ModelConfig, Modelled, System, UnknownBug,
};
use crate::protocols::ProtocolKind;
use serde::Serialize;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, Property};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What one property turned out to be.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    /// Its name.
    pub name: String,
    /// The kind of claim it makes.
    pub kind: Kind,
    /// What the job expected.
    pub expect: Expect,
    /// What the check established.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Whether that is what was expected ([`Outcome::meets`]).
    pub meets_expectation: bool,
    /// The counterexample or example, when there is one.
    pub trace: Option<Trace>,
}

/// Everything one check established.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The scenario's name, or the protocol's for an ad-hoc check.
    pub name: String,
    /// The scenario's description (empty for an ad-hoc check).
    pub description: String,
    /// The protocol checked.
    pub protocol: ProtocolKind,
    /// The model it was checked in.
    pub config: ModelConfig,
    /// How it was checked.
    pub options: CheckOptions,
    /// Whether symmetry reduction was applied.
    pub symmetry_used: bool,
    /// States generated.
    pub states: usize,
    /// Distinct states (after symmetry reduction, if used).
    pub unique_states: usize,
    /// The longest path explored, in steps from the initial state (the
    /// initial state alone is 0), counting only paths whose last state was
    /// checked.
    pub max_depth: usize,
    /// Wall-clock time of the Stateright check.
    pub seconds: f64,
    /// The search ran until no unexplored state remained (rather than
    /// stopping because every property was decided, or at the timeout).
    pub exhaustive: bool,
    /// Some successor was cut off by the term or in-flight bound.
    pub bound_hit: bool,
    /// Each property's verdict.
    pub properties: Vec<PropertyResult>,
    /// Statistics of the liveness check, when it ran.
    pub liveness: Option<LivenessResult>,
}

impl CheckResult {
    /// Whether every property met its expectation.
    pub fn all_met(&self) -> bool {
        self.properties.iter().all(|p| p.meets_expectation)
    }

    /// The verdict of the property named `name`, if it was checked.
    pub fn property(&self, name: &str) -> Option<&PropertyResult> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Why a job could not be checked at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The configuration makes no sense.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The seeded bug asked for does not exist.
    #[error(transparent)]
    UnknownBug(#[from] UnknownBug),
    /// An expectation names a property the model does not have.
    #[error("{job}: no property \"{name}\" (properties: {known})")]
    UnknownProperty {
        /// The job's name.
        job: String,
        /// The unknown name.
        name: String,
        /// The properties there are.
        known: String,
    },
    /// Nothing could be explored: the initial state already lies beyond the
    /// cap on messages in flight.
    #[error("the initial state already has {in_flight} messages in flight: raise the cap on messages in flight (--max-in-flight) to at least {in_flight}")]
    InitialStateBeyondBound {
        /// Messages in flight in the initial state.
        in_flight: usize,
    },
}

/// One check to run: a configuration and what we expect of it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The scenario's name, or the protocol's.
    pub name: String,
    /// What the scenario is about.
    pub description: String,
    /// The protocol to check.
    pub protocol: ProtocolKind,
    /// The model to check it in.
    pub config: ModelConfig,
    /// How to check it.
    pub options: CheckOptions,
    /// Expected outcome per property; unlisted properties are expected to hold.
    pub expect: BTreeMap<String, Expect>,
    /// Also decide the liveness claims on the complete graph.
    pub liveness: bool,
    /// Most states the liveness check may hold.
    pub max_states: usize,
}

impl Job {
    /// A check of `protocol` in `config` that expects every property to hold.
    pub fn new(protocol: ProtocolKind, config: ModelConfig, options: CheckOptions) -> Job {
        Job {
            name: protocol.name().to_string(),
            description: String::new(),
            protocol,
            config,
            options,
            expect: BTreeMap::new(),
            liveness: true,
            max_states: DEFAULT_MAX_STATES,
        }
    }

    /// The check a scenario file describes.
    pub fn from_scenario(scenario: &Scenario) -> Job {
        Job {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            protocol: scenario.protocol,
            config: scenario.model.clone(),
            options: scenario.options(),
            expect: scenario.expect.clone(),
            liveness: scenario.check.liveness.unwrap_or(true),
            max_states: scenario.check.max_states.unwrap_or(DEFAULT_MAX_STATES),
        }
    }

    /// Refuses a job that cannot run, before any work starts: a bad
    /// configuration, or an expectation for a property the model does not
    /// have. (Whether the initial state lies within the bounds is known only
    /// once the model is built; [`run_job`] says so.)
    pub fn validate(&self) -> Result<(), CheckError> {
        self.config.validate_for(self.protocol)?;
        let known = crate::with_protocol!(self.protocol, P => property_names::<P>(&self.config));
        match self.expect.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(CheckError::UnknownProperty {
                job: self.name.clone(),
                name: unknown.clone(),
                known: known.join(", "),
            }),
            None => Ok(()),
        }
    }

    /// What the job expects of `property`: as listed, or that it holds.
    pub fn expectation(&self, property: &str) -> Expect {
        self.expect.get(property).copied().unwrap_or(Expect::Holds)
    }
}

/// The names of the properties a model of `config` checks for `P`.
fn property_names<P: Modelled>(config: &ModelConfig) -> Vec<&'static str> {
    P::claims()
        .iter()
        .chain(&properties::common::<P>(config))
        .chain(&properties::real_time::<P>(config))
        .map(|p| p.name)
        .chain(P::liveness_claims(config).iter().map(|c| c.name))
        .collect()
}

/// Default cap on the liveness graph: it keeps every state it explores (about
/// 1.5 KB each for a 3-node Ring), so 8 million fit in about 12 GB.
pub const DEFAULT_MAX_STATES: usize = 8_000_000;

/// Runs a job: the Stateright check, then the liveness check if asked for.
/// `progress` hears once when the search starts (all counts zero) and every
/// two seconds after.
pub fn run_job(job: &Job, progress: &mut dyn FnMut(Progress)) -> Result<CheckResult, CheckError> {
    crate::with_protocol!(job.protocol, P => run_job_for::<P>(job, progress))
}

/// [`run_job`] for a protocol type: builds the model once and checks it.
pub fn run_job_for<P: Modelled>(
    job: &Job,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckResult, CheckError> {
    job.validate()?;
    let model =
        ElectionModel::<P>::with_bug(job.config.clone(), job.options.seeded_bug.as_deref())?;
    if let Some(in_flight) = model.initial_state_beyond_bounds() {
        return Err(CheckError::InitialStateBeyondBound { in_flight });
    }
    // Stop at the first counterexample to a safety property we expect to
    // hold (unless asked to keep going): its verdict is final.
    let stop_on: Vec<&'static str> = model
        .properties()
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
        .filter(|p| job.expectation(p.name) == Expect::Holds)
        .map(|p| p.name)
        .collect();
    let options = &job.options;
    let symmetry = options.symmetry && model.symmetric();
    progress(Progress {
        phase: if job.liveness {
            Phase::Liveness
        } else {
            Phase::Search
        },
        states: 0,
        unique_states: 0,
        max_depth: 0,
        elapsed: Duration::ZERO,
    });
    if job.liveness {
        return Ok(on_the_complete_graph(
            &model, job, stop_on, symmetry, progress,
        ));
    }
    let mut builder = model.checker().threads(options.threads.max(1));
    if let Some(steps) = options.depth {
        builder = builder.target_max_depth(stateright_target(steps));
    }
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if !options.keep_going {
        builder = builder.finish_when(HasDiscoveries::AnyOf(stop_on.into_iter().collect()));
    }
    // Stateright reduces symmetry only in depth-first search.
    let symmetry = symmetry && options.strategy == Strategy::Dfs;
    if symmetry {
        builder = builder.symmetry();
    }
    let started = Instant::now();
    Ok(match options.strategy {
        Strategy::Bfs => with_stateright(builder.spawn_bfs(), job, symmetry, started, progress),
        Strategy::Dfs => with_stateright(builder.spawn_dfs(), job, symmetry, started, progress),
    })
}

/// The check in one breadth-first exploration of the complete graph: every
/// property evaluated on every state (first counterexamples by shortest
/// paths), then liveness decided on the graph.
fn on_the_complete_graph<P: Modelled>(
    model: &ElectionModel<P>,
    job: &Job,
    stop_on: Vec<&'static str>,
    symmetry: bool,
    progress: &mut dyn FnMut(Progress),
) -> CheckResult {
    let options = &job.options;
    let search = liveness::Search {
        symmetry,
        max_states: job.max_states,
        timeout: options.timeout,
        stop_on: if options.keep_going {
            Vec::new()
        } else {
            stop_on
        },
    };
    let explored = liveness::check(model, &search, progress);
    let bound_hit =
        explored.liveness.bound_hit || options.depth.is_some_and(|d| explored.max_depth >= d);
    let stopped = explored.stopped.as_deref();
    let mut results: Vec<PropertyResult> = model
        .properties()
        .iter()
        .zip(explored.found)
        .map(|(property, found)| {
            let outcome = classify(&property.expectation, found.is_some(), stopped, bound_hit);
            judged(job, property, outcome, found.map(Trace::from_steps))
        })
        .collect();
    results.extend(explored.liveness.claims.iter().map(|claim| {
        let expect = job.expectation(&claim.name);
        PropertyResult {
            name: claim.name.clone(),
            kind: claim.kind,
            expect,
            meets_expectation: claim.outcome.meets(claim.kind, expect),
            outcome: claim.outcome.clone(),
            trace: claim.trace.clone(),
        }
    }));
    CheckResult {
        name: job.name.clone(),
        description: job.description.clone(),
        protocol: P::KIND,
        config: job.config.clone(),
        options: options.clone(),
        symmetry_used: explored.liveness.symmetry_used,
        states: explored.states,
        unique_states: explored.liveness.states,
        max_depth: explored.max_depth,
        seconds: explored.liveness.seconds,
        exhaustive: explored.stopped.is_none(),
        bound_hit,
        properties: results,
        liveness: Some(explored.liveness),
    }
}

/// A property's result: its outcome judged against the job's expectation.
fn judged<P: Modelled>(
    job: &Job,
    property: &Property<ElectionModel<P>>,
    outcome: Outcome,
    trace: Option<Trace>,
) -> PropertyResult {
    let kind = Kind::from(&property.expectation);
    let expect = job.expectation(property.name);
    PropertyResult {
        name: property.name.to_string(),
        kind,
        expect,
        meets_expectation: outcome.meets(kind, expect),
        outcome,
        trace,
    }
}

/// The check as Stateright's own (parallel) search, safety and sanity only.
fn with_stateright<P: Modelled, C: Checker<ElectionModel<P>>>(
    checker: C,
    job: &Job,
    symmetry_used: bool,
    started: Instant,
    progress: &mut dyn FnMut(Progress),
) -> CheckResult {
    let options = &job.options;
    let snapshot = |c: &C| Progress {
        phase: Phase::Search,
        states: c.state_count(),
        unique_states: c.unique_state_count(),
        max_depth: steps_explored(c.max_depth(), options.depth),
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
            && job.expectation(p.name) == Expect::Holds
            && discoveries.contains_key(p.name)
    });
    let timed_out = options.timeout.is_some_and(|t| started.elapsed() >= t);
    let stopped = if timed_out {
        Some("timeout reached")
    } else if all_discovered || (safety_refuted && !options.keep_going) {
        Some(liveness::FIRST_COUNTEREXAMPLE)
    } else {
        None
    };
    let depth_cut = options
        .depth
        .is_some_and(|steps| checker.max_depth() >= stateright_target(steps));
    let bound_hit = model.bound_was_hit() || depth_cut;
    let results = properties
        .iter()
        .map(|property| {
            let found = discoveries
                .get(property.name)
                .cloned()
                .map(|path| shortest_prefix(model, property, path));
            let outcome = classify(&property.expectation, found.is_some(), stopped, bound_hit);
            judged(job, property, outcome, found.map(Trace::from_steps))
        })
        .collect();
    CheckResult {
        name: job.name.clone(),
        description: job.description.clone(),
        protocol: P::KIND,
        config: job.config.clone(),
        options: options.clone(),
        symmetry_used,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: steps_explored(checker.max_depth(), options.depth),
        seconds,
        exhaustive: stopped.is_none(),
        bound_hit,
        properties: results,
        liveness: None,
    }
}

/// Stateright's `target_max_depth` for a bound of `steps` steps. Stateright
/// gives the initial state depth 1 and skips a state whose depth reaches the
/// target *before* checking its properties, so a target of `steps` would
/// check only paths of `steps - 2` steps; `steps + 2` checks every state
/// reached in at most `steps` steps and no state beyond.
fn stateright_target(steps: usize) -> usize {
    steps + 2
}

/// The longest path whose last state was checked, in steps, from Stateright's
/// depth (the initial state is depth 1, and a state at the target depth is
/// counted though it is skipped unchecked).
fn steps_explored(stateright_depth: usize, bound: Option<usize>) -> usize {
    let steps = stateright_depth.saturating_sub(1);
    bound.map_or(steps, |bound| steps.min(bound))
}

/// Cuts a safety counterexample or sanity example at the first state that
/// decides the property. Stateright keeps the last discovery it made, not the
/// first, so without this a trace can run on past the interesting step.
fn shortest_prefix<P: Modelled>(
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

/// What a search established for one property: whether it `found` a
/// counterexample (safety) or an example (sanity), whether it `stopped`
/// early (and why), and whether a bound cut anything off.
fn classify(
    expectation: &Expectation,
    found: bool,
    stopped: Option<&str>,
    bound_hit: bool,
) -> Outcome {
    let not_decided = |reason: &str| Outcome::NotDecided {
        reason: reason.to_string(),
    };
    match (expectation, found, stopped) {
        (Expectation::Always, true, _) => Outcome::Violated,
        (Expectation::Always, false, Some(reason)) => not_decided(reason),
        (Expectation::Always, false, None) if bound_hit => Outcome::HoldsWithinBound,
        (Expectation::Always, false, None) => Outcome::Holds,
        (Expectation::Sometimes, true, _) => Outcome::ExampleFound,
        (Expectation::Sometimes, false, Some(reason)) => not_decided(reason),
        (Expectation::Sometimes, false, None) => Outcome::NoExample,
        // elect claims no `eventually` property: liveness is decided on the
        // complete graph. Stateright's check of one would be incomplete.
        (Expectation::Eventually, true, _) => not_decided("a path to a bound or an end"),
        (Expectation::Eventually, false, _) => Outcome::Incomplete,
    }
}
