//! `elect check` and `elect explore`.

use super::Failure;
use crate::model::{ElectionModel, ModelConfig, NetworkKind, Timing};
use crate::protocols::{Protocol, ProtocolKind};
use crate::verification::report;
use crate::verification::run::{self, CheckOptions, Job, Progress, Strategy};
use crate::verification::scenario::Scenario;
use clap::Args;
use stateright::Model;
use std::io::Write;
use std::time::Duration;

/// The model a check or an exploration runs on. Every flag left out takes the
/// protocol's default (see `elect check --help`).
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Number of nodes.
    #[arg(long, value_name = "N")]
    pub nodes: Option<usize>,
    /// Network semantics.
    #[arg(long, value_enum)]
    pub network: Option<NetworkKind>,
    /// Messages may be lost (`--lossy=false` for a reliable network).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub lossy: Option<bool>,
    /// Crash budget: crashes allowed in the whole execution.
    #[arg(long, value_name = "K")]
    pub crashes: Option<usize>,
    /// Crashed nodes may recover from their saved storage (`--recover=false`
    /// for crash-stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub recover: Option<bool>,
    /// What a node saved survives its crash (`--persist=false`: the disk
    /// loses it, and the node recovers as if new).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub persist: Option<bool>,
    /// Network partitions allowed (each an explicit split step, healed by an
    /// explicit heal step).
    #[arg(long, value_name = "K")]
    pub partitions: Option<usize>,
    /// Timing assumption: `asynchronous` (timers fire at any time) or
    /// `timely` (only when no message is in flight and no shorter timer is armed).
    #[arg(long, value_enum)]
    pub timing: Option<Timing>,
    /// Add a GST step after which no faults happen and timing is timely, and
    /// check that a single leader known to all emerges and stays.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub gst: Option<bool>,
    /// With --gst: steps after GST within which the leader must be stable.
    #[arg(long, value_name = "STEPS")]
    pub stabilize_within: Option<usize>,
    /// Bound: highest term explored (Raft).
    #[arg(long, value_name = "T")]
    pub max_term: Option<u64>,
    /// Bound: most messages in flight at once.
    #[arg(long, value_name = "M")]
    pub max_in_flight: Option<usize>,
}

impl ModelArgs {
    pub fn config(&self, protocol: ProtocolKind) -> Result<ModelConfig, Failure> {
        let mut c = ModelConfig::default_for(protocol);
        if let Some(v) = self.nodes {
            c.nodes = v;
        }
        if let Some(v) = self.network {
            c.network = v;
        }
        if let Some(v) = self.lossy {
            c.lossy = v;
        }
        if let Some(v) = self.crashes {
            c.crashes = v;
            if v == 0 {
                c.recover = false;
            }
        }
        if let Some(v) = self.recover {
            c.recover = v;
        }
        if let Some(v) = self.persist {
            c.persist = v;
        }
        if let Some(v) = self.partitions {
            c.partitions = v;
        }
        if let Some(v) = self.timing {
            c.timing = v;
        }
        if let Some(v) = self.gst {
            c.gst = v;
        }
        if let Some(v) = self.stabilize_within {
            c.stabilize_within = v;
        }
        if let Some(v) = self.max_term {
            c.max_term = v;
        }
        if let Some(v) = self.max_in_flight {
            c.max_in_flight = v;
        }
        c.validate().map_err(Failure::Usage)?;
        Ok(c)
    }
}

/// What `elect check` checks: one protocol, each protocol, or a scenario file.
#[derive(Clone, Debug)]
enum CheckTarget {
    Protocols(Vec<ProtocolKind>),
    Scenario(Scenario),
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
            .map(CheckTarget::Scenario)
            .map_err(Failure::Usage);
    }
    Err(Failure::Usage(format!(
        "'{target}' is neither a protocol (bully, bully-halt, ring, raft, all) nor a scenario file"
    )))
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// bully, bully-halt, ring, raft, all — or a scenario file (models/*.toml).
    #[arg(value_name = "PROTOCOL|FILE")]
    pub target: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Also check recoverability, the sound liveness property: from every
    /// reachable state a single leader known to all can still be reached.
    #[arg(long)]
    pub recoverability: bool,
    /// Do not explore paths longer than D steps.
    #[arg(long, value_name = "D")]
    pub depth: Option<usize>,
    /// Checker threads (default: one per core).
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Search strategy (default: dfs with symmetry reduction for raft, bfs
    /// otherwise; bfs finds the shortest counterexamples).
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
    /// Print the result as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

impl CheckArgs {
    pub fn options(&self, protocol: ProtocolKind) -> Result<CheckOptions, Failure> {
        let defaults = CheckOptions::default();
        let strategy = self.strategy.unwrap_or(match protocol {
            ProtocolKind::Raft => Strategy::Dfs,
            _ => Strategy::Bfs,
        });
        let symmetry = self.symmetry.unwrap_or(strategy == Strategy::Dfs);
        if symmetry && strategy == Strategy::Bfs && self.symmetry == Some(true) {
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
        Ok(CheckOptions {
            strategy,
            threads: self.threads.unwrap_or(defaults.threads),
            depth: self.depth,
            symmetry,
            timeout: self.timeout.map(Duration::from_secs),
            keep_going: self.keep_going,
            mutation: None,
        })
    }
}

impl CheckArgs {
    /// Whether any flag that shapes the model was given.
    fn changes_model(&self) -> bool {
        let m = &self.model;
        m.nodes.is_some()
            || m.network.is_some()
            || m.lossy.is_some()
            || m.crashes.is_some()
            || m.recover.is_some()
            || m.persist.is_some()
            || m.partitions.is_some()
            || m.timing.is_some()
            || m.gst.is_some()
            || m.stabilize_within.is_some()
            || m.max_term.is_some()
            || m.max_in_flight.is_some()
    }
}

pub fn check(args: CheckArgs) -> Result<bool, Failure> {
    // Refuse bad arguments for every run before checking any of them.
    let mut jobs = Vec::new();
    match parse_target(&args.target)? {
        CheckTarget::Scenario(scenario) => {
            if args.changes_model() {
                return Err(Failure::Usage(format!(
                    "{}: a scenario file fixes the model; edit the file instead of passing model flags",
                    args.target
                )));
            }
            let mut job = Job::from_scenario(&scenario);
            if args.strategy.is_some()
                || args.symmetry.is_some()
                || args.threads.is_some()
                || args.depth.is_some()
                || args.timeout.is_some()
            {
                job.options = args.options(scenario.protocol)?;
                job.options.keep_going = true;
            }
            job.recoverability |= args.recoverability;
            jobs.push(job);
        }
        CheckTarget::Protocols(protocols) => {
            for protocol in protocols {
                let config = args.model.config(protocol)?;
                jobs.push(Job {
                    name: protocol.name().to_string(),
                    description: String::new(),
                    protocol,
                    options: args.options(protocol)?,
                    config,
                    expect: Default::default(),
                    recoverability: args.recoverability,
                    max_states: run::DEFAULT_MAX_STATES,
                });
            }
        }
    }
    for job in &jobs {
        job.validate().map_err(Failure::Usage)?;
    }
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
pub(super) fn check_one(job: &Job, quiet: bool) -> Result<run::CheckResult, Failure> {
    let mut stderr = std::io::stderr();
    if !quiet {
        let _ = writeln!(stderr, "checking {}: {}", job.name, job.config.describe());
    }
    let mut progress = |p: Progress| {
        if quiet {
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
    run::run_job(job, &mut progress).map_err(Failure::Usage)
}

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Protocol to explore.
    #[arg(value_enum)]
    pub protocol: ProtocolKind,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address the Explorer web UI listens on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
}

pub fn explore(args: ExploreArgs) -> Result<bool, Failure> {
    let config = args.model.config(args.protocol)?;
    let addr: std::net::SocketAddr = args.addr.parse().map_err(|_| {
        Failure::Usage(format!(
            "--addr '{}' is not an IP address and port",
            args.addr
        ))
    })?;
    // Bind first so that a busy port is a clear error rather than a panic
    // inside Stateright's server thread.
    drop(
        std::net::TcpListener::bind(addr)
            .map_err(|e| Failure::Usage(format!("--addr {addr}: cannot listen there: {e}")))?,
    );
    eprintln!(
        "Stateright Explorer for {}: {}\nopen http://{addr}/ (Ctrl-C to stop)",
        args.protocol,
        config.describe()
    );
    crate::with_protocol!(args.protocol, P => serve::<P>(config, addr));
    Ok(true)
}

fn serve<P: Protocol>(config: ModelConfig, addr: std::net::SocketAddr) {
    let model = ElectionModel::<P>::new(config);
    let _checker = model.checker().threads(1).serve(addr);
}
