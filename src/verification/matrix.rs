//! `elect verify`: every scenario in `models/`, the seeded bugs, and the
//! symmetry reduction, gathered into one report.

use super::run::{self, CheckError, CheckResult, Job};
use super::scenario::{Scenario, ScenarioError};
use super::topologies::{self, TopologyTable};
use super::verdict::{Expect, Kind, Outcome, Strategy};
use crate::protocols::ProtocolKind;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why `elect verify` could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A scenario file is unreadable or invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A scenario cannot be checked.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The directory holds no scenario (or none matches `--only`).
    #[error("no scenario files in {}", .0.display())]
    NoScenarios(PathBuf),
}

/// One seeded bug and what the checker made of it.
#[derive(Clone, Debug, Serialize)]
pub struct MutantResult {
    /// The bug's name.
    pub name: String,
    /// Its protocol.
    pub protocol: ProtocolKind,
    /// What it does.
    pub what: String,
    /// The scenario that must catch it.
    pub scenario: String,
    /// The property whose counterexample caught the bug.
    pub caught_by: Option<String>,
    /// Steps of the trace that caught it.
    pub trace_steps: Option<usize>,
    /// Distinct states explored until then.
    pub unique_states: usize,
    /// Time taken.
    pub seconds: f64,
    /// Why the check could not run, if it could not.
    pub error: Option<String>,
}

impl MutantResult {
    /// Whether the bug was caught.
    pub fn killed(&self) -> bool {
        self.caught_by.is_some()
    }
}

/// Unique states of one configuration with and without symmetry reduction.
#[derive(Clone, Debug, Serialize)]
pub struct SymmetryRow {
    /// The scenario measured.
    pub scenario: String,
    /// Distinct states without symmetry reduction.
    pub unique_without: usize,
    /// Time without.
    pub seconds_without: f64,
    /// Distinct states with it.
    pub unique_with: usize,
    /// Time with.
    pub seconds_with: f64,
}

/// Everything `elect verify` established.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The command that produced it.
    pub command: String,
    /// When (RFC 3339).
    pub date: String,
    /// On what machine.
    pub machine: String,
    /// How long it took.
    pub seconds: f64,
    /// Every scenario's result.
    pub scenarios: Vec<CheckResult>,
    /// Every seeded bug's result, when asked for.
    pub mutants: Vec<MutantResult>,
    /// The symmetry measurements, when asked for.
    pub symmetry: Vec<SymmetryRow>,
    /// Every topology of 3 nodes for every protocol row, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topologies: Option<TopologyTable>,
}

impl Report {
    /// Whether every scenario met its expectations and every seeded bug was
    /// caught.
    pub fn all_met(&self) -> bool {
        self.scenarios.iter().all(CheckResult::all_met)
            && self.mutants.iter().all(MutantResult::killed)
    }
}

/// Runs every scenario, reporting each as it finishes.
pub fn run_scenarios(
    scenarios: &[Scenario],
    on_done: &mut dyn FnMut(&CheckResult),
) -> Result<Vec<CheckResult>, CheckError> {
    let mut results = Vec::new();
    for scenario in scenarios {
        let result = run::run_job(&Job::from_scenario(scenario), &mut |_| {})?;
        on_done(&result);
        results.push(result);
    }
    Ok(results)
}

/// Runs each seeded bug whose scenario `only` selects against that
/// scenario. A bug is caught when a property the scenario expects to hold is
/// refuted.
pub fn run_mutants(
    models: &Path,
    only: &dyn Fn(&str) -> bool,
    on_done: &mut dyn FnMut(&MutantResult),
) -> Vec<MutantResult> {
    let mut results = Vec::new();
    for bug in crate::model::all_seeded_bugs()
        .into_iter()
        .filter(|bug| only(bug.scenario))
    {
        let started = Instant::now();
        let mut result = MutantResult {
            name: bug.name.into(),
            protocol: bug.protocol,
            what: bug.what.into(),
            scenario: bug.scenario.into(),
            caught_by: None,
            trace_steps: None,
            unique_states: 0,
            seconds: 0.0,
            error: None,
        };
        let path = models.join(format!("{}.toml", bug.scenario));
        match Scenario::load(&path) {
            Err(e) => result.error = Some(e.to_string()),
            Ok(scenario) => {
                let mut job = Job::from_scenario(&scenario);
                // Stop at the first unexpected counterexample: that is the catch.
                job.options.keep_going = false;
                job.options.seeded_bug = Some(bug.name.to_string());
                match run::run_job(&job, &mut |_| {}) {
                    Err(e) => result.error = Some(e.to_string()),
                    Ok(checked) => {
                        result.unique_states = checked.unique_states;
                        if let Some(p) = checked
                            .properties
                            .iter()
                            .find(|p| p.expect == Expect::Holds && p.outcome.is_refutation())
                        {
                            result.caught_by = Some(p.name.clone());
                            result.trace_steps = p.trace.as_ref().map(|t| t.steps.len());
                        }
                    }
                }
            }
        }
        result.seconds = started.elapsed().as_secs_f64();
        on_done(&result);
        results.push(result);
    }
    results
}

/// Checks the scenarios whose protocol supports symmetry reduction twice,
/// depth-first with and without it.
pub fn compare_symmetry(scenarios: &[Scenario]) -> Result<Vec<SymmetryRow>, CheckError> {
    let mut rows = Vec::new();
    for scenario in scenarios.iter().filter(|s| s.protocol.is_symmetric()) {
        let measure = |symmetry: bool| -> Result<(usize, f64), CheckError> {
            let mut job = Job::from_scenario(scenario);
            job.liveness = false;
            job.options = job.options.with_search(Some(Strategy::Dfs), Some(symmetry));
            job.options.keep_going = true;
            let r = run::run_job(&job, &mut |_| {})?;
            Ok((r.unique_states, r.seconds))
        };
        let (unique_with, seconds_with) = measure(true)?;
        let (unique_without, seconds_without) = measure(false)?;
        rows.push(SymmetryRow {
            scenario: scenario.name.clone(),
            unique_without,
            seconds_without,
            unique_with,
            seconds_with,
        });
    }
    Ok(rows)
}

/// A short cell for a property's outcome: what was established, and whether
/// it matches the expectation.
fn cell(result: &CheckResult, property: &str) -> String {
    let Some(p) = result.properties.iter().find(|p| p.name == property) else {
        return "—".into();
    };
    let what = match &p.outcome {
        Outcome::Holds => "holds".to_string(),
        Outcome::HoldsWithinBound => "holds (bound)".to_string(),
        Outcome::Violated => match &p.trace {
            Some(t) => format!("**violated** ({} steps)", t.steps.len()),
            None => "**violated**".to_string(),
        },
        Outcome::ExampleFound => "example".to_string(),
        Outcome::NoExample => "**no example**".to_string(),
        Outcome::Incomplete => "incomplete".to_string(),
        Outcome::NotDecided { .. } => "not decided".to_string(),
    };
    let mark = if p.meets_expectation {
        "✓"
    } else {
        "✗ UNEXPECTED"
    };
    format!("{what} {mark}")
}

/// The unique states that Stateright's own `examples/paxos.rs` pins in its
/// test (single-decree Paxos, 2 clients and 3 servers; no timers, crashes,
/// loss or storage): the yardstick the Paxos rows are set beside.
pub const STATERIGHT_PAXOS_EXAMPLE_STATES: usize = 16_668;

/// The Paxos scenarios' state counts beside Stateright's own Paxos example.
fn render_paxos_yardstick(out: &mut String, report: &Report) {
    let paxos: Vec<_> = report
        .scenarios
        .iter()
        .filter(|r| r.protocol == ProtocolKind::Paxos)
        .collect();
    if paxos.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Paxos beside Stateright's own example
"
    );
    let _ = writeln!(
        out,
        "Stateright's `examples/paxos.rs` checks one decree with 2 clients and 3 servers, without timers, \
         crashes, loss or storage; its test pins {STATERIGHT_PAXOS_EXAMPLE_STATES} unique states. `elect`'s \
         Paxos decides a leader for every epoch, with election timers, saved promises and the faults of each \
         scenario:\n"
    );
    let _ = writeln!(
        out,
        "| scenario | fault model | states (unique) | × Stateright's example |\n|---|---|---|---|"
    );
    for r in paxos {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} |",
            r.name,
            r.config.describe(),
            r.unique_states,
            r.unique_states as f64 / STATERIGHT_PAXOS_EXAMPLE_STATES as f64
        );
    }
    let _ = writeln!(out);
}

/// The report as Markdown.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Verification report\n");
    let _ = writeln!(
        out,
        "Generated by `{}` on {} ({}) in {:.0} s. Every cell says what the check established and whether that is \
         what the scenario file expects (✓). \"holds\" means the complete reachable graph was explored; \
         \"holds (bound)\" that no violation exists among the states within the bounds (terms, messages in \
         flight); \"violated\" comes with a counterexample trace below; \"not decided\" means the bounded \
         check can neither prove nor refute it. Each scenario is checked under its own timing; which of \
         these verdicts change when the same scenarios are checked with time explicit (`timed`) is in \
         [`timed-recheck.md`](timed-recheck.md) (`verification/timed-recheck.sh`).\n",
        report.command, report.date, report.machine, report.seconds
    );
    let safety: Vec<String> = {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        for r in &report.scenarios {
            for p in &r.properties {
                if matches!(
                    p.kind,
                    Kind::Always | Kind::Recoverability | Kind::Stabilisation
                ) && seen.insert(p.name.clone())
                {
                    names.push(p.name.clone());
                }
            }
        }
        names
    };
    let _ = writeln!(out, "## Protocol × fault model × property\n");
    let _ = write!(out, "| scenario | fault model |");
    for name in &safety {
        let _ = write!(out, " {name} |");
    }
    let _ = writeln!(out, " sanity examples | states (unique) | time |");
    let _ = write!(out, "|---|---|");
    for _ in &safety {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out, "---|---|---|");
    for r in &report.scenarios {
        let _ = write!(
            out,
            "| [{}](#{}) | {} |",
            r.name,
            r.name,
            r.config.describe()
        );
        for name in &safety {
            let _ = write!(out, " {} |", cell(r, name));
        }
        let sanity: Vec<_> = r
            .properties
            .iter()
            .filter(|p| p.kind == Kind::Sometimes)
            .collect();
        let sanity_ok = sanity.iter().all(|p| p.meets_expectation);
        let _ = writeln!(
            out,
            " {} of {} {} | {} | {:.1} s |",
            sanity
                .iter()
                .filter(|p| p.outcome == Outcome::ExampleFound)
                .count(),
            sanity.len(),
            if sanity_ok { "✓" } else { "✗" },
            r.unique_states,
            r.seconds + r.liveness.as_ref().map_or(0.0, |l| l.seconds)
        );
    }
    let _ = writeln!(
        out,
        "\nLiveness is decided on the complete graph: recoverability (from every state a single leader known to \
         all can still be reached) and, with GST, stabilisation (after GST every path reaches one and keeps it; \
         deadlocks and livelocks are violations with a trace).\n"
    );

    render_paxos_yardstick(&mut out, report);

    let covered: Vec<_> = report
        .scenarios
        .iter()
        .filter_map(|r| Some((r, r.liveness.as_ref()?)))
        .filter(|(_, l)| !l.coverage.is_empty())
        .collect();
    if !covered.is_empty() {
        let _ = writeln!(out, "## Coverage\n");
        let _ = writeln!(
            out,
            "How many transitions of each scenario's graph each kind of step made, as TLC prints: what the \
             bounds let the checker explore. A kind that is missing never happened.\n"
        );
        let _ = writeln!(
            out,
            "| scenario | transitions per kind of step |\n|---|---|"
        );
        for (r, l) in covered {
            let kinds: Vec<String> = l
                .coverage
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            let _ = writeln!(out, "| {} | {} |", r.name, kinds.join(" · "));
        }
        let _ = writeln!(out);
    }

    if !report.mutants.is_empty() {
        let _ = writeln!(out, "## Seeded bugs\n");
        let _ = writeln!(
            out,
            "Each bug (`src/model/claims.rs`) is checked against the scenario that should catch it; it is \
             caught when a property the scenario expects to hold is refuted.\n"
        );
        let _ = writeln!(out, "| bug | what it does | scenario | caught by | trace | states | time |\n|---|---|---|---|---|---|---|");
        for m in &report.mutants {
            let caught = match (&m.caught_by, &m.error) {
                (Some(p), _) => format!("{p} ✓"),
                (None, Some(e)) => format!("error: {e}"),
                (None, None) => "**SURVIVED** ✗".into(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {:.1} s |",
                m.name,
                m.what,
                m.scenario,
                caught,
                m.trace_steps.map_or("—".into(), |s| format!("{s} steps")),
                m.unique_states,
                m.seconds
            );
        }
        let _ = writeln!(out);
    }

    if !report.symmetry.is_empty() {
        let _ = writeln!(out, "## Symmetry reduction\n");
        let _ = writeln!(
            out,
            "Raft's nodes are interchangeable, so states that differ only by a permutation of node ids are \
             explored once (Stateright's `Representative`, depth-first search).\n"
        );
        let _ = writeln!(out, "| scenario | unique states without | time | unique states with | time | reduction |\n|---|---|---|---|---|---|");
        for s in &report.symmetry {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} s | {} | {:.1} s | {:.1}× |",
                s.scenario,
                s.unique_without,
                s.seconds_without,
                s.unique_with,
                s.seconds_with,
                s.unique_without as f64 / s.unique_with.max(1) as f64
            );
        }
        let _ = writeln!(out);
    }

    if let Some(table) = &report.topologies {
        out.push_str(&topologies::render_markdown(table));
    }

    let _ = writeln!(out, "## Scenarios and counterexamples\n");
    for r in &report.scenarios {
        let _ = writeln!(out, "### {}\n", r.name);
        let _ = writeln!(
            out,
            "{} — `models/{}.toml`: {}.\n",
            r.description,
            r.name,
            r.config.describe()
        );
        for p in &r.properties {
            let Some(trace) = &p.trace else { continue };
            if !matches!(p.outcome, Outcome::Violated) {
                continue;
            }
            let _ = writeln!(
                out,
                "<details><summary>{}: counterexample, {} steps</summary>\n\n```\n{}```\n</details>\n",
                p.name,
                trace.steps.len(),
                trace
            );
        }
    }
    out
}

/// "2 cores, 23 GiB" from the OS, for the report header.
pub fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<u64>().ok())
                })
        })
        .map_or("memory unknown".into(), |kb| {
            format!("{} GiB", (kb + (1 << 19)) >> 20)
        });
    format!("{cores} cores, {memory}")
}

/// What `elect verify` checks besides the scenarios.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras {
    /// Every seeded bug.
    pub mutants: bool,
    /// Raft's state counts with and without symmetry reduction.
    pub symmetry: bool,
    /// Every topology of 3 nodes for every protocol row.
    pub topologies: bool,
}

/// Runs everything `elect verify` asks for.
pub fn verify(
    models: &Path,
    only: Option<&str>,
    extras: Extras,
    command: String,
    on_scenario: &mut dyn FnMut(&CheckResult),
    on_mutant: &mut dyn FnMut(&MutantResult),
) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let selected = |name: &str| only.is_none_or(|o| name.contains(o));
    let scenarios: Vec<Scenario> = Scenario::load_dir(models)?
        .into_iter()
        .filter(|s| selected(&s.name))
        .collect();
    if scenarios.is_empty() && !extras.topologies {
        return Err(VerifyError::NoScenarios(models.to_path_buf()));
    }
    let results = run_scenarios(&scenarios, on_scenario)?;
    let mutants = if extras.mutants {
        run_mutants(models, &selected, on_mutant)
    } else {
        Vec::new()
    };
    let symmetry = if extras.symmetry {
        compare_symmetry(&scenarios)?
    } else {
        Vec::new()
    };
    let topologies = if extras.topologies {
        Some(topologies::check_every_topology(3, &mut |row, seconds| {
            eprintln!("✓ every topology of 3 nodes: {row:<32} {seconds:>7.1} s")
        })?)
    } else {
        None
    };
    Ok(Report {
        command,
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        machine: machine_description(),
        seconds: started.elapsed().as_secs_f64(),
        scenarios: results,
        mutants,
        symmetry,
        topologies,
    })
}
