//! `elect check`: model-check a protocol, each protocol, or a scenario file,
//! and say precisely what was established.

use super::model_args::ModelArgs;
use super::Failure;
use crate::model::ModelConfig;
use crate::protocols::ProtocolKind;
use crate::verification::report;
use crate::verification::run::{self, CheckResult, Job};
use crate::verification::scenario::Scenario;
use crate::verification::verdict::{CheckOptions, Phase, Progress, Strategy};
use clap::Args;
use std::io::Write;
use std::time::Duration;

/// What `elect check` checks: one protocol, each protocol, or a scenario file.
#[derive(Clone, Debug)]
enum CheckTarget {
    Protocols(Vec<ProtocolKind>),
    Scenario(Box<Scenario>),
}

fn parse_target(target: &str) -> Result<CheckTarget, Failure> {
    if target == "all" {
        return Ok(CheckTarget::Protocols(ProtocolKind::ALL.to_vec()));
    }
    if let Ok(kind) = target.parse::<ProtocolKind>() {
        return Ok(CheckTarget::Protocols(vec![kind]));
    }
    let path = std::path::Path::new(target);
    if path.exists() || target.ends_with(".toml") {
        return Scenario::load(path)
            .map(|s| CheckTarget::Scenario(Box::new(s)))
            .map_err(|e| Failure::Usage(e.to_string()));
    }
    Err(Failure::Usage(format!(
        "'{target}' is neither a protocol ({}, all) nor a scenario file",
        ProtocolKind::names()
    )))
}

/// `elect check --help`'s epilogue, with every protocol's default model as
/// the model layer defines it.
pub fn help() -> String {
    let mut text = String::from("Defaults (flags override them one by one):\n");
    for kind in ProtocolKind::ALL {
        let options = CheckOptions::defaults_for(kind);
        let search = match (options.strategy, options.symmetry) {
            (Strategy::Dfs, true) => "dfs with symmetry reduction",
            (Strategy::Dfs, false) => "dfs",
            (Strategy::Bfs, _) => "bfs",
        };
        let line = format!("{}; {search}", ModelConfig::default_for(kind).describe());
        text.push_str(&format!("  {:<11}{}\n", kind.name(), wrap(&line, 78, 13)));
    }
    text.push_str(
        "
Exit status: 0 when every property meets its expectation, 1 when one does not,
2 for bad arguments.

Examples:
  elect check raft
  elect check raft --nodes 4 --max-term 2 --crashes 0
  elect check bully --timing asynchronous     # split brain: a counterexample, exit 1
  elect check ring --lossy                    # split brain through a lost ack
  elect check bully --recover                 # a recovering higher node coordinates too early
  elect check bully --timing timed --nodes 3 --crashes 1 --reply-ticks 2
                                              # Δ-synchronous: a reply timeout of one round trip splits the brain
  elect check models/bully-halt-3-recovery-timed.toml   # Garcia-Molina's stale HALT, with time explicit",
    );
    text
}

/// Wraps `text` at word boundaries to `width` columns, indenting every line
/// after the first by `indent`.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut column = indent;
    for word in text.split(' ') {
        if column > indent && column + 1 + word.chars().count() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if column > indent {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += word.chars().count();
    }
    out
}

/// `elect check`'s flags.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// bully, bully-halt, ring, raft, paxos, all — or a scenario file (models/*.toml).
    #[arg(value_name = "PROTOCOL|FILE")]
    pub target: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Decide liveness on the complete graph (default: yes): recoverability
    /// (from every reachable state a single leader known to all can still be
    /// reached) and, with GST, stabilisation (after GST every path reaches
    /// one and keeps it). `--liveness=false` checks safety only.
    #[arg(long, alias = "recoverability", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub liveness: Option<bool>,
    /// Do not explore paths longer than D steps.
    #[arg(long, value_name = "D")]
    pub depth: Option<usize>,
    /// Checker threads (default: a scenario file's, else one per core).
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Search strategy (default: a scenario file's, else dfs with symmetry
    /// reduction for raft and bfs otherwise; bfs finds the shortest
    /// counterexamples). With a scenario file, each search flag overrides
    /// only its own setting of the file's `[check]`.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Symmetry reduction for protocols whose nodes are interchangeable
    /// (raft; needs dfs). Default: on for raft with dfs.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub symmetry: Option<bool>,
    /// Stop after this many seconds and report what was established.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Explore on after the first safety counterexample to decide every property.
    #[arg(long)]
    pub keep_going: bool,
    /// Also print the traces of sanity examples, and of liveness paths that
    /// ended at a bound.
    #[arg(long)]
    pub examples: bool,
    /// Run every node with this seeded bug (`elect verify --mutants` lists
    /// them), to see the counterexample that catches it.
    #[arg(long, value_name = "NAME")]
    pub seeded_bug: Option<String>,
    /// Print the result as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

impl CheckArgs {
    /// `base` (the protocol's defaults, or a scenario file's `[check]`)
    /// with every given flag applied over it; what no flag names stays.
    fn options(&self, base: CheckOptions) -> Result<CheckOptions, Failure> {
        if self.symmetry == Some(true) && self.strategy == Some(Strategy::Bfs) {
            return Err(Failure::Usage(
                "--symmetry needs --strategy dfs (Stateright applies symmetry reduction only in depth-first search)".into(),
            ));
        }
        if self.threads == Some(0) {
            return Err(Failure::Usage("--threads must be at least 1".into()));
        }
        if self.depth == Some(0) {
            return Err(Failure::Usage("--depth must be at least 1".into()));
        }
        let mut options = base.with_search(self.strategy, self.symmetry);
        if let Some(threads) = self.threads {
            options.threads = threads;
        }
        if self.depth.is_some() {
            options.depth = self.depth;
        }
        if let Some(timeout) = self.timeout {
            options.timeout = Some(Duration::from_secs(timeout));
        }
        options.keep_going |= self.keep_going;
        Ok(options)
    }

    /// The jobs to run, every one validated before any runs.
    fn jobs(&self) -> Result<Vec<Job>, Failure> {
        let mut jobs = Vec::new();
        match parse_target(&self.target)? {
            CheckTarget::Scenario(scenario) => {
                if self.model.any_given() {
                    return Err(Failure::Usage(format!(
                        "{}: a scenario file fixes the model; edit the file instead of passing model flags",
                        self.target
                    )));
                }
                let mut job = Job::from_scenario(&scenario);
                job.options = self.options(job.options.clone())?;
                if let Some(liveness) = self.liveness {
                    job.liveness = liveness;
                }
                jobs.push(job);
            }
            CheckTarget::Protocols(protocols) => {
                for protocol in protocols {
                    let mut job = Job::new(
                        protocol,
                        self.model.config(protocol)?,
                        self.options(CheckOptions::defaults_for(protocol))?,
                    );
                    job.liveness = self.liveness.unwrap_or(true);
                    jobs.push(job);
                }
            }
        }
        for job in &mut jobs {
            job.options.seeded_bug.clone_from(&self.seeded_bug);
            job.validate().map_err(|e| Failure::Usage(e.to_string()))?;
        }
        Ok(jobs)
    }
}

/// Runs `elect check`; true when every property met its expectation.
pub fn check(args: CheckArgs) -> Result<bool, Failure> {
    let jobs = args.jobs()?;
    let mut all_met = true;
    let mut results = Vec::new();
    for job in &jobs {
        let result = check_one(job, args.json)?;
        all_met &= result.all_met();
        if args.json {
            results.push(result);
        } else {
            print!("{}", report::render(&result, args.examples));
            println!();
        }
    }
    if args.json {
        let json = if results.len() == 1 {
            serde_json::to_string_pretty(&results[0])
        } else {
            serde_json::to_string_pretty(&results)
        }
        .map_err(|e| Failure::Internal(format!("cannot encode the result as JSON: {e}")))?;
        println!("{json}");
    }
    Ok(all_met)
}

/// Runs one job, with progress on stderr unless `quiet`.
fn check_one(job: &Job, quiet: bool) -> Result<CheckResult, Failure> {
    let mut stderr = std::io::stderr();
    let mut progress = |p: Progress| {
        if quiet {
            return;
        }
        if p.elapsed.is_zero() {
            let _ = writeln!(stderr, "checking {}: {}", job.name, job.config.describe());
            return;
        }
        if p.phase == Phase::Liveness {
            let rate = p.unique_states as f64 / p.elapsed.as_secs_f64().max(1e-3);
            let _ = writeln!(
                stderr,
                "  … liveness graph {:>6.1} s  {} states, {} edges, {:.0} states/s",
                p.elapsed.as_secs_f64(),
                p.unique_states,
                p.states,
                rate
            );
            return;
        }
        let rate = p.unique_states as f64 / p.elapsed.as_secs_f64().max(1e-3);
        let _ = writeln!(
            stderr,
            "  … {:>6.1} s  {} states, {} unique, depth {}, {:.0} unique/s",
            p.elapsed.as_secs_f64(),
            p.states,
            p.unique_states,
            p.max_depth,
            rate
        );
    };
    run::run_job(job, &mut progress).map_err(|e| Failure::Usage(e.to_string()))
}
